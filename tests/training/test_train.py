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


def test_vae_then_dit_then_export_then_generate(tmp_path):
    """The whole training path on tiny configs, ending in a playable video."""
    from vidgen.io.video import read_video

    def cli(*args):
        r = subprocess.run(
            [sys.executable, "-m", "vidgen.studio.cli", *args], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        return r

    _train(tmp_path / "vae", 2)
    cli(
        "train",
        "dit",
        "--config",
        "configs/dit_tiny.yaml",
        "--out",
        str(tmp_path / "dit"),
        "--set",
        f"vae={tmp_path / 'vae' / 'vae.safetensors'}",
        "--set",
        f"cache={tmp_path / 'cache'}",
    )
    _, meta = checkpoint.load(tmp_path / "dit" / "dit.safetensors")
    assert meta["kind"] == "dit" and meta["latent_scale"] > 0 and meta["frames"] == 5
    cli(
        "export",
        "--vae",
        str(tmp_path / "vae" / "vae.safetensors"),
        "--dit",
        str(tmp_path / "dit" / "dit.safetensors"),
        "-o",
        str(tmp_path / "model"),
    )
    cli(
        "generate",
        "a red ball bounces",
        "-o",
        str(tmp_path / "v.mp4"),
        "--model",
        str(tmp_path / "model"),
        "--size",
        "32x32",
        "--seconds",
        "0.5",
        "--steps",
        "2",
    )
    frames, fps = read_video(tmp_path / "v.mp4")
    assert frames.shape[1:] == (32, 32, 3) and fps == 24.0


def test_two_process_ddp_matches_one_process_with_accumulation():
    """torchrun --nproc_per_node 2 (gloo on CPU) follows the same loss curve as one process
    with two micro-batches of gradient accumulation."""
    sys.path.insert(0, "bench")
    import train_speed

    assert train_speed.ddp_vs_accumulation(3) < 1e-4
