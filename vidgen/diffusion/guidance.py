"""Classifier-free guidance wraps the model function; the model knows nothing of it."""

from __future__ import annotations

from collections.abc import Callable

import torch


def cfg(model: Callable[..., torch.Tensor], cond: dict, uncond: dict, scale: float):
    """v = v_uncond + scale * (v_cond - v_uncond), both halves in one batched call.

    `cond` and `uncond` hold the model's keyword inputs (text, mask, pooled, ...), each with
    batch B; `model(x, t, **kw)` returns the velocity.
    """
    if scale == 1.0:
        return lambda x, t: model(x, t, **cond)
    both = {k: torch.cat([uncond[k], cond[k]]) for k in cond}

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v_u, v_c = model(torch.cat([x, x]), t, **both).chunk(2)
        return v_u + scale * (v_c - v_u)

    return guided
