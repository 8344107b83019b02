"""Staff sign-in and account provisioning."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.audit import Actor, audit_record
from takedown.core.ratelimit import ratelimit_hit, ratelimit_peek, ratelimit_reset
from takedown.core.roles import ROLE_GROUPS, roles_ensure, user_role


class SignInLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after = retry_after


class SignInFailed(Exception):
    pass


def _lock_subjects(username: str, address: str) -> list[tuple[str, str]]:
    return [("staff-login-user", username.lower()), ("staff-login-addr", address)]


def staff_sign_in_check(
    *, request: HttpRequest, username: str, password: str, otp_token: str, address: str
) -> tuple[AbstractBaseUser, object]:
    """Password and second factor together; a lockout after too many failures per account or per address."""
    window = settings.STAFF_LOGIN_LOCKOUT_SECONDS
    limit = settings.STAFF_LOGIN_MAX_FAILURES
    for scope, subject in _lock_subjects(username, address):
        decision = ratelimit_peek(scope=scope, subject=subject, limit=limit, window=window)
        if not decision.allowed:
            raise SignInLocked(decision.retry_after)
    user = authenticate(request, username=username, password=password)
    device = match_token(user, otp_token) if user is not None and user_role(user) else None
    if user is None or device is None:
        for scope, subject in _lock_subjects(username, address):
            ratelimit_hit(scope=scope, subject=subject, limit=limit, window=window)
        raise SignInFailed
    for scope, subject in _lock_subjects(username, address):
        ratelimit_reset(scope=scope, subject=subject, window=window)
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user), action="staff.sign_in", object_type="user", object_id=user.pk)
    return user, device


@dataclass(frozen=True)
class ProvisionedStaff:
    username: str
    password: str
    totp_uri: str
    totp_secret_b32: str


def staff_provision(*, username: str, role: str, password: str | None = None) -> ProvisionedStaff:
    """Create or reset a staff account with a fresh password and TOTP device (shown once to the caller)."""
    if role not in ROLE_GROUPS:
        raise ValueError(f"role must be one of {sorted(ROLE_GROUPS)}")
    import base64

    groups = roles_ensure()
    password = password or secrets.token_urlsafe(18)
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role == "admin"
        user.save()
        user.groups.set([groups[role]])
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    secret_b32 = base64.b32encode(device.bin_key).decode().rstrip("=")
    return ProvisionedStaff(username, password, device.config_url, secret_b32)


def staff_read_record(
    *,
    user: AbstractBaseUser,
    action: str,
    case_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict[str, object] | None = None,
) -> None:
    """A staff member read something worth knowing about later (a queue, a report, a case's requests): audited.

    Views call this rather than writing the audit log themselves, so every write goes through a service."""
    audit_record(actor=Actor.for_user(user), action=action, case_id=case_id, object_type=object_type,
                 object_id=object_id, detail=detail)
