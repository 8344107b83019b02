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
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
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
    GRANT_IDLE_SECONDS,
    SECRET_FAILURES_LIMIT,
    SESSION_KEY,
    CaseAccessLimited,
    CaseNotFound,
    case_from_grant,
    case_grant,
    case_open,
)
from victims.helplines import helplines
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
RECEIPT_WINDOW_SECONDS = 600
# NCMEC's service for images made when the person was under 18 (this platform does not take those reports).
TAKE_IT_DOWN_URL = "https://takeitdown.ncmec.org/"

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


@require_GET
def report_start(request: HttpRequest) -> HttpResponse:
    """The two ways to report, reached by answering "18 or older" on the home page (a link: nothing is sent)."""
    return render(request, "victims/report_start.html")


@require_GET
def under_18(request: HttpRequest) -> HttpResponse:
    """Where a person under 18 is sent, and why. The answer was a link: nothing about them was sent or kept."""
    return render(request, "victims/under_18.html", {"take_it_down_url": TAKE_IT_DOWN_URL})


@require_GET
def help_page(request: HttpRequest) -> HttpResponse:
    countries, everywhere, checked = helplines()
    return render(request, "victims/help.html", {"countries": countries, "everywhere": everywhere,
                                                 "helplines_checked": checked})


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """What is stored and for how long, read from the settings that govern it (not written out by hand)."""
    return render(request, "victims/privacy.html", {
        "retention_withdrawn_days": settings.RETENTION_WITHDRAWN_DAYS,
        "retention_rejected_days": settings.RETENTION_REJECTED_DAYS,
        "retention_orphan_hours": settings.RETENTION_ORPHAN_HOURS,
        "grant_idle_minutes": GRANT_IDLE_SECONDS // 60,
        "receipt_minutes": RECEIPT_WINDOW_SECONDS // 60,
        "secret_failures_limit": SECRET_FAILURES_LIMIT,
    })


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
        authority=data["authority"],
        authorise_agent=data["authorise_agent"],
        images=data.get("images", []),
        device_hashes=data.get("device_hashes", []),
        locale=get_language() or "en",
    )
    # Post/redirect/get without keeping the secret on the server: it rides to the receipt page encrypted, in a
    # browser-session cookie (no expiry date: it dies with the browser session) that also carries when it was made,
    # so a reload within RECEIPT_WINDOW_SECONDS (phones reload a page on app switch) shows it again, and after
    # that, or once the person says they saved it, it is gone.
    response = redirect("victims-report-done")
    token = crypto.encrypt_text(f"{submitted.case.reference}\n{submitted.secret}\n{int(time.time())}",
                                associated=RECEIPT_COOKIE)
    response.set_cookie(RECEIPT_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure(),
                        path=reverse("victims-report-done"))
    return response


@require_http_methods(["GET", "POST"])
@bounded_uploads
def report_upload(request: HttpRequest) -> HttpResponse:
    return _report(request, forms.UploadReportForm, "victims/report_upload.html")


@require_http_methods(["GET", "POST"])
@csrf_protect
def report_device(request: HttpRequest) -> HttpResponse:
    return _report(request, forms.DeviceReportForm, "victims/report_device.html")


def _receipt_from_cookie(request: HttpRequest) -> tuple[str, str]:
    """The reference and secret the receipt cookie carries, or two empty strings (absent, forged or too old)."""
    token = request.COOKIES.get(RECEIPT_COOKIE, "")
    if not token:
        return "", ""
    try:
        reference, secret, made = crypto.decrypt_text(token, associated=RECEIPT_COOKIE).split("\n", 2)
        age = time.time() - int(made)
    except (crypto.DecryptionError, ValueError):
        return "", ""
    if not 0 <= age <= RECEIPT_WINDOW_SECONDS:
        return "", ""
    return reference, secret


def _forget_receipt(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(RECEIPT_COOKIE, path=reverse("victims-report-done"), samesite="Strict")
    return response


def _groups(code: str) -> list[str]:
    """A reference or secret cut where a line may break: after each dash, never inside a group."""
    parts = code.split("-")
    return [part + "-" for part in parts[:-1]] + parts[-1:] if code else []


@require_http_methods(["GET", "POST"])
@csrf_protect
def report_done(request: HttpRequest) -> HttpResponse:
    """The reference and secret, with ways to save them; the person confirms they did before the page forgets."""
    reference, secret = _receipt_from_cookie(request)
    form = forms.ReceiptSavedForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and (form.is_valid() or not secret):
        return _forget_receipt(redirect("victims-case-access"))
    context = {"reference": reference, "secret": secret, "form": form,
               "reference_groups": _groups(reference), "secret_groups": _groups(secret),
               "window_minutes": RECEIPT_WINDOW_SECONDS // 60}
    if not secret:
        return _forget_receipt(render(request, "victims/report_done.html", context, status=410))
    return render(request, "victims/report_done.html", context, status=400 if request.method == "POST" else 200)


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


# Cookies (the session and CSRF ones) and anything the pages stored in the browser are wiped too; "cache" is left
# out because Chromium can stall a navigation for seconds while it clears it, and case pages are `no-store` anyway.
QUICK_EXIT_CLEAR_SITE_DATA = '"cookies", "storage"'


@require_http_methods(["GET", "POST"])
@csrf_protect  # the POST (the page's beacon) carries the page's CSRF token like every other form
def quick_exit(request: HttpRequest) -> HttpResponse:
    """End the case session on the server at once, then leave for a neutral site.

    The page's script sends a POST beacon here (answered 204) and replaces itself in the history with a GET of
    this address; without JavaScript the Quick exit link is a plain GET of it. Either way the session row is
    deleted, so `/case/status/` asks for the reference and secret again on this device.
    """
    request.session.flush()
    response: HttpResponse
    if request.method == "POST":
        response = HttpResponse(status=204)
    else:
        response = HttpResponseRedirect(settings.QUICK_EXIT_URL)
    response["Clear-Site-Data"] = QUICK_EXIT_CLEAR_SITE_DATA
    response["Cache-Control"] = "no-store"
    return response


def _status(request: HttpRequest, case: Case, *, status: int = 200, **forms_bound: Any) -> HttpResponse:
    context = case_status_context(case)
    context.update({
        "url_form": forms_bound.get("url_form") or forms.URLAddForm(),
        "evidence_form": forms_bound.get("evidence_form") or forms.EvidenceForm(),
        "evidence_device_form": forms_bound.get("evidence_device_form") or forms.EvidenceForm(),
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
        bound = "evidence_device_form" if request.POST.get("mode") == "device" else "evidence_form"
        return _status(request, case, status=400, **{bound: form})
    try:
        case_evidence_add(case=case, images=form.cleaned_data["images"],
                          device_hashes=form.cleaned_data["device_hashes"])
    except CaseClosed:
        return _status(request, case, status=409, notice=_("This case was withdrawn; nothing can be added."))
    if form.cleaned_data["device_hashes"] and not form.cleaned_data["images"]:
        return _after_change(request, _("Thank you. The fingerprints of the new images were added to your case; "
                                        "the images themselves were not sent."))
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
    form = forms.WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method != "POST":
        return render(request, "victims/withdraw.html", {"case": case, "form": form})
    if not form.is_valid():
        return render(request, "victims/withdraw.html", {"case": case, "form": form}, status=400)
    # The secret again: a case page left open on a shared phone must not be enough to delete the case.
    try:
        case_open(reference=case.reference, secret=form.cleaned_data["secret"], address=client_address(request),
                  purpose="withdraw")
    except CaseAccessLimited as limited:
        return _too_many(request, limited.retry_after)
    except CaseNotFound:
        form.add_error("secret", _("That is not the secret of this case."))
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
