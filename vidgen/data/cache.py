"""Latent cache: world clips encoded once by the frozen VAE, stored as safetensors shards.

Each shard holds `latents` (n, C, T, h, w) in bf16 and, in its metadata, each clip's scene seed
and caption variants (natural sentences in several phrasings and the structured form). Text
embeddings are cached in memory per caption by the text encoder during training.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vidgen.data.datasets import to_tensor
from vidgen.models.vae import VideoVAE
from vidgen.world.captions import caption, structured, structured_text
from vidgen.world.render import render
from vidgen.world.scene import sample_scene

SHARD = 500


def _shard_name(bucket: str, k: int) -> str:
    return f"{bucket}_{k:05d}.safetensors"


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
) -> None:
    """Encode `clips` training scenes at `bucket` (WxH) into shards; resumes where it stopped."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in bucket.split("x"))
    for k in range(-(-clips // SHARD)):
        path = out / _shard_name(bucket, k)
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
        log(f"cache {bucket}: shard {k + 1}/{-(-clips // SHARD)}")


@torch.no_grad()
def build_folder(
    vae: VideoVAE, folder: str | Path, out: str | Path, bucket: str, frames: int, log=print
) -> None:
    """Encode a user's folder of captioned clips (centre-cropped to the bucket) into shards."""
    from vidgen.data.datasets import FolderDataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in bucket.split("x"))
    if w != h:
        raise ValueError(f"folder data is trained square; bucket {bucket} is not")
    ds = FolderDataset(folder, w, frames)
    for k in range(-(-len(ds) // SHARD)):
        path = out / _shard_name(bucket, k)
        if path.is_file():
            continue
        items = [ds[i] for i in range(k * SHARD, min(len(ds), (k + 1) * SHARD))]
        meta = [{"seed": -1, "captions": [c, c]} for _, c in items]  # one caption, no variants
        _write_shard(vae, path, [v for v, _ in items], meta)
        log(f"cache {folder}: shard {k + 1}/{-(-len(ds) // SHARD)}")


def _write_shard(vae: VideoVAE, path: Path, videos: list[torch.Tensor], meta: list) -> None:
    """Encode videos in batches of 16 and write one shard atomically."""
    z = []
    for j in range(0, len(videos), 16):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z.append(vae.encode(torch.stack(videos[j : j + 16]))[0].float())
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(
        {"latents": torch.cat(z).to(torch.bfloat16)}, str(tmp), metadata={"clips": json.dumps(meta)}
    )
    tmp.replace(path)


def hash_bucket(bucket: str) -> int:
    w, h = (int(v) for v in bucket.split("x"))
    return (w * 1009 + h) * 1_000_000


class LatentCache:
    """Random batches from the shards of one bucket (loaded into memory)."""

    def __init__(self, root: str | Path, bucket: str):
        paths = sorted(Path(root).glob(f"{bucket}_*.safetensors"))
        if not paths:
            raise FileNotFoundError(f"no cached latents for {bucket} in {root}")
        lats, self.clips = [], []
        for p in paths:
            with safe_open(str(p), "pt") as f:
                lats.append(f.get_tensor("latents"))
                self.clips += json.loads(f.metadata()["clips"])
        self.latents = torch.cat(lats)

    def __len__(self) -> int:
        return len(self.clips)

    def batch(self, rng: random.Random, n: int, structured_prob: float):
        idx = [rng.randrange(len(self)) for _ in range(n)]
        caps = []
        for i in idx:
            variants = self.clips[i]["captions"]
            use_structured = rng.random() < structured_prob
            caps.append(variants[-1] if use_structured else rng.choice(variants[:-1]))
        return self.latents[idx].float(), caps

    def stats(self) -> tuple[float, float]:
        z = self.latents[:2000].float()
        return float(z.mean()), float(z.std())
