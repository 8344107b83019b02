"""Fixtures shared by tests/partners and tests/api: an in-memory bank and partners with their keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from takedown.api.access import AUTH_FAILURE_SCOPE, rate_budgets_forget
from takedown.core.audit import Actor
from takedown.core.ratelimit import ratelimit_reset
from takedown.partners.auth import key_cache_forget
from takedown.partners.models import ALL_SCOPES
from takedown.partners.services import NewPartner, partner_create
from tests.partners import memorybank


@pytest.fixture(autouse=True)
def memory_bank(settings: Any) -> Iterator[memorybank.MemoryBank]:
    settings.PARTNER_API_BANK = "tests.partners.memorybank.current"
    def forget() -> None:
        key_cache_forget()
        rate_budgets_forget()
        # Wrong keys sent by earlier tests count against the test client's address; start every test afresh.
        ratelimit_reset(scope=AUTH_FAILURE_SCOPE, subject="127.0.0.1", window=60)

    forget()
    yield memorybank.reset()
    forget()


@pytest.fixture
def make_partner(db: None) -> Callable[..., NewPartner]:
    def make(name: str = "Example Social", scopes: tuple[str, ...] = ALL_SCOPES, **kwargs: Any) -> NewPartner:
        return partner_create(name=name, actor=Actor.system(), scopes=scopes, **kwargs)

    return make


@pytest.fixture
def partner(make_partner: Callable[..., NewPartner]) -> NewPartner:
    return make_partner()


def key_client(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def stopncii_client(subscription: str | None, function_key: str | None) -> APIClient:
    client = APIClient()
    headers = {}
    if subscription:
        headers["HTTP_OCP_APIM_SUBSCRIPTION_KEY"] = subscription
    if function_key:
        headers["HTTP_X_FUNCTIONS_KEY"] = function_key
    client.credentials(**headers)
    return client
