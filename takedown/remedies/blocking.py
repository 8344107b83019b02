"""Blocking: a confirmed case's hashes become Active in the hash bank, which partners sync and look up.

The bank belongs to `detection` (issue 4); this module is the one place remedies touches it.
"""

from __future__ import annotations

from takedown.cases.models import Case


class BankUnavailable(RuntimeError):
    """The hash bank cannot take the case's hashes yet; the send task fails and the outbox retries it."""


def case_hashes_activate(*, case: Case) -> int:
    """Make every hash of the case Active in the bank; returns how many entries changed."""
    raise BankUnavailable("the hash bank (detection.bank) is not installed in this build")
