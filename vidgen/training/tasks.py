"""The training tasks: what `vidgen train vae` and `vidgen train dit` optimise."""

from __future__ import annotations

import math
import random

import torch

from vidgen.config import VAE_PRESETS, TrainVAEConfig
from vidgen.data.datasets import vae_batch
from vidgen.models.vae import VideoVAE
from vidgen.training.train import Task


def psnr(mse: float) -> float:
    """PSNR for video in [-1, 1] (peak-to-peak 2)."""
    return 10 * math.log10(4.0 / max(mse, 1e-12))


def vae_task(cfg: TrainVAEConfig) -> Task:
    if cfg.vae not in VAE_PRESETS:
        raise ValueError(f"vae must be one of {', '.join(VAE_PRESETS)}, got {cfg.vae!r}")
    model = VideoVAE(VAE_PRESETS[cfg.vae])

    def batch(rng: random.Random, step: int) -> torch.Tensor:
        frames = 1 if step % 8 == 7 else cfg.frames  # every 8th batch: single images (frame 0)
        n = cfg.batch * (4 if frames == 1 else 1)
        return vae_batch(rng, n, cfg.size, frames, cfg.photo_fraction, cfg.clip_fraction)

    def loss(net, x: torch.Tensor, gen: torch.Generator):
        y, kl = net(x, gen)
        err = y.float() - x
        mse = err.pow(2).mean()
        total = mse + 0.5 * err.abs().mean() + model.cfg.kl_weight * kl.float()
        return total, {"loss": total.item(), "psnr": psnr(mse.item()), "kl": kl.item()}

    def weights_meta(ema: VideoVAE) -> dict:
        return {
            "kind": "vae",
            "vae_config": VAE_PRESETS[cfg.vae].__dict__
            | {"widths": list(VAE_PRESETS[cfg.vae].widths)},
            "preset": cfg.vae,
        }

    return Task("vae", cfg, model, batch, loss, weights_meta, samples_per_batch=cfg.batch)
