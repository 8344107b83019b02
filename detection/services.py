"""Django glue for the detector and provenance: configuration from settings, a per-process detector, health.

The detector itself (detection/detector) and provenance (detection/provenance) import no Django; this
module only reads settings. The worker loads the model once per process (`detector_current`); the web
process never needs torch: its health check verifies the configured weights file's SHA-256 and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings

from detection.provenance.reader import ProvenanceLimits

if TYPE_CHECKING:
    from detection.detector.interface import Detector
    from detection.detector.runtime import DetectorConfig


def detector_config() -> DetectorConfig:
    from detection.detector.runtime import DetectorConfig, DetectorConfigError

    arch_kwargs, problem = _arch_kwargs()
    if problem:
        raise DetectorConfigError(problem)
    return DetectorConfig(
        weights_path=settings.DETECTOR_WEIGHTS,
        weights_sha256=settings.DETECTOR_WEIGHTS_SHA256,
        architecture=settings.DETECTOR_ARCHITECTURE,
        arch_kwargs=arch_kwargs,
        device=settings.DETECTOR_DEVICE,
        precision=settings.DETECTOR_PRECISION,
        batch_size=settings.DETECTOR_BATCH_SIZE,
        threshold=settings.DETECTOR_THRESHOLD,
        cpu_threads=settings.DETECTOR_CPU_THREADS,
    )


def _arch_kwargs() -> tuple[dict[str, Any], str]:
    """DETECTOR_ARCH_KWARGS parsed, and what is wrong with it ("" when nothing). No torch import."""
    try:
        arch_kwargs = json.loads(settings.DETECTOR_ARCH_KWARGS or "{}")
    except ValueError:
        return {}, "DETECTOR_ARCH_KWARGS is not valid JSON"
    if not isinstance(arch_kwargs, dict):
        return {}, "DETECTOR_ARCH_KWARGS must be a JSON object"
    return arch_kwargs, ""


@lru_cache(maxsize=1)
def detector_current() -> Detector:
    """This process's detector, loaded on first use: a working one, or a `DisabledDetector` saying why."""
    from detection.detector.interface import DisabledDetector

    _, problem = _arch_kwargs()
    if problem:
        return DisabledDetector(problem, architecture=settings.DETECTOR_ARCHITECTURE)
    if not settings.DETECTOR_WEIGHTS:
        # Off by configuration: say so without importing torch (the in-process worker of a small
        # deployment runs inside the web process).
        return DisabledDetector(
            "no weights configured (DETECTOR_WEIGHTS is empty): the detector is off",
            architecture=settings.DETECTOR_ARCHITECTURE,
        )
    from detection.detector.runtime import DetectorConfigError, detector_load

    try:
        config = detector_config()
    except DetectorConfigError as exc:
        return DisabledDetector(str(exc))
    return detector_load(config)


def provenance_limits() -> ProvenanceLimits:
    return ProvenanceLimits(
        max_bytes=settings.MAX_UPLOAD_BYTES,
        c2pa_trust_anchors_pem=settings.C2PA_TRUST_ANCHORS_PEM,
    )


@lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime so a replaced file is hashed again, an unchanged one only once.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def detector_report(detector: Detector | None = None) -> dict[str, Any]:
    """This process's detector as a worker heartbeat or /healthz shows it: "on" or "off" with the reason,
    and the device, precision, threshold and calibration it really has (loads it when not yet loaded)."""
    status = (detector or detector_current()).status
    return {"state": "on" if status.enabled else "off", **status.as_dict()}


def detector_weights_check() -> tuple[bool, dict[str, Any]]:
    """(ok, info) from what the web process can see without torch: is the configured weights file there and
    does its SHA-256 match? Never says "on": only the process that loads the model knows (detector_report)."""
    path = settings.DETECTOR_WEIGHTS
    if not path:
        return True, {"weights": "none configured (DETECTOR_WEIGHTS is empty)"}
    try:
        stat = os.stat(path)
        actual = _file_sha256(path, stat.st_size, stat.st_mtime_ns)
    except OSError as exc:
        return False, {"weights": f"weights file unreadable ({type(exc).__name__})"}
    expected = settings.DETECTOR_WEIGHTS_SHA256.strip().lower()
    if actual != expected:
        return False, {"weights": "weights SHA-256 does not match DETECTOR_WEIGHTS_SHA256"}
    return True, {"weights": "file present and its SHA-256 matches", "weights_sha256": actual}


def detector_expected_weights_sha256() -> str:
    """The weights SHA-256 a verdict made by the configured detector records ("" while it is off). No torch."""
    if not settings.DETECTOR_WEIGHTS:
        return ""
    return str(settings.DETECTOR_WEIGHTS_SHA256).strip().lower()
