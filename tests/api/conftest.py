from tests.partners.fixtures import make_partner, memory_bank, partner  # noqa: F401
