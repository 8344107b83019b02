"""What the court case file says: the case's data gathered into one JSON-ready structure, one function a section.

Each section function takes the case and the export's options and returns plain data (str, int, bool, None,
lists, dicts; times as ISO 8601 UTC strings). case.pdf and case.json are both rendered from this one structure,
so they never disagree. Sections whose source app has not landed yet (remedies, partner feedback, the hash
bank's matches) return an empty list and say so under "sources"; filling one in is a change to its function
only.

Pseudonym only: nothing here carries the person's signature, contact, description or any name. Those go, where
the person consented, into the sealed annex (takedown.exports.annex) and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings

from takedown.cases.models import Case, CaseImage, CaseURL
from takedown.core.audit import GENESIS_HASH
from takedown.core.models import AuditEvent

FORMAT_VERSION = 1
# Stated in every export beside each finding, because a court must weigh them as what they are.
DETECTOR_LIMITS = (
    "The synthetic-image detector gives a probability, not proof. It was trained and measured on a limited set of "
    "generators; images from unseen generators, heavy compression, resizing or screenshots lower its accuracy, "
    "and a real photograph can be scored as synthetic. Its score supports, and never replaces, human review."
)
PROVENANCE_LIMITS = (
    "Provenance signals (C2PA manifests, IPTC DigitalSourceType, generator metadata, invisible watermarks) show what "
    "the file claims about its origin. Metadata is easily stripped or forged: its presence is evidence of what a "
    "tool wrote, and its absence says nothing about whether an image is real or generated."
)
HASH_LIMITS = (
    "PDQ, pHash and dHash are perceptual hashes: a small Hamming distance means the images look alike, not that "
    "they are byte-identical (SHA-256 and MD5 show identity). PDQ matches at a distance of 31 bits or less; hashes "
    "of quality below 50 are unreliable."
)


@dataclass(frozen=True)
class DossierOptions:
    generated_at: datetime
    include_images: bool = False
    # Image id -> name of the image file inside the ZIP, filled by the builder when images are included.
    image_files: dict[str, str] = field(default_factory=dict)


Section = Callable[[Case, DossierOptions], Any]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def section_case(case: Case, options: DossierOptions) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "pseudonym": case.pseudonym,
        "status": case.status,
        "status_label": str(case.get_status_display()),
        "content_kind": case.content_kind,
        "content_kind_label": str(case.get_content_kind_display()),
        "intake_mode": case.intake_mode,
        "created_at": iso(case.created_at),
        "good_faith_statement_at": iso(case.good_faith_at),
        "signed_electronically": bool(case.signature),
        "confirmed_at": iso(case.confirmed_at),
        "withdrawn_at": iso(case.withdrawn_at),
    }


def section_urls(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    rows = CaseURL.objects.filter(case=case).order_by("added_at", "url").values(
        "id", "url", "host", "platform", "source", "added_at"
    )
    return [
        {"id": str(r["id"]), "url": r["url"], "host": r["host"], "platform": r["platform"], "source": r["source"],
         "added_at": iso(r["added_at"])}
        for r in rows
    ]


def section_images(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    images = []
    for image in CaseImage.objects.filter(case=case).order_by("created_at", "id"):
        images.append(
            {
                "id": str(image.id),
                "source": image.source,
                "state": image.state,
                "media_type": image.media_type,
                "size": image.size,
                "width": image.width,
                "height": image.height,
                "added_at": iso(image.created_at),
                "deleted_at": iso(image.deleted_at),
                "hashes": {
                    "sha256": image.sha256 or None,
                    "md5": image.md5 or None,
                    "pdq": image.pdq or None,
                    "pdq_quality": image.pdq_quality,
                    "pdq_dihedral": list(image.pdq_dihedral or []),
                    "phash": image.phash or None,
                    "dhash": image.dhash or None,
                },
                "file_in_export": options.image_files.get(str(image.id)),
            }
        )
    return images


def section_findings(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Detector and provenance results kept on each image (CaseImage.analysis), each with its limits."""
    findings = []
    for image_id, analysis in CaseImage.objects.filter(case=case).exclude(analysis=None).order_by(
        "created_at", "id"
    ).values_list("id", "analysis"):
        if not analysis:
            continue
        findings.append(
            {
                "image_id": str(image_id),
                "analysis": analysis,
                "limits": {"detector": DETECTOR_LIMITS, "provenance": PROVENANCE_LIMITS},
            }
        )
    return findings


def section_hash_matches(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Places where partners' matching found the case's imagery again (URLs the match pipeline added)."""
    rows = CaseURL.objects.filter(case=case, source=CaseURL.Source.MATCH).order_by("added_at", "url")
    return [{"url": r.url, "host": r.host, "platform": r.platform, "found_at": iso(r.added_at)} for r in rows]


def section_requests(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Every removal, blocking, de-linking and DSA request sent, as sent, with each answer and its time.

    Filled from takedown.remedies once that app lands; each item: {"id", "kind", "target", "host", "url",
    "sent_at", "state", "deadline_at", "body", "events": [{"at", "event", "detail"}]}.
    """
    return []


def section_partner_feedback(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """What partner platforms reported (Blocked, NotBlocked, Removed, NotFound, Disputed), with times.

    Filled from takedown.partners once that app lands; each item: {"at", "partner", "subject", "value", "note"}.
    """
    return []


def section_messages(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    # Times and authors only: a message body may name the person, so bodies stay out of the plain files.
    return [
        {"at": iso(at), "author": author}
        for at, author in case.messages.order_by("created_at", "id").values_list("created_at", "author")
    ]


def section_audit(case: Case, options: DossierOptions) -> dict[str, Any]:
    events = [
        {
            "id": e.id,
            "at": e.at.isoformat(timespec="microseconds"),
            "actor_kind": e.actor_kind,
            "actor_id": e.actor_id,
            "action": e.action,
            "case_id": str(e.case_id) if e.case_id else "",
            "object_type": e.object_type,
            "object_id": e.object_id,
            "detail": e.detail,
            "prev_hash": e.prev_hash,
            "row_hash": e.row_hash,
        }
        for e in AuditEvent.objects.filter(case_id=case.id).order_by("id").iterator(chunk_size=2000)
    ]
    head = AuditEvent.objects.order_by("-id").values("id", "row_hash").first()
    return {
        "algorithm": (
            "row_hash = SHA-256 of the JSON object {prev, at, actor_kind, actor_id, action, case_id, object_type, "
            "object_id, detail} with sorted keys, separators ',' and ':', ASCII only; prev is the previous row's "
            "row_hash in the whole log (genesis: 64 zeros)"
        ),
        "genesis": GENESIS_HASH,
        "chain_head": head,
        "events": events,
    }


def _installed(label: str) -> bool:
    return apps.is_installed(label) or any(c.label == label for c in apps.get_app_configs())


def sources() -> dict[str, str]:
    return {
        "requests": "takedown.remedies" if _installed("remedies") else "not recorded by this installation",
        "partner_feedback": "takedown.partners" if _installed("partners") else "not recorded by this installation",
    }


# The order is the order of case.json and of case.pdf's chapters.
SECTIONS: list[tuple[str, Section]] = [
    ("case", section_case),
    ("urls", section_urls),
    ("requests", section_requests),
    ("partner_feedback", section_partner_feedback),
    ("hash_matches", section_hash_matches),
    ("images", section_images),
    ("findings", section_findings),
    ("messages", section_messages),
]


def timeline_build(dossier: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dated event of the case, oldest first."""
    events: list[dict[str, Any]] = []
    case = dossier["case"]

    def add(at: str | None, event: str, subject: str = "") -> None:
        if at:
            events.append({"at": at, "event": event, "subject": subject})

    add(case["created_at"], "Report received")
    add(case["good_faith_statement_at"], "Good-faith statement made")
    for url in dossier["urls"]:
        add(url["added_at"], f"URL recorded ({url['source']})", url["url"])
    for image in dossier["images"]:
        add(image["added_at"], f"Image recorded ({image['source']})", image["id"])
        add(image["deleted_at"], "Image file deleted", image["id"])
    for message in dossier["messages"]:
        add(message["at"], f"Message from {message['author']}")
    add(case["confirmed_at"], "Case confirmed by a moderator")
    for request in dossier["requests"]:
        add(request.get("sent_at"), f"{request.get('kind', 'request')} request sent", request.get("target", ""))
        for step in request.get("events", []):
            add(step.get("at"), f"{request.get('kind', 'request')}: {step.get('event', '')}", request.get("target", ""))
    for feedback in dossier["partner_feedback"]:
        add(feedback.get("at"), f"Partner feedback: {feedback.get('value', '')}", feedback.get("partner", ""))
    add(case["withdrawn_at"], "Case withdrawn by the person")
    events.sort(key=lambda e: e["at"])
    return events


def dossier_assemble(case: Case, options: DossierOptions) -> dict[str, Any]:
    dossier: dict[str, Any] = {
        "format": "takedown-court-export",
        "format_version": FORMAT_VERSION,
        "generated_at": iso(options.generated_at),
        "operator": getattr(settings, "EXPORT_OPERATOR_NAME", ""),
        "site": settings.SITE_URL,
        "sources": sources(),
        "limits": {"hashes": HASH_LIMITS, "detector": DETECTOR_LIMITS, "provenance": PROVENANCE_LIMITS},
    }
    for name, build in SECTIONS:
        dossier[name] = build(case, options)
    dossier["timeline"] = timeline_build(dossier)
    return dossier
