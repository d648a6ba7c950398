"""What is on screen, from the pixels alone: camera motion, object tracks, their shape and motion.

Nothing here reads ground truth. The only knowledge used is the world's vocabulary: the named
colours as the prompt's style and lighting would show them, and how each shape looks.
Distances are in units of the frame's shorter side, time in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from vidgen.world.render import object_rgb
from vidgen.world.scene import COLORS, DIRECTIONS

PALETTE = tuple(COLORS)
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
FLAT_TOL = 0.035  # border spread below which the backdrop counts as one flat colour
COLOR_TOL = 0.16  # RGB distance to the nearest named colour
CLEAN = 0.3  # an object's core is within CLEAN * tol of its colour (a quarter of it at least)
TONE_TOL = 0.05  # the same without colour (black and white, sepia): tones are one-dimensional
MIN_FEATURES = 12  # fewer background corners than this: a flat backdrop, the camera reads static
MAX_GAP = 6  # frames an object may vanish (occluded, merged) and still be the same track
MIN_AREA = 0.0018  # of the frame's shorter side squared (a small ring at half size is 0.003)


@dataclass
class Camera:
    """Accumulated background motion: frame-0 coordinates -> frame f, per frame."""

    mats: np.ndarray  # (F, 2, 3)
    kind: str  # static | pan-left | ... | unknown
    shift: tuple[float, float]  # content shift over the clip, units (x, y)
    log_zoom: float
    inliers: float  # fraction of tracked background points the model explains


@dataclass
class ObjTrack:
    """One object followed through the clip."""

    frames: list[int] = field(default_factory=list)
    centers: list[tuple[float, float]] = field(default_factory=list)  # px, screen
    areas: list[float] = field(default_factory=list)  # px
    colors: list[np.ndarray] = field(default_factory=list)  # mean core RGB
    masks: list[np.ndarray] = field(default_factory=list)  # cropped, centred binary masks
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, w, h
    shape_votes: list[str] = field(default_factory=list)
    color: str | None = None
    shape: str | None = None
    motion: str | None = None
    stab: np.ndarray | None = None  # (n, 2) stabilised centres, units
    key: int = -1  # index of the named colour it was found as


# --- colours ---------------------------------------------------------------------------------


def palette_rgb(style: str, lighting: str) -> np.ndarray:
    """(K, 3) how each named colour looks under the style and lighting."""
    return np.stack([object_rgb(c, style, lighting) for c in PALETTE]).astype(np.float32)


def nearest_color(rgb: np.ndarray, style: str, lighting: str) -> tuple[str, float]:
    pal = palette_rgb(style, lighting)
    d = np.linalg.norm(pal - rgb[None], axis=1)
    return PALETTE[int(np.argmin(d))], float(np.min(d))


# --- segmentation ----------------------------------------------------------------------------


def object_components(
    frame: np.ndarray, pal: np.ndarray, unit: float, tol: float = COLOR_TOL, tone: bool = False
) -> list[dict]:
    """Flat regions of a named colour in one frame (H, W, 3) float: the object candidates.

    Regions of the backdrop's own colour (the median of the frame's border), such as the
    backdrop seen through a ring, are not objects.
    """
    H, W, _ = frame.shape
    border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
    backdrop = np.median(border, axis=0)
    uniform = np.percentile(np.abs(border - backdrop).max(-1), 90) < FLAT_TOL
    if tone:  # without colour only brightness tells objects apart (and survives H.264 best)
        d = np.abs((frame @ LUMA)[:, :, None] - (pal @ LUMA)[None, None])  # (H, W, K)
    else:
        d = np.linalg.norm(frame[:, :, None, :] - pal[None, None], axis=-1)  # (H, W, K)
    nearest, near = d.argmin(-1), d.min(-1) < tol
    out = []
    min_area = MIN_AREA * unit * unit
    for ki in range(len(pal)):  # one colour at a time, so touching objects stay apart
        fg = (near & (nearest == ki)).astype(np.uint8)
        n, labels, stats, cents = cv2.connectedComponentsWithStats(fg, connectivity=8)
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < min_area or w > 0.75 * W or h > 0.75 * H:
                continue
            core = labels[y : y + h, x : x + w] == i
            rgb = frame[y : y + h, x : x + w][core].mean(0)
            if uniform and np.linalg.norm(rgb - backdrop) < tol:
                continue
            if not _stands_out(d[..., ki], labels == i, (x, y, w, h), tol):
                continue
            out.append(
                {
                    "key": ki,
                    "center": (float(cents[i][0]), float(cents[i][1])),
                    "area": float(area),
                    "box": (int(x), int(y), int(w), int(h)),
                    "core": core,
                    "rgb": rgb,
                }
            )
    return out


def _stands_out(dist: np.ndarray, mask: np.ndarray, box: tuple, tol: float) -> bool:
    """An object is its colour through and through, and its surroundings are not.

    `dist` is each pixel's distance to the component's named colour. Patches of a photo that
    happen to be near a named colour fail one test or the other: they vary inside, or they fade
    into similar colours around them.
    """
    x, y, w, h = box
    H, W = mask.shape
    x0, y0, x1, y1 = max(x - 3, 0), max(y - 3, 0), min(x + w + 3, W), min(y + h + 3, H)
    m = mask[y0:y1, x0:x1].astype(np.uint8)
    ring = cv2.dilate(m, np.ones((5, 5), np.uint8)).astype(bool) & ~m.astype(bool)
    clean = (dist[y0:y1, x0:x1][m.astype(bool)] < CLEAN * tol).mean()
    around = np.median(dist[y0:y1, x0:x1][ring]) if ring.any() else 1.0
    return bool(clean > 0.25 and around > 0.6 * tol)


def _link(tracks: list[ObjTrack], comps: list[dict], f: int, max_jump: float) -> None:
    """Greedy nearest-centre association of this frame's components to live tracks."""
    pairs = []
    for ti, t in enumerate(tracks):
        if f - t.frames[-1] > MAX_GAP:
            continue
        for ci, c in enumerate(comps):
            if c["key"] != t.key:
                continue  # a track keeps its named colour
            dist = math.dist(t.centers[-1], c["center"])
            if dist < max_jump * (f - t.frames[-1]):
                pairs.append((dist, ti, ci))
    used_t, used_c = set(), set()
    for _, ti, ci in sorted(pairs):
        if ti in used_t or ci in used_c:
            continue
        used_t.add(ti)
        used_c.add(ci)
        _append(tracks[ti], comps[ci], f)
    for ci, c in enumerate(comps):
        if ci not in used_c:
            t = ObjTrack()
            _append(t, c, f)
            tracks.append(t)


def _append(t: ObjTrack, c: dict, f: int) -> None:
    t.key = c["key"]
    t.frames.append(f)
    t.centers.append(c["center"])
    t.areas.append(c["area"])
    t.colors.append(c["rgb"])
    t.boxes.append(c["box"])
    t.masks.append(c["core"])


def find_tracks(
    video: np.ndarray, style: str, lighting: str, colors: list[str] | None = None
) -> list[ObjTrack]:
    """Object tracks present in most frames of a float video (F, H, W, 3).

    Like a detector asked for the classes a prompt names, it looks for the named colours in
    `colors` (all of them when None) as they look under the style and lighting.
    """
    F, H, W, _ = video.shape
    unit = float(min(H, W))
    pal = palette_rgb(style, lighting)
    if colors:
        pal = pal[[PALETTE.index(c) for c in sorted(set(colors))]]
    tracks: list[ObjTrack] = []
    tone = style in ("black-and-white", "sepia")
    tol = TONE_TOL if tone else COLOR_TOL
    for f in range(F):
        comps = object_components(video[f], pal, unit, tol, tone)
        _link(tracks, comps, f, max_jump=0.25 * unit)
    keep = [t for t in tracks if len(t.frames) >= max(2, 0.6 * F)]
    for t in keep:
        t.shape_votes = [classify_shape(m) for m in t.masks]
    return keep


# --- shape -----------------------------------------------------------------------------------


def shape_features(core: np.ndarray) -> dict[str, float]:
    """Scale- and rotation-free measurements of a binary mask."""
    m = np.pad(core, 2).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, [c], -1, 1, -1)
    area, filled_area = float(m.sum()), float(filled.sum())
    hull = cv2.convexHull(c)
    hull_area = max(cv2.contourArea(hull), 1.0)
    (_, _), r = cv2.minEnclosingCircle(c)
    (_, (rw, rh), _) = cv2.minAreaRect(c)
    tri_area, _ = cv2.minEnclosingTriangle(c)
    contour_area = max(cv2.contourArea(c), 1.0)
    return {
        "hole": filled_area / max(area, 1.0),
        "solidity": contour_area / hull_area,
        "circle_fill": contour_area / (math.pi * r * r + 1e-6),
        "rect_fill": contour_area / max(rw * rh, 1.0),
        "tri_fill": contour_area / max(tri_area, 1.0),
    }


def classify_shape(core: np.ndarray) -> str:
    """The world shape a mask looks like, or "unknown"."""
    if core.sum() < 12:
        return "unknown"
    f = shape_features(core)
    if f["hole"] > 1.12:
        return "ring"
    if f["solidity"] < 0.7:
        return "star"
    if f["circle_fill"] > 0.74:
        return "ball"
    if f["circle_fill"] < 0.53:
        return "triangle"
    if f["tri_fill"] < 0.58:
        return "square"
    return "heart"


# --- camera ----------------------------------------------------------------------------------


def estimate_camera(gray: np.ndarray, fps: float, object_masks: np.ndarray) -> Camera:
    """Fit a similarity transform between consecutive frames on background features.

    gray: (F, H, W) uint8; object_masks: (F, H, W) bool, excluded from the fit.
    """
    F, H, W = gray.shape
    unit = float(min(H, W))
    mats = [np.array([[1, 0, 0], [0, 1, 0]], np.float64)]
    explained, total = 0, 0
    k = 2 * max(5, round(0.08 * unit)) + 1  # objects, their outlines and glow stay out
    for f in range(1, F):
        near_obj = cv2.dilate(object_masks[f - 1].astype(np.uint8), np.ones((k, k), np.uint8))
        allowed = (near_obj == 0).astype(np.uint8) * 255
        pts = cv2.goodFeaturesToTrack(gray[f - 1], 200, 0.01, 3, mask=allowed)
        step = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
        if pts is not None and len(pts) >= MIN_FEATURES:
            nxt, ok, _ = cv2.calcOpticalFlowPyrLK(
                gray[f - 1], gray[f], pts, None, winSize=(15, 15), maxLevel=3
            )
            ok = ok.ravel().astype(bool)
            src, dst = pts[ok].reshape(-1, 2), nxt[ok].reshape(-1, 2)
            textured = (
                len(src) >= MIN_FEATURES
                and _spread(src, W, H)
                and _backdrop_texture(gray[f - 1], allowed > 0) > 0.08
            )
            if textured:  # features cover the frame: the backdrop can show a camera move
                m, inl = cv2.estimateAffinePartial2D(
                    src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0
                )
                good = inl.ravel().astype(bool) if m is not None else np.zeros(len(src), bool)
                if good.sum() >= max(MIN_FEATURES, 0.5 * len(src)) and _spread(dst[good], W, H):
                    step = m
                    explained += int(good.sum())
                total += len(src)
        prev = np.vstack([mats[-1], [0, 0, 1]])
        mats.append((np.vstack([step, [0, 0, 1]]) @ prev)[:2])
    mats_arr = np.stack(mats)
    last = mats_arr[-1]
    scale = math.sqrt(abs(np.linalg.det(last[:, :2])))
    log_zoom = math.log(max(scale, 1e-6))
    # content shift of the frame centre, units
    cx, cy = W / 2, H / 2
    moved = last @ np.array([cx, cy, 1.0])
    sx, sy = (moved[0] - cx) / unit, (moved[1] - cy) / unit
    duration = max((F - 1) / fps, 1e-6)
    kind = camera_kind(sx / duration, sy / duration, log_zoom / duration)
    inliers = explained / total if total else 1.0
    if inliers < 0.5:  # the frames do not move as one scene (noise, cuts): no camera reading
        kind = "unknown"
    return Camera(mats_arr, kind, (sx, sy), log_zoom, inliers)


def _backdrop_texture(gray: np.ndarray, allowed: np.ndarray) -> float:
    """Fraction of backdrop pixels on an edge: near 0 for a flat or smoothly shaded backdrop."""
    g = gray.astype(np.float32) / 255
    mag = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1))
    return float((mag[allowed] > 0.05).mean()) if allowed.any() else 0.0


def _spread(p: np.ndarray, W: int, H: int) -> bool:
    """Points that cover a good part of the frame, not one object's outline."""
    span = np.ptp(p, axis=0)
    return bool(span[0] > 0.3 * W and span[1] > 0.3 * H)


def camera_kind(vx: float, vy: float, vzoom: float) -> str:
    """Name a camera move from the content's velocity (units/s) and zoom rate (1/s)."""
    if abs(vzoom) > 0.07 and abs(vzoom) > 0.6 * max(abs(vx), abs(vy)):
        return "zoom-in" if vzoom > 0 else "zoom-out"
    if max(abs(vx), abs(vy)) < 0.045:
        return "static"
    if abs(vx) >= abs(vy):
        return "pan-left" if vx > 0 else "pan-right"  # content moves right: the camera pans left
    return "tilt-up" if vy > 0 else "tilt-down"


# --- motion ----------------------------------------------------------------------------------


def stabilise(t: ObjTrack, cam: Camera, unit: float) -> np.ndarray:
    """Track centres mapped back into frame-0 coordinates (units), removing the camera move."""
    out = []
    for f, (x, y) in zip(t.frames, t.centers, strict=True):
        full = np.vstack([cam.mats[f], [0, 0, 1]])
        inv = np.linalg.inv(full)
        px, py, _ = inv @ np.array([x, y, 1.0])
        out.append((px / unit, py / unit))
    return np.array(out)


def _scale_of(cam: Camera, f: int) -> float:
    return math.sqrt(abs(np.linalg.det(cam.mats[f][:, :2])))


def spin_change(t: ObjTrack, sizes: np.ndarray) -> float:
    """1 - IoU between the first clean mask and later ones, each centred and scaled to one
    area: high when the object turns. `sizes` are the stabilised areas (camera zoom removed)."""
    med = np.median(sizes)
    clean = [i for i, a in enumerate(sizes) if abs(a - med) < 0.12 * med]
    if len(clean) < 3:
        return 0.0
    ref = _canonical(t.masks[clean[0]])
    changes = [1 - _iou(ref, _canonical(t.masks[i])) for i in clean[1:]]
    return float(np.percentile(changes, 75))


def _canonical(mask: np.ndarray, area: float = 900.0, side: int = 64) -> np.ndarray:
    """The mask scaled to a fixed area and centred on its centroid in a side x side square."""
    m = mask.astype(np.float32)
    k = math.sqrt(area / max(m.sum(), 1.0))
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
    mat = np.array([[k, 0, side / 2 - k * cx], [0, k, side / 2 - k * cy]], np.float32)
    return cv2.warpAffine(m, mat, (side, side), flags=cv2.INTER_LINEAR) > 0.5


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _circle_fit(p: np.ndarray) -> tuple[float, float, float, float]:
    """Kasa least-squares circle: centre x, y, radius, rms residual."""
    A = np.column_stack([2 * p[:, 0], 2 * p[:, 1], np.ones(len(p))])
    b = (p**2).sum(1)
    (cx, cy, c), *_ = np.linalg.lstsq(A, b, rcond=None)
    r = math.sqrt(max(c + cx * cx + cy * cy, 0.0))
    res = float(np.sqrt(np.mean((np.hypot(p[:, 0] - cx, p[:, 1] - cy) - r) ** 2)))
    return cx, cy, r, res


def bounce_contacts(y: np.ndarray, margin: float = 0.04) -> int:
    """Times the object falls and then rises again, each by more than `margin` (y grows down)."""
    count, state, ext = 0, None, y[0]  # state: "down", "up" or None (not yet moving)
    for v in y[1:]:
        if state != "down" and v > ext + margin:
            state, ext = "down", v
        elif state != "up" and v < ext - margin:
            count += state == "down"
            state, ext = "up", v
        elif (state == "down" and v > ext) or (state == "up" and v < ext) or state is None:
            ext = v if state else ext
    return count


def classify_motion(t: ObjTrack, cam: Camera, unit: float) -> str:
    """The world motion a track shows, measured against the background."""
    p = stabilise(t, cam, unit)
    t.stab = p
    scales = np.array([_scale_of(cam, f) for f in t.frames])
    areas = np.array(t.areas) / scales**2
    n = len(p)
    edge = max(1, n // 5)
    size_ratio = math.sqrt(np.median(areas[-edge:]) / max(np.median(areas[:edge]), 1e-6))
    steps = np.diff(p, axis=0)
    path = float(np.linalg.norm(steps, axis=1).sum())
    net = p[-1] - p[0]
    dist = float(np.linalg.norm(net))
    extent = float(np.ptp(p, axis=0).max()) if n > 1 else 0.0
    if extent > 0.1:
        if bounce_contacts(p[:, 1]) >= 1 and np.ptp(p[:, 1]) > 2 * np.ptp(p[:, 0]):
            return "bounce"
        if dist > 0.06 and dist > 0.85 * path:
            return direction_name(net[0], net[1])
        cx, cy, r, res = _circle_fit(p)
        if 0.06 < r < 0.5 and res < 0.2 * r:
            ang = np.unwrap(np.arctan2(p[:, 1] - cy, p[:, 0] - cx))
            if abs(ang[-1] - ang[0]) > 1.4:
                return "orbit"
        if dist > 0.06 and dist > 0.7 * path:
            return direction_name(net[0], net[1])
        return "unknown"
    if size_ratio > 1.22:
        return "grow"
    if size_ratio < 0.82:
        return "shrink"
    if dist < 0.04 and spin_change(t, areas) > 0.22:
        return "spin"
    if dist < 0.04:
        return "still"
    return direction_name(net[0], net[1]) if dist > 0.06 else "unknown"


def direction_name(dx: float, dy: float) -> str:
    """The nearest of the eight world directions."""
    ang = math.atan2(dy, dx)
    best, score = "unknown", -2.0
    for name, (ux, uy) in DIRECTIONS.items():
        s = math.cos(ang - math.atan2(uy, ux))
        if s > score:
            best, score = name, s
    return best
