"""Video files at intake: is this a video we can work with, the copy we keep without metadata, and keyframes.

Pure (PyAV and Pillow, no Django), so it is testable on its own and usable by a worker or a command.

`video_probe` decides before anything is stored whether a file is a whole video of an accepted container (MP4,
MOV, WebM, Matroska) within the limits (bytes, seconds, width and height, frames). Hostile files each get their
own `VideoRejected` message: empty, too big, not a video or another container, no video stream, cut short,
undecodable, too large in width and height, too long, or a decompression bomb in frames (a small file declaring
or holding more frames than the limits allow). Its packets are all read (not decoded), so a file cut short is
caught here, and the first frame is decoded, so a stream that does not decode is caught too.

`video_strip_metadata` remuxes the video (and its first audio stream) into a new file of the same family
without re-encoding: packets are copied bit for bit, so every decoded frame (and the vPDQ hash) is the same,
while container and stream tags (GPS position, device make and model, creation times, XMP/udta boxes), chapters,
subtitles, data and attachment streams (Matroska cover art) are left behind. MP4/MOV are written "faststart"
(index first), so a moderator's player can start before the whole file arrives.

`video_keyframes` decodes only key frames (the decoder skips the rest) and keeps up to N of them (at most one per
second) spread over the video, as PNG (lossless: the detector scores these pixels), each bounded in size.
`contact_sheet` lays frames out in a grid for the court export.

Paths, not bytes: videos are up to hundreds of megabytes and never held in memory whole. FFmpeg opens the paths
itself (MP4 "faststart" re-opens its output), so callers pass real paths, e.g. `/dev/fd/N` of an unnamed
temporary file (`scratch_file`), which the operating system removes even if the process dies.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import av
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from detection import video as video_hashing

# FFmpeg demuxer names of the accepted families (what `container.format.name` says).
MOV_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_FAMILY = "matroska,webm"
ACCEPTED_DEMUXERS = {MOV_FAMILY: "mov", MATROSKA_FAMILY: "matroska"}
MEDIA_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "matroska": "video/x-matroska"}
WEBM_VIDEO_CODECS = {"vp8", "vp9", "av1"}
WEBM_AUDIO_CODECS = {"opus", "vorbis"}
_READ_OPTIONS = {"format_whitelist": video_hashing.ALLOWED_DEMUXERS, "protocol_whitelist": "file,fd,pipe"}
# A file whose packets stop this far before its declared length was cut short (allow for rounding and B-frames).
TRUNCATION_TOLERANCE = 0.97


class VideoRejected(video_hashing.VideoRejected):
    """A file intake refuses, with a message for the person and a short code for logs and tests (a
    detection.video.VideoRejected, so one `except` covers probing, hashing and keyframes)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 500 * 1024 * 1024
    max_seconds: float = 20 * 60
    max_side: int = 4096
    max_pixels: int = 4096 * 2304
    max_frames: int = 20 * 60 * 60  # 20 minutes at 60 frames per second
    max_fps: float = 240.0


@dataclass(frozen=True)
class VideoProbe:
    family: str  # "mov" or "matroska"
    container: str  # what the stored copy is written as: "mp4", "mov", "webm" or "matroska"
    media_type: str
    video_codec: str
    audio_codec: str
    width: int
    height: int
    duration_s: float
    frames: int  # video packets read (one frame each)
    fps: float
    # The container's and streams' tags, as read: for provenance only (they are not stored with the video).
    tags: dict[str, str] = field(default_factory=dict)


def _length_text(seconds: float) -> str:
    return f"{int(seconds // 60)} minutes" if seconds >= 120 else f"{int(seconds)} seconds"


def _rejected(message: str, code: str) -> VideoRejected:
    return VideoRejected(message, code=code)


def _tags(container: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in dict(container.metadata or {}).items():
        tags[f"format:{key}"[:100]] = str(value)[:500]
    for stream in container.streams:
        for key, value in dict(stream.metadata or {}).items():
            tags[f"stream{stream.index}:{key}"[:100]] = str(value)[:500]
        if len(tags) > 200:
            break
    return tags


def _output_container(family: str, tags: dict[str, str], video_codec: str, audio_codec: str) -> str:
    if family == "matroska":
        webm = video_codec in WEBM_VIDEO_CODECS and (not audio_codec or audio_codec in WEBM_AUDIO_CODECS)
        return "webm" if webm else "matroska"
    brand = tags.get("format:major_brand", "").strip().lower()
    return "mov" if brand == "qt" else "mp4"


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return 0.0


def video_probe(path: str, *, size: int, limits: VideoLimits) -> VideoProbe:
    """Check the file at `path` (`size` bytes) against the limits; raise VideoRejected with the reason."""
    if size <= 0:
        raise _rejected("This file is empty.", "empty")
    if size > limits.max_bytes:
        raise _rejected(f"This file is larger than {limits.max_bytes // (1024 * 1024)} MB.", "too-large")
    try:
        # Only the accepted demuxers and the file protocol (no playlists, concat or network), as detection.video.
        container = av.open(path, mode="r", options={"format_whitelist": video_hashing.ALLOWED_DEMUXERS,
                                                     "protocol_whitelist": "file,fd,pipe"})
    except av.FFmpegError:
        raise _rejected("This file is not a video we can read. Use MP4, MOV, WebM or MKV.", "not-video") from None
    try:
        return _probe_open(container, limits, size)
    except VideoRejected:
        raise
    except (av.FFmpegError, OSError, ValueError, MemoryError, OverflowError, ZeroDivisionError):
        raise _rejected("This video is damaged or incomplete. Try saving or exporting it again.",
                        "damaged") from None
    finally:
        container.close()


def _probe_open(container: Any, limits: VideoLimits, size: int) -> VideoProbe:
    family = ACCEPTED_DEMUXERS.get(container.format.name)
    if family is None:
        raise _rejected("This kind of file is not accepted. Use MP4, MOV, WebM or MKV.", "format")
    if not container.streams.video:
        raise _rejected("This file has no video in it.", "no-video")
    stream = container.streams.video[0]
    codec = stream.codec_context
    width, height = int(codec.width or 0), int(codec.height or 0)
    if width <= 0 or height <= 0:
        raise _rejected("This video is damaged or incomplete. Try saving or exporting it again.", "damaged")
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise _rejected("This video is too large in width and height to process.", "dimensions")
    declared_frames = int(stream.frames or 0)
    if declared_frames > limits.max_frames:
        raise _rejected("This video has more frames than we can process.", "frames")
    duration = _duration(container, stream)
    if duration > limits.max_seconds:
        raise _rejected(f"This video is longer than {_length_text(limits.max_seconds)}.", "too-long")
    audio = container.streams.audio[0] if container.streams.audio else None
    audio_codec = audio.codec_context.name if audio is not None else ""
    tags = _tags(container)

    # Read every packet without decoding (fast: no pixels), counting frames and where the video's packets end,
    # so a file cut short or holding a flood of frames is refused now, not in a worker later. A packet the
    # demuxer could read only in part (the file ends inside it) comes marked corrupt.
    frames = 0
    counts: dict[int, int] = {}
    last_end = 0.0
    first_packets: list[Any] = []
    for packet in container.demux():
        if packet.size == 0:
            continue  # the flush packet at the end
        if packet.is_corrupt or (packet.pos is not None and packet.pos >= 0 and packet.pos + packet.size > size):
            raise _rejected("This video is cut short: part of the file is missing. Try saving it again.",
                            "truncated")
        counts[packet.stream.index] = counts.get(packet.stream.index, 0) + 1
        if packet.stream.index != stream.index:
            continue
        frames += 1
        if frames > limits.max_frames:
            raise _rejected("This video has more frames than we can process.", "frames")
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            if end > limits.max_seconds + 1:
                raise _rejected(f"This video is longer than {_length_text(limits.max_seconds)}.", "too-long")
            last_end = max(last_end, end)
        if len(first_packets) < 32:
            first_packets.append(packet)
    if frames == 0:
        raise _rejected("This video is damaged or incomplete. Try saving or exporting it again.", "damaged")
    # MP4 and MOV index every packet: one missing from any stream (the file ended on a packet boundary) is a cut.
    if any(other.frames and counts.get(other.index, 0) < other.frames * TRUNCATION_TOLERANCE
           for other in container.streams if other.type in ("video", "audio")):
        raise _rejected("This video is cut short: part of the file is missing. Try saving it again.", "truncated")
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    if duration and last_end - start < duration * TRUNCATION_TOLERANCE - 0.5:
        raise _rejected("This video is cut short: part of the file is missing. Try saving it again.", "truncated")
    if not duration:
        duration = max(0.0, last_end - start)
    fps = frames / duration if duration > 0 else 0.0
    if fps > limits.max_fps:
        raise _rejected("This video has more frames than we can process.", "frames")
    _decode_first(first_packets, codec, limits)
    output = _output_container(family, tags, codec.name, audio_codec)
    return VideoProbe(family=family, container=output, media_type=MEDIA_TYPES[output], video_codec=codec.name,
                      audio_codec=audio_codec, width=width, height=height, duration_s=round(duration, 3),
                      frames=frames, fps=round(fps, 3), tags=tags)


def _decode_first(packets: Sequence[Any], codec: Any, limits: VideoLimits) -> None:
    """Decode up to the first frame: the stream must really be a decodable video of the size it declares."""
    for packet in [*packets, None]:
        try:
            decoded = codec.decode(packet)
        except av.error.EOFError:
            decoded = []
        for frame in decoded:
            _check_frame(frame, limits)
            return
    raise _rejected("This video is damaged or incomplete. Try saving or exporting it again.", "damaged")


def _check_frame(frame: Any, limits: VideoLimits) -> None:
    # The bitstream may change size mid-stream: every decoded frame is held to the limits, not only the header.
    if max(frame.width, frame.height) > limits.max_side or frame.width * frame.height > limits.max_pixels:
        raise _rejected("This video is too large in width and height to process.", "dimensions")


# --- the copy we keep --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrippedVideo:
    container: str
    media_type: str
    streams: int


def video_strip_metadata(source: str, destination: str, *, probe: VideoProbe) -> StrippedVideo:
    """Remux `source` into `destination` (both paths) without re-encoding and without metadata."""
    options = {"movflags": "+faststart"} if probe.container in ("mp4", "mov") else {}
    try:
        with av.open(source, mode="r", options=_READ_OPTIONS) as src, \
                av.open(destination, mode="w", format=probe.container, options=options) as dst:
            chosen = [src.streams.video[0]] + ([src.streams.audio[0]] if src.streams.audio else [])
            mapping: dict[int, Any] = {}
            for stream in chosen:
                out = dst.add_stream_from_template(stream)
                for key in list(out.metadata):
                    del out.metadata[key]
                mapping[stream.index] = out
            for packet in src.demux(chosen):
                if packet.size == 0:
                    continue  # the flush packet at the end
                packet.stream = mapping[packet.stream.index]
                dst.mux(packet)
            # Never copy chapters (titles may name people) or tags: the output container's dict starts empty.
            dst.metadata.clear()
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _rejected("This video could not be copied without its metadata. Try exporting it again.",
                        "remux") from exc
    return StrippedVideo(container=probe.container, media_type=probe.media_type, streams=len(chosen))


# --- keyframes and the contact sheet ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyframe:
    second: float
    width: int
    height: int
    png: bytes


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def video_keyframes(path: str, *, count: int = 12, max_side: int = 1280,
                    limits: VideoLimits | None = None) -> list[Keyframe]:
    """Up to `count` key frames spread over the video, in order, as PNG no larger than `max_side`.

    Only key frames are decoded (cheap); a video with fewer key frames than asked for (one every few
    seconds is common, one in all is possible) is decoded in full a second time and sampled evenly.
    """
    limits = limits or VideoLimits()
    try:
        # At most one frame per second of video: a 3-second clip gives 3, not 12 near-identical frames.
        count = max(1, min(count, math.ceil(_path_duration(path))))
        frames = _sample(path, count=count, keyframes_only=True, limits=limits)
        if len(frames) < count:
            complete = _sample(path, count=count, keyframes_only=False, limits=limits)
            if len(complete) > len(frames):
                frames = complete
    except VideoRejected:
        raise
    except (av.FFmpegError, OSError, ValueError, MemoryError):
        raise _rejected("This video could not be decoded.", "damaged") from None
    out: list[Keyframe] = []
    for second, image in frames:
        image.thumbnail((max_side, max_side))
        out.append(Keyframe(second=round(second, 3), width=image.width, height=image.height, png=_png(image)))
    return out


def _path_duration(path: str) -> float:
    with av.open(path, mode="r", options=_READ_OPTIONS) as container:
        return _duration(container, container.streams.video[0]) or 1.0


def _sample(path: str, *, count: int, keyframes_only: bool, limits: VideoLimits) -> list[tuple[float, Image.Image]]:
    with av.open(path, mode="r", options=_READ_OPTIONS) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY" if keyframes_only else "DEFAULT"
        duration = _duration(container, stream)
        step = duration / count if duration > 0 else 0.0
        next_at = 0.0
        chosen: list[tuple[float, Image.Image]] = []
        decoded = 0
        for frame in container.decode(stream):
            decoded += 1
            if decoded > limits.max_frames:
                raise _rejected("This video has more frames than we can process.", "frames")
            _check_frame(frame, limits)
            second = float(frame.time or 0.0)
            if second + 1e-6 < next_at:
                continue
            chosen.append((second, frame.to_image()))
            if len(chosen) >= count:
                break
            next_at = (len(chosen)) * step if step else second + 1e-3
        return chosen


def contact_sheet(frames: Sequence[tuple[float, bytes]], *, columns: int = 4, cell: int = 240,
                  shield: bool = True) -> bytes:
    """Frames (second, image bytes) laid out in a grid with their times, as PNG; blurred and grey by default."""
    rows = max(1, -(-len(frames) // columns))
    label = 18
    sheet = Image.new("RGB", (columns * cell, rows * (cell + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (second, data) in enumerate(frames):
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
        picture.thumbnail((cell - 8, cell - 8))
        if shield:
            picture = ImageOps.grayscale(picture).filter(
                ImageFilter.GaussianBlur(radius=max(picture.size) / 18)).convert("RGB")
        x = (index % columns) * cell + (cell - picture.width) // 2
        y = (index // columns) * (cell + label) + (cell - picture.height) // 2
        sheet.paste(picture, (x, y))
        minutes, seconds = divmod(second, 60)
        draw.text(((index % columns) * cell + 6, (index // columns) * (cell + label) + cell),
                  f"{int(minutes):02d}:{seconds:06.3f}", fill="black")
    return _png(sheet)


# --- scratch files ----------------------------------------------------------------------------------------------


@dataclass
class ScratchFile:
    """An unnamed temporary file (O_TMPFILE on Linux) and a path FFmpeg can open it by."""

    file: IO[bytes]

    @property
    def path(self) -> str:
        return f"/dev/fd/{self.file.fileno()}"

    def size(self) -> int:
        return os.fstat(self.file.fileno()).st_size


def scratch_file_open(directory: str | None = None) -> ScratchFile:
    """A new unnamed temporary file; the caller closes `.file`."""
    return ScratchFile(tempfile.TemporaryFile(dir=directory))


@contextmanager
def scratch_file(directory: str | None = None) -> Iterator[ScratchFile]:
    scratch = scratch_file_open(directory)
    try:
        yield scratch
    finally:
        scratch.file.close()
