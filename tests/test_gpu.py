"""On a CUDA GPU (pytest -m gpu): the engine and training give what they give on the CPU."""

import json
import sys

import numpy as np
import pytest
import torch

from tests.helpers import make_tiny_model, vidgen
from vidgen.pipelines.pipeline import Engine, Request

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_the_engine_on_a_gpu_makes_the_cpu_frames(tmp_path):
    model = str(make_tiny_model(tmp_path / "tiny"))
    req = Request("a red ball moves left", width=32, height=32, seconds=1.0, steps=3, seed=7)
    gpu = Engine.load(model, device="cuda")
    a, b = gpu.generate(req).frames, Engine.load(model, device="cpu").generate(req).frames
    assert gpu.recipe(req)["device"] == "cuda" and a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 2  # float32 both; kernels differ


def test_training_on_a_gpu_follows_the_cpu_loss_and_resumes(tmp_path):
    def train(out, device, steps):
        vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", out, "--steps",
               steps, "--set", "log_every=1", "--set", f"device={device}")  # fmt: skip
        return [json.loads(x)["loss"] for x in (out / "log.jsonl").read_text().splitlines()]

    cpu, gpu = train(tmp_path / "cpu", "cpu", 3), train(tmp_path / "gpu", "cuda", 3)
    assert np.allclose(cpu, gpu, rtol=2e-2)  # the same batches and noise, drawn on the CPU
    assert len(train(tmp_path / "gpu", "cuda", 5)) == 5  # resumed on the GPU from step 3
    vidgen("train", "dit", "--config", "configs/dit_tiny.yaml", "--out", tmp_path / "dit",
           "--set", f"vae={tmp_path / 'gpu' / 'vae.safetensors'}", "--set",
           f"cache={tmp_path / 'cache'}", "--set", "device=cuda", "--set", "eval_every=2",
           "--set", "eval_prompts=1")  # fmt: skip
    assert (tmp_path / "dit" / "samples" / "step000002.png").is_file()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_two_gpus_over_nccl_match_one_process_with_accumulation():
    sys.path.insert(0, "bench")
    import train_speed

    assert train_speed.ddp_vs_accumulation(3, device="auto") < 1e-3


def test_more_cache_processes_than_gpus_share_them(tmp_path):
    """`--cache-only` under torchrun with a process per core: ranks past the last GPU wrap."""
    import os
    import subprocess

    vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "vae",
           "--steps", 1)  # fmt: skip
    n = torch.cuda.device_count() + 1
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
         "-m", "vidgen.studio.cli", "train", "dit", "--config", "configs/dit_tiny.yaml",
         "--set", f"vae={tmp_path / 'vae' / 'vae.safetensors'}",
         "--set", f"cache={tmp_path / 'cache'}", "--set", "device=cuda", "--cache-only"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert list((tmp_path / "cache").glob("*_00000.text.safetensors"))


def test_muon_steps_on_a_gpu_as_on_the_cpu():
    from vidgen.training.muon import Muon

    g = torch.Generator().manual_seed(3)
    w0, grad = torch.randn(64, 192, generator=g), torch.randn(64, 192, generator=g)
    moved = []
    for dev in ("cuda", "cpu"):
        p = torch.nn.Parameter(w0.clone().to(dev))  # a copy: Muon steps it in place
        p.grad = grad.to(dev)
        Muon([p], lr=0.01).step()
        moved.append((p.detach() - w0.to(dev)).cpu())
    assert moved[0].norm() > 0.1  # bfloat16 there, here float32 or bfloat16: the same step
    assert (moved[0] - moved[1]).norm() / moved[1].norm() < 0.03
