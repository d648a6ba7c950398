"""The `vidgen world sample` and `vidgen eval` commands, as a user runs them."""

import json

import pytest

from tests.helpers import vidgen


def test_sample_writes_mp4_and_sidecar_deterministically(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        vidgen(
            "world",
            "sample",
            "--n",
            "2",
            "-o",
            str(d),
            "--size",
            "64x48",
            "--frames",
            "9",
            "--fps",
            "12",
            "--seed",
            "5",
        )
    for name in ("0000.mp4", "0001.mp4", "0000.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    meta = json.loads((a / "0000.json").read_text())
    assert {"caption", "structured", "truth", "scene"} <= set(meta)
    assert len(meta["truth"]["objects"][0]["center"]) == 9


def test_eval_scores_a_directory(tmp_path):
    vidgen(
        "world",
        "sample",
        "--n",
        "3",
        "-o",
        str(tmp_path),
        "--size",
        "128x128",
        "--frames",
        "17",
        "--fps",
        "8",
        "--split",
        "heldout",
    )
    r = vidgen("eval", "--videos", str(tmp_path), "--sheet", str(tmp_path / "s.png"))
    rep = json.loads(r.stdout)
    assert rep["n_clips"] == 3 and rep["dimensions"]["color"]["n"] >= 1
    assert (tmp_path / "s.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--size", "100x100"], "multiple of 16"),
        (["--size", "big"], "WxH"),
        (["--frames", "-3"], "--frames"),
        (["--split", "test"], "--split"),
    ],
)
def test_sample_bad_input(tmp_path, args, needle):
    r = vidgen("world", "sample", "--n", "1", "-o", str(tmp_path), *args, check=False)
    assert r.returncode == 2 and needle in r.stderr
    assert not list(tmp_path.glob("*.mp4"))


def test_eval_unreadable_video(tmp_path):
    (tmp_path / "0000.mp4").write_bytes(b"not a video")
    (tmp_path / "0000.json").write_text(json.dumps({"caption": "a red ball moves left"}))
    r = vidgen("eval", "--videos", str(tmp_path), check=False)
    assert r.returncode == 2 and "cannot read video" in r.stderr
