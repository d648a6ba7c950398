"""Muon (Jordan et al., 2024): each weight matrix steps by its orthogonalised momentum.

Written here rather than taken from `torch.optim.Muon` because that one runs its Newton-Schulz
iteration in bfloat16 on every device, and a CPU without native bfloat16 does that 13x slower
than float32 (a step of the default transformer's matrices: 110 s against 8.3 s on one thread
of a 2-core EPYC without AVX-512, both beside another job). Here the iteration runs in bfloat16
only where the device computes it natively (a GPU, a CPU with AVX-512 BF16 or AMX:
`vidgen.precision.native_bf16`; 0.45 s against 1.49 s in float32 on one thread of an AMX Xeon),
else in float32. The rest follows torch's: Nesterov momentum 0.95, 5 quintic Newton-Schulz
steps with Jordan's coefficients, and the update scaled by 0.2 sqrt(max(rows, cols)) (Moonshot's
`match_rms_adamw`), so AdamW's learning rate serves.
The state is torch's too (`momentum_buffer`), so checkpoints name it the same.
"""

from __future__ import annotations

import torch

from vidgen.precision import native_bf16

NS = (3.4445, -4.775, 2.0315)


def orthogonalise(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """About U V^T of g = U S V^T (singular values pushed into about [0.7, 1.2])."""
    a, b, c = NS
    x = g.to(torch.bfloat16 if native_bf16(g.device) else torch.float32)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / x.norm().clamp(min=1e-7)  # spectral norm at most 1
    for _ in range(steps):
        s = x @ x.T
        x = torch.addmm(x, torch.addmm(s, s, s, beta=b, alpha=c), x, beta=a)
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """For 2-D parameters only (the hidden matrices); the rest go to AdamW."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.95):
        super().__init__(params, {"lr": lr, "momentum": momentum})
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon takes 2-D parameters, got shape {tuple(p.shape)}")

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                buf.lerp_(p.grad, 1 - mu)
                update = orthogonalise(p.grad.lerp(buf, mu))  # Nesterov
                p.add_(update, alpha=-lr * 0.2 * max(p.shape) ** 0.5)
