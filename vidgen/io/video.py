"""MP4 (H.264) reading and writing through PyAV."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_mp4(
    path: str | Path, frames: np.ndarray, fps: float, crf: int = 18, metadata: dict | None = None
) -> None:
    """Write uint8 frames (F, H, W, 3) as H.264 yuv420p; atomically (temp file, then rename)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(tmp), mode="w", format="mp4") as box:
        for k, v in (metadata or {}).items():
            box.metadata[k] = v if isinstance(v, str) else json.dumps(v)
        stream = box.add_stream("libx264", rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    os.replace(tmp, path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The container's metadata tags."""
    with av.open(str(path)) as box:
        return dict(box.metadata)


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode a video file to uint8 frames (F, H, W, 3) and its frame rate."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        with av.open(str(path)) as box:
            stream = box.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 24.0
            frames = [f.to_ndarray(format="rgb24") for f in box.decode(stream)]
    except (av.error.FFmpegError, IndexError) as e:
        raise ValueError(f"cannot read video {path}: {e}") from e
    if not frames:
        raise ValueError(f"cannot read video {path}: no frames")
    return np.stack(frames), fps
