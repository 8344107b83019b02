"""Unsigned origin metadata: IPTC DigitalSourceType in XMP, generator text chunks in PNG, EXIF tags.

All of it is a claim: a generator may write it, anyone can strip or forge it. The parsing is bounded:
XMP is searched with anchored, length-limited regular expressions over the raw bytes (no XML parser, so
no entity expansion), and Pillow's own limits cap PNG text chunks (ImageFile/PngImagePlugin
MAX_TEXT_CHUNK / MAX_TEXT_MEMORY).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from PIL import Image

from detection.provenance.signals import (
    CAPTURED_SOURCE_TYPES,
    GENERATED_SOURCE_TYPES,
    ProvenanceSignal,
    clip,
    source_type_code,
)

# XMP property in attribute form (Iptc4xmpExt:DigitalSourceType="..."), element form (<...>value<),
# or as an rdf:resource attribute. Any namespace prefix.
_DIGITAL_SOURCE_TYPE = re.compile(
    rb"""DigitalSourceType(?:\s+rdf:resource)?\s*(?:=\s*["']|>\s*)([\w:/.#-]{1,200})["'<]""",
)
# A NewsCodes code is one camelCase word; anything else in that slot is junk and is ignored.
_SOURCE_TYPE_CODE = re.compile(r"[A-Za-z]{3,64}")
_CREATOR_TOOL = re.compile(rb"""CreatorTool\s*(?:=\s*["']|>\s*)([^"'<>]{1,300})""")

# Generator names, from a data file (detection/provenance/generators.json), matched as whole words ONLY in
# fields whose meaning is "the software that made this file": EXIF/PNG Software, PNG Source, XMP CreatorTool
# (and a C2PA action's softwareAgent, c2pa_read). Never in captions, titles, descriptions or comments: a photo
# of "the Gemini telescope" or "Grok the cat" says nothing about how it was made.
GENERATORS_FILE = Path(__file__).with_name("generators.json")


@lru_cache(maxsize=1)
def _generators() -> list[tuple[str, re.Pattern[str]]]:
    entries = json.loads(GENERATORS_FILE.read_text(encoding="utf-8"))["generators"]
    return [(str(e["name"]), re.compile(rf"(?<![\w.-])(?:{e['pattern']})(?![\w])", re.IGNORECASE)) for e in entries]


def generator_named(value: str) -> str:
    """The generator a structured software field names ("" when none). The value is clipped first."""
    value = clip(value, 300)
    for name, pattern in _generators():
        if pattern.search(value):
            return name
    return ""


# PNG text keys written by generator front-ends: key -> tool.
_PNG_KEYS = {
    "parameters": "AUTOMATIC1111-style web UI (A1111, Forge, SD.Next)",
    "prompt": "ComfyUI",
    "workflow": "ComfyUI",
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "dream": "InvokeAI (legacy)",
    "fooocus_scheme": "Fooocus",
    "aigc": "AIGC label (GB 45438 implicit label)",
}
_A1111_PARAMETERS = re.compile(r"Steps:\s*\d+.*Sampler:", re.DOTALL)
_A1111_MODEL = re.compile(r"\bModel:\s*([^,\n]{1,100})")

EXIF_SOFTWARE = 0x0131
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286


def xmp_signals(data: bytes) -> list[ProvenanceSignal]:
    """DigitalSourceType and CreatorTool from every uncompressed XMP packet in the file's bytes."""
    signals: list[ProvenanceSignal] = []
    codes = {source_type_code(m.decode("ascii", "replace")) for m in _DIGITAL_SOURCE_TYPE.findall(data)}
    for code in sorted(c for c in codes if _SOURCE_TYPE_CODE.fullmatch(c)):
        says: bool | None = None
        if code in GENERATED_SOURCE_TYPES:
            says = True
        elif code in CAPTURED_SOURCE_TYPES:
            says = False
        signals.append(
            ProvenanceSignal(
                kind="digital_source_type",
                strength="claimed",
                says_generated=says,
                summary=f"XMP metadata declares IPTC DigitalSourceType {code} (unsigned claim)",
                detail={"digital_source_type": code},
            )
        )
    for tool in sorted({m.decode("utf-8", "replace") for m in _CREATOR_TOOL.findall(data)}):
        signals.extend(_named_tool("XMP CreatorTool", tool))
    return signals


def _named_tool(field: str, value: str) -> list[ProvenanceSignal]:
    generator = generator_named(value)
    if not generator:
        return []
    return [
        ProvenanceSignal(
            kind="generator_metadata",
            strength="claimed",
            says_generated=True,
            summary=f"{field} names a known image generator ({generator}): {clip(value, 80)} (unsigned claim)",
            detail={"field": field, "value": clip(value, 80), "generator": generator},
        )
    ]


def png_text_signals(text: Mapping[str, object]) -> list[ProvenanceSignal]:
    """Generator keys among PNG tEXt/zTXt/iTXt chunks. Values are inspected, never copied (prompts)."""
    signals: list[ProvenanceSignal] = []
    lowered = {str(key).strip().lower(): value for key, value in text.items()}
    tools: dict[str, list[str]] = {}
    detail: dict[str, str] = {}
    for key, tool in _PNG_KEYS.items():
        if key in lowered:
            tools.setdefault(tool, []).append(key)
    parameters = lowered.get("parameters")
    if isinstance(parameters, str):
        model = _A1111_MODEL.search(parameters)
        if model:
            detail["model"] = clip(model.group(1), 100)
        if not _A1111_PARAMETERS.search(parameters):
            # A bare "parameters" key is common enough elsewhere that it alone is not a generator mark.
            tools.pop(_PNG_KEYS["parameters"], None)
    prompt = lowered.get("prompt")
    if isinstance(prompt, str) and not _looks_like_comfy_graph(prompt) and "workflow" not in lowered:
        tools.pop("ComfyUI", None)
    for tool, keys in sorted(tools.items()):
        signals.append(
            ProvenanceSignal(
                kind="generator_metadata",
                strength="claimed",
                says_generated=True,
                summary=f"PNG text {', '.join(repr(k) for k in keys)} written by {tool} (unsigned claim)",
                detail={"tool": tool, "keys": keys, **detail},
            )
        )
    # "Software" and "Source" (the PNG spec's "device used to create the image") are generator fields;
    # "Comment", "Description" and "Title" are free text and are never searched for names.
    for key in ("software", "source"):
        value = lowered.get(key)
        if isinstance(value, str):
            signals.extend(_named_tool(f"PNG text {key!r}", value))
    return _dedupe(signals)


def _looks_like_comfy_graph(value: str) -> bool:
    if len(value) > 5_000_000:
        return False
    try:
        graph = json.loads(value)
    except ValueError:
        return False
    return isinstance(graph, dict) and any(isinstance(v, dict) and "class_type" in v for v in graph.values())


def exif_signals(image: Image.Image) -> list[ProvenanceSignal]:
    exif = image.getexif()
    signals: list[ProvenanceSignal] = []
    # Only the Software tag names the program that wrote the file; ImageDescription is a caption, Make the
    # camera maker. Neither is searched for generator names.
    for tag, field in ((EXIF_SOFTWARE, "EXIF Software"),):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            signals.extend(_named_tool(field, value))
    comment = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    text = _user_comment(comment)
    if text and _A1111_PARAMETERS.search(text):
        model = _A1111_MODEL.search(text)
        signals.append(
            ProvenanceSignal(
                kind="generator_metadata",
                strength="claimed",
                says_generated=True,
                summary="EXIF UserComment holds AUTOMATIC1111-style generation parameters (unsigned claim)",
                detail={
                    "tool": _PNG_KEYS["parameters"],
                    "field": "EXIF UserComment",
                    **({"model": clip(model.group(1), 100)} if model else {}),
                },
            )
        )
    return _dedupe(signals)


def _user_comment(value: object) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        return ""
    # EXIF UserComment starts with an 8-byte character-code header.
    header, body = value[:8], value[8:]
    if header.startswith(b"UNICODE"):
        for encoding in ("utf-16-be", "utf-16-le"):
            text = body.decode(encoding, "replace")
            if "Steps" in text:
                return text
        return body.decode("utf-16-be", "replace")
    return body.decode("utf-8", "replace")


def _dedupe(signals: Iterable[ProvenanceSignal]) -> list[ProvenanceSignal]:
    seen: set[str] = set()
    unique = []
    for signal in signals:
        if signal.summary not in seen:
            seen.add(signal.summary)
            unique.append(signal)
    return unique
