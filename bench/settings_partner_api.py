"""Production settings for the partner API benchmark, with the benchmark's bank (bench/partner_bank.py)."""

from takedown.settings import *  # noqa: F403

PARTNER_API_BANK = "bench.partner_bank.bank"
