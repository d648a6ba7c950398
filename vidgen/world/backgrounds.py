"""Backgrounds as functions of world position, so a camera move shifts them with the objects.

Procedural textures are analytic in world units (anchored to the world, not the screen); photos
come from the images scikit-image and scikit-learn ship and are pinned to the world by the scene.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from vidgen.world.scene import BACKGROUND_COLORS, Scene, frame_extent


def _rgb(c) -> np.ndarray:
    return np.asarray(c, np.float32) / 255.0


def _lerp(a, b, t):
    return a + (b - a) * t[..., None]


def _waves(X, Y, seed: int, n: int, fx: tuple, fy: tuple) -> np.ndarray:
    """A sum of n random plane waves in world coordinates, normalised to about [-1, 1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros(np.broadcast_shapes(X.shape, Y.shape), np.float32)
    for _ in range(n):
        kx, ky = rng.uniform(*fx) * rng.choice((-1, 1)), rng.uniform(*fy)
        out += np.sin(kx * X + ky * Y + rng.uniform(0, 2 * math.pi))
    return out / math.sqrt(n / 2)


def _hash(ix: np.ndarray, iy: np.ndarray, salt: float) -> np.ndarray:
    v = np.sin(ix * 127.1 + iy * 311.7 + salt * 74.7) * 43758.5453
    return (v - np.floor(v)).astype(np.float32)


def _sunset(X, Y, w, h, seed, px):
    v = np.broadcast_to(Y / h, np.broadcast_shapes(X.shape, Y.shape))
    stops = [
        (0.0, (46, 26, 92)),
        (0.42, (196, 78, 112)),
        (0.68, (250, 138, 58)),
        (0.8, (255, 206, 96)),
    ]
    sky = np.zeros((*v.shape, 3), np.float32)
    for (a, ca), (b, cb) in zip(stops[:-1], stops[1:], strict=True):
        t = np.clip((v - a) / (b - a), 0, 1)
        band = (v >= a) if a > 0 else np.ones_like(v, bool)
        sky = np.where(band[..., None], _lerp(_rgb(ca), _rgb(cb), t), sky)
    clouds = np.clip(_waves(X, Y, seed + 1, 6, (3, 8), (10, 22)) - 0.5, 0, 1)[..., None]
    sky = sky + (_rgb((255, 186, 170)) - sky) * clouds * 0.6 * (v < 0.72)[..., None]
    sun = np.clip(0.5 - (np.sqrt((X - 0.68 * w) ** 2 + (Y - 0.7 * h) ** 2) - 0.1) / px, 0, 1)
    sky = _lerp(sky, _rgb((255, 238, 170)), sun)
    hill = 0.8 * h + 0.03 * np.sin(X * 6.0 + seed % 7) + 0.015 * np.sin(X * 17.0)
    ground = np.clip(0.5 + (Y - hill) / px, 0, 1)
    return _lerp(sky, _rgb((40, 24, 42)), ground)


def _stars(X, Y, w, h, seed, px):
    v = np.broadcast_to(Y / h, np.broadcast_shapes(X.shape, Y.shape))
    base = _lerp(_rgb((8, 10, 30)), _rgb((22, 28, 66)), np.clip(v, 0, 1))
    cell = 0.055
    ix, iy = np.floor(X / cell), np.floor(Y / cell)
    present = _hash(ix, iy, seed) < 0.5
    sx = (ix + 0.25 + 0.5 * _hash(ix, iy, seed + 1.3)) * cell
    sy = (iy + 0.25 + 0.5 * _hash(ix, iy, seed + 2.7)) * cell
    bright = 0.45 + 0.55 * _hash(ix, iy, seed + 4.1)
    sigma = max(0.8 * px, 0.006)
    glow = np.exp(-((X - sx) ** 2 + (Y - sy) ** 2) / sigma**2) * bright * present
    return base + (1 - base) * glow[..., None]


def _grass(X, Y, w, h, seed, px):
    n = (
        _waves(X, Y, seed, 8, (40, 110), (2, 8)) * 0.6
        + _waves(X, Y, seed + 9, 4, (3, 9), (3, 9)) * 0.4
    )
    t = np.clip(0.5 + 0.35 * n, 0, 1)
    return _lerp(_rgb((34, 96, 30)), _rgb((118, 182, 72)), t)


def _checkerboard(X, Y, w, h, seed, px):
    tile = 0.125
    k = tile / (math.pi * px)
    sx = np.clip(np.sin(math.pi * X / tile) * k, -0.5, 0.5)
    sy = np.clip(np.sin(math.pi * Y / tile) * k, -0.5, 0.5)
    return _lerp(_rgb((96, 86, 80)), _rgb((222, 210, 188)), 0.5 + 2 * sx * sy)


def _water(X, Y, w, h, seed, px):
    v = np.broadcast_to(Y / h, np.broadcast_shapes(X.shape, Y.shape))
    base = _lerp(_rgb((20, 72, 140)), _rgb((48, 128, 188)), np.clip(v, 0, 1))
    n = _waves(X, Y, seed, 7, (3, 12), (18, 40))
    crest = np.clip((n - 1.0) * 1.5, 0, 1)
    trough = np.clip((-n - 1.0) * 1.5, 0, 1)
    base = base * (1 - 0.35 * trough[..., None])
    return _lerp(base, _rgb((190, 228, 244)), crest * 0.8)


TEXTURE_FUNCS = {
    "sunset": _sunset,
    "stars": _stars,
    "grass": _grass,
    "checkerboard": _checkerboard,
    "water": _water,
}


@lru_cache(maxsize=16)
def load_photo(name: str) -> np.ndarray:
    """One of the shipped real photos as float32 RGB in [0, 1]."""
    import os

    import skimage.data
    import skimage.io

    if name in ("temple", "flower"):
        from sklearn.datasets import load_sample_image

        img = load_sample_image({"temple": "china.jpg", "flower": "flower.jpg"}[name])
    elif name == "motorcycle":
        img = skimage.io.imread(os.path.join(skimage.data.data_dir, "motorcycle_left.png"))
    else:
        loader = {
            "astronaut": "astronaut",
            "coffee": "coffee",
            "cat": "chelsea",
            "rocket": "rocket",
            "brick": "brick",
        }[name]
        img = getattr(skimage.data, loader)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    return np.ascontiguousarray(img[..., :3], np.float32) / 255.0


@lru_cache(maxsize=64)
def _photo_at(name: str, factor: float) -> np.ndarray:
    img = load_photo(name)
    if factor >= 1.0:
        return img
    size = (max(1, round(img.shape[1] * factor)), max(1, round(img.shape[0] * factor)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _photo(name, wx0, wx1, wy0, wy1, w, h, tw, th, tppu):
    """The photo pinned to the world: centred on the frame, covering the visible region."""
    img = load_photo(name)
    ph, pw = img.shape[:2]
    ex = max(w / 2 - wx0, wx1 - w / 2)
    ey = max(h / 2 - wy0, wy1 - h / 2)
    s = max(2 * ex / pw, 2 * ey / ph)  # world units per photo pixel
    factor = min(1.0, round(s * tppu * 1.25, 2))  # shrink first (area filter), then warp
    src = _photo_at(name, factor)
    k = src.shape[1] / pw
    a = 1.0 / (s * tppu) * k  # source pixels per texture pixel
    bx = ((wx0 - w / 2) / s + pw / 2) * k + 0.5 * a - 0.5
    by = ((wy0 - h / 2) / s + ph / 2) * k + 0.5 * a - 0.5
    m = np.array([[a, 0, bx], [0, a, by]], np.float32)
    return cv2.warpAffine(
        src,
        m,
        (tw, th),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def _texture(scene: Scene, wx0, wy0, tw, th, tppu, wx1, wy1) -> np.ndarray:
    """The background over the world rectangle starting at (wx0, wy0), tppu pixels a unit."""
    w, h = frame_extent(scene.aspect)
    bg = scene.background
    if bg.startswith("solid:"):
        return np.broadcast_to(_rgb(BACKGROUND_COLORS[bg[6:]]), (th, tw, 3)).copy()
    if bg.startswith("photo:"):
        return _photo(bg[6:], wx0, wx1, wy0, wy1, w, h, tw, th, tppu)
    X = (wx0 + (np.arange(tw, dtype=np.float32) + 0.5) / tppu)[None, :]
    Y = (wy0 + (np.arange(th, dtype=np.float32) + 0.5) / tppu)[:, None]
    out = TEXTURE_FUNCS[bg](X, Y, w, h, scene.seed % 100_003, 1.0 / tppu)
    return np.ascontiguousarray(np.broadcast_to(out, (th, tw, 3)), np.float32)


def render_background(scene: Scene, width: int, height: int, cam_x, cam_y, zoom) -> np.ndarray:
    """(F, H, W, 3) float32 background frames for the camera path."""
    F = len(cam_x)
    ppu = float(min(width, height))
    w, h = frame_extent(scene.aspect)
    if scene.camera == "static" or scene.background.startswith("solid:"):
        tex = _texture(scene, 0.0, 0.0, width, height, ppu, w, h)
        return np.repeat(tex[None], F, axis=0)
    hw, hh = w / 2 / zoom, h / 2 / zoom
    pad = 2.0 / ppu
    wx0, wx1 = float(np.min(cam_x - hw)) - pad, float(np.max(cam_x + hw)) + pad
    wy0, wy1 = float(np.min(cam_y - hh)) - pad, float(np.max(cam_y + hh)) + pad
    tppu = ppu * float(np.max(zoom))
    tw, th = math.ceil((wx1 - wx0) * tppu), math.ceil((wy1 - wy0) * tppu)
    tex = _texture(scene, wx0, wy0, tw, th, tppu, wx1, wy1)
    out = np.empty((F, height, width, 3), np.float32)
    for f in range(F):
        a = tppu / (ppu * float(zoom[f]))
        bx = ((0.5 / ppu - w / 2) / float(zoom[f]) + float(cam_x[f]) - wx0) * tppu - 0.5
        by = ((0.5 / ppu - h / 2) / float(zoom[f]) + float(cam_y[f]) - wy0) * tppu - 0.5
        m = np.array([[a, 0, bx], [0, a, by]], np.float32)
        out[f] = cv2.warpAffine(
            tex,
            m,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
    return out
