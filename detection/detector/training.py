"""Training and evaluation from two folders of images (real, generated), with a held-out split.

* Split: by group, per class, seeded. A group is a top-level subfolder of a class folder (one person,
  one source shoot); files at the top level are each their own group. Images of one group never sit on
  both sides, so the held-out score is not inflated by near-duplicates.
* Training: grid-aligned random crops at native resolution (no resizing, see preprocess.py), horizontal
  flips, optional JPEG re-compression. Several crops per decoded image amortise JPEG decoding.
* Checkpoints after every epoch hold model, optimiser, scheduler, epoch and the split; `resume=True`
  continues from one. Each epoch draws its crops from a generator seeded by (seed, epoch, image), so a
  resumed run sees the same crops as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from detection.detector.calibration import (
    DEFAULT_TARGET_FPR,
    Calibration,
    CalibrationError,
    calibration_choose,
    calibration_record,
)
from detection.detector.interface import Detector, DetectorUnavailable
from detection.detector.metrics import EvalMetrics, metrics_compute
from detection.detector.preprocess import (
    CROP_SIZE,
    ImageRejected,
    image_load,
    image_to_rgb,
    random_crop,
)
from detection.detector.registry import DEFAULT_ARCHITECTURE, architecture_build
from detection.detector.runtime import TorchDetector, device_resolve
from detection.detector.weights import weights_write

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
REAL, FAKE = 0, 1
CHECKPOINT_FORMAT = "takedown-detector-checkpoint/1"


class TrainingError(RuntimeError):
    """Training cannot start or resume (no images, one class missing, checkpoint from other data)."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    group: str


def dataset_scan(real_dirs: Sequence[str | Path], fake_dirs: Sequence[str | Path]) -> list[Sample]:
    """Every image file under the folders, sorted, labelled and grouped (see module docstring)."""
    samples: list[Sample] = []
    for label, dirs in ((REAL, real_dirs), (FAKE, fake_dirs)):
        for root in map(Path, dirs):
            if not root.is_dir():
                raise TrainingError(f"not a folder: {root}")
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                    continue
                relative = path.relative_to(root)
                top = relative.parts[0] if len(relative.parts) > 1 else relative.as_posix()
                samples.append(Sample(path, label, f"{label}:{root.resolve()}:{top}"))
    return samples


def split_holdout(samples: Sequence[Sample], *, fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Group-wise, per-class split; the held-out side gets about `fraction` of each class's images."""
    if not 0.0 < fraction < 1.0:
        raise TrainingError("held-out fraction must be between 0 and 1")
    train: list[Sample] = []
    held: list[Sample] = []
    rng = np.random.default_rng(seed)
    for label in (REAL, FAKE):
        by_group: dict[str, list[Sample]] = {}
        for sample in samples:
            if sample.label == label:
                by_group.setdefault(sample.group, []).append(sample)
        groups = sorted(by_group)
        if len(groups) < 2:
            raise TrainingError(f"need at least two {'real' if label == REAL else 'generated'} groups to split")
        order = rng.permutation(len(groups))
        target = fraction * sum(len(v) for v in by_group.values())
        taken = 0
        for position, index in enumerate(order):
            members = by_group[groups[index]]
            # Keep at least one group for training, and stop once the held-out share is reached.
            if taken < target and position < len(groups) - 1:
                held.extend(members)
                taken += len(members)
            else:
                train.extend(members)
    return sorted(train, key=_key), sorted(held, key=_key)


def _key(sample: Sample) -> tuple[int, str]:
    return sample.label, str(sample.path)


def dataset_fingerprint(samples: Sequence[Sample]) -> str:
    digest = hashlib.sha256()
    for sample in sorted(samples, key=_key):
        digest.update(f"{sample.label}\t{sample.path.resolve()}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    crop: int = 96  # training crop; the net is fully convolutional and scores 224 crops
    crops_per_image: int = 8
    images_per_step: int = 4
    learning_rate: float = 2e-4
    weight_decay: float = 1e-4
    jpeg_probability: float = 0.0  # chance that a crop is re-compressed at quality 65..95
    seed: int = 0
    holdout_fraction: float = 0.3
    architecture: str = DEFAULT_ARCHITECTURE
    arch_kwargs: dict[str, Any] = field(default_factory=lambda: {"width": 16, "layers": [3, 4]})
    device: str = "auto"
    max_minutes: float = 0.0  # 0 = no time budget; else stop after the epoch that crosses it
    max_pixels: int = 80_000_000
    # The operating threshold is chosen so that at most this share of held-out real images score at or above it.
    target_fpr: float = DEFAULT_TARGET_FPR

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    weights_sha256: str
    epochs_done: int
    stopped_by_budget: bool
    seconds: float
    train: list[Sample]
    held_out: list[Sample]
    skipped: list[str]
    losses: list[float]
    calibration: Calibration | None = None
    calibration_problem: str = ""


def _jpeg(crop: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, "JPEG", quality=int(rng.integers(65, 96)))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


def _crops(sample: Sample, config: TrainConfig, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    array = image_to_rgb(image_load(sample.path, max_pixels=config.max_pixels))
    crops = []
    for _ in range(config.crops_per_image):
        crop = random_crop(array, config.crop, rng)
        if rng.random() < 0.5:
            crop = np.ascontiguousarray(crop[:, ::-1])
        if config.jpeg_probability > 0 and rng.random() < config.jpeg_probability:
            crop = _jpeg(crop, rng)
        crops.append(crop)
    return np.stack(crops)


def _epoch_batches(
    samples: Sequence[Sample], config: TrainConfig, epoch: int, skipped: set[str]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = np.random.default_rng([config.seed, epoch]).permutation(len(samples))
    for start in range(0, len(order), config.images_per_step):
        crops, labels = [], []
        for index in order[start : start + config.images_per_step]:
            sample = samples[int(index)]
            try:
                batch = _crops(sample, config, np.random.default_rng([config.seed, epoch, int(index)]))
            except ImageRejected:
                skipped.add(str(sample.path))
                continue
            crops.append(batch)
            labels.extend([float(sample.label)] * len(batch))
        if crops:
            x = torch.from_numpy(np.concatenate(crops)).permute(0, 3, 1, 2).float().div_(255.0)
            yield x, torch.tensor(labels)


def detector_train(
    train: Sequence[Sample],
    held_out: Sequence[Sample],
    *,
    out: str | Path,
    config: TrainConfig,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train on `train`, write the weights file to `out` and return its SHA-256 (the held-out split is
    recorded in the checkpoint and the weights' metadata so evaluation can use the same images)."""
    if not any(s.label == REAL for s in train) or not any(s.label == FAKE for s in train):
        raise TrainingError("training needs both real and generated images")
    torch.manual_seed(config.seed)
    device = device_resolve(config.device)
    model = architecture_build(config.architecture, config.arch_kwargs).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    n_real = sum(1 for s in train if s.label == REAL)
    n_fake = len(train) - n_real
    # Weigh the classes equally whatever their counts.
    pos_weight = torch.tensor(n_real / n_fake, device=device)
    fingerprint = dataset_fingerprint(train)
    checkpoint = Path(str(out) + ".ckpt")
    start_epoch = 0
    losses: list[float] = []
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT or state.get("fingerprint") != fingerprint:
            raise TrainingError(f"{checkpoint} was written for other training images or settings; not resuming")
        if state.get("config") != config.as_dict():
            raise TrainingError(f"{checkpoint} was written with other training settings; not resuming")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"])
        losses = [float(v) for v in state["losses"]]
        log(f"resuming from {checkpoint} after epoch {start_epoch}")
    skipped: set[str] = set()
    began = time.monotonic()
    stopped_by_budget = False
    epoch = start_epoch
    steps_per_epoch = math.ceil(len(train) / config.images_per_step)
    for epoch in range(start_epoch, config.epochs):
        model.train()
        total, count = 0.0, 0
        bar = tqdm(
            _epoch_batches(train, config, epoch, skipped),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not progress,
            leave=False,
        )
        for step, (x, y) in enumerate(bar):
            x, y = x.to(device), y.to(device)
            loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=pos_weight)
            if not bool(torch.isfinite(loss)):
                # Stepping on a NaN/inf loss would write NaN into every weight; stop with the last good
                # checkpoint (the previous epoch's) on disk and no weights file written.
                raise TrainingError(
                    f"loss became {float(loss.detach())} at epoch {epoch + 1}, step {step + 1}; training stopped "
                    f"(the last finished epoch's checkpoint is {checkpoint}). Lower --lr or check the images."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        scheduler.step()
        losses.append(total / max(1, count))
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": fingerprint,
                "config": config.as_dict(),
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "losses": losses,
            },
            checkpoint,
        )
        # Logged after the checkpoint is on disk: a run killed after this line resumes from this epoch.
        log(f"epoch {epoch + 1}/{config.epochs}: loss {losses[-1]:.4f} ({time.monotonic() - began:.0f}s)")
        if config.max_minutes and time.monotonic() - began > config.max_minutes * 60:
            stopped_by_budget = epoch + 1 < config.epochs
            if stopped_by_budget:
                log(f"time budget of {config.max_minutes} min reached after epoch {epoch + 1}")
            break
    epochs_done = len(losses)
    seconds = time.monotonic() - began
    model.eval()
    calibration, calibration_problem, real_scores = _calibrate(model, held_out, config, device, skipped)
    if calibration is not None:
        log(f"calibration: {calibration.sentence()}")
    else:
        log(f"not calibrated: {calibration_problem}")
    sha = weights_write(
        out,
        architecture=config.architecture,
        arch_kwargs=config.arch_kwargs,
        state_dict=model.state_dict(),
        meta={
            "train_config": config.as_dict(),
            "epochs_done": epochs_done,
            "stopped_by_budget": stopped_by_budget,
            "train_images": {"real": n_real, "generated": n_fake},
            "held_out_images": {
                "real": sum(1 for s in held_out if s.label == REAL),
                "generated": sum(1 for s in held_out if s.label == FAKE),
            },
            "held_out_fingerprint": dataset_fingerprint(held_out),
            "train_fingerprint": fingerprint,
            "input": f"RGB uint8 crop {CROP_SIZE}x{CROP_SIZE}, native resolution, 8-pixel grid aligned",
            "torch": str(torch.__version__),
            "train_seconds": round(seconds, 1),
            **({"calibration": calibration_record(calibration, real_scores)} if calibration is not None else {}),
        },
    )
    return TrainResult(
        sha,
        epochs_done,
        stopped_by_budget,
        seconds,
        list(train),
        list(held_out),
        sorted(skipped),
        losses,
        calibration,
        calibration_problem,
    )


def held_out_description(config: TrainConfig, fingerprint: str) -> str:
    return (
        f"the training run's held-out real images (group-wise split, seed {config.seed}, "
        f"{config.holdout_fraction:.0%} of groups; held-out set fingerprint {fingerprint[:12]})"
    )


def _calibrate(
    model: torch.nn.Module, held_out: Sequence[Sample], config: TrainConfig, device: torch.device, skipped: set[str]
) -> tuple[Calibration | None, str, list[float]]:
    """Score the held-out real images exactly as production does (centre window, fp32) and choose the
    threshold for the target false-positive rate. Returns (calibration or None, why not, the real scores)."""
    real = [s for s in held_out if s.label == REAL]
    detector = TorchDetector(
        model,
        device=device,
        precision="fp32",
        batch_size=16,
        threshold=None,
        architecture=config.architecture,
        weights_sha256="",
    )
    scores: list[float] = []
    for start in range(0, len(real), 16):
        images = []
        for sample in real[start : start + 16]:
            try:
                images.append(image_load(sample.path, max_pixels=config.max_pixels))
            except ImageRejected:
                skipped.add(str(sample.path))
        if images:
            try:
                scores.extend(float(v) for v in detector.score(images))
            except DetectorUnavailable as exc:
                return None, f"the trained model's scores are not finite ({exc})", []
    try:
        calibration = calibration_choose(
            scores,
            target_fpr=config.target_fpr,
            measured_on=held_out_description(config, dataset_fingerprint(held_out)),
            device=str(device),
            precision="fp32",
        )
    except CalibrationError as exc:
        return None, str(exc), scores
    return calibration, "", scores


# Degradations a deepfake meets on its way to a victim's feed; evaluation can apply one to every image.
def _jpeg_recompress(quality: int) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")

    return apply


def _rescale(factor: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        width, height = image.size
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return image.convert("RGB").resize(size, Image.Resampling.BILINEAR)

    return apply


def _screenshot(image: Image.Image) -> Image.Image:
    """A phone screenshot: displayed at a non-integer scale, captured losslessly (PNG)."""
    scaled = _rescale(1.37)(image)
    buffer = io.BytesIO()
    scaled.save(buffer, "PNG")
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "jpeg90": _jpeg_recompress(90),
    "jpeg75": _jpeg_recompress(75),
    "half": _rescale(0.5),
    "screenshot": _screenshot,
}


@dataclass
class EvalResult:
    metrics: EvalMetrics
    scores: list[tuple[str, int, float]]
    unreadable: list[str]


def detector_evaluate(
    detector: Detector,
    samples: Sequence[Sample],
    *,
    threshold: float,
    perturbation: str = "",
    bootstrap: int = 1000,
    seed: int = 0,
    batch_size: int = 16,
    max_pixels: int = 80_000_000,
    progress: bool = True,
) -> EvalResult:
    """Score every sample with `detector` (optionally degraded first) and compute metrics with intervals."""
    transform = PERTURBATIONS[perturbation] if perturbation else None
    scored: list[tuple[str, int, float]] = []
    unreadable: list[str] = []
    bar = tqdm(total=len(samples), desc=f"scoring{' ' + perturbation if perturbation else ''}", disable=not progress)
    for start in range(0, len(samples), batch_size):
        chunk: list[Sample] = []
        images: list[Image.Image] = []
        for sample in samples[start : start + batch_size]:
            try:
                image = image_load(sample.path, max_pixels=max_pixels)
            except ImageRejected:
                unreadable.append(str(sample.path))
                continue
            chunk.append(sample)
            images.append(transform(image) if transform else image)
        if images:
            for sample, probability in zip(chunk, detector.score(images), strict=True):
                scored.append((str(sample.path), sample.label, float(probability)))
        bar.update(min(batch_size, len(samples) - start))
    bar.close()
    labels = np.array([label for _, label, _ in scored], dtype=np.int64)
    scores = np.array([score for _, _, score in scored], dtype=np.float64)
    metrics = metrics_compute(labels, scores, threshold=threshold, bootstrap=bootstrap, seed=seed)
    return EvalResult(metrics, scored, unreadable)
