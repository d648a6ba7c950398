"""Our Muon steps as torch.optim.Muon does, with its Newton-Schulz iteration in bfloat16 only
where the CPU computes it natively (else float32)."""

import torch

from vidgen.training.muon import Muon, orthogonalise


def test_orthogonalise_flattens_the_singular_values_of_wide_and_tall_matrices():
    g = torch.Generator().manual_seed(0)
    for rows, cols in ((48, 192), (192, 48), (64, 64)):
        k = min(rows, cols)  # singular values 0.1 to 10 between random orthonormal bases
        u, _ = torch.linalg.qr(torch.randn(rows, k, generator=g))
        v, _ = torch.linalg.qr(torch.randn(cols, k, generator=g))
        m = u @ torch.diag(torch.logspace(-1, 1, k)) @ v.T
        s = torch.linalg.svdvals(orthogonalise(m))
        assert s.min() > 0.5 and s.max() < 1.3, (rows, cols, s.min(), s.max())


def test_two_steps_match_torch_muon_with_moonshots_rate():
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(32, 96, generator=g)
    grads = [torch.randn(32, 96, generator=g) for _ in range(2)]
    ours, ref = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    opts = (
        Muon([ours], lr=0.01),
        torch.optim.Muon([ref], lr=0.01, weight_decay=0.0, adjust_lr_fn="match_rms_adamw"),
    )
    for grad in grads:
        for p, opt in zip((ours, ref), opts, strict=True):
            p.grad = grad.clone()
            opt.step()
    d_ours, d_ref = ours.detach() - w0, ref.detach() - w0
    assert d_ours.norm() > 0.1  # it moved: 2 steps of 0.01 x 0.2 x sqrt(96) x an RMS-1 update
    # torch's iteration runs in bfloat16, ours in float32 on a CPU without native bfloat16:
    # the same step to within bf16 error either way
    assert (d_ours - d_ref).norm() / d_ref.norm() < 0.03
