"""The training entry: runs, checkpoints to safetensors, resumes exactly where it stopped."""

import json
import subprocess
import sys

from vidgen.training import checkpoint


def _train(out, steps):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidgen.studio.cli",
            "train",
            "vae",
            "--config",
            "configs/vae_tiny.yaml",
            "--out",
            str(out),
            "--steps",
            str(steps),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    return r


def test_train_resume_and_self_describing_weights(tmp_path):
    _train(tmp_path, 2)
    r = _train(tmp_path, 4)
    assert "resumed" in r.stderr and "samples/s" in r.stderr
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 4]
    tensors, meta = checkpoint.load(tmp_path / "vae.safetensors")
    assert meta["step"] == 4 and meta["kind"] == "vae" and meta["config"]["vae"] == "tiny"
    assert "vidgen train vae" in meta["command"]
    last, _ = checkpoint.load(tmp_path / "last.safetensors")
    assert any(k.startswith("opt.exp_avg.") for k in last)  # optimizer state, not pickle


def test_bad_config_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 1\n")
    r = subprocess.run(
        [sys.executable, "-m", "vidgen.studio.cli", "train", "vae", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown config field 'learning_rate'" in r.stderr
