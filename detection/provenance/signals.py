"""What a file says about its own origin, as JSON-serialisable signals.

Strength tells how far a signal can be believed:
* "verified": a C2PA manifest whose signature and hashes validate and whose signer chains to a trust anchor
  the operator configured (C2PA_TRUST_ANCHORS_PEM);
* "invalid": a C2PA manifest that fails validation (tampered or broken): reported, never relied on;
* "claimed": unsigned metadata (XMP, PNG text, EXIF), or a C2PA manifest signed by a signer nobody vouches
  for. Anyone can write or strip it;
* "statistical": an invisible watermark decoded at high bit agreement.

Prompts and other free text found in metadata are never copied into a signal: a prompt for a deepfake
can name the person depicted, and signals travel to moderators, removal requests and court exports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Strength = Literal["verified", "invalid", "claimed", "statistical"]
Kind = Literal["c2pa", "digital_source_type", "generator_metadata", "watermark"]

# IPTC NewsCodes digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/) that mean the
# pixels were made, wholly or in part, by a generative model.
GENERATED_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",
        "algorithmicMedia",
    }
)
# Types that claim a capture (camera, scan). Reported, but as unsigned claims they do not clear an image.
CAPTURED_SOURCE_TYPES = frozenset(
    {"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm", "print", "compositeCapture"}
)
MAX_TEXT = 200


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Bound any string taken from a file before it goes into a signal."""
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_type_code(value: str) -> str:
    """The code at the end of an IPTC NewsCodes URI (or the code itself when given bare)."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ProvenanceSignal:
    kind: Kind
    strength: Strength
    # True: the signal says generated; False: says captured; None: informative only.
    says_generated: bool | None
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProvenanceReport:
    format: str = ""
    signals: list[ProvenanceSignal] = field(default_factory=list)
    # One entry per part that could not be read, e.g. "c2pa: manifest is malformed (Decoding)".
    unreadable: list[str] = field(default_factory=list)
    # Checks that were not run, and why (e.g. "watermark: image too small").
    skipped: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return not self.unreadable

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "signals": [signal.as_dict() for signal in self.signals],
            "unreadable": list(self.unreadable),
            "skipped": list(self.skipped),
        }
