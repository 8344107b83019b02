"""Arguments and runners for training and evaluation, shared by the Django management commands
(`detector_train`, `detector_eval`) and `python -m detection.detector.cli {train,eval}` (no Django needed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Protocol

from detection.detector.calibration import (
    DEFAULT_TARGET_FPR,
    Calibration,
    calibration_choose,
    calibration_record,
)
from detection.detector.runtime import DetectorConfig, detector_load, threshold_check
from detection.detector.training import (
    PERTURBATIONS,
    REAL,
    EvalResult,
    TrainConfig,
    dataset_fingerprint,
    dataset_scan,
    detector_evaluate,
    detector_train,
    split_holdout,
)
from detection.detector.weights import WeightsFile, file_sha256, weights_read, weights_write

_DEFAULTS = TrainConfig()


class Writer(Protocol):
    """sys.stdout, io.StringIO or a management command's self.stdout."""

    def write(self, text: str, /) -> object: ...


def train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", action="append", required=True, metavar="DIR", help="real images (repeatable)")
    parser.add_argument("--fake", action="append", required=True, metavar="DIR", help="generated images (repeatable)")
    parser.add_argument("--out", required=True, metavar="FILE", help="weights file to write (checkpoint: FILE.ckpt)")
    parser.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    parser.add_argument("--crop", type=int, default=_DEFAULTS.crop, help="training crop size in pixels")
    parser.add_argument("--crops-per-image", type=int, default=_DEFAULTS.crops_per_image)
    parser.add_argument("--images-per-step", type=int, default=_DEFAULTS.images_per_step)
    parser.add_argument("--lr", type=float, default=_DEFAULTS.learning_rate)
    parser.add_argument("--width", type=int, default=_DEFAULTS.arch_kwargs["width"], help="NPR channel width")
    parser.add_argument("--jpeg-probability", type=float, default=_DEFAULTS.jpeg_probability)
    parser.add_argument("--holdout", type=float, default=_DEFAULTS.holdout_fraction, help="held-out share")
    parser.add_argument(
        "--target-fpr",
        type=float,
        default=_DEFAULTS.target_fpr,
        help="choose the threshold so that at most this share of held-out real images is called generated",
    )
    parser.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    parser.add_argument("--device", default=_DEFAULTS.device, help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch crossing this")
    parser.add_argument("--resume", action="store_true", help="continue from FILE.ckpt if it exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def train_run(options: dict[str, Any], out: Writer = sys.stdout) -> int:
    config = TrainConfig(
        epochs=options["epochs"],
        crop=options["crop"],
        crops_per_image=options["crops_per_image"],
        images_per_step=options["images_per_step"],
        learning_rate=options["lr"],
        jpeg_probability=options["jpeg_probability"],
        seed=options["seed"],
        holdout_fraction=options["holdout"],
        arch_kwargs={**_DEFAULTS.arch_kwargs, "width": options["width"]},
        device=options["device"],
        max_minutes=options["max_minutes"],
        target_fpr=options.get("target_fpr", DEFAULT_TARGET_FPR),
    )
    samples = dataset_scan(options["real"], options["fake"])
    train, held_out = split_holdout(samples, fraction=config.holdout_fraction, seed=config.seed)
    out.write(f"{len(train)} training images, {len(held_out)} held out (seed {config.seed})\n")

    def log(line: str) -> None:
        out.write(line + "\n")

    result = detector_train(
        train,
        held_out,
        out=options["out"],
        config=config,
        resume=options["resume"],
        progress=not options["no_progress"],
        log=log,
    )
    for path in result.skipped:
        out.write(f"skipped unreadable image: {path}\n")
    out.write(f"wrote {options['out']} after {result.epochs_done} epochs in {result.seconds:.0f}s\n")
    if result.calibration is not None:
        out.write(f"calibrated: {result.calibration.sentence()}\n")
        out.write("the threshold is stored in the weights file; leave DETECTOR_THRESHOLD unset to use it\n")
    else:
        out.write(
            f"NOT calibrated ({result.calibration_problem}): the detector will score, but its scores will not be "
            "used as evidence until `detector_eval --calibrate` measures a threshold on held-out real images\n"
        )
    out.write("settings for this model:\n")
    out.write(f"  DETECTOR_WEIGHTS={Path(options['out']).resolve()}\n")
    out.write(f"  DETECTOR_WEIGHTS_SHA256={result.weights_sha256}\n")
    return 0


def eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", action="append", required=True, metavar="DIR")
    parser.add_argument("--fake", action="append", required=True, metavar="DIR")
    parser.add_argument("--weights", required=True, metavar="FILE")
    parser.add_argument("--sha256", default="", help="expected SHA-256 of FILE (default: computed and shown)")
    parser.add_argument("--architecture", default="", help="for a bare state_dict: registered name or path")
    parser.add_argument(
        "--split",
        choices=("holdout", "all"),
        default="holdout",
        help="holdout: the images the training run held out (needs the same folders); all: every image",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="operating threshold for the metrics (default: the one calibrated into the weights file, else 0.5)",
    )
    parser.add_argument(
        "--calibrate",
        metavar="OUT",
        default="",
        help="choose the threshold for --target-fpr on the held-out real images (--split holdout only) and write "
        "the weights with it to OUT (a new file, with a new SHA-256)",
    )
    parser.add_argument("--target-fpr", type=float, default=DEFAULT_TARGET_FPR)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--perturb", action="append", choices=sorted(PERTURBATIONS), default=[])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", metavar="FILE", default="", help="also write metrics and scores as JSON")
    parser.add_argument("--no-progress", action="store_true")


class EvalError(ValueError):
    """Evaluation cannot run as asked (wrong folders for --split holdout, ...)."""


def eval_run(options: dict[str, Any], out: Writer = sys.stdout) -> int:
    options = {"calibrate": "", "target_fpr": DEFAULT_TARGET_FPR, "threshold": None, **options}
    if options["threshold"] is not None:
        threshold_check(options["threshold"])
    if options["calibrate"] and options["split"] != "holdout":
        raise EvalError("--calibrate needs --split holdout: a threshold measured on training images says nothing")
    sha = options["sha256"] or file_sha256(options["weights"])
    if not options["sha256"]:
        out.write(f"weights SHA-256 (computed, not checked against a setting): {sha}\n")
    weights = weights_read(options["weights"], expected_sha256=sha)
    samples = dataset_scan(options["real"], options["fake"])
    if options["split"] == "holdout":
        train_config = weights.meta.get("train_config")
        if not isinstance(train_config, dict):
            raise EvalError("the weights file records no training split; use --split all")
        _, samples = split_holdout(samples, fraction=train_config["holdout_fraction"], seed=train_config["seed"])
        if dataset_fingerprint(samples) != weights.meta.get("held_out_fingerprint"):
            raise EvalError("these folders differ from the training run's, so its held-out split is unknown")
    detector = detector_load(
        DetectorConfig(
            weights_path=options["weights"],
            weights_sha256=sha,
            architecture=options["architecture"],
            device=options["device"],
            batch_size=options["batch_size"],
            threshold=options["threshold"],
        ),
        strict=True,
    )
    out.write(f"device: {detector.status.device}; precision: {detector.status.precision}\n")
    threshold = detector.status.threshold
    if threshold is None:
        threshold = 0.5
        out.write("the weights are NOT calibrated: metrics at threshold 0.5, which means nothing by itself\n")
    elif detector.status.calibration is not None:
        out.write(f"calibration in the weights file: {Calibration(**detector.status.calibration).sentence()}\n")
    report: dict[str, Any] = {"weights_sha256": sha, "split": options["split"], "conditions": {}}
    for condition in ["", *options["perturb"]]:
        result: EvalResult = detector_evaluate(
            detector,
            samples,
            threshold=threshold,
            perturbation=condition,
            bootstrap=options["bootstrap"],
            batch_size=options["batch_size"],
            progress=not options["no_progress"],
        )
        out.write(f"\n== {condition or 'as stored'} ({options['split']} split)\n")
        out.write("\n".join(result.metrics.lines()) + "\n")
        for path in result.unreadable:
            out.write(f"unreadable (not scored): {path}\n")
        report["conditions"][condition or "as_stored"] = {
            "metrics": result.metrics.as_dict(),
            "unreadable": result.unreadable,
            "scores": [{"path": p, "label": label, "score": s} for p, label, s in result.scores],
        }
        if not condition and options["calibrate"]:
            _calibrate_and_write(options, weights, result, out)
    if options["json"]:
        # NaN (an undefined AUC, say) is written as null: "NaN" is not JSON.
        Path(options["json"]).write_text(json.dumps(_finite(report), indent=2, allow_nan=False))
    return 0


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _calibrate_and_write(options: dict[str, Any], weights: WeightsFile, result: EvalResult, out: Writer) -> None:
    real_scores = [score for _, label, score in result.scores if label == REAL]
    train_config = weights.meta["train_config"]
    calibration = calibration_choose(
        real_scores,
        target_fpr=options["target_fpr"],
        measured_on=(
            f"held-out real images of the training run (seed {train_config['seed']}, "
            f"{train_config['holdout_fraction']:.0%} of groups; fingerprint "
            f"{str(weights.meta.get('held_out_fingerprint', ''))[:12]}), scored by detector_eval"
        ),
        device=str(options["device"]),
        precision="as loaded",
    )
    meta = {**weights.meta, "calibration": calibration_record(calibration, real_scores)}
    new_sha = weights_write(
        options["calibrate"],
        architecture=weights.architecture,
        arch_kwargs=weights.arch_kwargs,
        state_dict=weights.state_dict,
        meta=meta,
    )
    out.write(f"\ncalibrated: {calibration.sentence()}\n")
    out.write(f"wrote {options['calibrate']}\n  DETECTOR_WEIGHTS_SHA256={new_sha}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detection.detector.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    train_arguments(commands.add_parser("train", help="train a detector"))
    eval_arguments(commands.add_parser("eval", help="evaluate a weights file"))
    options = vars(parser.parse_args(argv))
    return train_run(options) if options["command"] == "train" else eval_run(options)


if __name__ == "__main__":
    raise SystemExit(main())
