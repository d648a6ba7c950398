"""The engine end to end on a tiny random model: prompt -> MP4 with its recipe."""

import json
import warnings

import numpy as np
import pytest
import torch

from tests.helpers import make_tiny_model, vidgen
from vidgen.io.video import read_metadata, read_video
from vidgen.pipelines.conditioning import ConditioningItem
from vidgen.pipelines.pipeline import Engine, Request


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_same_seed_same_frames(tiny_model):
    eng = Engine.load(str(tiny_model))
    req = Request("a red ball moves left", width=32, height=32, seconds=1.0, steps=3, seed=7)
    a, b = eng.generate(req).frames, eng.generate(req).frames
    c = eng.generate(Request(**{**req.__dict__, "seed": 8})).frames
    assert a.dtype == np.uint8 and a.shape == (25, 32, 32, 3)  # 1 s at 24 fps, both ends
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_compiled_engine_makes_the_eager_frames(tiny_model):
    # --compile runs the transformer through torch.compile with frozen (prepacked) weights
    eager, compiled = Engine.load(str(tiny_model)), Engine.load(str(tiny_model), compile=True)
    assert compiled.forward is not compiled.dit
    req = Request("a red ball moves left", width=32, height=32, seconds=1.0, steps=3, seed=7)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        a, b = eager.generate(req).frames, compiled.generate(req).frames
    assert not [w for w in seen if "lru_cache" in str(w.message)]  # the rope tables traced plain
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 2
    assert not np.array_equal(a, eager.generate(Request(**{**req.__dict__, "seed": 8})).frames)


def test_an_engine_placed_on_a_device_makes_the_same_frames(tiny_model):
    # noise is drawn on the CPU from the seed and moved, so the device changes no draw
    req = Request("a red ball moves left", width=32, height=32, seconds=1.0, steps=3, seed=7)
    here = Engine.load(str(tiny_model), device=torch.device("cpu"))
    assert here.device == torch.device("cpu") and here.recipe(req)["device"] == "cpu"
    assert np.array_equal(
        here.generate(req).frames, Engine.load(str(tiny_model)).generate(req).frames
    )


def test_image_to_video_pins_frame_zero(tiny_model):
    eng = Engine.load(str(tiny_model))
    image = np.full((1, 32, 32, 3), 200, np.uint8)
    req = Request(
        "a ball",
        width=32,
        height=32,
        seconds=1.0,
        steps=2,
        fps=8,
        conditioning=(ConditioningItem(image),),
    )
    res = eng.generate(req)
    z = eng.encode(torch.from_numpy(image).permute(3, 0, 1, 2)[None].float() / 127.5 - 1)
    first = eng.decode(z)[0]
    assert np.abs(res.frames[0].astype(int) - first.astype(int)).max() <= 1


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("width", 40, "multiple of 16"),
        ("seconds", 5.0, "seconds must be in"),
        ("steps", 0, "steps must be"),
        ("guidance", -1.0, "guidance must be"),
        ("fps", 0.0, "fps must be"),
        ("sampler", "ddim", "sampler must be"),
    ],
)
def test_invalid_requests_are_refused(tiny_model, field, value, needle):
    eng = Engine.load(str(tiny_model))
    req = Request(**{**Request("a ball", width=32, height=32, seconds=1.0).__dict__, field: value})
    with pytest.raises(ValueError, match=needle):
        eng.validate(req)


def test_cli_generate_writes_mp4_with_recipe(tiny_model, tmp_path):
    out = tmp_path / "v.mp4"
    vidgen(
        "generate",
        "a blue star spins",
        "-o",
        out,
        "--model",
        tiny_model,
        "--size",
        "32x32",
        "--seconds",
        "1",
        "--steps",
        "2",
        "--seed",
        "3",
    )
    frames, fps = read_video(out)
    assert frames.shape == (25, 32, 32, 3) and fps == 24.0
    recipe = json.loads(read_metadata(out)["comment"])["vidgen_recipe"]
    assert recipe == json.loads(out.with_suffix(".json").read_text())
    assert recipe["prompt"] == "a blue star spins" and recipe["seed"] == 3
    assert recipe["steps"] == 2 and recipe["weights"] and recipe["vidgen"]
    assert recipe["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto


def test_cli_generate_refuses_long_and_missing(tiny_model, tmp_path):
    base = ["generate", "a ball", "-o", tmp_path / "x.mp4", "--size", "32x32"]
    r = vidgen(*base, "--model", tiny_model, "--seconds", "9", check=False)
    assert r.returncode == 2 and "seconds must be in" in r.stderr
    r = vidgen(*base, "--model", "nope", check=False)
    assert r.returncode == 2 and "model 'nope'" in r.stderr
    r = vidgen(*base, "--model", tiny_model, "--device", "tpu", check=False)
    assert r.returncode == 2 and "--device must be one of auto, cpu, cuda or cuda:N" in r.stderr
    if not torch.cuda.is_available():
        r = vidgen(*base, "--model", tiny_model, "--device", "cuda", check=False)
        assert r.returncode == 2 and "sees 0 CUDA GPU(s)" in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_sampling_uses_the_trained_shift(tmp_path, monkeypatch):
    """The schedule's shift comes from the weights' metadata (what the model was trained with)."""
    seen = {}

    def spy(self, x, ts, *args, **kwargs):
        seen[self.shift] = ts
        return x

    monkeypatch.setattr(Engine, "denoise", spy)
    req = Request("a ball", width=32, height=32, seconds=1.0, steps=4)
    for name, extra in (("plain", {}), ("shifted", {"shift": 3.0})):
        Engine.load(str(make_tiny_model(tmp_path / name, **extra))).generate(req)
    assert set(seen) == {1.0, 3.0}  # no shift in the metadata (older weights) means 1
    assert seen[3.0][1] > seen[1.0][1]  # the larger shift stays longer at high noise
