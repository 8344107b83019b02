"""Loading a detector from configuration and running it on CPU or CUDA.

`detector_load(config)` never raises for a configuration problem unless asked to (`strict=True`): it
returns a `DisabledDetector` whose status says what is wrong, so a health check or a moderator page can
show "detector off: weights SHA-256 mismatch ..." instead of the site failing to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from detection.detector.calibration import CalibrationError, calibration_from_record
from detection.detector.interface import (
    Detector,
    DetectorStatus,
    DetectorUnavailable,
    DisabledDetector,
    ImageInput,
)
from detection.detector.preprocess import CROP_SIZE, images_to_batch
from detection.detector.registry import DEFAULT_ARCHITECTURE, ArchitectureError, architecture_build
from detection.detector.weights import WeightsError, weights_read

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class DetectorConfigError(ValueError):
    """A detector setting has a value that cannot work (unknown device, CUDA missing, bad threshold)."""


@dataclass(frozen=True)
class DetectorConfig:
    weights_path: str = ""
    weights_sha256: str = ""
    # Empty: take the architecture the weights file names (or "npr" for a bare state_dict).
    architecture: str = ""
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
    precision: str = "auto"  # "auto" = bf16 (fp16 where bf16 is unsupported) on CUDA, fp32 on CPU
    batch_size: int = 32
    # None: the threshold the weights file was calibrated at. A number overrides it; the false-positive rate at
    # that threshold is then re-measured from the calibration's held-out real scores.
    threshold: float | None = None
    # Intra-op threads on the CPU; 0 keeps torch's default (one per core). On cores shared with other busy
    # processes, OpenMP threads that spin-wait for each other were measured up to 30x slower than one thread
    # (docs/benchmarks.md), so a worker beside others should use 1.
    cpu_threads: int = 0


def device_resolve(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DetectorConfigError(f"detector device {name!r} requested but CUDA is not available")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DetectorConfigError(f"detector device {name!r}: only {torch.cuda.device_count()} GPU(s)")
        return device
    raise DetectorConfigError(f"unknown detector device {name!r} (use auto, cpu, cuda or cuda:N)")


def precision_resolve(name: str, device: torch.device) -> str:
    if name not in PRECISIONS:
        raise DetectorConfigError(f"unknown detector precision {name!r} (use {', '.join(PRECISIONS)})")
    if name != "auto":
        return name
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def device_describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


class TorchDetector:
    """A torch model behind the `Detector` interface: batching, pinned-memory transfer, autocast."""

    def __init__(
        self,
        model: nn.Module,
        *,
        device: torch.device,
        precision: str,
        batch_size: int,
        threshold: float | None,
        architecture: str,
        weights_sha256: str,
        calibration: dict[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise DetectorConfigError("detector batch size must be at least 1")
        self._device = device
        self._precision = precision
        self._batch_size = batch_size
        self._channels_last = device.type == "cuda"
        model = model.to(device).eval()
        if self._channels_last:
            # cuDNN convolutions run fastest on NHWC tensors.
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._model = model
        self._status = DetectorStatus(
            enabled=True,
            reason="weights loaded and verified"
            + ("" if calibration is not None else "; uncalibrated: scores are not used as evidence"),
            architecture=architecture,
            weights_sha256=weights_sha256,
            device=device_describe(device),
            precision=precision,
            threshold=threshold,
            calibration=calibration,
        )

    @property
    def status(self) -> DetectorStatus:
        return self._status

    @property
    def device(self) -> torch.device:
        return self._device

    def score(self, images: Sequence[ImageInput]) -> npt.NDArray[np.float32]:
        if not self._status.enabled:
            raise DetectorUnavailable(self._status.reason)
        out = np.empty(len(images), dtype=np.float32)
        for start in range(0, len(images), self._batch_size):
            batch = images_to_batch(images[start : start + self._batch_size], CROP_SIZE)
            out[start : start + len(batch)] = self.score_batch(batch)
        return out

    @torch.inference_mode()
    def score_batch(self, batch: torch.Tensor) -> npt.NDArray[np.float32]:
        """Score an Nx3xHxW uint8 tensor that is already cropped (what `score` builds)."""
        if self._device.type == "cuda":
            batch = batch.pin_memory().to(self._device, non_blocking=True)
        # Dividing in fp32 keeps the 1/255 steps exact; autocast only lowers the convolutions.
        x = batch.to(torch.float32).div_(255.0)
        # Batches arrive NHWC-strided from the crops. cuDNN wants channels-last; on the CPU, oneDNN was
        # measured far slower with channels-last at small batches (bench/detector_bench.py), so use NCHW.
        x = x.contiguous(memory_format=torch.channels_last if self._channels_last else torch.contiguous_format)
        dtype = _DTYPES.get(self._precision)
        with torch.autocast(device_type=self._device.type, dtype=dtype, enabled=dtype is not None):
            logits = self._model(x)
        probabilities = _probabilities(logits.float(), len(batch)).cpu().numpy()
        if not np.isfinite(probabilities).all():
            # A NaN is not "no evidence": it means the weights or the numerics are broken. Turn off for good
            # (until a restart with other weights) and say why, rather than store or compare a NaN.
            bad = int((~np.isfinite(probabilities)).sum())
            self.disable(f"the model produced {bad} non-finite score(s) (NaN or infinity) in a batch of {len(batch)}")
            raise DetectorUnavailable(self._status.reason)
        return probabilities

    def disable(self, reason: str) -> None:
        self._status = DetectorStatus(
            enabled=False,
            reason=reason,
            architecture=self._status.architecture,
            weights_sha256=self._status.weights_sha256,
            device=self._status.device,
            precision=self._status.precision,
        )


def _probabilities(logits: torch.Tensor, n: int) -> torch.Tensor:
    if logits.shape == (n,):
        return torch.sigmoid(logits)
    if logits.shape == (n, 1):
        return torch.sigmoid(logits[:, 0])
    if logits.shape == (n, 2):
        return torch.softmax(logits, dim=1)[:, 1]
    raise ArchitectureError(f"detector model returned logits shaped {tuple(logits.shape)} for {n} images")


def detector_load(config: DetectorConfig, *, strict: bool = False) -> Detector:
    """Build the configured detector, or a `DisabledDetector` that says why not (strict: raise instead)."""
    try:
        return _detector_build(config)
    except (WeightsError, ArchitectureError, DetectorConfigError) as exc:
        if strict:
            raise
        return DisabledDetector(str(exc), architecture=config.architecture)


def _detector_build(config: DetectorConfig) -> TorchDetector:
    if not config.weights_path:
        raise WeightsError("no weights configured (DETECTOR_WEIGHTS is empty): the detector is off")
    threshold_check(config.threshold)
    device = device_resolve(config.device)
    precision = precision_resolve(config.precision, device)
    if config.cpu_threads < 0:
        raise DetectorConfigError(f"detector CPU threads must be 0 (torch's default) or more, got {config.cpu_threads}")
    if config.cpu_threads and device.type == "cpu":
        torch.set_num_threads(config.cpu_threads)  # per process: the worker holds one detector
    weights = weights_read(config.weights_path, expected_sha256=config.weights_sha256)
    if config.architecture:
        # Named by the operator (settings or the command line): a dotted path is allowed.
        if weights.architecture and config.architecture != weights.architecture:
            raise ArchitectureError(
                f"settings name architecture {config.architecture!r} but the weights were trained "
                f"for {weights.architecture!r}"
            )
        architecture, from_settings = config.architecture, True
    else:
        # Named by the file (or the default for a bare state_dict): only a registered name, never code.
        architecture, from_settings = weights.architecture or DEFAULT_ARCHITECTURE, False
    for name, tensor in weights.state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"weights tensor {name!r} holds NaN or infinity")
    arch_kwargs = {**weights.arch_kwargs, **config.arch_kwargs}
    model = architecture_build(architecture, arch_kwargs, from_settings=from_settings)
    try:
        model.load_state_dict(weights.state_dict, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"weights do not fit architecture {architecture!r}: {exc}") from exc
    calibration: dict[str, Any] | None = None
    threshold = config.threshold
    record = weights.meta.get("calibration")
    if record is not None:
        try:
            measured = calibration_from_record(record, threshold=config.threshold)
        except CalibrationError as exc:
            raise WeightsError(str(exc)) from exc
        calibration, threshold = measured.as_dict(), measured.threshold
    detector = TorchDetector(
        model,
        device=device,
        precision=precision,
        batch_size=config.batch_size,
        threshold=threshold,
        architecture=architecture,
        weights_sha256=weights.sha256,
        calibration=calibration,
    )
    _probe(detector)
    return detector


def threshold_check(threshold: float | None) -> None:
    """A threshold must lie strictly between 0 and 1: at 0 every image is "generated", at 1 or above none
    ever is, and either would make a stated false-positive rate meaningless."""
    if threshold is None:
        return
    if isinstance(threshold, bool) or not isinstance(threshold, float | int) or not (0.0 < threshold < 1.0):
        raise DetectorConfigError(f"detector threshold must be between 0 and 1 (exclusive), got {threshold!r}")


def _probe(detector: TorchDetector) -> None:
    """Score two fixed images at load, so weights that yield NaN (or a device that cannot run the model)
    turn the detector off now, in its status and the worker's heartbeat, not at the first report."""
    rng = np.random.default_rng(0)
    probe = [np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8), rng.integers(0, 256, (CROP_SIZE, CROP_SIZE, 3), np.uint8)]
    try:
        detector.score(probe)
    except DetectorUnavailable as exc:
        raise WeightsError(f"weights loaded but unusable: {exc}") from exc
    except RuntimeError as exc:  # torch's own errors (CUDA, shapes) are RuntimeErrors
        raise DetectorConfigError(f"the model cannot run on {detector.status.device}: {exc}") from exc
