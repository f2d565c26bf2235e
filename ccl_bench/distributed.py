"""Several processes through PyTorch's own engine (`torchrun`; NCCL on GPUs, gloo on CPUs): who am I,
which share of the work is mine, and gathering results to rank 0. Without torchrun everything here
degrades to one process (rank 0 of 1).

NVLink multicast stays off (`NCCL_NVLS_ENABLE=0`, `TORCH_SYMM_MEM_DISABLE_MULTICAST=1`,
`NVSHMEM_DISABLE_NVLS=1`) unless the caller set those variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world() -> World:
    """The process group torchrun describes (initialised on first use), or a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        for k, v in SAFE_ENV.items():
            os.environ.setdefault(k, v)
        use_cuda = torch.cuda.is_available() and os.environ.get("CCL_BENCH_DIST_BACKEND", "") != "gloo"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def device_for(w: World, requested: str | None) -> str:
    """This rank's device: its own GPU under torchrun, else what was asked (default: cuda if any)."""
    from .validate import device

    requested = device(requested)  # an unknown or absent device is refused here, before any work
    if requested:
        return f"cuda:{w.local_rank}" if requested == "cuda" and w.active else requested
    if torch.cuda.is_available():
        return f"cuda:{w.local_rank}" if w.active else "cuda"
    return "cpu"


def my_share(n: int, w: World) -> list[int]:
    """Indices `rank, rank + size, ...` of `n` items."""
    return list(range(w.rank, n, w.size))


def gather_to_main(obj, w: World) -> list | None:
    """Every rank's `obj`, in rank order, on rank 0 (None elsewhere)."""
    if not w.active:
        return [obj]
    out = [None] * w.size if w.main else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_from_main(obj, w: World):
    if not w.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(w: World) -> None:
    if w.active:
        dist.barrier()
