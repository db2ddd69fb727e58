"""Device selection and ``torchrun`` data parallelism.

Launched by ``torchrun --nproc_per_node=N -m ecgemotion pretrain ...`` (``RANK`` and
``WORLD_SIZE`` in the environment) each process joins a process group (NCCL on GPU,
Gloo on CPU), trains on its shard of every epoch, and averages gradients with one
all-reduce per step. The all-reduce is done by hand on a flat buffer instead of
``DistributedDataParallel``: DDP arms its gradient hooks in ``forward`` only, and the
self-supervised objectives call the model's parts directly (``encode``, ``encode_visible``,
``mae``, ``pool``, ``contrastive_head``; training/objectives.py), which a DDP wrapper does
not see, so their gradients would not be reduced through it; ``find_unused_parameters=True``
would also cost a graph walk per step. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ecgemotion.errors import ConfigError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_env() -> DistEnv:
    """The torchrun environment (rank 0 of 1 when not launched by torchrun)."""
    return DistEnv(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))


def select_device(requested: str = "auto", env: DistEnv = DistEnv()) -> torch.device:
    """``auto``: the local rank's CUDA device when there is one, else the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {requested!r} requested but CUDA is not available")
        device = torch.device(requested if ":" in requested else f"cuda:{env.local_rank}")
        torch.cuda.set_device(device)
        return device
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' requested but it is not available")
    return torch.device(requested)


def init_distributed(env: DistEnv, device: torch.device) -> None:
    if env.distributed and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if dist.is_initialized():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def allreduce_gradients(module: torch.nn.Module, world_size: int) -> None:
    """Average gradients over ranks (parameters without a gradient count as zero)."""
    params = [p for p in module.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset: offset + n].view_as(p).clone()
        offset += n


def allreduce_sum(values: list[float], device: torch.device) -> list[float]:
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def broadcast_int(value: int, device: torch.device) -> int:
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())
