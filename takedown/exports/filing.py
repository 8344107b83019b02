"""The pseudonymous-filing pack: a motion to proceed under a pseudonym and a proposed order directing removal,
blocking and de-linking, filled from the case and written as DOCX files an advocate opens and edits.

Jurisdiction-neutral on purpose: where a court's own rule, caption, authority or deadline belongs, the text
leaves a field in square brackets ("[COURT NAME]") for the advocate; everything the platform knows (court
reference, pseudonym, URLs, hosts, hashes, dates, exhibits) is filled in from the same dossier as case.pdf, so
the pack and the case file never disagree. Pure (no Django): input is the dossier and its audit excerpt.

The DOCX is the minimal WordprocessingML package (content types, one relationship, one document part), which
Word, LibreOffice and Pages all open; no template file and no dependency.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape, unescape

MOTION = "filing/motion-to-proceed-under-pseudonym.docx"
ORDER = "filing/proposed-order-removal-blocking-delinking.docx"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# A fixed time for the package's own entries: the same case gives the same bytes.
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)

Block = tuple[str, str]  # (style, text): "title", "heading", "para", "item", "field"


def _run(text: str, *, bold: bool = False, size: int = 0) -> str:
    props = ("<w:b/>" if bold else "") + (f'<w:sz w:val="{size}"/>' if size else "")
    return (f"<w:r>{f'<w:rPr>{props}</w:rPr>' if props else ''}"
            f'<w:t xml:space="preserve">{escape(text)}</w:t></w:r>')


def _paragraph(style: str, text: str) -> str:
    if style == "title":
        return f'<w:p><w:pPr><w:jc w:val="center"/></w:pPr>{_run(text, bold=True, size=28)}</w:p>'
    if style == "heading":
        return f"<w:p><w:pPr><w:spacing w:before=\"240\"/></w:pPr>{_run(text, bold=True)}</w:p>"
    if style == "item":
        return f'<w:p><w:pPr><w:ind w:left="360"/></w:pPr>{_run("- " + text)}</w:p>'
    return f"<w:p>{_run(text)}</w:p>"


def docx_write(blocks: Iterable[Block]) -> bytes:
    body = "".join(_paragraph(style, text) for style, text in blocks)
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
                f"{body}<w:sectPr/></w:body></w:document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("word/document.xml", document)):
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), text.encode("utf-8"))
    return buffer.getvalue()


def docx_text(data: bytes) -> str:
    """The text of a DOCX written here, one paragraph a line (for tests and for reading a pack back)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    return "\n".join(unescape("".join(re.findall(r"<w:t[^>]*>(.*?)</w:t>", paragraph)))
                     for paragraph in re.findall(r"<w:p>(.*?)</w:p>", xml))


def _caption(dossier: dict[str, Any], title: str) -> list[Block]:
    case = dossier["case"]
    return [
        ("para", "[NAME OF THE COURT]"),
        ("para", "[CASE NUMBER, when the court has given one]"),
        ("para", f"{case['pseudonym']}, [Plaintiff / Applicant / Claimant, as this court calls the party], "
                 "proceeding under a pseudonym"),
        ("para", "v."),
        ("para", "[DEFENDANT(S) / RESPONDENT(S), or 'In re' and the subject, as this court requires]"),
        ("title", title),
    ]


def _facts(dossier: dict[str, Any]) -> list[Block]:
    case = dossier["case"]
    requests = dossier["requests"]
    sent = [r for r in requests if r["sent_at"]]
    received = [r for r in requests if r["received_by_recipient"]]
    deadlines = dossier["deadlines"]
    return [
        ("heading", "Facts drawn from the platform's case file"),
        ("para", f"Court reference of the case file: {case['court_reference']} (a reference for the court; it "
                 "gives no access to the case). The case file was generated on "
                 f"{dossier['generated_at']} and is signed and time-stamped; its MANIFEST.sha256 lists every file."),
        ("para", f"Reported on {case['created_at']}; good-faith statement made on "
                 f"{case['good_faith_statement_at'] or '[not recorded]'}; confirmed by a moderator on "
                 f"{case['confirmed_at'] or '[not confirmed]'}. Kind of content: {case['content_kind_label']}."),
        ("para", f"{len(dossier['urls'])} URL(s) where the imagery appeared; {len(dossier['images'])} image(s) with "
                 f"recorded hashes; {len(requests)} request(s) prepared, {len(sent)} sent, {len(received)} accepted "
                 f"by the recipient's system. 48-hour removal deadlines: {deadlines['met']} met, "
                 f"{deadlines['missed']} missed, {deadlines['past_deadline']} passed with no compliance recorded, "
                 f"{deadlines['not_received']} never received by anyone, {deadlines['receipt_unknown']} answered "
                 "before any receipt was recorded (met or missed not known)."),
    ]


def motion_blocks(dossier: dict[str, Any]) -> list[Block]:
    case = dossier["case"]
    return [
        *_caption(dossier, "MOTION FOR LEAVE TO PROCEED UNDER A PSEUDONYM"),
        ("para", f"The [plaintiff / applicant], identified in these proceedings as \"{case['pseudonym']}\", moves "
                 "for leave to proceed under that pseudonym and for an order that their true name and identifying "
                 "details be filed under seal and withheld from the public record, under [CITE THE RULE, STATUTE OR "
                 "AUTHORITY OF THIS COURT PERMITTING PSEUDONYMOUS PROCEEDINGS OR SEALING]."),
        *_facts(dossier),
        ("heading", "Grounds"),
        ("item", "The proceedings concern intimate imagery published without consent (including digitally forged "
                 "imagery). Disclosing the [plaintiff's] identity in the public record would repeat the very harm "
                 "the proceedings seek to stop and expose them to further distribution, harassment and stigma."),
        ("item", "The [plaintiff's] identity is known to their counsel and can be given to the court under seal "
                 "(the case file's sealed identity annex, where the person provided one, opens only with "
                 "counsel's key). [State how and when the identity will be lodged under seal.]"),
        ("item", "No prejudice to [the defendant / respondents]: the relief sought is directed at the removal, "
                 "blocking and de-linking of specific material identified by URL and hash, which does not depend "
                 "on the [plaintiff's] name. [Address any prejudice argument this court's test requires.]"),
        ("item", "[Add the factors this court weighs (e.g. the public interest in open justice, the sensitivity of "
                 "the matter, the risk of retaliation, the vulnerability of the party) with authority.]"),
        ("heading", "Relief requested"),
        ("item", f"Leave to proceed under the pseudonym \"{case['pseudonym']}\" in all filings and hearings."),
        ("item", "An order that the [plaintiff's] identity be filed under seal and not disclosed without leave."),
        ("item", "An order that the parties refer to the [plaintiff] only by the pseudonym."),
        ("item", "[Any further sealing or redaction order this court can make.]"),
        ("para", "Dated: [DATE]"),
        ("para", "[Counsel's name, organisation, address, bar or registration number, signature]"),
    ]


def order_blocks(dossier: dict[str, Any], audit: dict[str, Any]) -> list[Block]:
    case = dossier["case"]
    blocks: list[Block] = [
        *_caption(dossier, "[PROPOSED] ORDER DIRECTING REMOVAL, BLOCKING AND DE-LINKING"),
        ("para", f"Upon the application of the [plaintiff / applicant] \"{case['pseudonym']}\", and upon reading "
                 f"the case file with court reference {case['court_reference']}, IT IS ORDERED that:"),
        ("heading", "1. Removal"),
        ("para", "Each of the following hosts shall, within [NUMBER] hours of service of this order, remove the "
                 "material at each URL listed against it, and make reasonable efforts to remove identical copies "
                 "(identified by the hashes in paragraph 4):"),
    ]
    by_host: dict[str, list[str]] = {}
    for url in dossier["urls"]:
        by_host.setdefault(url["host"] or "[host]", []).append(url["url"])
    for host, urls in sorted(by_host.items()):
        blocks.append(("item", f"{host}: " + ", ".join(urls)))
    blocks += [
        ("heading", "2. Blocking"),
        ("para", "[Named platforms / each respondent] shall block the upload or display of any image whose PDQ "
                 "hash is within [31, or the distance the court sets] bits of, or whose SHA-256 or MD5 equals, a "
                 "hash in paragraph 4."),
        ("heading", "3. De-linking"),
        ("para", "[Named search engines] shall remove from their search results every URL in paragraph 1, and any "
                 "URL later shown to carry the same material, within [NUMBER] hours of service."),
        ("heading", "4. The material, by hash"),
    ]
    for image in dossier["images"]:
        hashes = image["hashes"]
        parts = [f"{name.upper()} {hashes[name]}" for name in ("sha256", "md5", "pdq") if hashes.get(name)]
        blocks.append(("item", f"Image recorded {image['added_at']}: " + "; ".join(parts)))
    if not dossier["images"]:
        blocks.append(("item", "[No image hashes are recorded in the case file.]"))
    blocks += [("heading", "5. Requests already made (exhibits of the case file)")]
    exhibits = [(r, e) for r in dossier["requests"] for e in r["exhibits"]]
    for request, exhibit in exhibits:
        blocks.append(("item", f"Exhibit {exhibit['exhibit']}: {request['kind_label']} request to "
                               f"{exhibit['recipient']}, sent {exhibit['sent_at']}, {exhibit['delivery_label'].lower()}"
                               f"; file {exhibit['file']}, SHA-256 {exhibit['sha256']}"))
    if not exhibits:
        blocks.append(("item", "[No request was sent before this application.]"))
    head = audit.get("chain_head") or {}
    blocks += [
        ("heading", "6. Compliance and confidentiality"),
        ("para", "Each party served shall confirm compliance to [counsel / the court] within [NUMBER] days, "
                 "identifying the URLs and hashes acted on. The [plaintiff] shall be referred to only as "
                 f"\"{case['pseudonym']}\"."),
        ("para", f"The case file's audit chain held {head.get('seq', 0)} entries when it was made "
                 f"(head {head.get('row_hash', '-')})."),
        ("para", "[Any other term this court orders.]"),
        ("para", "Dated: [DATE]                    [JUDGE'S NAME AND TITLE]"),
    ]
    return blocks


def filing_pack(dossier: dict[str, Any], audit: dict[str, Any]) -> dict[str, bytes]:
    """The two DOCX files, by their names in the export."""
    return {MOTION: docx_write(motion_blocks(dossier)), ORDER: docx_write(order_blocks(dossier, audit))}
