"""The five model families, one entry each: what a family is, builds, starts from, reads, refuses and saves.

Adding a family means adding one entry to FAMILIES (and its step class in ganlib/train/steps.py). The entries
take a TrainConfig duck-typed (this module sits below config.py, which asks it for each family's rules).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

def N_(text: str) -> str:
    """Marks a text for the app's catalogue (babel.cfg); the app translates it where it is shown."""
    return text


PATCH_SIZES = (12, 18, 34)  # CycleGAN D's receptive field in pixels at 28/32 px (34: the whole 28 px digit)

# the fully connected GAN on 2-D points: the Mode-collapse lab's base recipe (ganlib.arena.BASE): 256 hidden
# units, z of 16, D learning 4x faster than G, none of the image tricks (R1, EMA)
# DCGAN's and CGAN's recipe on a CUDA GPU (benchmarks/gpu_check.py --issue27; README, "On a GPU"): the default nets
# are launch-bound at batch 64 (the GPU idles), so 16x the batch with sqrt(16) = 4x the learning rates, and 16x
# the epochs so that a run takes as many steps as on a CPU. On an H200: FID <= 100 after 1.35 s of training
# (CPU recipe there: 5.0 s), 110,000 images/s (batch 64: 6,000)
GPU_RECIPE = dict(batch_size=1024, lr_g=3.2e-3, lr_d=1.6e-3, epochs=320)

TOY_RECIPE = dict(width=64, latent_dim=16, batch_size=128, lr_g=5e-4, lr_d=2e-3, r1_gamma=0.0, ema_decay=0.0)


@dataclass(frozen=True)
class Family:
    title: str                        # as the Train page names it
    networks: Callable                # (config, data_shape, num_classes) -> {'G': kwargs, 'D': kwargs}
    # the settings, beyond TrainConfig's defaults (DCGAN's recipe), that a run of this family starts from in
    # the CLI and on the Train page (toy_recipe on top on 2-D points)
    recipe: dict = field(default_factory=dict)
    toy_recipe: dict = field(default_factory=dict)
    gpu_recipe: dict = field(default_factory=dict)  # on top of recipe when the run trains on a CUDA GPU
    reads_only: tuple[str, ...] = ()  # settings no other family reads
    ignores: tuple[str, ...] = ()     # shared settings this family does not read
    problems: Callable = lambda config: []  # what a config of this family cannot have, each one sentence
    before_defaults: dict = field(default_factory=dict)  # what a run written before a default changed trained with
    checkpoint_extras: tuple[str, ...] = ()  # training state a checkpoint holds beyond D, optimisers and rng
    conditional: bool = False         # G and D take a class label
    images_only: bool = False         # cannot train on 2-D points
    two_domains: bool = False         # translates dataset <-> dataset_b


def _pack(config) -> dict:
    # only when on, so the kwargs of older runs and checkpoints stay as they were (resume compares them)
    return {"pack": config.pack} if getattr(config, "pack", 1) > 1 else {}


def _mlp_networks(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    is_image = len(data_shape) == 3
    hidden = 4 * config.width
    # 2-D points: no BatchNorm in G (see MLPGenerator); only stated when off, as with pack
    no_bn = {} if is_image else {"batch_norm": False}
    mixture = {"latent_mixture": config.latent_mixture} if getattr(config, "latent_mixture", 0) else {}
    return {"G": dict(latent_dim=config.latent_dim, out_shape=list(data_shape), hidden=hidden,
                      num_classes=0, tanh=is_image, **no_bn, **mixture),
            "D": dict(in_shape=list(data_shape), hidden=hidden, num_classes=0, spectral_norm=config.spectral_norm,
                      minibatch_discrimination=config.minibatch_discrimination, **_pack(config))}


D_NORMS = ("auto", "batch", "layer", "none")


def d_norm(config) -> str:
    """The DCGAN/CGAN D's normalisation: `auto` is BatchNorm, as in the DCGAN paper, except under WGAN-GP, whose
    per-sample gradient penalty needs a norm that does not mix the batch (layer norm, as Gulrajani et al.)."""
    if config.d_norm != "auto":
        return config.d_norm
    return "layer" if config.loss == "wgan-gp" else "batch"


def _dcgan_networks(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    channels, size = data_shape[0], data_shape[-1]
    cond = num_classes if family(config.model).conditional else 0
    return {"G": dict(latent_dim=config.latent_dim, image_size=size, channels=channels, width=config.width,
                      num_classes=cond),
            "D": dict(image_size=size, channels=channels, width=config.width, num_classes=cond,
                      norm=d_norm(config),
                      spectral_norm=config.spectral_norm, minibatch_std=config.minibatch_std,
                      minibatch_discrimination=config.minibatch_discrimination, **_pack(config))}


def _cyclegan_networks(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    channels, size = data_shape[0], data_shape[-1]  # G: A -> B and F: B -> A share kwargs["G"]
    return {"G": dict(image_size=size, channels=channels, width=config.width, blocks=config.res_blocks),
            "D": dict(image_size=size, channels=channels, width=config.width, patch=config.patch)}


def _stylegan_networks(config, data_shape: tuple[int, ...], num_classes: int) -> dict:
    channels, size = data_shape[0], data_shape[-1]
    return {"G": dict(latent_dim=config.latent_dim, image_size=size, channels=channels, width=config.width,
                      mapping_layers=config.mapping_layers, mapping_lr_mul=config.mapping_lr_mul,
                      style_mode=config.style_mode),
            "D": dict(image_size=size, channels=channels, width=config.width)}


def _dcgan_problems(c) -> list[str]:
    if c.d_norm not in D_NORMS:
        return [f"D's normalisation must be one of {', '.join(D_NORMS)}, not {c.d_norm!r}."]
    if c.d_norm == "batch" and c.loss == "wgan-gp":
        return ["WGAN-GP's gradient penalty is per sample, which BatchNorm in D breaks; use --d-norm layer, none "
                "or auto."]
    return []


def _cgan_problems(c) -> list[str]:
    problems = _dcgan_problems(c)
    if c.dataset in ("toy-ring", "toy-grid", "folder"):
        problems.append(f"CGAN needs a labelled data set (mnist, fashion-mnist or typeset), not {c.dataset}.")
    if c.pack > 1:
        problems.append("Packing is for unconditional GANs; a CGAN's D would need a label per packed sample.")
    return problems


def _cyclegan_problems(c) -> list[str]:
    problems = []
    for name, value in (("Domain A", c.dataset), ("Domain B", c.dataset_b)):
        if value.startswith("toy-"):
            problems.append(f"CycleGAN translates images; {name} cannot be the 2-D points of {value}.")
    if c.dataset_b == "folder" and not c.data_dir_b:
        problems.append("The folder data set for domain B needs a data directory (--data-dir-b).")
    if c.dataset == c.dataset_b and c.data_dir == c.data_dir_b:
        problems.append("CycleGAN needs two different domains; choose another --dataset-b (or another folder).")
    if c.loss == "wgan-gp":
        problems.append("CycleGAN uses the ns, bce, lsgan (the paper's) or hinge loss, not wgan-gp.")
    if c.n_critic != 1 or c.g_steps != 1:
        problems.append("CycleGAN updates its generators and discriminators once per step; set n_critic and "
                        "g_steps to 1.")
    if c.pack > 1 or c.unrolled_steps > 0:
        problems.append("Packing and unrolled D steps are for the unconditional GANs, not CycleGAN.")
    if c.minibatch_discrimination or c.minibatch_std or c.spectral_norm:
        problems.append("CycleGAN's PatchGAN discriminators take no minibatch discrimination, minibatch std or "
                        "spectral norm; turn them off.")
    if not (0 < c.lambda_cycle <= 100):
        problems.append(f"The cycle-loss weight must be in (0, 100], not {c.lambda_cycle}.")
    if not (0 <= c.lambda_identity <= 10):
        problems.append(f"The identity-loss fraction must be in [0, 10], not {c.lambda_identity}.")
    if not (0 <= c.lambda_shape <= 100):
        problems.append(f"The shape-loss weight must be in [0, 100], not {c.lambda_shape}.")
    if not (0 <= c.lambda_semantic <= 100):
        problems.append(f"The semantic-loss weight must be in [0, 100], not {c.lambda_semantic}.")
    if not (0 <= c.pool_size <= 1000):
        problems.append(f"The image pool must hold between 0 and 1000 images, not {c.pool_size}.")
    if c.patch not in PATCH_SIZES:
        *first, last = PATCH_SIZES
        problems.append(f"The discriminator's patch must be {', '.join(map(str, first))} or {last} pixels, "
                        f"not {c.patch}.")
    if not (0 <= c.res_blocks <= 12):
        problems.append(f"Residual blocks must be between 0 and 12, not {c.res_blocks}.")
    return problems


def _stylegan_problems(c) -> list[str]:
    problems = []
    if c.style_mode not in ("modulate", "adain"):
        problems.append(f"The style mode must be modulate or adain, not {c.style_mode!r}.")
    if not (1 <= c.mapping_layers <= 8):
        problems.append(f"The mapping network needs between 1 and 8 layers, not {c.mapping_layers}.")
    if not (0 < c.mapping_lr_mul <= 1):
        problems.append(f"The mapping learning-rate multiplier must be in (0, 1], not {c.mapping_lr_mul}.")
    if not (0 <= c.style_mixing_prob <= 1):
        problems.append(f"The style-mixing probability must be in [0, 1], not {c.style_mixing_prob}.")
    if c.n_critic != 1 or c.g_steps != 1 or c.pack > 1 or c.unrolled_steps > 0:
        problems.append("StyleGAN updates G and D once per step without packing or unrolling; set n_critic 1, "
                        "g_steps 1, pack 1 and unrolled steps 0.")
    if c.image_size > 32:
        problems.append(f"StyleGAN here synthesises 28 or 32 px images, not {c.image_size}; use 28 or 32.")
    if c.loss not in ("ns", "hinge", "lsgan"):
        problems.append(f"StyleGAN trains with the ns (the paper's), hinge or lsgan loss, not {c.loss}.")
    if c.minibatch_discrimination or c.spectral_norm or c.augment:
        problems.append("StyleGAN's D has its own minibatch std; minibatch discrimination, spectral norm and "
                        "DiffAugment are not offered for it.")
    return problems


FAMILIES: dict[str, Family] = {
    # r1_every and ema_rampup are the early-speed settings of the image recipes: the toy arena's recipes and
    # StyleGAN's (which has its own lazy R1) were measured without them
    "gan": Family(N_("GAN (fully connected)"), _mlp_networks, toy_recipe=TOY_RECIPE, reads_only=("latent_mixture",),
                  ignores=("minibatch_std", "d_norm", "r1_every", "ema_rampup")),
    # runs written before lazy R1 and the EMA ramp-up trained with the (1 + t) / (10 + t) warm-up (and R1 on
    # every step: config.upgrade)
    "dcgan": Family("DCGAN", _dcgan_networks, gpu_recipe=GPU_RECIPE, images_only=True, problems=_dcgan_problems,
                    before_defaults={"ema_rampup": 0.0}),
    "cgan": Family(N_("CGAN (conditional DCGAN)"), _dcgan_networks, gpu_recipe=GPU_RECIPE, problems=_cgan_problems,
                   conditional=True, images_only=True, before_defaults={"ema_rampup": 0.0}),
    "cyclegan": Family(
        N_("CycleGAN (data set <-> domain B)"), _cyclegan_networks,
        # the shipped CycleGAN's (scripts/make_checkpoints.py): LSGAN as in the paper, no R1, small nets for 28
        # px; without it a CycleGAN gets DCGAN's ns loss and R1 1, under which its Ds stay at 0.5 and learn nothing
        # the semantic loss keeps the digit where the shape loss (TrainConfig's 5) pinned the style with it
        recipe=dict(dataset="typeset", loss="lsgan", lr_g=2e-4, lr_d=2e-4, r1_gamma=0.0, batch_size=16, width=16,
                    max_steps=3000, lambda_shape=0.0, lambda_cycle=5.0, lambda_semantic=1.0),
        reads_only=("dataset_b", "data_dir_b", "lambda_cycle", "lambda_identity", "lambda_shape", "lambda_semantic",
                    "shape_norm",
                    "pool_size", "res_blocks", "patch"),
        # no latent; PatchGAN Ds take no minibatch features or spectral norm; one D step, no packing; translation
        # quality is `evaluate`'s (ganlib.translate), not the loop's
        ignores=("latent_dim", "n_critic", "g_steps", "gp_weight", "pack", "unrolled_steps",
                 "minibatch_discrimination", "minibatch_std", "d_norm", "spectral_norm", "n_fixed", "r1_every",
                 "ema_rampup",
                 "eval_every", "eval_samples"),
        problems=_cyclegan_problems,
        # its defaults became the shipped recipe's; before, no shape loss, an 18 px patch, 4 blocks
        before_defaults={"lambda_shape": 0.0, "patch": 18, "res_blocks": 4},
        checkpoint_extras=("D_A", "D_B", "pool_a", "pool_b"), images_only=True, two_domains=True),
    "stylegan": Family(
        N_("StyleGAN (mapping network, styles per layer, noise)"), _stylegan_networks,
        # the shipped StyleGAN's: the paper's Adam (lr 0.002, betas 0 and 0.99), a 64-d latent, small nets
        recipe=dict(lr_g=2e-3, lr_d=2e-3, beta1=0.0, beta2=0.99, latent_dim=64, width=16, batch_size=32),
        reads_only=("mapping_layers", "mapping_lr_mul", "style_mode", "style_mixing_prob"),
        ignores=("n_critic", "g_steps", "gp_weight", "pack", "unrolled_steps", "minibatch_discrimination",
                 "minibatch_std", "d_norm", "spectral_norm", "augment", "ema_rampup"),
        problems=_stylegan_problems, images_only=True),
}
MODELS = tuple(FAMILIES)


def family(model: str) -> Family:
    """The entry of family `model` (ValueError naming the known ones for another name)."""
    if model not in FAMILIES:
        raise ValueError(f"Unknown model family {model!r}; known: {', '.join(FAMILIES)}.")
    return FAMILIES[model]


def reader_of(name: str) -> str | None:
    """The one family that reads setting `name`, or None for a shared setting."""
    return next((m for m, f in FAMILIES.items() if name in f.reads_only), None)
