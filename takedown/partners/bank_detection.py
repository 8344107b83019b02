"""The partner API's view of the real hash bank (detection.bank, issue 4).

Until detection's bank lands on this branch the API answers 503 `bank_unavailable` for bank-backed endpoints
instead of pretending: keys, scopes, rate limits, feedback on removal requests and webhooks work regardless.
"""

from __future__ import annotations

import importlib

from takedown.partners.bank import HashBank


def detection_bank() -> HashBank:
    try:
        module = importlib.import_module("detection.bank")
    except ImportError as exc:
        raise RuntimeError("detection.bank is not available") from exc
    adapter = getattr(module, "partner_bank", None)
    if adapter is None:
        raise RuntimeError("detection.bank offers no partner_bank()")
    bank: HashBank = adapter()
    return bank
