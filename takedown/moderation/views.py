"""The moderator console: views translate requests into service calls and render the results."""

from __future__ import annotations

import io
import logging
import time
import uuid
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from takedown.core.evidence import evidence_stream
from takedown.core.roles import ADMIN, MODERATOR, staff_required
from takedown.core.services import staff_read_record
from takedown.exports.keys import trust_anchors
from takedown.moderation.forms import DecideForm, MessageCloseForm, ReplyForm, SecondReviewForm
from takedown.moderation.models import DECIDABLE_KINDS, ItemKind, ReviewItem
from takedown.moderation.selectors import case_review, queue_counts, queue_items, unanswered_messages
from takedown.moderation.services import (
    ClaimError,
    EvidenceUnreadable,
    ModerationError,
    moderation_case_open,
    moderation_claim,
    moderation_claim_check,
    moderation_claim_next,
    moderation_decide,
    moderation_image_read,
    moderation_image_reveal,
    moderation_item_done,
    moderation_keyframe_read,
    moderation_keyframe_reveal,
    moderation_message_close,
    moderation_queue_sync,
    moderation_release,
    moderation_reply,
    moderation_second_review,
    moderation_video_open,
    moderation_video_play,
)
from takedown.moderation.transparency import transparency_chart_svg, transparency_csv, transparency_report
from takedown.remedies.models import OPEN_STATES, RequestState

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

logger = logging.getLogger(__name__)
staff = staff_required(MODERATOR, ADMIN)


def _user(request: HttpRequest) -> User:
    # staff_required lets only signed-in staff through; this narrows the type and guards against misuse.
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user

REVEAL_SESSION_KEY = "moderation_revealed_image"
# A revealed image goes back behind its shield after this many seconds, or when another one is revealed.
REVEAL_SECONDS = 120
SHIELD_MAX_SIDE = 480


@require_GET
@staff
def queue(request: HttpRequest) -> HttpResponse:
    moderation_queue_sync()
    kind = request.GET.get("kind", "")
    if kind and kind not in ItemKind.values:
        return HttpResponseBadRequest(_("Unknown queue."))
    staff_read_record(user=_user(request), action="moderation.queue_view", detail={"kind": kind})
    counts = queue_counts()
    return render(request, "moderation/queue.html", {
        "items": queue_items(kind=kind)[:200],
        "kinds": [(value, label, counts[value]) for value, label in ItemKind.choices],
        "kind": kind,
        "now": timezone.now(),
        "unanswered": unanswered_messages(),
    })


@require_POST
@staff
def claim_next(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind and kind not in ItemKind.values:
        return HttpResponseBadRequest(_("Unknown queue."))
    item = moderation_claim_next(user=_user(request), kinds=[kind] if kind else ())
    if item is None:
        messages.info(request, _("Nothing left to claim in this queue."))
        return redirect("moderation-queue")
    return redirect("moderation-review", item_id=item.id)


@require_POST
@staff
def claim(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    try:
        item = moderation_claim(item_id=item_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ClaimError as exc:
        messages.error(request, str(exc))
        return redirect("moderation-queue")
    return redirect("moderation-review", item_id=item.id)


def _claim_error(request: HttpRequest, exc: ModerationError) -> HttpResponse:
    messages.error(request, str(exc))
    return redirect("moderation-queue")


@require_POST
@staff
def release(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    try:
        moderation_release(item_id=item_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ClaimError as exc:
        return _claim_error(request, exc)
    return redirect("moderation-queue")


def _revealed_image(request: HttpRequest) -> str | None:
    entry = request.session.get(REVEAL_SESSION_KEY)
    if not isinstance(entry, dict) or entry.get("until", 0) < time.time():
        return None
    return str(entry.get("image"))


@require_GET
@staff
def review(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    try:
        item = moderation_case_open(item_id=item_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ClaimError as exc:
        return _claim_error(request, exc)
    data = case_review(item.case)
    return render(request, "moderation/review.html", {
        "item": item,
        "review": data,
        "revealed": _revealed_image(request),
        "playing": _playing_video(request),
        "decidable": item.kind in DECIDABLE_KINDS,
        "decide_form": DecideForm(),
        "reply_form": ReplyForm(),
        "close_form": MessageCloseForm(),
        "second_review_form": SecondReviewForm(),
        "confirmed": item.case.status == "confirmed",
        "open_states": list(OPEN_STATES),
    })


@require_POST
@staff
def reveal(request: HttpRequest, item_id: uuid.UUID, image_id: uuid.UUID) -> HttpResponse:
    try:
        image = moderation_image_reveal(item_id=item_id, image_id=image_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    # One image at a time: revealing another puts the previous one back behind its shield.
    request.session[REVEAL_SESSION_KEY] = {"image": str(image.id), "until": time.time() + REVEAL_SECONDS}
    return redirect(reverse("moderation-review", kwargs={"item_id": item_id}) + f"#image-{image.id}")


@require_POST
@staff
def shield(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    request.session.pop(REVEAL_SESSION_KEY, None)
    return redirect("moderation-review", item_id=item_id)


def _png(picture: PILImage, *, shielded: bool) -> HttpResponse:
    """An image or keyframe as PNG. The shield is applied here, not only by CSS: unrevealed pixels never reach
    the browser (small, grey, blurred)."""
    from PIL import ImageFilter, ImageOps

    if shielded:
        picture.thumbnail((SHIELD_MAX_SIDE, SHIELD_MAX_SIDE))
        picture = ImageOps.grayscale(picture).filter(ImageFilter.GaussianBlur(radius=max(picture.size) / 18))
    out = io.BytesIO()
    picture.save(out, "PNG")
    response = HttpResponse(out.getvalue(), content_type="image/png")
    response["Content-Disposition"] = "inline"
    return response


@require_GET
@staff
def image(request: HttpRequest, item_id: uuid.UUID, image_id: uuid.UUID) -> HttpResponse:
    """The image, re-encoded (no metadata): blurred and grey unless this moderator revealed it just now."""
    from PIL import Image, ImageOps

    revealed = _revealed_image(request) == str(image_id)
    try:
        data = moderation_image_read(item_id=item_id, image_id=image_id, user=_user(request), revealed=revealed)
    except ClaimError:
        return HttpResponse(status=403)
    except (ReviewItem.DoesNotExist, ModerationError) as exc:
        raise Http404 from exc
    except EvidenceUnreadable:
        return HttpResponse(_("This image cannot be read from storage. The reason is in the server log: tell the "
                              "operator."), status=500, content_type="text/plain; charset=utf-8")
    try:
        opened = Image.open(io.BytesIO(data))
        picture: Image.Image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.error("stored image %s does not decode: %s", image_id, type(exc).__name__)
        return HttpResponse(_("This stored image does not decode. The reason is in the server log: tell the "
                              "operator."), status=500, content_type="text/plain; charset=utf-8")
    return _png(picture, shielded=not revealed)


@require_POST
@staff
def decide(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a decision."))
        return redirect("moderation-review", item_id=item_id)
    try:
        item = ReviewItem.objects.get(id=item_id)
        moderation_decide(item_id=item_id, user=_user(request),
                          decision=form.cleaned_data["decision"], reason=form.cleaned_data["reason"],
                          message=form.cleaned_data["message"])
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ClaimError as exc:
        return _claim_error(request, exc)
    except ModerationError as exc:
        messages.error(request, str(exc))
        return redirect("moderation-review", item_id=item_id)
    request.session.pop(REVEAL_SESSION_KEY, None)
    if form.cleaned_data["decision"] == "confirm":
        messages.success(request, _("Confirmed. The requests below were generated."))
        return redirect("remedies-case", case_id=item.case_id)
    messages.success(request, _("Decision recorded."))
    return redirect("moderation-queue")


@require_POST
@staff
def second_review(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    form = SecondReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to uphold or overturn the rejection."))
        return redirect("moderation-review", item_id=item_id)
    try:
        moderation_second_review(item_id=item_id, user=_user(request),
                                 approve=form.cleaned_data["verdict"] == "uphold", note=form.cleaned_data["note"])
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ClaimError as exc:
        return _claim_error(request, exc)
    except ModerationError as exc:
        messages.error(request, str(exc))
        return redirect("moderation-review", item_id=item_id)
    messages.success(request, _("Second review recorded."))
    return redirect("moderation-queue")


@require_POST
@staff
def reply(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a reply."))
        return redirect("moderation-review", item_id=item_id)
    try:
        item = moderation_claim_check(item_id=item_id, user=_user(request))
        moderation_reply(item_id=item_id, user=_user(request), body=form.cleaned_data["body"])
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    messages.success(request, _("Reply sent."))
    if item.kind == ItemKind.VICTIM_MESSAGE:
        return redirect("moderation-queue")
    return redirect("moderation-review", item_id=item_id)


@require_POST
@staff
def message_close(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    form = MessageCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why this message needs no reply."))
        return redirect("moderation-review", item_id=item_id)
    try:
        moderation_message_close(item_id=item_id, user=_user(request), reason=form.cleaned_data["reason"])
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    messages.success(request, _("Message closed without a reply."))
    return redirect("moderation-queue")


@require_POST
@staff
def item_done(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    try:
        moderation_item_done(item_id=item_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    return redirect("moderation-queue")


@require_GET
@staff
def transparency(request: HttpRequest) -> HttpResponse:
    report = transparency_report()
    staff_read_record(user=_user(request), action="transparency.view")
    try:
        anchors = trust_anchors()
    except (ImproperlyConfigured, OSError, ValueError):
        anchors = None
    return render(request, "moderation/transparency.html", {
        "report": report,
        "export_anchors": anchors,
        # Built from numbers and escaped platform names only (see transparency_chart_svg).
        "chart": mark_safe(transparency_chart_svg(report)),  # noqa: S308
        "request_states": RequestState.choices,
    })


@require_GET
@staff
def transparency_csv_view(request: HttpRequest) -> HttpResponse:
    report = transparency_report()
    staff_read_record(user=_user(request), action="transparency.export")
    response = HttpResponse(transparency_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="transparency.csv"'
    return response


# --- videos: keyframes (the contact sheet) and playback on request --------------------------------------------

PLAY_SESSION_KEY = "moderation_playing_video"
# A video asked for plays for this long; the page then shows the contact sheet only, until asked again.
PLAY_SECONDS = 600


def _keyframe_key(video_id: object, index: int) -> str:
    # Shares the reveal slot with images: revealing a keyframe puts any revealed image back behind its shield.
    return f"{video_id}:{index}"


def _playing_video(request: HttpRequest) -> str | None:
    entry = request.session.get(PLAY_SESSION_KEY)
    if not isinstance(entry, dict) or entry.get("until", 0) < time.time():
        return None
    return str(entry.get("video"))


@require_POST
@staff
def keyframe_reveal(request: HttpRequest, item_id: uuid.UUID, video_id: uuid.UUID, index: int) -> HttpResponse:
    try:
        video = moderation_keyframe_reveal(item_id=item_id, video_id=video_id, index=index, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    request.session[REVEAL_SESSION_KEY] = {"image": _keyframe_key(video.id, index),
                                           "until": time.time() + REVEAL_SECONDS}
    return redirect(reverse("moderation-review", kwargs={"item_id": item_id}) + f"#video-{video.id}")


@require_GET
@staff
def keyframe(request: HttpRequest, item_id: uuid.UUID, video_id: uuid.UUID, index: int) -> HttpResponse:
    """One keyframe of a video, as a PNG: blurred and grey unless this moderator revealed it just now."""
    from PIL import Image

    revealed = _revealed_image(request) == _keyframe_key(video_id, index)
    try:
        data = moderation_keyframe_read(item_id=item_id, video_id=video_id, index=index, user=_user(request),
                                        revealed=revealed)
    except ClaimError:
        return HttpResponse(status=403)
    except (ReviewItem.DoesNotExist, ModerationError) as exc:
        raise Http404 from exc
    except EvidenceUnreadable:
        return HttpResponse(_("This keyframe cannot be read from storage. The reason is in the server log: tell "
                              "the operator."), status=500, content_type="text/plain; charset=utf-8")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            picture: Image.Image = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.error("stored keyframe %d of video %s does not decode: %s", index, video_id, type(exc).__name__)
        return HttpResponse(_("This stored keyframe does not decode. The reason is in the server log: tell the "
                              "operator."), status=500, content_type="text/plain; charset=utf-8")
    return _png(picture, shielded=not revealed)


@require_POST
@staff
def video_play(request: HttpRequest, item_id: uuid.UUID, video_id: uuid.UUID) -> HttpResponse:
    try:
        video = moderation_video_play(item_id=item_id, video_id=video_id, user=_user(request))
    except ReviewItem.DoesNotExist as exc:
        raise Http404 from exc
    except ModerationError as exc:
        return _claim_error(request, exc)
    request.session[PLAY_SESSION_KEY] = {"video": str(video.id), "until": time.time() + PLAY_SECONDS}
    return redirect(reverse("moderation-review", kwargs={"item_id": item_id}) + f"#video-{video.id}")


@require_POST
@staff
def video_stop(request: HttpRequest, item_id: uuid.UUID) -> HttpResponse:
    request.session.pop(PLAY_SESSION_KEY, None)
    return redirect("moderation-review", item_id=item_id)


@require_GET
@staff
def video_stream(request: HttpRequest, item_id: uuid.UUID, video_id: uuid.UUID) -> HttpResponseBase:
    """The stored copy (no metadata), decrypted chunk by chunk: only while this moderator asked to play it."""
    if _playing_video(request) != str(video_id):
        return HttpResponse(status=403)
    try:
        video = moderation_video_open(item_id=item_id, video_id=video_id, user=_user(request))
    except ClaimError:
        return HttpResponse(status=403)
    except (ReviewItem.DoesNotExist, ModerationError) as exc:
        raise Http404 from exc
    response = StreamingHttpResponse(evidence_stream(video.blob_name), content_type=video.media_type)
    response["Content-Disposition"] = "inline"
    response["Content-Length"] = str(video.size)
    response["Cache-Control"] = "no-store"
    return response
