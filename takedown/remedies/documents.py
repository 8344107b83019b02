"""Rendering a request as plain text, PDF and JSON through one code path.

`request_document` is the only entry: it builds the request's facts (`request_facts`), renders the one template of
the request's kind (templates/remedies/requests/<kind>.txt) into a small block language, and parses that into a
`Document`. The three formats are views of that one `Document`, so the PDF, the text and the JSON can never say
different things.

The block language is line-based: `# ` is the title, `## ` a heading, `- ` a bullet, and other lines join into
paragraphs separated by blank lines.
"""

from __future__ import annotations

import json
import textwrap
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from takedown.cases.models import CaseImage, ContentKind
from takedown.remedies.models import STATUTORY_HOURS, RemedyRequest, RequestKind

if TYPE_CHECKING:
    from takedown.cases.models import Case

SCHEMA = "takedown.remedy-request/1"
BlockKind = Literal["title", "heading", "paragraph", "bullet"]
Format = Literal["pdf", "txt", "json"]
FORMATS: tuple[Format, ...] = ("pdf", "txt", "json")
CONTENT_TYPES: dict[Format, str] = {
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}

# DSA transparency database vocabulary (statement of reasons API) for this kind of content.
DSA_CATEGORY = "STATEMENT_CATEGORY_CYBER_VIOLENCE"
DSA_KEYWORD_NCII = "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"
DSA_KEYWORD_DEEPFAKE = "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"
DSA_CONTENT_SYNTHETIC = "SYNTHETIC_MEDIA"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str


@dataclass
class Document:
    title: str
    blocks: list[Block]
    facts: dict[str, Any] = field(default_factory=dict)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def operator_facts() -> dict[str, str]:
    return {
        "name": settings.REMEDIES_OPERATOR_NAME,
        "email": settings.REMEDIES_OPERATOR_EMAIL,
        "postal_address": settings.REMEDIES_OPERATOR_ADDRESS,
        "website": settings.SITE_URL,
    }


def case_image_facts(case: Case) -> list[dict[str, Any]]:
    """The fingerprints every request of a case carries, in a fixed order (a caller rendering many requests of
    one case reads them once and passes them to `request_document`)."""
    # Hashes let the host find identical and near-identical copies (the Act asks for "known identical copies");
    # the documents carry them next to a pseudonym only, never next to a name.
    images = case.images.filter(state=CaseImage.State.HASHED).order_by("created_at")
    return [
        {
            "sha256": row["sha256"] or None,
            "md5": row["md5"] or None,
            "pdq": row["pdq"] or None,
            "pdq_quality": row["pdq_quality"],
            "forgery_findings": forgery_findings(row["analysis"]),
        }
        for row in images.values("sha256", "md5", "pdq", "pdq_quality", "analysis")
    ]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def forgery_findings(analysis: Any) -> list[str]:
    """What in an image's stored verdict (detection.verdict's `as_dict`) supports calling it a digital forgery.

    Only the findings that say generated are cited, each in the verdict's own words (which say how far it can be
    believed: "unsigned claim", "fails validation"); empty when the verdict does not support the claim.
    """
    if not isinstance(analysis, dict) or analysis.get("supports_digital_forgery") is not True:
        return []
    provenance = _mapping(analysis.get("provenance"))
    findings = [str(signal.get("summary", "")) for signal in provenance.get("signals") or []
                if isinstance(signal, dict) and signal.get("says_generated") is True and signal.get("summary")]
    detector = _mapping(analysis.get("detector"))
    status = _mapping(detector.get("status"))
    score, threshold = detector.get("score"), status.get("threshold")
    if status.get("enabled") and isinstance(score, int | float) and isinstance(threshold, int | float) \
            and score >= threshold:
        findings.append(f"synthetic-image detector score {score:.2f}, at or above its threshold {threshold:.2f}")
    return findings


def _digital_forgery(case: Case, images: list[dict[str, Any]]) -> bool:
    # The person's own account comes first: "deepfake" is stated as such. Where they were unsure, the stored
    # analysis may support the claim; where they said the image is real, a detector never contradicts them.
    if case.content_kind == ContentKind.DEEPFAKE:
        return True
    return case.content_kind == ContentKind.UNSURE and any(image["forgery_findings"] for image in images)


def _good_faith_statement(*, deepfake: bool) -> str:
    depiction = "intimate visual depiction, including any digital forgery of it,"
    if deepfake:
        depiction = "intimate visual depiction, a digital forgery (a deepfake) made without consent,"
    return (
        f"I have a good-faith belief that the {depiction} identified in this request was published without the "
        "consent of the identifiable individual it depicts, and that the information in this request is "
        "accurate. I am authorised to act on behalf of that individual."
    )


def request_facts(request: RemedyRequest, *, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Everything the documents state, as plain data: the JSON format and the template context at once.

    `images`: the case's `case_image_facts`, when the caller has them already.
    """
    case = request.case
    operator = operator_facts()
    # A copy: the findings are cleared below for a request that makes no forgery claim, and the caller's list
    # serves every request of the case.
    images = [dict(image) for image in (case_image_facts(case) if images is None else images)]
    deepfake = _digital_forgery(case, images)
    if not deepfake:
        for image in images:
            image["forgery_findings"] = []  # no request cites findings for a claim it does not make
    host = request.host
    urls = [iri_to_uri(url) for url in request.urls]
    facts: dict[str, Any] = {
        "schema": SCHEMA,
        "id": str(request.id),
        "kind": request.kind,
        "state": request.state,
        "created_at": _iso(request.created_at),
        "recipient": {
            "name": request.recipient_label,
            "domain": host.domain if host else None,
            "channel": request.channel,
            "jurisdiction": host.jurisdiction if host else None,
        },
        "requester": {"pseudonym": case.pseudonym, "represented_by": operator["name"]},
        "operator": operator,
        "content": {
            "kind": case.content_kind,
            "digital_forgery": deepfake,
            "digital_forgery_reported": case.content_kind == ContentKind.DEEPFAKE,
            "digital_forgery_analysis": any(image["forgery_findings"] for image in images),
            "description": "Intimate imagery published without consent"
            + (" (a digital forgery / deepfake)" if deepfake else ""),
        },
        "urls": urls,
        "images": images,
        "videos": case_video_facts(case),
        "reference": str(request.id),
    }
    if request.kind == RequestKind.REMOVAL:
        facts["take_it_down"] = {
            "statute": "47 U.S.C. 223a (TAKE IT DOWN Act)",
            "signature": {
                "electronic_signature": f"/s/ {operator['name']}",
                "signed_by": operator["name"],
                "capacity": "authorised agent of the identifiable individual",
                "on_behalf_of": case.pseudonym,
                "individual_signature_on_file": bool(case.signature),
                "individual_signed_at": _iso(case.good_faith_at),
            },
            "identification_and_location": {"urls": urls, "images": facts["images"]},
            "good_faith_statement": _good_faith_statement(deepfake=deepfake),
            "contact": {k: operator[k] for k in ("name", "email", "postal_address")} | {"reference": str(request.id)},
            "removal_deadline_hours": STATUTORY_HOURS,
            "sent_at": _iso(request.sent_at),
            "deadline_at": _iso(request.deadline_at),
        }
        facts["missing_elements"] = removal_elements_missing(case=case, urls=urls)
        if request.dsa_notice:
            facts["dsa_notice"] = _dsa_facts(facts, deepfake=deepfake)
    elif request.kind == RequestKind.DELINKING:
        facts["legal_grounds"] = [
            "The linked pages show intimate imagery of the individual published without consent "
            "(US: 47 U.S.C. 223a and 15 U.S.C. 6851).",
            "EU and EEA: right to erasure, Article 17 GDPR (Google Spain, C-131/12); non-consensual sharing of "
            "intimate or manipulated material is a criminal offence under Article 5 of Directive (EU) 2024/1385.",
            "The search engine's own policy on non-consensual explicit imagery.",
        ]
    elif request.kind == RequestKind.BLOCKING:
        facts["hash_bank"] = {
            "status": "Active",
            "signal_types": sorted({t for image in facts["images"] for t in ("pdq", "md5") if image[t]}
                                   | {t for video in facts["videos"] for t in ("video_md5", "vpdq")
                                      if video["md5" if t == "video_md5" else "vpdq_frames"]}),
            # StopNCII's vocabulary has an image's PDQ and a video's MD5, not an image's MD5: that goes through our
            # own hash list only.
            "exchange": "the partner API's hash list (every signal type) and the StopNCII-compatible hash exchange "
                        "(FetchHashes / SubmitFeedback: PDQ and video MD5)",
        }
    return facts


def _dsa_facts(facts: dict[str, Any], *, deepfake: bool) -> dict[str, Any]:
    operator = facts["operator"]
    keywords = [DSA_KEYWORD_NCII] + ([DSA_KEYWORD_DEEPFAKE] if deepfake else [])
    return {
        "article": "Regulation (EU) 2022/2065 (Digital Services Act), Article 16",
        "explanation": (
            "The content at the locations below is intimate imagery of an identifiable individual shared without "
            "their consent" + (", made or altered by artificial intelligence (a deepfake)" if deepfake else "")
            + ". Producing or sharing such material without consent is a criminal offence under Article 5 of "
            "Directive (EU) 2024/1385 as transposed by the Member States, and it infringes the individual's "
            "rights to privacy and to the protection of personal data (Articles 7 and 8 of the Charter; GDPR)."
        ),
        "exact_electronic_locations": facts["urls"],
        "notifier": {"name": operator["name"], "email": operator["email"]},
        "good_faith_statement": (
            "The notifier confirms its bona fide belief that the information and allegations contained in this "
            "notice are accurate and complete."
        ),
        "transparency_database": {
            "category": DSA_CATEGORY,
            "keywords": keywords,
            "content_type": [DSA_CONTENT_SYNTHETIC] if deepfake else ["CONTENT_TYPE_IMAGE"],
        },
        "decision_notice_requested": (
            "Please tell the notifier of your decision without undue delay, with the possibilities for redress "
            "(Article 16(5)); the recipient whose content you restrict is owed a statement of reasons (Article 17)."
        ),
    }


def removal_elements_missing(*, case: Case, urls: list[str]) -> list[str]:
    """Which of the Act's four elements the case cannot yet supply; a request missing any is not sent."""
    missing = []
    if not case.signature:
        missing.append("signature")
    if not urls:
        missing.append("identification_and_location")
    if case.good_faith_at is None:
        missing.append("good_faith_statement")
    if not settings.REMEDIES_OPERATOR_EMAIL:
        missing.append("contact")
    return missing


def parse_blocks(text: str) -> tuple[str, list[Block]]:
    title = ""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", " ".join(paragraph)))
            paragraph.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(Block("heading", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            title = title or line[2:].strip()
        elif line.startswith("- "):
            flush()
            blocks.append(Block("bullet", line[2:].strip()))
        else:
            paragraph.append(line)
    flush()
    return title, blocks


def request_document(request: RemedyRequest, *, images: list[dict[str, Any]] | None = None) -> Document:
    facts = request_facts(request, images=images)
    text = render_to_string(f"remedies/requests/{request.kind}.txt", {"f": facts})
    title, blocks = parse_blocks(text)
    return Document(title=title, blocks=blocks, facts=facts)


def document_text(document: Document) -> str:
    lines = [document.title, "=" * len(document.title), ""]
    previous = "title"
    for block in document.blocks:
        if block.kind == "paragraph" and previous == "bullet":
            lines.append("")
        previous = block.kind
        if block.kind == "heading":
            lines += ["", block.text, "-" * len(block.text)]
        elif block.kind == "bullet":
            lines += textwrap.wrap(block.text, 78, initial_indent="  * ", subsequent_indent="    ",
                                   break_long_words=True, break_on_hyphens=False)
        else:
            lines += [*textwrap.wrap(block.text, 78, break_on_hyphens=False), ""]
    return "\n".join(lines).rstrip() + "\n"


def document_json(document: Document) -> dict[str, Any]:
    return document.facts | {"title": document.title, "text": document_text(document)}


def _latin1(text: str) -> str:
    """The PDF's core font covers Latin-1 only: fold accents, replace what is left (URLs are already ASCII)."""
    folded = unicodedata.normalize("NFKD", text)
    out = []
    for char in folded:
        if unicodedata.combining(char):
            continue
        out.append(char if ord(char) < 256 else "?")
    return "".join(out).replace("\u2014", "-")


def document_pdf(document: Document) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    reference = document.facts.get("reference", "")

    class RequestPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 8, _latin1(f"Reference {reference} - page {self.page_no()}/{{nb}}"), align="C")

    pdf = RequestPDF(format="A4")
    pdf.set_title(_latin1(document.title))
    pdf.set_author(_latin1(settings.REMEDIES_OPERATOR_NAME))
    created = document.facts.get("created_at")
    pdf.set_creation_date(datetime.fromisoformat(created) if created else timezone.now())
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 8, _latin1(document.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.ln(3)
    previous = "title"
    for block in document.blocks:
        text = _latin1(block.text)
        if block.kind == "heading":
            pdf.ln(3)
            pdf.set_font("Helvetica", style="B", size=12)
            pdf.multi_cell(0, 6.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        elif block.kind == "bullet":
            pdf.set_font("Helvetica", size=10)
            pdf.set_x(pdf.l_margin + 4)
            # Word wrapping; fpdf2 still breaks a single token wider than the line (a long URL or hash).
            pdf.multi_cell(0, 5.2, "- " + text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        else:
            if previous == "bullet":
                pdf.ln(2)
            pdf.set_font("Helvetica", size=10)
            pdf.multi_cell(0, 5.2, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
            pdf.ln(2)
        previous = block.kind
    return bytes(pdf.output())


def request_render(request: RemedyRequest, fmt: Format) -> tuple[bytes, str, str]:
    """The request in one format: (body, content type, file name)."""
    document = request_document(request)
    name = f"{request.kind}-request-{request.id}.{fmt}"
    if fmt == "pdf":
        return document_pdf(document), CONTENT_TYPES[fmt], name
    if fmt == "txt":
        return document_text(document).encode(), CONTENT_TYPES[fmt], name
    body = json.dumps(document_json(document), indent=2, ensure_ascii=False, sort_keys=True)
    return body.encode(), CONTENT_TYPES[fmt], name


def case_video_facts(case: Case) -> list[dict[str, Any]]:
    """The fingerprints of a case's hashed videos for its requests: MD5 and SHA-256 of the file as sent (exact
    copies; StopNCII exchanges video MD5), how many vPDQ frame hashes (one per second, matched by HMA's rule)
    and the duration. A video hashed on the person's device has its MD5 only; nothing else is known of it."""
    from takedown.cases.models import CaseVideo

    videos = case.videos.filter(state=CaseVideo.State.HASHED).order_by("created_at")
    return [
        {"md5": video.md5 or None, "sha256": video.sha256 or None, "vpdq_frames": video.vpdq_frames,
         "duration_s": video.duration_s}
        for video in videos
    ]
