"""Video hashing: MD5/SHA-256 of the file, vPDQ bit-exact with Meta's `vpdq` binding, HMA's match rule, and a
clear refusal for every kind of bad file. Videos are drawn and encoded in code (tests/videos.py)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
import vpdq
from django.core.management import call_command
from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature

from detection.video import VideoHashes, VideoRejected, video_hash
from detection.videomatch import VpdqFeature, features_clean, features_parse, features_text, vpdq_compare, vpdq_key
from tests import videos


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    original = videos.scene(folder / "original.mp4", seed=1, seconds=8)
    return {
        "original": original,
        "webm": videos.scene(folder / "vp9.webm", seed=2, seconds=4, fps=25, size=(256, 144), codec="libvpx-vp9"),
        "mkv": videos.scene(folder / "h264.mkv", seed=3, seconds=3, fps=24, size=(322, 180)),
        "mov": videos.scene(folder / "mpeg4.mov", seed=4, seconds=3, size=(640, 360), codec="mpeg4"),
        "reencoded": videos.reencoded(original, folder / "reencoded.webm"),
        "trimmed": videos.trimmed(original, folder / "trimmed.mp4", start_frame=105, end_frame=195),
        "other": videos.scene(folder / "other.mp4", seed=99, seconds=8),
        # Tagged as HD phone videos are: vpdq ignores the tag (BT.601 conversion), so must we.
        "bt709": videos.encode(folder / "bt709.mp4", videos.scene_frames(5, seconds=3), colorspace="ITU709",
                               color_range="MPEG"),
        "bt709-full": videos.encode(folder / "bt709-full.mov", videos.scene_frames(6, seconds=3),
                                    colorspace="ITU709", color_range="JPEG"),
    }


def _binding(path: Path) -> list[tuple[int, float, str, int]]:
    return [(f.frame_number, f.timestamp, f.hex, f.quality) for f in vpdq.computeHash(str(path))]


def _ours(hashes: VideoHashes) -> list[tuple[int, float, str, int]]:
    return [(f.frame, f.second, f.pdq, f.quality) for f in hashes.vpdq]


@pytest.mark.parametrize("name", ["original", "webm", "mkv", "mov", "reencoded", "trimmed", "other", "bt709",
                                  "bt709-full"])
def test_vpdq_equals_the_binding_bit_for_bit(clips: dict[str, Path], name: str) -> None:
    hashes = video_hash(clips[name])
    expected = _binding(clips[name])
    assert len(expected) >= 3
    assert _ours(hashes) == expected
    data = clips[name].read_bytes()
    assert hashes.md5 == hashlib.md5(data).hexdigest() and hashes.sha256 == hashlib.sha256(data).hexdigest()


def test_frames_and_duration_are_measured(clips: dict[str, Path]) -> None:
    hashes = video_hash(clips["original"])
    assert hashes.frames == 240 and hashes.duration_s == pytest.approx(8.0, abs=0.001)
    assert [f.frame for f in hashes.vpdq] == list(range(0, 240, 30))
    every_half = video_hash(clips["original"], seconds_per_hash=0.5)
    assert [f.frame for f in every_half.vpdq] == list(range(0, 240, 15))
    binding = vpdq.computeHash(str(clips["original"]), seconds_per_hash=0.5)
    assert [(f.frame_number, f.timestamp, f.hex, f.quality) for f in binding] == _ours(every_half)


def _features(hashes: VideoHashes) -> list[VpdqFeature]:
    return [VpdqFeature(f.pdq, f.quality, f.second) for f in hashes.vpdq]


def _hma(query: list[VpdqFeature], compared: list[VpdqFeature]) -> tuple[float, float]:
    result = match_VPDQ_hash_brute([VpdqCompactFeature(f.pdq, f.quality, f.second) for f in query],
                                   [VpdqCompactFeature(f.pdq, f.quality, f.second) for f in compared], 50, 31)
    return result.query_match_percent, result.compared_match_percent


@pytest.mark.parametrize("copy", ["reencoded", "trimmed"])
def test_copies_match_the_original_by_hmas_rule(clips: dict[str, Path], copy: str) -> None:
    original = _features(video_hash(clips["original"]))
    query = _features(video_hash(clips[copy]))
    match = vpdq_compare(query, original)
    # Our rule is HMA's, to the percent: python-threatexchange's own matcher gives the same figures.
    assert (match.query_match_percent, match.compared_match_percent) == _hma(query, original)
    assert match.is_match() and match.query_match_percent >= 80
    if copy == "trimmed":  # 3 of the original's 8 seconds
        assert match.compared_match_percent < 100


def test_a_different_video_does_not_match(clips: dict[str, Path]) -> None:
    original = _features(video_hash(clips["original"]))
    other = _features(video_hash(clips["other"]))
    match = vpdq_compare(other, original)
    assert (match.query_match_percent, match.compared_match_percent) == _hma(other, original)
    assert not match.is_match()


def test_the_text_form_round_trips_and_keys_the_hash() -> None:
    features = [VpdqFeature("ab" * 32, 90, 0.0), VpdqFeature("cd" * 32, 12, 1.0)]
    assert features_parse(features_text(features)) == features
    assert features_text(features).splitlines()[0] == "ab" * 32 + ",90,0.000"
    assert vpdq_key(features) == hashlib.sha256(features_text(features).encode()).hexdigest()
    assert features_clean(["AB" * 32, {"pdq": "cd" * 32, "quality": 12, "second": 1}]) == [
        VpdqFeature("ab" * 32, 100, 0.0), VpdqFeature("cd" * 32, 12, 1.0)]
    for bad in (["zz"], ["ab" * 32 + ",101,0"], ["ab" * 32 + ",50,-1"], [{"pdq": 5}], [], [7]):
        with pytest.raises(ValueError):
            features_clean(bad)


def test_hash_video_command_prints_the_bindings_hashes(clips: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("hash_video", str(clips["webm"]), str(bad), "--json", stdout=out)
    assert exit_info.value.code == 1
    good, failed = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(good) == {"path", "md5", "sha256", "duration_s", "frames", "vpdq"}
    assert [(f["frame"], f["second"], f["pdq"], f["quality"]) for f in good["vpdq"]] == _binding(clips["webm"])
    assert good["frames"] == 100 and good["duration_s"] == pytest.approx(4.0)
    assert failed == {"path": str(bad), "error": "The file is not a video we can read (MP4, MOV, WebM or MKV)."}
    out = io.StringIO()
    call_command("hash_video", str(clips["mkv"]), "--json", stdout=out)  # all good: exit status 0
    assert json.loads(out.getvalue())["md5"] == hashlib.md5(clips["mkv"].read_bytes()).hexdigest()


def test_bad_files_get_a_clear_refusal(clips: dict[str, Path], tmp_path: Path) -> None:
    def refused(path: Path, **kwargs: object) -> str:
        with pytest.raises(VideoRejected) as info:
            video_hash(path, **kwargs)  # type: ignore[arg-type]
        return info.value.message

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert refused(empty) == "The file is empty."
    assert refused(tmp_path / "missing.mp4") == "The file could not be read."
    data = clips["original"].read_bytes()
    for cut in (len(data) // 2, 64):
        truncated = tmp_path / f"truncated-{cut}.mp4"
        truncated.write_bytes(data[:cut])
        assert "damaged" in refused(truncated) or "not a video" in refused(truncated)
    png = tmp_path / "picture.mp4"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert "not a video we can read" in refused(png)
    assert "larger than 10,000 pixels" in refused(clips["original"], max_pixels=10_000)
    assert refused(clips["original"], max_seconds=5) == "The video is longer than 5 seconds."


def test_playlists_and_other_demuxers_cannot_reach_other_files(clips: dict[str, Path], tmp_path: Path) -> None:
    # A playlist or concat list that names another file must not be followed: only MP4/MOV/Matroska/WebM open.
    playlist = tmp_path / "list.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:8,\n{clips['original']}\n#EXT-X-ENDLIST\n")
    concat = tmp_path / "concat.mkv"
    concat.write_text(f"ffconcat version 1.0\nfile '{clips['original']}'\n")
    for path in (playlist, concat):
        with pytest.raises(VideoRejected):
            video_hash(path)


def test_the_length_limit_holds_while_decoding(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # A container that declares no length (or a false one) is still stopped once the decoded frames pass it.
    monkeypatch.setattr("detection.video._declared_seconds", lambda container, stream: None)
    with pytest.raises(VideoRejected, match="longer than 2 seconds"):
        video_hash(clips["trimmed"], max_seconds=2)
    assert len(video_hash(clips["trimmed"], max_seconds=3).vpdq) == 3


def test_ten_bit_video_is_within_a_few_bits_of_the_binding(tmp_path: Path) -> None:
    # Known difference: swscale's 10-bit to 8-bit conversion differs between the FFmpeg in PyAV's wheel (8.x) and
    # the one the binding links here (Debian's 5.1), so a 10-bit (HEVC Main10, HDR phone) video's frames may differ
    # by a few bits. Same frames, same times; close enough never to change a match (distance 31).
    path = videos.encode(tmp_path / "ten-bit.mp4", videos.scene_frames(9, seconds=6), codec="libx265",
                         pix_fmt="yuv420p10le")
    ours = video_hash(path).vpdq
    theirs = vpdq.computeHash(str(path))
    assert [(f.frame, f.second) for f in ours] == [(f.frame_number, f.timestamp) for f in theirs]
    assert all((int(a.pdq, 16) ^ int(b.hex, 16)).bit_count() <= 6 and abs(a.quality - b.quality) <= 2
               for a, b in zip(ours, theirs, strict=True))
    assert vpdq_compare(_features(video_hash(path)),
                        [VpdqFeature(f.hex, f.quality, f.timestamp) for f in theirs]).is_match()
