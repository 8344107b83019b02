"""Test videos drawn in code and encoded with PyAV: shapes, gradients and text, never people.

Each second of a scene shows a different arrangement (so vPDQ frames differ across seconds) that moves slowly
within the second (so a copy trimmed or re-encoded off the original's frame grid still lands near it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw


def scene_frames(seed: int, *, seconds: float, fps: int = 30, size: tuple[int, int] = (320, 240)) -> Iterator[
        NDArray[np.uint8]]:
    """RGB frames of a synthetic scene: a gradient, a few shapes and a caption, changing each second."""
    width, height = size
    rnd = random.Random(seed)
    layouts = [[(rnd.randrange(width), rnd.randrange(height), rnd.randrange(12, max(13, height // 3)),
                 tuple(rnd.randrange(256) for _ in range(3)), rnd.choice("re")) for _ in range(5)]
               for _ in range(math.ceil(seconds) + 1)]
    tilt = rnd.random() * math.tau
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(round(seconds * fps)):
        second, phase = divmod(index / fps, 1.0)
        angle = tilt + second * 0.9
        ramp = (xx * math.cos(angle) + yy * math.sin(angle)) / (width + height)
        base = np.stack([(ramp * 255 + 40 * second) % 256, (1 - ramp) * 200, np.full_like(ramp, 90 + 20 * phase)],
                        axis=-1).astype(np.uint8)
        image = Image.fromarray(base, "RGB")
        draw = ImageDraw.Draw(image)
        for x, y, radius, colour, kind in layouts[int(second)]:
            x += int(6 * phase)
            box = (x - radius, y - radius, x + radius, y + radius)
            (draw.rectangle if kind == "r" else draw.ellipse)(box, fill=colour)
        draw.text((8, height - 20), f"scene {seed} t={int(second)}", fill=(255, 255, 255))
        yield np.asarray(image)


def encode(path: Path, frames: Iterator[NDArray[np.uint8]] | list[NDArray[np.uint8]], *, fps: int | Fraction = 30,
           codec: str = "libx264", options: dict[str, str] | None = None, pix_fmt: str = "yuv420p",
           colorspace: str | None = None, color_range: str | None = None) -> Path:
    """Encode RGB frames into ``path`` (the container follows the suffix), optionally tagged with a colour space
    (``"ITU709"``, ...) and range (``"MPEG"`` limited, ``"JPEG"`` full) as phone videos are."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        assert isinstance(stream, av.VideoStream)
        if colorspace:
            stream.codec_context.colorspace = getattr(av.video.reformatter.Colorspace, colorspace)
        if color_range:
            stream.codec_context.color_range = getattr(av.video.reformatter.ColorRange, color_range)
        started = False
        for frame in frames:
            if not started:
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = pix_fmt
                started = True
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded(path: Path) -> Iterator[NDArray[np.uint8]]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def scene(path: Path, seed: int, *, seconds: float = 6, fps: int = 30, size: tuple[int, int] = (320, 240),
          codec: str = "libx264") -> Path:
    return encode(path, scene_frames(seed, seconds=seconds, fps=fps, size=size), fps=fps, codec=codec)


def reencoded(source: Path, path: Path, *, scale: float = 0.5, codec: str = "libvpx-vp9", fps: int = 30) -> Path:
    """A lossy copy: smaller, another codec, low quality."""
    def frames() -> Iterator[NDArray[np.uint8]]:
        for frame in decoded(source):
            height, width = frame.shape[:2]
            size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
            yield np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
    options = {"crf": "45", "b:v": "0"} if codec == "libvpx-vp9" else {"crf": "35"}
    return encode(path, frames(), fps=fps, codec=codec, options=options)


def trimmed(source: Path, path: Path, *, start_frame: int, end_frame: int | None = None, fps: int = 30) -> Path:
    """A copy that starts ``start_frame`` frames in (and ends before ``end_frame``), re-encoded."""
    frames = list(decoded(source))[start_frame:end_frame]
    return encode(path, frames, fps=fps, options={"crf": "28"})
