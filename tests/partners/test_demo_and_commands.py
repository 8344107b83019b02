from __future__ import annotations

import json
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from takedown.partners.auth import key_authenticate
from takedown.partners.demo import DEMO_PARTNERS, demo_partners
from takedown.partners.models import Partner, PartnerKey


@pytest.mark.django_db
def test_demo_partners_are_idempotent_and_their_keys_work(settings) -> None:
    first = demo_partners()
    second = demo_partners()
    assert first == second and "demo-partners.json" in (first or "")
    assert set(Partner.objects.values_list("name", flat=True)) == set(DEMO_PARTNERS)
    path = settings.VAR_DIR / "demo-partners.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    for name, scopes in DEMO_PARTNERS.items():
        assert key_authenticate(saved[name]["api_key"], kind="api").scopes == set(scopes)


@pytest.mark.django_db
def test_partner_create_json_contract(capsys) -> None:
    call_command("partner_create", "Contract Platform", "--json")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"partner_id", "api_key", "stopncii"}
    assert set(out["stopncii"]["function_keys"]) == {"FetchHashes", "SubmitFeedback", "SubmitHashes"}
    assert all(k.startswith("tdk_") for k in [out["api_key"], out["stopncii"]["subscription_key"],
                                              *out["stopncii"]["function_keys"].values()])
    with pytest.raises(CommandError):
        call_command("partner_create", "Contract Platform", "--json")
    with pytest.raises(CommandError):
        call_command("partner_create", "Other", "--scopes", "lookup,everything")


@pytest.mark.django_db
def test_rotate_revoke_and_list_commands(capsys) -> None:
    call_command("partner_create", "Rotating", "--json")
    created = json.loads(capsys.readouterr().out.strip())
    lookup_id = created["api_key"].split("_")[1]
    call_command("partner_key_rotate", lookup_id, "--grace", "600", "--json")
    rotated = json.loads(capsys.readouterr().out.strip())
    assert key_authenticate(rotated["key"], kind="api")
    assert PartnerKey.objects.get(lookup_id=lookup_id).expires_at is not None
    call_command("partner_key_revoke", rotated["key"])
    assert PartnerKey.objects.get(lookup_id=rotated["key"].split("_")[1]).revoked_at is not None
    call_command("partner_keys", "Rotating")
    listing = capsys.readouterr().out
    assert "revoked" in listing and "expires" in listing and rotated["key"] not in listing
    call_command("partner_key_issue", "Rotating", "--stopncii", "--json")
    fresh = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert key_authenticate(fresh["stopncii"]["subscription_key"], kind="stopncii_subscription")
    with pytest.raises(CommandError):
        call_command("partner_key_revoke", "tdk_000000000000")
    with pytest.raises(CommandError):
        call_command("partner_keys", "Nobody")
