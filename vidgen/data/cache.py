"""Latent cache: world clips encoded once by the frozen VAE, stored as safetensors shards.

Each shard holds `latents` (n, C, T, h, w) in bf16 and, in its metadata, each clip's scene seed
and caption variants (natural sentences in several phrasings and the structured form). Beside
each shard, `encode_captions` writes its captions' text-encoder states once (`.text` files), so
training reads them instead of running the text encoder at every step.
"""

from __future__ import annotations

import json
import random
from itertools import accumulate
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vidgen.data.datasets import to_tensor
from vidgen.models.vae import VideoVAE
from vidgen.precision import native_bf16
from vidgen.world.captions import caption, structured, structured_text
from vidgen.world.render import object_pixels, render
from vidgen.world.scene import sample_scene

SHARD = 500


def _shard_name(bucket: str, k: int) -> str:
    return f"{bucket}_{k:05d}.safetensors"


def _shards(root: str | Path, bucket: str) -> list[Path]:
    return sorted(Path(root).glob(f"{bucket}_{'[0-9]' * 5}.safetensors"))


def text_path(shard: Path) -> Path:
    """Where a shard's caption embeddings are stored: 128x128_00000.text.safetensors."""
    return shard.with_name(f"{shard.stem}.text.safetensors")


@torch.no_grad()
def build(
    vae: VideoVAE,
    out: str | Path,
    bucket: str,
    clips: int,
    frames: int,
    fps: float,
    seed0: int = 0,
    log=print,
    part: tuple[int, int] = (0, 1),
) -> list[Path]:
    """Encode `clips` training scenes at `bucket` (WxH) into shards; resumes where it stopped.
    part (rank, world): build every world-th shard from the rank-th (processes under torchrun
    share the work). Returns the paths of all the bucket's shards, built here or not."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in bucket.split("x"))
    paths = [out / _shard_name(bucket, k) for k in range(-(-clips // SHARD))]
    for k in range(len(paths))[part[0] :: part[1]]:  # this process's share
        path = paths[k]
        if path.is_file():
            continue
        lat, meta = [], []
        for i in range(min(SHARD, clips - k * SHARD)):
            seed = seed0 + hash_bucket(bucket) + k * SHARD + i
            scene = sample_scene(seed, "train", aspect=w / h, duration=(frames - 1) / fps)
            video, _ = render(scene, w, h, frames, fps)
            rng = random.Random(seed)
            caps = [caption(scene, seed=rng.randrange(2**31)) for _ in range(3)]
            caps.append(structured_text(structured(scene, seed=rng.randrange(2**31))))
            meta.append({"seed": seed, "captions": caps})
            lat.append(to_tensor(video))
        _write_shard(vae, path, lat, meta)
        log(f"cache {bucket}: shard {k + 1}/{len(paths)}")
    return paths


@torch.no_grad()
def build_folder(
    vae: VideoVAE,
    folder: str | Path,
    out: str | Path,
    bucket: str,
    frames: int,
    log=print,
    part: tuple[int, int] = (0, 1),
) -> list[Path]:
    """Encode a user's folder of captioned clips (centre-cropped to the bucket) into shards;
    part and the paths returned as for `build`."""
    from vidgen.data.datasets import FolderDataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in bucket.split("x"))
    if w != h:
        raise ValueError(f"folder data is trained square; bucket {bucket} is not")
    ds = FolderDataset(folder, w, frames)
    paths = [out / _shard_name(bucket, k) for k in range(-(-len(ds) // SHARD))]
    for k in range(len(paths))[part[0] :: part[1]]:  # this process's share
        path = paths[k]
        if path.is_file():
            continue
        items = [ds[i] for i in range(k * SHARD, min(len(ds), (k + 1) * SHARD))]
        meta = [{"seed": -1, "captions": [c, c]} for _, c in items]  # one caption, no variants
        _write_shard(vae, path, [v for v, _ in items], meta)
        log(f"cache {folder}: shard {k + 1}/{len(paths)}")
    return paths


def _write_shard(vae: VideoVAE, path: Path, videos: list[torch.Tensor], meta: list) -> None:
    """Encode videos in batches of 16 and write one shard atomically."""
    z, dev = [], next(vae.parameters()).device  # encoded where the VAE is: a GPU if given one
    bf16 = native_bf16(dev)
    for j in range(0, len(videos), 16):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            z.append(vae.encode(torch.stack(videos[j : j + 16]).to(dev))[0].float().cpu())
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(
        {"latents": torch.cat(z).to(torch.bfloat16)}, str(tmp), metadata={"clips": json.dumps(meta)}
    )
    tmp.replace(path)


@torch.no_grad()
def encode_captions(
    root: str | Path, bucket: str, encoder, log=print, paths: list[Path] | None = None
) -> None:
    """Write each shard's caption embeddings beside it, once: `states` (total tokens, D) bf16
    (what the transformer's text projection reads under autocast), `lengths` (captions,) and
    `pooled` (captions, D), clip by clip in metadata order. Resumes where it stopped.
    paths: only these shards (default: all of the bucket's)."""
    paths = _shards(root, bucket) if paths is None else paths
    for k, path in enumerate(paths):
        out = text_path(path)
        if out.is_file():
            continue
        with safe_open(str(path), "pt") as f:
            caps = [c for clip in json.loads(f.metadata()["clips"]) for c in clip["captions"]]
        order = sorted(range(len(caps)), key=lambda i: len(caps[i]))  # alike lengths pad less
        got: list = [None] * len(caps)
        for j in range(0, len(order), 256):
            idx = order[j : j + 256]
            for i, e in zip(idx, encoder.embed([caps[i] for i in idx]), strict=True):
                got[i] = e
        tmp = out.with_name(f".{out.name}.tmp")
        save_file(
            {
                "states": torch.cat([s for s, _ in got]).to(torch.bfloat16),
                "lengths": torch.tensor([len(s) for s, _ in got], dtype=torch.int32),
                "pooled": torch.stack([p for _, p in got]),
            },
            str(tmp),
        )
        tmp.replace(out)
        log(f"captions {bucket}: shard {k + 1}/{len(paths)}")


def hash_bucket(bucket: str) -> int:
    w, h = (int(v) for v in bucket.split("x"))
    return (w * 1009 + h) * 1_000_000


class LatentCache:
    """Random batches from the shards of one bucket (loaded into memory)."""

    def __init__(self, root: str | Path, bucket: str):
        paths = _shards(root, bucket)
        if not paths:
            raise FileNotFoundError(f"no cached latents for {bucket} in {root}")
        lats, self.clips, counts = [], [], []
        self.where: list[tuple[int, int]] = []  # per clip: (shard, its first caption there)
        for k, p in enumerate(paths):
            with safe_open(str(p), "pt") as f:
                lats.append(f.get_tensor("latents"))
                clips = json.loads(f.metadata()["clips"])
            first = 0
            for c in clips:
                self.where.append((k, first))
                first += len(c["captions"])
            self.clips += clips
            counts.append(first)
        self.latents = torch.cat(lats)
        # caption embeddings, per shard (states, offsets, pooled), when every shard has them
        self.text: list[tuple[torch.Tensor, list[int], torch.Tensor]] | None = None
        if all(text_path(p).is_file() for p in paths):
            self.text = []
            for p, count in zip(paths, counts, strict=True):
                with safe_open(str(text_path(p)), "pt") as f:
                    lengths = f.get_tensor("lengths").tolist()
                    if len(lengths) != count:
                        raise ValueError(
                            f"{text_path(p)} holds {len(lengths)} captions but its shard has "
                            f"{count}; delete it and it is encoded again"
                        )
                    self.text.append(
                        (f.get_tensor("states"), [0, *accumulate(lengths)], f.get_tensor("pooled"))
                    )

    def __len__(self) -> int:
        return len(self.clips)

    def batch(self, rng: random.Random, n: int, structured_prob: float):
        """n random clips: latents (n, C, T, h, w), one caption variant each, and which
        (clip, variant) each caption is."""
        idx = [rng.randrange(len(self)) for _ in range(n)]
        caps, ids = [], []
        for i in idx:
            variants = self.clips[i]["captions"]
            use_structured = rng.random() < structured_prob
            v = len(variants) - 1 if use_structured else rng.randrange(len(variants) - 1)
            caps.append(variants[v])
            ids.append((i, v))
        return self.latents[idx].float(), caps, ids

    def embeddings(self, ids: list[tuple[int, int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The stored (states, pooled) of captions by (clip, variant); `encode_captions` first."""
        if self.text is None:
            raise RuntimeError("no caption embeddings stored; run encode_captions")
        out = []
        for i, v in ids:
            k, first = self.where[i]
            states, offsets, pooled = self.text[k]
            j = first + v
            out.append((states[offsets[j] : offsets[j + 1]], pooled[j]))
        return out

    def stats(self, per_channel: bool = False) -> tuple[float | list, float | list]:
        """Mean and std of the latents: one pair, or one per channel (lists)."""
        z = self.latents[:2000].float()
        if not per_channel:
            return float(z.mean()), float(z.std())
        z = z.transpose(0, 1).flatten(1)
        return z.mean(1).tolist(), z.std(1).tolist()

    def object_masks(self, bucket: str, frames: int, fps: float, time_factor: int) -> torch.Tensor:
        """Per clip and latent cell, 1 where an object of its scene can change a pixel: (n, T,
        h, w) bool, from the scene seeds (no rendering). Clips without a seed (a user's folder)
        get none."""
        n, _, T, h, w = self.latents.shape
        W, H = (int(v) for v in bucket.split("x"))
        masks = torch.zeros(n, T, h, w, dtype=torch.bool)
        duration = (frames - 1) / fps
        for k, clip in enumerate(self.clips):
            if clip["seed"] >= 0:  # the scene `build` rendered
                scene = sample_scene(clip["seed"], "train", aspect=W / H, duration=duration)
                pixels = object_pixels(scene, W, H, frames, fps)
                masks[k] = torch.from_numpy(latent_cells(pixels, time_factor, H // h))
        return masks


def latent_cells(pixels: np.ndarray, time_factor: int, space: int) -> np.ndarray:
    """(F, H, W) bool pixels -> (T, H/space, W/space): a latent cell is set where any of its
    pixels is, frames grouped as the encoder folds them (frame 0 alone, then groups of r)."""
    r = time_factor
    x = np.concatenate([np.repeat(pixels[:1], r - 1, 0), pixels])
    F, H, W = x.shape
    return x.reshape(F // r, r, H // space, space, W // space, space).any((1, 3, 5))
