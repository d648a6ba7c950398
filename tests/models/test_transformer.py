"""The transformer's output: the velocity, predicted directly or from predicted clean latents."""

import dataclasses

import pytest
import torch

from vidgen.models.transformer import DIT_PRESETS, X_T_MIN, DiT


def _inputs(t):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 3, 4, 4, generator=g)
    text, pooled = torch.randn(2, 5, 384, generator=g), torch.randn(2, 384, generator=g)
    return x, t, text, torch.ones(2, 5, dtype=torch.bool), pooled, torch.full((2,), 8.0)


def test_predicting_x_returns_the_velocity_of_the_predicted_clean_latents():
    """With the same weights, the x model's output is (x_t - f) / max(t, X_T_MIN), where f is
    what the v model returns (the last layer, read as velocity there and as x0 here)."""
    torch.manual_seed(0)
    v_model = DiT(DIT_PRESETS["tiny"])
    for p in v_model.parameters():  # zero-initialised layers would make the output trivial
        p.data.normal_(0, 0.2)
    x_model = DiT(dataclasses.replace(DIT_PRESETS["tiny"], predict="x"))
    x_model.load_state_dict(v_model.state_dict())
    t = torch.tensor([[0.0, 0.02, 0.5], [0.9, 1.0, 0.3]])  # per latent frame; 0 is pinned
    args = _inputs(t)
    with torch.no_grad():
        f, v = v_model(*args), x_model(*args)
    assert f.abs().mean() > 0.1
    per_frame = t.clamp(min=X_T_MIN)[:, None, :, None, None]
    torch.testing.assert_close(v, (args[0] - f) / per_frame)
    assert torch.isfinite(v).all()


def test_an_unknown_prediction_is_refused():
    with pytest.raises(ValueError, match="predict must be one of v, x, got 'eps'"):
        DiT(dataclasses.replace(DIT_PRESETS["tiny"], predict="eps"))
