"""The NumPy MiniLM: same vectors as the torch text encoder, and the policy never imports torch."""

import subprocess
import sys

import numpy as np
import pytest

from vidgen.policy.embed import embed

PROMPTS = [
    "a red ball",
    "a knife cutting bread on a wooden board, slowly, in warm evening light",
    "Taylor Swift endorsing a candidate",
    "A CAT!! jumping über the fence at 3pm",
    "",
]


def test_matches_the_torch_text_encoder():
    from vidgen.models.text_encoder import TextEncoder

    ref = TextEncoder().encode(PROMPTS)[2].numpy()  # pooled (N, 384), padded as one batch
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    out = embed(PROMPTS)
    assert out.shape == (len(PROMPTS), 384) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_batching_does_not_change_vectors():
    together = embed(PROMPTS)
    alone = np.concatenate([embed([p]) for p in PROMPTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_policy_check_does_not_import_torch():
    code = (
        "import sys, vidgen.policy\n"
        "d = vidgen.policy.check('a red ball')\n"
        "assert d.allowed, d\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_refuses_a_bare_string():
    with pytest.raises(ValueError, match="list of strings"):
        embed("a red ball")


def test_policy_vector_cache_gives_the_same_vectors_and_stays_bounded(monkeypatch):
    from vidgen.policy import policy

    monkeypatch.setattr(policy, "CACHED", 3)
    monkeypatch.setattr(policy, "_VECTORS", type(policy._VECTORS)())
    first = policy._embed(PROMPTS[:3] + PROMPTS[:1])  # a repeat inside one batch
    again = policy._embed(PROMPTS[:3])  # every one cached
    np.testing.assert_allclose(first[:3], embed(PROMPTS[:3]), atol=1e-5)
    np.testing.assert_array_equal(again, first[:3])
    policy._embed(PROMPTS[3:])
    assert list(policy._VECTORS) == [PROMPTS[2], *PROMPTS[3:]]  # the oldest went first
