"""One process or many under torchrun: the same code, rank 0 logs and saves.

On a machine with GPUs each process trains on the GPU of its local rank (torchrun
--nproc-per-node N, one per GPU) and the group talks over NCCL; on a CPU, over gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def local_device(name: str = "auto") -> torch.device:
    """This process's device for a `precision.device` name: under torchrun on GPUs, the GPU
    of its local rank (one process per GPU; more processes than GPUs, as `--cache-only` runs
    to render on every core, share them in turn)."""
    from vidgen.precision import device as resolve_device

    dev = resolve_device(name, "device")
    if dev.type == "cuda" and dev.index is None:
        rank = int(os.environ.get("LOCAL_RANK", "0"))
        dev = torch.device("cuda", rank % torch.cuda.device_count())
    return dev


def setup(device: str = "auto") -> Dist:
    """This process's device, and the process group when launched by torchrun: gloo on the
    CPU, nccl on GPUs."""
    dev = local_device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if "RANK" not in os.environ:
        return Dist(device=dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), dev)


def teardown(d: Dist) -> None:
    """Leave the group together: rank 0 may still be saving when the others finish, and a gloo
    group torn down under a peer that is still in it aborts that process at exit ("terminate
    called without an active exception"). The caller drops its DDP wrapper first (`run` does):
    a reducer that still holds the group lets it die in the interpreter's finalisation, which
    aborted the same way (pytorch/pytorch#179291)."""
    if d.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _reduce(d: Dist, value: float, op) -> float:
    if d.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=d.device)  # nccl: on the GPU
    dist.all_reduce(t, op=op)
    return float(t.item())


def min_across(d: Dist, value: float) -> float:
    return _reduce(d, value, dist.ReduceOp.MIN)


def mean_across(d: Dist, value: float) -> float:
    return _reduce(d, value, dist.ReduceOp.SUM) / d.world
