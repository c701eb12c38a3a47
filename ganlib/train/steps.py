"""Per-family training steps. The loop calls `step(next_batch)` once per generator update;
families differ only here (what is sampled, which losses, which nets update)."""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn as nn
from torch.func import functional_call

from .. import losses
from ..augment import diff_augment
from ..config import parse_augment
from ..models.layers import ema_update


def _grad_norm(params: list[torch.Tensor], clip: float) -> torch.Tensor:
    """Total L2 norm of the gradients; clips them to `clip` when clip > 0."""
    grads = [p for p in params if p.grad is not None]
    if clip > 0:
        return nn.utils.clip_grad_norm_(grads, clip)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in grads])))


class AdversarialStep:
    """D update(s) then one G update, for the unconditional and conditional image/point GANs.

    The seeds' recipe: D sees a real batch and a fake batch (detached), then G is updated through
    D on the same fakes with the non-saturating (or chosen) loss. Conditional fakes take the real
    batch's labels. With n_critic > 1, D takes that many updates,
    each on a fresh real batch, per G update (WGAN-GP practice).

    With unrolled_steps = k > 0 (Metz et al. 2017), G's loss is taken against D after k simulated
    updates on the same batch, differentiated through those updates; D's own weights never change.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_g, opt_d, config,
                 G_ema: nn.Module | None, device: torch.device, autocast_dtype: torch.dtype | None):
        self.G, self.D, self.opt_g, self.opt_d, self.cfg = G, D, opt_g, opt_d, config
        self.conditional = config.model == "cgan"
        self.G_ema, self.device = G_ema, device
        self.g_params = [p for p in G.parameters() if p.requires_grad]
        self.d_params = [p for p in D.parameters() if p.requires_grad]
        self.ema_params = list(G_ema.parameters()) if G_ema is not None else []
        # DiffAugment: D sees only augmented images, real and fake alike (images only, not 2-D points)
        self.policy = parse_augment(config.augment)
        self.autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
                         else nullcontext())

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy) if self.policy and x.dim() == 4 else x

    def unrolled_d(self, real: torch.Tensor, real_y, fake: torch.Tensor, fake_y, k: int) -> dict[str, torch.Tensor]:
        """D's parameters and buffers after k simulated Adam updates on (real, fake), for torch.func.functional_call.

        The updates keep their graph to `fake` (Metz et al. 2017, eq. 12: G sees how D would react);
        Adam's moments start from opt_d's and its step-size denominator is held constant (no gradient).
        D's own weights and buffers (BN statistics) are never touched: the copies are thrown away.
        """
        cfg, group = self.cfg, self.opt_d.param_groups[0]
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        params = dict(self.D.named_parameters())
        state = {n: self.opt_d.state.get(p, {}) for n, p in params.items()}
        t = {n: float(state[n].get("step", 0)) for n in params}
        m = {n: state[n]["exp_avg"].detach() if "exp_avg" in state[n] else torch.zeros_like(p) for n, p in params.items()}
        v = {n: state[n]["exp_avg_sq"].detach() if "exp_avg_sq" in state[n] else torch.zeros_like(p)
             for n, p in params.items()}
        w = {n: p.detach().requires_grad_(True) for n, p in params.items()}  # leaves: the graph starts here
        buffers = {n: b.clone() for n, b in self.D.named_buffers()}
        for _ in range(k):
            d_real = functional_call(self.D, {**w, **buffers}, (real, real_y)).float()
            d_fake = functional_call(self.D, {**w, **buffers}, (fake, fake_y)).float()
            loss = losses.d_loss(cfg.loss, d_real, d_fake, cfg.label_smoothing, cfg.two_sided_smoothing)
            grads = torch.autograd.grad(loss, list(w.values()), create_graph=True, allow_unused=True)
            for (n, p), g in zip(list(w.items()), grads):
                if g is None:
                    continue
                t[n] += 1
                m[n] = b1 * m[n] + (1 - b1) * g
                v[n] = b2 * v[n] + (1 - b2) * g.detach() ** 2
                denom = (v[n] / (1 - b2 ** t[n])).sqrt() + eps
                w[n] = p - lr * (m[n] / (1 - b1 ** t[n])) / denom
        return {**w, **buffers}

    def __call__(self, next_batch, step: int, want_grad_norms: bool) -> dict[str, torch.Tensor]:
        cfg, cond = self.cfg, self.conditional
        for i in range(cfg.n_critic):
            real, real_y = next_batch()
            real = self.augment(real)
            if cfg.r1_gamma > 0:
                real = real.detach().requires_grad_(True)
            real_y = real_y if cond else None
            z = torch.randn(real.shape[0], self.G.latent_dim, device=self.device)
            fake_y = real_y  # conditional fakes take the real labels: D must judge image-label fit
            last = i == cfg.n_critic - 1
            with self.autocast:
                # the last critic step's fakes keep their graph: the G step reuses them (seeds' recipe)
                with torch.set_grad_enabled(last):
                    fake = self.augment(self.G(z, fake_y))
                d_real = self.D(real, real_y).float()
                d_fake = self.D(fake.detach(), fake_y).float()
                d_loss = losses.d_loss(cfg.loss, d_real, d_fake, cfg.label_smoothing, cfg.two_sided_smoothing)
            if cfg.loss == "wgan-gp":
                d_loss = d_loss + cfg.gp_weight * losses.gradient_penalty(self.D, real, fake.float(), real_y)
            if cfg.r1_gamma > 0:
                d_loss = d_loss + cfg.r1_gamma / 2 * losses.r1_penalty(real, d_real)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            grad_norm_d = (_grad_norm(self.d_params, cfg.grad_clip)
                           if (want_grad_norms or cfg.grad_clip > 0) else None)
            self.opt_d.step()

        with self.autocast:
            if cfg.unrolled_steps > 0:
                future_d = self.unrolled_d(real.detach(), real_y, fake, fake_y, cfg.unrolled_steps)
                g_out = functional_call(self.D, future_d, (fake, fake_y)).float()
            else:
                g_out = self.D(fake, fake_y).float()
            g_loss = losses.g_loss(cfg.loss, g_out)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm_g = (_grad_norm(self.g_params, cfg.grad_clip)
                       if (want_grad_norms or cfg.grad_clip > 0) else None)
        self.opt_g.step()
        if self.G_ema is not None:
            # warm-up (as TF's ExponentialMovingAverage): early on, the average follows G closely
            ema_update(self.G_ema, self.G, min(cfg.ema_decay, (1 + step) / (10 + step)))

        stats = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                 "d_real": losses.d_output_mean(cfg.loss, d_real.detach()),
                 "d_fake": losses.d_output_mean(cfg.loss, d_fake.detach())}
        if want_grad_norms:
            stats["grad_norm_d"], stats["grad_norm_g"] = grad_norm_d.detach(), grad_norm_g.detach()
        return stats
