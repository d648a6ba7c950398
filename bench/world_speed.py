"""World renderer throughput on one CPU core: one JSON line per size.

Renders seeded training scenes to uint8 frames (no video encoding) and reports clips per second.
Bars (issue 2): >= 200 clips/s at 64x64 and >= 30 clips/s at 128x128, 17 frames each.
"""

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the bar says

import cv2  # noqa: E402

cv2.setNumThreads(1)

from vidgen.world.render import render  # noqa: E402
from vidgen.world.scene import sample_scene  # noqa: E402


def clips_per_s(size: int, frames: int, seconds: float) -> tuple[float, int]:
    scenes = [sample_scene(s, duration=frames / 8) for s in range(400)]
    for sc in scenes[:20]:  # warm caches (photos, imports)
        render(sc, size, size, frames, 8.0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        render(scenes[n % len(scenes)], size, size, frames, 8.0)
        n += 1
    return n / (time.perf_counter() - start), n


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    for size in (64, 128, 256):
        rate, n = clips_per_s(size, 17, seconds)
        print(
            json.dumps(
                {
                    "size": f"{size}x{size}",
                    "frames": 17,
                    "clips_per_s": round(rate, 1),
                    "clips": n,
                    "threads": 1,
                }
            )
        )


if __name__ == "__main__":
    main()
