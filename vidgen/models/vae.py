"""Causal video autoencoder: frame 0 alone, then groups of r frames, 8x smaller in space.

Shapes: video (B, 3, F, H, W) in [-1, 1] with F = 1 + r*k; latents (B, C, 1 + k, H/s, W/s).
The input is folded space-to-depth (p x p) and time-to-depth (r, after repeating frame 0 r-1
times, so latent frame 0 sees frame 0 alone). Every block mixes space within a frame and time
only backwards (a causal kernel of 3), and the norms are per position, so latent frame j never
depends on later frames. Decoding runs in time chunks with enough past context to be exact.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from vidgen.config import VAEConfig
from vidgen.precision import synchronize
from vidgen.training import checkpoint


class ChannelNorm(nn.Module):
    """RMS norm over channels at each (t, h, w): causal and batch-independent."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W)
        rms = x.float().pow(2).mean(1, keepdim=True).add(1e-6).rsqrt().to(x.dtype)
        return x * rms * self.scale.view(1, -1, 1, 1, 1).to(x.dtype)


class CausalTimeConv(nn.Module):
    """A (k, 1, 1) convolution over time that only looks back."""

    def __init__(self, dim: int, k: int = 3):
        super().__init__()
        self.k = k
        self.conv = nn.Conv3d(dim, dim, (k, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[:, :, :1].expand(-1, -1, self.k - 1, -1, -1), x], dim=2)
        return self.conv(x)


class SpatialConv(nn.Conv3d):
    """A (1, 3, 3) convolution, run as a 2D one over every frame (the same weights and output).

    Why not conv3d: on Intel AMX CPUs (torch 2.13, oneDNN) the bf16 conv3d weight gradient
    comes back NaN for some shapes (192 -> 96 channels at 32x32 with 1 or 2 frames: the
    decoder on image batches), which turned VAE training into NaN; conv2d's does not.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, H, W)
        B, _, T, H, W = x.shape
        frames = x.transpose(1, 2).reshape(B * T, -1, H, W)
        y = F.conv2d(frames, self.weight[:, :, 0], self.bias, self.stride[1:], self.padding[1:])
        return y.view(B, T, *y.shape[1:]).transpose(1, 2)


def spatial_conv(cin: int, cout: int, stride: int = 1) -> nn.Conv3d:
    return SpatialConv(cin, cout, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1))


class ResBlock(nn.Module):
    """norm -> SiLU -> 3x3 in space -> causal 3 in time -> norm -> SiLU -> 3x3, plus skip."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm1, self.norm2 = ChannelNorm(dim), ChannelNorm(dim)
        self.conv1, self.time, self.conv2 = (
            spatial_conv(dim, dim),
            CausalTimeConv(dim),
            (spatial_conv(dim, dim)),
        )
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.time(self.conv1(F.silu(self.norm1(x))))
        return x + self.conv2(F.silu(self.norm2(h)))


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        r, p, w = cfg.time_factor, cfg.patch, cfg.widths
        self.cfg = cfg
        self.conv_in = spatial_conv(3 * r * p * p, w[0])
        layers: list[nn.Module] = []
        for i, width in enumerate(w):
            if i:
                layers.append(spatial_conv(w[i - 1], width, stride=2))
            layers += [ResBlock(width) for _ in range(cfg.enc_blocks)]
        self.body = nn.Sequential(*layers)
        self.norm_out = ChannelNorm(w[-1])
        self.conv_out = spatial_conv(w[-1], 2 * cfg.latent_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r, p = self.cfg.time_factor, self.cfg.patch
        x = torch.cat([x[:, :, :1].expand(-1, -1, r - 1, -1, -1), x], dim=2)  # (B, 3, r(k+1), H, W)
        x = rearrange(x, "b c (t r) (h p) (w q) -> b (c r p q) t h w", r=r, p=p, q=p)
        return self.conv_out(F.silu(self.norm_out(self.body(self.conv_in(x)))))


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        r, p, w = cfg.time_factor, cfg.decoder_patch, cfg.decoder_widths
        self.cfg, self.patch = cfg, p
        self.conv_in = spatial_conv(cfg.latent_channels, w[0])
        layers: list[nn.Module] = []
        for i, width in enumerate(w):
            if i:
                layers += [
                    nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"),
                    spatial_conv(w[i - 1], width),
                ]
            layers += [ResBlock(width) for _ in range(cfg.dec_blocks)]
        self.body = nn.Sequential(*layers)
        self.norm_out = ChannelNorm(w[-1])
        self.conv_out = spatial_conv(w[-1], 3 * r * p * p)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        r, p = self.cfg.time_factor, self.patch
        x = self.conv_out(F.silu(self.norm_out(self.body(self.conv_in(z)))))
        x = rearrange(x, "b (c r p q) t h w -> b c (t r) (h p) (w q)", r=r, p=p, q=p)
        return x[:, :, r - 1 :]  # latent frame 0 decodes to frame 0 alone

    @property
    def time_context(self) -> int:
        """Latent frames of past that change an output frame: one per causal time conv."""
        return sum(isinstance(m, CausalTimeConv) for m in self.modules()) * 2


def noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian noise shaped like x, drawn on the generator's device (a seeded CPU generator
    gives the same draws whether the model runs on the CPU or a GPU), then moved to x's."""
    dev = x.device if generator is None else generator.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


class VideoVAE(nn.Module):
    """KL-regularised causal video autoencoder."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder, self.decoder = Encoder(cfg), Decoder(cfg)

    def check_shape(self, x: torch.Tensor) -> None:
        r, s = self.cfg.time_factor, self.cfg.space_factor
        _, c, f, h, w = x.shape
        if c != 3 or (f - 1) % r or h % s or w % s:
            raise ValueError(
                f"video must be (B, 3, 1 + {r}k, H, W) with H, W multiples of {s}; "
                f"got {tuple(x.shape)}"
            )

    def encode(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Video (B, 3, F, H, W) in [-1, 1] -> (latent, logvar), latent (B, C, 1+k, H/s, W/s)."""
        self.check_shape(x)
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        logvar = logvar.clamp(-20, 10)
        if sample:
            return mean + noise_like(mean, generator) * (0.5 * logvar).exp(), logvar
        return mean, logvar

    def decode(self, z: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """Latents -> video; with chunk > 0, decode that many latent frames at a time."""
        if chunk <= 0 or z.shape[2] <= chunk:
            return self.decoder(z)
        ctx, r = self.decoder.time_context, self.cfg.time_factor
        outs = []
        for start in range(0, z.shape[2], chunk):
            lo = max(0, start - ctx)
            x = self.decoder(z[:, :, lo : start + chunk])
            # frames of latent j >= 1 are x[:, :, 1 + r(j-1) : 1 + rj] relative to lo
            skip = 0 if start == 0 else 1 + r * (start - lo - 1)
            outs.append(x[:, :, skip:])
        return torch.cat(outs, dim=2)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """Reconstruction through a posterior sample, and the KL to N(0, 1) per element."""
        mean, logvar = self.encode(x)
        z = mean + noise_like(mean, generator) * (0.5 * logvar).exp()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        return self.decoder(z), kl


def psnr(mse: float) -> float:
    """PSNR of video in [-1, 1] (peak to peak 2) from its mean squared error."""
    return 10 * math.log10(4.0 / max(mse, 1e-12))


@torch.no_grad()
def roundtrip(vae: VideoVAE, x: torch.Tensor, bf16: bool) -> tuple[torch.Tensor, float, float]:
    """Encode x (B, 3, F, H, W) in [-1, 1] to its latent means and decode them in time chunks,
    on the VAE's device (autocast to bfloat16 if asked): the reconstruction (float32, clamped,
    on the CPU), and the seconds the encode and the decode took."""
    dev = next(vae.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        t0 = time.perf_counter()
        z, _ = vae.encode(x.to(dev))
        synchronize(dev)
        t1 = time.perf_counter()
        y = vae.decode(z, chunk=4).float().clamp(-1, 1)
        synchronize(dev)
    return y.cpu(), t1 - t0, time.perf_counter() - t1


def widen_latents(model: VideoVAE, init: VideoVAE) -> None:
    """Load `init`, which has fewer latent channels, into `model` so it decodes the same videos.

    The old channels keep their weights; the new ones start from the model's own random encoder
    rows and from zero decoder columns, so training starts at init's reconstructions and the
    new channels take on what they can add.
    """
    c, n = init.cfg.latent_channels, model.cfg.latent_channels
    if dataclasses.replace(init.cfg, latent_channels=n) != model.cfg or c > n:
        raise ValueError(
            f"init: a VAE with {c} latent channels and otherwise the same config is needed "
            f"to widen to {n}"
        )
    own = model.state_dict()
    for k, v in init.state_dict().items():
        if k.startswith("encoder.conv_out."):  # mean rows, then logvar rows
            own[k][:c], own[k][n : n + c] = v[:c], v[c:]
        elif k == "decoder.conv_in.weight":  # (out, in, 1, 3, 3): new inputs read nothing yet
            own[k].zero_()
            own[k][:, :c] = v
        else:
            own[k] = v
    model.load_state_dict(own)


def vae_meta(cfg: VAEConfig) -> dict:
    """What a VAE weights file says about itself, so it loads without knowing its preset."""
    widths = {"widths": list(cfg.widths), "dec_widths": list(cfg.dec_widths)}
    return {"kind": "vae", "vae_config": {**dataclasses.asdict(cfg), **widths}}


def latent_stat(v: float | list) -> float | torch.Tensor:
    """A latent mean or scale from weights metadata: one number, or one per channel, shaped
    (C, 1, 1, 1) to broadcast over (B, C, T, H, W)."""
    return float(v) if isinstance(v, int | float) else torch.tensor(v).view(-1, 1, 1, 1)


def load_vae(path: str | Path) -> VideoVAE:
    """Autoencoder weights written by `vidgen train vae` or `vidgen export`, frozen, float32."""
    tensors, meta = checkpoint.load(path)
    if meta.get("kind") != "vae":
        raise ValueError(f"{path} holds {meta.get('kind')!r} weights, not a VAE")
    vcfg = meta["vae_config"]
    widths = {k: tuple(vcfg.get(k, ())) for k in ("widths", "dec_widths")}
    vae = VideoVAE(VAEConfig(**{**vcfg, **widths}))
    vae.load_state_dict({k: v.float() for k, v in tensors.items()})
    return vae.eval().requires_grad_(False)
