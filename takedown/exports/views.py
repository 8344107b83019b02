"""Advocates' pages and moderators' grant page. Input and output only.

The person gives and removes access on their status page (victims.views.case_advocates, exports' panel
templates/exports/status_advocates.html), where their case is open already.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from takedown.cases.models import Case
from takedown.core.audit import Actor
from takedown.core.roles import ADMIN, ADVOCATE, MODERATOR, staff_required
from takedown.core.services import staff_read_record
from takedown.exports import keys, services
from takedown.exports.forms import (
    AdvocateProfileForm,
    ExportForm,
    ModeratorGrantForm,
)
from takedown.exports.models import AdvocateGrant


def _user(request: HttpRequest) -> User:
    # staff_required lets only signed-in staff through; this narrows the type and guards against misuse.
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _retry(response: HttpResponse, seconds: int) -> HttpResponse:
    response["Retry-After"] = str(seconds)
    return response


# --- advocates ------------------------------------------------------------------------------------------------


@require_GET
@never_cache
@staff_required(ADVOCATE)
def advocate_cases(request: HttpRequest) -> HttpResponse:
    grants = services.advocate_grants_active(user=_user(request))
    profile = services.advocate_profile_ensure(user=_user(request))
    return render(request, "exports/advocate_cases.html", {"grants": grants, "profile": profile})


@require_http_methods(["GET", "POST"])
@csrf_protect
@never_cache
@staff_required(ADVOCATE)
def advocate_profile(request: HttpRequest) -> HttpResponse:
    profile = services.advocate_profile_ensure(user=_user(request))
    form = AdvocateProfileForm(request.POST or None, initial={
        "organisation": profile.organisation, "annex_certificate": profile.annex_certificate})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.advocate_profile_update(user=_user(request),
                                                 organisation=form.cleaned_data["organisation"],
                                                 annex_certificate=form.cleaned_data["annex_certificate"])
            except (services.GrantError, ValueError) as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("exports-advocate-cases")
        status = 400
    return render(request, "exports/advocate_profile.html", {"form": form, "profile": profile}, status=status)


def _grant_or_404(request: HttpRequest, reference: str) -> AdvocateGrant:
    try:
        return services.advocate_grant_get(user=_user(request), reference=reference)
    except services.GrantNotFound as exc:
        raise Http404("No such case") from exc


@require_GET
@never_cache
@staff_required(ADVOCATE)
def advocate_case(request: HttpRequest, reference: str) -> HttpResponse:
    try:
        grant, dossier = services.advocate_case_view(user=_user(request), reference=reference)
    except services.GrantNotFound as exc:
        raise Http404("No such case") from exc
    return render(request, "exports/advocate_case.html", {"grant": grant, "dossier": dossier,
                                                          "form": ExportForm()})


@require_http_methods(["GET", "POST"])
@csrf_protect
@never_cache
@staff_required(ADVOCATE)
def advocate_export(request: HttpRequest, reference: str) -> HttpResponse:
    grant = _grant_or_404(request, reference)
    form = ExportForm(request.POST or None)
    context: dict[str, Any] = {"grant": grant, "form": form}
    if request.method == "GET":
        return render(request, "exports/advocate_export.html", context)
    status = 400
    if form.is_valid():
        if form.cleaned_data["include_images"] and not grant.images_consented:
            form.add_error("include_images", _("The person did not consent to sharing their images."))
        else:
            try:
                result = services.advocate_case_export(
                    user=_user(request),
                    reference=reference,
                    otp_token=form.cleaned_data["otp_token"],
                    include_images=form.cleaned_data["include_images"],
                )
            except services.GrantNotFound as exc:
                raise Http404("No such case") from exc
            except services.ReconfirmLocked as locked:
                form.add_error(None, _("Too many wrong codes. Try again in %(minutes)d minutes.")
                               % {"minutes": max(1, locked.retry_after // 60)})
                return _retry(render(request, "exports/advocate_export.html", context, status=429),
                              locked.retry_after)
            except services.ReconfirmFailed:
                form.add_error("otp_token", _("That code is not right. Enter a fresh code from your authenticator."))
            except services.GrantError as exc:
                form.add_error(None, str(exc))
            except services.ExportNotConfigured:
                form.add_error(None, _("Exports are not set up on this server yet. Ask the operator."))
                status = 503
            else:
                response = HttpResponse(result.data, content_type="application/zip")
                response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
                return response
    return render(request, "exports/advocate_export.html", context, status=status)


# --- public trust anchors -------------------------------------------------------------------------------------


def _anchors() -> keys.TrustAnchors | None:
    try:
        return keys.trust_anchors()
    except (ImproperlyConfigured, OSError, ValueError):
        return None


@require_GET
def export_keys_published(request: HttpRequest) -> HttpResponse:
    """GET /.well-known/takedown-export-keys: the operator's export-signing key(s) and time-stamping choice.

    {"format": "takedown-export-keys/1", "signing_keys": [{"fingerprint_sha256": "3602...", "status": "current",
    ...}], "time_stamping": {"authority": "public", "url": "https://tsa.example/", ...}, ...}
    """
    anchors = _anchors()
    if anchors is None:
        return JsonResponse({"error": "court exports are not set up on this server"}, status=503)
    response = JsonResponse(anchors.as_json(site=settings.SITE_URL), json_dumps_params={"indent": 1})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def export_keys_page(request: HttpRequest) -> HttpResponse:
    anchors = _anchors()
    return render(request, "exports/keys.html", {"anchors": anchors, "site": settings.SITE_URL},
                  status=200 if anchors else 503)


# --- moderators -----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@csrf_protect
@never_cache
@staff_required(MODERATOR, ADMIN)
def staff_grants(request: HttpRequest) -> HttpResponse:
    advocates = services.advocate_users()
    form = ModeratorGrantForm(request.POST or None, advocates=advocates,
                              initial={"reference": request.GET.get("case", "")})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            case = Case.objects.filter(court_reference=form.cleaned_data["reference"].strip().upper()).first()
            advocate = get_user_model().objects.filter(pk=form.cleaned_data["advocate"]).first()
            if case is None:
                form.add_error("reference", _("No case has that court reference."))
            elif advocate is None:
                form.add_error("advocate", _("Choose an advocate."))
            else:
                try:
                    services.grant_create_by_moderator(user=_user(request), case=case,
                                                       advocate=advocate, days=form.cleaned_data["days"],
                                                       request_document=form.cleaned_data["request_document"])
                except services.GrantError as exc:
                    form.add_error(None, str(exc))
                else:
                    return redirect(f"{request.path}?case={case.court_reference}")
    reference = (request.GET.get("case") or "").strip().upper()
    grants: list[AdvocateGrant] = []
    if reference:
        case = Case.objects.filter(court_reference=reference).first()
        if case is not None:
            grants = services.victim_grants(case=case)
            staff_read_record(user=request.user, action="advocate_grant.list", case_id=case.id,
                              object_type="case", object_id=case.id)
    return render(request, "exports/staff_grants.html",
                  {"form": form, "grants": grants, "reference": reference}, status=status)


@require_POST
@csrf_protect
@staff_required(MODERATOR, ADMIN)
def staff_grant_revoke(request: HttpRequest, grant_id: str) -> HttpResponse:
    try:
        grant = services.grant_revoke(grant_id=grant_id, actor=Actor.for_user(request.user))
    except services.GrantError as exc:
        raise Http404("No such grant") from exc
    return redirect(f"{reverse('exports-staff-grants')}?case={grant.case.court_reference}")
