"""Per-family training steps. The loop calls `step(next_batch)` once per generator update;
families differ only here (what is sampled, which losses, which nets update)."""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn as nn

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
