"""Case references and secrets: what a person keeps instead of an account.

A reference is 80 random bits in Crockford base32 (no I, L, O or U, so it reads aloud and types without
confusion), grouped by four: `7KQ2-M9XD-4TRB-H1PC`. The secret is 125 random bits, `tds_` and five groups of
five, shown once and stored only as an argon2id hash. The `tds_` prefix lets the log filter redact a secret
wherever one slips into a message. Both are read back forgivingly: any case, spaces or dashes, and the letters
people confuse with digits (O for 0, I and L for 1).
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_PREFIX = "tds_"  # noqa: S105 (a prefix the log filter knows, not a password)
REFERENCE_CHARS = 16  # 16 x 5 = 80 bits
SECRET_CHARS = 25  # 25 x 5 = 125 bits
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_REFERENCE_SHAPE = re.compile(rf"^[{CROCKFORD}]{{{REFERENCE_CHARS}}}$")
_SECRET_SHAPE = re.compile(rf"^[{CROCKFORD}]{{{SECRET_CHARS}}}$")


def _random_code(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))


def _group(code: str, size: int) -> str:
    return "-".join(code[i: i + size] for i in range(0, len(code), size))


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_.]", "", text).upper().translate(_CONFUSABLE)


def reference_new() -> str:
    return _group(_random_code(REFERENCE_CHARS), 4)


def reference_parse(text: str) -> str | None:
    """The canonical reference for what a person typed, or None when it cannot be one."""
    code = _squash(text or "")
    if not _REFERENCE_SHAPE.match(code):
        return None
    return _group(code, 4)


def secret_new() -> str:
    return SECRET_PREFIX + _group(_random_code(SECRET_CHARS), 5)


def secret_canonical(text: str) -> str | None:
    """The secret's code without prefix or dashes (what is hashed), or None when it cannot be a secret."""
    raw = (text or "").strip()
    if raw.lower().startswith(SECRET_PREFIX):
        raw = raw[len(SECRET_PREFIX):]
    code = _squash(raw)
    if not _SECRET_SHAPE.match(code):
        return None
    return code


def pseudonym_new() -> str:
    """How the case is named to moderators and in court papers: never a real name."""
    return f"Doe {_random_code(5)}"


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # argon2id at the library's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4). The suite swaps in
    # a cheap one (tests/victims/conftest.py) and checks these parameters separately.
    return PasswordHasher()


def secret_hash(secret: str) -> str:
    code = secret_canonical(secret)
    if code is None:
        raise ValueError("not a case secret")
    return _hasher().hash(code)


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    # Checked against when no case has the reference, so a miss costs as much time as a wrong secret.
    return _hasher().hash(_random_code(SECRET_CHARS))


def secret_verify(*, stored_hash: str | None, secret: str) -> bool:
    """Constant-time check of a secret against a stored argon2 hash (or the decoy when there is none)."""
    code = secret_canonical(secret) or ""
    target = stored_hash or _decoy_hash()
    try:
        matched = _hasher().verify(target, code)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None and bool(code)
