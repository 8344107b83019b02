"""Test videos drawn in code (moving shapes and gradients; never people), encoded with PyAV."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

CODECS = {"mp4": "libx264", "mov": "libx264", "webm": "libvpx-vp9", "matroska": "libx264"}


def frame_pixels(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A frame with a gradient background and a square that moves, different every second."""
    y, x = np.mgrid[0:height, 0:width]
    phase = (index // 10) * 37 + seed * 11
    red = ((x * 255) // max(1, width - 1) + phase) % 256
    green = ((y * 255) // max(1, height - 1) + 2 * phase) % 256
    blue = ((x + y + 3 * phase) % 256)
    rgb = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    side = max(4, min(width, height) // 4)
    left = (index * 7 + seed * 13) % max(1, width - side)
    top = (index * 5 + seed * 3) % max(1, height - side)
    rgb[top:top + side, left:left + side] = (255 - 40 * (index // 10 % 5), 30, 200)
    return rgb


def video_bytes(*, container: str = "mp4", seconds: float = 3.0, fps: int = 10, width: int = 160, height: int = 120,
                seed: int = 0, metadata: dict[str, str] | None = None, stream_metadata: dict[str, str] | None = None,
                codec: str | None = None, gop: int | None = None, audio: bool = False, noise: bool = False,
                bit_rate: int | None = None) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as output:
        stream = output.add_stream(codec or CODECS[container], rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if gop is not None:
            stream.codec_context.gop_size = gop
        if stream_metadata:
            for key, value in stream_metadata.items():
                stream.metadata[key] = value
        sound = None
        if audio:
            sound = output.add_stream("aac" if container in ("mp4", "mov") else "libopus", rate=48000)
        for key, value in (metadata or {}).items():
            output.metadata[key] = value
        total = int(seconds * fps)
        rng = np.random.default_rng(seed)
        for index in range(total):
            pixels = frame_pixels(index, width, height, seed)
            if noise:  # incompressible: makes a large file quickly (with a fast codec such as mpeg4)
                pixels = rng.integers(0, 256, pixels.shape, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
        if sound is not None:
            samples = int(seconds * 48000)
            layout = "stereo"
            chunk = 1024
            for start in range(0, samples, chunk):
                tone = (np.sin(np.arange(start, start + chunk) / 20.0) * 0.2).astype(np.float32)
                aframe = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout=layout)
                aframe.sample_rate = 48000
                aframe.pts = start
                for packet in sound.encode(aframe):
                    output.mux(packet)
            for packet in sound.encode():
                output.mux(packet)
    return out.getvalue()


def report_video(client: object, data: bytes, *, name: str = "clip.mp4") -> object:
    """File a report with one video through the upload form (as a person would) and return its Case."""
    from django.urls import reverse

    from takedown.cases.models import Case

    handle = io.BytesIO(data)
    handle.name = name
    response = client.post(reverse("victims-report-upload"), {  # type: ignore[attr-defined]
        "content_kind": "deepfake", "urls": "https://videos.example.com/v/1", "description": "", "authority": "self",
        "good_faith": "on", "authorise_agent": "on", "signature": "J. D.", "contact": "", "videos": [handle]})
    assert response.status_code == 302, response.content.decode()[:2000]
    done = client.get(reverse("victims-report-done"))  # type: ignore[attr-defined]
    return Case.objects.get(reference=done.context["reference"])
