"""The invisible watermark: payload through storage and attacks, silence on unmarked video."""

import numpy as np
import pytest

from vidgen.io import watermark as wm
from vidgen.io.video import read_video, write_mp4
from vidgen.world.render import render
from vidgen.world.scene import sample_scene

PAYLOAD = 0xC0FFEE42


@pytest.fixture(scope="module")
def host():
    return render(sample_scene(3, "train", aspect=1.0, duration=2.0), 128, 128, 49, 24.0)[0]


@pytest.fixture(scope="module")
def stored(host, tmp_path_factory):
    path = tmp_path_factory.mktemp("wm") / "marked.mp4"
    write_mp4(path, wm.embed(host, 24.0, PAYLOAD), 24.0)
    return read_video(path)


def _roundtrip(tmp_path, frames, fps, crf=18):
    write_mp4(tmp_path / "a.mp4", frames, fps, crf=crf)
    return read_video(tmp_path / "a.mp4")


def test_mark_is_quiet(host):
    marked = wm.embed(host, 24.0, PAYLOAD)
    mse = np.mean((marked.astype(float) - host) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 40.0


def test_payload_survives_storage(stored):
    d = wm.detect(*stored)
    assert d.found and d.payload == PAYLOAD and d.confidence > 0.9


def test_payload_survives_half_size_crop_and_frame_rate(stored, tmp_path):
    frames, fps = stored
    import cv2

    small = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in frames])
    assert wm.detect(*_roundtrip(tmp_path, small, fps)).payload == PAYLOAD
    assert wm.detect(*_roundtrip(tmp_path, frames[:, 13:115, 13:115], fps)).payload == PAYLOAD
    assert wm.detect(*_roundtrip(tmp_path, frames[::2], fps / 2)).payload == PAYLOAD


def test_unmarked_video_is_not_found(host, tmp_path):
    d = wm.detect(*_roundtrip(tmp_path, host, 24.0))
    assert not d.found and d.payload is None


def test_viterbi_corrects_noisy_bits():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, wm.BITS)
    soft = 2.0 * wm.encode_bits(bits) - 1 + 0.6 * rng.standard_normal(wm.CODED)
    assert np.array_equal(wm.viterbi(soft), bits)


def test_bad_payload_is_refused(host):
    with pytest.raises(ValueError, match="payload must be an integer in"):
        wm.embed(host, 24.0, 2**wm.BITS)
