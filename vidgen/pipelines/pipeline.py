"""The one path every request takes, and the one denoising loop every task shares.

request -> validate -> text -> conditioning -> initial latents -> denoise()
        -> VAE decode (chunked) -> frame interpolation -> uint8 frames + recipe
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidgen import __version__
from vidgen import precision as precisions
from vidgen.diffusion import flow
from vidgen.diffusion.guidance import cfg as guided
from vidgen.diffusion.samplers import SAMPLERS
from vidgen.models.text_encoder import TextEncoder
from vidgen.models.transformer import DiT, DiTConfig
from vidgen.models.vae import VideoVAE, latent_stat, load_vae, vae_meta
from vidgen.pipelines.conditioning import pin_latents
from vidgen.pipelines.spec import MODELS_DIR, ModelSpec, Request, weight_paths
from vidgen.training import checkpoint

__all__ = ["MODELS_DIR", "Engine", "Request", "Result", "save_model"]


@dataclass
class Result:
    frames: np.ndarray  # uint8 (F, H, W, 3) at `fps`
    fps: float
    recipe: dict
    stages: dict[str, float]  # seconds per stage: text, denoise, decode, interpolate


def save_model(
    path: str | Path, vae: VideoVAE, dit: DiT, meta: dict, dtype: torch.dtype = torch.bfloat16
) -> None:
    """Write a model directory: vae.safetensors and dit.safetensors, each self-describing."""
    path = Path(path)
    checkpoint.save(
        path / "vae.safetensors",
        {k: v.to(dtype) for k, v in vae.state_dict().items()},
        vae_meta(vae.cfg),
    )
    checkpoint.save(
        path / "dit.safetensors",
        {k: v.to(dtype) for k, v in dit.state_dict().items()},
        {**meta, "kind": "dit", "dit_config": asdict(dit.cfg)},
    )


def compile_for_inference(module: nn.Module):
    """torch.compile with Inductor's freezing: the weights become constants, prepacked for
    oneDNN's matmuls (the default transformer's forward: 27 -> 20 ms on one core). It only
    applies to graphs compiled without grad, so training compiles are untouched."""
    import torch._inductor.config

    torch._inductor.config.freezing = True  # `options=` does not reach it (measured: no gain)
    return torch.compile(module)


class Engine:
    """A loaded model: VAE + DiT + text encoder, and what the weights say about themselves."""

    def __init__(
        self,
        vae: VideoVAE,
        dit: DiT,
        meta: dict,
        name: str = "custom",
        weights_hash: str = "",
        dtype: torch.dtype = torch.float32,
        compile: bool = False,
        device: torch.device | str = "cpu",
    ):
        self.device = torch.device(device)
        # the DiT runs in dtype; the VAE keeps float32 weights and autocasts
        self.vae, self.dit = vae.eval().to(self.device), dit.eval().to(self.device, dtype)
        self.forward = compile_for_inference(self.dit) if compile else self.dit
        self.meta, self.name, self.weights_hash, self.dtype = meta, name, weights_hash, dtype
        self.text = TextEncoder()
        scale, mean = (
            latent_stat(meta.get(k, d)) for k, d in (("latent_scale", 1), ("latent_mean", 0))
        )
        # one number, or a tensor per channel (on the device)
        self.latent_scale, self.latent_mean = (
            v.to(self.device) if torch.is_tensor(v) else v for v in (scale, mean)
        )
        self.shift = float(meta.get("shift", 1.0))  # the timestep shift it was trained with
        self.spec = ModelSpec.from_meta(name, vae_meta(vae.cfg)["vae_config"], meta)

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        model: str = "default",
        precision: str = "float32",
        compile: bool = False,
        device: torch.device | str = "cpu",
    ) -> Engine:
        """A model by name (models/NAME/) or by path to a directory with vae and dit weights.
        precision float32, bfloat16 or auto (bfloat16 where the device computes it natively);
        device cpu, cuda[:N] or auto (the first GPU torch sees, else the CPU)."""
        dev = precisions.device(device) if isinstance(device, str) else torch.device(device)
        dtype = precisions.resolve(precision, dev)
        vae_path, dit_path = weight_paths(model)
        vae = load_vae(vae_path)
        dit_t, dit_meta = checkpoint.load(dit_path)
        dit = DiT(DiTConfig(**dit_meta["dit_config"]))
        dit.load_state_dict({k: v.float() for k, v in dit_t.items()})
        h = checkpoint.file_hash(dit_path)[:8] + checkpoint.file_hash(vae_path)[:8]
        return cls(
            vae, dit, dit_meta, name=model, weights_hash=h, dtype=dtype, compile=compile,
            device=dev,
        )  # fmt: skip

    # --- validation ---------------------------------------------------------------------------

    def frames_for(self, seconds: float) -> int:
        return self.spec.frames_for(seconds)

    def validate(self, req: Request) -> None:
        """Refuse what this model cannot make, naming the field and the allowed range."""
        self.spec.validate(req)

    # --- the one loop -------------------------------------------------------------------------

    def denoise(
        self,
        x: torch.Tensor,
        ts: torch.Tensor,
        cond: dict,
        uncond: dict,
        guidance: float,
        pinned: torch.Tensor,
        pinned_values: torch.Tensor,
        sampler: str = "euler",
        callback=None,
    ) -> torch.Tensor:
        """Every task's loop: pinned latent frames carry t = 0 and are never updated."""
        x, ts, pinned = x.to(self.device), ts.to(self.device), pinned.to(self.device)
        pinned_values = pinned_values.to(self.device)
        x = torch.where(pinned.view(1, 1, -1, 1, 1), pinned_values, x)

        def velocity(z, t, **kw):
            t_frames = torch.where(pinned, 0.0, t.float()).expand(z.shape[0], -1)
            kw = {
                k: v.to(self.dtype) if v.is_floating_point() and k != "fps" else v
                for k, v in kw.items()
            }
            v = self.forward(z.to(self.dtype), t_frames, **kw).float()
            return v.masked_fill(pinned.view(1, 1, -1, 1, 1), 0.0)

        model = guided(velocity, cond, uncond, guidance)
        return SAMPLERS[sampler](model, x, ts, callback=callback)

    def conditions(self, prompt: str, negative: str = "") -> tuple[dict, dict]:
        """The transformer's text and fps inputs for the prompt and for the negative prompt."""
        s, m, p = (v.to(self.device) for v in self.text.encode([prompt, negative]))
        fps = torch.tensor([self.spec.native_fps], device=self.device)
        cond = {"text": s[:1], "text_mask": m[:1], "pooled": p[:1], "fps": fps}
        uncond = {"text": s[1:], "text_mask": m[1:], "pooled": p[1:], "fps": fps}
        return cond, uncond

    def schedule(self, steps: int, latent_shape: tuple[int, ...]) -> torch.Tensor:
        """Times from noise to data for latents (C, T, H, W), shifted for their size."""
        _, T, H, W = latent_shape
        return flow.schedule(steps, flow.shift_for(T * H * W, self.shift))

    # --- a request ----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, req: Request, progress=None) -> Result:
        """Make the video a request asks for.

        `progress(step, total, preview)` is called after every step; `preview()` decodes the
        current estimate of the first frame to uint8 (H, W, 3).
        """
        self.validate(req)
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(req.seed)
        # 1. text
        cond, uncond = self.conditions(req.prompt, req.negative)
        stages["text"] = time.perf_counter() - t0
        # 2. conditioning and initial latents
        frames = self.frames_for(req.seconds)
        r, sf = self.vae.cfg.time_factor, self.vae.cfg.space_factor
        shape = (
            self.vae.cfg.latent_channels,
            1 + (frames - 1) // r,
            req.height // sf,
            req.width // sf,
        )
        pinned_values, pinned = pin_latents(req.conditioning, self.encode, shape, r)
        x = torch.randn((1, *shape), generator=gen)  # drawn on the CPU: the same on any device
        # 3. denoise
        t1 = time.perf_counter()
        ts = self.schedule(req.steps, shape)

        def step_cb(i, _x, x0):
            if progress is not None:  # the preview is decoded only if the caller asks for it
                progress(i + 1, req.steps, lambda: self.decode(x0[:, :, :1])[0])

        z = self.denoise(
            x, ts, cond, uncond, req.guidance, pinned, pinned_values, req.sampler, step_cb
        )
        precisions.synchronize(self.device)  # time the stage, not its launch
        stages["denoise"] = time.perf_counter() - t1
        # 4. decode
        t2 = time.perf_counter()
        video = self.decode(z)
        stages["decode"] = time.perf_counter() - t2
        # 5. post: reach the asked frame rate and duration
        t3 = time.perf_counter()
        from vidgen.post.interpolate import retime

        out = retime(video, self.spec.native_fps, req.fps, req.seconds)
        stages["interpolate"] = time.perf_counter() - t3
        return Result(out, req.fps, self.recipe(req), stages)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        z, _ = self.vae.encode(video.to(self.device))
        return (z - self.latent_mean) / self.latent_scale

    def decode(self, z: torch.Tensor) -> np.ndarray:
        """Latents (1, C, T, h, w) -> uint8 (F, H, W, 3), in time chunks."""
        bf16 = self.dtype == torch.bfloat16
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            x = self.vae.decode(z * self.latent_scale + self.latent_mean, chunk=8).float()
        x = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.permute(1, 2, 3, 0).cpu().numpy()

    def recipe(self, req: Request) -> dict:
        """Everything needed to make this video again."""
        params = {k: v for k, v in asdict(req).items() if k != "conditioning"}
        return {
            **params,
            "model": self.name,
            "weights": self.weights_hash,
            "precision": str(self.dtype).removeprefix("torch."),  # bfloat16 frames differ a little
            "device": self.device.type,  # so do a GPU's
            "native_fps": self.spec.native_fps,
            "vidgen": __version__,
            "conditioning": [
                {"frame": c.frame, "strength": c.strength, "frames": int(c.media.shape[0])}
                for c in req.conditioning
            ],
        }
