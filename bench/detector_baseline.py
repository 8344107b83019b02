"""A one-bit rule beside NPR on the same held-out split: can the benchmark show that the model learned generation?

    python bench/detector_baseline.py --real var/detector-data/real --fake var/detector-data/generated \
        [--weights var/npr16.pt --sha256 HASH]

The rule looks at nothing but the container: score 1 when the file is a baseline (not progressive) JPEG, else 0.
On the bundled data every generated image is a baseline JPEG and most real ones are progressive, so if this rule
scores as well as the model, the held-out figures cannot tell learning generation from learning the JPEG pipeline.
The split is the training run's (same seed and held-out share; groups are subfolders: a person, a shoot, a source).
Also prints how the held-out images divide by source, so a reader sees what each figure stands on.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from detection.detector.metrics import metrics_compute
from detection.detector.training import REAL, Sample, dataset_scan, split_holdout


def baseline_jpeg(path: Path) -> float:
    """1.0 for a baseline (sequential) JPEG, 0.0 for anything else (progressive JPEG, PNG, ...)."""
    with Image.open(path) as image:
        return 1.0 if image.format == "JPEG" and not image.info.get("progressive") else 0.0


def _source(sample: Sample) -> str:
    group = sample.group.rsplit(":", 1)[-1]
    if sample.label != REAL:
        return "generated"
    return "skimage" if "skimage" in group else "pexels"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", action="append", required=True)
    parser.add_argument("--fake", action="append", required=True)
    parser.add_argument("--holdout", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default="", help="also score NPR on the same split")
    parser.add_argument("--sha256", default="")
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    samples = dataset_scan(args.real, args.fake)
    train, held = split_holdout(samples, fraction=args.holdout, seed=args.seed)
    print(f"split: seed {args.seed}, {args.holdout:.0%} of each class's groups held out; "
          f"{len(train)} training images, {len(held)} held out; load average {os.getloadavg()[0]:.2f}")
    print("held-out images by source:", dict(sorted(Counter(_source(s) for s in held).items())))
    print("held-out real groups:", sorted({s.group.rsplit(':', 1)[-1] for s in held if s.label == REAL}))
    labels = np.array([s.label for s in held])
    rule = np.array([baseline_jpeg(s.path) for s in held])
    rows: list[tuple[str, np.ndarray]] = [("one-bit rule: baseline JPEG", rule)]
    if args.weights:
        from detection.detector.runtime import DetectorConfig, detector_load
        from detection.detector.training import detector_evaluate
        from detection.detector.weights import file_sha256

        detector = detector_load(DetectorConfig(weights_path=args.weights,
                                                weights_sha256=args.sha256 or file_sha256(args.weights),
                                                device="cpu"), strict=True)
        scored = {path: score for path, _, score in
                  detector_evaluate(detector, held, threshold=0.5, bootstrap=0, progress=False).scores}
        rows.append((f"NPR ({Path(args.weights).name})", np.array([scored[str(s.path)] for s in held])))
    print(f"{'scorer':<34} {'AUC [95% CI]':>24}")
    for name, scores in rows:
        metrics = metrics_compute(labels, scores, threshold=0.5, bootstrap=args.bootstrap)
        ci = metrics.intervals.get("auc")
        band = f"[{ci.low:.3f}, {ci.high:.3f}]" if ci else ""
        print(f"{name:<34} {metrics.auc:>8.3f} {band:>15}")


if __name__ == "__main__":
    main()
