"""vPDQ speed and exactness: detection.video.video_hash against Meta's vpdq binding, side by side on one core.

Run:  .venv/bin/python bench/video_hash_speed.py [--core 0] [--repeat 3] [--exactness 12]

1. Speed: a 1-minute 1280x720 H.264 video at 30 frames per second (synthetic: gradients, shapes, captions, drawn
   by tests/videos.py; made once under --workdir), hashed at one frame per second. The process is pinned to one
   core (sched_setaffinity), so FFmpeg's and the binding's threads share it. Best of --repeat for each.
2. Exactness: --exactness generated videos of assorted sizes, frame rates, codecs and containers, every frame
   of ours compared with the binding's (frame number, second, PDQ, quality).
Prints the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import av
import vpdq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from detection.video import video_hash
from tests import videos


def best(repeat: int, run: object) -> tuple[float, float]:
    """Best wall-clock seconds and best CPU seconds of the process (all its threads, here on one core). On a
    shared machine the CPU seconds are the better estimate of what an idle core would take."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        run()  # type: ignore[operator]
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def decode_only(path: Path) -> None:
    with av.open(str(path)) as container:
        for _ in container.decode(video=0):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exactness", type=int, default=12)
    parser.add_argument("--workdir", default="/tmp/takedown-video-bench")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    minute = work / "minute-720p-h264.mp4"
    if not minute.exists():
        print("making the test video (60 s, 1280x720, 30 fps, H.264) ...", flush=True)
        videos.encode(minute, videos.scene_frames(7, seconds=60, fps=30, size=(1280, 720)), fps=30,
                      options={"crf": "23", "preset": "medium"})
    os.sched_setaffinity(0, {args.core})
    print(f"load average before: {os.getloadavg()}; pinned to core {args.core}; "
          f"{minute.stat().st_size / 1e6:.1f} MB")
    ours = video_hash(minute)
    theirs = vpdq.computeHash(str(minute), thread_count=1)
    same = [(f.frame, f.second, f.pdq, f.quality) for f in ours.vpdq] == [
        (f.frame_number, f.timestamp, f.hex, f.quality) for f in theirs]
    ours_s = best(args.repeat, lambda: video_hash(minute))
    theirs_s = best(args.repeat, lambda: vpdq.computeHash(str(minute), thread_count=1))
    decode_s = best(args.repeat, lambda: decode_only(minute))
    print(f"1-minute 720p H.264, {ours.frames} frames, {len(ours.vpdq)} hashed (1 per second), identical: {same}")
    print(f"  detection.video.video_hash (PyAV + pdqhash, MD5 and SHA-256 too): {ours_s[0]:.2f} s wall, "
          f"{ours_s[1]:.2f} s CPU")
    print(f"  vpdq.computeHash (Meta's binding, thread_count=1):               {theirs_s[0]:.2f} s wall, "
          f"{theirs_s[1]:.2f} s CPU")
    print(f"  of which decoding every frame (PyAV alone):                      {decode_s[0]:.2f} s wall, "
          f"{decode_s[1]:.2f} s CPU")

    shapes = [((320, 240), 30, "libx264", "mp4"), ((256, 144), 25, "libvpx-vp9", "webm"),
              ((640, 360), 24, "mpeg4", "mov"), ((322, 180), 30, "libx264", "mkv"), ((1280, 720), 60, "libx264", "mp4"),
              ((480, 270), 15, "libvpx", "webm")]
    frames = mismatched = 0
    for index in range(args.exactness):
        size, fps, codec, suffix = shapes[index % len(shapes)]
        path = work / f"exact-{index}.{suffix}"
        if not path.exists():
            videos.scene(path, seed=100 + index, seconds=6 + index % 5, fps=fps, size=size, codec=codec)
        for seconds_per_hash in (1.0, 0.25):
            ours_frames = [(f.frame, f.second, f.pdq, f.quality)
                           for f in video_hash(path, seconds_per_hash=seconds_per_hash).vpdq]
            theirs_frames = [(f.frame_number, f.timestamp, f.hex, f.quality)
                             for f in vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)]
            frames += max(len(ours_frames), len(theirs_frames))
            mismatched += sum(a != b for a, b in zip(ours_frames, theirs_frames, strict=False))
            mismatched += abs(len(ours_frames) - len(theirs_frames))
    print(f"exactness: {args.exactness} videos x 2 rates, {frames} frames compared, {mismatched} differ")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
