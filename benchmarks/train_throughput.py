"""Images/s of GAN Studio's training loop (with its logging, EMA, samples and checkpoints)
against a plain PyTorch loop with the same networks and the seeds' / pytorch-examples recipe.

Both run in this one process, interleaved (plain, ours, ours, plain, ...), on the same data,
and the ratio of medians is printed; timings on shared machines are noisy, ratios less so.

    python benchmarks/train_throughput.py [--steps 150] [--repeats 3] [--device auto]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ganlib.config import TrainConfig  # noqa: E402
from ganlib.data import load_dataset  # noqa: E402
from ganlib.device import pick_device  # noqa: E402
from ganlib.models import build_models, model_kwargs  # noqa: E402
from ganlib.train.loop import train  # noqa: E402

WARMUP = 10


def plain_loop(cfg: TrainConfig, x: torch.Tensor, steps: int, device: torch.device) -> float:
    """pytorch/examples dcgan/main.py's loop with our networks; returns images/s after warm-up."""
    torch.manual_seed(0)
    G, D = build_models("dcgan", model_kwargs(cfg, tuple(x.shape[1:]), 0))
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    x = x.to(device)
    bs = cfg.batch_size
    perm = torch.randperm(len(x), device=device)
    t0 = None
    for i in range(steps + WARMUP):
        if i == WARMUP:
            t0 = time.perf_counter()
        j = (i * bs) % (len(x) - bs)
        real = x[perm[j:j + bs]]
        ones, zeros = torch.ones(bs, device=device), torch.zeros(bs, device=device)
        D.zero_grad()
        err_real = F.binary_cross_entropy_with_logits(D(real), ones)
        fake = G(torch.randn(bs, cfg.latent_dim, device=device))
        err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        (err_real + err_fake).backward()
        opt_d.step()
        G.zero_grad()
        F.binary_cross_entropy_with_logits(D(fake), ones).backward()
        opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * bs / (time.perf_counter() - t0)


def our_loop(cfg: TrainConfig, steps: int) -> float:
    """ganlib.train.loop.train with its defaults (logging, EMA, samples, checkpoint); images/s after warm-up."""
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
    a = p.parse_args()
    device = pick_device(a.device)
    cfg = TrainConfig(model="dcgan", dataset="mnist", batch_size=a.batch_size, device=str(device))
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
