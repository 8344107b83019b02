"""Videos at intake: the report and add-more forms, hostile files, the stored copy, processing and withdrawal.

Videos are drawn in code (tests/intake_videos.py): gradients and a moving square, never people.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from detection.video import video_hash
from takedown.cases.models import Case, CaseStatus, CaseVideo
from takedown.core.evidence import evidence_get, evidence_names_on_disk
from takedown.core.models import AuditEvent
from tests.intake_videos import video_bytes
from tests.victims.conftest import FiledCase, jpeg_with_gps, open_case, report_data
from victims.uploads import VideoUploadHandler

pytestmark = pytest.mark.django_db(transaction=True)

TAGS = {"title": "Jane at home", "location": "+12.3456-045.6789/", "comment": "made with FaceFusion 3.1"}


def _bank_status(signal_type: str, case: Case) -> dict[str, str]:
    """The real bank's entries of one signal type that this case brought: value -> status."""
    from detection.models import BankEntry

    return dict(BankEntry.objects.filter(signal_type=signal_type, sources__source_id=str(case.id))
                .values_list("value", "status"))


def _file(data: bytes, name: str = "my-video.mp4") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _report(client: Client, **fields: Any) -> Any:
    return client.post(reverse("victims-report-upload"), {**report_data(), **fields})


def _filed(client: Client) -> Case:
    done = client.get(reverse("victims-report-done"))
    return Case.objects.get(reference=done.context["reference"])


def _disk(storage: Path) -> list[bytes]:
    return [p.read_bytes() for p in storage.rglob("*") if p.is_file()]


def test_video_report_is_stored_without_metadata_encrypted_hashed_and_keyframed(
        client: Client, storage: Path) -> None:
    original = video_bytes(container="mp4", seconds=3, fps=10, metadata=TAGS, audio=True, gop=10)
    response = _report(client, videos=[_file(original)])
    assert response.status_code == 302, response.content.decode()[:3000]
    case = _filed(client)
    assert case.status == CaseStatus.IN_REVIEW  # processed after commit
    video = case.videos.get()
    assert video.state == CaseVideo.State.HASHED, video.error
    # Exact-copy digests are of the file as sent: what a copy online has and what StopNCII matches.
    assert video.md5 == hashlib.md5(original).hexdigest() and video.sha256 == hashlib.sha256(original).hexdigest()
    assert (video.media_type, video.width, video.height, video.frames) == ("video/mp4", 160, 120, 30)
    assert abs(video.duration_s - 3.0) < 0.05

    # On disk: only encrypted blobs; nothing of the tags or the plain video.
    blobs = _disk(storage)
    assert blobs and all(blob[:4] in (b"TDE1", b"TDE2") for blob in blobs)
    assert not any(b"Jane at home" in blob or b"ftyp" in blob for blob in blobs)
    stored = evidence_get(video.blob_name)
    for secret in (b"Jane at home", b"+12.3456", b"FaceFusion"):
        assert secret not in stored
    # The tags were read for provenance before they went: the generator is named, the title is not kept.
    assert "facefusion" in json.dumps(video.provenance).lower()
    assert "Jane" not in json.dumps(video.provenance)

    # vPDQ of the stored copy equals vPDQ of the file as sent: remuxed, not re-encoded.
    sent = Path(storage) / "sent.mp4"
    sent.write_bytes(original)
    assert video.vpdq == [frame.as_dict() for frame in video_hash(sent).vpdq]
    sent.unlink()
    assert video.vpdq_frames == 3
    # Keyframes for the contact sheet: stored encrypted, one per second here (a key frame every 10 frames).
    assert [frame["second"] for frame in video.keyframes] == [0.0, 1.0, 2.0]
    assert all(evidence_get(frame["blob"]).startswith(b"\x89PNG") for frame in video.keyframes)
    assert _bank_status("video_md5", case) == {video.md5: "Received"}
    assert len(_bank_status("vpdq", case)) == 1
    assert video.analysis["bank"] == {"available": True, "matches": []}
    submitted = AuditEvent.objects.get(case_id=case.id, action="case.submitted")
    assert submitted.detail["videos"] == 1 and "Jane" not in json.dumps(submitted.detail)


@pytest.mark.parametrize("container", ["mov", "webm", "matroska"])
def test_every_accepted_container_is_taken(client: Client, container: str) -> None:
    original = video_bytes(container=container, seconds=1, metadata=TAGS)
    response = _report(client, images=[_file(jpeg_with_gps(), "a.jpg")], videos=[_file(original, "clip")])
    assert response.status_code == 302, response.content.decode()[:3000]
    video = _filed(client).videos.get()
    assert video.state == CaseVideo.State.HASHED
    assert b"Jane at home" not in evidence_get(video.blob_name)


def _bad_videos() -> dict[str, tuple[bytes, str]]:
    good = video_bytes(container="mp4", seconds=2)
    return {
        "truncated": (good[: len(good) // 2], "This file is not a video we can read"),
        "empty": (b"", "This file is empty."),
        "text": (b"not a video at all " * 50, "This file is not a video we can read"),
        "avi": (video_bytes(container="avi", codec="mpeg4", seconds=1), "Use MP4, MOV, WebM or MKV"),
        "webm-cut": (video_bytes(container="webm", seconds=2)[:-3000], "cut short"),
    }


@pytest.mark.parametrize("kind", list(_bad_videos()))
def test_hostile_videos_get_a_clear_400_and_nothing_is_stored(client: Client, storage: Path, kind: str) -> None:
    data, message = _bad_videos()[kind]
    response = _report(client, videos=[_file(data)])
    assert response.status_code == 400
    page = response.content.decode()
    assert "Video 1:" in page or kind == "empty"
    assert message in page
    assert "images.example.com/p/1" in page  # what the person typed is still there
    assert not Case.objects.exists() and not CaseVideo.objects.exists()
    assert evidence_names_on_disk() == []


def test_limits_come_from_settings(client: Client, settings: Any) -> None:
    clip = video_bytes(container="mp4", seconds=3, width=320, height=240)
    settings.VIDEO_MAX_BYTES = len(clip) - 1
    response = _report(client, videos=[_file(clip)])
    assert response.status_code == 400
    assert "Video 1: This video is larger than" in response.content.decode()
    settings.VIDEO_MAX_BYTES = 500 * 1024 * 1024
    settings.VIDEO_MAX_SECONDS = 60
    response = _report(client, videos=[_file(video_bytes(container="mp4", seconds=2, fps=1))])
    assert response.status_code == 302
    settings.VIDEO_MAX_SECONDS = 1
    response = _report(client, videos=[_file(video_bytes(container="mp4", seconds=3))])
    assert response.status_code == 400 and "This video is longer than 1 minutes." in response.content.decode()


def test_more_than_three_videos_are_refused(client: Client) -> None:
    clip = video_bytes(container="mp4", seconds=1)
    response = _report(client, videos=[_file(clip) for _ in range(4)])
    assert response.status_code == 400
    assert "Choose at most 3 videos at a time." in response.content.decode()


def test_a_report_needs_an_image_or_a_video(client: Client) -> None:
    response = _report(client)
    assert response.status_code == 400
    assert "Choose at least one image or video." in response.content.decode()


def test_device_mode_sends_only_the_md5(client: Client) -> None:
    md5 = hashlib.md5(b"a video that stayed on the phone").hexdigest()
    response = client.post(reverse("victims-report-device"),
                           report_data(device_videos=json.dumps([{"md5": md5, "size": 12345678}])))
    assert response.status_code == 302, response.content.decode()[:2000]
    case = _filed(client)
    assert case.intake_mode == "device"
    video = case.videos.get()
    assert (video.source, video.blob_name, video.md5, video.size, video.state) == (
        "device", "", md5, 12345678, CaseVideo.State.HASHED)
    assert video.vpdq == [] and video.keyframes == []
    assert _bank_status("video_md5", case) == {md5: "Received"}
    assert _bank_status("vpdq", case) == {}


@pytest.mark.parametrize("text", [
    "not json", "[]", "{}", json.dumps([{"md5": "z" * 32, "size": 1}]), json.dumps([{"md5": "a" * 32}]),
    json.dumps([{"md5": "a" * 32, "size": True}]), json.dumps([{"md5": "a" * 32, "size": 0}]),
    json.dumps([{"md5": f"{n:032x}", "size": 1} for n in range(4)]),
])
def test_bad_device_video_hashes_are_refused(client: Client, text: str) -> None:
    response = client.post(reverse("victims-report-device"), report_data(device_videos=text))
    assert response.status_code == 400
    assert not Case.objects.exists()


def test_add_more_takes_a_video_and_withdrawal_deletes_every_video_file(
        client: Client, storage: Path) -> None:
    video_case = _report_and_open(client)
    clip = video_bytes(container="webm", seconds=2)
    response = client.post(reverse("victims-case-evidence"), {"videos": [_file(clip)]})
    assert response.status_code == 302, response.content.decode()[:3000]
    videos = list(video_case.videos.order_by("created_at"))
    assert [v.source for v in videos] == ["upload", "evidence"]
    assert all(v.state == CaseVideo.State.HASHED for v in videos)
    files = sum(len(v.blob_names()) for v in videos)
    assert files >= 4 and len(evidence_names_on_disk()) >= files

    page = client.get(reverse("victims-case-status")).content.decode()
    assert "Your videos" in page and "<video" not in page  # nothing plays back to the person

    response = client.post(reverse("victims-case-withdraw"), {"confirm": "on", "secret": SECRETS[video_case.id]})
    assert response.status_code == 200
    names = set(evidence_names_on_disk())
    assert not any(name in names for v in videos for name in v.blob_names())
    for video in CaseVideo.objects.filter(case=video_case):
        assert (video.state, video.blob_name, video.keyframes, video.md5, video.sha256, video.vpdq) == (
            "deleted", "", [], "", "", [])
    statuses = {**_bank_status("video_md5", video_case), **_bank_status("vpdq", video_case)}
    assert len(statuses) == 4 and set(statuses.values()) == {"Withdrawn"}
    receipt = client.get(reverse("victims-withdrawal-receipt")).content.decode()
    assert receipt.count("video file, its keyframes and fingerprints deleted") == 2


SECRETS: dict[Any, str] = {}


def _report_and_open(client: Client) -> Case:
    response = _report(client, videos=[_file(video_bytes(container="mp4", seconds=2, gop=10))])
    assert response.status_code == 302
    done = client.get(reverse("victims-report-done"))
    filed = FiledCase(case=Case.objects.get(reference=done.context["reference"]),
                      reference=done.context["reference"], secret=done.context["secret"])
    open_case(client, filed)
    SECRETS[filed.case.id] = filed.secret
    return filed.case


def test_withdrawal_while_a_video_is_processed_keeps_nothing_made_from_it(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from victims import services, videos

    real = videos.video_keyframes

    def withdraw_meanwhile(*args: Any, **kwargs: Any) -> Any:
        frames = real(*args, **kwargs)
        case = Case.objects.get()
        services.case_withdraw(case=case)
        return frames

    monkeypatch.setattr(videos, "video_keyframes", withdraw_meanwhile)
    response = _report(client, videos=[_file(video_bytes(container="mp4", seconds=2))])
    assert response.status_code == 302
    video = CaseVideo.objects.get()
    assert video.state == CaseVideo.State.DELETED and video.keyframes == []
    assert evidence_names_on_disk() == []


def test_upload_handler_streams_videos_to_an_unnamed_file_and_hashes_as_they_arrive(settings: Any) -> None:
    settings.VIDEO_MAX_BYTES = 10
    handler = VideoUploadHandler(None)
    handler.new_file("videos", "secret-name.mp4", "video/mp4", None)
    for start in (0, 4):
        assert handler.receive_data_chunk(b"abcd", start) is None
    upload = handler.file_complete(8)
    assert upload is not None
    assert upload.name == "video" and upload.md5 == hashlib.md5(b"abcdabcd").hexdigest()
    assert upload.scratch.size() == 8 and not upload.too_large
    assert Path(upload.scratch.path).resolve().name.endswith("(deleted)") or "#" in str(
        Path(upload.scratch.path).resolve())  # O_TMPFILE: no name in any directory
    upload.close()
    handler.new_file("videos", "big.mp4", "video/mp4", None)
    for start in (0, 8):
        handler.receive_data_chunk(b"abcdefgh", start)
    big = handler.file_complete(16)
    assert big is not None and big.too_large and big.scratch.size() == 0
    big.close()
    handler.new_file("images", "a.jpg", "image/jpeg", None)
    assert handler.receive_data_chunk(b"jpeg", 0) == b"jpeg"  # images pass on to the in-memory handler
    assert handler.file_complete(4) is None


def test_the_same_video_and_a_re_encoded_copy_match_earlier_cases(client: Client) -> None:
    original = video_bytes(container="mp4", seconds=4, fps=10, width=320, height=240, seed=5)
    first = _report_and_open_with(client, original)
    same = _report_and_open_with(Client(), original)
    copy = _report_and_open_with(Client(), video_bytes(container="webm", seconds=4, fps=10, width=320, height=240,
                                                       seed=5))
    same_matches = same.videos.get().analysis["bank"]["matches"]
    assert {match["signal"] for match in same_matches} == {"video_md5", "vpdq"}
    copy_matches = copy.videos.get().analysis["bank"]["matches"]
    assert [match["signal"] for match in copy_matches] == ["vpdq"]  # another file: no MD5 match, near frames
    assert copy_matches[0]["query_match_percent"] >= 80 and copy_matches[0]["compared_match_percent"] >= 80
    assert first.videos.get().analysis["bank"]["matches"] == []


def _report_and_open_with(client: Client, data: bytes) -> Case:
    response = _report(client, videos=[_file(data)])
    assert response.status_code == 302, response.content.decode()[:2000]
    return _filed(client)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("VIDEO_MAX_SIDE", 100, "This video is too large in width and height to process."),
    ("VIDEO_MAX_FRAMES", 10, "This video has more frames than we can process."),
])
def test_frame_limits_come_from_settings(client: Client, settings: Any, setting: str, value: int,
                                         message: str) -> None:
    setattr(settings, setting, value)
    response = _report(client, videos=[_file(video_bytes(container="mp4", seconds=2))])
    assert response.status_code == 400 and message in response.content.decode()


def test_a_hostile_video_added_later_loses_nothing_already_stored(client: Client) -> None:
    case = _report_and_open(client)
    video = case.videos.get()
    before = (video.state, video.md5, list(video.blob_names()))
    good = video_bytes(container="mp4", seconds=2)
    response = client.post(reverse("victims-case-evidence"), {"videos": [_file(good[: len(good) // 2])]})
    assert response.status_code == 400
    assert "Video 1: This file is not a video we can read" in response.content.decode()
    video.refresh_from_db()
    assert (video.state, video.md5, list(video.blob_names())) == before
    assert all(evidence_get(name) for name in video.blob_names())
    assert case.videos.count() == 1
