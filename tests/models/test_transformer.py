"""The cell refinement: a trained transformer grows into it unchanged, and it sees single cells."""

import dataclasses

import pytest
import torch

from vidgen.models.transformer import DIT_PRESETS, DiT
from vidgen.training import checkpoint
from vidgen.training.tasks import load_init

TINY = DIT_PRESETS["tiny"]


def _inputs(gen: torch.Generator, b: int = 2):
    x = torch.randn(b, TINY.latent_channels, 3, 8, 8, generator=gen)
    t = torch.tensor([[0.0, 0.7, 0.7], [0.3, 0.3, 0.3]])[:b]  # a pinned first frame in one
    text, mask = torch.randn(b, 5, 384, generator=gen), torch.ones(b, 5, dtype=torch.bool)
    return x, t, text, mask, torch.randn(b, 384, generator=gen), torch.full((b,), 8.0)


def _trained(seed: int) -> DiT:
    """A tiny transformer with every weight non-zero, as if trained."""
    gen = torch.Generator().manual_seed(seed)
    model = DiT(TINY)
    for p in model.parameters():
        p.data = torch.randn(p.shape, generator=gen) * 0.2
    return model


def test_a_trained_transformer_grows_into_the_refinement_unchanged(tmp_path):
    plain = _trained(0)
    path = tmp_path / "dit.safetensors"
    meta = {"kind": "dit", "dit_config": dataclasses.asdict(TINY), "latent_mean": 0.5}
    checkpoint.save(path, plain.state_dict(), {**meta, "latent_scale": 2.0})
    grown = DiT(dataclasses.replace(TINY, refine=8))
    assert load_init(grown, str(path), "global") == (0.5, 2.0)
    args = _inputs(torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(plain(*args), grown(*args))
        grown.refine.conv3.weight.normal_(0, 0.1)  # once it has learned something
        assert not torch.allclose(plain(*args), grown(*args))
    back = tmp_path / "grown.safetensors"  # a grown one does not load into the plain preset
    checkpoint.save(back, grown.state_dict(), {**meta, "dit_config": dataclasses.asdict(grown.cfg),
                                               "latent_scale": 2.0})  # fmt: skip
    with pytest.raises(ValueError, match="is not a transformer with config"):
        load_init(DiT(TINY), str(back), "global")


def test_the_refinement_reads_single_cells_of_the_input():
    """Without it, one patch of the output depends on its patch of x_t only through the token;
    with it, a change to one latent cell reaches the output within that cell's 7x7 neighbourhood
    (three 3x3 convolutions) in its own frame, whatever the transformer does."""
    torch.manual_seed(0)
    model = DiT(dataclasses.replace(TINY, refine=8))
    for p in model.refine.parameters():
        p.data.normal_(0, 0.3)
    x, t, *rest = _inputs(torch.Generator().manual_seed(2), b=1)
    with torch.no_grad():
        base = model.refine(torch.zeros_like(x), x, t[:, :, None, None].expand(1, 3, 8, 8))
        x2 = x.clone()
        x2[0, :, 1, 4, 4] += 1.0
        moved = model.refine(torch.zeros_like(x), x2, t[:, :, None, None].expand(1, 3, 8, 8))
    diff = (moved - base).abs().sum(1)[0]  # (T, H, W)
    assert diff[1, 4, 4] > 0
    outside = diff.clone()
    outside[1, 1:8, 1:8] = 0  # its 7x7 neighbourhood in its own frame: nothing changes elsewhere
    assert outside.max() == 0
    assert model(x, t, *rest).shape == x.shape


@pytest.mark.slow
def test_a_compiled_refining_transformer_trains_across_bucket_shapes():
    """Training compiles the transformer and changes shape with each bucket, which turns the
    sizes dynamic; Inductor then failed on the refinement's convolutions (it runs eager)."""
    torch.manual_seed(0)
    model = DiT(dataclasses.replace(TINY, refine=8))
    net = torch.compile(model)
    for h, w, n in ((8, 8, 5), (8, 14, 7), (14, 8, 6)):
        x = torch.randn(2, TINY.latent_channels, 3, h, w)
        args = (x, torch.rand(2, 3), torch.randn(2, n, 384), torch.ones(2, n, dtype=torch.bool),
                torch.randn(2, 384), torch.full((2,), 8.0))  # fmt: skip
        out = net(*args)
        out.square().mean().backward()
        torch.testing.assert_close(out, model(*args), rtol=1e-4, atol=1e-4)
