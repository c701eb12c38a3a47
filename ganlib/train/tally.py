"""What the loop keeps between logging steps: the mean of each step statistic (MetricsAccumulator) and, on
the device, the first step whose losses stopped being finite (FiniteWatch)."""
from __future__ import annotations

import math

import torch

from . import distributed


class MetricsAccumulator:
    """The mean of each step statistic (d_loss, g_loss, d_real, d_fake and any family's own) over the
    steps since the last logged row, and the images/s in between (pauses and evaluations left out).
    The loop and the 2-D arena log their "train" rows with it."""

    def __init__(self, step: int = 0, seconds: float = 0.0):
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0
        self.since_step, self.since_seconds = step, seconds

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for k, v in stats.items():
            if not k.startswith("grad_norm"):  # grad norms are the logged step's own
                self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.n += 1

    def exclude(self, seconds: float) -> None:
        """Leave `seconds` (an evaluation) out of the next row's images/s."""
        self.since_seconds += seconds

    def row(self, step: int, steps_per_epoch: int, seconds: float, stats: dict, optimizers: dict,
            world: distributed.World | None = None, batch_images: int | None = None) -> dict:
        """The "train" row at `step` (training seconds `seconds`); starts the next interval.
        `world`: the means are the global batch's (one collective); `batch_images`: images/s is logged."""
        sums = distributed.mean_over_ranks(self.sums, world) if world is not None else self.sums
        row = {"kind": "train", "step": step, "epoch": round(step / steps_per_epoch, 4), "time": round(seconds, 3)}
        row.update({k: float(v) / self.n for k, v in sums.items()})
        row["grad_norm_d"], row["grad_norm_g"] = float(stats["grad_norm_d"]), float(stats["grad_norm_g"])
        if batch_images is not None:
            dt = max(seconds - self.since_seconds, 1e-9)
            row["images_per_s"] = round((step - self.since_step) * batch_images / dt, 2)
        row["lr_d"] = optimizers["opt_d"].param_groups[0]["lr"]  # CycleGAN's decay
        row["lr_g"] = optimizers["opt_g"].param_groups[0]["lr"]
        self.sums, self.n, self.since_step, self.since_seconds = {}, 0, step, seconds
        return row


class Diverged(Exception):
    """The losses stopped being finite; str() is the one sentence for the status."""


def sync_every_step(device: torch.device) -> bool:
    """Whether the loop reads the losses on the host after every step. On a CPU that costs nothing; on a
    GPU it would stall the queue of kernels each step, so there the check waits for the next step that
    logs, draws, evaluates or saves (a NaN is still caught before any of those, with its exact step)."""
    return device.type == "cpu"


class FiniteWatch:
    """Remembers, on the device, the first step whose losses were not finite, without a host sync."""

    def __init__(self, device: torch.device):
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_losses = torch.zeros(2, device=device)

    def update(self, step: int, losses: torch.Tensor) -> None:
        """losses: [d_loss, g_loss] of this step (0-dim tensors stacked), still on the device."""
        newly_bad = (self.bad_step < 0) & ~torch.isfinite(losses).all()
        self.bad_step = torch.where(newly_bad, step, self.bad_step)
        self.bad_losses = torch.where(newly_bad, losses.detach().float(), self.bad_losses)

    def check(self) -> None:
        """Raises Diverged (one sentence) if any step since the start was not finite; syncs once."""
        bad_step = int(self.bad_step)
        if bad_step < 0:
            return
        d_l, g_l = self.bad_losses.tolist()
        which, value = ("D loss", d_l) if not math.isfinite(d_l) else ("G loss", g_l)
        raise Diverged(f"Training diverged: the {which} became {value} at step {bad_step}; the last good "
                        "checkpoint is kept — lower the learning rates or try another loss.")
