"""Data-parallel training with ``torch.distributed``: what :func:`~biodae.nn.train.fit` needs.

Launched by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``), :func:`fit` joins the process group (gloo on the
CPU, NCCL on CUDA devices, one device per process: ``cuda:LOCAL_RANK``), wraps the model
in :class:`~torch.nn.parallel.DistributedDataParallel` and shards the data; without those
variables nothing here does anything and training runs in one process as before.

**Sharding keeps the optimisation of one process.** Every rank draws the same batch order
from ``(seed, epoch)``; each global batch of ``batch_size`` windows is split into
``world_size`` near-equal shards, one per rank, and each rank's loss is weighted by
``world_size × len(shard) / len(batch)``. DDP averages the gradients over the ranks, so
every step takes the gradient of the mean loss over the *whole* batch, as one process
would: the same ``--batch-size`` and learning rate mean the same training on 1 or N
processes (to float rounding), and a run can be resumed with another number of processes.
A rank whose shard is empty (a last batch smaller than the world) still takes part in the
step with weight 0. Validation is sharded the same way and its loss summed over the ranks,
so early stopping and the learning-rate schedule decide the same on every rank.

**Rank 0 alone** writes checkpoints, logs, shows progress and exports. Every checkpoint
records ``distributed = {"world_size", "backend", "rank_state_sha256"}``: the sha256 of each
rank's weights, gathered at the end of each epoch; they must all be equal (DDP keeps the
replicas in sync), and :func:`check_in_sync` raises on all ranks if they are not.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "world", "launched", "is_main_process", "shard", "all_sum", "check_in_sync", "state_sha256"]


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes (``size == 1``: alone)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher) as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Rank 0, or a process that is not part of a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def local_device(device: torch.device) -> torch.device:
    """The CUDA device of this process (``cuda:LOCAL_RANK``) when launched on GPUs, else ``device``."""
    if device.type == "cuda" and device.index is None and launched():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


@contextlib.contextmanager
def world(device: torch.device) -> Iterator[World]:
    """Join the process group for the duration of the block when launched by ``torchrun``.

    A group the caller initialised is used as it is (and left open); one this function
    initialises (``gloo`` for the CPU, ``nccl`` for CUDA) is destroyed on exit.
    """
    if dist.is_available() and dist.is_initialized():
        yield World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                    str(dist.get_backend()))
        return
    if not launched():
        yield World()
        return
    if not dist.is_available():  # pragma: no cover - torch built without distributed
        raise RuntimeError("this torch build has no torch.distributed; run in one process")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    try:
        yield World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), backend)
        # Normal exit only (a failed rank must not wait for the others). Once a model has been
        # wrapped in DistributedDataParallel, the gloo group and its worker threads outlive
        # destroy_process_group (torch 2.13; see pytorch/pytorch#107298, threads left after
        # destroy, and #179291, this abort). A worker that frees the last collective's tensors
        # needs the GIL; if the interpreter is already shutting down by then, the process aborts
        # ("terminate called without an active exception": 7 of 100 two-process runs of
        # tests/nn/ddp_fit.py). So: every rank's collectives end here, and the GIL is given up
        # for a moment (the barrier alone left 1 abort in 100 runs).
        dist.barrier()
        time.sleep(0.05)
    finally:
        dist.destroy_process_group()


def shard(indices: np.ndarray, w: World) -> tuple[np.ndarray, float]:
    """This rank's part of a global batch and the weight of its loss (see the module docstring).

    An empty share (fewer windows than ranks) comes back as the batch's first window with
    weight 0, so that the rank still joins the gradient all-reduce.
    """
    if not w.active:
        return indices, 1.0
    part = np.array_split(indices, w.size)[w.rank]
    if part.size == 0:
        return indices[:1], 0.0
    return part, w.size * part.size / indices.size


def all_sum(values: list[float], w: World, device: torch.device) -> list[float]:
    """Sum ``values`` over the ranks (in float64)."""
    if not w.active:
        return list(values)
    dev = device if w.backend == "nccl" else torch.device("cpu")
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def state_sha256(model: nn.Module) -> str:
    """sha256 of a model's weights and buffers (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        t = v.detach().to("cpu").contiguous()
        h.update(f"{k}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def check_in_sync(model: nn.Module, w: World) -> dict[str, Any] | None:
    """Gather every rank's :func:`state_sha256`; raise on every rank if they differ.

    Returns the ``distributed`` record of a checkpoint, or ``None`` for a single process.
    """
    if not w.active:
        return None
    digests: list[Any] = [None] * w.size
    dist.all_gather_object(digests, state_sha256(model))
    if len(set(digests)) != 1:
        raise RuntimeError(f"the {w.size} training processes hold different weights ({digests}): "
                           "the replicas went out of sync; report this with the command you ran")
    return {"world_size": w.size, "backend": w.backend, "rank_state_sha256": digests}
