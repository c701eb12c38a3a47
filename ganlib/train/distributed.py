"""Training on several processes: PyTorch's own launcher (torchrun) and DistributedDataParallel.

    torchrun --nproc_per_node=2 -m ganlib train --model dcgan --dataset mnist --out runs/ddp

torchrun sets RANK, LOCAL_RANK, WORLD_SIZE and MASTER_ADDR/PORT; `setup()` reads them and joins the
process group (Gloo for CPU tensors, NCCL for CUDA tensors), and the loop then

- puts each rank on its own device (cuda:LOCAL_RANK; the CPU for --device cpu),
- wraps every trained net of the step in DistributedDataParallel (`wrap_nets`: generic over
  `step.nets`, so a new family only has to call its nets through the step's attributes),
- gives each rank its slice of every global batch (same permutation everywhere, so resume is exact
  with any number of processes) and of every noise batch (`shard_randn`),
- lets rank 0 alone write the run directory, and agrees on pause / stop at logging steps.

--batch-size is the GLOBAL batch: N processes each take batch_size / N, so the learning rates mean
what they mean in one process and a run can resume with a different number of processes.
BatchNorm keeps per-rank statistics (SyncBatchNorm is CUDA-only and costs a collective per layer);
running statistics are averaged over the ranks before samples, evaluations and checkpoints.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn

from . import rundir
from .procs import pid_alive

FAILED_KEY = "ganlib/failed/"   # + rank: a rank's last words in torchrun's rendezvous store


@dataclass
class World:
    """Where this process stands among the training processes (one process: rank 0 of 1)."""
    rank: int = 0
    local_rank: int = 0
    size: int = 1
    owns_group: bool = False                       # we initialised the process group, so we destroy it
    members: list = field(default_factory=list)    # [{"host", "pid"}] of every rank (rank 0 keeps it)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> World:
    """The World torchrun describes in the environment, with the process group joined; World() without it."""
    if dist.is_available() and dist.is_initialized():
        world = World(dist.get_rank(), int(os.environ.get("LOCAL_RANK", dist.get_rank())), dist.get_world_size())
    else:
        size = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if size <= 1 or not dist.is_available():
            return World()
        # CPU tensors (control messages, Gloo) and CUDA tensors (gradients, NCCL) in one group
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        # a long timeout: rank 0 evaluates or saves while the others wait at the next collective
        dist.init_process_group(backend, timeout=timedelta(minutes=30))
        world = World(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size(), owns_group=True)
    if world.distributed:
        members: list = [None] * world.size
        dist.all_gather_object(members, {"host": socket.gethostname(), "pid": os.getpid()})
        world.members = members
    return world


def shutdown(world: World) -> None:
    """Leave training together: every rank waits for the others at a barrier, and the process group is
    destroyed if we created it. Rank 0 still evaluates and saves after the last step; a rank that tore its
    Gloo group down meanwhile could abort at exit ("terminate called without an active exception", seen
    in CI, once with our group and once with a caller's), so the barrier holds whoever owns the group:
    train() returns on every rank only when every rank is done."""
    if not (world.distributed and dist.is_available() and dist.is_initialized()):
        return
    try:
        dist.barrier()
    finally:
        if world.owns_group:
            dist.destroy_process_group()


def device_for(name: str, world: World) -> torch.device:
    """This rank's device: under torchrun each process takes the GPU of its local rank (cuda:LOCAL_RANK)."""
    from ..device import pick_device

    device = pick_device(name)
    if not world.distributed:
        return device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ValueError(f"torchrun started more processes on this machine than it has GPUs "
                             f"({torch.cuda.device_count()}); give --nproc_per_node {torch.cuda.device_count()} or fewer.")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        return device
    if device.type == "mps":
        raise ValueError("Several processes cannot share one Apple GPU (mps); use --device cpu or one process.")
    return device


def broadcast_object(obj, world: World):
    """rank 0's `obj` on every rank (pickled through the CPU group)."""
    if not world.distributed:
        return obj
    box = [obj if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard_randn(n: int, *shape: int, device) -> torch.Tensor:
    """torch.randn(n, *shape) as this rank's share of a global batch of n * world_size.

    Every rank draws the whole batch's noise from the same RNG state and keeps its slice, so N ranks
    x n see exactly the noise one process x N*n sees, and the RNG stays identical on every rank
    (a checkpoint's RNG state then resumes any number of processes). One process: plain randn.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return torch.randn(n, *shape, device=device)
    rank, size = dist.get_rank(), dist.get_world_size()
    return torch.randn(n * size, *shape, device=device)[rank * n:(rank + 1) * n]


@contextmanager
def discarded_grads(net: nn.Module):
    """A context for passes through `net` whose weight gradients would be thrown away before its next
    update (D inside G's step). Gradients still flow through it to its inputs. One process: its weights
    are constants inside, so their gradients are never computed (G's gradients are the same bit for
    bit; a 2-D arena step 1.03x faster). DDP: no_sync, so they stay on this rank instead (its hooks
    expect them)."""
    if isinstance(net, nn.parallel.DistributedDataParallel):
        with net.no_sync():
            yield
        return
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def unwrap(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net


def wrap_nets(step, device: torch.device) -> None:
    """Wrap every trained net of `step` in DistributedDataParallel, in place.

    `step.nets` keeps the plain modules (checkpoints, EMA, sampling); every attribute of the step
    that held one of them now holds its DDP wrapper, so the step's forward passes average gradients
    over the ranks in backward. A step must call its nets through those attributes (not through a
    submodule such as G.mapping, which would bypass DDP; `check_in_sync` catches that).
    """
    import inspect

    # per-rank BatchNorm statistics, averaged at sync points (average_buffers) instead of a broadcast per forward
    newer = "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
    no_buffer_sync = {"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}
    wrapped = {}
    for net in step.nets.values():
        if any(p.requires_grad for p in net.parameters()):
            wrapped[id(net)] = nn.parallel.DistributedDataParallel(
                net, device_ids=[device.index] if device.type == "cuda" else None, **no_buffer_sync)
    for attr, value in list(vars(step).items()):
        if id(value) in wrapped:
            setattr(step, attr, wrapped[id(value)])


@torch.no_grad()
def average_buffers(step, world: World) -> None:
    """Average the floating-point buffers (BatchNorm running statistics) of every net and EMA over
    the ranks, so samples, evaluations, checkpoints and the EMA are identical on every rank."""
    if not world.distributed:
        return
    modules = list(step.nets.values()) + [m for m in step.emas.values() if m is not None]
    for module in modules:
        for b in module.buffers():
            if b.is_floating_point():
                dist.all_reduce(b)
                b.div_(world.size)


@torch.no_grad()
def check_in_sync(step, world: World, at_step: int) -> None:
    """Raise if a net's parameters differ across ranks (a step that bypassed DDP); one small collective."""
    if not world.distributed:
        return
    sums = []
    for module in list(step.nets.values()) + [m for m in step.emas.values() if m is not None]:
        params = [p.detach().double() for p in module.parameters()]
        sums.append(sum((p.sum() + (p * p).sum()) for p in params) if params else torch.zeros((), dtype=torch.float64))
    local = torch.stack([torch.as_tensor(s, dtype=torch.float64).cpu() for s in sums])
    low, high = local.clone(), local.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    names = list(step.nets) + [k for k, m in step.emas.items() if m is not None]
    for name, lo, hi in zip(names, low.tolist(), high.tolist()):
        if abs(hi - lo) > 1e-9 * max(1.0, abs(hi)):
            raise RuntimeError(f"The ranks' copies of {name} differ at step {at_step}: the step called a net "
                               "outside its DistributedDataParallel wrapper.")


@torch.no_grad()
def mean_over_ranks(stats: dict[str, torch.Tensor], world: World) -> dict[str, torch.Tensor]:
    """Each scalar statistic averaged over the ranks (one collective): the global batch's losses."""
    if not world.distributed or not stats:
        return stats
    keys = list(stats)  # the same order on every rank
    values = torch.stack([stats[k].detach().float().reshape(()) for k in keys])
    dist.all_reduce(values)
    values /= world.size
    return dict(zip(keys, values))


RUN, PAUSE, STOP = 0, 1, 2


def agree(world: World, command: int, images_per_s: float) -> tuple[int, list[float]]:
    """One collective at a logging step: (the strongest command any rank asks for, each rank's images/s)."""
    table = torch.zeros(world.size, 2, dtype=torch.float64)
    table[world.rank] = torch.tensor([command, images_per_s], dtype=torch.float64)
    dist.all_reduce(table)  # each rank filled its own row
    return int(table[:, 0].max()), [round(v, 2) for v in table[:, 1].tolist()]


# ---------------------------------------------------------------- a rank that dies

def _store():
    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # noqa: BLE001 - no store, no last words
        return None


def report_failure(world: World, step: int, error: BaseException) -> None:
    """A non-zero rank's last words: what failed and at which step, for rank 0 to write into status.json."""
    store = _store()
    if not world.distributed or store is None:
        return
    try:
        store.set(f"{FAILED_KEY}{world.rank}", json.dumps({"step": step, "error": f"{type(error).__name__}: {error}"}))
    except Exception:  # noqa: BLE001 - best effort: the store may be gone too
        pass


class RankWatch:
    """Rank 0's watch over the other ranks (a daemon thread): a rank that raised leaves its last
    words in the store; a rank on this machine that was killed is a dead pid. Either way `failure`
    becomes one sentence naming the rank and the step, and `on_failure(sentence)` is called once."""

    def __init__(self, world: World, run_dir, current_step, on_failure, interval: float = 0.5):
        self.world, self.current_step, self.on_failure, self.interval = world, current_step, on_failure, interval
        self.run_dir = run_dir  # rank 0's: the failure sentence says what resuming it will do
        self.failure: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ganlib-rank-watch")

    def start(self) -> "RankWatch":
        if self.world.distributed and self.world.is_main:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> str | None:
        """The failure sentence if another rank has failed, else None."""
        if self.failure is not None:
            return self.failure
        store, host = _store(), socket.gethostname()
        for rank, member in enumerate(self.world.members):
            if rank == self.world.rank:
                continue
            words = None
            if store is not None:
                try:
                    if store.check([f"{FAILED_KEY}{rank}"]):
                        words = json.loads(store.get(f"{FAILED_KEY}{rank}"))
                except Exception:  # noqa: BLE001 - a store that went away tells us nothing
                    store = None
            if words is not None:
                self.failure = (f"Rank {rank} of {self.world.size} failed at step {words['step']} "
                                f"({words['error']}); {rundir.resume_clause(self.run_dir)} with any number of "
                                "processes.")
            elif member.get("host") == host and not pid_alive(member.get("pid")):
                self.failure = (f"Rank {rank} of {self.world.size} (pid {member.get('pid')}) died at step "
                                f"{self.current_step()}; {rundir.resume_clause(self.run_dir)} with any number "
                                "of processes.")
            if self.failure is not None:
                return self.failure
        return None

    def wait_for_failure(self, seconds: float) -> str | None:
        """check() for up to `seconds` (a collective error often arrives before the peer's last words)."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.check()
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.check() is not None:
                if not self._stop.is_set():  # the main thread, once it knows, writes the status itself
                    self.on_failure(self.failure)
                return
