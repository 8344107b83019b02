"""Detector throughput: images/s at 224x224 for batch sizes 1..256 (random weights: speed does not depend on them).

    python bench/detector_bench.py                       # CPU, the paper's NPR width (64)
    python bench/detector_bench.py --width 16            # the bundled default model's width
    python bench/detector_bench.py --device cuda         # GPU, bf16 autocast (fp16 where bf16 is unsupported)

Two columns: "model" times `TorchDetector.score_batch` on an already cropped uint8 batch (host-to-device
copy from pinned memory, autocast, forward, sigmoid, copy back); "end-to-end" times `score()` on 512x512
uint8 arrays (adds the grid-aligned centre crop and batching on the CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from detection.detector.npr import NPRNet
from detection.detector.runtime import TorchDetector, device_describe, device_resolve, precision_resolve


def _rates(run: object, images: int, min_seconds: float, sync: bool, repeats: int) -> list[float]:
    """Images/s in `repeats` windows of at least `min_seconds` each, after one warm-up call."""
    assert callable(run)
    run()  # warm-up: allocator, cuDNN/oneDNN kernel choice
    if sync:
        torch.cuda.synchronize()
    rates = []
    for _ in range(repeats):
        count, began = 0, time.perf_counter()
        while True:
            run()
            if sync:
                torch.cuda.synchronize()
            count += 1
            elapsed = time.perf_counter() - began
            if elapsed >= min_seconds:
                rates.append(count * images / elapsed)
                break
    return rates


def _cell(rates: list[float]) -> str:
    # On a shared machine the best window is the closest to what the hardware can do; the median shows the
    # rate under the load that was there. Both are printed so neither is mistaken for the other.
    return f"{max(rates):.1f} / {statistics.median(rates):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16 or fp16")
    parser.add_argument("--width", type=int, default=64, help="NPR width (64 = paper, 16 = bundled default)")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="time each batch size at least this long")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per batch size (best / median shown)")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the end-to-end column")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_resolve(args.device)
    precision = precision_resolve(args.precision, device)
    torch.manual_seed(0)
    model = NPRNet(width=args.width)
    params = sum(p.numel() for p in model.parameters())
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    detector = TorchDetector(
        model,
        device=device,
        precision=precision,
        batch_size=max(sizes),
        threshold=0.5,
        architecture="npr",
        weights_sha256="random",
    )
    sync = device.type == "cuda"
    print(f"device: {device_describe(device)}; precision: {precision}; torch {torch.__version__}")
    print(
        f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"model: NPR width {args.width}, {params:,} parameters; input 224x224 RGB")
    print(f"images/s, best / median of {args.repeats} windows of >= {args.min_seconds} s each")
    print(f"{'batch':>6} {'model':>17} {'end-to-end':>17}")
    rng = np.random.default_rng(0)
    for size in sizes:
        batch = torch.from_numpy(rng.integers(0, 256, (size, 3, 224, 224), dtype=np.uint8))
        model_rate = _cell(_rates(lambda b=batch: detector.score_batch(b), size, args.min_seconds, sync, args.repeats))
        end_to_end = ""
        if not args.no_end_to_end:
            arrays = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(size)]
            detector_e2e = TorchDetector(
                model,
                device=device,
                precision=precision,
                batch_size=size,
                threshold=0.5,
                architecture="npr",
                weights_sha256="random",
            )
            e2e_rates = _rates(lambda a=arrays: detector_e2e.score(a), size, args.min_seconds, sync, args.repeats)
            end_to_end = _cell(e2e_rates)
        print(f"{size:>6} {model_rate:>17} {end_to_end:>17}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
