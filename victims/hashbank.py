"""The one place where intake talks to detection: hashing an image, and the hash bank.

Intake never reaches into detection's models. It hashes stored bytes with `detection.hashing.hash_image`,
enters each image's hashes into the bank with the case as their source (status Received: a moderator's
confirmation makes them Active, which is the bank's business), looks them up to tell moderators whether the
bank already knows the image, and on withdrawal marks every hash the case brought Withdrawn so partners drop
it on their next sync.

The bank is `detection.bank`; a deployment without it (or a test that removes it) gets `available=False` and
the case still goes to review, where moderators see that no lookup was made.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from takedown.cases.models import Case, CaseImage, CaseVideo

logger = logging.getLogger(__name__)

# How a case is named as the source of bank entries: an opaque id, no case details.
BANK_SOURCE_KIND = "case"


@dataclass(frozen=True)
class BankResult:
    available: bool
    entered: int = 0
    matches: list[dict[str, Any]] = field(default_factory=list)


def _bank() -> ModuleType | None:
    try:
        return importlib.import_module("detection.bank")
    except ModuleNotFoundError:
        return None


def image_hashes(data: bytes) -> Any:
    """`detection.hashing.hash_image`: ImageHashes(pdq, pdq_quality, pdq_dihedral, phash, dhash, sha256, md5).

    Raises detection.hashing.ImageRejected for what it cannot hash.
    """
    from detection.hashing import hash_image

    return hash_image(data)


def image_rejected_error() -> type[Exception]:
    from detection.hashing import ImageRejected

    rejected: type[Exception] = ImageRejected
    return rejected


def _signals(image: CaseImage) -> list[tuple[str, str, int | None]]:
    signals: list[tuple[str, str, int | None]] = []
    if image.pdq:
        signals.append(("pdq", image.pdq, image.pdq_quality))
    for signal_type in ("phash", "dhash"):
        if getattr(image, signal_type):
            signals.append((signal_type, getattr(image, signal_type), None))
    if image.md5:
        signals.append(("md5", image.md5, None))
    if image.sha256:
        signals.append(("sha256", image.sha256, None))
    return signals


def bank_enter_image(*, image: CaseImage) -> BankResult:
    """Add the image's hashes to the bank (source: its case) and look the PDQ hash up."""
    bank = _bank()
    if bank is None:
        return BankResult(available=False)
    entered = 0
    for signal_type, value, quality in _signals(image):
        variants = list(image.pdq_dihedral or []) if signal_type == "pdq" else []
        bank.bank_add(signal_type=signal_type, value=value, quality=quality, source_kind=BANK_SOURCE_KIND,
                      source_id=str(image.case_id), variants=variants)
        entered += 1
    matches: list[dict[str, Any]] = []
    if image.pdq:
        for match in bank.bank_lookup(signal_type="pdq", value=image.pdq, exclude_source_id=str(image.case_id)):
            matches.append({"entry": str(getattr(match, "entry_id", "")), "distance": int(match.distance)})
    return BankResult(available=True, entered=entered, matches=matches)


def _bank_knows(signal_type: str) -> bool:
    from detection.signals import SIGNAL_HEX_LENGTH

    return signal_type in SIGNAL_HEX_LENGTH


def bank_enter_video(*, video: CaseVideo) -> BankResult:
    """Add the video's hashes to the bank (source: its case): its MD5 as `video_md5` (what StopNCII exchanges)
    and its vPDQ frames as `vpdq`, then look them up. A bank without those signal types says `available=False`
    (the moderator then sees that no lookup was made), as a missing bank does for images."""
    bank = _bank()
    if bank is None or not _bank_knows("video_md5"):
        return BankResult(available=False)
    entered = 0
    matches: list[dict[str, Any]] = []
    if video.md5:
        bank.bank_add(signal_type="video_md5", value=video.md5, quality=None, source_kind=BANK_SOURCE_KIND,
                      source_id=str(video.case_id))
        entered += 1
        for match in bank.bank_lookup(signal_type="video_md5", value=video.md5,
                                      exclude_source_id=str(video.case_id)):
            matches.append({"entry": str(getattr(match, "entry_id", "")), "signal": "video_md5", "distance": 0})
    add_video = getattr(bank, "bank_add_vpdq", None)
    if video.vpdq and add_video is not None:
        add_video(frames=video.vpdq, source_kind=BANK_SOURCE_KIND, source_id=str(video.case_id))
        entered += 1
        lookup = getattr(bank, "bank_lookup_vpdq", None)
        if lookup is not None:
            for match in lookup(frames=video.vpdq, exclude_source_id=str(video.case_id)):
                matches.append({"entry": str(getattr(match, "entry_id", "")), "signal": "vpdq",
                                "query_match_percent": getattr(match, "query_match_percent", None),
                                "compared_match_percent": getattr(match, "compared_match_percent", None)})
    return BankResult(available=True, entered=entered, matches=matches)


def bank_withdraw_case(*, case: Case) -> BankResult:
    """Mark every bank entry this case brought Withdrawn; returns how many changed."""
    bank = _bank()
    if bank is None:
        return BankResult(available=False)
    changed = bank.bank_withdraw_source(source_kind=BANK_SOURCE_KIND, source_id=str(case.id))
    return BankResult(available=True, entered=int(changed))


def bank_purge_case(*, case: Case, actor: Any = None) -> None:
    """CASE_PURGE_HOOKS: the retention purge removes the case's links to the bank; hashes no other source holds
    become Deleted tombstones, which partners' next sync deletes."""
    bank = _bank()
    if bank is not None:
        bank.bank_delete_source(source_kind=BANK_SOURCE_KIND, source_id=str(case.id))
