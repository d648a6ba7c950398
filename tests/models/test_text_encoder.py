"""Text-state noise for training: where it lands and how large it is."""

import torch

from vidgen.models.text_encoder import perturb


def test_perturb_noises_kept_prompts_tokens_at_their_scale_only():
    states = torch.randn(3, 40, 384) * torch.tensor([1.0, 3.0, 2.0])[:, None, None]
    mask = torch.ones(3, 40, dtype=torch.bool)
    mask[0, 25:] = False  # a shorter prompt: its padding stays zero
    states[0, 25:] = 0.0
    pooled = torch.randn(3, 384) * 5.0
    keep = torch.tensor([True, True, False])  # the third was dropped to the empty prompt
    s, p = perturb(states, mask, pooled, keep, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(s[2], states[2]) and torch.equal(p[2], pooled[2])
    assert torch.equal(s[0, 25:], states[0, 25:])
    for i, n in ((0, 25), (1, 40)):
        rms = states[i, :n].pow(2).mean().sqrt()
        ratio = (s[i, :n] - states[i, :n]).std() / (0.5 * rms)
        assert abs(ratio - 1) < 0.03, (i, float(ratio))
        ratio = (p[i] - pooled[i]).std() / (0.5 * pooled[i].pow(2).mean().sqrt())
        assert abs(ratio - 1) < 0.15, (i, float(ratio))
    again = perturb(states, mask, pooled, keep, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], s) and torch.equal(again[1], p)  # seeded: the same draw
