"""ModelSpec: the server's torch-free view of a model agrees with the loaded engine."""

import subprocess
import sys

import pytest

from tests.helpers import make_tiny_model
from vidgen.diffusion.samplers import SAMPLERS
from vidgen.pipelines.pipeline import Engine
from vidgen.pipelines.spec import SAMPLER_NAMES, ModelSpec, Request


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_spec_from_headers_matches_the_engine(tiny):
    spec, eng = ModelSpec.read(str(tiny)), Engine.load(str(tiny))
    assert spec.size_multiple == eng.vae.cfg.space_factor * eng.dit.cfg.patch == 16
    assert (spec.window, spec.native_fps, spec.max_seconds) == (9, 8.0, 1.0)
    assert spec.frames_for(1.0) == eng.frames_for(1.0) == 9
    assert set(SAMPLER_NAMES) == set(SAMPLERS)


@pytest.mark.parametrize(
    "field, value, words",
    [("width", 40, "multiple of 16"), ("seconds", 1.5, "(0, 1]"), ("steps", 0, "[1, 200]")],
)
def test_spec_refuses_naming_the_field(tiny, field, value, words):
    with pytest.raises(ValueError, match=field) as e:
        ModelSpec.read(str(tiny)).validate(Request("a ball", **{"seconds": 1.0, field: value}))
    assert words in str(e.value)


def test_reading_a_spec_does_not_import_torch(tiny):
    code = (
        "import sys; from vidgen.pipelines.spec import ModelSpec; "
        f"ModelSpec.read({str(tiny)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
