"""Data-parallel training under torchrun (gloo or NCCL): ranks, and replicas kept alike."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def sync_buffers(model: torch.nn.Module, world: int) -> None:
    """Average BatchNorm running statistics over the ranks.

    DDP keeps parameters identical but each rank's last forward pass updates its own running
    statistics; without this the replicas drift apart and validate differently.
    """
    for buffer in model.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            buffer /= world
        else:
            dist.broadcast(buffer, src=0)
