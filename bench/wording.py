"""Unseen wording: the same scenes captioned in training wording and in wording training never uses.

    python bench/wording.py [MODEL] [--scenes 96] [--offset 0] [--threads 2]

For each of N held-out scenes (`sample_scene(700000 + offset + i, "heldout")`, 2 s at 128x128),
two captions are drawn with the same seed, one in training wording and one in held-out wording
(`caption(..., heldout=True)`: held-out synonyms and sentence form). Each is generated from noise
with `bench/dit_from_truth.py`'s loop (the engine's denoising loop, the model's schedule, 20
steps, guidance 4; the noise seeded by the scene's index, so both captions start from the same
noise) and scored by WorldBench against its own caption. Two offsets 96 apart give 192 scenes.
Prints one JSON object: {"model", "scenes", "offset", "heldout": {dim: score}, "train": {...},
"heldout_right"/"train_right": {"background": count of scenes whose backdrop is right}}.
"""

import argparse
import json
import random

import torch
from dit_from_truth import DIMS, from_truth

from vidgen.pipelines.pipeline import Engine
from vidgen.world.bench import report, score_clip
from vidgen.world.captions import caption
from vidgen.world.scene import sample_scene


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default="default")
    ap.add_argument("--scenes", type=int, default=96)
    ap.add_argument("--offset", type=int, default=0, help="the first scene's index")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not 1 <= args.scenes <= 10_000:
        ap.error(f"--scenes must be in [1, 10000], got {args.scenes}")
    if not 0 <= args.offset <= 1_000_000:
        ap.error(f"--offset must be in [0, 1000000], got {args.offset}")
    torch.set_num_threads(args.threads)
    eng = Engine.load(args.model, precision="auto")
    shape = (1, eng.vae.cfg.latent_channels, 5, 16, 16)  # 17 frames at 128x128
    clips: dict[str, list] = {"heldout": [], "train": []}
    for i in range(args.scenes):
        scene = sample_scene(700_000 + args.offset + i, "heldout", aspect=1.0, duration=2.0)
        seed = random.Random(args.offset + i).randrange(2**31)
        for wording, scored in clips.items():
            cap = caption(scene, seed=seed, heldout=wording == "heldout")
            frames = from_truth(eng, torch.zeros(shape), eng.conditions(cap), 1.0, 20, 4.0, seed=i)
            scored.append(score_clip(frames, 8.0, cap))
    out = {"model": args.model, "scenes": args.scenes, "offset": args.offset}
    for wording, scored in clips.items():
        dims = report(scored)["dimensions"]
        out[wording] = {d: dims[d]["score"] for d in (*DIMS, "style")}
        right = sum(c["dimensions"]["background"] == 1.0 for c in scored)
        out[f"{wording}_right"] = {"background": right}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
