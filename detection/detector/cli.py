"""Arguments and runners for training and evaluation, shared by the Django management commands
(`detector_train`, `detector_eval`) and `python -m detection.detector.cli {train,eval}` (no Django needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Protocol

from detection.detector.runtime import DetectorConfig, detector_load
from detection.detector.training import (
    PERTURBATIONS,
    EvalResult,
    TrainConfig,
    dataset_fingerprint,
    dataset_scan,
    detector_evaluate,
    detector_train,
    split_holdout,
)
from detection.detector.weights import file_sha256, weights_read

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
    parser.add_argument("--threshold", type=float, default=0.5, help="operating threshold")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--perturb", action="append", choices=sorted(PERTURBATIONS), default=[])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", metavar="FILE", default="", help="also write metrics and scores as JSON")
    parser.add_argument("--no-progress", action="store_true")


class EvalError(ValueError):
    """Evaluation cannot run as asked (wrong folders for --split holdout, ...)."""


def eval_run(options: dict[str, Any], out: Writer = sys.stdout) -> int:
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
    report: dict[str, Any] = {"weights_sha256": sha, "split": options["split"], "conditions": {}}
    for condition in ["", *options["perturb"]]:
        result: EvalResult = detector_evaluate(
            detector,
            samples,
            threshold=options["threshold"],
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
    if options["json"]:
        Path(options["json"]).write_text(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detection.detector.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    train_arguments(commands.add_parser("train", help="train a detector"))
    eval_arguments(commands.add_parser("eval", help="evaluate a weights file"))
    options = vars(parser.parse_args(argv))
    return train_run(options) if options["command"] == "train" else eval_run(options)


if __name__ == "__main__":
    raise SystemExit(main())
