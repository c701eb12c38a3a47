"""Drawing samples from a trained generator."""
from __future__ import annotations

import torch
import torch.nn as nn


@torch.no_grad()
def generate(G: nn.Module, n: int, *, labels: torch.Tensor | None = None, seed: int | None = 0,
             device="cpu", batch_size: int = 500, truncation: float = 1.0) -> torch.Tensor:
    """n samples on the CPU: images (n, C, H, W) in [-1, 1] or points (n, 2).

    labels (n,) for conditional generators; truncation psi < 1 scales z toward its mean (0),
    the simple form of the truncation trick: less variety, higher typical quality.
    """
    if n < 1:
        raise ValueError("The number of samples must be at least 1.")
    if not 0 < truncation <= 1:
        raise ValueError("Truncation must be in (0, 1].")
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, G.latent_dim, generator=g) * truncation
    out = []
    G.eval()
    for i in range(0, n, batch_size):
        zb = z[i:i + batch_size].to(device)
        yb = labels[i:i + batch_size].to(device) if labels is not None else None
        out.append(G(zb, yb).float().cpu())
    return torch.cat(out)
