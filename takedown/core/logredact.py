"""A logging filter that removes anything that could tie a person to an image from every log line.

Belt and braces: the code never logs secrets or hashes on purpose; this filter catches the accidents
(an exception message quoting a hash, a URL with a key in it) before any handler writes them.
"""

from __future__ import annotations

import logging
import re

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Case secrets and API keys carry recognisable prefixes (see takedown.cases / takedown.api).
    (re.compile(r"\b(?:tds|tdk|tdw)_[A-Za-z0-9_\-]{8,}"), "[secret]"),
    # Hex digests of 16 characters or more: PDQ (64), SHA-256 (64), MD5 (32), pHash/dHash (16).
    (re.compile(r"\b[0-9a-fA-F]{16,}\b"), "[hex]"),
    # Long base64 runs: image bytes, encrypted tokens, keys.
    # (mixed case and digits, so file paths in tracebacks survive).
    (re.compile(r"(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{40,}={0,2}"),
     "[b64]"),
    (re.compile(r"data:[^\s,;]+;base64,[^\s]*"), "[data-url]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?i)(secret|password|api[_-]?key|authorization|x-functions-key|subscription-key)=\S+"),
     r"\1=[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record entirely
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, and drop the live exception so no handler re-renders it.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True
