"""One conditioning item serves image-to-video, extension and keyframes (after LTX-Video).

A `ConditioningItem` pins media (an image or a clip, uint8 (F, H, W, 3)) at a frame index with
a strength; the pipeline encodes it with the VAE and pins the latent frames it covers: those
tokens carry t = 0 and are never updated by the denoising loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ConditioningItem:
    media: np.ndarray  # uint8 (F, H, W, 3); an image is F = 1
    frame: int = 0  # output frame (at the model's native fps) where media starts
    strength: float = 1.0  # 1 pins exactly

    def validate(self, width: int, height: int, frames: int) -> None:
        if self.media.ndim != 4 or self.media.shape[-1] != 3 or self.media.dtype != np.uint8:
            raise ValueError("conditioning media must be uint8 (F, H, W, 3)")
        if self.media.shape[1:3] != (height, width):
            raise ValueError(
                f"conditioning media is {self.media.shape[2]}x{self.media.shape[1]}"
                f", the video is {width}x{height}"
            )
        if not 0 <= self.frame < frames:
            raise ValueError(f"conditioning frame must be in [0, {frames - 1}], got {self.frame}")
        if not 0.0 < self.strength <= 1.0:
            raise ValueError(f"conditioning strength must be in (0, 1], got {self.strength}")


def pin_latents(
    items: tuple[ConditioningItem, ...], encode, latent_shape: tuple[int, ...], time_factor: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, mask): latent values to pin and a (T,) bool mask of pinned latent frames.

    Only frame-0 images and clips starting at frame 0 pin exactly today (their latent frames are
    the clip's own); other placements come with keyframes.
    """
    C, T, H, W = latent_shape
    values = torch.zeros(1, C, T, H, W)
    mask = torch.zeros(T, dtype=torch.bool)
    for it in items:
        if it.frame != 0:
            raise ValueError(
                "conditioning at a frame other than 0 is not supported yet "
                "(keyframes come in a later issue)"
            )
        n = it.media.shape[0]
        n = 1 + (n - 1) // time_factor * time_factor  # whole latent frames only
        video = torch.from_numpy(it.media[:n]).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
        z = encode(video)  # (1, C, t, H, W)
        k = min(z.shape[2], T)
        values[:, :, :k] = z[:, :, :k]
        mask[:k] = True
    return values, mask
