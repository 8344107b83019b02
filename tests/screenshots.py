"""Regenerate docs/screenshots/ (phone and desktop pictures of the victim's pages): `python -m tests.screenshots`.

The ordinary test run never writes them (it must leave the work tree clean); this command runs the browser
journey and the advocate-consent walk with SCREENSHOTS_DIR pointing at docs/screenshots/, so the pictures are
what the tests just walked through.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else REPO / "docs" / "screenshots"
    os.environ["SCREENSHOTS_DIR"] = str(target.resolve())
    return int(pytest.main(["-q", "-p", "no:cacheprovider", str(REPO / "tests/victims/test_browser_intake.py"),
                            str(REPO / "tests/exports/test_browser_consent.py"), "-k", "journey or advocate"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
