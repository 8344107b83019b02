"""`python manage.py export_case CASE_REF --out FILE (--advocate USER | --by ADMIN) --otp CODE`.

Every export names a person and checks their second factor, as the web export does: an advocate exporting under
their grant (identity annex, images with consent), or an operator admin exporting the case file alone. The audit
log records that person, never "system".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.core.roles import ADMIN, ADVOCATE, user_role
from takedown.exports.services import (
    ExportNotConfigured,
    GrantError,
    GrantNotFound,
    ReconfirmFailed,
    ReconfirmLocked,
    advocate_grant_get,
    advocate_reconfirm,
    case_export_build,
)


class Command(BaseCommand):
    help = ("Write the signed, time-stamped court export of a case to FILE (a ZIP), as an advocate under their grant "
            "or as an operator admin, after checking that person's authenticator code.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference", help="the case's court reference (or, for the operator, its case reference)")
        parser.add_argument("--out", required=True, type=Path, help="where to write the ZIP")
        parser.add_argument("--advocate", default="", help="export under this advocate's active grant (annex)")
        parser.add_argument("--by", default="", help="the operator admin making the export (without --advocate)")
        parser.add_argument("--otp", default="", help="a fresh code from that person's authenticator")
        parser.add_argument("--include-images", action="store_true",
                            help="include image files (needs --advocate and the person's consent)")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["advocate"] or options["by"]
        if not username or (options["advocate"] and options["by"]):
            raise CommandError("name who exports: --advocate USERNAME (under their grant) or --by ADMIN_USERNAME")
        if not options["otp"]:
            raise CommandError(f"--otp: give a fresh code from {username}'s authenticator")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username}")
        reference = options["reference"].strip().upper()
        grant = None
        if options["advocate"]:
            if user_role(user) != ADVOCATE:
                raise CommandError(f"{username} is not an advocate")
            try:
                grant = advocate_grant_get(user=user, reference=reference)
            except GrantNotFound as exc:
                raise CommandError(f"{username} has no active grant for {reference}") from exc
            case = grant.case
        else:
            if user_role(user) != ADMIN:
                raise CommandError(f"{username} is not an operator admin")
            if options["include_images"]:
                raise CommandError("images leave only under an advocate's grant with the person's consent")
            found = Case.objects.filter(court_reference=reference).first() or Case.objects.filter(
                reference=reference).first()
            if found is None:
                raise CommandError(f"no case {reference}")
            case = found
        try:
            advocate_reconfirm(user=user, otp_token=options["otp"])
        except ReconfirmLocked as exc:
            raise CommandError(f"too many wrong codes: try again in {exc.retry_after} seconds") from exc
        except ReconfirmFailed as exc:
            raise CommandError("that authenticator code is not right") from exc
        try:
            result = case_export_build(case=case, actor=Actor.for_user(user), grant=grant,
                                       include_images=options["include_images"], made_by=user)
        except (GrantError, ExportNotConfigured) as exc:
            raise CommandError(str(exc)) from exc
        out: Path = options["out"]
        out.write_bytes(result.data)
        self.stdout.write(f"wrote {out} ({len(result.data)} bytes), manifest SHA-256 {result.manifest_digest}")
