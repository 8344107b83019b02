import hashlib
import logging

import pytest

from takedown.core.logredact import RedactingFilter, redact


def test_hashes_secrets_and_keys_are_removed() -> None:
    pdq = "d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22"
    md5 = hashlib.md5(b"x").hexdigest()
    line = (f"lookup {pdq} md5={md5} phash 8f373714acfcf4d0 secret=tds_AbCdEf123456789 "
            f"key tdk_live_0123456789abcdef mail someone@example.org")
    out = redact(line)
    for leaked in (pdq, md5, "8f373714acfcf4d0", "tds_AbCdEf123456789", "tdk_live_0123456789abcdef",
                   "someone@example.org"):
        assert leaked not in out
    assert out.startswith("lookup [hex]")


def test_filter_redacts_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.redact")
    logger.addFilter(RedactingFilter())
    secret_hash = "a" * 64
    try:
        raise ValueError(f"bad hash {secret_hash}")
    except ValueError:
        logger.exception("failed on %s", secret_hash)
    text = caplog.text
    assert secret_hash not in text and "[hex]" in text


def test_file_paths_in_tracebacks_survive() -> None:
    path = "/tmp/ci-clone/.venv/lib/python3.11/site-packages/takedown/core/management/commands/periodic.py"
    assert redact(path) == path


def test_base64_image_data_is_removed() -> None:
    import base64

    blob = base64.b64encode(bytes(range(256)) * 2).decode()
    assert blob not in redact(f"payload {blob}")
