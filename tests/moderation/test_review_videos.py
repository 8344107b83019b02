"""Videos on the review page: blurred grey keyframes revealed one at a time, playback only on request, muted."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import Case, CaseVideo
from takedown.core.evidence import evidence_get
from takedown.core.models import AuditEvent
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import moderation_claim, moderation_item_open
from tests.conftest import make_staff, verified_client
from tests.intake_videos import report_video, video_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"
    settings.DETECTOR_WEIGHTS = settings.DETECTOR_WEIGHTS_SHA256 = ""


@pytest.fixture
def claimed(moderator: Any) -> ReviewItem:
    case = report_video(Client(), video_bytes(container="mp4", seconds=3, fps=10, gop=10, width=320, height=240))
    assert isinstance(case, Case)
    item = (ReviewItem.objects.filter(case=case, kind=ItemKind.NEW_REPORT).first()
            or moderation_item_open(case=case, kind=ItemKind.NEW_REPORT))
    moderation_claim(item_id=item.id, user=moderator)
    return item


def _png(response: Any) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def test_video_shows_as_blurred_keyframes_and_hashes_with_no_player(claimed: ReviewItem,
                                                                    moderator_client: Client) -> None:
    video = CaseVideo.objects.get(case=claimed.case)
    html = moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()
    assert html.count('alt="Blurred keyframe"') == 3 and 'class="revealed"' not in html
    assert video.md5 in html and video.sha256 in html and "3 frame hashes" in html
    assert "<video" not in html and "Play this video (muted)" in html
    for index in range(3):
        shielded = _png(moderator_client.get(reverse("moderation-keyframe", args=[claimed.id, video.id, index])))
        assert shielded.mode == "L" and max(shielded.size) <= 480
    assert moderator_client.get(reverse("moderation-keyframe", args=[claimed.id, video.id, 3])).status_code == 404


def test_keyframes_are_revealed_one_at_a_time_and_audited(claimed: ReviewItem, moderator_client: Client) -> None:
    video = CaseVideo.objects.get(case=claimed.case)
    url = reverse("moderation-keyframe", args=[claimed.id, video.id, 1])
    assert moderator_client.get(reverse("moderation-keyframe-reveal", args=[claimed.id, video.id, 1])).status_code \
        == 405
    assert moderator_client.post(reverse("moderation-keyframe-reveal", args=[claimed.id, video.id, 1])).status_code \
        == 302
    assert AuditEvent.objects.filter(action="moderation.keyframe_reveal", object_id=str(video.id)).count() == 1
    revealed = _png(moderator_client.get(url))
    assert revealed.mode == "RGB" and revealed.size == (320, 240)
    assert AuditEvent.objects.filter(action="moderation.keyframe_view", object_id=str(video.id)).count() == 1
    html = moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()
    assert html.count('class="revealed"') == 1 and html.count('alt="Blurred keyframe"') == 2
    # Revealing another puts the first back behind its shield.
    moderator_client.post(reverse("moderation-keyframe-reveal", args=[claimed.id, video.id, 2]))
    assert _png(moderator_client.get(url)).mode == "L"
    moderator_client.post(reverse("moderation-shield", args=[claimed.id]))
    html = moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()
    assert 'class="revealed"' not in html


def test_the_video_plays_only_when_asked_muted_and_audited(claimed: ReviewItem, moderator_client: Client) -> None:
    video = CaseVideo.objects.get(case=claimed.case)
    stream = reverse("moderation-video", args=[claimed.id, video.id])
    assert moderator_client.get(stream).status_code == 403  # not asked for
    assert moderator_client.post(reverse("moderation-video-play", args=[claimed.id, video.id])).status_code == 302
    assert AuditEvent.objects.filter(action="moderation.video_play", object_id=str(video.id)).count() == 1
    html = moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()
    assert html.count("<video") == 1 and " muted " in html.split("<video", 1)[1].split(">", 1)[0] + " "
    response = moderator_client.get(stream)
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == evidence_get(video.blob_name)  # the copy without metadata
    assert AuditEvent.objects.filter(action="moderation.video_view", object_id=str(video.id)).count() == 1
    moderator_client.post(reverse("moderation-video-stop", args=[claimed.id]))
    assert moderator_client.get(stream).status_code == 403
    assert "<video" not in moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()


def test_another_moderator_cannot_see_or_play_a_claimed_case_video(claimed: ReviewItem) -> None:
    other = verified_client(make_staff("m2", "moderator"))
    video = CaseVideo.objects.get(case=claimed.case)
    assert other.post(reverse("moderation-keyframe-reveal", args=[claimed.id, video.id, 0])).status_code == 302
    assert other.get(reverse("moderation-keyframe", args=[claimed.id, video.id, 0])).status_code == 403
    assert other.post(reverse("moderation-video-play", args=[claimed.id, video.id])).status_code == 302
    assert other.get(reverse("moderation-video", args=[claimed.id, video.id])).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["moderation.keyframe_reveal", "moderation.video_play"]).exists()
    anonymous = Client()
    assert anonymous.get(reverse("moderation-video", args=[claimed.id, video.id])).status_code in (302, 403)
