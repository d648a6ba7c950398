"""The scene sampler and its held-out split."""

import re

import pytest

from vidgen.world.captions import (
    BACKGROUND_WORDS,
    CAMERA_WORDS,
    COLOR_WORDS,
    LIGHTING_WORDS,
    SHAPE_WORDS,
    SIZE_WORDS,
    SPEED_WORDS,
    STYLE_WORDS,
    caption,
    structured,
    structured_text,
)
from vidgen.world.scene import (
    COLORS,
    MOTIONS,
    SHAPES,
    is_heldout_triple,
    object_heldout,
    sample_scene,
)


def test_same_seed_same_scene():
    assert sample_scene(7) == sample_scene(7)
    assert sample_scene(7) != sample_scene(8)


def test_heldout_triples_are_a_fixed_minority():
    triples = [(c, s, m) for c in COLORS for s in SHAPES for m in MOTIONS]
    held = [t for t in triples if is_heldout_triple(*t)]
    assert 0.08 < len(held) / len(triples) < 0.18
    assert is_heldout_triple(*held[0])  # stable across calls


def test_training_never_shows_a_heldout_triple_in_100k_samples():
    for seed in range(100_000):
        scene = sample_scene(seed, "train")
        assert not any(object_heldout(o) for o in scene.objects), seed


def test_heldout_split_always_has_a_heldout_triple():
    for seed in range(2000):
        scene = sample_scene(seed, "heldout")
        assert object_heldout(scene.objects[0])


def _heldout_only_phrases() -> list[str]:
    tables = (
        COLOR_WORDS,
        SHAPE_WORDS,
        SIZE_WORDS,
        SPEED_WORDS,
        CAMERA_WORDS,
        BACKGROUND_WORDS,
        STYLE_WORDS,
        LIGHTING_WORDS,
    )
    train = {w for t in tables for v in t.values() for w in v[0]}
    return sorted({w for t in tables for v in t.values() for w in v[1]} - train)


def test_training_captions_never_use_heldout_phrasings():
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(p) for p in _heldout_only_phrases()) + r")(?![\w-])"
    )
    for seed in range(20_000):
        scene = sample_scene(seed, "train")
        for text in (caption(scene), structured_text(structured(scene))):
            assert not pattern.search(text.lower()), text


def test_objects_stay_apart_and_in_budget():
    for seed in range(500):
        scene = sample_scene(seed)
        assert 1 <= len(scene.objects) <= 3
        assert [o.depth for o in scene.objects] == list(range(len(scene.objects)))
        for o in scene.objects:
            assert not (o.motion == "spin" and o.shape in ("ball", "ring"))


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match="split"):
        sample_scene(0, "validation")
