"""The advocate's page for recording a court order (the order itself and what it sets off live in
takedown.remedies.court_orders). Input and output only, plus the two checks every advocate action here makes: an
active grant to the case (no grant answers "not found", as for a case that does not exist) and a fresh code from
the advocate's authenticator, as for an export.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from takedown.core.audit import Actor
from takedown.core.roles import ADVOCATE, staff_required
from takedown.exports.services import (
    GrantNotFound,
    ReconfirmFailed,
    ReconfirmLocked,
    advocate_grant_get,
    advocate_reconfirm,
)
from takedown.remedies.court_orders import (
    CourtOrderRefused,
    CourtOrderUploadHandler,
    RecordedOrder,
    court_order_check,
    court_order_record,
)
from takedown.remedies.forms import CourtOrderForm
from takedown.remedies.services import RemedyError

TEMPLATE = "remedies/court_order_new.html"


def advocate_court_order_record(*, user: User, reference: str, otp_token: str, court: str, docket_number: str,
                                order_date: Any, scope: list[str], document: bytes) -> RecordedOrder:
    """Grant, then the fields and the PDF (refused before a code is spent), then the fresh code, then the record."""
    grant = advocate_grant_get(user=user, reference=reference)
    court_order_check(court=court, docket_number=docket_number, order_date=order_date, scope=scope,
                      document=document)
    advocate_reconfirm(user=user, otp_token=otp_token)
    return court_order_record(case=grant.case, court=court, docket_number=docket_number, order_date=order_date,
                              scope=scope, document=document, recorded_by=user, actor=Actor.for_user(user))


def _uploads_in_memory(view: Any) -> Any:
    """The PDF stays in memory (CourtOrderUploadHandler); the handler must be set before CSRF reads the body."""
    protected = csrf_protect(view)

    @csrf_exempt
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.upload_handlers = [CourtOrderUploadHandler(request)]
        return protected(request, *args, **kwargs)

    return wrapper


@never_cache
@staff_required(ADVOCATE)
@_uploads_in_memory
def advocate_court_order(request: HttpRequest, reference: str) -> HttpResponse:
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
        return render(request, TEMPLATE, context)
    if form.is_valid():
        data = form.cleaned_data
        try:
            recorded = advocate_court_order_record(
                user=user, reference=reference, otp_token=data["otp_token"], court=data["court"],
                docket_number=data["docket_number"], order_date=data["order_date"], scope=data["scope"],
                document=data["document"])
        except GrantNotFound as exc:
            raise Http404("No such case") from exc
        except ReconfirmLocked as locked:
            form.add_error(None, _("Too many wrong codes. Try again in %(minutes)d minutes.")
                           % {"minutes": max(1, locked.retry_after // 60)})
            response = render(request, TEMPLATE, context, status=429)
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
    return render(request, TEMPLATE, context, status=400)
