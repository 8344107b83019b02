"""Blocking: a confirmed case's hashes become Active in the hash bank, which partners sync and look up.

The bank belongs to `detection`; this module is the one place remedies touches it.
"""

from __future__ import annotations

from django.db import DatabaseError

from detection.bank import bank_activate_source
from detection.models import SourceKind
from takedown.cases.models import Case


class BankUnavailable(RuntimeError):
    """The hash bank cannot take the case's hashes: the request stays a draft, and "Send" on the case page (or
    a later confirmation of the case) tries again."""


def case_hashes_activate(*, case: Case) -> int:
    """Make every hash of the case Active in the bank; returns how many entries changed."""
    try:
        return bank_activate_source(source_kind=SourceKind.CASE, source_id=str(case.id))
    except DatabaseError as exc:
        raise BankUnavailable("the hash bank could not be updated") from exc
