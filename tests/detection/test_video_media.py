"""detection.video_media: probing hostile files, stripping metadata by remux, keyframes. Videos drawn in code."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import av
import pytest
from PIL import Image

from detection.video_media import (
    VideoLimits,
    VideoRejected,
    contact_sheet,
    scratch_file,
    video_keyframes,
    video_probe,
    video_strip_metadata,
)
from tests.intake_videos import video_bytes

SECRET_TAGS = {"title": "Jane at home", "location": "+12.3456-045.6789/", "comment": "shot on my phone"}


def _write(tmp_path: Path, data: bytes, name: str = "video") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _probe(tmp_path: Path, data: bytes, **limits: float) -> object:
    return video_probe(_write(tmp_path, data), size=len(data), limits=VideoLimits(**limits))  # type: ignore[arg-type]


def _frames(path: str) -> list[str]:
    with av.open(path) as container:
        return [hashlib.sha256(frame.to_ndarray(format="rgb24").tobytes()).hexdigest()
                for frame in container.decode(video=0)]


@pytest.mark.parametrize(("container", "stored_as", "media_type"), [
    ("mp4", "mp4", "video/mp4"), ("mov", "mov", "video/quicktime"), ("webm", "webm", "video/webm"),
    ("matroska", "matroska", "video/x-matroska"),
])
def test_accepted_containers_are_probed_and_stripped_without_changing_a_frame(
        tmp_path: Path, container: str, stored_as: str, media_type: str) -> None:
    data = video_bytes(container=container, seconds=2, fps=10, metadata=SECRET_TAGS, audio=True)
    source = _write(tmp_path, data)
    probe = video_probe(source, size=len(data), limits=VideoLimits())
    assert (probe.container, probe.media_type, probe.width, probe.height, probe.frames) == (
        stored_as, media_type, 160, 120, 20)
    assert abs(probe.duration_s - 2.0) < 0.1
    assert any("Jane at home" in value for value in probe.tags.values())  # read for provenance

    destination = str(tmp_path / "stripped")
    stripped = video_strip_metadata(source, destination, probe=probe)
    assert stripped.streams == 2  # video and audio kept
    kept = Path(destination).read_bytes()
    for secret in (b"Jane at home", b"+12.3456", b"shot on my phone"):
        assert secret not in kept
    again = video_probe(destination, size=len(kept), limits=VideoLimits())
    assert not any("Jane" in value or "12.3456" in value for value in again.tags.values())
    # Remuxed, not re-encoded: every decoded frame is bit-identical, so vPDQ is too.
    assert _frames(destination) == _frames(source)


def test_mp4_copy_is_written_index_first_so_playback_can_start_early(tmp_path: Path) -> None:
    data = video_bytes(container="mp4", seconds=1)
    assert data.index(b"moov") > data.index(b"mdat")  # the generator writes the index last
    source = _write(tmp_path, data)
    probe = video_probe(source, size=len(data), limits=VideoLimits())
    video_strip_metadata(source, str(tmp_path / "out"), probe=probe)
    kept = (tmp_path / "out").read_bytes()
    assert kept.index(b"moov") < kept.index(b"mdat")


@pytest.mark.parametrize(("make", "code"), [
    (lambda good: b"", "empty"),
    (lambda good: good[: len(good) // 2], "not-video"),  # index at the end: cut off with it
    (lambda good: b"just some text, not a video " * 40, "not-video"),
    (lambda good: b"GIF89a" + bytes(200), "not-video"),
])
def test_hostile_files_are_refused_with_their_reason(tmp_path: Path, make: object, code: str) -> None:
    good = video_bytes(container="mp4", seconds=1)
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, make(good))  # type: ignore[operator]
    assert refused.value.code == code
    assert refused.value.message


@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.995])
def test_a_file_cut_short_is_refused_even_with_its_index_first(tmp_path: Path, fraction: float) -> None:
    data = video_bytes(container="mp4", seconds=2, audio=True)
    source = _write(tmp_path, data)
    video_strip_metadata(source, str(tmp_path / "fast"), probe=video_probe(source, size=len(data),
                                                                           limits=VideoLimits()))
    fast = (tmp_path / "fast").read_bytes()
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, fast[: int(len(fast) * fraction)])
    assert refused.value.code == "truncated"


def test_a_webm_cut_short_is_refused(tmp_path: Path) -> None:
    data = video_bytes(container="webm", seconds=2)
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, data[: len(data) // 2])
    assert refused.value.code == "truncated"


def test_other_containers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, video_bytes(container="avi", codec="mpeg4", seconds=1))
    assert refused.value.code == "not-video"
    assert "MP4, MOV, WebM or MKV" in refused.value.message


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    out = io.BytesIO()
    import numpy as np

    with av.open(out, mode="w", format="matroska") as output:
        stream = output.add_stream("libopus", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 960), dtype=np.float32), format="fltp", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            output.mux(packet)
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, out.getvalue())
    assert refused.value.code == "no-video"


@pytest.mark.parametrize(("limits", "code"), [
    ({"max_bytes": 1000}, "too-large"),
    ({"max_seconds": 1.5}, "too-long"),
    ({"max_side": 100}, "dimensions"),
    ({"max_pixels": 160 * 119}, "dimensions"),
    ({"max_frames": 25}, "frames"),
    ({"max_fps": 5}, "frames"),
])
def test_limits_are_enforced(tmp_path: Path, limits: dict[str, float], code: str) -> None:
    data = video_bytes(container="mp4", seconds=3, fps=10)
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, data, **limits)
    assert refused.value.code == code


def test_frame_flood_is_refused_without_decoding_it(tmp_path: Path) -> None:
    """A decompression bomb in frames: tiny static frames at a huge rate; few bytes, a flood of pictures."""
    data = video_bytes(container="matroska", seconds=2, fps=2000, width=16, height=16, codec="libx264")
    assert len(data) < 400_000
    with pytest.raises(VideoRejected) as refused:
        _probe(tmp_path, data)
    assert refused.value.code == "frames"


def test_keyframes_are_spread_over_the_video_and_bounded(tmp_path: Path) -> None:
    data = video_bytes(container="mp4", seconds=4, fps=10, width=320, height=240, gop=10)
    frames = video_keyframes(_write(tmp_path, data), count=4, max_side=200)
    assert [frame.second for frame in frames] == [0.0, 1.0, 2.0, 3.0]
    for frame in frames:
        with Image.open(io.BytesIO(frame.png)) as image:
            assert image.format == "PNG"
            assert image.size == (200, 150) == (frame.width, frame.height)


def test_video_with_a_single_keyframe_is_sampled_evenly(tmp_path: Path) -> None:
    data = video_bytes(container="mp4", seconds=4, fps=10, gop=1000)
    frames = video_keyframes(_write(tmp_path, data), count=4)
    assert [frame.second for frame in frames] == [0.0, 1.0, 2.0, 3.0]


def test_contact_sheet_is_grey_and_blurred_by_default(tmp_path: Path) -> None:
    data = video_bytes(container="mp4", seconds=2, gop=10)
    frames = video_keyframes(_write(tmp_path, data), count=2)
    sheet = contact_sheet([(frame.second, frame.png) for frame in frames], columns=2, cell=120)
    with Image.open(io.BytesIO(sheet)) as image:
        rgb = image.convert("RGB")
        raw = rgb.tobytes()
    assert rgb.size == (240, 138)
    assert raw[0::3] == raw[1::3] == raw[2::3]  # greyscale everywhere
    revealed = contact_sheet([(frame.second, frame.png) for frame in frames], columns=2, cell=120, shield=False)
    with Image.open(io.BytesIO(revealed)) as image:
        raw = image.convert("RGB").tobytes()
        assert raw[0::3] != raw[1::3]


def test_scratch_file_has_no_name_and_ffmpeg_can_open_it(tmp_path: Path) -> None:
    data = video_bytes(container="webm", seconds=1)
    with scratch_file(str(tmp_path)) as scratch:
        scratch.file.write(data)
        scratch.file.flush()
        assert list(tmp_path.iterdir()) == []  # O_TMPFILE: nothing to leave behind after a crash
        assert video_probe(scratch.path, size=scratch.size(), limits=VideoLimits()).frames == 10
