"""Frozen text encoder: all-MiniLM-L6-v2 token states, loaded offline from a PyPI package.

`encode(prompts)` returns token states (B, M, 384), a mask (B, M) and a pooled vector (B, 384)
(the masked mean, as sentence-transformers pools it). Results are cached per prompt. The empty
prompt is the unconditional embedding. The forward pass is the policy's NumPy MiniLM
(`vidgen.policy.embed`), which matches the transformers model to 1e-4 (tested against it) and
loads in under a second instead of 8 s, with one copy of the weights for policy and model.
"""

from __future__ import annotations

import torch

MAX_TOKENS = 96  # the structured prompt form runs to about 90 tokens


class TextEncoder:
    """Cached MiniLM encoder; one instance per process is enough."""

    dim = 384

    def __init__(self, max_tokens: int = MAX_TOKENS):
        self.max_tokens = max_tokens
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # (L, 384), (384,)

    @torch.no_grad()
    def embed(self, prompts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each prompt's (states (L, 384), pooled (384,)), computed now and not cached."""
        from vidgen.policy.embed import hidden_states

        x, m = hidden_states(prompts, max_len=self.max_tokens)
        states, mask = torch.from_numpy(x), torch.from_numpy(m).bool()  # (B, M, 384), (B, M)
        pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        lengths = mask.sum(1).tolist()
        return [(states[i, :n].clone(), pooled[i].clone()) for i, n in enumerate(lengths)]

    def entries(self, prompts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each prompt's (states, pooled), from the cache or computed and cached."""
        new = sorted({p for p in prompts if p not in self.cache})
        for i in range(0, len(new), 256):
            self.cache.update(zip(new[i : i + 256], self.embed(new[i : i + 256]), strict=True))
        return [self.cache[q] for q in prompts]

    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(states (B, M, 384), mask (B, M) bool, pooled (B, 384)) for the prompts."""
        return collate(self.entries(prompts))


def collate(entries: list[tuple[torch.Tensor, torch.Tensor]]):
    """Per-prompt (states (L, D), pooled (D,)) -> (states (B, M, D), mask (B, M), pooled (B, D)),
    padded to the longest prompt in the batch."""
    states, pooled = zip(*entries, strict=True)
    n = max(s.shape[0] for s in states)
    out = torch.zeros(len(states), n, states[0].shape[1])
    mask = torch.zeros(len(states), n, dtype=torch.bool)
    for i, s in enumerate(states):
        out[i, : s.shape[0]], mask[i, : s.shape[0]] = s, True
    return out, mask, torch.stack(pooled)


def perturb(states, mask, pooled, keep, sigma: float, gen: torch.Generator):
    """Gaussian noise of std sigma x each prompt's RMS on its token states (where mask) and its
    pooled vector, for the prompts where keep; drawn on the CPU generator `gen`."""
    real = (mask & keep[:, None])[..., None].to(states.dtype)
    count = (mask.sum(1) * states.shape[2]).clamp(min=1)
    rms = (states.pow(2).sum((1, 2)) / count).sqrt()[:, None, None]
    noise = torch.randn(states.shape, generator=gen).to(states.device)
    states = states + sigma * rms * noise * real
    rms_p = pooled.pow(2).mean(1, keepdim=True).sqrt()
    noise = torch.randn(pooled.shape, generator=gen).to(pooled.device)
    return states, pooled + sigma * rms_p * noise * keep[:, None].to(pooled.dtype)
