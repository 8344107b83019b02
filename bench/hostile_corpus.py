"""The hostile corpus in figures: how many inputs of each family, and what the parsers below the web layer do
with each (refused with a message, accepted, or crashed), with the slowest item's time.

    python bench/hostile_corpus.py

The web and API entry points get the same corpus in the suite (tests/hostile/); this script prints what the
reliability table quotes about the corpus itself and the three parsers fuzzed in fuzz/.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    import django

    django.setup()
    from detection.hashing import ImageRejected, hash_image
    from detection.provenance.reader import provenance_read
    from takedown.cases.locations import URLRejected, url_normalise
    from tests.hostile import corpus
    from tests.hostile.test_intake import FAMILIES, _family

    warnings.simplefilter("ignore")
    started = time.monotonic()
    images = corpus.images()
    print(f"corpus: {corpus.everything_count()} inputs built in {time.monotonic() - started:.1f} s: "
          f"{len(images)} images, {len(corpus.HOSTILE_URLS)} URLs, {len(corpus.json_bodies())} JSON bodies, "
          f"{len(corpus.HOSTILE_QUERIES)} query strings, {len(corpus.HOSTILE_TEXT)} texts")
    families = Counter(_family(item) for item in images)
    print("image families: " + ", ".join(f"{family} {families[family]}" for family in FAMILIES))

    outcomes: Counter[str] = Counter()
    slowest = (0.0, "")
    for item in images:
        began = time.monotonic()
        try:
            hash_image(item.data)
            outcomes["hash_image accepted"] += 1
        except ImageRejected:
            outcomes["hash_image refused"] += 1
        except Exception as exc:  # what the corpus is looking for
            outcomes["hash_image CRASHED"] += 1
            print(f"  crash in hash_image on {item.name}: {type(exc).__name__}")
        try:
            provenance_read(item.data)
            outcomes["provenance_read answered"] += 1
        except Exception as exc:
            outcomes["provenance_read CRASHED"] += 1
            print(f"  crash in provenance_read on {item.name}: {type(exc).__name__}")
        slowest = max(slowest, (time.monotonic() - began, item.name))
    for _, url, _ in corpus.HOSTILE_URLS:
        try:
            url_normalise(url)
            outcomes["url_normalise accepted (ASCII)"] += 1
        except URLRejected:
            outcomes["url_normalise refused"] += 1
        except Exception as exc:
            outcomes["url_normalise CRASHED"] += 1
            print(f"  crash in url_normalise on {url[:40]!r}: {type(exc).__name__}")
    for name, count in sorted(outcomes.items()):
        print(f"{name}: {count}")
    print(f"slowest image (hash + provenance): {slowest[1]} {slowest[0]:.2f} s; "
          f"total {time.monotonic() - started:.1f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
