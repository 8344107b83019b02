"""What every harness shares: Django for the modules that need it, a seed corpus built in code, libFuzzer's loop.

A harness is `python fuzz/fuzz_<name>.py [libFuzzer flags] [corpus dir ...]`. Without a corpus directory the
seeds (tests/hostile/corpus.py: valid images of each format plus the hostile ones, or the hostile URLs) are
written to a fresh temporary directory, which then also collects what the run discovers. A crash (any exception
the target does not promise) stops the run and leaves `crash-<sha1>` beside the artifact prefix; reproduce it
with `python fuzz/fuzz_<name>.py crash-<sha1>`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def seed_dir(seeds: Iterable[bytes]) -> str:
    directory = Path(tempfile.mkdtemp(prefix="fuzz-seeds-"))
    for index, data in enumerate(seeds):
        (directory / f"seed-{index:04d}").write_bytes(data)
    return str(directory)


def fuzz(test_one_input: Callable[[bytes], None], seeds: Callable[[], Iterable[bytes]]) -> None:
    import warnings

    import atheris

    # Pillow warns about every corrupt EXIF block it meets; millions of lines would bury libFuzzer's report.
    warnings.simplefilter("ignore")
    argv = list(sys.argv)
    inputs = [arg for arg in argv[1:] if not arg.startswith("-")]
    # A single file replays one input; otherwise the seeds join the corpus directories given (libFuzzer writes
    # what it discovers into the first one).
    if not (len(inputs) == 1 and Path(inputs[0]).is_file()):
        argv.append(seed_dir(seeds()))
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
