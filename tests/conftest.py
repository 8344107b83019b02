"""Shared fixtures: one staff user per role (signed in with the second factor), clients, drawn images."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw

from takedown.core.roles import ROLE_GROUPS, roles_ensure


def make_staff(username: str, role: str) -> User:
    groups = roles_ensure()
    user = User.objects.create_user(username=username, password="correct horse battery staple")
    user.is_staff = role == "admin"
    user.save()
    user.groups.set([groups[role]])
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def verified_client(user: User) -> Client:
    """A client signed in as `user` with the second factor verified, as after a real sign-in."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.get(user=user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def moderator(db: None) -> User:
    return make_staff("mod", "moderator")


@pytest.fixture
def advocate(db: None) -> User:
    return make_staff("adv", "advocate")


@pytest.fixture
def operator_admin(db: None) -> User:
    return make_staff("boss", "admin")


@pytest.fixture
def moderator_client(moderator: User) -> Client:
    return verified_client(moderator)


@pytest.fixture
def advocate_client(advocate: User) -> Client:
    return verified_client(advocate)


@pytest.fixture
def admin_client_2fa(operator_admin: User) -> Client:
    return verified_client(operator_admin)


@pytest.fixture
def role_clients(db: None) -> dict[str, Client]:
    """Anonymous plus one verified client per staff role, for "every endpoint as every role" tests."""
    clients = {"anonymous": Client()}
    for role in ROLE_GROUPS:
        clients[role] = verified_client(make_staff(f"user-{role}", role))
    return clients


def draw_image(seed: int = 0, size: tuple[int, int] = (320, 240), fmt: str = "PNG") -> bytes:
    """A synthetic test image: shapes drawn from a seed. Never a photograph, never a person."""
    import random

    rnd = random.Random(seed)
    image = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        x1, y1 = x0 + rnd.randrange(20, 160), y0 + rnd.randrange(20, 120)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.fixture
def drawn_image() -> Callable[..., bytes]:
    return draw_image


# --- Whole-suite log audit ----------------------------------------------------------------------------------
# Every log record of the whole run is captured raw (before the redacting filter) and checked at the end: the
# code must never log a case secret, an API or webhook key, an image hash or image data, even by accident.
# Only loggers under "tests." (which log such things on purpose to test the filter) are exempt.

import logging  # noqa: E402
import re  # noqa: E402

_LEAK_PATTERNS = {
    "case secret or key": re.compile(r"\b(?:tds|tdk|tdw)_[A-Za-z0-9_\-]{8,}"),
    "hex digest (image hash)": re.compile(r"\b[0-9a-fA-F]{32}(?:[0-9a-fA-F]{32})?\b"),
    "image data": re.compile(r"data:image/|\\x89PNG|\\xff\\xd8\\xff|JFIF"),
}


class _RawCapture:
    """Checks every log record as it is created (a record factory), so no re-configuration of handlers (Celery's
    Django fixup re-applies settings.LOGGING for in-process tasks) can take the audit out of the loop."""

    def __init__(self) -> None:
        self.leaks: list[str] = []
        self.count = 0
        self.factory = logging.getLogRecordFactory()

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.factory(*args, **kwargs)
        if not record.name.startswith("tests."):
            self.inspect(record)
        return record

    def inspect(self, record: logging.LogRecord) -> None:
        self.count += 1
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        for label, pattern in _LEAK_PATTERNS.items():
            if pattern.search(text):
                self.leaks.append(f"{label} in {record.name}: {text[:160]!r}")


_raw_capture = _RawCapture()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.setLogRecordFactory(_raw_capture)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _raw_capture.leaks:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"LOG AUDIT FAILED: {len(_raw_capture.leaks)} log lines leak sensitive data:", red=True)
            for leak in _raw_capture.leaks[:20]:
                reporter.write_line("  " + leak, red=True)


@pytest.fixture(autouse=True)
def bank_views_fresh() -> Iterator[None]:
    """Each test starts with no in-memory bank index: the database under it was rolled back."""
    from detection.bank import bank_views_reset

    bank_views_reset()
    yield
    bank_views_reset()
