"""The compact text encoder that travels to a lent GPU: close to MiniLM, and strict."""

import numpy as np
import pytest

from vidgen.models import text_pack
from vidgen.policy import embed


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """The copy for 20 scenes' captions, and the full model's states for 40 of them."""
    texts = text_pack.world_texts(20)
    path = text_pack.write(tmp_path_factory.mktemp("minilm"), texts)
    assert path.stat().st_size < 15e6  # 87 MB in the package
    captions = texts[1:41]
    return path.parent, captions, embed.hidden_states(captions, max_len=96)


@pytest.fixture
def compact(pack, monkeypatch):
    monkeypatch.setenv("VIDGEN_MINILM", str(pack[0]))
    for f in (embed.weights, embed._tokenizer):
        f.cache_clear()
    yield pack
    monkeypatch.delenv("VIDGEN_MINILM")
    for f in (embed.weights, embed._tokenizer):
        f.cache_clear()


def test_compact_copy_gives_minilm_states_within_3_percent(compact):
    from vidgen.models.text_encoder import TextEncoder

    _, captions, (ref, mask) = compact
    got, got_mask = embed.hidden_states(captions, max_len=96)
    np.testing.assert_array_equal(got_mask, mask)
    on = mask.astype(bool)
    err = np.sqrt(((got - ref)[on] ** 2).mean()) / np.sqrt((ref[on] ** 2).mean())
    assert err < 0.03, err
    states, _ = TextEncoder().embed(captions[:1])[0]  # the video model's encoder reads it too
    np.testing.assert_allclose(states.numpy(), got[0, : len(states)], atol=1e-4)


def test_compact_copy_refuses_word_pieces_it_does_not_keep(compact):
    with pytest.raises(ValueError, match="lacks the word pieces.*'zebra'.*text_pack"):
        embed.hidden_states(["a zebra crosses a plain white background"])
