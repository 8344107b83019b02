"""Intake's fixtures (cheap argon2, a private evidence store, a fake bank) for the reliability tests."""

from tests.victims.conftest import cheap_argon2, fake_bank, storage  # noqa: F401
