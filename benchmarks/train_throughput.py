"""Images/s of GAN Studio's training loop (with its logging, samples and checkpoints) against a plain
PyTorch loop (pytorch/examples dcgan/main.py, see baseline.py) with the same networks and recipe.

Both run the examples' recipe (width 64, batch 64, fp32, no EMA), so the ratio is the cost of our loop
itself, not of a different recipe (benchmarks/time_to_quality.py compares recipes). Both run in this
one process, interleaved (plain, ours, ours, plain, ...), on the same data, and the ratio of medians is
printed; timings on shared machines are noisy, ratios less so.

    python benchmarks/train_throughput.py [--steps 150] [--repeats 3] [--device auto] [--ema]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import examples_config, plain_dcgan  # noqa: E402

from ganlib.config import TrainConfig  # noqa: E402
from ganlib.data import load_dataset  # noqa: E402
from ganlib.device import pick_device  # noqa: E402
from ganlib.train.loop import train  # noqa: E402

WARMUP = 10


def plain_loop(cfg: TrainConfig, x: torch.Tensor, steps: int, device: torch.device) -> float:
    """The pytorch/examples loop with our networks; returns images/s after warm-up."""
    loop = plain_dcgan(x, device, cfg)
    for _ in range(WARMUP):
        next(loop)
    t0 = time.perf_counter()
    for _ in range(steps):
        next(loop)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * cfg.batch_size / (time.perf_counter() - t0)


def our_loop(cfg: TrainConfig, steps: int) -> float:
    """ganlib.train.loop.train (logging, samples, checkpoints) on the same recipe; images/s after warm-up."""
    marks = {}

    def progress(step, total, row):
        if step == WARMUP:
            marks["t0"] = time.perf_counter()
        if step == total:
            marks["t1"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(**{**cfg.__dict__, "max_steps": steps + WARMUP})
        train(cfg, Path(tmp) / "run", progress_fn=progress)
    return steps * cfg.batch_size / (marks["t1"] - marks["t0"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--ema", action="store_true", help="let our loop also keep an EMA of G (0.999), as it does by default")
    a = p.parse_args()
    device = pick_device(a.device)
    cfg = examples_config(dataset="mnist", batch_size=a.batch_size, device=str(device),
                          ema_decay=0.999 if a.ema else 0.0)
    x = load_dataset("mnist").x
    plain, ours = [], []
    for r in range(a.repeats):
        # alternate which goes first, so a drift in machine load does not favour one side
        if r % 2 == 0:
            plain.append(plain_loop(cfg, x, a.steps, device))
            ours.append(our_loop(cfg, a.steps))
        else:
            ours.append(our_loop(cfg, a.steps))
            plain.append(plain_loop(cfg, x, a.steps, device))
        print(f"repeat {r + 1}: plain {plain[-1]:7.1f} img/s   ours {ours[-1]:7.1f} img/s", flush=True)
    mp, mo = statistics.median(plain), statistics.median(ours)
    print(f"device {device}, DCGAN 28x28 width {cfg.width}, batch {cfg.batch_size}, {a.steps} timed steps x {a.repeats}")
    print(f"median images/s: plain loop {mp:.1f}, GAN Studio loop {mo:.1f}; ratio ours/plain = {mo / mp:.3f} "
          f"({(1 - mo / mp) * 100:+.1f}% overhead)")


if __name__ == "__main__":
    main()
