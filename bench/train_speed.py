"""Training speed and DDP equivalence on this CPU.

    python bench/train_speed.py [--steps 6]

Prints one JSON object: samples_per_s of the default DiT preset (flow-matching step on latents
of 17-frame 128x128 clips, batch 16; bf16 autocast where the CPU has native bfloat16, as
`vidgen train` runs) and of the default VAE (batch 4), and
ddp_max_loss_diff: the largest difference between the loss curve of a 2-process DDP run (gloo,
one micro-batch each) and a 1-process run with 2 micro-batches of accumulation (tiny VAE).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vidgen.config import VAE_PRESETS  # noqa: E402
from vidgen.diffusion import flow  # noqa: E402
from vidgen.models.transformer import DIT_PRESETS, DiT  # noqa: E402
from vidgen.models.vae import VideoVAE  # noqa: E402
from vidgen.precision import fast_bf16  # noqa: E402


def dit_rate(steps: int, batch: int = 16) -> float:
    model = DiT(DIT_PRESETS["default"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    text, mask = torch.randn(batch, 40, 384), torch.ones(batch, 40, dtype=torch.bool)
    pooled, fps = torch.randn(batch, 384), torch.full((batch,), 8.0)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        z0 = torch.randn(batch, 16, 5, 16, 16)
        t = flow.sample_t(batch, gen)
        eps = torch.randn(z0.shape, generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast_bf16()):
            pred = model(flow.noised(z0, eps, t), t, text, mask, pooled, fps)
        loss = (pred.float() - flow.target(z0, eps)).pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return batch / (sum(times[1:]) / steps)


def vae_rate(steps: int, batch: int = 4) -> float:
    model = VideoVAE(VAE_PRESETS["default"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        x = torch.rand(batch, 3, 17, 128, 128) * 2 - 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast_bf16()):
            y, kl = model(x)
        ((y.float() - x).pow(2).mean() + 1e-6 * kl).backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return batch / (sum(times[1:]) / steps)


def ddp_vs_accumulation(steps: int, device: str = "cpu") -> float:
    """Largest loss difference between 2 processes (gloo on the CPU, nccl on 2 GPUs) and one
    process with 2 micro-batches, over `steps` steps of the tiny VAE."""
    with tempfile.TemporaryDirectory() as tmp:
        base = [
            "vidgen.studio.cli",
            "train",
            "vae",
            "--config",
            "configs/vae_tiny.yaml",
            "--steps",
            str(steps),
            "--set",
            "log_every=1",
            "--set",
            "batch=2",
            "--set",
            f"device={device}",
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        _run([sys.executable, "-m", *base, "--out", f"{tmp}/one", "--set", "accumulate=2"], env)
        _run(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",  # its rendezvous binds a free port itself: no race for one
                "--nproc_per_node",
                "2",
                "-m",
                *base,
                "--out",
                f"{tmp}/two",
            ],
            env,
        )
        curves = [
            [json.loads(x)["loss"] for x in Path(f"{tmp}/{r}/log.jsonl").read_text().splitlines()]
            for r in ("one", "two")
        ]
    assert len(curves[0]) == len(curves[1]) == steps, curves
    return max(abs(a - b) for a, b in zip(*curves, strict=True))


def _run(cmd: list[str], env: dict) -> None:
    """Run a training command; a failure raises with the end of its output, which says why."""
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        tail = (r.stdout + r.stderr)[-4000:]
        raise RuntimeError(f"{' '.join(cmd[2:6])} exited {r.returncode}:\n{tail}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    print(
        json.dumps(
            {
                "dit_samples_per_s": round(dit_rate(args.steps), 2),
                "vae_samples_per_s": round(vae_rate(args.steps), 2),
                "ddp_max_loss_diff": ddp_vs_accumulation(args.steps),
                "threads": torch.get_num_threads(),
                "bf16_autocast": fast_bf16(),
            }
        )
    )


if __name__ == "__main__":
    main()
