"""The matrix signs people in with a case reference and secret (cheap argon2, private storage, fresh rate-limit
counters, as intake's tests do) and calls the partner API with keys (an in-memory bank)."""

from tests.partners.fixtures import memory_bank  # noqa: F401
from tests.victims.conftest import cheap_argon2, fake_bank, fresh_counters, storage  # noqa: F401
