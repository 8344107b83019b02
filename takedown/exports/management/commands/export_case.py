"""`python manage.py export_case CASE_REF --out FILE`: write a case's court export ZIP (operator use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.exports.services import (
    ExportNotConfigured,
    GrantError,
    GrantNotFound,
    advocate_grant_get,
    case_export_build,
)


class Command(BaseCommand):
    help = "Write the signed, time-stamped court export of a case to FILE (a ZIP)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="the case reference")
        parser.add_argument("--out", required=True, type=Path, help="where to write the ZIP")
        parser.add_argument("--advocate", default="", help="export under this advocate's active grant (annex)")
        parser.add_argument("--include-images", action="store_true",
                            help="include image files (needs --advocate and the person's consent)")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = options["reference"].strip().upper()
        case = Case.objects.filter(reference=reference).first()
        if case is None:
            raise CommandError(f"no case {reference}")
        grant = None
        if options["advocate"]:
            user = get_user_model().objects.filter(username=options["advocate"]).first()
            if user is None:
                raise CommandError(f"no user {options['advocate']}")
            try:
                grant = advocate_grant_get(user=user, reference=reference)
            except GrantNotFound as exc:
                raise CommandError(f"{options['advocate']} has no active grant for {reference}") from exc
        try:
            result = case_export_build(case=case, actor=Actor.system(), grant=grant,
                                       include_images=options["include_images"])
        except (GrantError, ExportNotConfigured) as exc:
            raise CommandError(str(exc)) from exc
        out: Path = options["out"]
        out.write_bytes(result.data)
        self.stdout.write(f"wrote {out} ({len(result.data)} bytes), manifest SHA-256 {result.manifest_digest}")
