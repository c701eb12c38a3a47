"""The one config type for a training job: CLI flags, the training page and run dirs share it."""
from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path

MODELS = ("gan", "dcgan", "cgan", "cyclegan", "stylegan")
LOSSES = ("ns", "bce", "lsgan", "wgan-gp", "hinge")
DATASETS = ("mnist", "fashion-mnist", "typeset", "toy-ring", "toy-grid", "folder")
AUGMENTATIONS = ("translation", "cutout", "color")  # DiffAugment policies (ganlib.augment)
PATCH_SIZES = (12, 18, 34)  # CycleGAN D's receptive field in pixels at 28/32 px (34: the whole 28 px digit)
IMAGE_SIZES = (28, 32, 64, 128)  # 64 and 128: image folders only
# settings only one family reads: changing one (or its default) leaves what the other families train as it was
FAMILY_ONLY = {**dict.fromkeys(("dataset_b", "data_dir_b", "lambda_cycle", "lambda_identity", "lambda_shape",
                                "shape_norm", "pool_size", "res_blocks", "patch"), "cyclegan"),
               **dict.fromkeys(("mapping_layers", "mapping_lr_mul", "style_mode", "style_mixing_prob"), "stylegan"),
               "latent_mixture": "gan"}


# Each family's own recipe: the settings, beyond TrainConfig's defaults (DCGAN's recipe), that a run of that
# model starts from in the CLI and on the Train page. Without them a CycleGAN gets DCGAN's non-saturating
# loss and R1 1, under which its discriminators stay at 0.5 and learn nothing, and the fully connected
# GAN on a 2-D toy finds none of the ring's 8 modes in 3,000 steps (7 of 8 with the toy recipe).
RECIPES: dict[str, dict] = {
    # the shipped CycleGAN's (scripts/make_checkpoints.py): LSGAN as in the paper, no R1, small nets for 28 px
    "cyclegan": dict(dataset="typeset", loss="lsgan", lr_g=2e-4, lr_d=2e-4, r1_gamma=0.0, batch_size=16, width=16,
                     max_steps=3000),
    # the shipped StyleGAN's: the paper's Adam (lr 0.002, betas 0 and 0.99), a 64-d latent, small nets
    "stylegan": dict(lr_g=2e-3, lr_d=2e-3, beta1=0.0, beta2=0.99, latent_dim=64, width=16, batch_size=32),
}
# the fully connected GAN on 2-D points: the Mode-collapse lab's base recipe (ganlib.arena.BASE): 256 hidden
# units, z of 16, D learning 4x faster than G, none of the image tricks (R1, EMA)
TOY_RECIPE = dict(width=64, latent_dim=16, batch_size=128, lr_g=5e-4, lr_d=2e-3, r1_gamma=0.0, ema_decay=0.0)


def recipe(model: str, dataset: str | None = None) -> dict:
    """The fields where a `model` run starts from other values than TrainConfig's defaults: RECIPES[model],
    on `dataset` if given (else the family's own), plus TOY_RECIPE for the gan model on a 2-D toy."""
    out = dict(RECIPES.get(model, {}))
    if dataset:
        out["dataset"] = dataset
    if model == "gan" and out.get("dataset", "").startswith("toy-"):
        out.update(TOY_RECIPE)
    return out


def recipe_config(**given) -> "TrainConfig":
    """The TrainConfig that the CLI and the Train page start from: the given model's recipe (recipe()) on
    the given data set, with every given field on top."""
    return TrainConfig(**{**recipe(given.get("model", "dcgan"), given.get("dataset")), **given})


def recipe_switch(old_model: str, old_dataset: str, model: str, dataset: str) -> dict:
    """What a settings form resets when its model or data set changes from (old_model, old_dataset) to
    (model, dataset): each field whose recipe value differs, to the new recipe's value. A model with a data set
    of its own (CycleGAN's typeset) brings it; leaving that model goes back to TrainConfig's. A field both
    recipes agree on keeps whatever the user gave it."""
    def own(m: str) -> str:
        return RECIPES.get(m, {}).get("dataset", TrainConfig.dataset)

    if model != old_model and own(model) != own(old_model):
        dataset = own(model)
    before, after = recipe(old_model, old_dataset), recipe(model, dataset)

    def value(r: dict, name: str):
        return r.get(name, getattr(TrainConfig, name))

    return {n: value(after, n) for n in sorted(set(before) | set(after)) if value(after, n) != value(before, n)}


# shared settings a family does not read: its nets have no such part (CycleGAN has no latent; PatchGAN and
# StyleGAN Ds take no minibatch features or spectral norm, the MLP D no minibatch std), validate() holds
# it at its default (one D step, no packing), or its losses never use it (WGAN-GP's weight)
IGNORED_BY = {
    "cyclegan": ("latent_dim", "n_critic", "gp_weight", "pack", "unrolled_steps", "minibatch_discrimination",
                 "minibatch_std", "spectral_norm", "n_fixed", "r1_every", "ema_rampup",
                 "eval_every", "eval_samples"),  # translation quality is `evaluate`'s: ganlib.translate
    "stylegan": ("n_critic", "gp_weight", "pack", "unrolled_steps", "minibatch_discrimination", "minibatch_std",
                 "spectral_norm", "augment", "ema_rampup"),
    # r1_every and ema_rampup: the early-speed settings of the image recipes (issue 27); the toy arena's
    # recipes and StyleGAN's were measured without them
    "gan": ("minibatch_std", "r1_every", "ema_rampup"),
}


def field_applies(name: str, model: str) -> bool:
    """Whether TrainConfig field `name` has any effect on a `model` run (FAMILY_ONLY, IGNORED_BY)."""
    return FAMILY_ONLY.get(name, model) == model and name not in IGNORED_BY.get(model, ())


def parse_augment(text: str) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '' or 'none' -> (). ValueError if unknown."""
    names = tuple(p.strip() for p in (text or "").split(",") if p.strip() and p.strip() != "none")
    unknown = [p for p in names if p not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown[0]!r}; use any of {', '.join(AUGMENTATIONS)} "
                         "separated by commas, or none.")
    return names


# fields whose default changed since runs were first written: what a run directory without the field trained
# with (CycleGAN's defaults became the shipped recipe's; before, no shape loss, an 18 px patch, 4 blocks)
BEFORE_DEFAULTS = {"lambda_shape": 0.0, "patch": 18, "res_blocks": 4, "ema_rampup": 0.0}


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Defaults are our best DCGAN recipe for a CPU (benchmarks/time_to_quality.py): the seeds' recipe
    (Adam, betas (0.5, 0.999), batch 64, N(0, 0.02) init, non-saturating loss, fixed noise) with
    width 32, G learning faster than D (8e-4 vs 4e-4), an R1 penalty of 1 on D every 4th step (lazy,
    weighted by 4), EMA of G's weights with stylegan2-ada's ramp-up, and bf16 autocast where the hardware has it.
    """

    model: str = "dcgan"              # gan (MLP) | dcgan | cgan (conditional DCGAN)
    dataset: str = "mnist"            # see DATASETS
    data_dir: str = ""                # MNIST idx files or an image folder ("" = bundled/default)
    download: bool = False            # let torchvision download a data set that is not bundled
    subset: int = 0                   # use only the first N training examples (0 = all)
    image_size: int = 28              # 28 or 32 (image data sets); 64 or 128 for image folders
    channels: int = 0                 # 0 = the data set's own (1 for digits, 3 for RGB folders)
    loss: str = "ns"                  # see LOSSES
    epochs: int = 20
    max_steps: int = 0                # > 0 overrides epochs
    batch_size: int = 64
    lr_g: float = 8e-4                # issue 27: twice the rates before (4e-4 / 2e-4): digits in 200 steps, not 300
    lr_d: float = 4e-4
    beta1: float = 0.5
    beta2: float = 0.999
    latent_dim: int = 100
    width: int = 32                   # base channel count (dcgan/cgan) or hidden units / 4 (gan)
    n_critic: int = 1                 # D steps per G step (5 is usual for wgan-gp)
    gp_weight: float = 10.0           # WGAN-GP gradient-penalty weight
    r1_gamma: float = 1.0             # R1 penalty weight on D's gradient at real data (0 = off)
    label_smoothing: float = 0.0      # one-sided: real targets become 1 - label_smoothing
    two_sided_smoothing: bool = False # also fake targets become label_smoothing
    grad_clip: float = 0.0            # clip gradient norm of both nets (0 = off)
    minibatch_discrimination: bool = False
    minibatch_std: bool = False
    spectral_norm: bool = False
    augment: str = ""                 # DiffAugment policy for D's inputs: translation,cutout,color ("" = off)
    pack: int = 1                     # PacGAN: D judges m samples at once, concatenated (1 = off)
    unrolled_steps: int = 0           # Unrolled GAN: G's loss through k simulated D updates (0 = off)
    latent_mixture: int = 0           # gan: DeLiGAN latent, a mixture of K learned Gaussians (0 = one N(0, I))
    ema_decay: float = 0.999          # EMA of G weights for samples/checkpoints (0 = off)
    ema_rampup: float = 0.05          # dcgan/cgan: EMA half-life <= this fraction of the steps so far (0 = (1+t)/(10+t))
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N | mps
    amp: bool = True                  # bf16 autocast on CUDA GPUs and AVX-512 BF16/AMX CPUs (GPU: pays for wide nets only)
    log_every: int = 20               # steps between metrics.jsonl lines
    sample_every: int = 200           # steps between sample grids
    checkpoint_every: int = 500       # steps between checkpoints (also at the end and on stop)
    eval_every: int = 1000            # steps between quality evaluations, and at the end (0 = off)
    eval_samples: int = 2000          # generated samples per evaluation
    n_fixed: int = 64                 # fixed-noise samples in each grid
    # CycleGAN (model cyclegan): translate `dataset` (domain A) <-> `dataset_b` (domain B), unpaired
    dataset_b: str = "mnist"          # domain B (see DATASETS; images only)
    data_dir_b: str = ""              # domain B's idx files or image folder ("" = bundled/default)
    lambda_cycle: float = 10.0        # weight of the cycle loss |F(G(a)) - a| + |G(F(b)) - b| (paper: 10)
    lambda_identity: float = 0.5      # identity loss weight as a fraction of lambda_cycle (paper: 0.5; 0 = off)
    lambda_shape: float = 5.0         # shape loss |pool4(G(a)) - pool4(a)| + |pool4(F(b)) - pool4(b)| (ours; 0 = off)
    shape_norm: bool = False          # shape loss on ink-normalised thumbnails: where the ink is, not how much
    pool_size: int = 50               # past fakes D learns from (paper: 50; 0 = only the newest)
    res_blocks: int = 3               # residual blocks in each CycleGAN generator (paper: 6 at 128 px, 9 at 256)
    patch: int = 34                   # CycleGAN D's patch in pixels: 12, 18 or 34 (34 sees a whole 28 px digit)
    # learning-rate schedule, every family: both rates fall linearly to ~0 over this last fraction of the steps
    lr_decay: float = 0.0             # 0 = constant (CycleGAN then keeps its paper's decay over the second half)
    r1_late: float = 1.0              # R1's weight while the rates decay, as a multiple of r1_gamma (0 = R1 off then)
    # StyleGAN (model stylegan): mapping network, style injection, mixing regularisation, lazy R1
    mapping_layers: int = 4           # fully connected layers z -> w (paper: 8)
    mapping_lr_mul: float = 0.01      # the mapping network learns this much slower (paper: 0.01)
    style_mode: str = "modulate"      # modulate (StyleGAN2 demodulation; trains best) | adain (StyleGAN1)
    style_mixing_prob: float = 0.9    # share of G steps whose fakes mix two w's at a random layer (paper: 0.9)
    r1_every: int = 4                 # dcgan/cgan/stylegan lazy R1: every N steps, weighted by N (1 = every step)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        """A run's config.json; a field the file lacks (written before the field existed) takes the value
        that run trained with (BEFORE_DEFAULTS), not today's default."""
        return cls.from_dict(upgrade(json.loads(Path(path).read_text())))

    def validate(self) -> list[str]:
        """Problems that make this config unusable, each one sentence saying what to change."""
        problems = []
        if self.model not in MODELS:
            problems.append(f"Model must be one of {', '.join(MODELS)}, not {self.model!r}.")
        if self.loss not in LOSSES:
            problems.append(f"Loss must be one of {', '.join(LOSSES)}, not {self.loss!r}.")
        if self.dataset not in DATASETS:
            problems.append(f"Data set must be one of {', '.join(DATASETS)}, not {self.dataset!r}.")
        if self.dataset == "folder" and not self.data_dir:
            problems.append("The folder data set needs a data directory (--data-dir).")
        if self.model in ("dcgan", "cgan", "stylegan") and self.dataset.startswith("toy-"):
            problems.append(f"{self.model.upper()} generates images; use the gan model for 2-D {self.dataset}.")
        if self.model == "cgan" and self.dataset in ("toy-ring", "toy-grid", "folder"):
            problems.append(f"CGAN needs a labelled data set (mnist, fashion-mnist or typeset), not {self.dataset}.")
        if self.model == "cyclegan":
            problems += self._cyclegan_problems()
        if self.model == "stylegan":
            problems += self._stylegan_problems()
        if self.image_size not in IMAGE_SIZES:
            problems.append(f"Image size must be 28, 32, 64 or 128, not {self.image_size}.")
        elif self.image_size > 32:
            problems += self._big_image_problems()
        if self.channels not in (0, 1, 3):
            problems.append(f"Channels must be 1 (grey) or 3 (RGB), not {self.channels}.")
        if self.batch_size < 2:
            problems.append("Batch size must be at least 2.")
        if self.epochs < 1 and self.max_steps < 1:
            problems.append("Give at least one epoch or a positive step limit.")
        for name in ("lr_g", "lr_d"):
            v = getattr(self, name)
            if not (0 < v <= 0.1):
                problems.append(f"Learning rate {name} must be in (0, 0.1], not {v}.")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            problems.append("Adam betas must be in [0, 1).")
        if self.latent_dim < 1 or self.latent_dim > 1024:
            problems.append("Latent dimension must be between 1 and 1024.")
        if self.width < 4 or self.width > 512:
            problems.append("Width must be between 4 and 512.")
        if self.n_critic < 1:
            problems.append("n_critic must be at least 1.")
        if not (0 <= self.label_smoothing < 0.5):
            problems.append("Label smoothing must be in [0, 0.5).")
        if self.label_smoothing and self.loss not in ("ns", "bce", "lsgan"):
            problems.append(f"Label smoothing applies to ns, bce and lsgan losses, not {self.loss}.")
        try:
            parse_augment(self.augment)
        except ValueError as e:
            problems.append(str(e))
        if not (0 <= self.ema_decay < 1):
            problems.append("EMA decay must be in [0, 1).")
        if not (0 <= self.ema_rampup <= 1):
            problems.append(f"The EMA ramp-up must be in [0, 1] (0 = the (1 + t) / (10 + t) warm-up), not {self.ema_rampup}.")
        if self.r1_gamma < 0:
            problems.append("The R1 weight must be 0 (off) or positive.")
        if not (1 <= self.r1_every <= 64):
            problems.append(f"Lazy R1 runs every 1 to 64 steps, not every {self.r1_every}.")
        if self.grad_clip < 0:
            problems.append("Gradient clipping must be 0 (off) or positive.")
        if not (1 <= self.pack <= 8):
            problems.append(f"Packing must be between 1 (off) and 8 samples per D input, not {self.pack}.")
        elif self.pack > 1 and self.batch_size % self.pack:
            problems.append(f"The batch size ({self.batch_size}) must be a multiple of the packing ({self.pack}).")
        if self.pack > 1 and self.model == "cgan":
            problems.append("Packing is for unconditional GANs; a CGAN's D would need a label per packed sample.")
        if not (0 <= self.unrolled_steps <= 20):
            problems.append(f"Unrolled D steps must be between 0 (off) and 20, not {self.unrolled_steps}.")
        if not (0 <= self.latent_mixture <= 1000):
            problems.append(f"The latent mixture has 0 (off) to 1000 components, not {self.latent_mixture}.")
        elif self.latent_mixture and self.model != "gan":
            problems.append("The latent mixture is for the gan model (fully connected); set it to 0 for "
                            f"{self.model}.")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1.")
        if self.n_fixed < 1 or self.n_fixed > 256:
            problems.append("Number of fixed-noise samples must be between 1 and 256.")
        if not (0 <= self.lr_decay <= 1):
            problems.append(f"The learning-rate decay must be a fraction of the steps in [0, 1], not {self.lr_decay}.")
        if not (0 <= self.r1_late <= 10):
            problems.append(f"R1's late factor multiplies the R1 weight while the learning rates decay: 0 to 10, "
                            f"not {self.r1_late}.")
        elif self.r1_late != 1 and self.lr_decay <= 0:
            problems.append("R1's late factor applies while the learning rates decay: set a learning-rate decay "
                            "(e.g. 0.5) or leave the factor at 1.")
        return problems

    def _big_image_problems(self) -> list[str]:
        """64 and 128 px are for image folders (the digits are 28 px; upscaling them teaches nothing)."""
        datasets = [self.dataset] + ([self.dataset_b] if self.model == "cyclegan" else [])
        if any(d != "folder" for d in datasets):
            return [f"Image sizes 64 and 128 are for image folders (--dataset folder"
                    + (" and --dataset-b folder" if self.model == "cyclegan" else "") + "); use 28 or 32 for "
                    f"{', '.join(sorted({d for d in datasets if d != 'folder'}))}."]
        return []

    def _cyclegan_problems(self) -> list[str]:
        """What a CycleGAN config cannot have, each one sentence."""
        problems = []
        for name, value in (("Domain A", self.dataset), ("Domain B", self.dataset_b)):
            if value.startswith("toy-"):
                problems.append(f"CycleGAN translates images; {name} cannot be the 2-D points of {value}.")
            elif value not in DATASETS:
                problems.append(f"{name} must be one of {', '.join(DATASETS)}, not {value!r}.")
        if self.dataset_b == "folder" and not self.data_dir_b:
            problems.append("The folder data set for domain B needs a data directory (--data-dir-b).")
        if self.dataset == self.dataset_b and self.data_dir == self.data_dir_b:
            problems.append("CycleGAN needs two different domains; choose another --dataset-b (or another folder).")
        if self.loss == "wgan-gp":
            problems.append("CycleGAN uses the ns, bce, lsgan (the paper's) or hinge loss, not wgan-gp.")
        if self.n_critic != 1:
            problems.append("CycleGAN updates its discriminators once per step; set n_critic to 1.")
        if self.pack > 1 or self.unrolled_steps > 0:
            problems.append("Packing and unrolled D steps are for the unconditional GANs, not CycleGAN.")
        if self.minibatch_discrimination or self.minibatch_std or self.spectral_norm:
            problems.append("CycleGAN's PatchGAN discriminators take no minibatch discrimination, minibatch std or "
                            "spectral norm; turn them off.")
        if not (0 < self.lambda_cycle <= 100):
            problems.append(f"The cycle-loss weight must be in (0, 100], not {self.lambda_cycle}.")
        if not (0 <= self.lambda_identity <= 10):
            problems.append(f"The identity-loss fraction must be in [0, 10], not {self.lambda_identity}.")
        if not (0 <= self.lambda_shape <= 100):
            problems.append(f"The shape-loss weight must be in [0, 100], not {self.lambda_shape}.")
        if not (0 <= self.pool_size <= 1000):
            problems.append(f"The image pool must hold between 0 and 1000 images, not {self.pool_size}.")
        if self.patch not in PATCH_SIZES:
            *first, last = PATCH_SIZES
            problems.append(f"The discriminator's patch must be {', '.join(map(str, first))} or {last} pixels, "
                            f"not {self.patch}.")
        if not (0 <= self.res_blocks <= 12):
            problems.append(f"Residual blocks must be between 0 and 12, not {self.res_blocks}.")
        return problems

    def _stylegan_problems(self) -> list[str]:
        """What a StyleGAN config cannot have, each one sentence."""
        problems = []
        if self.style_mode not in ("modulate", "adain"):
            problems.append(f"The style mode must be modulate or adain, not {self.style_mode!r}.")
        if not (1 <= self.mapping_layers <= 8):
            problems.append(f"The mapping network needs between 1 and 8 layers, not {self.mapping_layers}.")
        if not (0 < self.mapping_lr_mul <= 1):
            problems.append(f"The mapping learning-rate multiplier must be in (0, 1], not {self.mapping_lr_mul}.")
        if not (0 <= self.style_mixing_prob <= 1):
            problems.append(f"The style-mixing probability must be in [0, 1], not {self.style_mixing_prob}.")
        if self.n_critic != 1 or self.pack > 1 or self.unrolled_steps > 0:
            problems.append("StyleGAN updates D once per step without packing or unrolling; set n_critic 1, "
                            "pack 1 and unrolled steps 0.")
        if self.image_size > 32:
            problems.append(f"StyleGAN here synthesises 28 or 32 px images, not {self.image_size}; use 28 or 32.")
        if self.loss not in ("ns", "hinge", "lsgan"):
            problems.append(f"StyleGAN trains with the ns (the paper's), hinge or lsgan loss, not {self.loss}.")
        if self.minibatch_discrimination or self.spectral_norm or self.augment:
            problems.append("StyleGAN's D has its own minibatch std; minibatch discrimination, spectral norm and "
                            "DiffAugment are not offered for it.")
        return problems


def flag_name(name: str) -> str:
    """The command-line flag of a TrainConfig field: lr_g -> --lr-g."""
    return "--" + name.replace("_", "-")


def command_for(config: TrainConfig, out: str) -> str:
    """The exact `python -m ganlib train ...` command that reproduces a config: what differs from the
    recipe that the CLI starts its model from (config.recipe_config)."""
    defaults = recipe_config(model=config.model, dataset=config.dataset)
    parts = ["python", "-m", "ganlib", "train"]
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if value == getattr(defaults, f.name) and f.name not in ("model", "dataset"):
            continue
        if isinstance(value, bool):
            parts.append(flag_name(f.name) if value else "--no-" + f.name.replace("_", "-"))
        else:
            parts += [flag_name(f.name), str(value)]
    parts += ["--out", out]
    return " ".join(shlex.quote(p) for p in parts)


def upgrade(saved: dict) -> dict:
    """A config dict written by an earlier version, with what that run trained with filled in: a missing field
    takes its BEFORE_DEFAULTS value, and a DCGAN/CGAN written before lazy R1 (no ema_rampup field) keeps R1
    on every step (its stored r1_every was StyleGAN's setting then, which these models did not read)."""
    out = {**BEFORE_DEFAULTS, **saved}
    if "ema_rampup" not in saved and saved.get("model", "dcgan") in ("dcgan", "cgan"):
        out["r1_every"] = 1
    return out
