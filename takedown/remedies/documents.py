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
from takedown.remedies.models import EU_COUNTRIES, STATUTORY_HOURS, Channel, RemedyRequest, RequestKind

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
    calibration = _mapping(status.get("calibration"))
    # Only a calibrated model's score is cited, with the error rate measured for it: a bare score says nothing
    # about how often real photos reach it.
    if status.get("enabled") and calibration and isinstance(score, int | float) \
            and isinstance(threshold, int | float) and score >= threshold:
        try:
            rate = (f"; at that threshold it called {int(calibration['false_positives'])} of "
                    f"{int(calibration['real_images'])} held-out real images generated (false-positive rate "
                    f"{float(calibration['measured_fpr']):.1%}, "
                    f"95% upper bound {float(calibration['fpr_upper_95']):.1%})")
        except (KeyError, TypeError, ValueError):
            rate = "; its measured false-positive rate is not on record"
        findings.append(f"synthetic-image detector score {score:.2f}, at or above its threshold {threshold:.2f}{rate}")
    return findings


def _digital_forgery(case: Case, images: list[dict[str, Any]]) -> bool:
    # The person's own account comes first: "deepfake" is stated as such. Where they were unsure, the stored
    # analysis may support the claim; where they said the image is real, a detector never contradicts them.
    if case.content_kind == ContentKind.DEEPFAKE:
        return True
    return case.content_kind == ContentKind.UNSURE and any(image["forgery_findings"] for image in images)


# The capacity in which the person who reported signs (Case.authority), in the words of the Act: the identifiable
# individual, or "an authorized person acting on behalf of such individual".
SIGNER_CAPACITY = {
    "self": "the identifiable individual depicted",
    "parent_guardian": "the parent or guardian of the identifiable individual depicted, acting on their behalf",
    "lawyer": "the lawyer of the identifiable individual depicted, acting on their behalf",
    "other_authorised": "a person authorised by the identifiable individual depicted to act on their behalf",
}
# The same, as the signer says it of themselves after "I act on behalf of the individual, as ...".
SIGNER_ROLE = {
    "parent_guardian": "their parent or guardian",
    "lawyer": "their lawyer",
    "other_authorised": "a person they have authorised to act for them",
}


def _good_faith_statement(*, authority: str, reported_forgery: bool, analysed_forgery: bool) -> str:
    """The Act's element (iii): a brief statement that the identifiable individual has a good-faith belief that the
    depiction is not consensual, with relevant information; made by the individual or by the person acting for
    them (the person chose which when reporting), never by the operator. It says "digital forgery" in the
    signer's voice only where the person said so; where the analysis alone supports it, it says that."""
    depiction = "the intimate visual depiction identified in this request"
    if reported_forgery:
        forgery = " It is a digital forgery (a deepfake), made without consent to depict the individual."
    elif analysed_forgery:
        forgery = (" Technical analysis indicates that it is a digital forgery (a deepfake); the findings are "
                   "listed in section 2.")
    else:
        forgery = ""
    if authority == "self":
        return (f"I am the identifiable individual depicted. I have a good-faith belief that {depiction} is not "
                f"consensual: it was published without my consent.{forgery} The information in this request is "
                "accurate to the best of my knowledge.")
    return (f"I act on behalf of the identifiable individual depicted, as {SIGNER_ROLE.get(authority, '')}. "
            f"The identifiable individual has a good-faith belief that {depiction} is not consensual: it was "
            f"published without their consent.{forgery} The information in this request is accurate to the best of "
            "my knowledge.")


# What a court exhibit shows in place of the person's signature (15 U.S.C. 6851: the identity stays confidential).
SEALED_SIGNATURE = "/s/ [the signer's signature, held under seal]"


def _signature_facts(case: Case, operator: dict[str, str], *, sealed: bool = False) -> dict[str, Any]:
    """The person's own chosen signature ("/s/ ..."), their capacity, and the operator named as their agent.

    `sealed`: for a court exhibit, the signature (which may be a real name) is replaced by SEALED_SIGNATURE."""
    signature = (SEALED_SIGNATURE if sealed else f"/s/ {case.signature}") if case.signature else None
    return {
        "electronic_signature": signature,
        "sealed": sealed and bool(case.signature),
        "capacity": SIGNER_CAPACITY.get(case.authority),
        # Kept from schema takedown.remedy-request/1's first form, for tools that read them.
        "signed_by": SIGNER_CAPACITY.get(case.authority),
        "individual_signature_on_file": bool(case.signature),
        "individual_signed_at": _iso(case.good_faith_at),
        "on_behalf_of": case.pseudonym,
        "signed_at": _iso(case.good_faith_at),
        "agent": {
            "name": operator["name"],
            "email": operator["email"],
            "postal_address": operator["postal_address"],
            "authorised_at": _iso(case.agent_authorised_at),
            "statement": (
                f"{operator['name']} submits this request as the authorised agent of the signer, who authorised it "
                f"to send requests on their behalf and to receive replies (authorisation given "
                f"{_iso(case.agent_authorised_at)})." if case.agent_authorised_at else
                f"{operator['name']} has not been authorised by the signer to act as their agent: MISSING."
            ),
        },
    }


def _recipient_facts(request: RemedyRequest) -> dict[str, Any]:
    host = request.host
    if host is None:
        return {"name": request.recipient_label, "domain": None, "channel": request.channel, "jurisdiction": None,
                "address": None, "address_guessed": False, "needs_channel": False}
    address = {"email": host.abuse_email, "web_form": host.web_form_url}.get(request.channel) or None
    return {
        "name": request.recipient_label,
        "domain": host.domain,
        "channel": request.channel,
        "jurisdiction": host.jurisdiction or None,
        "address": address,
        # abuse@<domain> under RFC 2142: a guess, not a curated directory entry.
        "address_guessed": request.channel == Channel.EMAIL and host.contact_guessed,
        "needs_channel": request.channel == Channel.NONE,
    }


def _court_order_facts(request: RemedyRequest) -> dict[str, Any] | None:
    order = request.court_order
    if order is None:
        return None
    return {
        "court": order.court,
        "docket_number": order.docket_number,
        "date": order.order_date.isoformat(),
        "scope": list(order.scope),
        "document_sha256": order.document_sha256,
        "statement": (
            f"This request carries out an order of the {order.court} (docket {order.docket_number}, dated "
            f"{order.order_date.isoformat()}) directing the " + ", ".join(order.scope_labels()).lower()
            + " of the imagery identified below. A copy of the order is available to you on request; its SHA-256 "
            f"is {order.document_sha256}."
        ),
    }


def request_facts(request: RemedyRequest, *, images: list[dict[str, Any]] | None = None,
                  seal_signature: bool = False) -> dict[str, Any]:
    """Everything the documents state, as plain data: the JSON format and the template context at once.

    `images`: the case's `case_image_facts`, when the caller has them already. `seal_signature`: render for a court
    exhibit, the person's signature replaced by SEALED_SIGNATURE (everything else as the recipient read it).
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
    urls = [iri_to_uri(url) for url in request.urls]
    facts: dict[str, Any] = {
        "schema": SCHEMA,
        "id": str(request.id),
        "kind": request.kind,
        "state": request.state,
        "created_at": _iso(request.created_at),
        "recipient": _recipient_facts(request),
        "requester": {"pseudonym": case.pseudonym, "represented_by": operator["name"],
                      "capacity": SIGNER_CAPACITY.get(case.authority),
                      "agent_authorised": case.agent_authorised_at is not None},
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
        "reference": str(request.id),
        "court_order": _court_order_facts(request),
    }
    if request.kind == RequestKind.REMOVAL:
        facts["take_it_down"] = {
            "statute": "47 U.S.C. 223a (TAKE IT DOWN Act)",
            "signature": _signature_facts(case, operator, sealed=seal_signature),
            "identification_and_location": {"urls": urls, "images": facts["images"]},
            "good_faith_statement": _good_faith_statement(
                authority=case.authority, reported_forgery=case.content_kind == ContentKind.DEEPFAKE,
                analysed_forgery=deepfake and case.content_kind != ContentKind.DEEPFAKE),
            "contact": {k: operator[k] for k in ("name", "email", "postal_address")} | {"reference": str(request.id)},
            "removal_deadline_hours": STATUTORY_HOURS,
            "sent_at": _iso(request.sent_at),
            "deadline_at": _iso(request.deadline_at),
        }
        facts["missing_elements"] = removal_elements_missing(case=case, urls=urls)
        if request.dsa_notice:
            facts["dsa_notice"] = _dsa_facts(facts, request=request, deepfake=deepfake)
    elif request.kind == RequestKind.DELINKING:
        facts["delinking"] = _delinking_facts(request, facts, deepfake=deepfake, seal_signature=seal_signature)
        facts["legal_grounds"] = facts["delinking"]["legal_grounds"]  # where schema /1 first had them
        facts["missing_elements"] = delinking_elements_missing(case=case, urls=urls)
    elif request.kind == RequestKind.BLOCKING:
        facts["hash_bank"] = {
            "status": "Active",
            "signal_types": sorted({t for image in facts["images"] for t in ("pdq", "md5") if image[t]}),
            # StopNCII's vocabulary has an image's PDQ and a video's MD5, not an image's MD5: that goes through our
            # own hash list only.
            "exchange": "the partner API's hash list (every signal type) and the StopNCII-compatible hash exchange "
                        "(FetchHashes / SubmitFeedback: PDQ and video MD5)",
        }
    return facts


def _delinking_facts(request: RemedyRequest, facts: dict[str, Any], *, deepfake: bool,
                     seal_signature: bool = False) -> dict[str, Any]:
    """De-linking: the engine's own policy and form, and GDPR Art. 17 where the engine serves the Union. Not the
    TAKE IT DOWN Act nor 15 U.S.C. 6851: a search engine does not host the image."""
    from takedown.remedies.directory import is_search_results_page, search_engine_info

    host = request.host
    engine = search_engine_info(host) if host else None
    form_url = (engine.forgery_form_url if engine and deepfake and engine.forgery_form_url else "") \
        or (host.web_form_url if host else "")
    policy = engine.policy if engine else f"{request.recipient_label}'s own policy on non-consensual intimate imagery"
    grounds = [f"{policy}." + (f" Request form: {form_url}" if form_url else " No request form is on file.")]
    serves_eu = bool(host and host.dsa_applies)
    if serves_eu:
        grounds.append(
            "Where the individual is in the European Union or the EEA: the right to erasure, Article 17 GDPR "
            "(Regulation (EU) 2016/679), which applies to a search engine's listing of results for a search on "
            "a person's name (Court of Justice, Google Spain and Google, C-131/12, 13 May 2014). Listing intimate "
            "imagery published without the individual's consent is processing of their personal data that their "
            "rights override.")
    if facts["court_order"]:
        grounds.append(facts["court_order"]["statement"])
    results_pages = []
    if host is not None:
        results_pages = [iri_to_uri(u.url) for u in request.case.urls.order_by("added_at")
                         if is_search_results_page(u.url) and _same_engine(u.url, host.domain)]
    case = request.case
    return {
        "legal_grounds": grounds,
        "policy": policy,
        "form_url": form_url or None,
        "gdpr_article_17": serves_eu,
        "results_pages_seen": results_pages,
        "signature": _signature_facts(case, facts["operator"], sealed=seal_signature),
        "statement": _delinking_statement(authority=case.authority,
                                          deepfake=case.content_kind == ContentKind.DEEPFAKE),
    }


def _same_engine(url: str, engine_domain: str) -> bool:
    from takedown.cases.locations import registrable_domain
    from takedown.remedies.directory import search_engine_for_domain

    engine = search_engine_for_domain(registrable_domain(url))
    return engine is not None and engine.domain == engine_domain


def _delinking_statement(*, authority: str, deepfake: bool) -> str:
    subject = "I am the individual shown" if authority == "self" else (
        f"I act for the individual shown, as {SIGNER_ROLE.get(authority, '')}")
    kind = "a digital forgery made without their consent" if deepfake else "published without their consent"
    return (f"{subject}. The pages listed show intimate imagery of the individual, {kind}. The individual has a "
            "good-faith belief that this is so and asks that these pages no longer appear in results. "
            "The information in this request is accurate to the best of "
            "my knowledge.")


def _dsa_facts(facts: dict[str, Any], *, request: RemedyRequest, deepfake: bool) -> dict[str, Any]:
    from takedown.remedies.national_law import national_basis

    operator = facts["operator"]
    host = request.host
    jurisdiction = host.jurisdiction if host else ""
    keywords = [DSA_KEYWORD_NCII] + ([DSA_KEYWORD_DEEPFAKE] if deepfake else [])
    # The person's own account decides: a stated deepfake is a forgery, a stated real image is not, "unsure" cites
    # every offence on file.
    forgery: bool | None = True if deepfake else (False if request.case.content_kind == ContentKind.REAL else None)
    # A jurisdiction on an entry made automatically (not curated) was guessed from a country-code domain.
    guessed = host is not None and host.contact_source != host.ContactSource.DIRECTORY
    basis = national_basis(jurisdiction, forgery=forgery, guessed=guessed)
    if host is not None and host.jurisdiction.upper() in EU_COUNTRIES | {"EU"}:
        why = (f"The host's domain is under the country-code domain of a Member State, so it is taken to be "
               f"established in the Union ({host.jurisdiction}); this is not confirmed." if guessed
               else f"The host is established in the Union ({host.jurisdiction}).")
    elif host is not None and host.offers_services_in_eu:
        why = "The host offers its services in the Union (Article 2(1) DSA)."
    else:
        why = ("Where the host is established is not known to us. This notice is sent because the host is reachable "
               "from the Union: if it offers its services there, Article 16 DSA applies to it; if it does not, "
               "please treat this part as information.")
    offences = basis["offences"] or basis["other_member_states"]
    cited = "; ".join(f"{o['citation']} ({o['member_state']}: {o['offence']})" for o in offences)
    explanation = (
        "The content at the locations below is intimate imagery of an identifiable individual shared without "
        "their consent" + (", made or altered to depict them (a deepfake)" if deepfake else "") + ". "
        + basis["statement"] + " "
        + ("It is illegal content within the meaning of Article 3(h) DSA, which covers content that does not "
           "comply with the law of any Member State. " if offences else "")
        + (("Offences: " if basis["on_file"] else "Offences on file in other Member States: ") + cited + ". "
           if offences else "")
        + "It also infringes the individual's rights to respect for private life and to the protection of "
        "personal data (Articles 7 and 8 of the Charter of Fundamental Rights; Regulation (EU) 2016/679)."
    )
    return {
        "article": "Regulation (EU) 2022/2065 (Digital Services Act), Article 16",
        "why_sent": why,
        "national_basis": basis,
        "explanation": explanation,
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


def _common_missing(case: Case) -> list[str]:
    missing = []
    if not case.signature:
        missing.append("signature")
    if not case.authority:
        missing.append("signer_capacity")
    if case.agent_authorised_at is None:
        missing.append("agent_authorisation")
    return missing


def removal_elements_missing(*, case: Case, urls: list[str]) -> list[str]:
    """Which of the Act's four elements (and the authority to send it) the case cannot yet supply; a request
    missing any is not sent."""
    missing = _common_missing(case)
    if not urls:
        missing.append("identification_and_location")
    if case.good_faith_at is None:
        missing.append("good_faith_statement")
    if not settings.REMEDIES_OPERATOR_EMAIL:
        missing.append("contact")
    return missing


def delinking_elements_missing(*, case: Case, urls: list[str]) -> list[str]:
    """What a de-linking request needs before a moderator may submit it: the signed statement and the URLs."""
    missing = _common_missing(case)
    if not urls:
        missing.append("urls")
    if case.good_faith_at is None:
        missing.append("good_faith_statement")
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


def request_document(request: RemedyRequest, *, images: list[dict[str, Any]] | None = None,
                     seal_signature: bool = False) -> Document:
    facts = request_facts(request, images=images, seal_signature=seal_signature)
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
