"""Which float type runs the models: bfloat16 only where the CPU computes it natively.

bfloat16 halves memory traffic and doubles the matmul peak on CPUs with AVX-512 BF16 or AMX
(the Zen 4 development machine: about 400 GFLOP/s against 190 in float32). On a CPU without
them, oneDNN has no bfloat16 kernels and PyTorch falls back to reference loops: an AVX2-only
EPYC measured 0.4 GFLOP/s in bfloat16 against 27 in float32, and a 2-second clip took 37 s
to make instead of 21. `auto`, the default everywhere, picks bfloat16 only where it is fast.

Torch is imported only when a precision is resolved, so the server can check names without it.
"""

from __future__ import annotations

from functools import lru_cache

PRECISIONS = ("auto", "bfloat16", "float32")


def check(name: str, field: str = "precision") -> str:
    """The name if it is one of PRECISIONS, else a ValueError naming the field."""
    if name not in PRECISIONS:
        raise ValueError(f"{field} must be one of {', '.join(PRECISIONS)}, got {name!r}")
    return name


@lru_cache(maxsize=1)
def fast_bf16() -> bool:
    """Whether bfloat16 matmuls and convolutions run on native kernels here.

    oneDNN's bfloat16 check (AVX-512 with BF16, or AMX), the one PyTorch itself uses to route
    bfloat16 matmuls to oneDNN instead of its reference loops.
    """
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve(name: str):
    """torch.bfloat16 or torch.float32 for a precision name; `auto` asks `fast_bf16`."""
    import torch

    if check(name) == "auto":
        return torch.bfloat16 if fast_bf16() else torch.float32
    return getattr(torch, name)
