"""Print a case's generated requests: `manage.py remedies_render CASE_REF --format json` (a contract for tools)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.cases.models import Case
from takedown.core.audit import Actor, audit_record
from takedown.remedies.documents import document_json, document_text, request_document
from takedown.remedies.selectors import remedies_for_case


class Command(BaseCommand):
    help = "Print the removal, blocking and de-linking requests generated for a case, as JSON or plain text."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case_ref", help="the case's court reference (CR-...) or its reference")
        parser.add_argument("--format", choices=["json", "text"], default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        ref = options["case_ref"].strip().upper()
        case = Case.objects.filter(court_reference=ref).first() or Case.objects.filter(reference=ref).first()
        if case is None:
            raise CommandError(f"no case with reference {options['case_ref']!r}")
        audit_record(actor=Actor.system(), action="remedies.render", case_id=case.id, object_type="case",
                     object_id=case.id, detail={"format": options["format"]})
        documents = [request_document(request) for request in remedies_for_case(case)]
        if options["format"] == "json":
            payload = {"case": case.court_reference, "status": case.status,
                       "requests": [document_json(document) for document in documents]}
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True))
        else:
            self.stdout.write("\n\n".join(document_text(document) for document in documents))
