import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.core.audit import Actor
from takedown.partners.management.commands._keyarg import key_from_arg
from takedown.partners.services import PartnerError, partner_key_rotate


class Command(BaseCommand):
    help = "Replace a partner key with a new one (shown once); the old one works for --grace seconds more."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key, or its id (the 12 characters after tdk_)")
        parser.add_argument("--grace", type=int, default=0, help="seconds the old key keeps working (default 0)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        old = key_from_arg(options["key"])
        try:
            new = partner_key_rotate(key=old, actor=Actor.system(), grace_seconds=options["grace"])
        except PartnerError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"key_id": str(new.key_id), "key": new.plaintext, "kind": old.kind,
                                          "function": old.function, "grace_seconds": options["grace"]}))
            return
        self.stdout.write(f"new {old.kind} key {old.function}: {new.plaintext}")
        self.stdout.write("Shown once. The old key stops " + (
            f"in {options['grace']} seconds." if options["grace"] else "now."))
