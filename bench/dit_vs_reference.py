"""Our transformer's forward step against diffusers' LTXVideoTransformer3DModel, same shape.

    python bench/dit_vs_reference.py [--dtype bfloat16|float32] [--rounds 2]

Same width (384 = 6 heads x 64), depth (8), text width (384), tokens (80 video tokens: a
17-frame 128x128 clip; 40 text tokens), batch 2 (a guided step) and dtype (weights and inputs
cast to it, no autocast). diffusers runs in its own virtualenv (.venv-ref, made on first use:
torch==2.13.0 + diffusers), never in vidgen's; both are timed in alternating rounds of the
same run, each eager and compiled (torch.compile, inductor with freezing). Prints one JSON
object: ours_ms and reference_ms (both compiled, the fastest either can be), the eager times,
and the ratios.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from vidgen.models.transformer import DIT_PRESETS, DiT

REF_VENV = Path(__file__).resolve().parents[1] / ".venv-ref"
REFERENCE = r"""
import json, sys, time, torch
from diffusers import LTXVideoTransformer3DModel
dtype = getattr(torch, sys.argv[1]); reps = int(sys.argv[2])
torch.manual_seed(0)
m = LTXVideoTransformer3DModel(in_channels=256, out_channels=256, num_attention_heads=6,
    attention_head_dim=64, cross_attention_dim=384, num_layers=8, caption_channels=384)
m = m.eval().to(dtype)
x, text = torch.randn(2, 80, 256, dtype=dtype), torch.randn(2, 40, 384, dtype=dtype)
mask, t = torch.ones(2, 40, dtype=dtype), torch.tensor([500, 500])
import torch._inductor.config as ic
ic.freezing = True
out = {"params": sum(p.numel() for p in m.parameters())}
for name, f in (("eager", m), ("compiled", torch.compile(m))):
    def step():
        with torch.no_grad():
            f(x, text, t, mask, num_frames=5, height=4, width=4, return_dict=False)
    step(); step()
    start = time.perf_counter()
    for _ in range(reps): step()
    out[name] = (time.perf_counter() - start) / reps * 1000
print(json.dumps(out))
"""


def ensure_ref_venv() -> Path:
    py = REF_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "diffusers", "transformers"], check=True
        )
    return py


def ours(dtype: torch.dtype, reps: int) -> tuple[dict, int]:
    import torch._inductor.config as ic

    ic.freezing = True
    torch.manual_seed(0)
    m = DiT(DIT_PRESETS["default"]).eval().to(dtype)
    x, t = torch.randn(2, 16, 5, 16, 16, dtype=dtype), torch.rand(2)
    text, mask = torch.randn(2, 40, 384, dtype=dtype), torch.ones(2, 40, dtype=torch.bool)
    pooled, fps = torch.randn(2, 384, dtype=dtype), torch.full((2,), 8.0)

    out = {}
    for name, f in (("eager", m), ("compiled", torch.compile(m))):
        for _ in range(2):
            with torch.no_grad():
                f(x, t, text, mask, pooled, fps)
        start = time.perf_counter()
        for _ in range(reps):
            with torch.no_grad():
                f(x, t, text, mask, pooled, fps)
        out[name] = (time.perf_counter() - start) / reps * 1000
    return out, sum(p.numel() for p in m.parameters())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    py = ensure_ref_venv()
    dtype = getattr(torch, args.dtype)
    runs = {"ours": [], "ref": []}
    for _ in range(args.rounds):
        mine, n_ours = ours(dtype, args.reps)
        r = subprocess.run(
            [str(py), "-c", REFERENCE, args.dtype, str(args.reps)],
            capture_output=True,
            text=True,
            check=True,
        )
        ref = json.loads(r.stdout.strip().splitlines()[-1])
        runs["ours"].append(mine)
        runs["ref"].append(ref)

    def med(who: str, mode: str) -> float:
        return round(statistics.median(r[mode] for r in runs[who]), 2)

    o, rf = med("ours", "compiled"), med("ref", "compiled")
    oe, re_ = med("ours", "eager"), med("ref", "eager")
    print(
        json.dumps(
            {
                "ours_ms": o,
                "reference_ms": rf,
                "ratio": round(o / rf, 3),
                "ours_eager_ms": oe,
                "reference_eager_ms": re_,
                "eager_ratio": round(oe / re_, 3),
                "dtype": args.dtype,
                "tokens": 80,
                "width": 384,
                "depth": 8,
                "heads": 6,
                "batch": 2,
                "ours_params": n_ours,
                "reference_params": ref["params"],
                "reference": "diffusers LTXVideoTransformer3DModel",
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
