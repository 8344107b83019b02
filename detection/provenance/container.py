"""What a video container's tags say about the video's origin (MP4/MOV udta and keys, Matroska tags).

Read at intake before the tags are stripped (detection.video_media.video_strip_metadata), so provenance can be
reported about the file as sent while the stored copy keeps none of it. Like every unsigned metadata this is a
claim (strength "claimed"): anyone can write or strip these tags. Values are inspected, never copied whole:
free text (titles, comments, descriptions) can name the person shown; only a bounded snippet of a tag that names a
generator goes into the signal, as for images (detection.provenance.metadata).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from detection.provenance.metadata import xmp_signals
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal, clip

# Video generators and face-swap tools, matched as whole words in encoder/software/comment-like tags.
_VIDEO_GENERATORS = re.compile(
    r"\b(sora|runway(?:ml)?|gen-[234]|pika(?:\s?labs)?|kling|veo\s?[23]?|luma(?:\s?dream\s?machine)?|"
    r"hailuo|minimax|haiper|synthesia|heygen|stable video diffusion|animatediff|deepfacelab|faceswap|roop|"
    r"facefusion|deep-live-cam|wan2\.[12]|hunyuanvideo|cogvideox?|ltx-video|midjourney|comfyui)\b",
    re.IGNORECASE,
)
# Tags whose values are tool names or free text where a tool signs its output.
_TOOL_KEYS = re.compile(r"(encoder|encoded_by|software|tool|writing_application|writing_library|comment|"
                        r"description|handler_name|com\.apple\.quicktime\.software|title|artist|copyright)$",
                        re.IGNORECASE)


def container_signals(tags: Mapping[str, str]) -> ProvenanceReport:
    """Signals from tags as detection.video_media.video_probe reads them ("format:encoder", "stream0:...")."""
    report = ProvenanceReport(format="video")
    signals: list[ProvenanceSignal] = []
    for key, value in sorted(tags.items()):
        field = key.split(":", 1)[-1]
        text = str(value)
        if "xmp" in field.lower() or "DigitalSourceType" in text:
            signals.extend(xmp_signals(text.encode("utf-8", "replace")))
        if not _TOOL_KEYS.search(field):
            continue
        match = _VIDEO_GENERATORS.search(text)
        if match is None:
            continue
        signals.append(ProvenanceSignal(
            kind="generator_metadata", strength="claimed", says_generated=True,
            summary=f"container tag {clip(field, 40)} names a known video generator or face-swap tool: "
                    f"{match.group(1)}",
            detail={"field": clip(field, 40), "generator": match.group(1)}))
    seen: set[tuple[str, str]] = set()
    for signal in signals:
        marker = (signal.kind, signal.summary)
        if marker not in seen:
            seen.add(marker)
            report.signals.append(signal)
    report.skipped.append("c2pa and watermark: not read from video containers")
    return report
