import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from takedown.core.models import AuditEvent
from tests.conftest import make_staff

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _clear_lockouts() -> None:
    cache.clear()


def _code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _sign_in(client: Client, user: User, *, password: str = PASSWORD, code: str | None = None):
    return client.post(reverse("staff-login"), {
        "username": user.username, "password": password, "otp_token": code or _code(user),
    })


@pytest.mark.django_db
def test_password_and_second_factor_sign_a_moderator_in() -> None:
    user = make_staff("m1", "moderator")
    client = Client()
    response = _sign_in(client, user)
    assert response.status_code == 302 and response["Location"] == reverse("staff-home")
    assert client.get(reverse("staff-home")).status_code == 200
    assert AuditEvent.objects.filter(action="staff.sign_in", actor_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_a_password_alone_is_not_enough() -> None:
    user = make_staff("m2", "moderator")
    client = Client()
    response = _sign_in(client, user, code="000000" if _code(user) != "000000" else "111111")
    assert response.status_code == 400
    assert client.get(reverse("staff-home")).status_code == 302


@pytest.mark.django_db
def test_a_session_without_the_second_factor_is_sent_to_sign_in() -> None:
    user = make_staff("m3", "moderator")
    client = Client()
    client.force_login(user)  # password-level session, no OTP device verified
    response = client.get(reverse("staff-home"))
    assert response.status_code == 302 and reverse("staff-login") in response["Location"]


@pytest.mark.django_db
def test_lockout_after_repeated_failures_even_with_the_right_code() -> None:
    user = make_staff("m4", "moderator")
    client = Client()
    for _ in range(5):
        assert _sign_in(client, user, password="wrong password").status_code == 400
    locked = _sign_in(client, user)
    assert locked.status_code == 429 and "Retry-After" in locked
    assert client.get(reverse("staff-home")).status_code == 302


@pytest.mark.django_db
def test_a_user_without_a_staff_role_cannot_sign_in() -> None:
    user = User.objects.create_user("nobody", password=PASSWORD)
    TOTPDevice.objects.create(user=user, name="t", confirmed=True)
    assert _sign_in(Client(), user).status_code == 400


@pytest.mark.django_db
def test_admin_needs_the_admin_role_and_second_factor(role_clients: dict[str, Client]) -> None:
    assert role_clients["anonymous"].get("/admin/").status_code == 302
    assert role_clients["moderator"].get("/admin/").status_code == 302
    assert role_clients["advocate"].get("/admin/").status_code == 302
    assert role_clients["admin"].get("/admin/").status_code == 200
    unverified = Client()
    unverified.force_login(User.objects.get(username="user-admin"))
    assert unverified.get("/admin/").status_code == 302


def test_argon2_is_the_first_production_hasher() -> None:
    from takedown import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.django_db
def test_admin_login_page_is_the_staff_sign_in() -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff-login"))
