"""Data-parallel training under ``torchrun``: who this process is, and how ranks agree.

``torchrun --nproc_per_node N -m toolkit train ...`` starts N processes with ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK`` and ``MASTER_ADDR``/``MASTER_PORT`` in their environment. Then:

- every rank loads the same data, seeds the same generators and so draws the same global index
  batches; each trains on its :func:`shard` of every batch, and DistributedDataParallel averages
  the gradients, so a step is the step one process would take on the whole batch;
- decisions that depend on the clock or on the validation score (the budget's progress, early
  stopping) are agreed: :meth:`World.agree_max` and :meth:`World.decide` (rank 0 decides);
- rank 0 evaluates and writes the run folder; the other ranks stay quiet and write nothing.

Without ``WORLD_SIZE > 1`` nothing here touches ``torch.distributed``: :data:`SINGLE` is the
one-process world, and the training loop takes its plain path.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from toolkit.errors import ToolkitError

StepFn = Callable[[torch.Tensor], torch.Tensor]  # index batch -> scalar loss
GO, STOP, ABORT = 0, 1, 2  # what rank 0 tells the others after an evaluation


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0  # global rank, 0..size-1; rank 0 evaluates and writes
    size: int = 1  # number of processes (WORLD_SIZE)
    local_rank: int = 0  # rank on this machine: picks cuda:LOCAL_RANK
    local_size: int = 1  # processes on this machine: they share its CPU threads
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # collectives'

    @classmethod
    def from_env(cls) -> World:
        """Read torchrun's variables; a missing or malformed one means a single process."""
        size = _env_int("WORLD_SIZE", 1)
        if size <= 1:
            return cls()
        rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
        if not 0 <= rank < size:
            raise ToolkitError(f"RANK={rank} is outside WORLD_SIZE={size}; launch with torchrun.")
        return cls(rank, size, local_rank, max(1, _env_int("LOCAL_WORLD_SIZE", 1)))

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def agree_max(self, value: float) -> float:
        """The largest ``value`` over all ranks (the budget's progress: all stop together)."""
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return float(t.item())

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a scalar tensor over all ranks (a copy on ``value``'s device)."""
        t = value.detach().to(self.device, torch.float64).reshape(1)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return (t / self.size).to(value.device, value.dtype).reshape(value.shape)

    def decide(self, code: int) -> int:
        """Rank 0's ``code`` (GO, STOP or ABORT) on every rank; the others' ``code`` is ignored."""
        t = torch.tensor([code], dtype=torch.int64, device=self.device)
        torch.distributed.broadcast(t, src=0)
        return int(t.item())

    def sync_state(self, modules: list[nn.Module]) -> None:
        """Copy rank 0's parameters and buffers into every rank's ``modules`` (in place)."""
        for m in modules:
            for tensor in (*m.parameters(), *m.buffers()):
                if self.device.type == tensor.device.type:
                    torch.distributed.broadcast(tensor.data, src=0)
                else:  # e.g. a CPU buffer of a CUDA model under NCCL
                    moved = tensor.data.to(self.device)
                    torch.distributed.broadcast(moved, src=0)
                    tensor.data.copy_(moved)


SINGLE = World()  # the default: one process, no torch.distributed


def shard(idx: torch.Tensor, rank: int, size: int) -> torch.Tensor:
    """This rank's contiguous part of a global index batch (sizes differ by at most one).

    Contiguous, not strided: a class-balanced batch (P classes x K images, in class order)
    keeps K images of each of its classes on a rank, so triplet/SupCon shards still hold
    positives.
    """
    if size == 1:
        return idx
    return idx.tensor_split(size)[rank]


def local_device(device: torch.device, world: World) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for CUDA, else ``device``."""
    if device.type != "cuda" or not world.distributed:
        return device
    if world.local_rank >= torch.cuda.device_count():
        raise ToolkitError(
            f"LOCAL_RANK={world.local_rank} but this machine has {torch.cuda.device_count()} "
            "CUDA device(s); start at most that many processes per machine (--nproc_per_node)."
        )
    return torch.device("cuda", world.local_rank)


@contextlib.contextmanager
def process_group(
    world: World, device: torch.device, timeout: datetime.timedelta | None = None
) -> Iterator[World]:
    """Join the ranks (gloo on CPU, NCCL on CUDA) for the ``with`` block, then leave.

    A process group that already exists (a caller made it, e.g. ``tk tune`` for all its
    trials) is used and left in place; one made here is destroyed on the way out, also on an
    error or Ctrl-C. ``timeout``: how long a collective waits for the other ranks (default:
    torch's, 30 minutes for gloo).
    """
    import torch.distributed as dist

    if not dist.is_available():
        raise ToolkitError("this torch build has no torch.distributed; train in one process.")
    owner = not dist.is_initialized()
    if owner:
        options: dict[str, datetime.timedelta] = {} if timeout is None else {"timeout": timeout}
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL's communicator binds to the current device
            dist.init_process_group("nccl", **options)
        else:
            dist.init_process_group("gloo", **options)
    if dist.get_world_size() != world.size or dist.get_rank() != world.rank:
        raise ToolkitError(
            f"the process group (rank {dist.get_rank()} of {dist.get_world_size()}) does not "
            f"match RANK={world.rank} WORLD_SIZE={world.size}."
        )
    backend = dist.get_backend()
    joined = World(
        world.rank,
        world.size,
        world.local_rank,
        world.local_size,
        device if backend == "nccl" else torch.device("cpu"),
    )
    finished = False
    try:
        yield joined
        finished = True
    finally:
        if owner and dist.is_initialized():
            if finished:
                # Leave together: a rank that tears gloo down while its peer still talks to it
                # can abort its peer ("terminate called without an active exception").
                dist.barrier()
            dist.destroy_process_group()


class StepModule(nn.Module):
    """What DDP wraps: a stage's modules, with the stage's step (index batch -> loss) as forward.

    DDP's gradient hooks sit on the parameters, so ``ddp(idx)`` followed by ``loss.backward()``
    averages the gradients of everything the step used over the ranks.
    """

    def __init__(self, modules: list[nn.Module], extra: list[nn.Parameter], step: StepFn) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.extra = nn.ParameterList(extra)  # e.g. a loss's own parameters
        self._step = step

    def forward(self, idx: torch.Tensor) -> torch.Tensor:  # (b,) this rank's indices -> ()
        return self._step(idx)


def wrap(
    modules: list[nn.Module],
    params: list[nn.Parameter],
    step: StepFn,
    world: World,
    device: torch.device,
) -> StepFn:
    """A step on this rank's shard of each global batch, with gradients averaged by DDP.

    ``params`` are all the stage's trained parameters; those outside ``modules`` (a loss's)
    are synchronised too. Every parameter that requires a gradient must get one each step.
    """
    from torch.nn.parallel import DistributedDataParallel

    owned = {id(p) for m in modules for p in m.parameters()}
    extra = [p for p in params if id(p) not in owned and p.requires_grad]
    ddp = DistributedDataParallel(
        StepModule(modules, extra, step),
        device_ids=[device.index] if device.type == "cuda" else None,
    )  # by default DDP also copies rank 0's buffers (BatchNorm statistics) at every forward

    def sharded(idx: torch.Tensor) -> torch.Tensor:
        return ddp(shard(idx, world.rank, world.size))

    return sharded


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
