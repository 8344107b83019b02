"""Synthetic-image detector: pure torch + numpy, no Django (the Django glue lives in detection/services)."""

from detection.detector.interface import (
    Detector,
    DetectorStatus,
    DetectorUnavailable,
    DisabledDetector,
    ImageInput,
)
from detection.detector.runtime import DetectorConfig, DetectorConfigError, TorchDetector, detector_load
from detection.detector.weights import WeightsError

__all__ = [
    "Detector",
    "DetectorConfig",
    "DetectorConfigError",
    "DetectorStatus",
    "DetectorUnavailable",
    "DisabledDetector",
    "ImageInput",
    "TorchDetector",
    "WeightsError",
    "detector_load",
]
