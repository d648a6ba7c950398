"""WorldBench: score a video against its prompt, from the pixels alone.

`score_clip(frames, fps, prompt)` parses the prompt into the expected scene, finds what is on
screen (vidgen.world.analyze) and scores eleven dimensions. A dimension the prompt does not state
is unscorable (score None), never guessed. `report(clips)` aggregates them; `contact_sheet`
draws them for a person to look at. The fixed suite lives in suite_v1.json beside this file.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vidgen.world import analyze as A
from vidgen.world.backgrounds import render_background
from vidgen.world.captions import Expected, parse
from vidgen.world.render import NEON_BACKDROP, SEPIA, grade, render
from vidgen.world.scene import BACKGROUNDS, DIRECTIONS, Scene

DIMENSIONS = (
    "color",
    "shape",
    "count",
    "motion",
    "camera",
    "background",
    "style",
    "flicker",
    "consistency",
    "smoothness",
    "dynamic",
)
EXTRA = ("direction",)  # reported beside the eleven: motion restricted to direction prompts
SUITE_PATH = Path(__file__).with_name("suite_v1.json")
CONTINUOUS = ("flicker", "consistency", "smoothness")  # graded; the rest are right or wrong
PASS = 0.5  # a graded score at or above this passes; the others pass only when fully right
# What H.264 at CRF 18 and resampling do to a perfectly steady clip: changes this small are
# not counted against flicker and consistency.
FLICKER_FLOOR = 0.006  # second difference of block means
COLOR_FLOOR = 0.02  # RGB distance of an object's mean colour from its median
SIZE_FLOOR = 0.04  # |log area| about its trend


# --- backdrop and style ----------------------------------------------------------------------

PROTO = 48  # features are taken at this side, pixels


def _backdrop_features(img: np.ndarray, mask: np.ndarray, style: str) -> np.ndarray:
    """Colour histogram (4x4x4), mean colour of the top and bottom halves, and edge energy
    across and along, of the non-object pixels of one image already at PROTO size."""
    keep = ~mask
    if style == "neon":  # undo the known dimming so backdrops are told apart at their level
        img = img / NEON_BACKDROP
    img = np.clip(img, 0, 1)
    q = np.minimum((img * 4).astype(int), 3)
    idx = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2])[keep]
    hist = np.bincount(idx, minlength=64).astype(np.float64)
    hist /= max(hist.sum(), 1)
    h = img.shape[0] // 2
    halves = [img[:h][keep[:h]], img[h:][keep[h:]]]
    means = np.concatenate([x.mean(0) if len(x) else np.zeros(3) for x in halves])
    gray = img.mean(-1)
    gx = np.abs(np.diff(gray, axis=1))[keep[:, 1:] & keep[:, :-1]]
    gy = np.abs(np.diff(gray, axis=0))[keep[1:] & keep[:-1]]
    edges = [4 * math.sqrt(gx.mean()) if gx.size else 0, 4 * math.sqrt(gy.mean()) if gy.size else 0]
    return np.concatenate([np.sqrt(hist), 2 * means, edges])


def _small(img: np.ndarray) -> np.ndarray:
    H, W = img.shape[:2]
    size = (round(PROTO * W / H), PROTO) if W >= H else (PROTO, round(PROTO * H / W))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=32)
def _prototypes(style: str, lighting: str, width: int, height: int):
    """How every backdrop looks under this style and lighting (static camera), as features."""
    out = []
    one = np.ones(1, np.float32)
    w, h = width / min(width, height), height / min(width, height)
    for bg in BACKGROUNDS:
        sc = Scene((), bg, "static", style, lighting, width / height, 1.0, seed=1234)
        img = render_background(sc, width, height, one * w / 2, one * h / 2, one)[0]
        img = _small(grade(img, style, lighting, backdrop=True))
        out.append((bg, _backdrop_features(img, np.zeros(img.shape[:2], bool), style)))
    return tuple(out)


def classify_background(frames: np.ndarray, masks: np.ndarray, style: str, lighting: str) -> str:
    """The nearest backdrop prototype to the first and last frames (objects masked out)."""
    F, H, W, _ = frames.shape
    protos = _prototypes(style, lighting, W, H)
    best: dict[str, float] = {}
    for f in {0, F - 1}:
        img = _small(frames[f])
        grown = cv2.dilate(masks[f].astype(np.uint8), np.ones((9, 9), np.uint8))
        m = cv2.resize(grown, img.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
        feat = _backdrop_features(img, m, style)
        for name, p in protos:
            d = float(np.linalg.norm(feat - p))
            best[name] = min(best.get(name, 9.0), d)
    return min(best, key=best.get)


def classify_style(frames: np.ndarray, masks: np.ndarray) -> str:
    """plain | black-and-white | sepia | neon | pastel | cartoon, from global colour statistics
    and what surrounds the objects."""
    F = len(frames)
    img = frames[F // 2]
    chroma = img.max(-1) - img.min(-1)
    if np.percentile(chroma, 99) < 0.05:
        return "black-and-white"
    lum = img @ SEPIA / float(SEPIA @ SEPIA)
    off = np.abs(img - lum[..., None] * SEPIA).max(-1) / (lum + 0.05)
    on_objects = masks[F // 2]
    if np.percentile(off, 95) < 0.1 and (not on_objects.any() or np.median(off[on_objects]) < 0.1):
        return "sepia"
    if np.percentile(img.min(-1), 2) > 0.5:
        return "pastel"
    votes = Counter()
    for f in sorted({0, F // 2, F - 1}):
        m = masks[f].astype(np.uint8)
        if m.sum() < 10:
            continue
        gray = frames[f].mean(-1)
        d = {k: cv2.dilate(m, np.ones((k, k), np.uint8)).astype(bool) for k in (5, 7, 9, 11, 17)}
        band, near = d[5] & ~m.astype(bool), d[9] & ~d[5]
        outer, far = d[11] & ~d[7], d[17] & ~d[11]
        ink = (gray[band] < 0.15).mean() - ((gray[outer] < 0.15).mean() if outer.any() else 1)
        if ink > 0.08:  # a dark line hugs the objects that the backdrop around them lacks
            votes["cartoon"] += 1
        elif np.median(gray[~d[17]]) < 0.2 and np.mean(gray[near]) > np.mean(gray[far]) + 0.05:
            votes["neon"] += 1
        else:
            votes["plain"] += 1
    return votes.most_common(1)[0][0] if votes else "plain"


# --- temporal quality ------------------------------------------------------------------------


def flicker_score(frames: np.ndarray, cam: A.Camera) -> float:
    """1 - temporal second difference of block means (an 8-block grid; robust median), scaled;
    1 is steady.

    Frames are first warped back onto frame 0 along the measured camera path, so a pan or a
    zoom is not mistaken for flicker.
    """
    F, H, W, _ = frames.shape
    if F < 3:
        return 1.0
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    size = (8, max(round(8 * H / W), 1)) if W >= H else (max(round(8 * W / H), 1), 8)
    small, seen = [], np.ones(size[::-1], bool)
    for i, f in enumerate(frames):
        m = cam.mats[i].astype(np.float32)
        small.append(
            cv2.resize(
                cv2.warpAffine(f, m, (W, H), flags=flags), size, interpolation=cv2.INTER_AREA
            )
        )
        inside = cv2.warpAffine(np.ones((H, W), np.float32), m, (W, H), flags=flags)
        seen &= cv2.resize(inside, size, interpolation=cv2.INTER_AREA) > 0.999
    small = np.stack(small)
    d2 = np.abs(small[2:] - 2 * small[1:-1] + small[:-2]).max(-1)  # (F-2, h, w)
    d2 = d2[:, seen] if seen.sum() >= 4 else d2.reshape(F - 2, -1)  # blocks always in view
    raw = float(np.mean(np.median(d2, axis=1)))
    return float(np.clip(1 - max(raw - FLICKER_FLOOR, 0) / 0.03, 0, 1))


def consistency_score(t: A.ObjTrack) -> float:
    """Colour and size stable over time (size after removing steady growth or shrinking)."""
    cols = np.array(t.colors)
    drift = float(np.median(np.linalg.norm(cols - np.median(cols, 0), axis=1)))
    la = np.log(np.maximum(np.array(t.areas), 1.0))
    x = np.array(t.frames, np.float64)
    i, j = np.triu_indices(len(x), 1)
    slope = float(np.median((la[j] - la[i]) / (x[j] - x[i]))) if len(x) > 1 else 0.0
    resid = la - slope * x  # Theil-Sen: a few occluded frames do not tilt the line
    spread = float(np.median(np.abs(resid - np.median(resid))))
    drift, spread = max(drift - COLOR_FLOOR, 0), max(spread - SIZE_FLOOR, 0)
    return float(np.clip(1 - drift / 0.1, 0, 1) * 0.5 + np.clip(1 - spread / 0.15, 0, 1) * 0.5)


def smoothness_score(t: A.ObjTrack) -> float:
    """Fraction of 4-frame windows where the (camera-stabilised) centre has little jerk (third
    difference): steady motion, steady turning and free fall are smooth; a bounce's floor
    contacts are allowed their sudden turn."""
    p, fr = t.stab, np.array(t.frames)
    if p is None or len(p) < 4:
        return 1.0
    lows = {j for j in range(1, len(p) - 1) if p[j, 1] >= p[j - 1, 1] and p[j, 1] >= p[j + 1, 1]}
    ok, n = 0, 0
    for i in range(len(p) - 3):
        if fr[i + 3] - fr[i] != 3:
            continue
        jerk = np.linalg.norm(p[i + 3] - 3 * p[i + 2] + 3 * p[i + 1] - p[i])
        vel = np.linalg.norm(p[i + 3] - p[i]) / 3
        contact = t.motion == "bounce" and any(j in lows for j in range(i, i + 4))
        ok += contact or jerk <= 0.02 + 0.3 * vel
        n += 1
    return ok / n if n else 1.0


# --- scoring one clip ------------------------------------------------------------------------


def _match(expected: list, tracks: list[A.ObjTrack]) -> list[A.ObjTrack | None]:
    """Assign tracks to expected objects maximising agreement (colour counts double)."""

    def agree(e, t):
        return 2 * (e.color == t.color) + (e.shape == t.shape) + (e.motion == t.motion)

    best, best_score = [None] * len(expected), -1
    slots = list(range(len(tracks))) + [None] * len(expected)
    for perm in itertools.permutations(slots, len(expected)):
        if any(p is not None and perm.count(p) > 1 for p in perm):
            continue
        s = sum(agree(e, tracks[p]) for e, p in zip(expected, perm, strict=True) if p is not None)
        if s > best_score:
            best, best_score = [tracks[p] if p is not None else None for p in perm], s
    return best


def _fraction(pairs: list[tuple[str | None, str | None]]) -> float | None:
    scored = [(want, got) for want, got in pairs if want is not None]
    return sum(want == got for want, got in scored) / len(scored) if scored else None


def score_clip(frames: np.ndarray, fps: float, prompt: str) -> dict:
    """Score uint8 frames (F, H, W, 3) against a prompt; returns dimensions and what was seen."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise ValueError(f"frames must be (F>=2, H, W, 3), got shape {frames.shape}")
    exp: Expected = parse(prompt)
    style, lighting = exp.style or "plain", exp.lighting or "day"
    video = frames.astype(np.float32) / 255.0
    F, H, W, _ = video.shape
    unit = float(min(H, W))
    colors = [o.color for o in exp.objects]
    tracks = A.find_tracks(video, style, lighting, None if None in colors else colors)
    masks = np.zeros((F, H, W), bool)
    for t in tracks:
        for f, (x, y, w, h), m in zip(t.frames, t.boxes, t.masks, strict=True):
            masks[f, y : y + h, x : x + w] |= m
    gray = (video.mean(-1) * 255).astype(np.uint8)
    cam = A.estimate_camera(gray, fps, masks)
    for t in tracks:
        t.color = A.nearest_color(np.median(np.array(t.colors), 0), style, lighting)[0]
        t.shape = Counter(t.shape_votes).most_common(1)[0][0]
        t.motion = A.classify_motion(t, cam, unit)
    objs = exp.objects
    matched = _match(objs, tracks) if objs else []
    got = [(t.color, t.shape, t.motion) if t else (None, None, None) for t in matched]
    colorless = style in ("black-and-white", "sepia")
    dims: dict[str, float | None] = dict.fromkeys(DIMENSIONS + EXTRA)
    if objs:
        dims["color"] = (
            None
            if colorless
            else _fraction([(o.color, g[0]) for o, g in zip(objs, got, strict=True)])
        )
        dims["shape"] = _fraction([(o.shape, g[1]) for o, g in zip(objs, got, strict=True)])
        dims["count"] = float(len(tracks) == len(objs))
        dims["motion"] = _fraction([(o.motion, g[2]) for o, g in zip(objs, got, strict=True)])
        dims["direction"] = _fraction(
            [(o.motion, g[2]) for o, g in zip(objs, got, strict=True) if o.motion in DIRECTIONS]
        )
        found = [t for t in matched if t]
        dims["consistency"] = (
            float(np.mean([consistency_score(t) for t in found])) if found else 0.0
        )
        dims["smoothness"] = float(np.mean([smoothness_score(t) for t in found])) if found else 0.0
    if exp.camera:
        dims["camera"] = float(cam.kind == exp.camera)
    if exp.background:
        seen_bg = classify_background(video, masks, style, lighting)
        dims["background"] = float(seen_bg == exp.background)
    seen_style = classify_style(video, masks)
    if exp.style:
        dims["style"] = float(seen_style == exp.style)
    dims["flicker"] = flicker_score(video, cam)
    moving = any(o.motion not in (None, "still") for o in objs) or exp.camera not in (
        None,
        "static",
    )
    if moving:
        dims["dynamic"] = float(
            cam.kind not in ("static", "unknown")
            or any(t.motion not in ("still", "unknown") for t in tracks)
        )
    return {
        "prompt": prompt,
        "dimensions": {k: (None if v is None else round(v, 4)) for k, v in dims.items()},
        "seen": {
            "objects": [
                {"color": t.color, "shape": t.shape, "motion": t.motion, "frames": len(t.frames)}
                for t in tracks
            ],
            "camera": cam.kind,
            "background": seen_bg if exp.background else None,
            "style": seen_style,
        },
        "expected": {
            "objects": [vars(o) for o in objs],
            "camera": exp.camera,
            "background": exp.background,
            "style": exp.style,
            "lighting": exp.lighting,
            "problems": exp.problems,
        },
    }


# --- reports ---------------------------------------------------------------------------------


def _dimensions(clips: list[dict]) -> dict:
    """Each dimension's mean score, 95% interval and count over clips (None where unscorable)."""
    dims = {}
    for d in DIMENSIONS + EXTRA:
        vals = np.array([c["dimensions"][d] for c in clips if c["dimensions"].get(d) is not None])
        n = len(vals)
        score = float(vals.mean()) if n else None
        ci = float(1.96 * vals.std(ddof=1) / math.sqrt(n)) if n > 1 else None
        dims[d] = {
            "score": None if score is None else round(score, 4),
            "ci95": None if ci is None else round(ci, 4),
            "n": n,
        }
    return dims


def report(clips: list[dict], groups: list[str] | None = None) -> dict:
    """Aggregate per-clip results: each dimension's mean score, 95% interval and count.

    groups, one label per clip, adds the same aggregate per label under "groups" (the suite
    labels its clips "split/phrasing": scenes from the training or held-out split, captioned in
    training or held-out wording)."""
    rep = {"version": "worldbench-1", "n_clips": len(clips), "dimensions": _dimensions(clips)}
    if groups is not None:
        if len(groups) != len(clips):
            raise ValueError(f"groups: {len(groups)} labels for {len(clips)} clips")
        rep["groups"] = {
            g: {
                "n_clips": groups.count(g),
                "dimensions": _dimensions(
                    [c for c, label in zip(clips, groups, strict=True) if label == g]
                ),
            }
            for g in sorted(set(groups))
        }
    return {**rep, "clips": clips}


def suite_group(item: dict) -> str:
    """A suite item's group: "train/train", "heldout/train" (an unseen colour, shape and motion
    triple in training wording) or "heldout/heldout" (the same in wording training never uses)."""
    return f"{item['split']}/{item['phrasing']}"


def passed(dim: str, score: float) -> bool:
    """A clip passes a dimension when every object is right (or a graded score is >= PASS)."""
    return score >= PASS if dim in CONTINUOUS else score >= 0.999


def contact_sheet(
    clips: list[dict],
    videos: list[np.ndarray],
    path: str | Path,
    per_row: int = 6,
    thumb: int = 96,
    max_clips: int = 60,
) -> None:
    """A PNG grid: frames of each clip, its prompt, and each dimension's pass or fail."""
    from PIL import Image, ImageDraw

    rows = []
    for c, v in list(zip(clips, videos, strict=True))[:max_clips]:
        idx = np.linspace(0, len(v) - 1, per_row).round().astype(int)
        tiles = [
            Image.fromarray(v[i]).resize(
                (
                    thumb * v.shape[2] // max(v.shape[1], v.shape[2]),
                    thumb * v.shape[1] // max(v.shape[1], v.shape[2]),
                )
            )
            for i in idx
        ]
        width = per_row * (thumb + 2)
        row = Image.new("RGB", (width, thumb + 40), "white")
        for i, t in enumerate(tiles):
            row.paste(t, (i * (thumb + 2), 0))
        draw = ImageDraw.Draw(row)
        draw.text((2, thumb + 2), c["prompt"][: width // 6], fill="black")
        x = 2
        for d in DIMENSIONS:
            s = c["dimensions"][d]
            mark, color = (
                ("-", "gray") if s is None else (("ok", "green") if passed(d, s) else ("X", "red"))
            )
            label = f"{d[:5]}:{mark}"
            draw.text((x, thumb + 20), label, fill=color)
            x += 6 * len(label) + 8
        rows.append(row)
    if not rows:
        raise ValueError("no clips to draw")
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(path)


def load_suite(path: str | Path = SUITE_PATH) -> dict:
    return json.loads(Path(path).read_text())


def render_item(suite: dict, item: dict) -> np.ndarray:
    """The ground-truth frames (F, H, W, 3) uint8 of one suite item, at the suite's size."""
    scene = Scene.from_dict(item["scene"])
    return render(scene, suite["width"], suite["height"], suite["frames"], suite["fps"])[0]
