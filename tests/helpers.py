"""Run the `vidgen` command line as a user would: a fresh Python process."""

import socket
import subprocess
import sys


def vidgen(*args, check: bool = True) -> subprocess.CompletedProcess:
    """`vidgen ARGS...`; with check, a non-zero exit fails the test with its stderr."""
    r = subprocess.run(
        [sys.executable, "-m", "vidgen.studio.cli", *map(str, args)], capture_output=True, text=True
    )
    if check and r.returncode:
        raise AssertionError(r.stderr)
    return r


def make_tiny_model(path, frames: int = 9, fps: float = 8.0, **meta):
    """A tiny random-weight model directory (VAE + DiT), as `vidgen export` writes one."""
    import torch

    from vidgen.config import VAE_PRESETS
    from vidgen.models.transformer import DIT_PRESETS, DiT
    from vidgen.models.vae import VideoVAE
    from vidgen.pipelines.pipeline import save_model

    torch.manual_seed(0)
    vae, dit = VideoVAE(VAE_PRESETS["tiny"]), DiT(DIT_PRESETS["tiny"])
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    save_model(path, vae, dit, {"fps": fps, "frames": frames, **meta})
    return path


def free_port() -> int:
    """A port nothing listens on now (a fixed one can still be held from a previous run)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
