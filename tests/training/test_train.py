"""The training entry: runs, checkpoints to safetensors, resumes exactly where it stopped."""

import json
import sys

import pytest
import torch

from tests.helpers import vidgen
from vidgen.training import checkpoint


def _vae_args(out, steps):
    return "train", "vae", "--config", "configs/vae_tiny.yaml", "--out", out, "--steps", steps


def _train(out, steps):
    return vidgen(*_vae_args(out, steps))


def _train_dit(tmp_path, out, *extra, check=True):
    """The tiny DiT on the tiny VAE that _train wrote to tmp_path/vae."""
    return vidgen(
        "train",
        "dit",
        "--config",
        "configs/dit_tiny.yaml",
        "--out",
        out,
        "--set",
        f"vae={tmp_path / 'vae' / 'vae.safetensors'}",
        *extra,
        check=check,
    )


def test_train_resume_and_self_describing_weights(tmp_path):
    _train(tmp_path, 2)
    r = vidgen(
        "train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path, "--set", "steps=4"
    )
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
    r = vidgen("train", "vae", "--config", bad, check=False)
    assert r.returncode == 2 and "unknown config field 'learning_rate'" in r.stderr
    r = vidgen(
        "train", "vae", "--config", "configs/vae_tiny.yaml", "--set", "decay=99", check=False
    )
    assert r.returncode == 2 and "decay must be in [0, steps=" in r.stderr
    r = vidgen(
        "train", "vae", "--config", "configs/vae_tiny.yaml", "--set", "device=tpu", check=False
    )
    assert r.returncode == 2 and "device must be one of auto, cpu, cuda or cuda:N" in r.stderr
    r = vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--set", "lr=fast", check=False)
    assert r.returncode == 2 and "lr must be a number, got 'fast'" in r.stderr
    if not torch.cuda.is_available():
        r = vidgen(
            "train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path,
            "--set", "device=cuda", check=False,
        )  # fmt: skip
        assert r.returncode == 2 and "sees 0 CUDA GPU(s)" in r.stderr
    assert not (tmp_path / "last.safetensors").exists()


def test_numbers_set_as_yaml_reads_them_reach_float_fields():
    """YAML reads 6e-4 (no dot) as a string and 2 as an int; a float field takes both."""
    from vidgen.config import TrainDiTConfig, with_overrides

    cfg = with_overrides(TrainDiTConfig(), {"lr": "6e-4", "shift": 2, "buckets": ["64x64"]})
    assert (cfg.lr, cfg.shift, cfg.buckets) == (6e-4, 2.0, ("64x64",))
    assert isinstance(cfg.shift, float)


def test_learning_rate_warms_up_holds_then_decays_to_zero():
    from vidgen.config import TrainVAEConfig
    from vidgen.training.train import learning_rate

    cfg = TrainVAEConfig(lr=1.0, steps=100, warmup=10, decay=20)
    lrs = [learning_rate(cfg, s) for s in range(100)]
    assert lrs[0] == 0.1 and lrs[9] == lrs[79] == 1.0  # warmup, then constant
    assert lrs[80] == 1.0 and lrs[90] == 0.5 and lrs[99] == 0.05  # linear to 0 at step 100
    assert learning_rate(TrainVAEConfig(lr=1.0, steps=100, warmup=10), 99) == 1.0  # no decay


def test_a_non_finite_gradient_stops_training_before_it_reaches_the_weights(tmp_path):
    import torch

    from vidgen.config import TrainVAEConfig, load_yaml
    from vidgen.training.tasks import vae_task
    from vidgen.training.train import run

    cfg = load_yaml(TrainVAEConfig, "configs/vae_tiny.yaml", steps=6, ckpt_every=2,
                    out=str(tmp_path))  # fmt: skip
    task = vae_task(cfg)
    calls, loss = [0], task.loss

    def nan_at_step_4(net, batch, gen):
        calls[0] += 1
        total, parts = loss(net, batch, gen)
        return total * (float("nan") if calls[0] == 4 else 1.0), parts

    task.loss = nan_at_step_4
    with pytest.raises(FloatingPointError, match="step 4: the gradient is not finite"):
        run(task)
    for name in ("last", "vae"):  # the checkpoint at step 2, untouched by the NaN
        tensors, meta = checkpoint.load(tmp_path / f"{name}.safetensors")
        assert meta["step"] == 2 and all(torch.isfinite(t).all() for t in tensors.values())


def test_vae_then_dit_then_export_then_generate(tmp_path):
    """The whole training path on tiny configs, ending in a playable video."""
    from PIL import Image

    from vidgen.io.video import read_metadata, read_video

    vidgen(*_vae_args(tmp_path / "vae", 2), "--set", "eval_every=2", "--set", "eval_clips=2")
    log = (tmp_path / "vae" / "log.jsonl").read_text().splitlines()
    (vae_eval,) = [json.loads(line)["eval"] for line in log if '"eval"' in line]
    assert 0 < vae_eval["psnr_world"] < 60 and 0 < vae_eval["psnr_real"] < 60  # held-out clips
    sheet = Image.open(tmp_path / "vae" / "samples" / "step000002.png")
    # a row per clip beside its reconstruction: 2 world clips (32 px), then the real one (144)
    assert sheet.size == (2 * 3 * 176 + 4, 2 * (32 + 4) + 144 + 4)
    cache = f"cache={tmp_path / 'cache'}"
    evals = ("--set", "eval_every=4", "--set", "eval_prompts=2", "--set", "sample_videos=1")
    _train_dit(tmp_path, tmp_path / "dit", "--set", cache, "--set", "shift=2.5", *evals)
    log = (tmp_path / "dit" / "log.jsonl").read_text().splitlines()
    scores = [json.loads(line)["eval"] for line in log if '"eval"' in line]
    assert len(scores) == 1 and 0 <= scores[0]["background"] <= 1  # WorldBench during training
    samples = tmp_path / "dit" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["step000004.png", "step000004_0.mp4"]
    frames, _ = read_video(samples / "step000004_0.mp4")
    recipe = json.loads(read_metadata(samples / "step000004_0.mp4")["comment"])["vidgen_recipe"]
    assert frames.shape == (5, 32, 32, 3) and recipe["model"] == "step4" and recipe["prompt"]
    _, meta = checkpoint.load(tmp_path / "dit" / "dit.safetensors")
    assert meta["kind"] == "dit" and meta["latent_scale"] > 0 and meta["frames"] == 5
    assert meta["shift"] == 2.5  # sampling uses the shift the model was trained with
    vidgen(
        "export",
        "--vae",
        str(tmp_path / "vae" / "vae.safetensors"),
        "--dit",
        str(tmp_path / "dit" / "dit.safetensors"),
        "-o",
        str(tmp_path / "model"),
    )
    vidgen(
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


def test_per_channel_latent_norm_and_a_resume_that_would_change_it(tmp_path):
    """latent_norm=channel stores a mean and std per latent channel; the engine uses them;
    a run cannot resume under another normalisation or preset."""
    import torch

    from vidgen.data.datasets import world_clip
    from vidgen.pipelines.pipeline import Engine, Request

    _train(tmp_path / "vae", 1)
    cache = ("--set", f"cache={tmp_path / 'cache'}")
    _train_dit(tmp_path, tmp_path / "dit", *cache, "--set", "latent_norm=channel", "--steps", 1)
    _, meta = checkpoint.load(tmp_path / "dit" / "dit.safetensors")
    assert len(meta["latent_mean"]) == len(meta["latent_scale"]) == 8  # the tiny VAE's channels
    assert len(set(meta["latent_scale"])) == 8 and min(meta["latent_scale"]) > 0
    vidgen(
        "export",
        "--vae",
        tmp_path / "vae" / "vae.safetensors",
        "--dit",
        tmp_path / "dit" / "dit.safetensors",
        "-o",
        tmp_path / "model",
    )
    eng = Engine.load(str(tmp_path / "model"))
    x = world_clip(0, 32, 5, 8.0)[0][None]
    z = eng.encode(x)  # normalised per channel: each channel near mean 0, std 1
    raw = eng.vae.encode(x)[0]
    scale = torch.tensor(meta["latent_scale"]).view(-1, 1, 1, 1)
    mean = torch.tensor(meta["latent_mean"]).view(-1, 1, 1, 1)
    torch.testing.assert_close(z * scale + mean, raw, atol=1e-4, rtol=1e-4)
    res = eng.generate(Request("a red ball", seconds=0.5, width=32, height=32, steps=2))
    assert res.frames.shape[1:] == (32, 32, 3)
    for key, value in (("latent_norm", "global"), ("dit", "default"), ("predict", "x")):
        keep = () if key == "latent_norm" else ("--set", "latent_norm=channel")
        r = _train_dit(tmp_path, tmp_path / "dit", *cache, *keep, "--set", f"{key}={value}",
                       check=False)  # fmt: skip
        assert r.returncode == 2 and f"{key}: " in r.stderr and "was trained with" in r.stderr
    r = _train_dit(tmp_path, tmp_path / "x", *cache, "--set", "latent_norm=pixel", check=False)
    assert r.returncode == 2 and "latent_norm must be global or channel" in r.stderr


def test_object_weight_and_text_noise_reach_the_loss_and_bad_values_are_refused(tmp_path):
    """object_weight > 0 weighs the pixels (VAE) or latent cells (DiT) objects touch more, and
    text_noise > 0 perturbs the captions' text states: the same batches, noise and weights give
    another loss (object_weight) or other trained weights (text_noise); values out of range are
    refused."""
    vae_losses = []
    for w in (0, 4):
        vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / f"v{w}",
               "--steps", 1, "--set", f"object_weight={w}")  # fmt: skip
        vae_losses.append(json.loads((tmp_path / f"v{w}" / "log.jsonl").read_text())["loss"])
    assert vae_losses[0] != vae_losses[1] and min(vae_losses) > 0
    r = vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "vx",
               "--set", "object_weight=101", check=False)  # fmt: skip
    assert r.returncode == 2 and "object_weight must be in [0, 100], got 101" in r.stderr

    _train(tmp_path / "vae", 1)
    cache = ("--set", f"cache={tmp_path / 'cache'}")
    losses = []
    for name, opt in (("w0", "object_weight=0"), ("w4", "object_weight=4"), ("n", "text_noise=1")):
        _train_dit(tmp_path, tmp_path / name, *cache, "--set", opt, "--steps", 3)
        log = (tmp_path / name / "log.jsonl").read_text().splitlines()
        losses.append(json.loads(log[-1])["loss"])
    assert losses[0] != losses[1] and min(losses) > 0
    # the zero-started output layers let text into the loss only from step 3, so the text
    # noise shows in the weights it trained
    plain, noised = (checkpoint.load(tmp_path / n / "last.safetensors")[0] for n in ("w0", "n"))
    assert not all(torch.equal(plain[k], noised[k]) for k in plain)
    r = _train_dit(tmp_path, tmp_path / "x", *cache, "--set", "object_weight=-1", check=False)
    assert r.returncode == 2 and "object_weight must be in [0, 100], got -1" in r.stderr
    r = _train_dit(tmp_path, tmp_path / "x", *cache, "--set", "text_noise=11", check=False)
    assert r.returncode == 2 and "text_noise must be in [0, 10], got 11" in r.stderr


def test_muon_steps_the_blocks_matrices_resumes_exactly_and_bad_choices_are_refused(tmp_path):
    """optimizer=muon: Muon momentum for the linear weights in the transformer's blocks, AdamW
    moments for the rest, both in the checkpoint; 2 steps then a resume to 3 give the weights
    of 3 unbroken steps; an adamw resume of it, muon for the VAE and unknown names are refused."""
    _train(tmp_path / "vae", 1)
    cache, muon = ("--set", f"cache={tmp_path / 'cache'}"), ("--set", "optimizer=muon")
    _train_dit(tmp_path, tmp_path / "whole", *cache, *muon, "--steps", 3)
    _train_dit(tmp_path, tmp_path / "split", *cache, *muon, "--steps", 2)
    r = _train_dit(tmp_path, tmp_path / "split", *cache, *muon, "--steps", 3)
    assert "resumed" in r.stderr
    whole, split = (
        checkpoint.load(tmp_path / n / "last.safetensors")[0] for n in ("whole", "split")
    )
    assert whole.keys() == split.keys() and all(torch.equal(whole[k], split[k]) for k in whole)
    assert "opt.momentum_buffer.blocks.0.attn.q.weight" in whole
    assert "opt.exp_avg.blocks.0.attn.q.weight" not in whole
    assert {"opt.exp_avg.patch_in.weight", "opt.exp_avg.blocks.0.attn.q.bias"} <= whole.keys()
    _train_dit(tmp_path, tmp_path / "adamw", *cache, "--steps", 3)
    adamw = checkpoint.load(tmp_path / "adamw" / "last.safetensors")[0]
    assert not torch.equal(
        adamw["model.blocks.0.attn.q.weight"], whole["model.blocks.0.attn.q.weight"]
    )
    r = _train_dit(tmp_path, tmp_path / "whole", *cache, "--steps", 4, check=False)
    assert r.returncode == 2 and "optimizer: " in r.stderr and "was trained with 'muon'" in r.stderr
    r = vidgen(*_vae_args(tmp_path / "v", 1), "--set", "optimizer=muon", check=False)
    assert (
        r.returncode == 2 and "muon trains a transformer's blocks; the vae takes adamw" in r.stderr
    )
    r = _train_dit(tmp_path, tmp_path / "x", *cache, "--set", "optimizer=sgd", check=False)
    assert r.returncode == 2 and "optimizer must be adamw or muon, got 'sgd'" in r.stderr


def test_export_takes_a_decoder_fine_tune_but_not_another_encoder(tmp_path):
    """A DiT exports with the VAE it was trained on or a decoder fine-tune of it (same encoder,
    so the same latents); a VAE with another encoder is refused."""
    _train(tmp_path / "vae", 1)
    _train_dit(tmp_path, tmp_path / "dit", "--set", f"cache={tmp_path / 'cache'}", "--steps", 1)
    vae = tmp_path / "vae" / "vae.safetensors"
    tune = ("--set", f"init={vae}", "--set", "freeze_encoder=true")
    vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "dec", *tune)
    vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "other",
           "--set", f"init={vae}")  # fmt: skip
    dit = ("--dit", tmp_path / "dit" / "dit.safetensors", "-o", tmp_path / "model")
    vidgen("export", "--vae", tmp_path / "dec" / "vae.safetensors", *dit)
    dec, _ = checkpoint.load(tmp_path / "dec" / "vae.safetensors")
    shipped, _ = checkpoint.load(tmp_path / "model" / "vae.safetensors")
    assert all((shipped[k].float() == dec[k].bfloat16().float()).all() for k in dec)
    r = vidgen("export", "--vae", tmp_path / "other" / "vae.safetensors", *dit, check=False)
    assert r.returncode == 2 and "whose encoder differs" in r.stderr
    vae.unlink()  # the file the DiT was trained on is gone: nothing to compare encoders with
    r = vidgen("export", "--vae", tmp_path / "dec" / "vae.safetensors", *dit, check=False)
    assert r.returncode == 2 and "not found or changed since" in r.stderr
    # an exported model keeps its VAE beside the DiT: a decoder fine-tune of it exports again
    vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "dec2",
           "--set", f"init={tmp_path / 'model' / 'vae.safetensors'}", "--set",
           "freeze_encoder=true")  # fmt: skip
    again = ("--dit", tmp_path / "model" / "dit.safetensors", "-o", tmp_path / "model2")
    vidgen("export", "--vae", tmp_path / "dec2" / "vae.safetensors", *again)
    r = vidgen("export", "--vae", tmp_path / "other" / "vae.safetensors", *again, check=False)
    assert r.returncode == 2 and "whose encoder differs" in r.stderr


def test_two_process_ddp_matches_one_process_with_accumulation():
    """torchrun --nproc_per_node 2 (gloo on CPU) follows the same loss curve as one process
    with two micro-batches of gradient accumulation."""
    sys.path.insert(0, "bench")
    import train_speed

    assert train_speed.ddp_vs_accumulation(3) < 1e-4


def test_two_process_dit_shares_the_cache_build_then_trains(tmp_path):
    """Under torchrun each DiT process builds its share of the latent cache (here one bucket's
    shard each), waits for the whole cache, and they train together."""
    import os
    import subprocess

    _train(tmp_path / "vae", 1)
    cache, out = tmp_path / "cache", tmp_path / "dit"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "--tee", "3",
         "-m", "vidgen.studio.cli", "train", "dit", "--config", "configs/dit_tiny.yaml",
         "--set", f"vae={tmp_path / 'vae' / 'vae.safetensors'}", "--set", f"cache={cache}",
         "--set", "buckets=[32x32, 64x32]", "--set", "bucket_weights=[1, 1]",
         "--steps", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    built = {line.split("]:")[0][-1]: line for line in r.stdout.splitlines() if "cache " in line}
    assert "cache 32x32" in built["0"] and "cache 64x32" in built["1"], r.stdout[-3000:]
    for b in ("32x32", "64x32"):
        assert (cache / f"{b}_00000.safetensors").is_file()
        assert (cache / f"{b}_00000.text.safetensors").is_file()
    steps = [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()]
    assert steps[-1] == 2


def test_dit_trains_on_a_folder_of_captioned_clips(tmp_path):
    """A user's own footage: clips with a caption .txt beside each."""
    from vidgen.io.video import write_mp4
    from vidgen.world.render import render
    from vidgen.world.scene import sample_scene

    data = tmp_path / "clips"
    data.mkdir()
    for i in range(3):
        frames, _ = render(sample_scene(i), 48, 48, 6, 8)
        write_mp4(data / f"c{i}.mp4", frames, 8)
        (data / f"c{i}.txt").write_text(f"clip number {i}")
    _train(tmp_path / "vae", 1)
    _train_dit(
        tmp_path,
        tmp_path / "dit",
        "--set",
        f"cache={tmp_path / 'cache'}",
        "--set",
        f"data={data}",
        "--steps",
        "2",
    )
    (data / "c0.txt").unlink()
    r = _train_dit(
        tmp_path,
        tmp_path / "dit2",
        "--set",
        f"cache={tmp_path / 'cache2'}",
        "--set",
        f"data={data}",
        check=False,
    )
    assert r.returncode == 2 and "c0.mp4: no caption file c0.txt" in r.stderr


@pytest.mark.slow
def test_compiled_training_matches_eager_closely(tmp_path):
    _train(tmp_path / "eager", 3)
    vidgen("train", "vae", "--config", "configs/vae_tiny.yaml", "--out", tmp_path / "compiled",
           "--steps", 3, "--set", "compile=true")  # fmt: skip
    logs = [
        [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in ("eager", "compiled")
    ]
    assert logs[1][-1]["step"] == 3
    assert abs(logs[0][-1]["loss"] - logs[1][-1]["loss"]) < 1e-3 * max(1.0, logs[0][-1]["loss"])


def test_dit_fine_tunes_from_init_and_trains_on_first_frames_as_images(tmp_path):
    """init= starts from a dit.safetensors (its weights and latent units); image_fraction=1
    trains on each clip's first latent frame; a mismatched init or fraction is refused."""
    _train(tmp_path / "vae", 1)
    cache = ("--set", f"cache={tmp_path / 'cache'}")
    _train_dit(tmp_path, tmp_path / "a", *cache, "--steps", 1)
    a = tmp_path / "a" / "dit.safetensors"
    _train_dit(tmp_path, tmp_path / "b", *cache, "--steps", 1, "--set", f"init={a}",
               "--set", "lr=0")  # fmt: skip
    (wa, ma), (wb, mb) = checkpoint.load(a), checkpoint.load(tmp_path / "b" / "dit.safetensors")
    assert all((wa[k] == wb[k]).all() for k in wa)  # nothing learned at lr 0: init's weights
    assert (ma["latent_mean"], ma["latent_scale"]) == (mb["latent_mean"], mb["latent_scale"])
    shifted = tmp_path / "shifted.safetensors"  # as if trained on another encoder's latents
    checkpoint.save(shifted, wa, {**ma, "latent_mean": ma["latent_mean"] + 1.0})
    for out, restat in (("keep", "false"), ("restat", "true")):
        _train_dit(tmp_path, tmp_path / out, *cache, "--steps", 1, "--set", f"init={shifted}",
                   "--set", f"restat={restat}", "--set", "lr=0")  # fmt: skip
    keep = checkpoint.load(tmp_path / "keep" / "dit.safetensors")[1]
    restat = checkpoint.load(tmp_path / "restat" / "dit.safetensors")[1]
    assert keep["latent_mean"] == ma["latent_mean"] + 1.0  # init's units
    assert restat["latent_mean"] == ma["latent_mean"]  # measured on this cache again
    losses = []
    for f in (0, 1):
        _train_dit(tmp_path, tmp_path / f"i{f}", *cache, "--steps", 1,
                   "--set", f"image_fraction={f}")  # fmt: skip
        losses.append(json.loads((tmp_path / f"i{f}" / "log.jsonl").read_text())["loss"])
    assert losses[0] != losses[1] and min(losses) > 0
    r = _train_dit(tmp_path, tmp_path / "x", *cache, "--set", "image_fraction=1.5", check=False)
    assert r.returncode == 2 and "image_fraction must be in [0, 1], got 1.5" in r.stderr
    r = _train_dit(tmp_path, tmp_path / "y", *cache, "--set", f"init={a}",
                   "--set", "latent_norm=channel", check=False)  # fmt: skip
    assert r.returncode == 2 and "was trained with latent_norm 'global'" in r.stderr
    vae = tmp_path / "vae" / "vae.safetensors"
    r = _train_dit(tmp_path, tmp_path / "z", *cache, "--set", f"init={vae}", check=False)
    assert r.returncode == 2 and "is not a transformer with config" in r.stderr


def test_dit_predicting_clean_latents_trains_exports_and_generates(tmp_path):
    """predict=x is stored in the weights and the engine runs it; an init made with the other
    prediction gives its trunk but not its output projection, and one from before the field
    existed loads as predict v."""
    from vidgen.pipelines.pipeline import Engine, Request

    _train(tmp_path / "vae", 1)
    cache = ("--set", f"cache={tmp_path / 'cache'}")
    _train_dit(tmp_path, tmp_path / "x", *cache, "--steps", 2, "--set", "predict=x")
    x = tmp_path / "x" / "dit.safetensors"
    weights, meta = checkpoint.load(x)
    assert meta["dit_config"]["predict"] == "x"
    vae = tmp_path / "vae" / "vae.safetensors"
    vidgen("export", "--vae", vae, "--dit", x, "-o", tmp_path / "model")
    eng = Engine.load(str(tmp_path / "model"))
    assert eng.dit.cfg.predict == "x"
    res = eng.generate(Request("a red ball", seconds=0.5, width=32, height=32, steps=2))
    assert res.frames.shape[1:] == (32, 32, 3)
    # a velocity run from the x weights: their trunk, the output projection from zero
    lr0 = ("--steps", 1, "--set", "lr=0")
    _train_dit(tmp_path, tmp_path / "v", *cache, *lr0, "--set", f"init={x}")
    wv, mv = checkpoint.load(tmp_path / "v" / "dit.safetensors")
    assert mv["dit_config"]["predict"] == "v"
    assert all((wv[k] == 0).all() for k in wv if k.startswith("patch_out."))
    assert all((wv[k] == weights[k]).all() for k in wv if not k.startswith("patch_out."))
    assert any((weights[k] != 0).any() for k in weights if k.startswith("patch_out."))
    old = tmp_path / "old.safetensors"  # written before DiTConfig had `predict`
    config = {k: v for k, v in meta["dit_config"].items() if k != "predict"}
    checkpoint.save(old, weights, {**meta, "dit_config": config})
    _train_dit(tmp_path, tmp_path / "o", *cache, "--steps", 1, "--set", f"init={old}")
    r = _train_dit(tmp_path, tmp_path / "p", *cache, "--set", "predict=eps", check=False)
    assert r.returncode == 2 and "predict must be one of v, x, got 'eps'" in r.stderr


def test_a_time_budget_fits_the_steps_to_the_rate_and_keeps_the_decay_whole():
    from vidgen.config import TrainVAEConfig
    from vidgen.training.train import fit_budget

    cfg = TrainVAEConfig(steps=1000, decay=100)
    assert fit_budget(cfg, 1000, 50, rate=2.0, seconds_left=100) == 250  # 200 more fit
    assert fit_budget(cfg, 1000, 50, rate=20.0, seconds_left=100) == 1000  # never past most
    assert fit_budget(cfg, 1000, 50, rate=2.0, seconds_left=-5) == 51  # out of time: next step
    short = TrainVAEConfig(steps=250, decay=100)
    assert fit_budget(short, 1000, 100, 20.0, 100) == 1000  # faster than feared: grows again
    assert fit_budget(short, 1000, 150, 20.0, 100) == 250  # decaying: the end stays put


def test_a_minutes_budget_ends_the_run_early_with_its_decay(tmp_path, monkeypatch):
    from torch import nn

    from vidgen.config import TrainVAEConfig
    from vidgen.training import train

    monkeypatch.setattr(train, "RESERVE_S", 0.0)
    cfg = TrainVAEConfig(steps=10**7, warmup=1, decay=200, minutes=0.05, log_every=50,
                         ckpt_every=10**7, out=str(tmp_path))  # fmt: skip

    def loss(net, x, gen):
        total = net(x).pow(2).mean()
        return total, {"loss": total.item()}

    task = train.Task("toy", cfg, nn.Linear(4, 1), lambda rng, step: torch.randn(8, 4), loss,
                      weights_meta=lambda m: {})  # fmt: skip
    train.run(task)  # 3 seconds of steps
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    _, meta = checkpoint.load(tmp_path / "toy.safetensors")
    end = meta["step"]
    assert 200 < end < 10**7 and log[-1]["step"] == log[-1]["steps"] == end
    assert meta["config"]["steps"] == end  # `--steps END --set decay=200` replays it
    assert log[-1]["lr"] < cfg.lr / 100  # the decay ran to its end


def test_cache_only_builds_the_latent_cache_and_trains_nothing(tmp_path):
    _train(tmp_path / "vae", 1)
    out = tmp_path / "dit"
    r = _train_dit(tmp_path, out, "--set", f"cache={tmp_path / 'cache'}", "--cache-only")
    assert "cache: " in r.stdout and not out.exists()
    assert list((tmp_path / "cache").glob("*_00000.text.safetensors"))
    r = vidgen(*_vae_args(tmp_path / "v2", 1), "--cache-only", check=False)
    assert r.returncode == 2 and "--cache-only builds the transformer's latent cache" in r.stderr


def test_batches_drawn_ahead_in_a_thread_train_the_same(tmp_path):
    """What a GPU run does (the next step's batches drawn while this one runs) changes nothing."""
    from vidgen.config import TrainVAEConfig, load_yaml
    from vidgen.training.tasks import vae_task
    from vidgen.training.train import run

    losses = []
    for prefetch in (False, True):
        out = tmp_path / str(prefetch)
        cfg = load_yaml(TrainVAEConfig, "configs/vae_tiny.yaml", steps=3, log_every=1,
                        out=str(out))  # fmt: skip
        run(vae_task(cfg), prefetch=prefetch)
        losses.append([json.loads(x)["loss"] for x in (out / "log.jsonl").read_text().splitlines()])
    assert losses[0] == losses[1] and len(losses[0]) == 3
