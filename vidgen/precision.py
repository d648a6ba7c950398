"""Where the models run and in which float type: a GPU when torch sees one, else the CPU;
bfloat16 only where the device computes it natively.

bfloat16 halves memory traffic and doubles the matmul peak on CPUs with AVX-512 BF16 or AMX
(the Zen 4 development machine: about 400 GFLOP/s against 190 in float32). On a CPU without
them, oneDNN has no bfloat16 kernels and PyTorch falls back to reference loops: an AVX2-only
EPYC measured 0.4 GFLOP/s in bfloat16 against 27 in float32, and a 2-second clip took 37 s
to make instead of 21. `auto`, the default everywhere, picks bfloat16 only where it is fast.

Torch is imported only when a precision or device is resolved, so the server can check names
without it.
"""

from __future__ import annotations

from functools import lru_cache

PRECISIONS = ("auto", "bfloat16", "float32")
DEVICES = ("auto", "cpu", "cuda")  # cuda:N picks one GPU


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


def check_device(name: str, field: str = "device") -> str:
    """The name if it is auto, cpu, cuda or cuda:N, else a ValueError naming the field."""
    kind, _, index = name.partition(":")
    if name not in DEVICES and not (kind == "cuda" and index.isdigit()):
        raise ValueError(f"{field} must be one of {', '.join(DEVICES)} or cuda:N, got {name!r}")
    return name


def device(name: str = "auto", field: str = "device"):
    """The torch.device for a name: `auto` is the first GPU torch sees, else the CPU."""
    import torch

    if check_device(name, field) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= n:
            raise ValueError(
                f"{field} {name!r}: torch {torch.__version__} sees {n} CUDA GPU(s) here "
                "(use cpu or auto)"
            )
    return dev


def synchronize(dev) -> None:
    """Wait for a GPU's queued kernels (they run asynchronously) before reading a clock."""
    import torch

    if torch.device(dev).type == "cuda":
        torch.cuda.synchronize(dev)


def native_bf16(dev=None) -> bool:
    """Whether a device (default: the CPU) computes bfloat16 natively."""
    import torch

    if dev is not None and torch.device(dev).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return fast_bf16()


def resolve(name: str, dev=None):
    """torch.bfloat16 or torch.float32 for a precision name on a device (default: the CPU);
    `auto` picks bfloat16 where that device computes it natively."""
    import torch

    if check(name) == "auto":
        return torch.bfloat16 if native_bf16(dev) else torch.float32
    return getattr(torch, name)
