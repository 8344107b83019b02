"""The one interface the rest of the platform sees: `score(images) -> probabilities`, plus a status.

A detector that has no verified weights is OFF. It says why in its status and refuses to score, so no
caller can ever show a made-up probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt
from PIL import Image

# A decoded image: a PIL image in any mode, or a uint8 array shaped HxW, HxWx3 (RGB) or HxWx4 (RGBA).
ImageInput: TypeAlias = Image.Image | npt.NDArray[np.uint8]


class DetectorUnavailable(RuntimeError):
    """Raised by `score` on a detector that is off (or that just turned itself off, e.g. on a NaN score);
    the message is the status's reason."""


@dataclass(frozen=True)
class DetectorStatus:
    enabled: bool
    reason: str
    architecture: str = ""
    weights_sha256: str = ""
    device: str = ""
    precision: str = ""
    threshold: float | None = None
    # The false-positive rate measured at `threshold` on held-out real images (Calibration.as_dict()), or
    # None: an uncalibrated model scores, but its scores are never evidence (detection/detector/calibration.py).
    calibration: dict[str, Any] | None = None

    @property
    def calibrated(self) -> bool:
        return self.enabled and self.threshold is not None and self.calibration is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Detector(Protocol):
    """Scores images as P(generated). Implementations must be deterministic for a given input and weights."""

    @property
    def status(self) -> DetectorStatus: ...

    def score(self, images: Sequence[ImageInput]) -> npt.NDArray[np.float32]:
        """Return one probability in [0, 1] per image, in input order. Raises DetectorUnavailable when off."""
        ...


class DisabledDetector:
    """What `detector_load` returns when there are no usable weights: it reports why and never scores."""

    def __init__(self, reason: str, *, architecture: str = "") -> None:
        self._status = DetectorStatus(enabled=False, reason=reason, architecture=architecture)

    @property
    def status(self) -> DetectorStatus:
        return self._status

    def score(self, images: Sequence[ImageInput]) -> npt.NDArray[np.float32]:
        raise DetectorUnavailable(self._status.reason)
