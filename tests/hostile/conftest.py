"""The hostile suite reuses intake's fixtures (cheap argon2, private storage, fresh counters, a fake bank) and the
partner API's (an in-memory bank, partners with keys)."""

from tests.partners.fixtures import make_partner, memory_bank, partner  # noqa: F401
from tests.victims.conftest import cheap_argon2, fake_bank, fresh_counters, storage  # noqa: F401
