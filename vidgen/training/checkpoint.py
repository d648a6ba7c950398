"""Self-describing checkpoints: safetensors with JSON metadata (never pickle).

Training checkpoints also carry the optimizers' state as tensors, so a run resumes exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file


def git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def save(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write atomically: a crash mid-write never leaves a half checkpoint under `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(flat, str(tmp), metadata={"vidgen": json.dumps(meta)})
    os.replace(tmp, path)


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return load_file(str(path)), read_meta(path)


def read_meta(path: str | Path) -> dict:
    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {}).get("vidgen", "{}"))


def file_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def pack_optimizer(
    opts: list[torch.optim.Optimizer], names: dict[int, str]
) -> dict[str, torch.Tensor]:
    """The state of a model's optimizers (each parameter in one of them) as named tensors:
    opt.<field>.<param name>."""
    out = {}
    for opt in opts:
        for group in opt.param_groups:
            for p in group["params"]:
                for k, v in opt.state.get(p, {}).items():
                    out[f"opt.{k}.{names[id(p)]}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def unpack_optimizer(
    opts: list[torch.optim.Optimizer], names: dict[int, str], tensors: dict[str, torch.Tensor]
) -> None:
    for opt in opts:
        for group in opt.param_groups:
            for p in group["params"]:
                name = names[id(p)]
                state = {  # moments on the parameter's device; AdamW keeps its step on the CPU
                    k.split(".")[1]: v if k.split(".")[1] == "step" else v.to(p.device)
                    for k, v in tensors.items()
                    if k.startswith("opt.") and k.split(".", 2)[2] == name
                }
                if state:
                    opt.state[p] = state
