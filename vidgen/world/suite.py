"""The fixed WorldBench suite: build it (once, then it is committed) and render it.

Stratified: each prompt is drawn to cover one target value of one dimension (every motion,
camera move, backdrop and style), a quarter are held-out scenes, and half of those use held-out
phrasings. `python -m vidgen.world.suite` rewrites suite_v1.json deterministically.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidgen.world.captions import caption, structured, structured_text
from vidgen.world.scene import BACKGROUNDS, CAMERAS, MOTIONS, STYLES, Scene, sample_scene

SUITE_SIZE, SUITE_FRAMES, SUITE_FPS = 240, 17, 8.0
SUITE_WIDTH = SUITE_HEIGHT = 128


def _targets() -> list[tuple[str, str]]:
    base = (
        [("motion", m) for m in MOTIONS]
        + [("camera", c) for c in CAMERAS]
        + [("background", b) for b in BACKGROUNDS]
        + [("style", s) for s in STYLES]
    )
    out = []
    while len(out) < SUITE_SIZE:
        out.extend(base)
    return out[:SUITE_SIZE]


def _hits(scene: Scene, dim: str, value: str) -> bool:
    if dim == "motion":
        return scene.objects[0].motion == value
    return getattr(scene, dim) == value


def make_suite() -> dict:
    items = []
    seed = 10_000_000
    for i, (dim, value) in enumerate(_targets()):
        split = "heldout" if i % 4 == 0 else "train"
        while True:
            seed += 1
            scene = sample_scene(
                seed,
                split,
                aspect=SUITE_WIDTH / SUITE_HEIGHT,
                duration=(SUITE_FRAMES - 1) / SUITE_FPS,
            )
            if scene.objects and _hits(scene, dim, value):
                break
        phrasing = "heldout" if split == "heldout" and i % 8 == 0 else "train"
        if phrasing == "train" and i % 5 == 1:
            prompt, form = structured_text(structured(scene)), "structured"
        else:
            prompt, form = caption(scene, heldout=phrasing == "heldout"), "natural"
        items.append(
            {
                "id": f"{i:04d}",
                "prompt": prompt,
                "split": split,
                "phrasing": phrasing,
                "form": form,
                "target": f"{dim}={value}",
                "scene": scene.to_dict(),
            }
        )
    return {
        "version": "suite_v1",
        "width": SUITE_WIDTH,
        "height": SUITE_HEIGHT,
        "frames": SUITE_FRAMES,
        "fps": SUITE_FPS,
        "items": items,
    }


if __name__ == "__main__":
    path = Path(__file__).with_name("suite_v1.json")
    path.write_text(json.dumps(make_suite(), indent=1) + "\n")
    print(f"wrote {path}")
