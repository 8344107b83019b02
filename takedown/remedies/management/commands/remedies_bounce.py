"""Record a bounce: `manage.py remedies_bounce FILE` (or `-` / nothing for stdin) with one DSN (RFC 3464).

Meant as the delivery command of the bounce mailbox (REMEDIES_BOUNCE_ADDRESS), e.g. Postfix's
`bounces: "|/srv/takedown/manage.py remedies_bounce"`. Exit status 0 when the DSN was read (whether or not it named
a message of ours), 1 when the input is no DSN, so the MTA keeps or returns what could not be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import Actor
from takedown.remedies.bounces import DsnError
from takedown.remedies.services import remedies_bounce_record


class Command(BaseCommand):
    help = "Record a delivery status notification (RFC 3464) from a file or stdin against the message it names."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default="-", help="the DSN as a file (default: stdin)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        limit = settings.REMEDIES_BOUNCE_MAX_BYTES
        if options["path"] == "-":
            raw = sys.stdin.buffer.read(limit + 1)
        else:
            path = Path(options["path"])
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
            with path.open("rb") as handle:
                raw = handle.read(limit + 1)
        if len(raw) > limit:
            raise CommandError(f"the DSN is larger than REMEDIES_BOUNCE_MAX_BYTES ({limit} bytes)")
        try:
            result = remedies_bounce_record(raw=raw, actor=Actor.system())
        except DsnError as exc:
            raise CommandError(str(exc)) from None
        summary = {"matched": result.matched, "bounced": [str(i) for i in result.bounced], "delayed": result.delayed}
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        elif not result.matched:
            self.stdout.write("the DSN names no message we sent; nothing recorded")
        else:
            self.stdout.write(f"bounced: {len(result.bounced)} message(s); delayed: {result.delayed}")
