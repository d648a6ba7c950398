"""Render a scene to frames: vectorised NumPy over (frames, height, width), anti-aliased by SDFs.

`render(scene, width, height, frames, fps)` returns uint8 frames (F, H, W, 3) and the per-frame
ground truth. World units: one unit is the frame's shorter side; y grows downwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidgen.world import backgrounds
from vidgen.world.scene import (
    CAMERA_PAN_SPEED,
    CAMERA_ZOOM_RATE,
    COLORS,
    DIRECTIONS,
    GRAVITY,
    LINEAR_SPEED,
    ORBIT_SPEED,
    RESTITUTION,
    SCALE_RATE,
    SIZES,
    SPIN_SPEED,
    Scene,
    WorldObject,
    frame_extent,
)

MAX_SIDE = 1024

# lighting multiplies linear-ish RGB; style maps the lit colour (see `grade`)
LIGHTING_GAIN = {
    "day": np.array([1.0, 1.0, 1.0], np.float32),
    "dusk": np.array([0.95, 0.72, 0.55], np.float32),
    "night": np.array([0.40, 0.46, 0.72], np.float32),
}
SEPIA = np.array([1.10, 0.86, 0.60], np.float32)
NEON_BACKDROP = 0.16  # neon dims the backdrop to this fraction


def validate_size(width: int, height: int, frames: int, fps: float) -> None:
    """Reject sizes the world cannot render, naming the field and the allowed range."""
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, int) or v < 16 or v > MAX_SIDE or v % 16:
            raise ValueError(f"{name} must be a multiple of 16 from 16 to {MAX_SIDE}, got {v}")
    if not isinstance(frames, int) or frames < 1 or frames > 2048:
        raise ValueError(f"frames must be an integer from 1 to 2048, got {frames}")
    if not (0 < fps <= 240):
        raise ValueError(f"fps must be in (0, 240], got {fps}")


# --- motion ----------------------------------------------------------------------------------


@dataclass
class Track:
    """An object's state per frame, in world units: centre, rotation and scale."""

    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    scale: np.ndarray


def _bounce_y(y0: float, floor: float, t: np.ndarray) -> np.ndarray:
    """Height under gravity from rest at y0, bouncing off `floor` and losing energy each time."""
    y = np.full_like(t, floor)
    drop = max(floor - y0, 0.0)
    t_hit = math.sqrt(2 * drop / GRAVITY)
    falling = t < t_hit
    y[falling] = y0 + 0.5 * GRAVITY * t[falling] ** 2
    v, start = GRAVITY * t_hit * RESTITUTION, t_hit
    while v > 0.02:
        flight = 2 * v / GRAVITY
        seg = (t >= start) & (t < start + flight)
        tau = t[seg] - start
        y[seg] = floor - (v * tau - 0.5 * GRAVITY * tau**2)
        start, v = start + flight, v * RESTITUTION
    return y


def object_track(o: WorldObject, scene: Scene, t: np.ndarray) -> Track:
    """Where the object is at times t (seconds)."""
    x = np.full_like(t, o.x)
    y = np.full_like(t, o.y)
    angle = np.full_like(t, o.angle)
    scale = np.ones_like(t)
    m = o.motion
    if m in DIRECTIONS:
        dx, dy = DIRECTIONS[m]
        d = LINEAR_SPEED[o.speed] * o.pace * t
        x, y = o.x + dx * d, o.y + dy * d
    elif m == "bounce":
        _, h = frame_extent(scene.aspect)
        floor = h - SIZES[o.size] - 0.03
        y = _bounce_y(o.y, floor, t)
    elif m == "spin":
        angle = o.angle + o.spin_dir * SPIN_SPEED[o.speed] * t
    elif m in ("grow", "shrink"):
        sign = 1.0 if m == "grow" else -1.0
        scale = np.exp(sign * SCALE_RATE[o.speed] * o.pace * t)
    elif m == "orbit":
        a0 = math.atan2(o.y - o.orbit_cy, o.x - o.orbit_cx)
        a = a0 + o.spin_dir * ORBIT_SPEED[o.speed] * t
        x, y = o.orbit_cx + o.orbit_r * np.cos(a), o.orbit_cy + o.orbit_r * np.sin(a)
    return Track(
        x.astype(np.float32),
        y.astype(np.float32),
        angle.astype(np.float32),
        scale.astype(np.float32),
    )


def camera_track(scene: Scene, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera centre (world units) and zoom per frame; the camera starts centred on the frame."""
    w, h = frame_extent(scene.aspect)
    cx, cy, zoom = np.full_like(t, w / 2), np.full_like(t, h / 2), np.ones_like(t)
    c = scene.camera
    if c == "pan-left":
        cx = w / 2 - CAMERA_PAN_SPEED * t
    elif c == "pan-right":
        cx = w / 2 + CAMERA_PAN_SPEED * t
    elif c == "tilt-up":
        cy = h / 2 - CAMERA_PAN_SPEED * t
    elif c == "tilt-down":
        cy = h / 2 + CAMERA_PAN_SPEED * t
    elif c == "zoom-in":
        zoom = np.exp(CAMERA_ZOOM_RATE * t)
    elif c == "zoom-out":
        zoom = np.exp(-CAMERA_ZOOM_RATE * t)
    return cx, cy, zoom


# --- shapes ----------------------------------------------------------------------------------


def shape_sdf(shape: str, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) in object units, radius 1, y down, no rotation."""
    if shape == "ball":
        return np.sqrt(px * px + py * py) - 1.0
    if shape == "ring":
        return np.abs(np.sqrt(px * px + py * py) - 0.72) - 0.28
    if shape == "square":
        qx, qy = np.abs(px) - 0.8, np.abs(py) - 0.8
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0)
    if shape == "triangle":  # equilateral, apex up, circumradius 1.1, centroid at the origin
        r = 1.1
        d = py - 0.5 * r  # bottom edge; the inradius is half the circumradius
        for ang in (math.radians(30), math.radians(150)):  # the two upper edges
            d = np.maximum(d, px * math.cos(ang) - py * math.sin(ang) - 0.5 * r)
        return d
    if shape == "star":
        return _star_sdf(px, -py + 0.08, 1.12, 0.45)
    if shape == "heart":
        return _heart_sdf(px / 1.25, -py / 1.25 + 0.55) * 1.25
    raise ValueError(f"unknown shape {shape!r}")


def _star_sdf(px: np.ndarray, py: np.ndarray, r: float, rf: float) -> np.ndarray:
    """Five-pointed star, y up (after Inigo Quilez's sdStar5)."""
    k1x, k1y = 0.809016994375, -0.587785252292
    k2x, k2y = -k1x, k1y
    px = np.abs(px)
    d = np.maximum(k1x * px + k1y * py, 0) * 2
    px, py = px - d * k1x, py - d * k1y
    d = np.maximum(k2x * px + k2y * py, 0) * 2
    px, py = px - d * k2x, py - d * k2y
    px = np.abs(px)
    py = py - r
    bax, bay = rf * -k1y, rf * k1x - 1.0
    h = np.clip((px * bax + py * bay) / (bax * bax + bay * bay), 0.0, r)
    dist = np.sqrt((px - bax * h) ** 2 + (py - bay * h) ** 2)
    return dist * np.sign(py * bax - px * bay)


def _heart_sdf(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Heart with its tip at the origin, y up (after Inigo Quilez's sdHeart)."""
    px = np.abs(px)
    upper = np.sqrt((px - 0.25) ** 2 + (py - 0.75) ** 2) - math.sqrt(2) / 4
    m = 0.5 * np.maximum(px + py, 0)
    lower = np.sqrt(np.minimum(px**2 + (py - 1) ** 2, (px - m) ** 2 + (py - m) ** 2))
    return np.where(py + px > 1, upper, lower * np.sign(px - py))


# --- colour ----------------------------------------------------------------------------------


def grade(rgb: np.ndarray, style: str, lighting: str, backdrop: bool = False) -> np.ndarray:
    """Apply lighting then style to float RGB in [0, 1] (any leading shape, last axis 3)."""
    if style == "neon":
        # neon light is emitted, so lighting only touches the dimmed backdrop
        if backdrop:
            return rgb * LIGHTING_GAIN[lighting] * NEON_BACKDROP
        return neon_color(rgb)
    out = rgb * LIGHTING_GAIN[lighting]
    if style in ("black-and-white", "sepia"):
        lum = out @ np.array([0.299, 0.587, 0.114], np.float32)
        out = lum[..., None] * (SEPIA if style == "sepia" else np.ones(3, np.float32))
    elif style == "pastel":
        out = 0.45 * out + 0.55
    return np.clip(out, 0.0, 1.0)


def neon_color(rgb: np.ndarray) -> np.ndarray:
    """Saturate and brighten a colour so it glows."""
    mx = np.max(rgb, axis=-1, keepdims=True)
    return np.clip(rgb / np.maximum(mx, 1e-3), 0, 1) * 0.9 + 0.1


def object_rgb(color: str, style: str, lighting: str) -> np.ndarray:
    return grade(np.array(COLORS[color], np.float32) / 255.0, style, lighting)


# --- the renderer ----------------------------------------------------------------------------


def render(
    scene: Scene, width: int, height: int, frames: int, fps: float
) -> tuple[np.ndarray, dict]:
    """Frames (F, H, W, 3) uint8 and ground truth {camera, objects} per frame."""
    validate_size(width, height, frames, fps)
    if abs(width / height - scene.aspect) > 0.02:
        raise ValueError(
            f"size {width}x{height} does not match the scene's aspect {scene.aspect:.3f}"
        )
    cam_x, cam_y, zoom, placed = _on_screen(scene, width, height, frames, fps)
    video = backgrounds.render_background(scene, width, height, cam_x, cam_y, zoom)  # (F,H,W,3)
    video = grade(video, scene.style, scene.lighting, backdrop=True)
    truth = []
    for o, sx, sy, tr, radius_px in placed:
        _draw(video, o, scene.style, scene.lighting, sx, sy, tr.angle, radius_px)
        truth.append(_object_truth(o, sx, sy, tr, radius_px, zoom, width, height))

    frames_u8 = (np.clip(video, 0, 1) * 255 + 0.5).astype(np.uint8)
    gt = {
        "fps": fps,
        "size": [width, height],
        "camera": {
            "x": cam_x.round(5).tolist(),
            "y": cam_y.round(5).tolist(),
            "zoom": zoom.round(5).tolist(),
            "pixels_per_unit": float(min(width, height)),
        },
        "objects": truth,
    }
    return frames_u8, gt


def _on_screen(scene: Scene, width: int, height: int, frames: int, fps: float):
    """Camera (x, y, zoom per frame) and, back to front, each object with its screen centre
    (sx, sy), track and radius in pixels per frame."""
    t = np.arange(frames, dtype=np.float32) / np.float32(fps)
    ppu = float(min(width, height))  # pixels per world unit at zoom 1
    w, h = frame_extent(scene.aspect)
    cam_x, cam_y, zoom = camera_track(scene, t)
    placed = []
    for o in sorted(scene.objects, key=lambda o: o.depth):
        tr = object_track(o, scene, t)
        sx = ((tr.x - cam_x) * zoom + w / 2) * ppu
        sy = ((tr.y - cam_y) * zoom + h / 2) * ppu
        placed.append((o, sx, sy, tr, SIZES[o.size] * tr.scale * zoom * ppu))
    return cam_x, cam_y, zoom, placed


def object_boxes(scene: Scene, width: int, height: int, frames: int, fps: float) -> np.ndarray:
    """Where each object can change pixels, per frame, without rendering: (objects, F, 4) as
    x0, y0, x1, y1 (may reach outside the frame). That is its box with outline room, or under
    neon, whose glow `_draw` spreads over the box of the object's whole path, that box."""
    _, _, _, placed = _on_screen(scene, width, height, frames, fps)
    boxes = []
    for _, sx, sy, _, radius_px in placed:
        reach = _reach(radius_px, scene.style)
        box = np.stack([sx - reach, sy - reach, sx + reach, sy + reach], -1)
        if scene.style == "neon":
            box[:] = [*box[:, :2].min(0), *box[:, 2:].max(0)]
        boxes.append(box)
    return np.asarray(boxes, np.float32).reshape(len(boxes), frames, 4)


def object_pixels(scene: Scene, width: int, height: int, frames: int, fps: float) -> np.ndarray:
    """(F, H, W) bool: True inside some object's box (`object_boxes`) in that frame."""
    mask = np.zeros((frames, height, width), bool)
    for obj in object_boxes(scene, width, height, frames, fps):
        for f, (x0, y0, x1, y1) in enumerate(obj):
            i0, i1 = max(int(y0), 0), max(math.ceil(y1), 0)
            j0, j1 = max(int(x0), 0), max(math.ceil(x1), 0)
            mask[f, i0:i1, j0:j1] = True
    return mask


def _reach(radius_px: np.ndarray, style: str) -> np.ndarray:
    """How far from its centre an object can change pixels: glow and outline room."""
    return radius_px * (1.35 if style == "neon" else 1.1) + 2


def _draw(video, o, style, lighting, sx, sy, angle, radius_px) -> None:
    """Composite one object into video (F, H, W, 3) in place, only inside its bounding box."""
    F, H, W, _ = video.shape
    reach = _reach(radius_px, style)
    x0 = int(max(np.floor(np.min(sx - reach)), 0))
    x1 = int(min(np.ceil(np.max(sx + reach)), W))
    y0 = int(max(np.floor(np.min(sy - reach)), 0))
    y1 = int(min(np.ceil(np.max(sy + reach)), H))
    if x1 <= x0 or y1 <= y0:
        return
    gx = np.arange(x0, x1, dtype=np.float32) + 0.5
    gy = np.arange(y0, y1, dtype=np.float32) + 0.5
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    inv_r = (1.0 / radius_px)[:, None, None]
    dx = (gx[None, None, :] - sx[:, None, None]) * inv_r  # (F, 1, w)
    dy = (gy[None, :, None] - sy[:, None, None]) * inv_r  # (F, h, 1)
    px = c * dx + s * dy  # rotate into the object's frame: (F, h, w)
    py = -s * dx + c * dy
    d_px = shape_sdf(o.shape, px, py) * radius_px[:, None, None]  # signed distance in pixels
    alpha = np.clip(0.5 - d_px, 0.0, 1.0)[..., None]
    rgb = object_rgb(o.color, style, lighting)
    patch = video[:, y0:y1, x0:x1]
    if style == "neon":
        glow = np.exp(-np.maximum(d_px, 0) / np.maximum(radius_px, 1)[:, None, None] * 4)
        patch += (1 - patch) * (0.55 * glow[..., None] * (1 - alpha)) * rgb
    patch *= 1 - alpha
    patch += alpha * rgb
    if style == "cartoon":
        width = np.maximum(radius_px * 0.09, 1.2)[:, None, None]
        ink = np.clip(0.5 - (np.abs(d_px + width / 2) - width / 2), 0, 1)[..., None]
        patch *= 1 - ink * 0.92


def _object_truth(o, sx, sy, tr: Track, radius_px, zoom, W, H) -> dict:
    """Per-frame ground truth for one object, in pixels."""
    ext = radius_px * 1.1
    box = np.stack([sx - ext, sy - ext, sx + ext, sy + ext], -1)
    visible = (box[:, 2] > 0) & (box[:, 0] < W) & (box[:, 3] > 0) & (box[:, 1] < H)
    return {
        "shape": o.shape,
        "color": o.color,
        "motion": o.motion,
        "depth": o.depth,
        "center": np.stack([sx, sy], -1).round(3).tolist(),
        "box": box.round(3).tolist(),
        "angle": tr.angle.round(5).tolist(),
        "scale": (tr.scale * zoom).round(5).tolist(),
        "visible": visible.tolist(),
    }
