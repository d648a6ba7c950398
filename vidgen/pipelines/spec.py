"""What a request asks for and what a model can make: no torch, so the server can check both.

`ModelSpec.read(dir)` reads a model directory's safetensors headers (not the tensors);
`ModelSpec.validate(request)` refuses what the model cannot make, naming the field and the
allowed range. The engine runs the same checks before it generates.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
SAMPLER_NAMES = ("euler", "heun")
MAX_SIDE = 1024


@dataclass(frozen=True)
class Request:
    prompt: str
    negative: str = ""
    seconds: float = 2.0
    fps: float = 24.0  # output frame rate; the model makes its native rate, then interpolates
    width: int = 128
    height: int = 128
    seed: int = 0
    steps: int = 20
    guidance: float = 4.0
    sampler: str = "euler"
    conditioning: tuple = field(default=(), repr=False)  # ConditioningItem, ...


def read_header_meta(path: str | Path) -> dict:
    """The `vidgen` JSON a safetensors file carries in its header, without loading tensors."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path}: not a safetensors file")
        header = json.loads(f.read(n))
    return json.loads(header.get("__metadata__", {}).get("vidgen", "{}"))


def weight_paths(model: str) -> tuple[Path, Path]:
    """(vae, dit) weight files of a model by name (models/NAME/) or by directory path."""
    path = Path(model)
    path = path if path.is_dir() else MODELS_DIR / model
    vae_path, dit_path = path / "vae.safetensors", path / "dit.safetensors"
    if not (vae_path.is_file() and dit_path.is_file()):
        raise FileNotFoundError(
            f"model {model!r}: no vae.safetensors and dit.safetensors in {path}"
        )
    return vae_path, dit_path


@dataclass(frozen=True)
class ModelSpec:
    name: str
    size_multiple: int  # VAE space factor x DiT patch
    window: int  # frames one pass makes at the native rate
    native_fps: float
    time_factor: int

    @classmethod
    def read(cls, model: str) -> ModelSpec:
        vae_path, dit_path = weight_paths(model)
        vae, dit = read_header_meta(vae_path), read_header_meta(dit_path)
        return cls.from_meta(model, vae["vae_config"], dit)

    @classmethod
    def from_meta(cls, name: str, vae_config: dict, dit_meta: dict) -> ModelSpec:
        space = int(vae_config["patch"]) * 2 ** (len(vae_config["widths"]) - 1)
        return cls(
            name=name,
            size_multiple=space * int(dit_meta["dit_config"]["patch"]),
            window=int(dit_meta.get("frames", 17)),
            native_fps=float(dit_meta.get("fps", 8.0)),
            time_factor=int(vae_config["time_factor"]),
        )

    @property
    def max_seconds(self) -> float:
        return (self.window - 1) / self.native_fps

    def frames_for(self, seconds: float) -> int:
        """Native frames for a duration: 1 + r*k covering `seconds`."""
        r = self.time_factor
        k = max(1, math.ceil(seconds * self.native_fps / r - 1e-9))
        return 1 + r * k

    def validate(self, req: Request) -> None:
        """Refuse what this model cannot make, naming the field and the allowed range."""
        m = self.size_multiple
        for name, v in (("width", req.width), ("height", req.height)):
            if not isinstance(v, int) or v < m or v > MAX_SIDE or v % m:
                lo, hi = max(m, v // m * m), max(m, -(-v // m) * m)
                raise ValueError(
                    f"{name} must be a multiple of {m} from {m} to {MAX_SIDE}, got {v} "
                    f"(nearest valid: {lo} or {hi})"
                )
        if not 0 < req.seconds <= self.max_seconds + 1e-9:
            raise ValueError(
                f"seconds must be in (0, {self.max_seconds:g}] for one window of this model, "
                f"got {req.seconds} (longer videos come with clip extension)"
            )
        if not 1 <= req.fps <= 60:
            raise ValueError(f"fps must be in [1, 60], got {req.fps}")
        if not isinstance(req.steps, int) or not 1 <= req.steps <= 200:
            raise ValueError(f"steps must be an integer in [1, 200], got {req.steps}")
        if not 0 <= req.guidance <= 30:
            raise ValueError(f"guidance must be in [0, 30], got {req.guidance}")
        if req.sampler not in SAMPLER_NAMES:
            raise ValueError(
                f"sampler must be one of {', '.join(SAMPLER_NAMES)}, got {req.sampler!r}"
            )
        if not isinstance(req.seed, int) or not 0 <= req.seed < 2**63:
            raise ValueError(f"seed must be an integer in [0, 2^63), got {req.seed}")
        if not req.prompt.strip():
            raise ValueError("prompt must not be empty")
        if len(req.prompt) > 2000 or len(req.negative) > 2000:
            raise ValueError("prompt and negative must be at most 2000 characters")
        for item in req.conditioning:
            item.validate(req.width, req.height, self.frames_for(req.seconds))
