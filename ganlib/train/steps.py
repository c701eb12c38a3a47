"""Per-family training steps. The loop calls `step(next_batch, step, want_grad_norms)` once per
generator update; families differ only here (what is sampled, which losses, which nets update).

Every step owns its networks and optimisers and tells the loop what to save and show:
`nets` (trained networks by checkpoint key), `emas` (EMA copies by key, None when off),
`optimizers` (by key), `extra_state()` / `load_extra_state(ckpt)` (anything else a resume needs),
`sample_grid()` (the fixed-input picture for samples/) and `sampler` (the generator that periodic
evaluation samples, or None where none applies). `build_step` makes the step a config asks for;
`next_batch()` returns (x, y) for one-domain families and ((x_a, y_a), (x_b, y_b)) for CycleGAN.

Several processes (torchrun): the loop wraps each net of `nets` in DistributedDataParallel by
replacing the step's attributes that hold it (distributed.wrap_nets). So a step must (1) call its
nets through those attributes, never through a submodule, (2) read attributes such as latent_dim
from `nets` or its own copies (a DDP wrapper does not forward them), (3) draw batch-sized noise with
distributed.shard_randn, and (4) run a D whose gradient it throws away (D inside G's step) under
distributed.discarded_grads(D). With one process the first three are no-ops and the fourth freezes
D's weights.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn as nn
from torch.func import functional_call

from .. import losses
from ..augment import diff_augment
from ..config import field_applies, parse_augment
from ..families import family
from ..models import build_discriminator, build_generator, build_models
from ..metrics.classifier import load_classifier
from ..models.cyclegan import ImagePool, cycle_loss, identity_loss, linear_decay, semantic_loss, shape_loss
from ..models.layers import ema_update, make_ema
from .distributed import discarded_grads, shard_randn, unwrap
from .schedules import (ema_decay_at, grad_norm, lr_factor, make_adam, r1_weight,
                        set_learning_rates)


def build_step(config, kwargs: dict, datas: list, device: torch.device,
               autocast_dtype: torch.dtype | None, total_steps: int):
    """The step for config.model with freshly initialised networks (call after torch.manual_seed).

    `datas`: the GanData of each domain the family trains on (one, or two for CycleGAN).
    """
    # each family's own step class; a table here, as ganlib.families sits below train and cannot import it
    own_step = {"cyclegan": CycleGANStep, "stylegan": StyleGANStep}.get(config.model)
    if own_step is not None:
        return own_step(config, kwargs, *datas, device, autocast_dtype, total_steps)  # CycleGAN: two datas
    G, D = build_models(config.model, kwargs)
    G, D = G.to(device), D.to(device)
    opt_g, opt_d = make_adam(G.parameters(), config.lr_g, config), make_adam(D.parameters(), config.lr_d, config)
    G_ema = make_ema(G) if config.ema_decay > 0 else None
    step = AdversarialStep(G, D, opt_g, opt_d, config, G_ema, device, autocast_dtype, total_steps)
    step.set_fixed_inputs(datas[0])
    return step


class AdversarialStep:
    """D update(s) then one G update, for the unconditional and conditional image/point GANs.

    The seeds' recipe: D sees a real batch and a fake batch (detached), then G is updated through
    D on the same fakes with the non-saturating (or chosen) loss. Conditional fakes take the real
    batch's labels. With n_critic > 1, D takes that many updates,
    each on a fresh real batch, per G update (WGAN-GP practice). With g_steps = k > 1, G takes k updates (each on
    fresh fakes) per D update: G over-trained against a D that stands still runs to the few images D likes best,
    Goodfellow's "Helvetica scenario" (NIPS 2016 tutorial), a cause of mode collapse to show a class.

    With unrolled_steps = k > 0 (Metz et al. 2017), G's loss is taken against D after k simulated
    updates on the same batch, differentiated through those updates; D's own weights never change.

    With lr_decay = f > 0, both learning rates fall linearly to ~0 over the last f of total_steps.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_g, opt_d, config,
                 G_ema: nn.Module | None, device: torch.device, autocast_dtype: torch.dtype | None,
                 total_steps: int = 0):
        self.G, self.D, self.opt_g, self.opt_d, self.cfg = G, D, opt_g, opt_d, config
        self.total_steps = total_steps
        self.conditional = family(config.model).conditional
        self.G_ema, self.device = G_ema, device
        self.latent_dim = G.latent_dim
        self.g_params = [p for p in G.parameters() if p.requires_grad]
        self.d_params = [p for p in D.parameters() if p.requires_grad]
        self.ema_params = list(G_ema.parameters()) if G_ema is not None else []
        # DiffAugment: D sees only augmented images, real and fake alike (images only, not 2-D points)
        self.policy = parse_augment(config.augment)
        self.autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
                         else nullcontext())
        self.nets = {"G": G, "D": D}
        self.emas = {"G_ema": G_ema}
        self.optimizers = {"opt_g": opt_g, "opt_d": opt_d}
        self.sampler = G_ema if G_ema is not None else G
        self.fixed_noise, self.fixed_labels, self.data = None, None, None

    def set_fixed_inputs(self, data) -> None:
        """The fixed noise (and labels) every sample grid shows, seeded by config.seed + 1."""
        cfg = self.cfg
        self.data = data
        n_fixed = cfg.n_fixed if data.is_image else max(cfg.n_fixed, 1000)  # scatters need more points
        g = torch.Generator().manual_seed(cfg.seed + 1)
        self.fixed_noise = torch.randn(n_fixed, cfg.latent_dim, generator=g)
        self.fixed_labels = torch.arange(n_fixed) % data.num_classes if self.conditional else None

    def extra_state(self) -> dict:
        return {"fixed_noise": self.fixed_noise,
                "fixed_labels": self.fixed_labels if self.fixed_labels is not None else torch.zeros(0, dtype=torch.long)}

    def load_extra_state(self, ckpt: dict) -> None:
        pass  # the fixed noise is re-made from the seed

    @torch.no_grad()
    def sample_grid(self) -> tuple[torch.Tensor, int | None]:
        """(the sampler's images or points for the fixed noise, grid row length)."""
        was_training = self.sampler.training
        self.sampler.eval()
        labels = self.fixed_labels.to(self.device) if self.fixed_labels is not None else None
        out = self.sampler(self.fixed_noise.to(self.device), labels)
        self.sampler.train(was_training)
        return out.float().cpu(), (self.data.num_classes if self.fixed_labels is not None else None)

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
        D = unwrap(self.D)  # simulated updates of the plain module: nothing here is averaged over ranks
        params = dict(D.named_parameters())
        state = {n: self.opt_d.state.get(p, {}) for n, p in params.items()}
        t = {n: float(state[n].get("step", 0)) for n in params}
        m = {n: state[n]["exp_avg"].detach() if "exp_avg" in state[n] else torch.zeros_like(p) for n, p in params.items()}
        v = {n: state[n]["exp_avg_sq"].detach() if "exp_avg_sq" in state[n] else torch.zeros_like(p)
             for n, p in params.items()}
        w = {n: p.detach().requires_grad_(True) for n, p in params.items()}  # leaves: the graph starts here
        buffers = {n: b.clone() for n, b in D.named_buffers()}
        for _ in range(k):
            d_real = functional_call(D, {**w, **buffers}, (real, real_y)).float()
            d_fake = functional_call(D, {**w, **buffers}, (fake, fake_y)).float()
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
        if cfg.lr_decay > 0:
            set_learning_rates(self.opt_g, self.opt_d, cfg, lr_factor(step, self.total_steps, cfg.lr_decay))
        r1_gamma = r1_weight(cfg, step, self.total_steps)
        lazy = cfg.r1_every if field_applies("r1_every", cfg.model) else 1  # the toy GAN: every step
        if step % lazy:
            r1_gamma = 0.0  # lazy R1 (StyleGAN2): every `lazy` steps, weighted by `lazy`
        for i in range(cfg.n_critic):
            real, real_y = next_batch()
            real = self.augment(real)
            if r1_gamma > 0:
                real = real.detach().requires_grad_(True)
            real_y = real_y if cond else None
            z = shard_randn(real.shape[0], self.latent_dim, device=self.device)
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
            if r1_gamma > 0:
                d_loss = d_loss + r1_gamma / 2 * lazy * losses.r1_penalty(real, d_real)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            grad_norm_d = (grad_norm(self.d_params, cfg.grad_clip)
                           if (want_grad_norms or cfg.grad_clip > 0) else None)
            self.opt_d.step()

        for j in range(cfg.g_steps):
            if j:  # each further G update draws fresh fakes against the same D
                z = shard_randn(real.shape[0], self.latent_dim, device=self.device)
                with self.autocast:
                    fake = self.augment(self.G(z, fake_y))
            g_loss, grad_norm_g = self.g_update(real, real_y, fake, fake_y, want_grad_norms)
        if self.G_ema is not None:
            ema_update(self.G_ema, self.nets["G"], ema_decay_at(cfg, step))

        stats = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                 "d_real": losses.d_output_mean(cfg.loss, d_real.detach()),
                 "d_fake": losses.d_output_mean(cfg.loss, d_fake.detach())}
        if want_grad_norms:
            stats["grad_norm_d"], stats["grad_norm_g"] = grad_norm_d.detach(), grad_norm_g.detach()
        return stats

    def g_update(self, real, real_y, fake, fake_y, want_grad_norms: bool):
        """One G update through D on these fakes; returns G's loss and (when wanted or clipping) its grad norm."""
        cfg = self.cfg
        with self.autocast, discarded_grads(self.D):  # D's weights are constants for G's loss
            if cfg.unrolled_steps > 0:
                future_d = self.unrolled_d(real.detach(), real_y, fake, fake_y, cfg.unrolled_steps)
                g_out = functional_call(unwrap(self.D), future_d, (fake, fake_y)).float()
            else:
                g_out = self.D(fake, fake_y).float()
            g_loss = losses.g_loss(cfg.loss, g_out)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm_g = (grad_norm(self.g_params, cfg.grad_clip)
                       if (want_grad_norms or cfg.grad_clip > 0) else None)
        self.opt_g.step()
        return g_loss, grad_norm_g


class CycleGANStep:
    """One CycleGAN update (Zhu et al. 2017, eq. 3): G: A -> B and F: B -> A together, then D_A and D_B.

    The generators minimise L_GAN(G, D_B) + L_GAN(F, D_A) + lambda_cycle * L_cyc + lambda_cycle *
    lambda_identity * L_identity (+ lambda_shape * L_shape, ours: models.cyclegan.shape_loss; + lambda_semantic *
    L_sem, CyCADA's: models.cyclegan.semantic_loss); each D then learns real from the image pool's fakes. Both optimisers'
    learning rates follow models.cyclegan.linear_decay (or lr_factor, when lr_decay is set). Labels are never used.
    """

    def __init__(self, config, kwargs: dict, data_a, data_b, device: torch.device,
                 autocast_dtype: torch.dtype | None, total_steps: int):
        self.cfg, self.device, self.total_steps = config, device, total_steps
        self.G = build_generator("cyclegan", kwargs).to(device)   # A -> B
        self.F = build_generator("cyclegan", kwargs).to(device)   # B -> A
        self.D_A = build_discriminator("cyclegan", kwargs).to(device)  # judges domain A
        self.D_B = build_discriminator("cyclegan", kwargs).to(device)  # judges domain B
        gens = list(self.G.parameters()) + list(self.F.parameters())
        discs = list(self.D_A.parameters()) + list(self.D_B.parameters())
        self.opt_g, self.opt_d = make_adam(gens, config.lr_g, config), make_adam(discs, config.lr_d, config)
        self.g_params, self.d_params = gens, discs
        on = config.ema_decay > 0
        self.G_ema, self.F_ema = (make_ema(self.G), make_ema(self.F)) if on else (None, None)
        self.nets = {"G": self.G, "F": self.F, "D_A": self.D_A, "D_B": self.D_B}
        self.emas = {"G_ema": self.G_ema, "F_ema": self.F_ema}
        self.optimizers = {"opt_g": self.opt_g, "opt_d": self.opt_d}
        self.sampler = None  # translation quality: ganlib.translate.evaluate_cyclegan, not the image-GAN metrics
        self.pool_a, self.pool_b = ImagePool(config.pool_size), ImagePool(config.pool_size)
        self.fixed_a, self.fixed_b = fixed_examples(data_a), fixed_examples(data_b)
        self.policy = parse_augment(config.augment)  # DiffAugment: both Ds see real and translated images augmented
        # CyCADA's semantic loss reads digits with the shipped MNIST classifier (frozen; evaluate reads with it too)
        self.reader = load_classifier(device=str(device)) if config.lambda_semantic > 0 else None
        self.autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
                         else nullcontext())

    def extra_state(self) -> dict:
        return {"pool_a": self.pool_a.state(), "pool_b": self.pool_b.state(),
                "fixed_a": self.fixed_a, "fixed_b": self.fixed_b}

    def load_extra_state(self, ckpt: dict) -> None:
        self.pool_a.load(ckpt["pool_a"], self.device)
        self.pool_b.load(ckpt["pool_b"], self.device)

    @torch.no_grad()
    def sample_grid(self) -> tuple[torch.Tensor, int]:
        """Six rows: a, G(a), F(G(a)), b, F(b), G(F(b)) for the fixed inputs (EMA weights when on)."""
        G, F = self.G_ema or unwrap(self.G), self.F_ema or unwrap(self.F)
        modes = [(m, m.training) for m in (G, F)]
        G.eval(), F.eval()
        a, b = self.fixed_a.to(self.device), self.fixed_b.to(self.device)
        ga, fb = G(a), F(b)
        rows = torch.cat([a, ga, F(ga), b, fb, G(fb)]).float().cpu()
        for m, was in modes:
            m.train(was)
        return rows, len(a)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy) if self.policy else x

    def _adversarial(self, D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        with discarded_grads(D):  # D's weights are constants for G's loss; G learns through the augmentation
            return losses.g_loss(self.cfg.loss, D(self.augment(fake)).float().flatten())

    def _discriminator(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, r1_gamma: float):
        cfg = self.cfg
        real, fake = self.augment(real), self.augment(fake)
        if r1_gamma > 0:
            real = real.detach().requires_grad_(True)
        d_real, d_fake = D(real).float().flatten(), D(fake).float().flatten()
        loss = losses.d_loss(cfg.loss, d_real, d_fake, cfg.label_smoothing, cfg.two_sided_smoothing)
        if r1_gamma > 0:
            loss = loss + r1_gamma / 2 * losses.r1_penalty(real, d_real.view(real.shape[0], -1).sum(1))
        return loss, d_real, d_fake

    def __call__(self, next_batch, step: int, want_grad_norms: bool) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        factor = (lr_factor(step, self.total_steps, cfg.lr_decay) if cfg.lr_decay > 0
                  else linear_decay(step, self.total_steps))
        set_learning_rates(self.opt_g, self.opt_d, cfg, factor)
        (a, _), (b, _) = next_batch()
        lam, lam_id = cfg.lambda_cycle, cfg.lambda_cycle * cfg.lambda_identity

        with self.autocast:
            fake_b, fake_a = self.G(a), self.F(b)
            adv_ab = self._adversarial(self.D_B, fake_b)   # L_GAN(G, D_B, A, B)
            adv_ba = self._adversarial(self.D_A, fake_a)   # L_GAN(F, D_A, B, A)
            cyc_a = cycle_loss(a, self.F(fake_b))          # ||F(G(a)) - a||_1
            cyc_b = cycle_loss(b, self.G(fake_a))          # ||G(F(b)) - b||_1
            if lam_id > 0:
                idt_b, idt_a = identity_loss(b, self.G(b)), identity_loss(a, self.F(a))
            else:
                idt_b = idt_a = torch.zeros((), device=a.device)
            g_loss = adv_ab + adv_ba + lam * (cyc_a + cyc_b) + lam_id * (idt_a + idt_b)
            if cfg.lambda_shape > 0:
                norm = cfg.shape_norm
                shape_a, shape_b = shape_loss(a, fake_b, norm=norm), shape_loss(b, fake_a, norm=norm)
                g_loss = g_loss + cfg.lambda_shape * (shape_a + shape_b)
            if self.reader is not None:
                sem_a, sem_b = semantic_loss(self.reader, a, fake_b), semantic_loss(self.reader, b, fake_a)
                g_loss = g_loss + cfg.lambda_semantic * (sem_a + sem_b)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm_g = grad_norm(self.g_params, cfg.grad_clip) if (want_grad_norms or cfg.grad_clip > 0) else None
        self.opt_g.step()

        with self.autocast:
            r1_gamma = r1_weight(cfg, step, self.total_steps)
            d_a, real_a, fake_a_out = self._discriminator(self.D_A, a, self.pool_a(fake_a), r1_gamma)
            d_b, real_b, fake_b_out = self._discriminator(self.D_B, b, self.pool_b(fake_b), r1_gamma)
            d_loss = d_a + d_b
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        grad_norm_d = grad_norm(self.d_params, cfg.grad_clip) if (want_grad_norms or cfg.grad_clip > 0) else None
        self.opt_d.step()
        if self.G_ema is not None:
            decay = min(cfg.ema_decay, (1 + step) / (10 + step))
            ema_update(self.G_ema, self.nets["G"], decay)
            ema_update(self.F_ema, self.nets["F"], decay)

        stats = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                 "d_real": losses.d_output_mean(cfg.loss, torch.cat([real_a, real_b]).detach()),
                 "d_fake": losses.d_output_mean(cfg.loss, torch.cat([fake_a_out, fake_b_out]).detach()),
                 "g_adv_ab": adv_ab.detach(), "g_adv_ba": adv_ba.detach(), "d_a": d_a.detach(), "d_b": d_b.detach(),
                 "cycle_a": cyc_a.detach(), "cycle_b": cyc_b.detach(),
                 "identity_a": idt_a.detach(), "identity_b": idt_b.detach()}
        if cfg.lambda_shape > 0:
            stats["shape_a"], stats["shape_b"] = shape_a.detach(), shape_b.detach()
        if self.reader is not None:
            stats["semantic_a"], stats["semantic_b"] = sem_a.detach(), sem_b.detach()
        if want_grad_norms:
            stats["grad_norm_d"], stats["grad_norm_g"] = grad_norm_d.detach(), grad_norm_g.detach()
        return stats


class StyleGANStep(AdversarialStep):
    """One StyleGAN update (Karras et al. 2020, StyleGAN2 config at low resolution): a D step on real vs
    fake with lazy R1 (every r1_every steps, weighted by r1_every), then a G step on fresh fakes with
    style-mixing regularisation; the mean w (truncation's centre) and G's EMA follow.

    Shares AdversarialStep's bookkeeping (nets, emas, optimizers, fixed noise, sample grid); only the
    update differs. Path-length regularisation is left out (optional in the issue; not measured here).
    """

    def __init__(self, config, kwargs: dict, data, device: torch.device, autocast_dtype: torch.dtype | None,
                 total_steps: int = 0):
        G, D = build_models("stylegan", kwargs)
        G, D = G.to(device), D.to(device)
        opt_g, opt_d = make_adam(G.parameters(), config.lr_g, config), make_adam(D.parameters(), config.lr_d, config)
        G_ema = make_ema(G) if config.ema_decay > 0 else None
        super().__init__(G, D, opt_g, opt_d, config, G_ema, device, autocast_dtype, total_steps)
        self.conditional = False
        self.last_r1 = torch.zeros((), device=device)   # logged every step: the latest lazy R1 value
        self.set_fixed_inputs(data)

    def __call__(self, next_batch, step: int, want_grad_norms: bool) -> dict[str, torch.Tensor]:
        # G and D may be DDP wrappers (several processes): nets are called through them, never through a
        # submodule; the plain G (self.nets["G"]) serves the mean-w bookkeeping and the EMA
        cfg, G, D = self.cfg, self.G, self.D
        if cfg.lr_decay > 0:
            set_learning_rates(self.opt_g, self.opt_d, cfg, lr_factor(step, self.total_steps, cfg.lr_decay))
        real, _ = next_batch()
        n = real.shape[0]
        r1_gamma = r1_weight(cfg, step, self.total_steps)
        do_r1 = r1_gamma > 0 and step % cfg.r1_every == 0
        if do_r1:
            real = real.detach().requires_grad_(True)
        with self.autocast:
            with torch.no_grad():
                fake = G(shard_randn(n, self.latent_dim, device=self.device), style_mixing_prob=cfg.style_mixing_prob)
            d_real, d_fake = D(real).float(), D(fake).float()
            d_loss = losses.d_loss(cfg.loss, d_real, d_fake, cfg.label_smoothing, cfg.two_sided_smoothing)
        if do_r1:
            r1 = losses.r1_penalty(real, d_real)
            d_loss = d_loss + r1_gamma / 2 * cfg.r1_every * r1
            self.last_r1 = r1.detach()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        grad_norm_d = grad_norm(self.d_params, cfg.grad_clip) if (want_grad_norms or cfg.grad_clip > 0) else None
        self.opt_d.step()

        z = shard_randn(n, self.latent_dim, device=self.device)
        with self.autocast, discarded_grads(D):  # D's weights are constants for G's loss
            g_out = D(G(z, style_mixing_prob=cfg.style_mixing_prob)).float()
            g_loss = losses.g_loss(cfg.loss, g_out)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        grad_norm_g = grad_norm(self.g_params, cfg.grad_clip) if (want_grad_norms or cfg.grad_clip > 0) else None
        self.opt_g.step()
        plain_g = self.nets["G"]
        with torch.no_grad():
            plain_g.update_w_avg(plain_g.mapping(z))
        if self.G_ema is not None:
            ema_update(self.G_ema, plain_g, min(cfg.ema_decay, (1 + step) / (10 + step)))

        stats = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                 "d_real": losses.d_output_mean(cfg.loss, d_real.detach()),
                 "d_fake": losses.d_output_mean(cfg.loss, d_fake.detach())}
        stats["r1"] = self.last_r1
        if want_grad_norms:
            stats["grad_norm_d"], stats["grad_norm_g"] = grad_norm_d.detach(), grad_norm_g.detach()
        return stats


def fixed_examples(data, n: int = 10, seed: int = 0) -> torch.Tensor:
    """n fixed images of a domain for sample grids (n, C, H, W) (fewer only if the data set is smaller):
    where labelled, the first example of each class 0, 1, ... comes first; then seeded random others."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
    first = []
    if data.y is not None and data.num_classes >= 2:
        first = [int((data.y == c).nonzero()[0]) for c in range(data.num_classes) if (data.y == c).any()]
    idx = (first + [i for i in order if i not in set(first)])[:n]
    return data.x[idx].cpu().clone()
