"""Frame-rate conversion by optical-flow interpolation (OpenCV Farneback), for the model's
native rate to the asked one. Written here rather than taken from a library: the maintained
interpolators (RIFE, FILM) need downloaded weights, which vidgen never fetches."""

from __future__ import annotations

import math

import cv2
import numpy as np


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    return cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 9, 3, 5, 1.1, 0)


def between(a: np.ndarray, b: np.ndarray, alpha: float, flow: np.ndarray | None = None):
    """The frame a fraction alpha of the way from a to b (uint8 (H, W, 3))."""
    if alpha <= 0:
        return a
    if alpha >= 1:
        return b
    f = _flow(a, b) if flow is None else flow
    h, w = a.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    wa = cv2.remap(
        a,
        gx - alpha * f[..., 0],
        gy - alpha * f[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    wb = cv2.remap(
        b,
        gx + (1 - alpha) * f[..., 0],
        gy + (1 - alpha) * f[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return cv2.addWeighted(wa, 1 - alpha, wb, alpha, 0)


def retime(video: np.ndarray, src_fps: float, dst_fps: float, seconds: float) -> np.ndarray:
    """Resample uint8 (F, H, W, 3) frames at src_fps into frames at dst_fps covering
    `seconds` (both ends included), interpolating along optical flow."""
    n_out = int(math.floor(seconds * dst_fps + 1e-6)) + 1
    last = len(video) - 1
    out, flows = [], {}
    for i in range(n_out):
        pos = min(i / dst_fps * src_fps, last)
        j = min(int(math.floor(pos + 1e-6)), last)
        alpha = pos - j
        if alpha < 1e-3 or j == last:
            out.append(video[j])
            continue
        if j not in flows:
            flows[j] = _flow(video[j], video[j + 1])
        out.append(between(video[j], video[j + 1], alpha, flows[j]))
    return np.stack(out)
