"""Flow matching and samplers against their closed forms."""

import torch

from vidgen.diffusion import flow
from vidgen.diffusion.guidance import cfg
from vidgen.diffusion.samplers import sample_euler, sample_heun


def test_interpolant_and_target():
    x0, eps = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    t = torch.tensor([0.0, 1.0])
    xt = flow.noised(x0, eps, t)
    torch.testing.assert_close(xt[0], x0[0])
    torch.testing.assert_close(xt[1], eps[1])
    per_frame = flow.noised(x0, eps, torch.tensor([[0.0, 0.5, 1.0, 0.25]] * 2))
    torch.testing.assert_close(per_frame[:, :, 1], 0.5 * (x0[:, :, 1] + eps[:, :, 1]))
    torch.testing.assert_close(flow.target(x0, eps), eps - x0)


def test_euler_step_is_x_plus_dt_v():
    x, v = torch.randn(1, 4), torch.randn(1, 4)
    out = sample_euler(lambda z, t: v, x, torch.tensor([0.8, 0.5]))
    torch.testing.assert_close(out, x + (0.5 - 0.8) * v)


def test_exact_velocity_reaches_the_data_point():
    x0 = torch.randn(1, 8)

    def model(x, t):  # the true velocity field of a point mass at x0
        return (x - x0) / t

    for sampler in (sample_euler, sample_heun):
        out = sampler(model, torch.randn(1, 8), flow.schedule(7, shift=2.0))
        torch.testing.assert_close(out, x0, atol=1e-5, rtol=1e-5)


def test_schedule_and_shift():
    ts = flow.schedule(10, shift=3.0)
    assert ts[0] == 1 and ts[-1] == 0 and bool((ts[1:] < ts[:-1]).all())
    assert float(flow.shift_t(torch.tensor(0.5), 3.0)) > 0.5  # more time spent at high noise
    assert flow.shift_for(4 * 1280) > flow.shift_for(1280) == 1.0
    assert flow.shift_for(1280, base=3.0) == 3.0 and flow.shift_for(4 * 1280, base=3.0) == 6.0
    t = flow.sample_t(1000, torch.Generator().manual_seed(0))
    assert 0 < float(t.min()) and float(t.max()) < 1 and abs(float(t.mean()) - 0.5) < 0.05


def test_classifier_free_guidance():
    def model(x, t, c):
        return x * c

    cond, uncond = {"c": torch.tensor([[2.0]])}, {"c": torch.tensor([[1.0]])}
    x = torch.ones(1, 1)
    torch.testing.assert_close(cfg(model, cond, uncond, 1.0)(x, 0.5), torch.tensor([[2.0]]))
    torch.testing.assert_close(cfg(model, cond, uncond, 3.0)(x, 0.5), torch.tensor([[4.0]]))
