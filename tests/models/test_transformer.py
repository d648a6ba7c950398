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


def test_self_conditioning_starts_as_the_plain_model_and_then_reads_the_estimate():
    """A self_cond model loaded with plain weights returns what they return, for any previous
    estimate; once its input layer is trained, the estimate changes the output. A plain model
    refuses an estimate."""
    torch.manual_seed(0)
    plain = DiT(DIT_PRESETS["tiny"])
    for p in plain.parameters():
        p.data.normal_(0, 0.2)
    sc = DiT(dataclasses.replace(DIT_PRESETS["tiny"], self_cond=True))
    missing = sc.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["cond_in.bias", "cond_in.weight"]
    args = _inputs(torch.tensor([0.7, 0.2]))
    prev = torch.randn_like(args[0])
    with torch.no_grad():
        ref = plain(*args)
        torch.testing.assert_close(sc(*args), ref)
        torch.testing.assert_close(sc(*args, x0_prev=prev), ref)
        sc.cond_in.weight.normal_(0, 0.2)
        assert (sc(*args, x0_prev=prev) - ref).abs().mean() > 0.01
        torch.testing.assert_close(sc(*args), sc(*args, x0_prev=torch.zeros_like(prev)))
    with pytest.raises(ValueError, match="x0_prev is for self_cond models"):
        plain(*args, x0_prev=prev)
