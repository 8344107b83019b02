import io
import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from detection.detector.calibration import CalibrationError, calibration_choose, fpr_upper_bound
from detection.detector.cli import EvalError, eval_run, train_run
from detection.detector.metrics import metrics_compute, roc_auc
from detection.detector.registry import architecture_register
from detection.detector.runtime import DetectorConfig, detector_load
from detection.detector.training import (
    FAKE,
    REAL,
    TrainConfig,
    TrainingError,
    dataset_scan,
    detector_evaluate,
    detector_train,
    split_holdout,
)
from detection.detector.weights import weights_read

Folders = Callable[..., tuple[Path, Path]]
TINY = TrainConfig(
    epochs=3,
    crop=32,
    crops_per_image=4,
    images_per_step=4,
    learning_rate=3e-3,
    arch_kwargs={"width": 4, "layers": [1, 1]},
    device="cpu",
    holdout_fraction=0.34,
)


def test_roc_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # many ties
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(scores[labels == 1], scores[labels == 0])
    ]
    assert roc_auc(labels, scores) == pytest.approx(np.mean(pairs))
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_rates_at_threshold_and_bootstrap_intervals() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    scores = np.array([0.1] * 8 + [0.8, 0.9] + [0.9] * 7 + [0.2] * 3)
    metrics = metrics_compute(labels, scores, threshold=0.7, bootstrap=500, seed=3)
    assert metrics.false_positive_rate == pytest.approx(0.2)
    assert metrics.true_positive_rate == pytest.approx(0.7)
    assert metrics.accuracy == pytest.approx(0.75)
    for name in ("auc", "accuracy", "false_positive_rate", "true_positive_rate"):
        interval = metrics.intervals[name]
        assert interval.low <= getattr(metrics, name) <= interval.high
        assert interval.low < interval.high
    again = metrics_compute(labels, scores, threshold=0.7, bootstrap=500, seed=3)
    assert again.intervals == metrics.intervals
    json.dumps(metrics.as_dict())
    assert any("false_positive_rate" in line and "[" in line for line in metrics.lines())


def test_scan_groups_subfolders_and_split_keeps_groups_apart(image_folders: Folders) -> None:
    real, fake = image_folders(8, 8)
    samples = dataset_scan([real], [fake])
    assert sum(s.label == REAL for s in samples) == 8 and sum(s.label == FAKE for s in samples) == 8
    assert len({s.group for s in samples if s.label == FAKE}) == 4  # two images per source folder
    train, held = split_holdout(samples, fraction=0.34, seed=1)
    assert {s.group for s in train}.isdisjoint({s.group for s in held})
    for label in (REAL, FAKE):
        assert any(s.label == label for s in train) and any(s.label == label for s in held)
    assert split_holdout(samples, fraction=0.34, seed=1) == (train, held)
    assert split_holdout(samples, fraction=0.34, seed=2) != (train, held)


def test_split_needs_two_groups_per_class(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(1, 4)
    with pytest.raises(TrainingError, match="two real groups"):
        split_holdout(dataset_scan([real], [fake]), fraction=0.3, seed=0)
    with pytest.raises(TrainingError, match="not a folder"):
        dataset_scan([tmp_path / "missing"], [fake])


@pytest.mark.slow
def test_training_learns_the_upsampling_trace_and_writes_verified_weights(
    image_folders: Folders, tmp_path: Path
) -> None:
    real, fake = image_folders(12, 12)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "epochs": 6})
    result = detector_train(train, held, out=tmp_path / "w.pt", config=config, progress=False, log=lambda _: None)
    assert result.epochs_done == 6 and result.losses[-1] < result.losses[0]
    meta = weights_read(tmp_path / "w.pt", expected_sha256=result.weights_sha256).meta
    assert meta["train_images"] == {
        "real": sum(s.label == REAL for s in train),
        "generated": sum(s.label == FAKE for s in train),
    }
    detector = detector_load(
        DetectorConfig(weights_path=str(tmp_path / "w.pt"), weights_sha256=result.weights_sha256, device="cpu"),
        strict=True,
    )
    evaluation = detector_evaluate(detector, held, threshold=0.5, bootstrap=200, progress=False)
    # Nearest-neighbour up-sampling is exactly what NPR isolates: held-out images must separate.
    assert evaluation.metrics.auc == 1.0


def test_resume_continues_where_an_interrupted_run_stopped(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(6, 6)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "epochs": 2})
    full = detector_train(train, held, out=tmp_path / "full.pt", config=config, progress=False, log=lambda _: None)

    class Killed(Exception):
        pass

    def die_after_first_epoch(line: str) -> None:
        if line.startswith("epoch 1/"):
            raise Killed

    with pytest.raises(Killed):
        detector_train(train, held, out=tmp_path / "cut.pt", config=config, progress=False, log=die_after_first_epoch)
    assert not (tmp_path / "cut.pt").exists() and (tmp_path / "cut.pt.ckpt").exists()
    lines: list[str] = []
    resumed = detector_train(
        train, held, out=tmp_path / "cut.pt", config=config, resume=True, progress=False, log=lines.append
    )
    assert lines[0].startswith("resuming from") and "after epoch 1" in lines[0]
    assert resumed.losses == pytest.approx(full.losses, rel=1e-4)
    a = weights_read(tmp_path / "full.pt", expected_sha256=full.weights_sha256).state_dict
    b = weights_read(tmp_path / "cut.pt", expected_sha256=resumed.weights_sha256).state_dict
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-3, atol=1e-4)


def test_resume_refuses_a_checkpoint_from_other_data(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(6, 6)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "epochs": 1})
    detector_train(train, held, out=tmp_path / "w.pt", config=config, progress=False, log=lambda _: None)
    with pytest.raises(TrainingError, match="other training images"):
        detector_train(train[1:], held, out=tmp_path / "w.pt", config=config, resume=True, progress=False)


def test_evaluation_reports_unreadable_files_instead_of_crashing(
    image_folders: Folders, tiny_weights: tuple[Path, str]
) -> None:
    real, fake = image_folders(3, 4)
    (real / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    path, sha = tiny_weights
    detector = detector_load(DetectorConfig(weights_path=str(path), weights_sha256=sha, device="cpu"), strict=True)
    samples = dataset_scan([real], [fake])
    for perturbation in ("", "jpeg75", "half", "screenshot"):
        result = detector_evaluate(
            detector, samples, threshold=0.5, perturbation=perturbation, bootstrap=50, progress=False
        )
        assert result.unreadable == [str(real / "broken.png")]
        assert result.metrics.n_real == 3 and result.metrics.n_fake == 4


def _options(real: Path, fake: Path, **extra: object) -> dict[str, object]:
    return {"real": [str(real)], "fake": [str(fake)], "no_progress": True, **extra}


def test_cli_train_then_eval_on_its_held_out_split(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(6, 6)
    out = io.StringIO()
    train_run(
        _options(
            real,
            fake,
            out=str(tmp_path / "m.pt"),
            epochs=1,
            crop=32,
            crops_per_image=2,
            images_per_step=4,
            lr=1e-3,
            width=4,
            jpeg_probability=0.0,
            holdout=0.34,
            seed=0,
            device="cpu",
            max_minutes=0.0,
            resume=False,
        ),
        out,
    )
    text = out.getvalue()
    assert "DETECTOR_WEIGHTS_SHA256=" in text
    sha = text.split("DETECTOR_WEIGHTS_SHA256=")[1].split()[0]
    report = io.StringIO()
    eval_options = _options(
        real,
        fake,
        weights=str(tmp_path / "m.pt"),
        sha256=sha,
        architecture="",
        split="holdout",
        threshold=0.5,
        bootstrap=100,
        perturb=["jpeg75"],
        device="cpu",
        batch_size=4,
        json=str(tmp_path / "eval.json"),
    )
    eval_run(eval_options, report)
    assert "false_positive_rate" in report.getvalue() and "== jpeg75" in report.getvalue()
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert set(saved["conditions"]) == {"as_stored", "jpeg75"}
    (real / "extra.png").write_bytes((real / "photo-0.png").read_bytes())
    with pytest.raises(EvalError, match="held-out split"):
        eval_run(eval_options, io.StringIO())


def test_calibration_picks_the_lowest_threshold_meeting_the_target_and_bounds_the_rate() -> None:
    scores = [i / 200 for i in range(200)]  # 0.000 .. 0.995
    calibration = calibration_choose(scores, target_fpr=0.01, measured_on="drawn scores")
    # 1 % of 200 = 2 real images may score at or above the threshold: 0.995 and 0.990, not 0.985.
    assert calibration.false_positives == 2 and 0.985 < calibration.threshold <= 0.99 + 1e-12
    assert calibration.measured_fpr == 0.01 and calibration.fpr_upper_95 > 0.01
    # 0 of n: the exact one-sided bound is 1 - 0.05 ** (1 / n).
    assert fpr_upper_bound(0, 14) == pytest.approx(1 - 0.05 ** (1 / 14), abs=1e-9)
    with pytest.raises(CalibrationError, match=r"non|NaN"):
        calibration_choose([0.1, float("nan")], measured_on="x")
    with pytest.raises(CalibrationError, match=r"score 1\.0"):
        calibration_choose([1.0] * 10, measured_on="x")


def test_training_calibrates_the_threshold_on_held_out_real_images(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(12, 12)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "epochs": 2, "target_fpr": 0.25})
    result = detector_train(train, held, out=tmp_path / "w.pt", config=config, progress=False, log=lambda _: None)
    assert result.calibration is not None
    held_real = [s for s in held if s.label == REAL]
    assert result.calibration.real_images == len(held_real)
    assert result.calibration.measured_fpr <= 0.25 and "held-out real images" in result.calibration.measured_on
    detector = detector_load(
        DetectorConfig(weights_path=str(tmp_path / "w.pt"), weights_sha256=result.weights_sha256, device="cpu"),
        strict=True,
    )
    assert detector.status.calibrated and detector.status.threshold == result.calibration.threshold
    # The threshold does what it says on the images it was measured on, scored the way production scores them.
    scores = detector_evaluate(detector, held, threshold=detector.status.threshold, bootstrap=0, progress=False)
    assert scores.metrics.false_positive_rate == result.calibration.measured_fpr


class _NaNNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=(1, 2, 3)) * self.scale) / 0.0 * 0.0  # NaN from the first step


def test_training_stops_on_a_nan_loss_and_writes_no_weights(image_folders: Folders, tmp_path: Path) -> None:
    architecture_register("test-nan", _NaNNet)
    real, fake = image_folders(6, 6)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "architecture": "test-nan", "arch_kwargs": {}})
    with pytest.raises(TrainingError, match="loss became nan at epoch 1, step 1"):
        detector_train(train, held, out=tmp_path / "nan.pt", config=config, progress=False, log=lambda _: None)
    assert not (tmp_path / "nan.pt").exists()


def test_eval_calibrate_writes_new_weights_and_refuses_the_all_split(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(6, 6)
    train, held = split_holdout(dataset_scan([real], [fake]), fraction=0.34, seed=0)
    config = TrainConfig(**{**TINY.as_dict(), "epochs": 1, "target_fpr": 0.01})
    first = detector_train(train, held, out=tmp_path / "m.pt", config=config, progress=False, log=lambda _: None)
    options = _options(
        real, fake, weights=str(tmp_path / "m.pt"), sha256=first.weights_sha256, architecture="", split="holdout",
        threshold=None, bootstrap=0, perturb=[], device="cpu", batch_size=4, json="",
        calibrate=str(tmp_path / "c.pt"), target_fpr=0.5,
    )
    out = io.StringIO()
    eval_run(options, out)
    new_sha = out.getvalue().split("DETECTOR_WEIGHTS_SHA256=")[1].split()[0]
    calibrated = detector_load(
        DetectorConfig(weights_path=str(tmp_path / "c.pt"), weights_sha256=new_sha, device="cpu"), strict=True
    )
    assert calibrated.status.calibration is not None and calibrated.status.calibration["target_fpr"] == 0.5
    assert calibrated.status.calibration["measured_fpr"] <= 0.5
    with pytest.raises(EvalError, match="--split holdout"):
        eval_run({**options, "split": "all"}, io.StringIO())
