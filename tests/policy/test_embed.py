"""The NumPy MiniLM: the transformers model's states and vectors; the policy never loads torch."""

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


def _transformers_states(prompts: list[str], max_len: int):
    """The reference: the transformers BERT that sentence-transformers wraps, run in torch."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from vidgen.policy.embed import model_dir

    path = str(model_dir())
    tok, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    batch = tok(prompts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state.numpy()  # (B, M, 384)
    return states, batch["attention_mask"].numpy().astype(bool)


def test_matches_transformers():
    from vidgen.models.text_encoder import MAX_TOKENS, TextEncoder

    long = " ".join(["a red ball bounces on a checkerboard floor"] * 20)  # cut at MAX_TOKENS
    prompts = PROMPTS + [long]
    ref, mask = _transformers_states(prompts, MAX_TOKENS)
    states, got_mask, pooled = (t.numpy() for t in TextEncoder().encode(prompts))
    assert states.shape == ref.shape and mask[-1].sum() == MAX_TOKENS
    np.testing.assert_array_equal(got_mask, mask)
    np.testing.assert_allclose(states[mask], ref[mask], atol=1e-4)
    vectors = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(embed(PROMPTS), vectors[: len(PROMPTS)], atol=1e-4)


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
