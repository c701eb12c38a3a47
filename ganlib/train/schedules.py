"""How fast the nets learn, step by step: Adam as the recipes use it, the learning-rate decay, R1's weight, the
EMA's decay, gradient norms. Pure functions of (config, step), shared by every family's step and the arena."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import field_applies


def make_adam(params, lr: float, config) -> torch.optim.Adam:
    """Adam with the config's betas, foreach: one loop over all tensors, which PyTorch only defaults to
    on CUDA (faster on a CPU too). PyTorch's fused kernel made single steps faster but whole runs no
    faster, and they landed elsewhere, so the measured recipes keep foreach (figures: README, "Adam")."""
    return torch.optim.Adam(params, lr=lr, betas=(config.beta1, config.beta2), foreach=True)


def set_learning_rates(opt_g, opt_d, cfg, factor: float) -> None:
    """G's and D's Adam learning rates at `factor` times the config's (a schedule's value at this step)."""
    opt_g.param_groups[0]["lr"] = cfg.lr_g * factor
    opt_d.param_groups[0]["lr"] = cfg.lr_d * factor


def decay_start(total_steps: int, fraction: float) -> int:
    """The first step of the learning-rate decay over the last `fraction` of total_steps."""
    return int(total_steps * (1.0 - fraction) + 1e-9)  # floor, as CycleGAN's total // 2


def lr_factor(step: int, total_steps: int, fraction: float) -> float:
    """Learning-rate factor at `step`: 1, then over the last `fraction` of total_steps linearly down to
    2/(n+1) at the last step, 1/(n+1) after it (fraction 0.5 is CycleGAN's schedule)."""
    start = decay_start(total_steps, fraction)
    n = total_steps - start
    if n <= 0 or fraction <= 0:
        return 1.0
    return 1.0 - min(max(0, step - start), n) / float(n + 1)


def r1_weight(cfg, step: int, total_steps: int) -> float:
    """R1's weight at `step`: r1_gamma, times r1_late from the first step of the learning-rate decay on.

    R1 (Mescheder et al. 2018) flattens D around every real point: that is what lets the game settle on
    all 25 modes of the grid, but it also leaves D blind to a generated mode sitting a std or two off its
    real one, and the decay freezes that error in. Dropping R1 once the modes are found and the rates
    start to fall (r1_late 0) lets D see the offsets while G can still move (more samples of high quality
    on the grid: benchmarks/mode_collapse.py, README's Mode-collapse lab), and the second half runs without
    R1's double backward.
    """
    if cfg.lr_decay > 0 and step >= decay_start(total_steps, cfg.lr_decay):
        return cfg.r1_gamma * cfg.r1_late
    return cfg.r1_gamma


def ema_decay_at(cfg, step: int) -> float:
    """The EMA's decay after `step`: config.ema_decay, lower early on so the average is not stuck behind G's
    first weights. With ema_rampup = r > 0 (stylegan2-ada's ema_rampup) the average's half-life is at most
    r times the images seen so far, i.e. r * (step + 1) steps; with 0, TF's warm-up (1 + step) / (10 + step)."""
    if cfg.ema_rampup > 0 and field_applies("ema_rampup", cfg.model):
        return min(cfg.ema_decay, 0.5 ** (1.0 / (cfg.ema_rampup * (step + 1))))
    return min(cfg.ema_decay, (1 + step) / (10 + step))


def grad_norm(params: list[torch.Tensor], clip: float) -> torch.Tensor:
    """Total L2 norm of the gradients; clips them to `clip` when clip > 0."""
    grads = [p for p in params if p.grad is not None]
    if clip > 0:
        return nn.utils.clip_grad_norm_(grads, clip)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in grads])))
