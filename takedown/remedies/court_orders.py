"""Court orders: an advocate records a court's order for a case, and the platform carries it out across hosts.

Citron's injunctive remedies: an order directs the removal, blocking or de-linking of intimate imagery; the platform
turns it into requests that cite the order (RemedyRequest.court_order), each with its own clock, next to the
requests the case already has. The order's PDF is kept encrypted in the evidence store (never in a temporary file),
its size limited and its format sniffed. Recording it takes an advocate with an active grant to the case and a
fresh code from their authenticator, as exporting a case does (the advocate's page and that check live with the
other advocate pages, in takedown.exports.court_orders); it is audited with the case.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from takedown.core.audit import Actor, audit_record
from takedown.core.evidence import evidence_delete, evidence_get, evidence_put
from takedown.remedies.models import COURT_ORDER_MAX_BYTES, CourtOrder, RemedyRequest, RequestKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from takedown.cases.models import Case


class CourtOrderRefused(ValueError):
    """The order cannot be recorded as given; `message` says why, for the advocate."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def pdf_sniff(data: bytes) -> None:
    """Accept a PDF only: the header within the first 1024 bytes (ISO 32000-1, 7.5.2), an end-of-file marker in
    the last 1024, and at most COURT_ORDER_MAX_BYTES. The name and the browser's content type are not trusted."""
    if not data:
        raise CourtOrderRefused("The file is empty.", code="empty")
    if len(data) > COURT_ORDER_MAX_BYTES:
        raise CourtOrderRefused(f"The file is larger than {COURT_ORDER_MAX_BYTES // (1024 * 1024)} MB.",
                                code="too-large")
    if b"%PDF-" not in data[:1024] or b"%%EOF" not in data[-1024:]:
        raise CourtOrderRefused("The file is not a PDF.", code="not-pdf")


@dataclass(frozen=True)
class RecordedOrder:
    order: CourtOrder
    requests: list[RemedyRequest]


def court_order_check(*, court: str, docket_number: str, order_date: date, scope: list[str],
                      document: bytes) -> list[str]:
    """Refuse what cannot be recorded (CourtOrderRefused) before anything is stored; returns the scope's kinds in
    their fixed order."""
    kinds = [kind for kind in RequestKind.values if kind in set(scope)]
    if not kinds:
        raise CourtOrderRefused("Choose what the order directs: removal, blocking or de-linking.", code="scope")
    if order_date > timezone.localdate():
        raise CourtOrderRefused("The order's date is in the future.", code="date")
    if not court.strip() or not docket_number.strip():
        raise CourtOrderRefused("Give the court and the docket number.", code="required")
    pdf_sniff(document)
    return kinds


def court_order_record(*, case: Case, court: str, docket_number: str, order_date: date, scope: list[str],
                       document: bytes, recorded_by: User, actor: Actor) -> RecordedOrder:
    """Record an order for a case and make (and queue) the requests it directs, in one transaction.

    Who may call it is decided by the caller: the advocate's page (takedown.exports.court_orders) checks the grant
    and a fresh authenticator code first. Raises CourtOrderRefused (the PDF or the fields) or RemedyError (a
    withdrawn case); on any failure the stored PDF is deleted again.
    """
    from takedown.remedies.services import remedies_generate_for_court_order

    kinds = court_order_check(court=court, docket_number=docket_number, order_date=order_date, scope=scope,
                              document=document)
    blob = evidence_put(document)
    try:
        with transaction.atomic():
            order = CourtOrder.objects.create(
                case=case, court=court.strip()[:200], docket_number=docket_number.strip()[:100],
                order_date=order_date, scope=kinds, document_blob=blob,
                document_sha256=hashlib.sha256(document).hexdigest(), document_size=len(document),
                recorded_by=recorded_by,
            )
            # The docket number stays out of the audit detail (it can lead to a sealed file).
            audit_record(actor=actor, action="court_order.recorded", case_id=case.id,
                         object_type="court_order", object_id=order.id,
                         detail={"scope": kinds, "size": len(document)})
            requests = remedies_generate_for_court_order(order=order, actor=actor)
    except BaseException:
        evidence_delete(blob)
        raise
    return RecordedOrder(order=order, requests=requests)


def court_order_document(*, order: CourtOrder, actor: Actor) -> bytes:
    """The order's PDF, for staff; the read is audited."""
    with transaction.atomic():
        audit_record(actor=actor, action="court_order.document_view", case_id=order.case_id,
                     object_type="court_order", object_id=order.id)
    return evidence_get(order.document_blob)


class CourtOrderUploadHandler(FileUploadHandler):
    """Keeps the order's PDF in memory, never in a temporary file, and stops buffering past the size limit (the
    form then says so; the other fields are still parsed)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.buffer = io.BytesIO()
        self.size = 0
        self.too_large = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer, self.size, self.too_large = io.BytesIO(), 0, False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > COURT_ORDER_MAX_BYTES:
            self.too_large, self.buffer = True, io.BytesIO()
        elif not self.too_large:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        upload = InMemoryUploadedFile(file=self.buffer, field_name=self.field_name, name="order.pdf",
                                      content_type="application/pdf", size=file_size,
                                      charset=None, content_type_extra=self.content_type_extra)
        upload.too_large = self.too_large  # type: ignore[attr-defined]
        return upload
