"""Training speed with several processes (DDP): images/s for 1 and 2 processes on whatever devices exist,
the scaling efficiency from 1 to 2, and the fraction of step time spent in communication.

    python benchmarks/distributed.py                      # default DCGAN, 64 images per rank, auto device
    python benchmarks/distributed.py --device cpu --steps 20 --threads 1

Each process runs ganlib's own step (train.steps.build_step) wrapped in DistributedDataParallel
(train.distributed.wrap_nets) on its slice of the batches (ganlib.train.batches.BatchStream), exactly as
`torchrun -m ganlib train` does, minus logging. The batch per rank is fixed (weak scaling, as
multi-GPU figures are usually quoted): 2 processes train on twice the global batch.

`--batchnorm` measures instead what per-rank BatchNorm statistics change: the loss gap between 2 ranks
x 32 and 1 process x 64 (same data and noise), beside the gap of 1 process x 32, for the DCGAN (BatchNorm
in G and D) and for the MLP GAN on the ring (none).

Communication fraction: the same steps are timed once as in training and once with every net under
DDP's no_sync (no gradient all-reduce); (t_sync - t_local) / t_sync is the share of a step that the
all-reduce adds, i.e. the communication not hidden behind backward. Target on a multi-GPU machine:
scaling efficiency >= 90% from 1 to 2 GPUs. On this project's 2-core CPU the speed-up is not the
point (two processes share two cores with everything else), only that the machinery runs.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, args: argparse.Namespace, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(args.threads)
    import torch.distributed as dist

    from ganlib.config import TrainConfig
    from ganlib.models import model_kwargs
    from ganlib.train import distributed
    from ganlib.train.batches import BatchStream, autocast_dtype
    from ganlib.train.preflight import load_training_data
    from ganlib.train.steps import build_step

    w = distributed.setup()
    device = distributed.device_for(args.device, w)
    config = TrainConfig(model=args.model, dataset=args.dataset, batch_size=args.batch_per_rank * world,
                         device=args.device, amp=not args.no_amp)
    data = load_training_data(config)
    torch.manual_seed(0)
    kwargs = model_kwargs(config, data.shape, data.num_classes)
    step = build_step(config, kwargs, [data], device, autocast_dtype(config, device), 10_000)
    if w.distributed:
        distributed.wrap_nets(step, device)
    ddp_nets = [v for v in vars(step).values() if isinstance(v, torch.nn.parallel.DistributedDataParallel)]
    y = data.y.to(device) if data.y is not None else None
    stream = BatchStream(data.x.to(device), y, config.batch_size, 0, rank=w.rank, world=w.size)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if w.distributed:
            dist.barrier()

    def timed(n: int, local: bool) -> float:
        sync()
        t0 = time.perf_counter()
        for i in range(n):
            with ExitStack() as stack:
                for net in ddp_nets if local else []:
                    stack.enter_context(net.no_sync())
                step(stream, i, False)
        sync()
        return time.perf_counter() - t0

    timed(args.warmup, False)
    t_sync = t_local = float("inf")
    for _ in range(args.rounds):  # alternate, keep the best of each: a shared machine's noise only adds time
        t_sync = min(t_sync, timed(args.steps, False))
        t_local = min(t_local, timed(args.steps, True)) if w.distributed else t_sync
    if w.is_main:
        results.put({"world": world, "device": str(device), "t_sync": t_sync, "t_local": t_local,
                     "images_per_s": args.steps * config.batch_size / t_sync})
    distributed.shutdown(w)


def train_worker(rank: int, world: int, port: int, config_json: str, run_dir: str) -> None:
    """ganlib's loop on one rank (as torchrun would start it); ranks other than 0 write nothing."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from ganlib.config import TrainConfig
    from ganlib.train.loop import train

    train(TrainConfig.from_dict(__import__("json").loads(config_json)), run_dir)


def batchnorm_effect(args: argparse.Namespace) -> None:
    """Per-rank BatchNorm statistics, measured: how far 2 ranks x B/2 drift from 1 process x B (same data
    order and noise), against how far 1 process x B/2 drifts; the same without BatchNorm for reference."""
    import json
    import tempfile

    from ganlib.config import TrainConfig
    from ganlib.train import rundir
    from ganlib.train.loop import train

    def rows(run) -> list[dict]:
        return [r for r in rundir.read_metrics(run) if r.get("kind") == "train"]

    def gap(a, b) -> float:  # mean |difference| of the logged losses, step by step
        return sum(abs(x[k] - y[k]) for x, y in zip(a, b) for k in ("d_loss", "g_loss")) / (2 * len(a))

    tmp = Path(tempfile.mkdtemp())
    torch.set_num_threads(1)
    cases = {"DCGAN (BatchNorm in G and D)": dict(model="dcgan", dataset="mnist", width=16, amp=False),
             "MLP GAN on the ring (no BatchNorm)": dict(model="gan", dataset="toy-ring", width=16)}
    print(f"per-rank BatchNorm: mean |loss gap| over {args.bn_steps} steps against 1 process x {args.bn_batch}")
    for name, extra in cases.items():
        base = dict(extra, batch_size=args.bn_batch, max_steps=args.bn_steps, log_every=1, eval_every=0,
                    sample_every=10_000, checkpoint_every=10_000, device="cpu", subset=2048)
        one, half, two = tmp / f"{name[:4]}-one", tmp / f"{name[:4]}-half", tmp / f"{name[:4]}-two"
        train(TrainConfig(**base), one)
        train(TrainConfig(**dict(base, batch_size=args.bn_batch // 2)), half)
        mp.start_processes(train_worker, args=(2, free_port(), json.dumps(base), str(two)), nprocs=2,
                           start_method="spawn")
        print(f"  {name}: 2 ranks x {args.bn_batch // 2}: {gap(rows(two), rows(one)):.2e}; "
              f"1 process x {args.bn_batch // 2}: {gap(rows(half), rows(one)):.2e}")


def measure(world: int, args: argparse.Namespace) -> dict:
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    mp.start_processes(worker, args=(world, free_port(), args, results), nprocs=world, start_method="spawn")
    return results.get()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--device", default="auto", help="auto (cuda if present, else cpu), cpu or cuda")
    p.add_argument("--batch-per-rank", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="timed rounds of each kind (the best is kept)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    p.add_argument("--no-amp", action="store_true", help="full precision (default: bf16 autocast where it helps)")
    p.add_argument("--batchnorm", action="store_true", help="instead: measure per-rank BatchNorm's effect (CPU)")
    p.add_argument("--bn-steps", type=int, default=30)
    p.add_argument("--bn-batch", type=int, default=64)
    args = p.parse_args()
    if args.batchnorm:
        return batchnorm_effect(args)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    on_gpu = args.device.startswith("cuda") or (args.device == "auto" and gpus > 0)
    worlds = [1, 2] if (not on_gpu or gpus >= 2) else [1]
    print(f"{args.model} on {args.dataset}, {args.batch_per_rank} images per rank, best of {args.rounds} x "
          f"{args.steps} timed steps after {args.warmup}; {'GPU' if on_gpu else 'CPU'} ({gpus} GPU(s) here, {os.cpu_count()} CPU cores, "
          f"{args.threads} thread(s) per process)")
    base = None
    for world in worlds:
        r = measure(world, args)
        base = base or r["images_per_s"]
        comm = (r["t_sync"] - r["t_local"]) / r["t_sync"] if world > 1 else 0.0
        efficiency = r["images_per_s"] / (world * base)
        where = r["device"] if world == 1 or r["device"] == "cpu" else f"{r['device']} ... cuda:{world - 1}"
        print(f"{world} process(es) on {where}: {r['images_per_s']:8.1f} images/s, "
              f"{1000 * r['t_sync'] / args.steps:7.1f} ms/step, communication {100 * comm:5.1f}% of step time, "
              f"scaling efficiency {100 * efficiency:5.1f}%")
    if len(worlds) == 1:
        print("2 processes: skipped (fewer than 2 GPUs here; use --device cpu to run the machinery on the CPU)")


if __name__ == "__main__":
    main()
