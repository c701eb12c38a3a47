"""The baseline the benchmarks measure against: pytorch/examples `dcgan/main.py`'s training loop and
recipe (Adam lr 2e-4, betas (0.5, 0.999), batch 64, nz 100, BCE with the non-saturating G loss,
N(0, 0.02) init, fp32, no EMA), on GAN Studio's 28x28 DCGAN networks at the examples' width 64.

The examples' own nets are 64x64 (MNIST upscaled); at ~64 img/s on a 2-core CPU they would make any
comparison trivially favourable, so the baseline keeps our native 28x28 nets (~8x faster per image)
and differs from our recipe only in the recipe.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganlib.config import TrainConfig
from ganlib.models import build_models, model_kwargs

# the examples' recipe as TrainConfig fields (everything else as in TrainConfig's defaults)
EXAMPLES_RECIPE = dict(model="dcgan", loss="ns", width=64, batch_size=64, latent_dim=100, lr_g=2e-4, lr_d=2e-4,
                       beta1=0.5, beta2=0.999, n_critic=1, ema_decay=0.0, r1_gamma=0.0, label_smoothing=0.0,
                       grad_clip=0.0, spectral_norm=False, minibatch_std=False, minibatch_discrimination=False,
                       augment="", amp=False)


def examples_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**EXAMPLES_RECIPE, **overrides})


def plain_dcgan(x: torch.Tensor, device: torch.device, cfg: TrainConfig | None = None,
                seed: int = 0) -> Iterator[nn.Module]:
    """An endless pytorch/examples-style DCGAN loop over images x (N, 1, 28, 28) in [-1, 1].

    Yields G (in train mode) after every step; the caller decides when to stop, time or evaluate.
    """
    cfg = cfg or examples_config()
    torch.manual_seed(seed)
    G, D = build_models("dcgan", model_kwargs(cfg, tuple(x.shape[1:]), 0))
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    x = x.to(device)
    bs = cfg.batch_size
    ones, zeros = torch.ones(bs, device=device), torch.zeros(bs, device=device)
    while True:
        perm = torch.randperm(len(x), device=device)  # one epoch, last incomplete batch dropped
        for j in range(0, len(x) - bs + 1, bs):
            real = x[perm[j:j + bs]]
            D.zero_grad()
            err_real = F.binary_cross_entropy_with_logits(D(real), ones)
            fake = G(torch.randn(bs, cfg.latent_dim, device=device))
            err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            (err_real + err_fake).backward()
            opt_d.step()
            G.zero_grad()
            F.binary_cross_entropy_with_logits(D(fake), ones).backward()
            opt_g.step()
            yield G
