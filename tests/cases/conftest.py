"""Intake's fixtures (cheap argon2, a private evidence store, fresh counters, a fake bank) for the case tests."""

from tests.victims.conftest import cheap_argon2, fake_bank, fresh_counters, storage  # noqa: F401
