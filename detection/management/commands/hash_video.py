"""`python manage.py hash_video PATH [PATH ...] [--json]`: MD5, SHA-256 and vPDQ of each video, one line per file.

With --json each line is `{"path", "md5", "sha256", "duration_s", "frames", "vpdq": [{"frame", "second", "pdq",
"quality"}, ...]}` or `{"path", "error"}`; the exit status is 1 if any file failed. The vPDQ frames equal those of
Meta's `vpdq` binding on the same file (detection/video.py). Never a traceback for a bad file.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from detection.video import VideoRejected, video_hash


class Command(BaseCommand):
    help = "Hash video files: MD5, SHA-256 and vPDQ (one PDQ hash per second, as Meta's vpdq)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.add_argument("--seconds-per-hash", type=float, default=1.0,
                            help="hash one frame per this many seconds (0: every frame); vpdq's default is 1")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = 0
        for path in options["paths"]:
            try:
                result = video_hash(path, seconds_per_hash=options["seconds_per_hash"])
            except VideoRejected as exc:
                failed += 1
                if options["json"]:
                    self.stdout.write(json.dumps({"path": path, "error": exc.message}))
                else:
                    self.stderr.write(f"{path}: {exc.message}")
                continue
            if options["json"]:
                self.stdout.write(json.dumps({"path": path, **result.as_dict()}))
            else:
                self.stdout.write(f"{path}\n  md5 {result.md5}\n  sha256 {result.sha256}\n"
                                  f"  {result.duration_s:.3f} s, {result.frames} frames, "
                                  f"{len(result.vpdq)} vPDQ frames")
                for frame in result.vpdq:
                    self.stdout.write(f"  {frame.second:9.3f}s  {frame.pdq}  quality {frame.quality}")
        if failed:
            raise SystemExit(1)
