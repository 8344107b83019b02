"""The authorization matrix: every route of the URL configuration, as every kind of caller, with its expected answer.

Routes are enumerated from the URL resolver, and the partner API's operations from its OpenAPI schema (each
operation carries `x-required-scope`). A route without a row fails the suite, so nobody adds an endpoint without
deciding who may call it; an API operation's row is generated from the schema, so the schema and the code
cannot disagree about who may call it.

Principals (PRINCIPALS): anonymous; the person holding case X (signed in with its reference and secret) and the
person holding case Y; a moderator; an advocate without a grant and one with a grant on case X; a partner key of
each scope (lookup, fetch, feedback, submit, requests: each its own partner, whose StopNCII function keys open only that
scope); another partner with every scope; an admin.

Expectations:

- "ok": 2xx;
- "allowed": 2xx or 400 (the caller got past authorization and the input was checked);
- "reached": as "allowed", or the 404 of an API operation that documents one for an object the caller names and
  does not have (its schema example names an object this scenario lacks): past authorization all the same;
- "login": a redirect to the staff sign-in page;
- "access": a redirect to the page where a person enters their case reference and secret;
- "to_status": a redirect to the person's own case page (an action was done on their case);
- "deny": 401, 403, 404 or 405, refused without revealing whether the object exists;
- "wrong_secret": 404, or 429 once the reference has locked after repeated wrong secrets;
- "any": anything but a 5xx (the admin's pages for an object that does not exist);
- a number: exactly that status.

Beyond the status, no response to a principal who may not see case X contains its reference or pseudonym.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator

from takedown.api.base import PartnerAPIView
from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.exports.models import AdvocateGrant
from takedown.exports.services import advocate_profile_ensure, grant_create_by_victim
from takedown.partners.models import ALL_SCOPES
from takedown.partners.services import NewPartner, partner_create
from tests.conftest import make_staff, verified_client
from tests.exports.conftest import case_make
from tests.partners.memorybank import MemoryBank
from victims import credentials

SCOPE_PRINCIPALS = tuple(f"partner_{scope}" for scope in ALL_SCOPES)
PARTNERS = (*SCOPE_PRINCIPALS, "other_partner")
PEOPLE = ("anonymous", "victim", "other_victim", "moderator", "advocate", "advocate_granted", "admin")
PRINCIPALS = (*PEOPLE, *PARTNERS)
# Who may see case X's reference and pseudonym in a response.
SEES_CASE_X = {"victim", "moderator", "admin", "advocate_granted"}


@dataclass(frozen=True)
class Row:
    path: str | Callable[[dict[str, Any]], str]
    expect: dict[str, str | int]
    method: str = "get"
    data: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] = field(default_factory=dict)
    json_body: bool = False


def expand(expect: dict[str, str | int]) -> dict[str, str | int]:
    """Fill the principals a row leaves out: on pages (not the API) a partner's key opens nothing, so partners and
    a person who only holds a case answer as anonymous does unless the row says otherwise, and an advocate's grant
    changes nothing outside the advocate's case pages."""
    full = dict(expect)
    for principal in (*PARTNERS, "victim", "other_victim"):
        full.setdefault(principal, expect["anonymous"])
    full.setdefault("advocate_granted", expect["advocate"])
    missing = set(PRINCIPALS) - set(full)
    assert not missing, f"row without {missing}"
    return full


def row(path: str | Callable[[dict[str, Any]], str], expect: dict[str, str | int], **kwargs: Any) -> Row:
    return Row(path, expand(expect), **kwargs)


STAFF_ONLY_PAGE = {"anonymous": "login", "moderator": "ok", "advocate": "ok", "admin": "ok"}
ADMIN_SITE = {"anonymous": "login", "moderator": "login", "advocate": "login", "admin": "ok"}
# The admin role's model permissions decide what an admin may do on each model page (some are view-only,
# some hidden): the matrix checks that nobody else gets in, and that no admin page fails.
ADMIN_MODEL = {"anonymous": "login", "moderator": "login", "advocate": "login", "admin": "any"}
ADMIN_EXCEPTIONS: dict[str, dict[str, str | int]] = {
    # The admin's own sign-in always hands over to the staff sign-in, whoever asks.
    "admin:login": dict.fromkeys(PEOPLE, "login"),
    # Signing out is a POST; a GET is refused (405) for the admin and sent to the index for everyone else.
    "admin:logout": {**dict.fromkeys(PEOPLE, 302), "admin": 405},
}
PUBLIC_PAGE = dict.fromkeys(PEOPLE, "ok")
ADVOCATE_PAGE = {"anonymous": "login", "moderator": "deny", "advocate": "ok", "admin": "deny"}
ADVOCATE_CASE = {"anonymous": "login", "moderator": "deny", "advocate": "deny", "advocate_granted": "ok",
                 "admin": "deny"}
GRANTS_PAGE = {"anonymous": "login", "moderator": "ok", "advocate": "deny", "admin": "ok"}
GRANTS_ACTION = {"anonymous": "login", "moderator": 302, "advocate": "deny", "admin": 302}
# The person's own pages work from the session's grant; the other person's session opens their own case.
CASE_PAGE = {"anonymous": "access", "victim": "ok", "other_victim": "ok", "moderator": "access",
             "advocate": "access", "admin": "access"}
CASE_ACTION = {"anonymous": "access", "victim": "to_status", "other_victim": "to_status", "moderator": "access",
               "advocate": "access", "admin": "access"}
CASE_FORM_REFUSED = {"anonymous": "access", "victim": 400, "other_victim": 400, "moderator": "access",
                     "advocate": "access", "admin": "access"}
CASE_X_ONLY = {"anonymous": "access", "victim": "ok", "other_victim": "deny", "moderator": "access",
               "advocate": "access", "admin": "access"}
NOT_WITHDRAWN = {"anonymous": "access", "victim": "deny", "other_victim": "deny", "moderator": "access",
                 "advocate": "access", "admin": "access"}


def _image_path(s: dict[str, Any]) -> str:
    return f"/case/images/{s['case_x'].images.first().id}/"


MATRIX: dict[str, Row] = {
    "healthz": row("/healthz", PUBLIC_PAGE),
    "home": row("/", PUBLIC_PAGE),
    "staff-login": row("/staff/login/", PUBLIC_PAGE),
    "staff-logout": row("/staff/logout/", dict.fromkeys(PEOPLE, 302), method="post"),
    "staff-home": row("/staff/", STAFF_ONLY_PAGE),
    "admin:index": row("/admin/", ADMIN_SITE),
    "api-schema": row("/api/schema/", PUBLIC_PAGE),
    "api-docs": row("/api/docs/", PUBLIC_PAGE),
    # The person's pages (victims/). Reporting and entering a reference are open to anyone.
    "victims-report-upload": row("/report/", PUBLIC_PAGE),
    "victims-report-device": row("/report/device/", PUBLIC_PAGE),
    # Gone (410) without the one-time receipt cookie, whoever asks.
    "victims-report-done": row("/report/done/", dict.fromkeys(PEOPLE, 410)),
    # The receipt needs the reference and secret in the request; a wrong secret is "not found" for everyone,
    # until the reference locks after five wrong secrets (429; tests/victims/test_access.py).
    "victims-receipt": row("/report/receipt/", dict.fromkeys(PEOPLE, "wrong_secret"), method="post",
                           data=lambda s: {"reference": s["case_x"].reference, "secret": "tds_WRONG-SECRET-0000"}),
    "victims-case-access": row("/case/", PUBLIC_PAGE),
    "victims-case-status": row("/case/status/", CASE_PAGE),
    "victims-case-urls": row("/case/urls/", CASE_ACTION, method="post", data={"urls": "https://example.com/m/1"}),
    "victims-case-evidence": row("/case/evidence/", CASE_FORM_REFUSED, method="post"),
    "victims-case-message": row("/case/messages/", CASE_ACTION, method="post", data={"body": "hello"}),
    "victims-case-image": row(_image_path, CASE_X_ONLY),
    "victims-case-withdraw": row("/case/withdraw/", CASE_PAGE),
    "victims-withdrawal-receipt": row("/case/withdrawal-receipt/", NOT_WITHDRAWN),
    "victims-case-leave": row("/case/leave/", dict.fromkeys(PEOPLE, 302), method="post"),
    # Quick exit ends whatever session the browser has and sends it to a neutral site, for anyone.
    "quick-exit": row("/exit/", dict.fromkeys(PEOPLE, 302)),
    # Help, privacy, the age question's two pages and the language switch are open to anyone and keep nothing.
    "victims-report-start": row("/start/", PUBLIC_PAGE),
    "victims-under-18": row("/under-18/", PUBLIC_PAGE),
    "victims-help": row("/help/", PUBLIC_PAGE),
    "victims-privacy": row("/privacy/", PUBLIC_PAGE),
    # The operator's export-key fingerprint and TSA choice: published for anyone who checks a court file.
    "exports-keys-json": row("/.well-known/takedown-export-keys", PUBLIC_PAGE),
    "exports-keys-page": row("/court-exports/keys/", PUBLIC_PAGE),
    "set_language": row("/i18n/setlang/", dict.fromkeys(PEOPLE, 302), method="post",
                        data={"language": "es", "next": "/"}),
    # Advocates and grants (takedown/exports).
    "exports-advocate-cases": row("/staff/advocate/", ADVOCATE_PAGE),
    "exports-advocate-profile": row("/staff/advocate/profile/", ADVOCATE_PAGE),
    "exports-advocate-case": row(lambda s: f"/staff/advocate/cases/{s['case_x'].court_reference}/", ADVOCATE_CASE),
    "exports-advocate-export": row(lambda s: f"/staff/advocate/cases/{s['case_x'].court_reference}/export/",
                                   ADVOCATE_CASE),
    # Recording a court order (takedown/exports/court_orders.py): an advocate with a grant, as for the export.
    "exports-advocate-court-order": row(lambda s: f"/staff/advocate/cases/{s['case_x'].court_reference}/court-order/",
                                    ADVOCATE_CASE),
    "exports-staff-grants": row("/staff/grants/", GRANTS_PAGE),
    "exports-staff-grant-revoke": row(lambda s: f"/staff/grants/{s['grant'].id}/revoke/", GRANTS_ACTION,
                                      method="post"),
    # The person removes an advocate's access from their status page: only from their own case (another
    # person's session cannot name case X's grant: 404), and never without a case session.
    "victims-case-advocates": row("/case/advocate-access/", {**CASE_ACTION, "other_victim": "deny"}, method="post",
                                  data=lambda s: {"action": "revoke", "grant": str(s["grant"].id)}),
}
MATRIX.update({name: Row(r.path, expand(r.expect), r.method, r.data)
               for name, r in __import__("tests.moderation.authz_rows", fromlist=["rows"]).rows(Row).items()})


# --- The partner API: rows from the OpenAPI schema ------------------------------------------------------------


def schema_operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(method, path, operation) for path, item in schema["paths"].items() for method, operation in item.items()]


def _request_example(operation: dict[str, Any]) -> dict[str, Any]:
    for content in operation.get("requestBody", {}).get("content", {}).values():
        for example in content.get("examples", {}).values():
            value: dict[str, Any] = example["value"]
            return value
    return {}


def api_row(method: str, path: str, operation: dict[str, Any]) -> Row:
    """Only a partner key reaches the API: sessions of people and staff open nothing (401). A key of the
    operation's scope (or any key, when the operation needs none) gets through; a key of another scope is 403."""
    scope = operation["x-required-scope"]
    passed = "reached" if "404" in operation["responses"] else "allowed"
    expect: dict[str, str | int] = dict.fromkeys(PEOPLE, 401)
    for scope_name, principal in zip(ALL_SCOPES, SCOPE_PRINCIPALS, strict=True):
        expect[principal] = passed if scope in ("", scope_name) else 403
    expect["other_partner"] = passed
    return Row(path, expand(expect), method=method, data=_request_example(operation), json_body=True)


API_ROWS: dict[str, Row] = {}
for _method, _path, _operation in schema_operations():
    _name = resolve(_path).url_name
    assert _name and _name not in API_ROWS, f"{_path} resolves to no route or to one already in the schema"
    API_ROWS[_name] = api_row(_method, _path, _operation)
assert not set(API_ROWS) & set(MATRIX), "an API route has a hand-written row: its row comes from the schema"
MATRIX.update(API_ROWS)


# --- Enumerating routes -------------------------------------------------------------------------------------


def _walk(patterns: list[URLPattern | URLResolver], namespace: str = "",
          prefix: str = "") -> Iterator[tuple[str, URLPattern, str]]:
    """(route name, pattern, the route's full path pattern) for every route."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif pattern.name:
            yield f"{namespace}{pattern.name}", pattern, prefix + str(pattern.pattern)
        else:
            yield f"{namespace}<unnamed {pattern.pattern}>", pattern, prefix + str(pattern.pattern)


def all_route_names() -> list[str]:
    return sorted({name for name, _, _ in _walk(get_resolver().url_patterns)})


def admin_rows() -> dict[str, Row]:
    """Every route of the Django admin: filled in with an id that matches nothing where the route takes one."""
    from django.urls import NoReverseMatch, reverse

    rows: dict[str, Row] = {}
    for name, pattern, full in _walk(get_resolver().url_patterns):
        if not name.startswith("admin:") or name == "admin:index":
            continue
        arguments = list(pattern.pattern.regex.groupindex)
        path = None
        if pattern.name is None:  # the admin's old-style object URLs, a redirect with no name to reverse
            path = "/" + re.sub(r"<(?:\w+:)?\w+>", "0", full)
        for filler in ("00000000-0000-0000-0000-000000000000", "0", "auth"):
            if path is not None:
                break
            try:
                path = reverse(name, kwargs=dict.fromkeys(arguments, filler))
            except NoReverseMatch:
                continue
        assert path is not None, f"cannot build a path for {name}"
        rows[name] = row(path, ADMIN_EXCEPTIONS.get(name, ADMIN_MODEL))
    return rows


def test_every_route_has_a_row() -> None:
    covered = set(MATRIX) | set(admin_rows())
    missing = [name for name in all_route_names() if name not in covered]
    assert not missing, f"routes without an authorization row in tests/security/test_authz_matrix.py: {missing}"


def test_every_row_names_every_principal() -> None:
    for name, each in {**MATRIX, **admin_rows()}.items():
        assert set(each.expect) == set(PRINCIPALS), name


def test_every_partner_api_route_is_in_the_schema() -> None:
    """A partner endpoint left out of the schema would get no generated row: it must be documented."""
    api_routes = {name for name, pattern, _ in _walk(get_resolver().url_patterns)
                  if isinstance(getattr(pattern.callback, "view_class", None), type)
                  and issubclass(pattern.callback.view_class, PartnerAPIView)}
    assert api_routes == set(API_ROWS)


@pytest.mark.django_db
def test_the_served_schema_is_the_one_the_rows_come_from() -> None:
    served = Client().get("/api/schema/", {"format": "json"}).json()
    scopes = {(m, p): op["x-required-scope"] for p, item in served["paths"].items() for m, op in item.items()}
    assert scopes == {(m, p): op["x-required-scope"] for m, p, op in schema_operations()}
    assert {scope for scope in scopes.values() if scope} == set(ALL_SCOPES)


# --- The scenario -------------------------------------------------------------------------------------------


@dataclass
class PartnerCaller:
    made: NewPartner

    def client(self, path: str) -> Client:
        if path.startswith("/api/stopncii/v1/"):
            function = path.split("/")[4].split("?")[0]
            return Client(HTTP_OCP_APIM_SUBSCRIPTION_KEY=self.made.stopncii.subscription_key,
                          HTTP_X_FUNCTIONS_KEY=self.made.stopncii.function_keys[function])
        return Client(HTTP_AUTHORIZATION=f"Bearer {self.made.api_key.plaintext}")


def _victim_client(case: Case, secret: str) -> Client:
    client = Client()
    response = client.post("/case/", {"reference": case.reference, "secret": secret})
    assert response.status_code == 302, response.status_code
    return client


@pytest.fixture
def principals(db: None, memory_bank: MemoryBank) -> tuple[dict[str, Any], dict[str, Any]]:
    """(callers by principal, scenario objects for the rows' paths)."""
    memory_bank.add(signal_type="pdq", value="f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
    secrets = {}
    cases = {}
    for key in ("case_x", "case_y"):
        reference = credentials.reference_new()
        case = case_make(reference)
        secrets[key] = credentials.secret_new()
        Case.objects.filter(id=case.id).update(secret_hash=credentials.secret_hash(secrets[key]),
                                               pseudonym=f"Pseudonym {reference}")
        cases[key] = Case.objects.get(id=case.id)
    advocate_granted = make_staff("adv-granted", "advocate")
    grant = grant_create_by_victim(case=cases["case_x"], advocate_code=advocate_profile_ensure(
        user=advocate_granted).grant_code, days=30, images_consented=True, identity_for_court="")
    callers: dict[str, Any] = {
        "anonymous": Client(),
        "victim": _victim_client(cases["case_x"], secrets["case_x"]),
        "other_victim": _victim_client(cases["case_y"], secrets["case_y"]),
        "moderator": verified_client(make_staff("matrix-mod", "moderator")),
        "advocate": verified_client(make_staff("matrix-adv", "advocate")),
        "advocate_granted": verified_client(advocate_granted),
        "admin": verified_client(make_staff("matrix-admin", "admin")),
        "other_partner": PartnerCaller(partner_create(name="Other partner", actor=Actor.system())),
    }
    for scope, principal in zip(ALL_SCOPES, SCOPE_PRINCIPALS, strict=True):
        callers[principal] = PartnerCaller(partner_create(name=f"Partner {scope}", actor=Actor.system(),
                                                          scopes=[scope]))
    return callers, {**cases, "grant": grant}


def _outcome_matches(expected: str | int, response: Any) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    if isinstance(expected, int):
        return status == expected
    if expected == "ok":
        return 200 <= status < 300
    if expected == "allowed":
        return 200 <= status < 300 or status == 400
    if expected == "reached":
        not_found = status == 404 and response.json().get("error", {}).get("code", "").startswith("unknown_")
        return 200 <= status < 300 or status == 400 or not_found
    if expected == "login":
        # The admin sends to its own login URL first, which redirects to the staff sign-in (tested on its own).
        return status == 302 and ("/staff/login/" in location or "/admin/login/" in location)
    if expected == "access":
        return status == 302 and location.split("?")[0] == "/case/"
    if expected == "to_status":
        return status == 302 and location.split("?")[0] == "/case/status/"
    if expected == "deny":
        return status in {401, 403, 404, 405}
    if expected == "wrong_secret":
        return status in {404, 429}
    if expected == "any":
        return status < 500
    raise AssertionError(f"unknown expectation {expected!r}")


# Headers every response carries, whoever asks and whatever the answer (issue 10; takedown/core/security.py).
# Referrer-Policy is same-origin rather than no-referrer: under no-referrer browsers send `Origin: null` with
# form posts, which CSRF checking refuses (settings.py); other sites still get no referrer.
REQUIRED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
NO_STORE_PREFIXES = ("/case/", "/staff/", "/report/", "/admin/")


def header_failures(path: str, response: Any) -> list[str]:
    failures = [f"{name}: {response.get(name)!r}" for name, value in REQUIRED_HEADERS.items()
                if response.get(name) != value]
    csp = response.get("Content-Security-Policy", "")
    directives = {part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()}
    if ("'unsafe-inline'" in csp or "'unsafe-eval'" in csp
            or directives.get("frame-ancestors") != "frame-ancestors 'none'"
            or directives.get("script-src") != "script-src 'self'" or "object-src" not in directives):
        failures.append(f"Content-Security-Policy: {csp!r}")
    if path.startswith(NO_STORE_PREFIXES) and "no-store" not in response.get("Cache-Control", ""):
        failures.append(f"Cache-Control: {response.get('Cache-Control')!r}")
    for cookie in response.cookies.values():
        if cookie.value and (not cookie["httponly"] or cookie["samesite"] not in ("Strict", "Lax")):
            failures.append(f"cookie {cookie.key}: httponly={cookie['httponly']!r} samesite={cookie['samesite']!r}")
    return failures


def _call(caller: Any, each: Row, path: str, data: dict[str, Any]) -> Any:
    client = caller.client(path) if isinstance(caller, PartnerCaller) else caller
    client.raise_request_exception = False
    if each.json_body and each.method != "get":
        return getattr(client, each.method)(path, json.dumps(data), content_type="application/json")
    return getattr(client, each.method)(path, data)


def _check_row(name: str, each: Row, principals: tuple[dict[str, Any], dict[str, Any]]) -> None:
    callers, scenario = principals
    path = each.path(scenario) if callable(each.path) else each.path
    data = each.data(scenario) if callable(each.data) else each.data
    secrets = [scenario["case_x"].reference, scenario["case_x"].pseudonym]
    failures = []
    for principal in PRINCIPALS:
        expected = each.expect[principal]
        response = _call(callers[principal], each, path, data)
        if not _outcome_matches(expected, response):
            failures.append(f"{principal}: expected {expected}, got {response.status_code} "
                            f"{response.get('Location', '')}")
        failures.extend(f"{principal}: {problem}" for problem in header_failures(path, response))
        if principal not in SEES_CASE_X and not getattr(response, "streaming", False):
            body = response.content.decode(errors="replace")
            leaked = [text for text in secrets if text in body]
            if leaked:
                failures.append(f"{principal}: the response shows case X ({leaked})")
    assert not failures, f"{name} {each.method.upper()} {path}: " + "; ".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_answers_each_principal_as_expected(
        route: str, principals: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _check_row(route, MATRIX[route], principals)


@pytest.mark.django_db
def test_admin_routes_answer_each_principal_as_expected(principals: tuple[dict[str, Any], dict[str, Any]]) -> None:
    failures = []
    for name, each in sorted(admin_rows().items()):
        try:
            _check_row(name, each, principals)
        except AssertionError as failure:
            failures.append(str(failure))
    assert not failures, "\n".join(failures)


# Who answers each route in the CSRF check: the first principal the row lets through (the check must refuse a
# post that would otherwise have worked).
CSRF_CALLERS = ("victim", "moderator", "admin", "advocate_granted", "advocate", "anonymous")
# Machine paths authorised by a bearer token alone (never a session), so exempt from CSRF by design.
BEARER_TOKEN_ROUTES = frozenset({"remedies-bounce-webhook"})


@pytest.mark.django_db
def test_no_page_takes_a_post_without_the_csrf_token(principals: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Every route but the partner API (keys in headers, no cookies) refuses a POST without the CSRF token,
    whatever method it answers: CSRF checking runs before the view. A refused post changes nothing, so one
    scenario serves every route. The API's schema and docs (DRF views, no session) answer 405."""
    callers, scenario = principals
    for client in callers.values():
        if isinstance(client, Client):
            client.handler.enforce_csrf_checks = True
    failures = []
    for name, each in sorted({**MATRIX, **admin_rows()}.items()):
        if each.json_body:
            continue
        principal = next((p for p in CSRF_CALLERS if each.expect[p] not in ("login", "access", "deny")),
                         "anonymous")
        path = each.path(scenario) if callable(each.path) else each.path
        data = each.data(scenario) if callable(each.data) else each.data
        response = callers[principal].post(path, data)
        allowed = {403, 405} if name in ("api-schema", "api-docs") else {403}
        if name in BEARER_TOKEN_ROUTES:
            allowed = {401, 404}  # no cookie opens it: its bearer token does (404 while none is configured)
        if response.status_code not in allowed:
            failures.append(f"{name} as {principal}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_the_partner_api_takes_no_cookies() -> None:
    """Exempt from CSRF by design: the API authenticates by headers only, never by a session cookie."""
    from rest_framework.authentication import SessionAuthentication

    for name, pattern, _ in _walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if isinstance(view, type) and issubclass(view, PartnerAPIView):
            assert not any(issubclass(cls, SessionAuthentication) for cls in view.authentication_classes), name


@pytest.mark.django_db
def test_grants_are_what_the_rows_assume(principals: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The scenario itself: one live grant, on case X only, so "advocate_granted" means what it says."""
    _, scenario = principals
    grants = AdvocateGrant.objects.all()
    assert [g.case_id for g in grants] == [scenario["case_x"].id]


@pytest.mark.django_db
def test_the_matrix_notices_a_wrong_expectation_and_a_leak(principals: tuple[dict[str, Any], dict[str, Any]],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks can fail: another person's session opening case X's image, or case X shown to someone who
    may not see it, are each reported."""
    image_row = MATRIX["victims-case-image"]
    wrong = Row(image_row.path, {**image_row.expect, "other_victim": "ok"})
    with pytest.raises(AssertionError, match="other_victim: expected ok"):
        _check_row("victims-case-image", wrong, principals)
    monkeypatch.setattr(sys.modules[__name__], "SEES_CASE_X", SEES_CASE_X - {"victim"})
    with pytest.raises(AssertionError, match="victim: the response shows case X"):
        _check_row("victims-case-status", MATRIX["victims-case-status"], principals)
