"""Generation speed of a 2-second default clip on this CPU.

    python bench/generate_speed.py [--model default] [--runs 3] [--precision auto] [--device cpu]

Prints one JSON object: video_s (seconds of video made), warm_s (model loaded), cold_s (a fresh
`vidgen generate` process), stages (text, denoise, decode, interpolate, encode), the DiT
forward's counted FLOP/s over this CPU's float32 matmul peak measured in the same run
(dit_fraction_of_peak, eager as `vidgen generate` runs it; dit_compiled_fraction_of_peak
as `vidgen generate --compile` runs it: torch.compile with frozen weights), and peak_rss_mb.
With no trained model, random weights of the default presets stand in (the timing does not
depend on the weights; "weights" says which). `dtype` is the precision the engine ran in: `auto`
resolves to bfloat16 only on CPUs with native bfloat16 (`native_bf16`). `--device cuda` times
the same on a GPU (its float32 matmul peak then is the GPU's, with TF32 off).
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vidgen import precision
from vidgen.config import VAE_PRESETS
from vidgen.models.transformer import DIT_PRESETS, DiT
from vidgen.models.vae import VideoVAE
from vidgen.pipelines.pipeline import (
    MODELS_DIR,
    Engine,
    Request,
    compile_for_inference,
    save_model,
)


def matmul_peak_fp32(n: int = 2048, reps: int = 10, device=torch.device("cpu")) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    precision.synchronize(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    precision.synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def dit_flops_per_s(engine: Engine, x, t, cond, forward=None) -> tuple[float, float]:
    """Counted FLOP/s and seconds of one transformer forward, timed through `forward`
    (default: the eager module, as `vidgen generate` runs it; or a compiled one)."""
    from torch.utils.flop_counter import FlopCounterMode

    forward = engine.dit if forward is None else forward

    with FlopCounterMode(display=False) as fc, torch.no_grad():
        engine.dit(x, t, **cond)
    flops = fc.get_total_flops()
    bf16 = engine.dtype == torch.bfloat16
    with torch.no_grad(), torch.autocast(engine.device.type, torch.bfloat16, enabled=bf16):
        forward(x, t, **cond)
        precision.synchronize(engine.device)
        reps, start = 10, time.perf_counter()
        for _ in range(reps):
            forward(x, t, **cond)
        precision.synchronize(engine.device)
        dt = (time.perf_counter() - start) / reps
    return flops / dt, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--precision", default="auto", choices=precision.PRECISIONS)
    ap.add_argument("--device", default="cpu", help="cpu (the bar's machine), cuda or cuda:N")
    args = ap.parse_args()
    dev = precision.device(args.device, "--device")
    torch.backends.cuda.matmul.allow_tf32 = False  # the float32 peak is float32's
    model, weights = args.model, "trained"
    if not any((d / "dit.safetensors").is_file() for d in (MODELS_DIR / model, Path(model))):
        model, weights = tempfile.mkdtemp(), "random"
        save_model(
            model,
            VideoVAE(VAE_PRESETS["default"]),
            DiT(DIT_PRESETS["default"]),
            {"fps": 8.0, "frames": 17, "latent_scale": 1.0},
        )
    engine = Engine.load(model, precision=args.precision, device=dev)
    req = Request("a red ball bounces on a checkerboard floor", seconds=2.0, steps=args.steps)
    engine.generate(req)  # warm up: text encoder, kernels
    warm, stages = [], {}
    for _ in range(args.runs):
        t = time.perf_counter()
        res = engine.generate(req)
        with tempfile.TemporaryDirectory() as tmp:
            t_enc = time.perf_counter()
            from vidgen.studio.cli import write_video

            write_video(Path(tmp) / "v.mp4", res.frames, res.fps, res.recipe)
            enc = time.perf_counter() - t_enc
        warm.append(time.perf_counter() - t)
        stages = {**{k: round(v, 3) for k, v in res.stages.items()}, "encode": round(enc, 3)}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vidgen.studio.cli",
                "generate",
                req.prompt,
                "-o",
                f"{tmp}/v.mp4",
                "--model",
                model,
                "--steps",
                str(args.steps),
                "--precision",
                args.precision,
                "--device",
                args.device,
            ],
            check=True,
            capture_output=True,
        )
        cold = time.perf_counter() - t
    peak = matmul_peak_fp32(device=dev)
    s, m, p = (v.to(dev) for v in engine.text.encode([req.prompt] * 2))
    cond = {"text": s, "text_mask": m, "pooled": p, "fps": torch.full((2,), 8.0, device=dev)}
    sf = engine.vae.cfg.space_factor
    x = torch.randn(2, engine.vae.cfg.latent_channels, 5, 128 // sf, 128 // sf, device=dev)
    tt = torch.rand(2, device=dev)
    dit_fps, dit_s = dit_flops_per_s(engine, x, tt, cond)
    # torch.compile's fused kernels and frozen weights: what `vidgen generate --compile` runs
    comp_fps, comp_s = dit_flops_per_s(engine, x, tt, cond, compile_for_inference(engine.dit))
    print(
        json.dumps(
            {
                "video_s": req.seconds,
                "warm_s": round(min(warm), 3),
                "cold_s": round(cold, 3),
                "stages": stages,
                "steps": args.steps,
                "dit_forward_ms": round(dit_s * 1000, 2),
                "dit_gflops": round(dit_fps / 1e9, 1),
                "fp32_matmul_peak_gflops": round(peak / 1e9, 1),
                "dit_fraction_of_peak": round(dit_fps / peak, 3),
                "dit_compiled_forward_ms": round(comp_s * 1000, 2),
                "dit_compiled_fraction_of_peak": round(comp_fps / peak, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "dtype": str(engine.dtype).removeprefix("torch."),
                "device": str(dev),
                "native_bf16": precision.fast_bf16(),
                "threads": torch.get_num_threads(),
                "weights": weights,
            }
        )
    )


if __name__ == "__main__":
    main()
