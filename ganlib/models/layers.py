"""Blocks shared by the model families: init, spectral-norm switch, minibatch tricks, EMA."""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn


def init_weights(module: nn.Module) -> None:
    """DCGAN init (Radford et al.): conv/linear weights ~ N(0, 0.02), norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0)


def sn(module: nn.Module, on: bool) -> nn.Module:
    """Wrap a layer in spectral normalisation (Miyato et al. 2018) when `on`."""
    return nn.utils.parametrizations.spectral_norm(module) if on else module


def norm2d(kind: str, channels: int) -> nn.Module:
    """'batch' for the DCGAN recipe; 'layer' where per-sample gradients matter (WGAN-GP); 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class MinibatchStd(nn.Module):
    """Appends the mean std across the batch as one extra channel (Karras et al. 2018)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C+1, H, W)
        std = x.float().std(dim=0, unbiased=False).mean().to(x.dtype)
        return torch.cat([x, std.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, sec. 3.2: features saying how close each sample is to the others."""

    def __init__(self, in_features: int, n_kernels: int = 32, kernel_dim: int = 8):
        super().__init__()
        self.n_kernels, self.kernel_dim = n_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, n_kernels * kernel_dim) * 0.02)

    def forward(self, x: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """(N, A) -> (N, A + n_kernels). With `reference` (M, A), each row of x is compared with the
        reference rows instead of the rest of x: what x would get in a batch with them (no N x N cost)."""
        m = (x @ self.T).view(-1, self.n_kernels, self.kernel_dim)         # (N, B, C)
        if reference is not None:
            r = (reference @ self.T).view(-1, self.n_kernels, self.kernel_dim)  # (M, B, C)
            dist = (m.unsqueeze(1) - r.unsqueeze(0)).abs().sum(-1)         # (N, M, B)
            return torch.cat([x, torch.exp(-dist).sum(1)], dim=1)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(-1)             # (N, N, B)
        o = torch.exp(-dist).sum(1) - 1.0                                  # exclude self: exp(0) = 1
        return torch.cat([x, o], dim=1)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model; buffers (BN statistics) are copied."""
    torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()], 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def make_ema(model: nn.Module) -> nn.Module:
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


class MixtureLatent(nn.Module):
    """DeLiGAN's latent (Gurumurthy et al. 2017, eq. 3-4): z ~ N(0, I) becomes mu_k + sigma_k * eps, a mixture
    of K equally likely Gaussians whose means and spreads G learns.

    A continuous G fed one Gaussian must put some of its mass between the modes of a disconnected
    target (Khayatkhoei et al. 2018): the points in transit that keep a GAN's share of high-quality
    samples on the 25-mode grid near 90%. A mixture has gaps between its components where G can jump
    from one mode to the next without drawing points in between (measured on the grid: points over 6
    std from any mode fall from 5.6% to 1.4-3.7%; each mode still draws on 10-30 of 50 components, so
    the components do not split one per mode).

    Both the component and eps come from z itself, so G stays a function of z (fixed noise, EMA,
    sampling and the latent explorer need nothing new): Phi(z_0) * K is uniform on [0, K), its integer
    part picks k (each with probability 1/K) and its fractional part, mapped back through Phi^-1,
    replaces z_0 in eps, which is therefore N(0, I) and independent of k. Means start uniform in
    [-1, 1], spreads at `sigma`. DeLiGAN's penalty keeping sigma near 1 is left out: it is there to keep
    image samples varied; on 2-D mixtures the spread within a mode is D's to judge.
    """

    def __init__(self, latent_dim: int, components: int, sigma: float = 0.5):
        super().__init__()
        self.components = components
        self.mu = nn.Parameter(torch.rand(components, latent_dim) * 2 - 1)
        self.log_sigma = nn.Parameter(torch.full((components, latent_dim), math.log(sigma)))

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(component k (N,), eps (N, latent_dim) ~ N(0, I) independent of k) for latents z (N, latent_dim)."""
        u = torch.special.ndtr(z[:, 0].float()) * self.components
        k = u.floor().clamp_(0, self.components - 1)
        first = torch.special.ndtri((u - k).clamp(1e-6, 1 - 1e-6)).to(z.dtype)
        return k.long(), torch.cat([first[:, None], z[:, 1:]], 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k, eps = self.split(z)
        return self.mu[k] + self.log_sigma[k].exp() * eps
