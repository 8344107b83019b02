"""A case from report to removal across three hosts, for the status-page tests (Django client and browser).

- pics.example: a curated abuse contact; the mail server accepts, later the host removes it (a moderator records).
- bounce.example: a curated contact whose mailbox turns out not to exist: accepted, then a DSN bounces it.
- social.example: a partner platform without a webhook: it fetches the request on the API, acknowledges it and
  removes it.
Search engines (seeded) get de-linking requests for every URL, prepared for a moderator to submit.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from django.test.html import Element, parse_html

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.moderation.services import moderation_claim_next, moderation_decide, moderation_queue_sync
from takedown.partners.services import NewPartner, partner_create
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.models import RemedyRequest, RequestKind, RequestState, SentMessage
from takedown.remedies.services import remedies_bounce_record, remedy_request_update
from tests.conftest import make_staff
from tests.partners.fixtures import key_client
from tests.remedies.factory import case_make, host_make
from victims import credentials

URLS = {
    "pics": "https://pics.example/a/1",
    "bounce": "https://bounce.example/b/2",
    "social": "https://social.example/p/3",
}


@dataclass
class Scenario:
    case: Case
    secret: str
    partner: NewPartner
    staff: Any
    log: list[str] = field(default_factory=list)

    def removal(self, name: str) -> RemedyRequest:
        return next(r for r in RemedyRequest.objects.filter(case=self.case, kind=RequestKind.REMOVAL)
                    if URLS[name] in r.urls)


def scenario_report() -> Scenario:
    """The person's report, as intake leaves it (submitted, images hashed), and the hosts it names."""
    host_directory_seed()
    host_make("pics.example", name="Pics Host")
    host_make("bounce.example", name="Bounce Host")
    partner = partner_create(name="Social Partner", actor=Actor.system())
    host_make("social.example", name="Social", partner_id=str(partner.partner.id), email="")
    case = case_make(urls=[(URLS[name], URLS[name].split("/")[2]) for name in ("pics", "bounce", "social")])
    secret = credentials.secret_new()
    Case.objects.filter(id=case.id).update(secret_hash=credentials.secret_hash(secret),
                                           reference=credentials.reference_new())
    return Scenario(case=Case.objects.get(id=case.id), secret=secret, partner=partner,
                    staff=make_staff("status-mod", "moderator"))


def scenario_confirm(s: Scenario) -> None:
    """A moderator confirms: requests are generated and sent (the outbox runs in process in tests)."""
    moderation_queue_sync()
    item = moderation_claim_next(user=s.staff)
    assert item is not None and item.case_id == s.case.id
    moderation_decide(item_id=item.id, user=s.staff, decision="confirm")


def scenario_bounce(s: Scenario) -> None:
    message = SentMessage.objects.get(request=s.removal("bounce"))
    dsn = (
        "From: MAILER-DAEMON@mx.bounce.example\r\nTo: " + f"<{message.message_id}>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.bounce.example\r\n\r\n"
        f"Final-Recipient: rfc822; {message.recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message.message_id}\r\n\r\n--B--\r\n"
    ).encode()
    assert remedies_bounce_record(raw=dsn, actor=Actor.system()).bounced == [message.id]


def scenario_partner_acknowledges(s: Scenario) -> None:
    client = key_client(s.partner.api_key.plaintext)
    assert client.get("/api/v1/removal-requests").status_code == 200
    answer = client.post("/api/v1/removal-requests/acknowledge",
                         {"removal_request_id": str(s.removal("social").id), "status": "received"}, format="json")
    assert answer.status_code == 200, answer.content


def scenario_removed(s: Scenario) -> None:
    client = key_client(s.partner.api_key.plaintext)
    answer = client.post("/api/v1/removal-requests/acknowledge",
                         {"removal_request_id": str(s.removal("social").id), "status": "removed"}, format="json")
    assert answer.status_code == 200, answer.content
    remedy_request_update(request=s.removal("pics"), state=RequestState.COMPLIED, actor=Actor.system(),
                          note="host replied: removed")


# --- Reading the page ---------------------------------------------------------------------------------------

def _classes(element: Element) -> list[str]:
    return dict(element.attributes).get("class", "").split() if isinstance(element, Element) else []


def _find(element: Any, predicate: Any) -> list[Element]:
    found: list[Element] = []
    if isinstance(element, Element):
        if predicate(element):
            found.append(element)
        for child in element.children:
            found.extend(_find(child, predicate))
    return found


def _text(element: Any) -> str:
    if isinstance(element, str):
        return element
    return " ".join(" ".join(_text(c) for c in element.children).split())


def status_page_remedies(content: str) -> dict[str, list[dict[str, Any]]]:
    """Per URL shown on the page: each remedy line as the person reads it."""
    tree = parse_html(content)
    out: dict[str, list[dict[str, Any]]] = {}
    for li in _find(tree, lambda e: e.name == "li" and "url" in _classes(e)):
        url = _text(_find(li, lambda e: "url-text" in _classes(e))[0])
        rows = []
        for remedy in _find(li, lambda e: e.name == "li" and "remedy" in _classes(e)):
            attributes = dict(remedy.attributes)

            def one(css: str, remedy: Element = remedy) -> str:
                hits = _find(remedy, lambda e: css in _classes(e))
                return _text(hits[0]) if hits else ""

            events = [_text(e) for e in _find(remedy, lambda e: e.name == "ul" and "events" in _classes(e))[0]
                      .children if isinstance(e, Element)] if _find(remedy, lambda e: "events" in _classes(e)) else []
            rows.append({"kind": attributes["data-kind"], "state": attributes["data-state"],
                         "recipient": one("recipient"), "state_text": one("state"), "channel": one("channel"),
                         "clock": one("clock"), "events": events})
        out[html.unescape(url)] = rows
    return out


def minute(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


STATE_WORDS = {
    "sent": "Sent: the platform's system received it.",
    "sending": "Handed over; the platform's system has not taken it yet.",
    "bounced": "Bounced: it did not reach the platform. A moderator is on it.",
    "acknowledged": "Acknowledged by the platform.",
    "refused": "Refused by the platform.",
    "overdue": "Overdue: not removed within the 48 hours.",
}


def expected_line(request: RemedyRequest) -> dict[str, Any]:
    """What the page must say for one request, from the database alone (independent of the code under test)."""
    messages = list(request.messages.all())
    if request.state == "draft":
        state = "not_sent"
        words = ("Not sent yet: a moderator submits it through the platform's own form."
                 if request.channel == "web_form" else "Not sent yet.")
    elif request.state == "undelivered":
        assert messages[-1].delivery == "bounced"
        state, words = "bounced", STATE_WORDS["bounced"]
    elif request.state == "complied":
        state = "done"
        words = {"removal": "Removed", "delinking": "Removed from search results"}[request.kind]
    elif request.overdue_at and request.state in ("sent", "acknowledged"):
        state, words = "overdue", STATE_WORDS["overdue"]
    else:
        state, words = request.state, STATE_WORDS[request.state]
    done_word = {"removal": "Removed", "delinking": "Removed from search results"}[request.kind]
    events = [f"{label} {minute(at)}" for label, at in (
        ("Sent", request.sent_at), ("Received by the platform's system", request.received_at),
        ("Bounced", request.undelivered_at if request.state == "undelivered" else None),
        ("Acknowledged", request.acknowledged_at), (done_word, request.complied_at),
        ("Refused", request.refused_at),
        ("Deadline (48 hours after receipt)",
         request.deadline_at if request.kind == "removal" and request.received_at else None),
        ("Overdue since", request.overdue_at)) if at]
    return {"kind": request.kind, "state": state, "state_text": words, "events": events,
            "recipient": f"to {request.recipient_label}"}


def _case_wide_lines(content: str) -> list[dict[str, Any]]:
    tree = parse_html(content)
    in_urls = {id(e) for li in _find(tree, lambda e: e.name == "li" and "url" in _classes(e))
               for e in _find(li, lambda e: e.name == "li" and "remedy" in _classes(e))}
    lines = []
    for remedy in _find(tree, lambda e: e.name == "li" and "remedy" in _classes(e)):
        if id(remedy) in in_urls:
            continue
        attributes = dict(remedy.attributes)
        events_lists = _find(remedy, lambda e: e.name == "ul" and "events" in _classes(e))
        events = [_text(e) for e in events_lists[0].children if isinstance(e, Element)] if events_lists else []
        state_text = _text(_find(remedy, lambda e: "state" in _classes(e))[0])
        lines.append({"kind": attributes["data-kind"], "state": attributes["data-state"], "state_text": state_text,
                      "events": events})
    return lines


def _expected_blocking(request: RemedyRequest) -> dict[str, Any]:
    words = {"draft": ("not_sent", "Not sent yet."),
             "sent": ("sent", "Shared: the fingerprints are in the list partner platforms check."),
             "complied": ("done", "Blocked by a partner platform")}[request.state]
    events = [f"{label} {minute(at)}" for label, at in (
        ("Sent", request.sent_at), ("Blocked by a partner platform", request.complied_at)) if at]
    return {"kind": "blocking", "state": words[0], "state_text": words[1], "events": events}


def check_page_against_database(content: str, case: Case) -> list[str]:
    """Every remedy line of the page (per URL, and the case-wide blocking) compared with the database; returns
    the differences (empty when the page tells the truth)."""
    shown = status_page_remedies(content)
    problems: list[str] = []
    blocking = [_expected_blocking(r) for r in RemedyRequest.objects.filter(case=case, kind=RequestKind.BLOCKING)
                .exclude(state="cancelled")]
    if _case_wide_lines(content) != blocking:
        problems.append(f"case-wide: expected {blocking}, shown {_case_wide_lines(content)}")
    for url in case.urls.values_list("url", flat=True):
        requests = [r for r in RemedyRequest.objects.filter(case=case).exclude(state="cancelled").order_by(
            "created_at") if url in r.urls]
        expected = sorted((expected_line(r) for r in requests), key=lambda e: (e["kind"], e["recipient"]))
        got = sorted(({k: row[k] for k in ("kind", "state", "state_text", "events", "recipient")}
                      for row in shown.get(url, [])), key=lambda e: (e["kind"], e["recipient"]))
        if expected != got:
            problems.append(f"{url}:\n expected {expected}\n shown    {got}")
        if not requests and url in shown and shown[url]:
            problems.append(f"{url}: shows remedies the database does not have")
    return problems


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
