"""One training entry for every model, in one process or under torchrun (DDP).

A task says how to build its model, draw a batch and compute its loss; this file does the
rest: the device, seeding, bf16 autocast, gradient accumulation, EMA, resumable checkpoints, a
progress bar with loss and samples/s, and rank-0 logging. Batches and random draws are made on
the CPU from (seed, step) and then moved, so a GPU run sees the data a CPU run does; a task may
make its large draws on the GPU from a seed drawn on the CPU (the transformer's noise does), so
there the noise differs. `minutes` gives a run a wall-clock budget (a lent GPU's lease).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import json
import math
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidgen.config import to_dict
from vidgen.precision import native_bf16
from vidgen.training import checkpoint
from vidgen.training.distributed import Dist, mean_across, min_across, setup, teardown
from vidgen.training.muon import Muon


@dataclass
class Task:
    """What differs between models: building, batches, loss, and what to save with weights."""

    name: str
    cfg: Any  # a frozen Train*Config with at least lr, optimizer, steps, warmup, decay, minutes,
    # batch, bf16, compile, out and seed
    model: nn.Module
    batch: Callable[[random.Random, int], Any]  # (rng, step) -> batch
    loss: Callable[[nn.Module, Any, torch.Generator], tuple[torch.Tensor, dict]]
    weights_meta: Callable[[nn.Module], dict]  # extra metadata for the exported weights
    samples_per_batch: int = 1
    accumulate: int = 1
    evaluate: Callable[[nn.Module, int], dict] | None = None  # (ema, step) -> scores to log
    eval_every: int = 0
    fixed: tuple[str, ...] = ()  # config fields a run cannot change when it resumes


def check_resume(task: Task) -> None:
    """Refuse to resume a checkpoint made with other values of the task's fixed fields."""
    path = Path(task.cfg.out) / "last.safetensors"
    if not path.is_file():
        return
    saved = checkpoint.read_meta(path).get("config", {})
    defaults = type(task.cfg)()  # a checkpoint from before a field existed had its default
    for k in task.fixed:
        was, now = saved.get(k, getattr(defaults, k)), getattr(task.cfg, k)
        if was != now:
            raise ValueError(
                f"{k}: {path} was trained with {was!r}, not {now!r}; "
                "keep its value or train into another --out"
            )


def optimizers(kind: str, lr: float, model: nn.Module) -> list[torch.optim.Optimizer]:
    """The optimizers of a model's trained parameters. "adamw": AdamW for all of them. "muon":
    Muon (vidgen.training.muon) for the hidden matrices, the weights of the linear layers in the
    model's `blocks`, and AdamW for the rest (the layers in and out, the timestep and text
    paths, norms, biases, modulation tables), as Muon's authors split them; the same lr serves
    both."""
    trainable = [p for p in model.parameters() if p.requires_grad]

    def adamw(params: list) -> torch.optim.Optimizer:
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)

    if kind == "adamw":
        return [adamw(trainable)]
    hidden = {id(m.weight) for m in model.blocks.modules() if isinstance(m, nn.Linear)}
    muon = Muon([p for p in trainable if id(p) in hidden], lr=lr)
    return [muon, adamw([p for p in trainable if id(p) not in hidden])]


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - decay)


def learning_rate(cfg, step: int) -> float:
    """Warmup, then constant, then (over the last cfg.decay steps) linear decay to 0.

    A constant rate lets a run go on as long as it is useful; the decay is a short final phase,
    run on a copy of the run directory when a model is to be shipped (`--steps S --set decay=D`),
    so the main run can go on from its own checkpoint.
    """
    warm = min(1.0, (step + 1) / max(cfg.warmup, 1))
    left = cfg.steps - step
    return cfg.lr * min(warm, left / cfg.decay if cfg.decay else 1.0)


RESERVE_S = 30.0  # of a `minutes` budget, kept for the last checkpoint and an export


def fit_budget(cfg, most: int, step: int, rate: float, seconds_left: float) -> int:
    """The last step of a run with a wall-clock budget (`minutes`): as many of `most` (the steps
    asked for) as `rate` (steps/s) fits in `seconds_left`. It is revised only before the decay
    phase, so the decay then runs whole over the last steps, and `--steps S --set decay=D` with
    the S reached replays the same schedule."""
    if step >= cfg.steps - cfg.decay:
        return cfg.steps
    return max(step + 1, min(most, step + int(rate * seconds_left)))


def run(
    task: Task, ema_decay: float = 0.999, command: str = "", prefetch: bool | None = None
) -> Path:
    """Train until cfg.steps; resume from out/last.safetensors when it exists. prefetch: draw
    the next step's batches in a thread while this one runs (default: on a GPU; on a CPU the
    cores are busy training)."""
    cfg = task.cfg
    log_every, ckpt_every = cfg.log_every, cfg.ckpt_every
    d: Dist = setup(cfg.device)
    out = Path(cfg.out)
    model = task.model.to(d.device)
    ema = copy.deepcopy(model).requires_grad_(False)
    names = {id(p): n for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    opts = optimizers(cfg.optimizer, cfg.lr, model)
    step = 0
    last = out / "last.safetensors"
    if last.is_file():
        check_resume(task)
        tensors, meta = checkpoint.load(last)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        checkpoint.unpack_optimizer(opts, names, tensors)
        step = int(meta["step"])
        if d.main:
            print(f"resumed {last} at step {step}", file=sys.stderr)
    cuda = d.device.type == "cuda"
    bf16 = cfg.bf16 and native_bf16(d.device)
    if cfg.bf16 and not bf16 and d.main:
        print(
            f"bf16 autocast off: this {d.device.type} has no native bfloat16 (it would run slower)",
            file=sys.stderr,
        )
    net = model
    if d.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[d.device] if cuda else None)
    if cfg.compile:
        net = torch.compile(net)  # shares the parameters: EMA, checkpoints and eval use `model`
    log_path = out / "log.jsonl"
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
    bar = _progress(cfg.steps, step, d.main)
    t0, seen = time.perf_counter(), 0
    begun, timed = t0, None  # the budget's rate is timed from the first log (after compiling)
    most = cfg.steps

    def draw(step: int) -> list[tuple[Any, torch.Generator]]:
        """The step's micro-batches and the generators their losses draw noise with. They
        depend only on (seed, step, micro-batch index across ranks), so a resumed run sees what
        an unbroken one would, and N ranks x 1 micro-batch equal one process x N micro-batches."""
        out = []
        for micro in range(task.accumulate):
            k = (cfg.seed * 1_000_003 + step) * 4096 + micro * d.world + d.rank
            rng, gen = random.Random(k), torch.Generator().manual_seed(k)
            out.append((task.batch(rng, step), gen))
        return out

    if prefetch is None:
        prefetch = d.device.type == "cuda"
    pool = ThreadPoolExecutor(1) if prefetch else None
    ahead = None
    while step < cfg.steps:
        lr = learning_rate(cfg, step)
        for g in (g for opt in opts for g in opt.param_groups):
            g["lr"] = lr
        stats: dict[str, float] = {}
        batches = ahead.result() if ahead else draw(step)
        if pool:
            ahead = pool.submit(draw, step + 1)
        for micro, (batch, gen) in enumerate(batches):
            batch = to_device(batch, d.device)
            sync = micro == task.accumulate - 1 or d.world == 1
            ctx = net.no_sync() if (d.world > 1 and not sync) else contextlib.nullcontext()
            with ctx, torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, parts = task.loss(net, batch, gen)
            (loss / task.accumulate).backward()
            for k, v in parts.items():
                stats[k] = stats.get(k, 0.0) + v / task.accumulate
        grad = float(nn.utils.clip_grad_norm_(trainable, 1.0))
        if not math.isfinite(grad):  # stop before a NaN reaches the weights, the EMA, a checkpoint
            raise FloatingPointError(
                f"step {step + 1}: the gradient is not finite (loss {stats.get('loss')}); "
                f"nothing was updated, {last} holds the last checkpoint"
            )
        for opt in opts:
            opt.step()
            opt.zero_grad(set_to_none=True)
        ema_update(ema, model, ema_decay if step > cfg.warmup else 0.0)
        step += 1
        seen += task.samples_per_batch * task.accumulate * d.world
        if step % log_every == 0 or step == cfg.steps:
            stats = {k: mean_across(d, v) for k, v in stats.items()}
            rate = seen / (time.perf_counter() - t0)
            t0, seen = time.perf_counter(), 0
            if d.main:
                rec = {
                    "step": step,
                    "lr": lr,
                    "grad": round(grad, 4),
                    "samples_per_s": round(rate, 2),
                    **({"steps": cfg.steps} if cfg.minutes else {}),
                    **{k: round(v, 5) for k, v in stats.items()},
                }
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                bar(step, rec)
            if cfg.minutes and timed is None:
                timed = (step, time.perf_counter())
            elif cfg.minutes:
                now = time.perf_counter()
                steps_per_s = (step - timed[0]) / (now - timed[1])
                left = cfg.minutes * 60 - (now - begun) - RESERVE_S
                end = int(min_across(d, fit_budget(cfg, most, step, steps_per_s, left)))
                if end != cfg.steps:  # each log row says where the run then ends
                    cfg = task.cfg = dataclasses.replace(cfg, steps=end)
                    bar = _progress(cfg.steps, step, d.main)
        if d.main and (step % ckpt_every == 0 or step == cfg.steps):
            _save(task, model, ema, opts, names, step, out, command)
        if d.main and task.evaluate and task.eval_every and step % task.eval_every == 0:
            scores = task.evaluate(ema, step)
            with open(log_path, "a") as f:
                f.write(json.dumps({"step": step, "eval": scores}) + "\n")
    if d.main:
        print(file=sys.stderr)
    if pool:
        pool.shutdown(cancel_futures=True)
    # DDP's reducer holds the process group: freed here, the group's last reference goes in
    # teardown, while the interpreter is whole, not in its finalisation at exit (where a gloo
    # group could abort the process: "terminate called without an active exception")
    del net
    gc.collect()
    teardown(d)
    return out / f"{task.name}.safetensors"


def to_device(batch, device: torch.device):
    """A batch (tensors, possibly in tuples, lists or dicts) on the device."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _save(task, model, ema, opts, names, step, out: Path, command: str) -> None:
    meta = {
        "step": step,
        "task": task.name,
        "config": to_dict(task.cfg),
        "git": checkpoint.git_sha(),
        "command": command,
    }
    tensors = {
        **{f"model.{k}": v for k, v in model.state_dict().items()},
        **{f"ema.{k}": v for k, v in ema.state_dict().items()},
        **checkpoint.pack_optimizer(opts, names),
    }
    checkpoint.save(out / "last.safetensors", tensors, meta)
    checkpoint.save(
        out / f"{task.name}.safetensors", ema.state_dict(), {**meta, **task.weights_meta(ema)}
    )


def _progress(total: int, start: int, enabled: bool):
    """A one-line progress bar on stderr with the latest loss and samples/s."""
    begun = time.perf_counter()

    def show(step: int, rec: dict) -> None:
        if not enabled:
            return
        frac = step / max(total, 1)
        done = int(30 * frac)
        eta = (time.perf_counter() - begun) / max(step - start, 1) * (total - step)
        loss = " ".join(
            f"{k}={v:.4g}"
            for k, v in rec.items()
            if k not in ("step", "lr", "grad", "samples_per_s")
        )
        sys.stderr.write(
            f"\r[{'#' * done}{'.' * (30 - done)}] {step}/{total} {loss} "
            f"{rec['samples_per_s']:.1f} samples/s eta {math.ceil(eta / 60)} min "
        )
        sys.stderr.flush()

    return show
