from __future__ import annotations

import sys

from django.contrib import auth
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login

from takedown.core.forms import StaffLoginForm
from takedown.core.health import health_report
from takedown.core.http import client_address
from takedown.core.navigation import staff_links
from takedown.core.roles import staff_required, user_role
from takedown.core.services import SignInFailed, SignInLocked, staff_sign_in_check


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. Rendered without templates or the database, which may be what failed.

    When the database is unreachable (a restart, a failover) the change's transaction could not commit (and what
    runs after a commit never fails a request: the outbox's after-commit publish is robust), so the person is told
    to send it again, with a 503 and Retry-After, rather than a bare 500.
    """
    unavailable = isinstance(sys.exc_info()[1], DatabaseError)
    status = 503 if unavailable else 500
    if request.path.startswith(("/api/", "/m/")):
        code, message = (("unavailable", "The service is briefly unavailable; nothing was stored. Retry shortly.")
                         if unavailable else ("server_error", "Internal error."))
        response: HttpResponse = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    else:
        text = (_("The service is briefly unavailable. Nothing you sent was saved: go back and send it again in a "
                  "minute.") if unavailable else
                _("Something went wrong on our side. Please try again later."))
        response = HttpResponse(f"<!doctype html><title>{status}</title><p>{text}</p>", status=status,
                                content_type="text/html; charset=utf-8")
    if unavailable:
        response["Retry-After"] = "30"
    return response


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)


@require_http_methods(["GET", "POST"])
@csrf_protect
@never_cache
def staff_login(request: HttpRequest) -> HttpResponse:
    form = StaffLoginForm(request.POST or None)
    status = 200
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST" and form.is_valid():
        try:
            user, device = staff_sign_in_check(
                request=request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                otp_token=form.cleaned_data["otp_token"],
                address=client_address(request),
            )
        except SignInLocked as locked:
            form.add_error(
                None,
                _("Too many failed attempts. Try again in %(minutes)d minutes.")
                % {"minutes": max(1, locked.retry_after // 60)},
            )
            status = 429
        except SignInFailed:
            form.add_error(None, _("That username, password and code do not match."))
            status = 400
        else:
            auth.login(request, user)  # type: ignore[arg-type]
            otp_login(request, device)
            # Only a path on this site: redirect() would take any other word ("notaurl") for a view name and
            # fail to reverse it (a 500 after a correct sign-in).
            if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
                    next_url, {request.get_host()}, require_https=request.is_secure()):
                next_url = ""
            return redirect(next_url or "staff-home")
    elif request.method == "POST":
        status = 400
    response = render(request, "core/login.html", {"form": form, "next": next_url}, status=status)
    if status == 429:
        response["Retry-After"] = str(900)
    return response


@require_POST
def staff_logout(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    return redirect("staff-login")


@require_GET
@staff_required()
def staff_home(request: HttpRequest) -> HttpResponse:
    role = user_role(request.user)
    return render(request, "core/staff_home.html", {"role": role, "staff_links": staff_links(role)})
