"""case.pdf: the case summary for the court, rendered from the dossier (the same data as case.json).

Core PDF fonts only (nothing to embed or download); text outside Latin-1 is written as escapes so that nothing
is silently dropped. The person appears by pseudonym only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, WrapMode, XPos, YPos

MARGIN = 15
LINE = 4.6


def latin1(text: object) -> str:
    return str(text if text is not None else "").encode("latin-1", "backslashreplace").decode("latin-1")


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return value.replace("T", " ")[:19] + " UTC"


class CaseFilePDF(FPDF):
    def __init__(self, reference: str, pseudonym: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.reference = reference
        self.pseudonym = pseudonym
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)
        self.set_title(latin1(f"Case file {reference}"))
        self.set_creator("takedown court export")

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, latin1(f"Case {self.reference} - {self.pseudonym}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    def chapter(self, title: str) -> None:
        if self.get_y() > self.h - 50:
            self.add_page()
        self.ln(3)
        self.set_font("Helvetica", "B", 13)
        self.cell(0, 8, latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9)

    def para(self, text: str, *, style: str = "", size: float = 9) -> None:
        self.set_font("Helvetica", style, size)
        line = latin1(text)
        if "\n" not in line and self._fits(line, self.w - self.r_margin - self.l_margin):
            self.cell(0, LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            self.multi_cell(0, LINE, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9)

    def pairs(self, rows: list[tuple[str, object]]) -> None:
        for label, value in rows:
            self.set_font("Helvetica", "B", 9)
            self.cell(55, LINE, latin1(label))
            self.set_font("Helvetica", "", 9)
            text = latin1(value if value not in (None, "") else "-")
            if "\n" not in text and self._fits(text, self.w - self.r_margin - self.get_x()):
                self.cell(0, LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            else:
                self.multi_cell(0, LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")

    def rows(self, widths: list[float], header: Sequence[object], body: list[list[object]]) -> None:
        """A simple table; long cells wrap, each row starts on a new line, the header repeats on new pages."""
        self._row(widths, [latin1(h) for h in header], bold=True)
        for row in body:
            texts = [latin1(value) for value in row]
            self.set_font("Helvetica", "", 8)
            sizes = [self.get_string_width(text) for text in texts]
            lines = max(int(size // max(width - 2.5, 1)) + 1 for size, width in zip(sizes, widths, strict=True))
            if self.will_page_break(4 * lines):
                self.add_page()
                self._row(widths, [latin1(h) for h in header], bold=True)
                self.set_font("Helvetica", "", 8)
            self._row(widths, texts, bold=False, sizes=sizes)

    def _fits(self, text: str, width: float) -> bool:
        return self.get_string_width(text) <= width - 2 * self.c_margin

    def _row(self, widths: list[float], texts: list[str], *, bold: bool, sizes: list[float] | None = None) -> None:
        self.set_font("Helvetica", "B" if bold else "", 8)
        sizes = sizes or [self.get_string_width(text) for text in texts]
        top = self.get_y()
        height = 4.0
        x = self.l_margin
        for width, text, size in zip(widths, texts, sizes, strict=True):
            if "\n" not in text and size <= width - 2 * self.c_margin:
                # Most cells fit on one line: placing the text directly skips fpdf2's cell layout and line
                # breaking, about 10 times faster, which a case file of thousands of rows needs
                # (bench/export_case.py). The baseline is where cell() would put it.
                if text:
                    self.text(x + self.c_margin, top + 2 + 0.3 * self.font_size, text)
            else:
                self.set_xy(x, top)
                used = self.multi_cell(width, 4, text, new_x=XPos.RIGHT, new_y=YPos.TOP, wrapmode=WrapMode.CHAR,
                                       output=MethodReturnValue.HEIGHT)
                if isinstance(used, int | float):  # output=HEIGHT returns the height alone; the union is the stubs'
                    height = max(height, float(used))
            x += width
        self.set_xy(self.l_margin, top + height)
        self.set_draw_color(200, 200, 200)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font("Helvetica", "", 9)


def _analysis_lines(analysis: Any, prefix: str = "") -> list[str]:
    if isinstance(analysis, dict):
        lines: list[str] = []
        for key in sorted(analysis):
            lines += _analysis_lines(analysis[key], f"{prefix}{key}.")
        return lines
    text = json.dumps(analysis, ensure_ascii=False) if not isinstance(analysis, str) else analysis
    return [f"{prefix[:-1]}: {text}"]


OUTCOME_WORDS = {
    "met": "met",
    "missed": "MISSED",
    "refused": "refused",
    "running": "running",
    "not_sent": "not sent yet",
    "not_received": "never received (no clock ran)",
    "past_deadline": "deadline passed, no compliance recorded",
    "receipt_unknown": "answered before any receipt was recorded: met or missed not known",
    "cancelled": "cancelled",
    "not_applicable": "no statutory clock",
}


def _requests_chapter(pdf: CaseFilePDF, dossier: dict[str, Any]) -> None:
    requests = dossier["requests"]
    if not requests:
        pdf.para("No requests are recorded for this case.")
        return
    counts = dossier["deadlines"]
    pdf.para(
        "Removal requests carry the 48-hour clock of 47 U.S.C. 223a, counted from the recipient's receipt. As of "
        f"this export: {counts['met']} met, {counts['missed']} missed, {counts['past_deadline']} past the deadline "
        f"with no compliance recorded, {counts['refused']} refused, {counts['running']} still running, "
        f"{counts['not_received']} never received by anyone, {counts['receipt_unknown']} answered by the recipient "
        "before any receipt was recorded (it had the request by then, since when is not known: met or missed "
        f"cannot be said), {counts['not_sent']} not sent yet, "
        f"{counts['cancelled']} cancelled. The clock starts when the recipient's system accepted the request; "
        "outcomes are stated from the stored times alone. Blocking (the hash bank, which partners sync) and "
        "de-linking (search engines) carry no statutory clock. Each request as sent is an exhibit (chapter 10): "
        "the exact bytes that left, in exhibits/, with their SHA-256; nothing is rendered again."
    )
    pdf.ln(1)
    pdf.rows(
        [19, 37, 25, 25, 25, 25, 24],
        ["Kind", "Recipient", "Sent (UTC)", "Acknowledged", "Done / refused", "48 h deadline", "Outcome"],
        [[r["kind_label"], r["recipient"], _when(r["sent_at"])[:16], _when(r["acknowledged_at"])[:16],
          _when(r["complied_at"] or r["refused_at"])[:16], _when(r["deadline"]["deadline_at"])[:16],
          OUTCOME_WORDS.get(r["deadline"]["outcome"], r["deadline"]["outcome"])]
         for r in requests],
    )
    for request in requests:
        pdf.ln(2)
        pdf.para(f"{request['kind_label']} request to {request['recipient']}"
                 + (f" ({request['host']})" if request["host"] else "") + f", reference {request['id']}", style="B")
        deadline = request["deadline"]
        pdf.para(f"{request['channel_label']}; state: {request['state_label']}"
                 + (f" ({request['outcome_note']})" if request["outcome_note"] else "")
                 + f"; sent {request['send_count']} time(s)"
                 + (("; DSA Art. 16 notice included" if request["dsa_notice"] else "; no DSA notice")
                    if request["kind"] == "removal" else "") + ".")
        if request["kind"] == "removal":
            pdf.para(f"48-hour deadline {_when(deadline['deadline_at'])}: "
                     f"{OUTCOME_WORDS.get(deadline['outcome'], deadline['outcome'])}"
                     + (f" (complied after {deadline['hours_to_compliance']} hours)"
                        if deadline["hours_to_compliance"] is not None else "") + ".")
        if request["exhibits"]:
            pdf.para("As sent: " + "; ".join(
                f"exhibit {e['exhibit']} to {e['recipient']}"
                + (" (address guessed: abuse@ under RFC 2142)" if e["recipient_guessed"] else "")
                + f", {e['delivery_label'].lower()}" for e in request["exhibits"]) + ".")
        if not request["received_by_recipient"] and (request["exhibits"] or request["sent_at"]):
            pdf.para("No recipient's system ever accepted this request: nobody is known to have received it.",
                     style="B")
        if request["kind"] != "delinking" or len(request["urls"]) <= 5:
            pdf.para("URLs: " + (", ".join(request["urls"]) or "-"))
        else:  # a de-linking request lists every URL of the case; chapter 3 has them
            pdf.para(f"URLs: all {len(request['urls'])} URLs of chapter 3.")
        if request["events"]:
            pdf.rows([40, 50, 90], ["When (UTC)", "Step", "Detail"],
                     [[_when(e["at"]), e["event"], e["detail"]] for e in request["events"]])


def _finding(pdf: CaseFilePDF, finding: dict[str, Any]) -> None:
    pdf.para(f"Image {finding['image_id']}", style="B")
    verdict = finding["verdict"]
    if verdict is not None:
        detector = verdict["detector"]
        if detector["enabled"] and detector["score"] is not None:
            score = (f"{detector['score']} (threshold {detector['threshold']}; {detector['architecture']}, "
                     f"weights SHA-256 {detector['weights_sha256'] or '-'})")
        elif detector["enabled"]:
            score = f"not scored: {detector['error'] or 'no score'}"
        else:
            score = f"detector off: {detector['off_reason'] or '-'}"
        pdf.pairs([
            ("Verdict", f"{verdict['label']}: {verdict['meaning']}"),
            ("Supports 'digital forgery'", "yes" if verdict["supports_digital_forgery"] else "no"),
            ("Detector score", score),
        ])
        pdf.para("Reasons, strongest first:")
        for reason in verdict["reasons"]:
            pdf.para(f"- {reason}")
        for skipped in verdict["provenance"]["skipped"]:
            pdf.para(f"- not checked: {skipped}")
        if verdict["limits"]:
            pdf.para("Limits this verdict states:", style="I")
            for limit in verdict["limits"]:
                pdf.para(f"- {limit}", style="I")
    for line in _analysis_lines(finding["other"]) if finding["other"] else []:
        pdf.para(line)


def case_pdf_render(dossier: dict[str, Any], audit: dict[str, Any]) -> bytes:
    case = dossier["case"]
    pdf = CaseFilePDF(case["court_reference"], case["pseudonym"])
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, latin1(f"Case file {case['court_reference']}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.para(
        f"Prepared for court proceedings. The person concerned is named only by the pseudonym "
        f"\"{case['pseudonym']}\". Generated {_when(dossier['generated_at'])}"
        + (f" by {dossier['operator']}" if dossier.get("operator") else "")
        + f" ({dossier['site']}). The same data is in case.json; the integrity of every file in this export "
        "can be checked offline with the commands in VERIFY.md.",
    )

    pdf.chapter("1. Summary")
    pdf.pairs(
        [
            ("Court reference", case["court_reference"]),
            ("Pseudonym", case["pseudonym"]),
            ("Status", case["status_label"]),
            ("Kind of content", case["content_kind_label"]),
            ("Reported", _when(case["created_at"])),
            ("Good-faith statement", _when(case["good_faith_statement_at"])),
            ("Signed electronically", "yes (signature held under seal)" if case["signed_electronically"] else "no"),
            ("Confirmed", _when(case["confirmed_at"])),
            ("Withdrawn", _when(case["withdrawn_at"])),
            ("URLs", len(dossier["urls"])),
            ("Hosts", len({u["host"] for u in dossier["urls"]})),
            ("Requests (of which sent)",
             f"{len(dossier['requests'])} ({sum(1 for r in dossier['requests'] if r['sent_at'])})"),
            ("Removal deadlines", f"{dossier['deadlines']['met']} met, {dossier['deadlines']['missed']} missed, "
                                  f"{dossier['deadlines']['past_deadline']} past with no compliance recorded, "
                                  f"{dossier['deadlines']['running']} running, "
                                  f"{dossier['deadlines']['not_received']} never received, "
                                  f"{dossier['deadlines']['receipt_unknown']} receipt not known"),
            ("Exhibits (requests as sent)", sum(len(r["exhibits"]) for r in dossier["requests"])),
            ("Images (hashes recorded)", len(dossier["images"])),
        ]
    )

    pdf.chapter("2. Timeline")
    shown = [e for e in dossier["timeline"] if e["milestone"]]
    if len(shown) < len(dossier["timeline"]):
        pdf.para(f"Milestones ({len(shown)} of {len(dossier['timeline'])} events): each request's other steps "
                 "(prepared, acknowledged, escalated, partner reports on it) are listed with it in chapter 4, and "
                 "every event is in case.json's timeline.")
    pdf.rows([40, 60, 80], ["When (UTC)", "Event", "Subject"],
             [[_when(e["at"]), e["event"], e["subject"]] for e in shown])

    pdf.chapter("3. URLs and hosts")
    hosts: dict[str, int] = {}
    for url in dossier["urls"]:
        hosts[url["host"]] = hosts.get(url["host"], 0) + 1
    pdf.para("Hosts: " + (", ".join(f"{h} ({n})" for h, n in sorted(hosts.items())) or "none"))
    pdf.ln(1)
    pdf.rows([95, 35, 20, 30], ["URL", "Host", "Source", "Recorded (UTC)"],
             [[u["url"], u["host"], u["source"], _when(u["added_at"])[:16]] for u in dossier["urls"]])

    pdf.chapter("4. Requests sent and their answers")
    _requests_chapter(pdf, dossier)

    pdf.chapter("5. What partner platforms reported")
    if not dossier["partner_feedback"]:
        pdf.para("No partner platform has reported on this case.")
    else:
        pdf.rows([40, 40, 40, 60], ["When (UTC)", "Partner", "Reported", "Note"],
                 [[_when(f.get("at")), f.get("partner", ""), f.get("value", ""), f.get("note", "")]
                  for f in dossier["partner_feedback"]])

    pdf.chapter("6. Hash matches")
    pdf.para(dossier["limits"]["hashes"])
    if dossier["hash_matches"]:
        pdf.para("Copies found by partner matching:", style="B")
        pdf.rows([110, 40, 30], ["Found at", "Host", "When (UTC)"],
                 [[m["url"], m["host"], _when(m["found_at"])[:16]] for m in dossier["hash_matches"]])
    else:
        pdf.para("No copies found by partner matching are recorded.")
    bank_rows = [[b["image_id"], m["signal"], m["entry"], m["distance"]]
                 for b in dossier["bank_matches"] for m in b["matches"]]
    if bank_rows:
        pdf.para("Near-identical hashes the hash bank already held when the images were hashed (PDQ Hamming "
                 "distance; 0 is identical, 31 the largest distance counted as a match):", style="B")
        pdf.rows([80, 20, 50, 30], ["Image", "Signal", "Bank entry", "Distance (bits)"], bank_rows)
    elif any(not b["bank_available"] for b in dossier["bank_matches"]):
        pdf.para("The hash bank was not available when some images were hashed; no bank matches are recorded.")
    else:
        pdf.para("The hash bank held no near-identical hash when the images were hashed.")

    pdf.chapter("7. Images and their hashes")
    if not dossier["images"]:
        pdf.para("No images are recorded.")
    for image in dossier["images"]:
        hashes = image["hashes"]
        pdf.para(f"Image {image['id']} ({image['source']}, {image['state']}), recorded {_when(image['added_at'])}",
                 style="B")
        pdf.pairs(
            [
                ("SHA-256", hashes["sha256"]),
                ("MD5", hashes["md5"]),
                ("PDQ (quality)", f"{hashes['pdq'] or '-'} ({hashes['pdq_quality']})"),
                ("pHash / dHash", f"{hashes['phash'] or '-'} / {hashes['dhash'] or '-'}"),
                ("File in this export", image["file_in_export"] or "not included"),
            ]
        )

    pdf.chapter("8. Detector and provenance findings")
    pdf.para("Limits of the detector: " + dossier["limits"]["detector"], style="I")
    pdf.para("Limits of provenance checks: " + dossier["limits"]["provenance"], style="I")
    if not dossier["findings"]:
        pdf.para("No detector or provenance findings are recorded.")
    for finding in dossier["findings"]:
        _finding(pdf, finding)

    pdf.chapter("9. Audit log excerpt")
    _audit_chapter(pdf, audit)
    pdf.chapter("10. Exhibits: the requests as sent")
    _exhibits_chapter(pdf, dossier)
    return bytes(pdf.output())


def _exhibits_chapter(pdf: CaseFilePDF, dossier: dict[str, Any]) -> None:
    exhibits = [(r, e) for r in dossier["requests"] for e in r["exhibits"]]
    if not exhibits:
        pdf.para("No message was sent for this case, so there is no exhibit of one.")
        return
    pdf.para("Each exhibit is a file in this export holding the exact bytes that left the platform (an e-mail as "
             "given to the mail server, message/rfc822; a partner payload as posted, JSON). Its SHA-256 is the one "
             "recorded when it was sent; MANIFEST.sha256 lists it again. Delivery outcomes are what the recipient's "
             "system answered, with the stored time.")
    # Three tables of single-line cells (the fast path of rows()): a case may cite a thousand exhibits.
    pdf.rows([14, 22, 62, 26, 56], ["Exhibit", "Request", "Recipient (* = address guessed)", "Sent (UTC)",
                                    "Delivery outcome"],
             [[e["exhibit"], r["kind_label"], e["recipient"] + (" *" if e["recipient_guessed"] else ""),
               _when(e["sent_at"])[:16],
               e["delivery_label"] + (f", {_when(e['delivery_at'])[:16]}" if e["delivery_at"] else "")]
              for r, e in exhibits])
    pdf.ln(2)
    pdf.rows([14, 40, 126], ["Exhibit", "File in this export", "SHA-256 of the file"],
             [[e["exhibit"], e["file"] or "held under seal (*)", e["sha256"]] for _, e in exhibits])
    pdf.ln(2)
    pdf.rows([14, 18, 34, 114], ["Exhibit", "Channel", "Size, type", "Message id; what the recipient's system said"],
             [[e["exhibit"], e["channel"], f"{e['size']} B, {e['content_type'].split('/')[-1]}",
               e["message_id"] + (f"; {e['delivery_detail']}" if e["delivery_detail"] else "")]
              for _, e in exhibits])
    pdf.para("* The recipient's address was guessed (abuse@ the domain, RFC 2142), not taken from a directory.",
             style="I")
    if any(e.get("held_under_seal") for _, e in exhibits):
        pdf.para("(*) Held under seal: the message as sent carries the person's own signature, which may be their "
                 "name, so its bytes are not in this file. The SHA-256 above identifies the exact bytes; the copy "
                 "lodged under seal must match it.", style="I")


def _audit_chapter(pdf: CaseFilePDF, audit: dict[str, Any]) -> None:
    head = audit.get("chain_head") or {}
    pdf.para(
        f"{len(audit['events'])} audit events concern this case (audit-log.json, with every row's hash-chain values). "
        f"The case has its own hash chain; at export time it held {head.get('seq', 0)} rows, the last with hash "
        f"{head.get('row_hash', '-')}, and every one of them is in this file: positions 1 to {head.get('seq', 0)} "
        "with none missing, each linked to the one before. That value is covered by this export's signature and "
        "time-stamp, so a later change to the log shows, and the export itself is the next row of the chain."
    )
    # The first 96 bits of each row hash identify the row; audit-log.json holds each in full, and the check.
    pdf.rows([38, 22, 70, 50], ["When (UTC)", "Actor", "Action", "Row hash (first 24 hex digits)"],
             [[_when(e["at"]), e["actor_kind"], e["action"], e["row_hash"][:24]] for e in audit["events"]])
