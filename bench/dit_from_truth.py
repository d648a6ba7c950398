"""Where the transformer loses what WorldBench checks: generation from noised ground truth.

    python bench/dit_from_truth.py [MODEL] [--prompts N] [--t0 0,0.1,0.3,0.5,0.7,1] [--shift S]

For N suite prompts (spread over the suite): render the truth, encode it with the model's
autoencoder, noise it to t0 with a seeded draw (x = (1 - t0) z + t0 eps, as in training), run
the engine's denoising loop from t0 to 0 over the default schedule's steps below t0, decode and
score. t0 = 0 is the autoencoder's round trip (the most any transformer can score in these
latents); t0 = 1 is generation from pure noise, as `vidgen eval --suite --model` does it (without
the MP4 step). Where the score falls between two t0 is where the transformer loses it: at low t
it is detail (colour precision, edges), at high t where objects are and what they are.
Prints one JSON object: {"model", "prompts", "steps", "guidance", "t0": {"0.3": {dim: score}}}.
"""

import argparse
import json

import torch

from vidgen.data.datasets import to_tensor
from vidgen.diffusion import flow
from vidgen.pipelines.pipeline import Engine
from vidgen.world.bench import load_suite, render_item, report, score_clip

DIMS = ("color", "shape", "motion", "direction", "camera", "background")


@torch.no_grad()
def from_truth(eng: Engine, z0: torch.Tensor, conds: tuple, t0: float, steps: int, g: float, seed):
    """Frames (F, H, W, 3) uint8 denoised by the engine's loop from the truth noised to t0."""
    if t0 == 0:
        return eng.decode(z0)
    full = eng.schedule(steps, z0.shape[1:])
    ts = torch.cat([torch.tensor([t0]), full[full < t0]])
    eps = torch.randn(z0.shape, generator=torch.Generator().manual_seed(seed))
    x = flow.noised(z0, eps, torch.tensor([t0]))
    pinned = torch.zeros(z0.shape[2], dtype=torch.bool)
    return eng.decode(eng.denoise(x, ts, *conds, g, pinned, torch.zeros_like(z0)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="default")
    ap.add_argument("--prompts", type=int, default=48, help="suite prompts, spread over it")
    ap.add_argument("--t0", default="0,0.1,0.3,0.5,0.7,1", help="comma-separated, in [0, 1]")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--shift", type=float, help="sampling schedule shift (default: the model's)")
    args = ap.parse_args()
    t0s = [float(v) for v in args.t0.split(",")]
    if not all(0.0 <= t <= 1.0 for t in t0s):
        ap.error(f"--t0 values must be in [0, 1], got {args.t0}")
    if not 1 <= args.prompts <= 240:
        ap.error(f"--prompts must be in [1, 240], got {args.prompts}")
    eng = Engine.load(args.model, precision="auto")
    eng.shift = eng.shift if args.shift is None else args.shift  # to compare models on one schedule
    s = load_suite()
    items = s["items"][:: max(1, len(s["items"]) // args.prompts)][: args.prompts]
    scores: dict[float, list] = {t: [] for t in t0s}
    for i, it in enumerate(items):
        z0 = eng.encode(to_tensor(render_item(s, it))[None])
        conds = eng.conditions(it["prompt"])
        for t in t0s:
            frames = from_truth(eng, z0, conds, t, args.steps, args.guidance, seed=i)
            scores[t].append(score_clip(frames, s["fps"], it["prompt"]))
    out = {}
    for t, clips in scores.items():
        dims = report(clips)["dimensions"]
        out[f"{t:g}"] = {d: dims[d]["score"] for d in DIMS}
    meta = {"model": args.model, "prompts": len(items), "steps": args.steps, "shift": eng.shift}
    print(json.dumps({**meta, "guidance": args.guidance, "t0": out}))


if __name__ == "__main__":
    main()
