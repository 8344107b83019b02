from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from takedown.core.audit import Actor
from takedown.core.models import AuditEvent
from takedown.partners.auth import KeyRejected, key_authenticate, key_cache_forget
from takedown.partners.keys import key_digest, key_generate, key_lookup_id, key_matches
from takedown.partners.models import PartnerKey
from takedown.partners.services import (
    PartnerError,
    partner_create,
    partner_key_issue,
    partner_key_revoke,
    partner_key_rotate,
    partner_stopncii_rotate,
)


def test_generated_keys_are_prefixed_random_and_parse_back() -> None:
    first, second = key_generate(), key_generate()
    assert first.plaintext.startswith("tdk_") and first.plaintext != second.plaintext
    assert key_lookup_id(first.plaintext) == first.lookup_id
    assert key_matches(first.plaintext, first.digest)
    assert not key_matches(second.plaintext, first.digest)
    assert key_lookup_id("tdk_short") is None and key_lookup_id("Bearer x") is None


def test_digest_depends_on_the_pepper(settings) -> None:
    new = key_generate()
    settings.PARTNER_KEY_PEPPER = "another pepper"
    assert key_digest(new.plaintext) != new.digest


@pytest.mark.django_db
def test_keys_are_stored_only_as_digests(partner) -> None:
    stored = " ".join(f"{k.lookup_id} {k.digest} {k.scopes}" for k in PartnerKey.objects.all())
    for plaintext in [partner.api_key.plaintext, partner.stopncii.subscription_key,
                      *partner.stopncii.function_keys.values()]:
        assert plaintext not in stored
        assert plaintext.split("_", 2)[2] not in stored


@pytest.mark.django_db
def test_partner_create_issues_every_credential_and_audits(partner) -> None:
    kinds = sorted(PartnerKey.objects.values_list("kind", "function"))
    assert kinds == [("api", ""), ("stopncii_function", "FetchHashes"), ("stopncii_function", "SubmitFeedback"),
                     ("stopncii_function", "SubmitHashes"), ("stopncii_subscription", "")]
    event = AuditEvent.objects.get(action="partner.create")
    assert event.object_id == str(partner.partner.id) and event.case_id is None
    with pytest.raises(PartnerError) as exc:
        partner_create(name="Example Social", actor=Actor.system())
    assert exc.value.code == "partner_exists"


@pytest.mark.django_db
def test_unknown_scope_is_refused(make_partner) -> None:
    with pytest.raises(PartnerError) as exc:
        make_partner(name="x", scopes=("lookup", "admin"))
    assert exc.value.code == "unknown_scope"


@pytest.mark.django_db
def test_function_keys_open_only_granted_scopes(make_partner) -> None:
    made = make_partner(name="Read only", scopes=("lookup", "fetch"))
    fetch = key_authenticate(made.stopncii.function_keys["FetchHashes"], kind="stopncii_function",
                             function="FetchHashes")
    submit = key_authenticate(made.stopncii.function_keys["SubmitHashes"], kind="stopncii_function",
                              function="SubmitHashes")
    assert fetch.scopes == {"fetch"} and submit.scopes == set()


@pytest.mark.django_db
def test_authenticate_rejects_wrong_kind_secret_and_function(partner) -> None:
    api_key = partner.api_key.plaintext
    assert key_authenticate(api_key, kind="api").partner_id == partner.partner.id
    for bad in [api_key[:-1] + ("A" if api_key[-1] != "A" else "B"), "tdk_000000000000_" + "a" * 43, "nonsense"]:
        with pytest.raises(KeyRejected) as exc:
            key_authenticate(bad, kind="api")
        assert exc.value.code == "invalid_key"
    with pytest.raises(KeyRejected):
        key_authenticate(api_key, kind="stopncii_subscription")
    with pytest.raises(KeyRejected) as exc:
        key_authenticate(partner.stopncii.function_keys["FetchHashes"], kind="stopncii_function",
                         function="SubmitHashes")
    assert exc.value.code == "invalid_function_key"


@pytest.mark.django_db
def test_revocation_is_immediate_in_this_process(partner) -> None:
    key_authenticate(partner.api_key.plaintext, kind="api")  # now cached
    key = PartnerKey.objects.get(id=partner.api_key.key_id)
    partner_key_revoke(key=key, actor=Actor.system())
    with pytest.raises(KeyRejected) as exc:
        key_authenticate(partner.api_key.plaintext, kind="api")
    assert exc.value.code == "key_revoked"
    assert AuditEvent.objects.filter(action="partner.key_revoke").count() == 1


@pytest.mark.django_db
def test_other_processes_follow_a_revocation_within_the_cache_interval(partner, settings) -> None:
    key_authenticate(partner.api_key.plaintext, kind="api")
    # Another process revoked the key: this process's cache has not been told.
    PartnerKey.objects.filter(id=partner.api_key.key_id).update(revoked_at=timezone.now())
    assert key_authenticate(partner.api_key.plaintext, kind="api")  # still cached
    settings.PARTNER_KEY_CACHE_SECONDS = 0
    with pytest.raises(KeyRejected):
        key_authenticate(partner.api_key.plaintext, kind="api")


@pytest.mark.django_db
def test_rotation_with_grace_keeps_the_old_key_until_it_expires(partner) -> None:
    old = PartnerKey.objects.get(id=partner.api_key.key_id)
    new = partner_key_rotate(key=old, actor=Actor.system(), grace_seconds=3600)
    assert key_authenticate(new.plaintext, kind="api").scopes == set(old.scopes)
    assert key_authenticate(partner.api_key.plaintext, kind="api")
    PartnerKey.objects.filter(id=old.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    key_cache_forget()
    with pytest.raises(KeyRejected) as exc:
        key_authenticate(partner.api_key.plaintext, kind="api")
    assert exc.value.code == "key_expired"
    assert PartnerKey.objects.get(id=old.id).replaced_by_id == new.key_id


@pytest.mark.django_db
def test_rotation_without_grace_revokes_and_revoked_keys_cannot_rotate(partner) -> None:
    old = PartnerKey.objects.get(id=partner.api_key.key_id)
    partner_key_rotate(key=old, actor=Actor.system())
    with pytest.raises(KeyRejected):
        key_authenticate(partner.api_key.plaintext, kind="api")
    with pytest.raises(PartnerError):
        partner_key_rotate(key=old, actor=Actor.system())


@pytest.mark.django_db
def test_stopncii_rotation_replaces_all_four(partner) -> None:
    fresh = partner_stopncii_rotate(partner=partner.partner, actor=Actor.system())
    with pytest.raises(KeyRejected):
        key_authenticate(partner.stopncii.subscription_key, kind="stopncii_subscription")
    assert key_authenticate(fresh.subscription_key, kind="stopncii_subscription")
    assert key_authenticate(fresh.function_keys["SubmitFeedback"], kind="stopncii_function",
                            function="SubmitFeedback").scopes == {"feedback"}


@pytest.mark.django_db
def test_suspended_partner_is_refused(partner) -> None:
    partner.partner.active = False
    partner.partner.save()
    key_cache_forget()
    with pytest.raises(KeyRejected) as exc:
        key_authenticate(partner.api_key.plaintext, kind="api")
    assert exc.value.code == "partner_inactive"


@pytest.mark.django_db
def test_issue_extra_key_with_own_rate_limit(partner) -> None:
    issued = partner_key_issue(partner=partner.partner, actor=Actor.system(), scopes=["lookup"],
                               rate_limit_per_minute=7)
    grant = key_authenticate(issued.plaintext, kind="api")
    assert grant.scopes == {"lookup"} and grant.rate_limit_per_minute == 7


@pytest.mark.django_db
def test_admin_lists_keys_without_digests_and_revokes_through_the_service(partner, admin_client_2fa) -> None:
    page = admin_client_2fa.get("/admin/partners/partnerkey/")
    assert page.status_code == 200
    key = PartnerKey.objects.get(id=partner.api_key.key_id)
    assert key.lookup_id in page.content.decode() and key.digest not in page.content.decode()
    response = admin_client_2fa.post("/admin/partners/partnerkey/",
                                     {"action": "revoke_keys", "_selected_action": [str(key.pk)]})
    assert response.status_code == 302
    with pytest.raises(KeyRejected):
        key_authenticate(partner.api_key.plaintext, kind="api")
    event = AuditEvent.objects.get(action="partner.key_revoke")
    assert event.actor_kind == "admin"
    for path in ["/admin/partners/partner/", "/admin/partners/webhookdelivery/", "/admin/partners/partnerfeedback/",
                 "/admin/partners/webhookendpoint/"]:
        assert admin_client_2fa.get(path).status_code == 200
