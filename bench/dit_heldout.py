"""The transformer's held-out error: how far its clean-latent estimate is from the truth.

    python bench/dit_heldout.py MODEL [MODEL ...] [--prompts N] [--t 0.1,0.3,0.5,0.7,0.9]

For N suite prompts (spread over the suite; none of them is in a training cache): render the
truth, encode it with the model's autoencoder, noise it to each t with one seeded draw per
(prompt, t) that every model shares, and take one step of the engine's loop from t to 0 with
guidance 1 (the Euler step from t to 0 lands on the model's clean estimate, x - t v). The error is
the mean squared difference from the encoded truth, in the model's normalised latent units. It is
what two arms of a race are compared by: the same prompts, noise and times for each, so a
difference between models is theirs and not the draw's. Prints one JSON object:
{"prompts", "t", "models": {MODEL: {"all" | "split/phrasing": {t: error}}}}; the groups are the
suite's training scenes ("train/train") and its held-out triples in training or held-out wording.
"""

import argparse
import json

import torch

from vidgen.data.datasets import to_tensor
from vidgen.diffusion import flow
from vidgen.pipelines.pipeline import Engine
from vidgen.world.bench import load_suite, render_item


@torch.no_grad()
def errors(eng: Engine, items: list, suite: dict, ts: list[float]) -> dict[str, dict[str, float]]:
    """Mean squared clean-latent error by group ("all" and "split/phrasing") and t."""
    sums: dict[str, dict[float, list]] = {}
    for i, it in enumerate(items):
        z0 = eng.encode(to_tensor(render_item(suite, it))[None])
        cond, uncond = eng.conditions(it["prompt"])
        pinned = torch.zeros(z0.shape[2], dtype=torch.bool)
        for j, t in enumerate(ts):
            eps = torch.randn(z0.shape, generator=torch.Generator().manual_seed(i * 100 + j))
            x = flow.noised(z0, eps, torch.tensor([t]))
            x0 = eng.denoise(x, torch.tensor([t, 0.0]), cond, uncond, 1.0, pinned, z0)
            err = float((x0.cpu() - z0).pow(2).mean())
            for g in ("all", f"{it['split']}/{it['phrasing']}"):
                sums.setdefault(g, {u: [] for u in ts})[t].append(err)
    return {
        g: {f"{t:g}": round(sum(v) / len(v), 5) for t, v in by_t.items()}
        for g, by_t in sums.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+", help="model names or directories (vae and dit weights)")
    ap.add_argument("--prompts", type=int, default=96, help="suite prompts, spread over it")
    ap.add_argument("--t", default="0.1,0.3,0.5,0.7,0.9", help="comma-separated, in (0, 1]")
    args = ap.parse_args()
    ts = [float(v) for v in args.t.split(",")]
    if not all(0.0 < t <= 1.0 for t in ts):
        ap.error(f"--t values must be in (0, 1], got {args.t}")
    if not 1 <= args.prompts <= 240:
        ap.error(f"--prompts must be in [1, 240], got {args.prompts}")
    suite = load_suite()
    items = suite["items"][:: max(1, len(suite["items"]) // args.prompts)][: args.prompts]
    out = {m: errors(Engine.load(m, precision="auto"), items, suite, ts) for m in args.models}
    print(json.dumps({"prompts": len(items), "t": ts, "models": out}))


if __name__ == "__main__":
    main()
