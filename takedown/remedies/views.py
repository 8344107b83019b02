"""Staff pages on a case's requests: the list with their clocks, the documents, sending and outcomes."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from takedown.cases.models import Case
from takedown.core.audit import Actor, audit_record
from takedown.core.roles import ADMIN, MODERATOR, staff_required
from takedown.remedies.court_orders import court_order_document
from takedown.remedies.documents import FORMATS, request_render
from takedown.remedies.models import (
    OPEN_STATES,
    CourtOrder,
    RemedyRequest,
    RequestState,
)
from takedown.remedies.selectors import remedies_for_case
from takedown.remedies.services import RemedyError, remedy_request_send, remedy_request_update

staff = staff_required(MODERATOR, ADMIN)


class OutcomeForm(forms.Form):
    state = forms.ChoiceField(choices=[(s, s.label) for s in (RequestState.ACKNOWLEDGED, RequestState.COMPLIED,
                                                               RequestState.REFUSED)],
                              widget=forms.Select(attrs={"aria-label": "What the host did"}))
    note = forms.CharField(required=False, max_length=500,
                           widget=forms.TextInput(attrs={"aria-label": "Note (optional)", "placeholder": "note"}))


@require_GET
@staff
def case_requests(request: HttpRequest, case_id: uuid.UUID) -> HttpResponse:
    case = get_object_or_404(Case, id=case_id)
    audit_record(actor=Actor.for_user(request.user), action="remedies.case_view", case_id=case.id,
                 object_type="case", object_id=case.id)
    return render(request, "remedies/case.html", {
        "case": case,
        "requests": remedies_for_case(case),
        "now": timezone.now(),
        "open_states": OPEN_STATES,
        "outcome_form": OutcomeForm(),
        "formats": FORMATS,
        "court_orders": case.court_orders.order_by("recorded_at"),
    })


@require_GET
@staff
def document(request: HttpRequest, request_id: uuid.UUID, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404
    remedy = get_object_or_404(RemedyRequest.objects.select_related("case", "host"), id=request_id)
    body, content_type, filename = request_render(remedy, fmt)  # type: ignore[arg-type]
    audit_record(actor=Actor.for_user(request.user), action="remedies.document_view", case_id=remedy.case_id,
                 object_type="remedy_request", object_id=remedy.id, detail={"format": fmt})
    response = HttpResponse(body, content_type=content_type)
    disposition = "inline" if fmt != "json" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@require_POST
@staff
def send(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    remedy = get_object_or_404(RemedyRequest, id=request_id)
    try:
        remedy_request_send(request=remedy, actor=Actor.for_user(request.user))
    except RemedyError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Sent."))
    return redirect("remedies-case", case_id=remedy.case_id)


@require_POST
@staff
def outcome(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    remedy = get_object_or_404(RemedyRequest, id=request_id)
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what the host did."))
        return redirect("remedies-case", case_id=remedy.case_id)
    try:
        remedy_request_update(request=remedy, state=form.cleaned_data["state"], note=form.cleaned_data["note"],
                              actor=Actor.for_user(request.user))
    except RemedyError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Recorded."))
    return redirect("remedies-case", case_id=remedy.case_id)


# --- court orders --------------------------------------------------------------------------------------------


@require_GET
@staff
def court_order_pdf(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = get_object_or_404(CourtOrder, id=order_id)
    body = court_order_document(order=order, actor=Actor.for_user(request.user))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="court-order-{order.id}.pdf"'
    return response
