"""Invisible watermark: a tiled spread-spectrum pattern in the frames, flipping sign in time.

Embedding adds one TILE x TILE pattern, tiled over every frame from the top-left corner, to R,
G and B alike (a luma change), multiplied by a square wave in time (+1 then -1, PERIOD seconds
per cycle). The tile is a pilot pattern plus one pattern per coded bit, signed by the bit; the
coded bits are the payload under a rate-1/2 convolutional code. The patterns are band-limited
noise (wavelengths of 16 to 64 pixels, which H.264 keeps) drawn from a fixed key, then made
orthonormal.

Detection correlates luma with the square wave in time, both high-passed in time (which drops
static picture content and slow motion; two quadrature references recover any start offset
and survive frame dropping or duplication, since they follow timestamps), weighting each pixel
by the inverse of its remaining power. For each candidate scale it resizes back to the
embedding scale, removes the local mean, folds the image into one tile, and correlates it with
every pattern at every offset (FFT); the summed squared correlations of all patterns locate the
mark (scale and crop offset) far more surely than the pilot alone, whose share of the energy is
a fifth. At the best few locations the soft bits (projected on the temporal phase, the pilot
fixing their sign) go through a Viterbi decoder; their agreement with the decoded codeword
decides `found` and the confidence.

Written by hand: see the commit that added it for what the maintained libraries measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d

TILE = 128  # pixels at the embedding scale
BITS = 32  # payload bits: a 16-bit installation id and a 16-bit video id
KEY = 0x76696467  # fixed seed for the patterns ("vidg")
BAND = (2.0, 8.0)  # radial band in cycles per tile (wavelengths 16 to 64 pixels)
PERIOD = 0.25  # seconds per +1/-1 cycle of the temporal square wave
PILOT_SHARE = 0.2  # fraction of the mark's energy in the pilot
STRENGTH = 2.45  # RMS of the luma change, in 8-bit levels (about 40.2 dB PSNR)
THRESHOLD = 1.2  # mean agreement of soft bits with the decoded codeword for `found`
LOCAL_MEAN = 16.0  # blur sigma (pixels) of the local mean removed before correlating
CANDIDATES = 4  # coarse peaks refined and decoded before choosing one
SCALES = np.exp(np.linspace(np.log(0.4), np.log(2.2), 90))  # candidate scales, coarse
LUMA = np.array([0.299, 0.587, 0.114], np.float32)

# --- a rate-1/2, constraint-length-7 convolutional code (generators 171, 133 octal) -----------

_K = 7
_GENS = (0o171, 0o133)
CODED = 2 * (BITS + _K - 1)  # coded bits, with the zero tail


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    for s in (4, 2, 1):
        x ^= x >> s
    return x & 1


_STATES = np.arange(2 ** (_K - 1))
# output bits for (state, input): register = input << 6 | state
_OUT = np.stack(
    [np.stack([_parity(((b << (_K - 1)) | _STATES) & g) for g in _GENS], axis=-1) for b in (0, 1)],
    axis=1,
)  # (64 states, 2 inputs, 2 outputs)
_NEXT = np.stack([((b << (_K - 1)) | _STATES) >> 1 for b in (0, 1)], axis=1)  # (64, 2)


def encode_bits(bits: np.ndarray) -> np.ndarray:
    """Convolutional code: (BITS,) 0/1 -> (CODED,) 0/1, terminated with a zero tail."""
    state, out = 0, []
    for b in np.concatenate([bits, np.zeros(_K - 1, np.int64)]):
        out.extend(_OUT[state, b])
        state = _NEXT[state, b]
    return np.array(out, np.int64)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision decode (CODED,) values (positive for 1) -> (BITS,) 0/1."""
    n = len(_STATES)
    b = _STATES >> (_K - 2)  # the input that leads into each state
    p0 = 2 * (_STATES & (n // 2 - 1))  # its two possible previous states: p0 and p0 + 1
    signs = 2.0 * _OUT - 1.0  # (64, 2 inputs, 2 outputs)
    metric = np.full(n, -np.inf)
    metric[0] = 0.0
    back = []
    for s in soft.reshape(-1, 2):
        gain = metric[:, None] + signs @ s  # (64 previous states, 2 inputs)
        g0, g1 = gain[p0, b], gain[p0 + 1, b]
        back.append(np.where(g1 > g0, p0 + 1, p0))
        metric = np.maximum(g0, g1)
    state, bits = 0, []
    for prev in reversed(back):
        bits.append(state >> (_K - 2))
        state = prev[state]
    return np.array(bits[::-1][:BITS], np.int64)


# --- patterns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    found: bool
    payload: int | None  # BITS-bit integer, when found
    confidence: float  # 0..1, from the score
    score: float  # mean agreement of the soft bits with the decoded codeword
    scale: float  # attacked size / embedding size
    soft: np.ndarray  # soft coded-bit values (CODED,), positive for 1


def _band_mask() -> np.ndarray:
    f = np.fft.fftfreq(TILE) * TILE
    r = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    return (r >= BAND[0]) & (r <= BAND[1])


def _patterns() -> np.ndarray:
    """Pilot then CODED patterns: (1 + CODED, TILE, TILE) float, unit RMS, band-limited."""
    rng = np.random.default_rng(KEY)
    phase = rng.uniform(0, 2 * np.pi, (1 + CODED, TILE, TILE))
    p = np.fft.ifft2(np.where(_band_mask(), np.exp(1j * phase), 0)).real
    # orthonormalise: random patterns overlap by about 1/sqrt(band size) each, and the sum of
    # that crosstalk from every other bit capped the soft bits' SNR near 2 on clean frames
    q, _ = np.linalg.qr(p.reshape(len(p), -1).T)  # combinations of band-limited patterns
    return (q.T * TILE).reshape(p.shape)  # unit RMS


_PATTERNS = _patterns()
_SPECTRA = np.conj(np.fft.fft2(_PATTERNS))  # (1 + CODED, TILE, TILE)


def to_bits(payload: int) -> np.ndarray:
    """Payload integer -> (BITS,) array of 0/1, most significant first."""
    if not isinstance(payload, int) or not 0 <= payload < 2**BITS:
        raise ValueError(f"payload must be an integer in [0, 2^{BITS}), got {payload!r}")
    return np.array([(payload >> (BITS - 1 - i)) & 1 for i in range(BITS)], dtype=np.int64)


def from_bits(bits: np.ndarray) -> int:
    return int("".join(str(int(b)) for b in bits), 2)


def tile(payload: int) -> np.ndarray:
    """The (TILE, TILE) luma pattern for a payload, RMS STRENGTH."""
    signs = 2.0 * encode_bits(to_bits(payload)) - 1.0
    data = np.tensordot(signs, _PATTERNS[1:], axes=1) / np.sqrt(CODED)
    t = np.sqrt(PILOT_SHARE) * _PATTERNS[0] + np.sqrt(1 - PILOT_SHARE) * data
    return STRENGTH * t / t.std()


def _wave(n: int, fps: float, phase: float = 0.0) -> np.ndarray:
    """The square wave at each frame's timestamp, (n,) of +1/-1."""
    t = np.arange(n) / fps
    # 0.3 rad keeps frame times off the zero crossings at common frame rates (4, 8, 24, 48 fps)
    return np.where(np.sin(2 * np.pi * t / PERIOD + 0.3 + phase) >= 0, 1.0, -1.0)


def embed(frames: np.ndarray, fps: float, payload: int) -> np.ndarray:
    """Mark uint8 frames (F, H, W, 3) at `fps` with a payload; returns new uint8 frames."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    h, w = frames.shape[1:3]
    pattern = np.tile(tile(payload), (-(-h // TILE), -(-w // TILE)))[:h, :w].astype(np.float32)
    out = np.empty_like(frames)
    for i, (f, s) in enumerate(zip(frames, _wave(len(frames), fps), strict=True)):
        out[i] = np.clip(np.rint(f + s * pattern[:, :, None]), 0, 255)
    return out


# --- detection --------------------------------------------------------------------------------


def _temporal(frames: np.ndarray, fps: float) -> np.ndarray:
    """Luma correlated with the square wave at two quadrature phases: (2, H, W).

    Both are high-passed in time first (a moving average over about 0.2 s removed), which drops
    static content and most slow motion, and each pixel is divided by its local power left
    after that, so busy, fast-moving regions weigh less than the calm ones the mark shows in.
    """
    k = max(1, round(0.1 * fps))  # half-width of the moving average, in frames
    luma = np.stack([f.astype(np.float32) @ LUMA for f in frames])  # (F, H, W)
    luma -= uniform_filter1d(luma, 2 * k + 1, axis=0, mode="nearest")
    refs = np.stack([_wave(len(frames), fps), _wave(len(frames), fps, np.pi / 2)])  # (2, F)
    refs -= uniform_filter1d(refs, 2 * k + 1, axis=1, mode="nearest")
    power = cv2.GaussianBlur(np.mean(luma * luma, axis=0), (0, 0), 4)
    return np.tensordot(refs, luma, axes=1) / (power + 0.3 * power.mean() + 1e-3)


def _normalise(img: np.ndarray) -> np.ndarray:
    """Remove the local mean and divide by the local contrast (edges weigh less)."""
    r = img - cv2.GaussianBlur(img, (0, 0), LOCAL_MEAN)
    var = cv2.GaussianBlur(r * r, (0, 0), 6)
    return r / np.sqrt(var + 0.1 * var.mean() + 1e-6)


def _fold(img: np.ndarray) -> np.ndarray:
    """Sum an image's TILE x TILE tiles into one tile (partial tiles zero-padded)."""
    h, w = img.shape
    ph, pw = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    padded = np.zeros((ph, pw), np.float32)
    padded[:h, :w] = img
    return padded.reshape(ph // TILE, TILE, pw // TILE, TILE).sum(axis=(0, 2))


def _spectra(quad: np.ndarray, scale: float) -> np.ndarray:
    """Folded, normalised tile spectra of both quadrature images after undoing `scale`."""
    h, w = quad.shape[1:]
    size = (max(16, round(w / scale)), max(16, round(h / scale)))
    interp = cv2.INTER_LINEAR if scale < 1 else cv2.INTER_AREA
    return np.stack(
        [np.fft.fft2(_fold(_normalise(cv2.resize(q, size, interpolation=interp)))) for q in quad]
    )  # (2, TILE, TILE)


_IN_BAND = _band_mask()
_KY, _KX = (
    g[_IN_BAND].astype(int) for g in np.meshgrid(*[np.fft.fftfreq(TILE) * TILE] * 2, indexing="ij")
)
_CONJ = _SPECTRA[:, _IN_BAND]  # (1 + CODED, in-band bins): every pattern's conjugate spectrum
COARSE = 32  # grid of the coarse offset scan: TILE / COARSE pixels a step (the band fits it)
STEP = TILE // COARSE


def _coarse(spec: np.ndarray) -> np.ndarray:
    """Every pattern's correlation on a COARSE x COARSE grid of offsets: (2, 1 + CODED, C, C).

    The patterns hold no frequency above BAND[1] < COARSE / 2, so the grid values equal the
    full-resolution correlation at every (TILE / COARSE)-th offset.
    """
    small = np.zeros((2, 1 + CODED, COARSE, COARSE), complex)
    small[:, :, _KY % COARSE, _KX % COARSE] = spec[:, None, _IN_BAND] * _CONJ[None]
    return np.fft.ifft2(small).real * (COARSE / TILE) ** 2


def _at(spec: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Every pattern's correlation at the given offsets (n,): (2, 1 + CODED, n)."""
    ramp = np.exp(2j * np.pi * (np.outer(dy, _KY) + np.outer(dx, _KX)) / TILE)  # (n, bins)
    return np.einsum("qk,pk,nk->qpn", spec[:, _IN_BAND], _CONJ, ramp).real / TILE**2


def _energy(surfaces: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The mark's energy at each offset: squared correlations over all patterns and phases."""
    return ((surfaces / noise[None, :, None]) ** 2).reshape(-1, surfaces.shape[-1]).sum(axis=0)


def _scan(quad: np.ndarray) -> list[tuple[float, float, int, int]]:
    """Coarse search: (z-score of the energy peak, scale, dy, dx) at every candidate scale."""
    out = []
    for s in SCALES:
        surfaces = _coarse(_spectra(quad, s))
        noise = surfaces.std(axis=(0, 2, 3)) + 1e-12
        e = _energy(surfaces.reshape(2, 1 + CODED, -1), noise)
        i = int(np.argmax(e))
        dy, dx = divmod(i, COARSE)
        out.append((float((e[i] - e.mean()) / (e.std() + 1e-12)), s, dy * STEP, dx * STEP))
    return out


def _refine(quad: np.ndarray, scale: float, dy: int, dx: int) -> tuple[float, np.ndarray]:
    """Near a coarse candidate, the (scale, correlations (2, 1 + CODED)) of most energy."""
    oy, ox = (g.ravel() for g in np.mgrid[-STEP : STEP + 1, -STEP : STEP + 1])
    best = None
    for f in scale * np.linspace(1 / 1.012, 1.012, 5):
        spec = _spectra(quad, f)
        noise = _coarse(spec).std(axis=(0, 2, 3)) + 1e-12
        surfaces = _at(spec, dy + oy, dx + ox)
        e = _energy(surfaces, noise)
        i = int(np.argmax(e))
        if best is None or e[i] > best[0]:
            best = (e[i], f, surfaces[:, :, i] / noise)
    return best[1], best[2]


def _project(c: np.ndarray) -> np.ndarray:
    """Soft values from the two quadrature correlations (2, 1 + CODED): along their common
    direction (the temporal phase), signed so that the pilot reads positive."""
    a, b = c
    angle = 0.5 * np.arctan2(2 * np.sum(a * b), np.sum(a * a - b * b))
    soft = np.cos(angle) * a + np.sin(angle) * b
    return soft if soft[0] >= 0 else -soft


def detect(frames: np.ndarray, fps: float) -> Detection:
    """Search scales, offsets and time phase for the mark in uint8 frames (F, H, W, 3)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (F, H, W, 3), got {frames.shape}")
    if len(frames) < 2:
        return Detection(False, None, 0.0, 0.0, 1.0, np.zeros(CODED))
    quad = _temporal(frames, fps)
    # 1. coarse scan of every scale, then refine the scale and offset of the strongest few;
    # the energy of all patterns together locates the mark better than the pilot alone can
    coarse = []
    for z, s, dy, dx in sorted(_scan(quad), reverse=True):
        if all(abs(np.log(s / c[1])) > 0.05 for c in coarse):  # one candidate per scale peak
            coarse.append((z, s, dy, dx))
    best = None
    for _, s, dy, dx in coarse[:CANDIDATES]:
        f, c = _refine(quad, s, dy, dx)
        soft = _project(c)[1:]
        bits = viterbi(soft)
        agreement = float(np.mean(soft * (2.0 * encode_bits(bits) - 1.0)))
        if best is None or agreement > best[0]:
            best = (agreement, f, soft, bits)
    agreement, scale, soft, bits = best
    found = agreement >= THRESHOLD
    confidence = float(1 / (1 + np.exp(-12 * (agreement - THRESHOLD))))
    return Detection(found, from_bits(bits) if found else None, confidence, agreement, scale, soft)
