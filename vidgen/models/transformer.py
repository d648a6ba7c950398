"""Diffusion transformer over spacetime patches (after DiT, with the video changes LTX/Wan make).

Latents (B, C, T, H, W) are cut into (1, p, p) patches: N = T * H/p * W/p tokens of width D.
Each block: adaLN-zero modulated self-attention over all video tokens with 3D rotary positions
and QK-norm, cross-attention to the text tokens, and an MLP. The modulation comes per token from
its own timestep (pinned frames carry t = 0) plus a clip vector: the pooled prompt and fps/size
micro-conditioning.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

PREDICTIONS = ("v", "x")
X_T_MIN = 0.05


def check_predict(predict: str) -> None:
    if predict not in PREDICTIONS:
        raise ValueError(f"predict must be one of {', '.join(PREDICTIONS)}, got {predict!r}")


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 16
    text_dim: int = 384
    width: int = 384
    depth: int = 8
    heads: int = 6
    patch: int = 4  # (1, 4, 4) latent patches: a 17-frame 128x128 clip is 5 x 4 x 4 = 80 tokens
    mlp_ratio: float = 4.0
    # what the last layer outputs: the velocity ("v"), or the clean latents ("x"), which forward
    # turns into the velocity (x_t - x0) / t, so samplers and the loss see v either way. Clean
    # latents lie near a low-dimensional set and noise does not: predicting x is what lets
    # JiT (Li & He, 2025, "Back to Basics: Let Denoising Generative Models Denoise") denoise
    # large patches at all. The velocity's 1 / t is capped at 1 / X_T_MIN, as JiT caps it.
    predict: str = "v"


DIT_PRESETS: dict[str, DiTConfig] = {
    "tiny": DiTConfig(latent_channels=8, width=32, depth=2, heads=2, patch=2),
    "default": DiTConfig(depth=8),  # 20 M parameters: 40 MB in bf16 beside the VAE
    # 7.5 M parameters at finer patches: 320 tokens for the default clip, each 16x16 pixels
    "small": DiTConfig(width=256, depth=6, heads=4, patch=2),
    "large": DiTConfig(width=768, depth=16, heads=12),  # for GPUs
    "xl": DiTConfig(width=1152, depth=28, heads=16),
}


class RMSNorm(nn.Module):
    def __init__(self, dim: int, affine: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.to(x.dtype)
        return F.rms_norm(x, (x.shape[-1],), w, 1e-6)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (any shape) -> (*t.shape, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = (t.float() * 1000)[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def rope_3d(t: int, h: int, w: int, head_dim: int, device=None) -> tuple[torch.Tensor, ...]:
    """cos, sin of shape (N, head_dim/2) for token positions (t, y, x), t-major order."""
    dt = head_dim // 4 // 2 * 2  # a quarter of the pairs for time, the rest split for y and x
    dy = (head_dim - dt) // 2 // 2 * 2
    dx = head_dim - dt - dy
    grids = torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij")
    parts = []
    for pos, d in zip(grids, (dt, dy, dx), strict=True):
        inv = 1.0 / (10_000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        parts.append(pos.reshape(-1, 1).float() * inv)  # (N, d/2)
    ang = torch.cat(parts, dim=-1).to(device)
    ang = torch.cat([ang, ang], dim=-1)  # (N, head_dim): pairs are (i, i + head_dim/2)
    return ang.cos(), ang.sin()


# Eager calls reuse the tables; torch.compile traces the plain function instead (it would skip
# the cache wrapper anyway, and warn that it did) and folds them into the graph as constants.
_rope_3d_cached = functools.lru_cache(maxsize=32)(rope_3d)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+d/2}) of x (B, heads, N, d) by the position angles."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Attention(nn.Module):
    """Multi-head attention with QK RMS-norm; rotary positions when given."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim or dim, 2 * dim)
        self.q_norm, self.k_norm = RMSNorm(self.head_dim), RMSNorm(self.head_dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, context=None, rope=None, mask=None) -> torch.Tensor:
        ctx = x if context is None else context
        # normalised while each head's d values are contiguous, then viewed as (B, heads, N, d)
        q = self.q_norm(rearrange(self.q(x), "b n (h d) -> b n h d", h=self.heads))
        k, v = rearrange(self.kv(ctx), "b m (two h d) -> two b m h d", two=2, h=self.heads)
        q, k, v = q.transpose(1, 2), self.k_norm(k).transpose(1, 2), v.transpose(1, 2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, M) bool
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out(rearrange(y, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """adaLN-zero: self-attention (3D RoPE), cross-attention to text, MLP."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.width
        self.norm1 = RMSNorm(d, affine=False)
        self.attn = Attention(d, cfg.heads)
        self.norm_x = RMSNorm(d)
        self.cross = Attention(d, cfg.heads, kv_dim=d)
        self.norm2 = RMSNorm(d, affine=False)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d)
        )
        self.table = nn.Parameter(torch.zeros(6, d))  # this block's offset to the shared mod

    def forward(self, x, mod, text, text_mask, rope) -> torch.Tensor:
        # mod: (B, N, 6, D) per-token shift/scale/gate for attention and MLP (shared by blocks)
        s1, sc1, g1, s2, sc2, g2 = (mod + self.table.to(mod.dtype)).unbind(dim=2)
        x = x + g1 * self.attn(torch.addcmul(s1, self.norm1(x), 1 + sc1), rope=rope)
        x = x + self.cross(self.norm_x(x), context=text, mask=text_mask)
        return x + g2 * self.mlp(torch.addcmul(s2, self.norm2(x), 1 + sc2))


class DiT(nn.Module):
    """Velocity model v(x_t, t, text) over video latents."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        check_predict(cfg.predict)
        self.cfg = cfg
        d, p, c = cfg.width, cfg.patch, cfg.latent_channels
        self.patch_in = nn.Linear(c * p * p, d)
        self.t_embed = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        self.micro = nn.Sequential(nn.Linear(3 * 64, d), nn.SiLU(), nn.Linear(d, d))
        self.text_in = nn.Linear(cfg.text_dim, d)
        self.pooled_in = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.ada = nn.Linear(d, 6 * d)  # computed once per forward, as PixArt and LTX do
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm_out = RMSNorm(d, affine=False)
        self.ada_out = nn.Linear(d, 2 * d)
        self.patch_out = nn.Linear(d, c * p * p)
        self.initialize()

    def initialize(self) -> None:
        """Xavier linears; adaLN and the output projection start at zero (identity blocks)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for b in self.blocks:
            nn.init.zeros_(b.cross.out.weight)
        for m in (self.ada, self.ada_out, self.patch_out):
            nn.init.zeros_(m.weight)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        pooled: torch.Tensor,
        fps: torch.Tensor,
    ) -> torch.Tensor:
        """x (B, C, T, H, W); t in [0, 1] per clip (B,), frame (B, T) or token (B, N);
        text (B, M, 384),
        text_mask (B, M) bool; pooled (B, 384); fps (B,). Returns the velocity, x's shape
        (with predict "x", worked out from the predicted clean latents)."""
        B, C, T, H, W = x.shape
        p = self.cfg.patch
        h, w = H // p, W // p
        tokens = rearrange(x, "b c t (h p) (w q) -> b (t h w) (c p q)", p=p, q=p)  # (B, N, C p p)
        z = self.patch_in(tokens.to(self.patch_in.weight.dtype))  # runs in the weights' dtype
        if t.dim() == 1:
            t = t[:, None].expand(B, T)
        if t.shape[1] == T:  # per latent frame -> per token
            t = t[:, :, None].expand(B, T, h * w).reshape(B, -1)
        t_tok = t  # (B, N)
        micro = torch.cat(
            [
                timestep_embedding(v / s, 64)
                for v, s in (
                    (fps, 60.0),
                    (torch.full_like(fps, float(H)), 256.0),
                    (torch.full_like(fps, float(W)), 256.0),
                )
            ],
            dim=-1,
        )
        clip = self.micro(micro.to(z.dtype)) + self.pooled_in(pooled.to(z.dtype))  # (B, D)
        c = self.t_embed(timestep_embedding(t_tok, 256).to(z.dtype)) + clip[:, None]  # (B, N, D)
        ctx = self.text_in(text.to(z.dtype))
        rope_fn = rope_3d if torch.compiler.is_compiling() else _rope_3d_cached
        cos, sin = rope_fn(T, h, w, self.cfg.width // self.cfg.heads, device=x.device)
        rope = (cos.to(z.dtype), sin.to(z.dtype))
        mod = rearrange(self.ada(F.silu(c)), "b n (six d) -> b n six d", six=6)
        for blk in self.blocks:
            z = blk(z, mod, ctx, text_mask, rope)
        shift, scale = self.ada_out(F.silu(c)).chunk(2, dim=-1)
        z = self.patch_out(self.norm_out(z) * (1 + scale) + shift)
        if self.cfg.predict == "x":  # z is x0: v = (x_t - x0) / t
            z = (tokens.to(z.dtype) - z) / t_tok.clamp(min=X_T_MIN)[..., None].to(z.dtype)
        return rearrange(z, "b (t h w) (c p q) -> b c t (h p) (w q)", t=T, h=h, w=w, p=p, q=p)
