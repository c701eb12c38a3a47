"""GAN losses as small pure functions on discriminator outputs (logits / critic values).

d_*(real, fake) -> scalar loss for D; g_*(fake) -> scalar loss for G. `real`, `fake`: (N,).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_bce(real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0, fake_target: float = 0.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1); targets allow label smoothing."""
    return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
            + F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, fake_target)))


def g_minimax(fake: torch.Tensor) -> torch.Tensor:
    """G minimises log(1 - D(G(z))) = -softplus(logit): saturates when D wins early."""
    return -F.softplus(fake).mean()


def g_nonsaturating(fake: torch.Tensor) -> torch.Tensor:
    """G maximises log D(G(z)), i.e. minimises softplus(-logit) (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake).mean()


def d_lsgan(real: torch.Tensor, fake: torch.Tensor, real_target: float = 1.0, fake_target: float = 0.0) -> torch.Tensor:
    """Least squares (Mao et al. 2017, eq. 2 with a=0, b=1)."""
    return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * ((fake - fake_target) ** 2).mean()


def g_lsgan(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def d_wgan(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss E[D(G(z))] - E[D(x)] (Arjovsky et al. 2017); add gradient_penalty for WGAN-GP."""
    return fake.mean() - real.mean()


def g_wgan(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def d_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat (Gulrajani et al. 2017, eq. 3)."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = D(x_hat, labels) if labels is not None else D(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    # one norm per D output: a PacGAN D's input is a pack of samples
    return ((grad.reshape(out.shape[0], -1).norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(real: torch.Tensor, d_real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] on real data (Mescheder et al. 2018, eq. 9; weighted by gamma / 2).

    `real` must require grad and `d_real` = D(real) must have been computed from it.
    """
    (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
    return grad.float().pow(2).reshape(d_real.shape[0], -1).sum(1).mean()  # per D input (a pack under PacGAN)


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor, label_smoothing: float = 0.0,
           two_sided: bool = False) -> torch.Tensor:
    """The D loss of a named GAN loss ('ns', 'bce', 'lsgan', 'wgan-gp', 'hinge'), without any GP term."""
    real_t, fake_t = 1.0 - label_smoothing, (label_smoothing if two_sided else 0.0)
    if kind in ("ns", "bce"):
        return d_bce(real, fake, real_t, fake_t)
    if kind == "lsgan":
        return d_lsgan(real, fake, real_t, fake_t)
    if kind == "wgan-gp":
        return d_wgan(real, fake)
    if kind == "hinge":
        return d_hinge(real, fake)
    raise ValueError(f"Unknown loss {kind!r}.")


G_LOSSES = {"ns": g_nonsaturating, "bce": g_minimax, "lsgan": g_lsgan, "wgan-gp": g_wgan, "hinge": g_hinge}


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind not in G_LOSSES:
        raise ValueError(f"Unknown loss {kind!r}.")
    return G_LOSSES[kind](fake)


def d_output_mean(kind: str, out: torch.Tensor) -> torch.Tensor:
    """What 'D(x)' means for a loss: a probability for ns/bce, the raw score otherwise."""
    return torch.sigmoid(out).mean() if kind in ("ns", "bce") else out.mean()
