"""What the court case file says: the case's data gathered into one JSON-ready structure, one function a section.

Each section function takes the case and the export's options and returns plain data (str, int, bool, None,
lists, dicts; times as ISO 8601 UTC strings). case.pdf and case.json are both rendered from this one structure,
so they never disagree. "sources" names where each section's data comes from.

Pseudonym only: nothing here carries the person's signature, contact, description or any name. Those go, where
the person consented, into the sealed annex (takedown.exports.annex) and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from takedown.cases.models import Case, CaseImage, CaseURL
from takedown.cases.verdicts import VERDICT_KEYS, verdict_summary
from takedown.core.audit import GENESIS_HASH, chain_head, chain_key
from takedown.core.models import AuditEvent
from takedown.partners.selectors import feedback_for_case
from takedown.remedies.models import (
    STATUTORY_HOURS,
    Channel,
    DeliveryState,
    RemedyRequest,
    RequestKind,
    RequestState,
    SentMessage,
)
from takedown.remedies.selectors import remedies_for_case

FORMAT_VERSION = 2
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
    # Video id -> name of its blurred contact sheet inside the ZIP (with the images, when they are included).
    video_sheets: dict[str, str] = field(default_factory=dict)


Section = Callable[[Case, DossierOptions], Any]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def section_case(case: Case, options: DossierOptions) -> dict[str, Any]:
    return {
        # The case's internal id: its audit chain is "case:<id>" (audit-log.json); it opens nothing.
        "id": str(case.id),
        # The court reference: never the person's own reference, which opens their case.
        "court_reference": case.court_reference,
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
    """Detector and provenance verdicts kept on each image (CaseImage.analysis), each with its stated limits.

    A verdict written by detection.verdict is shown with its own reasons and limits; anything else an older
    analysis left (other than the bank's lookup, which is in "bank_matches") is kept as it was under "other".
    """
    findings = []
    for image_id, analysis in CaseImage.objects.filter(case=case).exclude(analysis=None).order_by(
        "created_at", "id"
    ).values_list("id", "analysis"):
        if not isinstance(analysis, dict):
            continue
        verdict = verdict_summary(analysis)
        ignored = VERDICT_KEYS | {"bank"} if verdict is not None else {"bank"}
        other = {key: value for key, value in analysis.items() if key not in ignored}
        if verdict is None and not other:
            continue
        findings.append(
            {
                "image_id": str(image_id),
                "verdict": verdict,
                "other": other,
                "limits": {"detector": DETECTOR_LIMITS, "provenance": PROVENANCE_LIMITS},
            }
        )
    return findings


def section_bank_matches(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Near-identical hashes the hash bank already held when each image was hashed (PDQ, with distances).

    The bank's entry ids are given, never the cases or partners those entries came from.
    """
    rows = []
    for image_id, analysis in CaseImage.objects.filter(case=case).exclude(analysis=None).order_by(
        "created_at", "id"
    ).values_list("id", "analysis"):
        bank = analysis.get("bank") if isinstance(analysis, dict) else None
        if not isinstance(bank, dict):
            continue
        matches = [m for m in bank.get("matches") or [] if isinstance(m, dict)]
        rows.append({
            "image_id": str(image_id),
            "bank_available": bool(bank.get("available")),
            "matches": [{"signal": "pdq", "entry": str(m.get("entry", "")), "distance": m.get("distance")}
                        for m in sorted(matches, key=lambda m: (m.get("distance") or 0, str(m.get("entry"))))],
        })
    return rows


def section_hash_matches(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Places where partners' matching found the case's imagery again (URLs the match pipeline added)."""
    rows = CaseURL.objects.filter(case=case, source=CaseURL.Source.MATCH).order_by("added_at", "url")
    return [{"url": r.url, "host": r.host, "platform": r.platform, "found_at": iso(r.added_at)} for r in rows]


EVENT_LABELS = {
    "created": "prepared",
    "sent": "sent",
    "resent": "sent again",
    "acknowledged": "acknowledged by the recipient",
    "complied": "complied with",
    "refused": "refused by the recipient",
    "cancelled": "cancelled",
    "overdue": "statutory deadline missed",
}


def _event_label(action: str) -> str:
    if action.startswith("feedback:"):
        return f"partner reported {action.split(':', 1)[1]}"
    if action.startswith("escalated_"):
        return f"escalated ({action.removeprefix('escalated_')} after sending without removal)"
    return EVENT_LABELS.get(action, action.replace("_", " "))


def deadline_outcome(request: RemedyRequest, *, at: datetime) -> dict[str, Any]:
    """Whether the 48-hour removal clock was met or missed, from stored times only.

    The clock starts when the recipient's system accepted the request (received_at), never at our attempt.
    Met: complied with by the stored deadline. Missed: complied with after it, or marked overdue by the clock at
    a stored time. A deadline that passed with neither is "past_deadline": no compliance is recorded, which is
    not proof that none happened. Not received: nobody's system ever accepted the request, so no clock ran.
    "receipt_unknown": the recipient answered (complied, acknowledged) before any receipt was on record, so the
    receipt stored is the answer's time; the recipient had the request by then, but since when is not known:
    unless its compliance came after even that late deadline (missed for certain), neither met nor missed can be
    said, and no hours are given. Blocking and de-linking carry no statutory clock.
    """
    taken = request.hours_to_compliance()
    hours = None if taken is None else round(taken, 2)
    inferred = request.receipt_from_answer()
    if not request.has_statutory_clock:
        outcome = "not_applicable"
    elif request.state == RequestState.CANCELLED:
        outcome = "cancelled"
    elif request.sent_at is None:
        outcome = "not_sent"
    elif request.received_at is None or request.deadline_at is None:
        outcome = "not_received"
    elif inferred and request.state != RequestState.REFUSED and request.overdue_at is None and (
            (request.complied_at is not None and request.complied_at <= request.deadline_at)
            or (request.complied_at is None and at <= request.deadline_at)):
        # The real receipt was at or before the inferred one, so its deadline too: compliance after the inferred
        # deadline (or an overdue mark) is missed for certain, and falls through; anything earlier is not known.
        outcome = "receipt_unknown"
    elif request.complied_at is not None:
        outcome = "met" if request.complied_at <= request.deadline_at else "missed"
    elif request.state == RequestState.REFUSED:
        outcome = "refused"
    elif request.overdue_at is not None:
        outcome = "missed"
    elif at > request.deadline_at:
        outcome = "past_deadline"
    else:
        outcome = "running"
    return {
        "statutory_hours": STATUTORY_HOURS if request.has_statutory_clock else None,
        "received_at": iso(request.received_at),
        "deadline_at": iso(request.deadline_at),
        "outcome": outcome,
        "overdue_marked_at": iso(request.overdue_at),
        "hours_to_compliance": hours,
    }


EXHIBIT_EXTENSIONS = {"message/rfc822": "eml", "application/json": "json"}
RECEIVED_DELIVERIES = frozenset({DeliveryState.ACCEPTED, DeliveryState.ACKNOWLEDGED})


def exhibit_file_name(message: SentMessage, number: int) -> str:
    return f"exhibits/M-{number}.{EXHIBIT_EXTENSIONS.get(message.content_type, 'bin')}"


def _exhibit(message: SentMessage, number: int) -> dict[str, Any]:
    return {
        "exhibit": f"M-{number}",
        "message": str(message.id),
        "file": exhibit_file_name(message, number),
        "sha256": message.sha256,
        "size": message.size,
        "content_type": message.content_type,
        "channel": message.channel,
        "recipient": message.recipient,
        "recipient_guessed": message.recipient_guessed,
        "message_id": message.message_id,
        "sent_at": iso(message.sent_at),
        "delivery": message.delivery,
        "delivery_label": str(DeliveryState(message.delivery).label),
        "delivery_at": iso(message.delivery_at),
        "delivery_detail": message.delivery_detail,
    }


def section_requests(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Every removal, blocking and de-linking request (DSA notices ride on removal requests), with each step.

    What was sent is cited, never rendered again: each message as it left (the stored bytes, in exhibits/ with
    their SHA-256), to whom, whether the address was guessed, and what came back. A request that no recipient's
    system ever accepted says so.
    """
    rows = []
    number = 0
    for request in remedies_for_case(case):
        events = [
            {"at": iso(event.at), "event": _event_label(event.action), "action": event.action,
             "actor": event.actor_kind, "detail": event.note}
            for event in request.events.all()
        ]
        exhibits = []
        for message in request.messages.order_by("sent_at", "id"):
            number += 1
            exhibits.append(_exhibit(message, number))
        received = any(e["delivery"] in RECEIVED_DELIVERIES for e in exhibits) or request.received_at is not None
        host = request.host
        rows.append({
            "id": str(request.id),
            "kind": request.kind,
            "kind_label": str(RequestKind(request.kind).label),
            "recipient": request.recipient_label,
            "host": host.domain if host else None,
            "jurisdiction": host.jurisdiction if host else None,
            "channel": request.channel,
            "channel_label": str(Channel(request.channel).label),
            "dsa_notice": request.dsa_notice,
            "urls": list(request.urls),
            "state": request.state,
            "state_label": str(RequestState(request.state).label),
            "created_at": iso(request.created_at),
            "sent_at": iso(request.sent_at),
            "received_at": iso(request.received_at),
            "last_sent_at": iso(request.last_sent_at),
            "send_count": request.send_count,
            "acknowledged_at": iso(request.acknowledged_at),
            "complied_at": iso(request.complied_at),
            "refused_at": iso(request.refused_at),
            "cancelled_at": iso(request.cancelled_at),
            "escalation_level": request.escalation_level,
            "deadline": deadline_outcome(request, at=options.generated_at),
            "outcome_note": request.outcome_note,
            "events": events,
            # The messages as they left, cited as exhibits; nothing here is the text rendered again.
            "exhibits": exhibits,
            "received_by_recipient": received,
            "receipt": (
                "accepted by the recipient's system" if received else
                "never accepted by anyone: no recipient's system took this request" if exhibits or request.sent_at
                else "not sent"
            ),
        })
    return rows


def section_partner_feedback(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """What partner platforms reported (Blocked, NotBlocked, Removed, NotFound, Disputed...), oldest first.

    Partners' free-text notes stay out: a partner may describe its own users in them, and the court file
    needs what the partner did and when, which the value and time say.
    """
    rows = feedback_for_case(case_id=case.id)
    return [
        {"at": iso(row.created_at), "partner": row.partner_name, "value": row.value, "channel": row.channel,
         "removal_request_id": str(row.removal_request_id) if row.removal_request_id else None,
         "bank_entry": row.bank_entry_id}
        for row in sorted(rows, key=lambda r: r.created_at)
    ]


def deadline_summary(requests: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"met": 0, "missed": 0, "past_deadline": 0, "refused": 0, "running": 0, "not_sent": 0,
              "not_received": 0, "receipt_unknown": 0, "cancelled": 0}
    for request in requests:
        outcome = request["deadline"]["outcome"]
        if outcome in counts:
            counts[outcome] += 1
    return counts


def section_messages(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    # Times and authors only: a message body may name the person, so bodies stay out of the plain files.
    return [
        {"at": iso(at), "author": author}
        for at, author in case.messages.order_by("created_at", "id").values_list("created_at", "author")
    ]


def section_audit(case: Case, options: DossierOptions) -> dict[str, Any]:
    """Every audit row about the case: its whole chain from position 1, and any rows of the old global chain.

    The caller holds the case's chain lock (takedown.core.audit.chain_lock), so the head below is the chain's
    last row and no row is appended between reading the rows and reading the head.
    """
    chain = chain_key(case_id=case.id, actor_kind="", actor_id="")
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
            "chain": e.chain,
            "seq": e.seq,
            "prev_hash": e.prev_hash,
            "row_hash": e.row_hash,
        }
        for e in AuditEvent.objects.filter(case_id=case.id).order_by("seq", "id").iterator(chunk_size=2000)
    ]
    head = chain_head(chain)
    return {
        "algorithm": (
            "row_hash = SHA-256 of the JSON object {prev, at, actor_kind, actor_id, action, case_id, object_type, "
            "object_id, detail, chain, seq} with sorted keys, separators ',' and ':', ASCII only; prev is the "
            "row_hash of the row before it in the same chain (position seq - 1; genesis: 64 zeros). Rows with seq 0 "
            "were written before chains were kept per case: their object has no chain and seq, and prev is the "
            "row before them in the whole log"
        ),
        "genesis": GENESIS_HASH,
        "chain_head": {"chain": head.chain, "seq": head.seq, "row_hash": head.row_hash},
        "events": events,
    }


def sources() -> dict[str, str]:
    return {"requests": "takedown.remedies", "partner_feedback": "takedown.partners",
            "findings": "detection.verdict (stored on each image)", "bank_matches": "the hash bank's lookup at intake"}


def section_videos(case: Case, options: DossierOptions) -> list[dict[str, Any]]:
    """Each video's digests (MD5 and SHA-256 of the file as sent; vPDQ frames), its length and its contact sheet."""
    from takedown.cases.models import CaseVideo

    videos = []
    for video in CaseVideo.objects.filter(case=case).order_by("created_at", "id"):
        videos.append({
            "id": str(video.id),
            "source": video.source,
            "state": video.state,
            "media_type": video.media_type,
            "size": video.size,
            "width": video.width,
            "height": video.height,
            "duration_s": video.duration_s,
            "frames": video.frames,
            "added_at": iso(video.created_at),
            "deleted_at": iso(video.deleted_at),
            "hashes": {
                "md5": video.md5 or None,
                "sha256": video.sha256 or None,
                "vpdq": [dict(frame) for frame in video.vpdq or []],
            },
            "verdict": verdict_summary(video.analysis),
            "contact_sheet_in_export": options.video_sheets.get(str(video.id)),
        })
    return videos


# The order is the order of case.json and of case.pdf's chapters.
SECTIONS: list[tuple[str, Section]] = [
    ("case", section_case),
    ("urls", section_urls),
    ("requests", section_requests),
    ("partner_feedback", section_partner_feedback),
    ("hash_matches", section_hash_matches),
    ("bank_matches", section_bank_matches),
    ("images", section_images),
    ("videos", section_videos),
    ("findings", section_findings),
    ("messages", section_messages),
]


# The steps of a request that the PDF's timeline shows; every step is in chapter 4 and in case.json.
MILESTONES = frozenset({"sent", "complied", "refused", "overdue", "cancelled"})


def timeline_build(dossier: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dated event of the case, oldest first. `milestone` marks what a summary timeline keeps."""
    events: list[dict[str, Any]] = []
    case = dossier["case"]

    def add(at: str | None, event: str, subject: str = "", *, milestone: bool = True) -> None:
        if at:
            events.append({"at": at, "event": event, "subject": subject, "milestone": milestone})

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
        for step in request["events"]:
            add(step["at"], f"{request['kind_label']} request {step['event']}", request["recipient"],
                milestone=step["action"] in MILESTONES)
    for feedback in dossier["partner_feedback"]:
        add(feedback["at"], f"Partner reported {feedback['value']}", feedback["partner"])
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
    dossier["deadlines"] = deadline_summary(dossier["requests"])
    dossier["timeline"] = timeline_build(dossier)
    return dossier
