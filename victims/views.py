"""The victim's pages. Each view translates a request into one service or selector call and back.

Bad input answers 400 with the form as the person filled it in (files must be chosen again: browsers never
refill a file input); too many tries answer 429. A case page is reached only through `victims.access`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.core import crypto
from takedown.core.audit import Actor
from takedown.core.http import client_address
from takedown.exports.forms import StatusGrantForm, StatusRevokeForm
from takedown.exports.services import GrantError, grant_create_by_victim, grant_revoke, victim_grants
from victims import forms
from victims.access import (
    SESSION_KEY,
    CaseAccessLimited,
    CaseNotFound,
    case_from_grant,
    case_grant,
    case_open,
)
from victims.services import (
    CaseClosed,
    case_evidence_add,
    case_image_read,
    case_message_send,
    case_messages_mark_read,
    case_urls_add,
    case_withdraw,
    report_submit,
    withdrawal_receipt,
)
from victims.status import case_status_context
from victims.uploads import BoundedMemoryUploadHandler

RECEIPT_COOKIE = "victims_receipt"
RECEIPT_COOKIE_SECONDS = 600

ViewFunc = Callable[..., HttpResponseBase]


def bounded_uploads(view: ViewFunc) -> ViewFunc:
    """Install the in-memory upload handler; it must happen before CSRF checking reads the body."""

    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.upload_handlers = [BoundedMemoryUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapper


def _too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(request, "victims/too_many.html", {"minutes": max(1, retry_after // 60)}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "victims/home.html")


# --- Reporting ----------------------------------------------------------------------------------------------


def _report(request: HttpRequest, form_class: type[forms.ReportForm], template: str) -> HttpResponse:
    if request.method != "POST":
        return render(request, template, {"form": form_class()})
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    data = form.cleaned_data
    submitted = report_submit(
        content_kind=data["content_kind"],
        urls=data["urls"],
        description=data["description"],
        signature=data["signature"],
        contact=data["contact"],
        good_faith=data["good_faith"],
        images=data.get("images", []),
        device_hashes=data.get("device_hashes", []),
        locale=get_language() or "en",
    )
    # Post/redirect/get without keeping the secret on the server: it rides to the receipt page once, encrypted,
    # in a short-lived cookie that page deletes.
    response = redirect("victims-report-done")
    token = crypto.encrypt_text(f"{submitted.case.reference}\n{submitted.secret}", associated=RECEIPT_COOKIE)
    response.set_cookie(RECEIPT_COOKIE, token, max_age=RECEIPT_COOKIE_SECONDS, httponly=True, samesite="Strict",
                        secure=request.is_secure(), path=reverse("victims-report-done"))
    return response


@require_http_methods(["GET", "POST"])
@bounded_uploads
def report_upload(request: HttpRequest) -> HttpResponse:
    return _report(request, forms.UploadReportForm, "victims/report_upload.html")


@require_http_methods(["GET", "POST"])
@csrf_protect
def report_device(request: HttpRequest) -> HttpResponse:
    return _report(request, forms.DeviceReportForm, "victims/report_device.html")


@require_GET
def report_done(request: HttpRequest) -> HttpResponse:
    token = request.COOKIES.get(RECEIPT_COOKIE, "")
    reference = secret = ""
    if token:
        try:
            reference, secret = crypto.decrypt_text(token, associated=RECEIPT_COOKIE).split("\n", 1)
        except (crypto.DecryptionError, ValueError):
            reference = secret = ""
    response = render(request, "victims/report_done.html", {"reference": reference, "secret": secret},
                      status=200 if secret else 410)
    response.delete_cookie(RECEIPT_COOKIE, path=reverse("victims-report-done"), samesite="Strict")
    return response


def _receipt_text(*, reference: str, secret: str, request: HttpRequest) -> str:
    return render_to_string("victims/receipt.txt", {
        "reference": reference, "secret": secret, "site_url": settings.SITE_URL,
        "case_url": settings.SITE_URL + reverse("victims-case-access"), "now": timezone.now(),
    }, request=request)


@require_POST
@csrf_protect
def receipt_download(request: HttpRequest) -> HttpResponse:
    """The receipt as a small text file. The page posts back what it shows; the secret is checked, not stored."""
    form = forms.ReceiptForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("The receipt could not be made. Copy the reference and secret by hand."),
                            status=400, content_type="text/plain; charset=utf-8")
    try:
        case = case_open(reference=form.cleaned_data["reference"], secret=form.cleaned_data["secret"],
                         address=client_address(request), purpose="receipt")
    except CaseAccessLimited as limited:
        return _too_many(request, limited.retry_after)
    except CaseNotFound:
        return HttpResponse(_("That reference and secret do not match a case."), status=404,
                            content_type="text/plain; charset=utf-8")
    text = _receipt_text(reference=case.reference, secret=form.cleaned_data["secret"], request=request)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="takedown-case-{case.reference}.txt"'
    return response


# --- Coming back --------------------------------------------------------------------------------------------


def _session_case(request: HttpRequest, purpose: str) -> Case | None:
    grant = request.session.get(SESSION_KEY)
    if grant is None:
        return None
    try:
        case = case_from_grant(grant=grant, purpose=purpose)
    except CaseNotFound:
        request.session.pop(SESSION_KEY, None)
        return None
    grant["at"] = time.time()
    request.session[SESSION_KEY] = grant
    return case


def victim_case_required(purpose: str) -> Callable[[ViewFunc], ViewFunc]:
    """Pass the case the session's grant opens, or send the person to enter their reference and secret."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            case = _session_case(request, purpose)
            if case is None:
                return redirect("victims-case-access")
            return view(request, case, *args, **kwargs)

        return wrapper

    return decorator


@require_http_methods(["GET", "POST"])
@csrf_protect
def case_access(request: HttpRequest) -> HttpResponse:
    form = forms.AccessForm(request.POST or None)
    if request.method != "POST":
        return render(request, "victims/case_access.html", {"form": form})
    if not form.is_valid():
        return render(request, "victims/case_access.html", {"form": form}, status=400)
    try:
        case = case_open(reference=form.cleaned_data["reference"], secret=form.cleaned_data["secret"],
                         address=client_address(request), purpose="status")
    except CaseAccessLimited as limited:
        return _too_many(request, limited.retry_after)
    except CaseNotFound:
        form.add_error(None, _("That reference and secret do not match a case. Check both and try again."))
        return render(request, "victims/case_access.html", {"form": form}, status=404)
    request.session.cycle_key()
    request.session[SESSION_KEY] = case_grant(case).as_session()
    return redirect("victims-case-status")


@require_POST
@csrf_protect
def case_leave(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return redirect("home")


def _status(request: HttpRequest, case: Case, *, status: int = 200, **forms_bound: Any) -> HttpResponse:
    context = case_status_context(case)
    context.update({
        "url_form": forms_bound.get("url_form") or forms.URLAddForm(),
        "evidence_form": forms_bound.get("evidence_form") or forms.EvidenceForm(),
        "message_form": forms_bound.get("message_form") or forms.MessageForm(),
        "notice": forms_bound.get("notice", ""),
        # Advocate access for a court case (issue 8): the exports app's panel in the advocate_consent block.
        "advocate_grants": victim_grants(case=case),
        "advocate_form": forms_bound.get("advocate_form") or StatusGrantForm(prefix="advocate"),
    })
    return render(request, "victims/case_status.html", context, status=status)


@require_GET
@victim_case_required("status")
def case_status(request: HttpRequest, case: Case) -> HttpResponse:
    response = _status(request, case, notice=request.session.pop("victims_notice", ""))
    case_messages_mark_read(case=case)
    return response


def _after_change(request: HttpRequest, notice: str) -> HttpResponse:
    request.session["victims_notice"] = notice
    return redirect("victims-case-status")


@require_POST
@csrf_protect
@victim_case_required("add-urls")
def case_urls(request: HttpRequest, case: Case) -> HttpResponse:
    form = forms.URLAddForm(request.POST)
    if not form.is_valid():
        return _status(request, case, status=400, url_form=form)
    try:
        added = case_urls_add(case=case, urls=form.cleaned_data["urls"])
    except CaseClosed:
        return _status(request, case, status=409, notice=_("This case was withdrawn; nothing can be added."))
    return _after_change(request, forms.urls_added_message(added))


@require_POST
@bounded_uploads
@victim_case_required("add-evidence")
def case_evidence(request: HttpRequest, case: Case) -> HttpResponse:
    form = forms.EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _status(request, case, status=400, evidence_form=form)
    try:
        case_evidence_add(case=case, images=form.cleaned_data["images"],
                          device_hashes=form.cleaned_data["device_hashes"])
    except CaseClosed:
        return _status(request, case, status=409, notice=_("This case was withdrawn; nothing can be added."))
    return _after_change(request, _("Thank you. The new images were added to your case."))


@require_POST
@csrf_protect
@victim_case_required("message")
def case_message(request: HttpRequest, case: Case) -> HttpResponse:
    form = forms.MessageForm(request.POST)
    if not form.is_valid():
        return _status(request, case, status=400, message_form=form)
    try:
        case_message_send(case=case, body=form.cleaned_data["body"])
    except CaseClosed:
        return _status(request, case, status=409, notice=_("This case was withdrawn; nothing can be added."))
    return _after_change(request, _("Your message was sent."))


@require_POST
@csrf_protect
@victim_case_required("advocates")
def case_advocates(request: HttpRequest, case: Case) -> HttpResponse:
    """Give an advocate access to the case, or remove it (takedown.exports keeps the grants).

    Giving access asks for the case secret again: a status page left open on a shared device must not be enough
    to hand the case to someone. Removing access does not: it only takes access away, and must be quick.
    """
    if request.POST.get("action") == "revoke":
        revoke = StatusRevokeForm(request.POST)
        if not revoke.is_valid():
            return _status(request, case, status=400, notice=_("Choose the access to remove from the list."))
        try:
            grant_revoke(grant_id=revoke.cleaned_data["grant"], actor=Actor.victim(), case=case)
        except GrantError:
            return _status(request, case, status=404, notice=_("That access was not found on your case."))
        return _after_change(request, _("Access removed. The advocate can no longer see your case."))
    form = StatusGrantForm(request.POST, prefix="advocate")
    if not form.is_valid():
        return _status(request, case, status=400, advocate_form=form)
    try:
        case_open(reference=case.reference, secret=form.cleaned_data["secret"], address=client_address(request),
                  purpose="advocate-grant")
    except CaseAccessLimited as limited:
        return _too_many(request, limited.retry_after)
    except CaseNotFound:
        form.add_error("secret", _("That is not the secret of this case."))
        return _status(request, case, status=400, advocate_form=form)
    try:
        grant_create_by_victim(case=case, advocate_code=form.cleaned_data["advocate_code"],
                               days=form.cleaned_data["days"], images_consented=form.cleaned_data["images_consented"],
                               identity_for_court=form.cleaned_data["identity_for_court"])
    except GrantError as exc:
        form.add_error(None, str(exc))
        return _status(request, case, status=400, advocate_form=form)
    return _after_change(request, _("Access given. You can remove it here at any time."))


@require_GET
@victim_case_required("image")
def case_image(request: HttpRequest, case: Case, image_id: uuid.UUID) -> HttpResponse:
    try:
        image, data = case_image_read(case=case, image_id=image_id)
    except CaseImage.DoesNotExist:
        raise Http404 from None
    response = HttpResponse(data, content_type=image.media_type or "application/octet-stream")
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@csrf_protect
@victim_case_required("withdraw")
def case_withdraw_view(request: HttpRequest, case: Case) -> HttpResponse:
    if case.status == CaseStatus.WITHDRAWN:
        return render(request, "victims/withdrawn.html", {"case": case, "receipt": withdrawal_receipt(case=case)})
    form = forms.WithdrawForm(request.POST or None)
    if request.method != "POST":
        return render(request, "victims/withdraw.html", {"case": case, "form": form})
    if not form.is_valid():
        return render(request, "victims/withdraw.html", {"case": case, "form": form}, status=400)
    receipt = case_withdraw(case=case)
    return render(request, "victims/withdrawn.html", {"case": case, "receipt": receipt})


@require_GET
@victim_case_required("withdrawal-receipt")
def case_withdrawal_receipt(request: HttpRequest, case: Case) -> HttpResponse:
    if case.withdrawn_at is None:
        raise Http404
    text = render_to_string("victims/withdrawal_receipt.txt",
                            {"case": case, "receipt": withdrawal_receipt(case=case), "site_url": settings.SITE_URL},
                            request=request)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="takedown-withdrawal-{case.reference}.txt"'
    return response
