"""The authorization matrix: every route of the URL configuration, as every kind of caller, with its expected answer.

Routes are enumerated from the URL resolver; a route that has no row in MATRIX fails the suite, so nobody adds
an endpoint without deciding who may call it. Each row gives a concrete path (filling in ids from the scenario)
and the expected outcome per principal:

- "ok": 2xx (or a redirect that stays on the page's own flow);
- "login": a redirect to the staff sign-in page;
- "deny": 401, 403, 404 or 405 — refused without revealing whether the object exists;
- "limited": 429;
- a number: exactly that status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

PRINCIPALS = ("anonymous", "moderator", "advocate", "admin")


@dataclass(frozen=True)
class Row:
    path: str | Callable[[dict[str, Any]], str]
    expect: dict[str, str | int]
    method: str = "get"
    data: dict[str, Any] = field(default_factory=dict)


STAFF_ONLY_PAGE = {"anonymous": "login", "moderator": "ok", "advocate": "ok", "admin": "ok"}
ADMIN_SITE = {"anonymous": "login", "moderator": "login", "advocate": "login", "admin": "ok"}
PUBLIC_PAGE = dict.fromkeys(PRINCIPALS, "ok")
PARTNER_ONLY = dict.fromkeys(PRINCIPALS, 401)

# Route name (or "namespace:name") -> row. Admin routes are covered as a group by the "admin:" prefix rows.
MATRIX: dict[str, Row] = {
    "healthz": Row("/healthz", PUBLIC_PAGE),
    "home": Row("/", PUBLIC_PAGE),
    "staff-login": Row("/staff/login/", PUBLIC_PAGE),
    "staff-logout": Row("/staff/logout/", dict.fromkeys(PRINCIPALS, 302), method="post"),
    "staff-home": Row("/staff/", STAFF_ONLY_PAGE),
    "admin:index": Row("/admin/", ADMIN_SITE),
    # Partner API: staff sessions open nothing there; only partner keys do (tests/api/test_access.py).
    "api-me": Row("/api/v1/me", PARTNER_ONLY),
    "api-lookup": Row("/api/v1/lookup?signal_type=pdq&hash=" + "ab" * 32, PARTNER_ONLY),
    "api-lookup-batch": Row("/api/v1/lookup/batch", PARTNER_ONLY, method="post"),
    "api-hashes": Row("/api/v1/hashes", PARTNER_ONLY),
    "api-feedback": Row("/api/v1/feedback", PARTNER_ONLY, method="post"),
    "stopncii-fetch": Row("/api/stopncii/v1/FetchHashes", PARTNER_ONLY),
    "stopncii-feedback": Row("/api/stopncii/v1/SubmitFeedback", PARTNER_ONLY, method="post"),
    "stopncii-submit": Row("/api/stopncii/v1/SubmitHashes", PARTNER_ONLY, method="post"),
    "hma-lookup": Row("/m/lookup?signal_type=pdq&signal=" + "ab" * 32, PARTNER_ONLY),
    "api-schema": Row("/api/schema/", PUBLIC_PAGE),
    "api-docs": Row("/api/docs/", PUBLIC_PAGE),
}
# Routes whose callers are principals this matrix does not model yet (the case holder by reference + secret,
# an advocate with or without a grant): each is checked as every principal in the named test module. They
# still need a row here; this list only says where their access rules are tested meanwhile (issue 10).
TESTED_ELSEWHERE: dict[str, str] = {
    **dict.fromkeys(
        ["victims-case-access", "victims-case-evidence", "victims-case-image", "victims-case-leave",
         "victims-case-message", "victims-case-status", "victims-case-urls", "victims-case-withdraw",
         "victims-receipt", "victims-report-device", "victims-report-done", "victims-report-upload",
         "victims-withdrawal-receipt"],
        "tests/victims/test_case_pages.py, tests/victims/test_access.py"),
    **dict.fromkeys(
        ["exports-advocate-case", "exports-advocate-cases", "exports-advocate-export", "exports-advocate-profile",
         "exports-staff-grant-revoke", "exports-staff-grants"],
        "tests/exports/test_access.py"),
    "victims-case-advocates": "tests/exports/test_status_consent.py",  # the status page's advocate panel (issue 8)
}
# Whole namespaces whose every route inherits the row of one representative (the Django admin's model pages).
GROUPS: dict[str, str] = {"admin:": "admin:index"}
MATRIX.update(__import__("tests.moderation.authz_rows", fromlist=["rows"]).rows(Row))  # issue 7: console, remedies


def _walk(patterns: list[URLPattern | URLResolver], namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner)
        elif pattern.name:
            yield f"{namespace}{pattern.name}"
        else:
            yield f"{namespace}<unnamed {pattern.pattern}>"


def all_route_names() -> list[str]:
    return sorted(set(_walk(get_resolver().url_patterns)))


def _covered(name: str) -> bool:
    return name in MATRIX or name in TESTED_ELSEWHERE or any(name.startswith(prefix) for prefix in GROUPS)


def test_every_route_has_a_row() -> None:
    missing = [name for name in all_route_names() if not _covered(name)]
    assert not missing, f"routes without an authorization row in tests/security/test_authz_matrix.py: {missing}"


def _outcome_matches(expected: str | int, response: Any) -> bool:
    status = response.status_code
    if isinstance(expected, int):
        return status == expected
    if expected == "ok":
        return 200 <= status < 300
    if expected == "login":
        # The admin sends to its own login URL first, which redirects to the staff sign-in (tested on its own).
        return status == 302 and ("/staff/login/" in response["Location"] or "/admin/login/" in response["Location"])
    if expected == "deny":
        return status in {401, 403, 404, 405}
    if expected == "limited":
        return status == 429
    raise AssertionError(f"unknown expectation {expected!r}")


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_answers_each_principal_as_expected(route: str, role_clients: dict[str, Client]) -> None:
    row = MATRIX[route]
    scenario: dict[str, Any] = {}
    path = row.path(scenario) if callable(row.path) else row.path
    failures = []
    for principal, expected in row.expect.items():
        client = role_clients[principal]
        response = getattr(client, row.method)(path, row.data)
        if not _outcome_matches(expected, response):
            failures.append(f"{principal}: expected {expected}, got {response.status_code}")
    assert not failures, f"{route} {path}: " + "; ".join(failures)
