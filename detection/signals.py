"""The hash bank's vocabulary, shared by the bank, its import/export and the partner API (pure: no Django).

Signal types and their hex widths, which of them match by Hamming distance, the StopNCII statuses, and the one
check that a value is a well-formed hash of its type.
"""

from __future__ import annotations

import re

#: Hex digits per signal type. PDQ, pHash and dHash match by Hamming distance; MD5, SHA-256 and video MD5 exactly.
SIGNAL_HEX_LENGTH: dict[str, int] = {"pdq": 64, "md5": 32, "sha256": 64, "phash": 16, "dhash": 16,
                                     "video_md5": 32, "vpdq": 64}
DISTANCE_SIGNAL_TYPES = frozenset({"pdq", "phash", "dhash"})
#: Video signals: the MD5 of the file (exact, StopNCII's VideoMD5) and vPDQ, whose bank value is the SHA-256 of
#: its frames (detection.videomatch.vpdq_key) and which matches frame by frame under HMA's rule, not by value.
VIDEO_SIGNAL_TYPES = frozenset({"video_md5", "vpdq"})
#: Entry statuses, StopNCII's words, in the order of their compact codes (detection.holder).
STATUSES = ("Received", "Active", "Withdrawn", "Deleted")

_HEX = re.compile(r"\A[0-9a-f]+\Z")


def hash_value_clean(signal_type: str, value: object) -> str:
    """`value` in the bank's spelling (lower-case hex of its type's width); ValueError saying why if it is not."""
    if signal_type not in SIGNAL_HEX_LENGTH:
        raise ValueError(f"unknown signal type {str(signal_type)[:40]!r}")
    if not isinstance(value, str):
        raise ValueError("a hash must be a string of hexadecimal digits")
    cleaned = value.strip().lower()
    length = SIGNAL_HEX_LENGTH[signal_type]
    if len(cleaned) != length or not _HEX.match(cleaned):
        raise ValueError(f"a {signal_type} hash is {length} hexadecimal digits")
    return cleaned
