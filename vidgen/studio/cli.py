"""The `vidgen` command line."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from vidgen import precision as precisions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="vidgen: open, local-first AI video generation.",
)
world_app = typer.Typer(no_args_is_help=True, help="The procedural video world.")
app.add_typer(world_app, name="world")
keys_app = typer.Typer(no_args_is_help=True, help="Signing and API keys.")
app.add_typer(keys_app, name="keys")


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def parse_size(size: str) -> tuple[int, int]:
    """'WxH' -> (W, H); both multiples of 16 from 16 to 1024."""
    from vidgen.world.render import MAX_SIDE

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like WxH (for example 128x128), got {size!r}") from None
    for name, v in (("width", w), ("height", h)):
        if v < 16 or v > MAX_SIDE or v % 16:
            raise ValueError(
                f"--size {name} must be a multiple of 16 from 16 to {MAX_SIDE}, got {v}"
            )
    return w, h


@world_app.command("sample")
def world_sample(
    n: Annotated[int, typer.Option("--n", help="number of clips")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output directory")],
    split: Annotated[str, typer.Option(help="train or heldout")] = "train",
    size: Annotated[str, typer.Option(help="WxH, multiples of 16")] = "128x128",
    frames: Annotated[int, typer.Option(help="frames per clip")] = 17,
    fps: Annotated[float, typer.Option(help="frames per second")] = 8.0,
    seed: Annotated[int, typer.Option(help="first scene seed")] = 0,
) -> None:
    """Render N captioned clips: DIR/NNNN.mp4 and DIR/NNNN.json (caption, structure, truth)."""
    from vidgen.world.captions import caption, structured, structured_text
    from vidgen.world.render import render, validate_size
    from vidgen.world.scene import SPLITS, sample_scene

    try:
        if n < 1 or n > 1_000_000:
            raise ValueError(f"--n must be from 1 to 1000000, got {n}")
        if split not in SPLITS:
            raise ValueError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
        w, h = parse_size(size)
        if frames < 1:
            raise ValueError(f"--frames must be at least 1, got {frames}")
        validate_size(w, h, frames, fps)
    except ValueError as e:
        _fail(str(e))
    from vidgen.io.video import write_mp4

    out.mkdir(parents=True, exist_ok=True)
    duration = max(frames - 1, 1) / fps
    for i in range(n):
        scene = sample_scene(seed + i, split, aspect=w / h, duration=duration)
        video, truth = render(scene, w, h, frames, fps)
        fields = structured(scene)
        meta = {
            "caption": caption(scene),
            "structured": fields,
            "structured_prompt": structured_text(fields),
            "split": split,
            "scene": scene.to_dict(),
            "truth": truth,
        }
        write_mp4(out / f"{i:04d}.mp4", video, fps, metadata={"comment": meta["caption"]})
        (out / f"{i:04d}.json").write_text(json.dumps(meta))
    typer.echo(f"wrote {n} clips to {out}")


def _score_dir(videos: Path, prompts: dict[str, str] | None) -> tuple[list[dict], list]:
    from vidgen.io.video import read_video
    from vidgen.world.bench import score_clip

    files = sorted(videos.glob("*.mp4"))
    if not files:
        raise ValueError(f"--videos: no *.mp4 files in {videos}")
    clips, frames_list = [], []
    for f in files:
        if prompts is not None:
            if f.stem not in prompts:
                raise ValueError(f"--prompts has no prompt for {f.name} (keys are file stems)")
            prompt = prompts[f.stem]
        else:
            side = f.with_suffix(".json")
            if not side.is_file():
                raise ValueError(f"{f.name}: no sidecar {side.name} and no --prompts file")
            meta = json.loads(side.read_text())
            prompt = meta.get("caption") or meta.get("prompt")
            if not prompt:
                raise ValueError(f"{side.name}: no 'caption' or 'prompt' field")
        frames, fps = read_video(f)
        result = score_clip(frames, fps, prompt)
        result["file"] = f.name
        clips.append(result)
        frames_list.append(frames)
    return clips, frames_list


def _load_prompts(path: Path) -> dict[str, str]:
    """A JSON object {stem: prompt}, a JSON list of {"id", "prompt"}, or lines "stem<TAB>prompt"."""
    if not path.is_file():
        raise ValueError(f"--prompts: file not found: {path}")
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        pairs = [ln.split("\t", 1) for ln in text.splitlines() if ln.strip()]
        if not all(len(p) == 2 for p in pairs):
            raise ValueError("--prompts: lines must be 'stem<TAB>prompt'") from None
        return {k.strip(): v.strip() for k, v in pairs}
    if isinstance(data, dict) and "items" in data:
        data = data["items"]
    if isinstance(data, dict):
        return {str(k): str(v) for k, v in data.items()}
    return {str(d["id"]): str(d["prompt"]) for d in data}


@app.command("eval")
def eval_cmd(
    videos: Annotated[Path | None, typer.Option(help="directory of *.mp4 to score")] = None,
    prompts: Annotated[Path | None, typer.Option(help="prompts file (else sidecar JSON)")] = None,
    suite: Annotated[
        bool, typer.Option("--suite", help="score the fixed WorldBench suite")
    ] = False,
    model: Annotated[str | None, typer.Option(help="model that generates the suite")] = None,
    ground_truth: Annotated[
        bool,
        typer.Option(
            "--ground-truth", help="render the suite with the world itself (the reference)"
        ),
    ] = False,
    shuffle: Annotated[
        bool,
        typer.Option(
            "--shuffle", help="pair each suite clip with another clip's prompt (calibration)"
        ),
    ] = False,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="write the JSON report")] = None,
    sheet: Annotated[Path | None, typer.Option(help="write a contact-sheet PNG")] = None,
    keep: Annotated[Path | None, typer.Option(help="keep the suite's rendered MP4s here")] = None,
    steps: Annotated[int, typer.Option(help="denoising steps (with --model)")] = 20,
    guidance: Annotated[float, typer.Option(help="guidance scale (with --model)")] = 4.0,
) -> None:
    """Score videos against their prompts with WorldBench and print the JSON report."""
    from vidgen.world.bench import contact_sheet, load_suite, report, suite_group

    groups = None
    try:
        if suite == (videos is not None):
            raise ValueError("give exactly one of --videos DIR or --suite")
        if suite:
            if ground_truth == (model is not None):
                raise ValueError("--suite needs exactly one of --ground-truth or --model NAME")
            s = load_suite()
            with tempfile.TemporaryDirectory() as tmp:
                target = keep or Path(tmp)
                if model is not None:
                    _generate_suite(s, target, model, steps, guidance)
                else:
                    _render_suite(s, target, shuffle)
                clips, vids = _score_dir(target, None)
            if model is not None or not shuffle:  # shuffled clips carry other items' prompts
                items = {it["id"]: it for it in s["items"]}
                groups = [suite_group(items[Path(c["file"]).stem]) for c in clips]
        else:
            if not videos.is_dir():
                raise ValueError(f"--videos: not a directory: {videos}")
            clips, vids = _score_dir(videos, _load_prompts(prompts) if prompts else None)
    except ValueError as e:
        _fail(str(e))
    rep = report(clips, groups)
    text = json.dumps(rep, indent=1)
    if out:
        out.write_text(text + "\n")
    if sheet:
        contact_sheet(clips, vids, sheet)
    sys.stdout.write(
        json.dumps({k: v for k, v in rep.items() if k != "clips"}, indent=1) + "\n"
        if out
        else text + "\n"
    )


def _generate_suite(s: dict, target: Path, model: str, steps: int, guidance: float) -> None:
    """Generate every suite prompt with a model at the suite's size, one sample per prompt."""
    from vidgen.pipelines.pipeline import Engine, Request

    engine = Engine.load(model, precision="auto", device="auto")
    seconds = (s["frames"] - 1) / s["fps"]
    target.mkdir(parents=True, exist_ok=True)
    for i, it in enumerate(s["items"]):
        req = Request(
            it["prompt"],
            seconds=seconds,
            fps=s["fps"],
            width=s["width"],
            height=s["height"],
            seed=i,
            steps=steps,
            guidance=guidance,
        )
        res = engine.generate(req)
        write_video(target / f"{it['id']}.mp4", res.frames, res.fps, res.recipe)
        sys.stderr.write(f"\rsuite: {i + 1}/{len(s['items'])}")
    sys.stderr.write("\n")


def _render_suite(s: dict, target: Path, shuffle: bool) -> None:
    """Render every suite scene to target/ID.mp4 with a sidecar holding its prompt."""
    import random

    from vidgen.io.video import write_mp4
    from vidgen.world.bench import render_item

    items = s["items"]
    prompts = [it["prompt"] for it in items]
    if shuffle:  # a derangement: each clip gets the prompt of the next one in a shuffled ring
        order = list(range(len(items)))
        random.Random(0).shuffle(order)
        moved = list(prompts)
        for k, i in enumerate(order):
            moved[i] = prompts[order[(k + 1) % len(order)]]
        prompts = moved
    target.mkdir(parents=True, exist_ok=True)
    for it, prompt in zip(items, prompts, strict=True):
        write_mp4(target / f"{it['id']}.mp4", render_item(s, it), s["fps"])
        (target / f"{it['id']}.json").write_text(json.dumps({"prompt": prompt}))


@app.command("generate")
def generate_cmd(
    prompt: Annotated[str, typer.Argument(help="what the video shows")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output MP4")] = Path("out/video.mp4"),
    seconds: Annotated[float, typer.Option(help="duration")] = 2.0,
    fps: Annotated[float, typer.Option(help="output frames per second")] = 24.0,
    size: Annotated[
        str, typer.Option(help="WxH: 128x128 (1:1), 224x128 (16:9), 128x224 (9:16)")
    ] = "128x128",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    steps: Annotated[int, typer.Option(help="denoising steps")] = 20,
    guidance: Annotated[float, typer.Option(help="classifier-free guidance scale")] = 4.0,
    negative: Annotated[str, typer.Option(help="negative prompt")] = "",
    model: Annotated[str, typer.Option(help="model name under models/ or a directory")] = "default",
    sampler: Annotated[str, typer.Option(help="euler or heun")] = "euler",
    precision: Annotated[
        str,
        typer.Option(help="auto (bfloat16 where the device has it natively), bfloat16 or float32"),
    ] = "auto",
    device: Annotated[
        str, typer.Option(help="auto (the first GPU torch sees, else the CPU), cpu, cuda or cuda:N")
    ] = "auto",
    compile: Annotated[
        bool,
        typer.Option("--compile", help="compile the transformer (about 30 s once; faster steps)"),
    ] = False,
) -> None:
    """Generate a video from a prompt; writes OUT and OUT's .json sidecar with the recipe."""

    from vidgen.pipelines.pipeline import Engine, Request

    try:
        _check_prompt(prompt)
        w, h = parse_size(size)
        engine = Engine.load(
            model,
            precision=precisions.check(precision, "--precision"),
            compile=compile,
            device=precisions.device(device, "--device"),
        )
        req = Request(
            prompt=prompt,
            negative=negative,
            seconds=seconds,
            fps=fps,
            width=w,
            height=h,
            seed=seed,
            steps=steps,
            guidance=guidance,
            sampler=sampler,
        )
        engine.validate(req)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    result = engine.generate(req, progress=_step_bar())
    recipe = {**result.recipe, "compile": compile}  # the engine records the resolved precision
    write_video(out, result.frames, result.fps, recipe)
    typer.echo(f"wrote {out} ({len(result.frames)} frames at {result.fps:g} fps)")


def write_video(out: Path, frames, fps: float, recipe: dict) -> None:
    """The finished video: watermark, recipe in metadata and sidecar JSON, signed C2PA."""
    from vidgen.io.provenance import finalize

    finalize(out, frames, fps, recipe)


def _check_prompt(prompt: str) -> None:
    """Refuse a prompt the content policy forbids, naming the category."""
    from vidgen.policy import check

    decision = check(prompt)
    if not decision.allowed:
        raise ValueError(decision.message)


def _step_bar():
    def show(step: int, total: int, _preview) -> None:
        done = int(30 * step / total)
        sys.stderr.write(f"\rdenoising [{'#' * done}{'.' * (30 - done)}] {step}/{total}")
        if step == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


@app.command("train")
def train_cmd(
    what: Annotated[str, typer.Argument(help="vae or dit")],
    config: Annotated[Path | None, typer.Option(help="YAML file of config overrides")] = None,
    steps: Annotated[int | None, typer.Option(help="train until this step")] = None,
    out: Annotated[str | None, typer.Option(help="run directory (checkpoints, log)")] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads (0: default)")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override any config field: --set batch=8 (repeatable)"),
    ] = None,
    cache_only: Annotated[
        bool,
        typer.Option(
            "--cache-only",
            help="dit: build the latent cache and stop (under torchrun, more processes than "
            "GPUs share them: one process per core renders)",
        ),
    ] = False,
) -> None:
    """Train a model; resumes from OUT/last.safetensors. Works under torchrun (DDP)."""
    import shlex

    import yaml

    from vidgen.config import TrainDiTConfig, TrainVAEConfig, load_yaml

    kinds = {"vae": TrainVAEConfig, "dit": TrainDiTConfig}
    try:
        if what not in kinds:
            raise ValueError(f"what to train must be one of {', '.join(kinds)}, got {what!r}")
        if config is not None and not config.is_file():
            raise ValueError(f"--config: file not found: {config}")
        if steps is not None and steps < 1:
            raise ValueError(f"--steps must be at least 1, got {steps}")
        extra = {}
        for item in set_ or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set takes key=value, got {item!r}")
            extra[key.strip()] = yaml.safe_load(value)
        flags = {"steps": steps, "out": out, "threads": threads}
        flags = {k: v for k, v in flags.items() if v is not None}
        cfg = load_yaml(kinds[what], config, **{**extra, **flags})  # --steps beats --set steps=
        if not 0 <= cfg.decay <= cfg.steps:
            raise ValueError(f"decay must be in [0, steps={cfg.steps}], got {cfg.decay}")
        if cfg.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be adamw or muon, got {cfg.optimizer!r}")
        if what == "vae" and cfg.optimizer == "muon":
            raise ValueError("optimizer: muon trains a transformer's blocks; the vae takes adamw")
        if not 0 <= cfg.minutes <= 10_000:
            raise ValueError(f"minutes must be in [0, 10000], got {cfg.minutes}")
        if cache_only and what != "dit":
            raise ValueError("--cache-only builds the transformer's latent cache: train dit")
        precisions.check_device(cfg.device)
    except ValueError as e:
        _fail(str(e))
    import torch

    from vidgen.training.distributed import local_device
    from vidgen.training.tasks import dit_task, vae_task
    from vidgen.training.train import check_resume, run

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        local_device(cfg.device)  # refuse cuda where torch sees no GPU before any work
        if cache_only:
            dit_task(cfg, cache_only=True)
            typer.echo(f"cache: {cfg.cache}")
            return
        task = {"vae": vae_task, "dit": dit_task}[what](cfg)
        check_resume(task)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    try:
        path = run(task, command=shlex.join(["vidgen", *sys.argv[1:]]))
    except FloatingPointError as e:
        _fail(str(e))
    typer.echo(f"weights: {path}")


def _check_same_encoder(vae_tensors: dict, dit_meta: dict, dit_path: Path) -> None:
    """A VAE other than the one the DiT was trained on is fine if its encoder is bit for bit
    that one's (a decoder fine-tune, `freeze_encoder=true`): the DiT's latents are unchanged.
    The reference is the VAE file the DiT was trained on, or, once that is gone, the VAE beside
    the DiT in a model directory (`vidgen export` checked that pair when it wrote it)."""
    import torch

    from vidgen.training import checkpoint

    trained, beside = Path(dit_meta.get("vae", "")), dit_path.parent / "vae.safetensors"
    if trained.is_file() and checkpoint.file_hash(trained) == dit_meta["vae_hash"]:
        ref_path = trained
    elif beside.is_file() and beside != trained:
        ref_path = beside  # a model directory: its VAE and DiT were exported together
    else:
        raise ValueError(
            f"the DiT was trained on another VAE ({trained}, not found or changed since), so "
            "--vae must be that file or a decoder fine-tune of it with that file in place "
            "(or --dit a DiT in an exported model directory, beside its VAE)"
        )
    ref, _ = checkpoint.load(ref_path)
    enc = [k for k in ref if k.startswith("encoder.")]
    if any(
        k not in vae_tensors or not torch.equal(vae_tensors[k], ref[k].to(vae_tensors[k].dtype))
        for k in enc
    ):
        raise ValueError(f"the DiT was trained on {ref_path}, whose encoder differs from --vae's")


@app.command("export")
def export_cmd(
    vae: Annotated[Path, typer.Option(help="VAE weights from vidgen train vae")],
    dit: Annotated[Path, typer.Option(help="DiT weights from vidgen train dit")],
    out: Annotated[Path, typer.Option("-o", "--out", help="model directory")],
    card: Annotated[Path | None, typer.Option(help="model card to copy in")] = None,
) -> None:
    """Pack trained weights (EMA) into a model directory, in bfloat16, for vidgen generate."""
    import shutil

    import torch

    from vidgen.training import checkpoint

    try:
        vt, vm = checkpoint.load(vae)
        dt, dm = checkpoint.load(dit)
        if vm.get("kind") != "vae" or dm.get("kind") != "dit":
            raise ValueError("--vae must hold VAE weights and --dit DiT weights")
        if dm.get("vae_hash") and dm["vae_hash"] != checkpoint.file_hash(vae):
            _check_same_encoder(vt, dm, dit)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    out.mkdir(parents=True, exist_ok=True)
    for name, (t, m) in (("vae", (vt, vm)), ("dit", (dt, dm))):
        checkpoint.save(
            out / f"{name}.safetensors", {k: v.to(torch.bfloat16) for k, v in t.items()}, m
        )
    if card:
        shutil.copy(card, out / "model_card.md")
    total = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    typer.echo(f"wrote {out} ({total:.1f} MB)")


@app.command("reproduce")
def reproduce_cmd(
    video: Annotated[Path, typer.Argument(help="a vidgen MP4 (or its .json recipe)")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output MP4")],
) -> None:
    """Make a video again from its recipe; on the same kind of machine the frames match."""
    import dataclasses

    from vidgen.io.provenance import read_recipe
    from vidgen.pipelines.pipeline import Engine, Request

    try:
        if not video.is_file():
            raise ValueError(f"file not found: {video}")
        side = video.with_suffix(".json")
        recipe = read_recipe(video) if video.suffix != ".json" else None
        if recipe is None and side.is_file():
            recipe = json.loads(side.read_text())
        if not recipe:
            raise ValueError(f"{video} carries no vidgen recipe (metadata or sidecar .json)")
        if recipe.get("conditioning"):
            raise ValueError("the recipe uses image/video conditioning, which the file lacks")
        _check_prompt(recipe["prompt"])
        precision = recipe.get("precision", "float32")  # Engine.load refuses an unknown one
        engine = Engine.load(recipe["model"], precision=precision, device="auto")
        if recipe.get("weights") and engine.weights_hash != recipe["weights"]:
            raise ValueError(
                f"model {recipe['model']!r} has weights {engine.weights_hash}, "
                f"the recipe was made with {recipe['weights']}"
            )
        names = {f.name for f in dataclasses.fields(Request)} - {"conditioning"}
        req = Request(**{k: recipe[k] for k in names if k in recipe})
        engine.validate(req)
    except (ValueError, FileNotFoundError, KeyError) as e:
        _fail(str(e))
    result = engine.generate(req, progress=_step_bar())
    keep = {k: recipe[k] for k in ("precision", "compile", "watermark") if k in recipe}
    write_video(out, result.frames, result.fps, {**result.recipe, **keep})
    typer.echo(f"wrote {out} ({len(result.frames)} frames at {result.fps:g} fps)")


@app.command("verify")
def verify_cmd(
    video: Annotated[Path, typer.Argument(help="a video file")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """C2PA status, the recipe, and the invisible watermark of a video."""
    from vidgen.io.provenance import verify

    try:
        report = verify(video)
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(report))
        return
    wm, recipe = report["watermark"], report["recipe"]
    typer.echo(f"c2pa: {report['c2pa']}")
    typer.echo(f"recipe: {json.dumps(recipe) if recipe else 'none'}")
    found = f"found, payload {wm['payload']}" if wm["found"] else "not found"
    typer.echo(f"watermark: {found} (confidence {wm['confidence']:.2f})")


policy_app = typer.Typer(no_args_is_help=True, help="The content policy.")
app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def policy_check_cmd(prompt: Annotated[str, typer.Argument(help="a prompt")]) -> None:
    """Print {"allowed": bool, "category": str or null} for a prompt."""
    from vidgen.policy import check

    typer.echo(json.dumps(check(prompt).to_dict()))


@keys_app.command("init")
def keys_init_cmd(
    cert: Annotated[Path | None, typer.Option(help="your signing certificate chain (PEM)")] = None,
    key: Annotated[Path | None, typer.Option(help="its private key (PEM)")] = None,
    anchors: Annotated[Path | None, typer.Option(help="trust anchors for verify (PEM)")] = None,
    force: Annotated[bool, typer.Option("--force", help="make a new local CA")] = False,
) -> None:
    """Make a local CA and signing certificate ($VIDGEN_HOME or ~/.vidgen), or use yours."""
    from vidgen.io.provenance import home, init_keys

    try:
        cfg = init_keys(cert, key, anchors, force=force)
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"signing config: {home() / 'signing.json'}")
    typer.echo(json.dumps(cfg, indent=1))


def main() -> None:
    # serve, worker, keys create|list|revoke register on the app of `vidgen.studio.cli` (under
    # `python -m` this file also runs as __main__, a second module whose app lacks them)
    from vidgen.studio import cli_studio

    cli_studio.app()


if __name__ == "__main__":
    main()
