"""Video hashing: MD5 and SHA-256 of the file, and vPDQ (Meta's video PDQ), bit-exact with the ``vpdq`` binding.

Pure library code: no Django. Everything goes through :func:`video_hash`, which takes a path (videos are too
large to pass around as bytes) and either returns :class:`VideoHashes` or raises :class:`VideoRejected` with a
message fit to show a person.

How vPDQ is computed, exactly as Meta's ``vpdq`` library does it (``vpdq/cpp/hashing/filehasher.cpp``), so the
frames here equal ``vpdq.computeHash(path)`` (``tests/detection/test_video.py`` compares them):

- the first video stream is decoded, every frame in presentation order, counting decoded frames from 0;
- the frame rate is the stream's average rate, or its base rate when the average is unknown;
- every ``int(seconds_per_hash * frame_rate)``-th frame (every frame when that is 0) is converted to 8-bit RGB
  at its own size with swscale's default BT.601 matrix (vpdq ignores the colour space a video declares) and
  PDQ-hashed at full resolution (no 512-pixel thumbnail, unlike still images);
- a frame's ``second`` is ``float32(frame) / float32(frame_rate)``, as the C++ computes it.

Decoding goes through PyAV (FFmpeg's libraries in its wheel) rather than the binding's own decoder so that the
limits below are checked before and while decoding, and so that production needs no compiler or FFmpeg
headers; PDQ of each frame is Meta's C++ through ``pdqhash``, the binding the image hashes use.

Untrusted bytes meet FFmpeg here, so the attack surface is kept small and every failure ends in
:class:`VideoRejected`: only the MP4/MOV and Matroska/WebM demuxers may open the file (no playlists, no
``concat``, no network or other files), only the ``file`` protocol; frame sizes are checked from the header
before decoding and on every frame; the length is checked from the header and while decoding; and the number
of decoded frames is capped, so a "decompression bomb" in frames stops early.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pdqhash
from av.video.reformatter import Colorspace
from numpy.typing import NDArray

#: Largest frame accepted, in pixels (4096 x 4096), read from the header before decoding and checked per frame.
MAX_PIXELS = 4096 * 4096
#: Most frames decoded from one file (an hour at 60 frames per second is 216,000).
MAX_DECODED_FRAMES = 250_000
#: Demuxers allowed to open a file: MP4, MOV (and their 3GP/M4A relatives), Matroska and WebM.
ALLOWED_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
#: Smallest frame side the vpdq library hashes (``MIN_HASHABLE_DIM`` in its bufferhasher.cpp).
MIN_HASHABLE_SIDE = 5

_CHUNK = 1024 * 1024


class VideoRejected(ValueError):
    """The file is not a video we can hash; ``message`` says why in words fit for the person uploading."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    frame: int  # index of the decoded frame, from 0
    second: float  # frame / frame rate, as the vpdq library computes it (32-bit float)
    pdq: str  # 64 hex characters, 256 bits
    quality: int  # 0..100; HMA ignores frames below 50 when matching

    def as_dict(self) -> dict[str, object]:
        return {"frame": self.frame, "second": self.second, "pdq": self.pdq, "quality": self.quality}


@dataclass(frozen=True, slots=True)
class VideoHashes:
    md5: str
    sha256: str
    duration_s: float  # measured from the decoded frames, rounded to milliseconds
    frames: int  # frames decoded from the video (not only those hashed)
    vpdq: tuple[VpdqFrame, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "md5": self.md5,
            "sha256": self.sha256,
            "duration_s": self.duration_s,
            "frames": self.frames,
            "vpdq": [frame.as_dict() for frame in self.vpdq],
        }


def video_hash(
    path: str | os.PathLike[str],
    *,
    seconds_per_hash: float = 1.0,
    max_seconds: float | None = None,
    max_pixels: int = MAX_PIXELS,
) -> VideoHashes:
    """Every hash of one video file. Raises :class:`VideoRejected` for anything that is not a usable video.

    ``seconds_per_hash`` is vpdq's: one frame is hashed per that many seconds of video (0 hashes every frame).
    ``max_seconds`` refuses longer videos (from the header, and again while decoding, since headers lie).
    """
    if not seconds_per_hash >= 0 or math.isinf(seconds_per_hash):
        raise ValueError("seconds_per_hash must be a finite number >= 0")
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError:
        raise VideoRejected("The file could not be read.") from None
    if not file.is_file():
        raise VideoRejected("The file could not be read.")
    if size == 0:
        raise VideoRejected("The file is empty.")
    md5, sha256 = _digests(file)
    try:
        frames, decoded, duration = _vpdq(file, seconds_per_hash, max_seconds, max_pixels)
    except VideoRejected:
        raise
    except MemoryError:
        raise VideoRejected("The video is too large to process.") from None
    except av.error.FFmpegError:
        raise VideoRejected("The video is damaged, truncated or in a format we cannot read.") from None
    except Exception:  # untrusted bytes in C decoders: any failure is a bad file, never a 500
        raise VideoRejected("The file could not be read as a video.") from None
    return VideoHashes(md5=md5, sha256=sha256, duration_s=duration, frames=decoded, vpdq=frames)


def frame_rate_of(stream: av.video.stream.VideoStream) -> Fraction:
    """The rate vpdq divides by: the stream's average frame rate, else its base (``r_frame_rate``) rate."""
    rate = stream.average_rate
    if rate is None or rate.numerator == 0 or rate.denominator == 0:
        rate = stream.base_rate
    if rate is None or rate.numerator == 0 or rate.denominator == 0:
        raise VideoRejected("The video does not say its frame rate.")
    return Fraction(rate)


def _digests(file: Path) -> tuple[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    try:
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                md5.update(chunk)
                sha256.update(chunk)
    except OSError:
        raise VideoRejected("The file could not be read.") from None
    return md5.hexdigest(), sha256.hexdigest()


def _vpdq(
    file: Path, seconds_per_hash: float, max_seconds: float | None, max_pixels: int
) -> tuple[tuple[VpdqFrame, ...], int, float]:
    options = {"format_whitelist": ALLOWED_DEMUXERS, "protocol_whitelist": "file"}
    try:
        container = av.open(str(file), mode="r", options=options)
    except av.error.FFmpegError:
        raise VideoRejected("The file is not a video we can read (MP4, MOV, WebM or MKV).") from None
    with container:
        if not container.streams.video:
            raise VideoRejected("The file has no video in it.")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise VideoRejected("The video does not say its frame size.")
        if width * height > max_pixels:
            raise VideoRejected(f"The video's frames are larger than {max_pixels:,} pixels.")
        if width < MIN_HASHABLE_SIDE or height < MIN_HASHABLE_SIDE:
            raise VideoRejected(f"The video's frames are smaller than {MIN_HASHABLE_SIDE} pixels on a side.")
        rate = frame_rate_of(stream)
        declared = _declared_seconds(container, stream)
        if max_seconds is not None and declared is not None and declared > max_seconds:
            raise VideoRejected(f"The video is longer than {_seconds_words(max_seconds)}.")
        # vpdq: ``int(secondsPerHash * frameRate)`` on doubles, at least 1.
        frame_mod = max(int(seconds_per_hash * (rate.numerator / rate.denominator)), 1)
        rate32 = np.float32(rate.numerator / rate.denominator)
        stream.thread_type = "SLICE"  # as vpdq: frame threading only adds latency here
        hashed: list[VpdqFrame] = []
        decoded = 0
        first_pts: int | None = None
        last_pts: int | None = None
        for frame in _frames(container, stream):
            number = decoded
            decoded += 1
            if decoded > MAX_DECODED_FRAMES:
                raise VideoRejected(f"The video has more than {MAX_DECODED_FRAMES:,} frames.")
            if frame.width != width or frame.height != height:
                raise VideoRejected("The video changes its frame size part-way through.")
            if max_seconds is not None and number / rate > max_seconds:
                raise VideoRejected(f"The video is longer than {_seconds_words(max_seconds)}.")
            if frame.pts is not None:
                first_pts = frame.pts if first_pts is None else min(first_pts, frame.pts)
                last_pts = frame.pts if last_pts is None else max(last_pts, frame.pts)
            if number % frame_mod == 0:
                # vpdq converts with swscale's defaults (BT.601 matrix) whatever colour space the video declares;
                # PyAV would honour a BT.709 tag (most HD phone videos carry one) and so differ from it.
                pdq, quality = _frame_pdq(frame.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU601))
                second = float(np.float32(number) / rate32)
                hashed.append(VpdqFrame(frame=number, second=second, pdq=pdq, quality=quality))
        if decoded == 0:
            raise VideoRejected("The video has no frames we can decode.")
        duration = _measured_seconds(decoded, rate, stream.time_base, first_pts, last_pts)
    return tuple(hashed), decoded, duration


def _frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """Decoded frames of ``stream`` in order; demuxer or decoder errors propagate (a damaged file is refused)."""
    for packet in container.demux(stream):
        yield from packet.decode()


def _frame_pdq(rgb: NDArray[np.generic]) -> tuple[str, int]:
    """PDQ of one 8-bit RGB frame at full size, as vpdq's ``PDQFrameBufferHasher`` hashes it.

    ``pdqhash`` forms the luma in double precision and rounds it to float; Meta's C++ forms it in float. The
    two differ by one unit in the last place for about a third of colours, which has not changed a hash or a
    quality on any frame we compared (tests/detection/test_video.py, bench/video_hash_speed.py).
    """
    hash_bits, quality = pdqhash.compute(np.ascontiguousarray(rgb, dtype=np.uint8))
    return _bits_hex(hash_bits), int(quality)


def _bits_hex(bits: NDArray[np.integer]) -> str:
    return f"{int(''.join('1' if bit else '0' for bit in bits), 2):064x}"


def _declared_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _measured_seconds(
    decoded: int, rate: Fraction, time_base: Fraction | None, first_pts: int | None, last_pts: int | None
) -> float:
    """Span of the decoded frames' timestamps plus one frame; frames / rate when the frames carry no times."""
    one_frame = 1 / rate
    if time_base is not None and first_pts is not None and last_pts is not None and last_pts > first_pts:
        return round(float((last_pts - first_pts) * time_base + one_frame), 3)
    return round(float(decoded * one_frame), 3)


def _seconds_words(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"
