"""Staff pages on a case's requests: the list with their clocks, the documents, sending and outcomes."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from takedown.cases.models import Case
from takedown.core.audit import Actor, audit_record
from takedown.core.roles import ADMIN, ADVOCATE, MODERATOR, staff_required
from takedown.remedies.court_orders import (
    CourtOrderRefused,
    CourtOrderUploadHandler,
    court_order_document,
    court_order_record,
)
from takedown.remedies.documents import FORMATS, request_render
from takedown.remedies.models import (
    COURT_ORDER_MAX_BYTES,
    OPEN_STATES,
    CourtOrder,
    RemedyRequest,
    RequestKind,
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


class CourtOrderForm(forms.Form):
    court = forms.CharField(label=_("Court"), max_length=200)
    docket_number = forms.CharField(label=_("Docket number"), max_length=100)
    order_date = forms.DateField(label=_("Date of the order"), widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.MultipleChoiceField(label=_("The order directs"), choices=RequestKind.choices,
                                      widget=forms.CheckboxSelectMultiple)
    document = forms.FileField(label=_("The order (PDF)"),
                               help_text=_("At most %(mb)d MB. Stored encrypted.")
                               % {"mb": COURT_ORDER_MAX_BYTES // (1024 * 1024)})
    otp_token = forms.RegexField(label=_("Authenticator code"), regex=r"^\d{6,8}$", max_length=8,
                                 error_messages={"invalid": _("Enter the 6-digit code from your authenticator app.")},
                                 widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                               "inputmode": "numeric"}))

    def clean_document(self) -> bytes:
        upload = self.cleaned_data["document"]
        if getattr(upload, "too_large", False):
            raise forms.ValidationError(_("The file is larger than %(mb)d MB.")
                                        % {"mb": COURT_ORDER_MAX_BYTES // (1024 * 1024)})
        upload.seek(0)
        data: bytes = upload.read()
        return data


def _court_order_uploads(view: Any) -> Any:
    """The PDF stays in memory (CourtOrderUploadHandler); the handler must be set before CSRF reads the body."""
    protected = csrf_protect(view)

    @csrf_exempt
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.upload_handlers = [CourtOrderUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapper


@never_cache
@staff_required(ADVOCATE)
@_court_order_uploads
def court_order_new(request: HttpRequest, reference: str) -> HttpResponse:
    """An advocate with a grant to the case records a court order (and a fresh authenticator code)."""
    from takedown.exports.services import GrantNotFound, ReconfirmFailed, ReconfirmLocked, advocate_grant_get

    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        grant = advocate_grant_get(user=user, reference=reference)
    except GrantNotFound as exc:
        raise Http404("No such case") from exc
    form = CourtOrderForm(request.POST or None, request.FILES or None)
    context = {"grant": grant, "form": form}
    if request.method == "GET":
        return render(request, "remedies/court_order_new.html", context)
    if form.is_valid():
        data = form.cleaned_data
        try:
            recorded = court_order_record(
                user=user, reference=reference, court=data["court"], docket_number=data["docket_number"],
                order_date=data["order_date"], scope=data["scope"], document=data["document"],
                otp_token=data["otp_token"])
        except GrantNotFound as exc:
            raise Http404("No such case") from exc
        except ReconfirmLocked as locked:
            form.add_error(None, _("Too many wrong codes. Try again in %(minutes)d minutes.")
                           % {"minutes": max(1, locked.retry_after // 60)})
            response = render(request, "remedies/court_order_new.html", context, status=429)
            response["Retry-After"] = str(locked.retry_after)
            return response
        except ReconfirmFailed:
            form.add_error("otp_token", _("That code is not right. Enter a fresh code from your authenticator."))
        except CourtOrderRefused as refused:
            form.add_error("document" if refused.code in ("empty", "too-large", "not-pdf") else None,
                           refused.message)
        except RemedyError as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "remedies/court_order_done.html",
                          {"grant": grant, "order": recorded.order, "requests": recorded.requests})
    return render(request, "remedies/court_order_new.html", context, status=400)


@require_GET
@staff
def court_order_pdf(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    order = get_object_or_404(CourtOrder, id=order_id)
    body = court_order_document(order=order, actor=Actor.for_user(request.user))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="court-order-{order.id}.pdf"'
    return response
