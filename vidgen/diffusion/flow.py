"""Flow matching, written once: t = 0 is data, t = 1 is noise.

x_t = (1 - t) * x0 + t * eps, target v = eps - x0, Euler x += (t_next - t) * v.
"""

from __future__ import annotations

import math

import torch

REF_LATENTS = 5 * 16 * 16  # latent positions of the default clip (17 frames at 128x128)


def shift_for(latents: int, base: float = 1.0, ref: int = REF_LATENTS) -> float:
    """More latent positions (size, length) carry more signal at a given t: more time at high t.

    Counted in latent positions, not transformer tokens, so the schedule of a clip does not
    depend on the patch size of the model that denoises it.
    `base` is the shift at the reference size. World objects are flat, high-contrast shapes:
    a one-step prediction still shows them at t = 0.9 and loses them only near 0.97, so where
    they go is decided at high noise, which logit-normal t with no shift draws 1.4% of the time.
    """
    return base * math.sqrt(max(latents, 1) / ref)


def shift_t(t: torch.Tensor, shift: float) -> torch.Tensor:
    return shift * t / (1 + (shift - 1) * t)


def sample_t(n: int, generator: torch.Generator, shift: float = 1.0) -> torch.Tensor:
    """Logit-normal timesteps (SD3), shifted for resolution and length."""
    t = torch.sigmoid(torch.randn(n, generator=generator))
    return shift_t(t, shift)


def noised(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for t broadcast over (B, ...) or per latent frame (B, T) against (B, C, T, H, W)."""
    tt = t.view(t.shape[0], 1, -1, 1, 1) if t.dim() == 2 else t.view(-1, *[1] * (x0.dim() - 1))
    return (1 - tt) * x0 + tt * eps


def target(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    return eps - x0


def schedule(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 times from 1 (noise) to 0 (data), shifted."""
    return shift_t(torch.linspace(1.0, 0.0, steps + 1), shift)
