from typing import Any

from django.core.management.base import BaseCommand, CommandError

from takedown.core.audit import audit_chain_verify


class Command(BaseCommand):
    help = ("Walk the audit log's hash chains (one per case); exit 1 naming the first row that was changed, removed "
            "or inserted.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_chain_verify()
        if not report.ok:
            raise CommandError(f"audit chain broken at row {report.first_bad_id}: {report.reason}")
        self.stdout.write(f"ok: {report.rows} audit rows, chain intact ({report.chains} per-case or per-actor "
                          "chains, each complete from its first row)")
