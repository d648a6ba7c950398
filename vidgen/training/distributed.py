"""One process or many under torchrun: the same code, rank 0 logs and saves."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> Dist:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on GPU)."""
    if "RANK" not in os.environ:
        return Dist()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size())


def teardown(d: Dist) -> None:
    """Leave the group together: rank 0 may still be saving when the others finish, and a gloo
    group torn down under a peer that is still in it aborts that process at exit (about 1 run
    in 4 of the 2-process test did: "terminate called without an active exception")."""
    if d.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def mean_across(d: Dist, value: float) -> float:
    if d.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / d.world
