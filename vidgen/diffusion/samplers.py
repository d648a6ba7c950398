"""Stateless samplers with one signature (after k-diffusion).

`model(x, t) -> v` is the velocity at time t (a 0-d tensor); `ts` runs from 1 to 0.
`callback(i, x, x0_estimate)` is called after every step (progress, previews).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def sample_euler(model: Model, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v = model(x, t)
        x = x + (t_next - t) * v
        if callback is not None:
            callback(i, x, x - t_next * v)
    return x


@torch.no_grad()
def sample_heun(model: Model, x: torch.Tensor, ts: torch.Tensor, callback=None) -> torch.Tensor:
    """Second order: average the slope at both ends (Euler on the last step, where t_next = 0)."""
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v = model(x, t)
        x_euler = x + (t_next - t) * v
        if t_next > 0:
            v = 0.5 * (v + model(x_euler, t_next))
        x = x + (t_next - t) * v
        if callback is not None:
            callback(i, x, x - t_next * v)
    return x


SAMPLERS = {"euler": sample_euler, "heun": sample_heun}
