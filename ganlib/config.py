"""The one config type for a training job: CLI flags, the training page and run dirs share it."""
from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .families import FAMILIES, MODELS, Family, reader_of

LOSSES = ("ns", "bce", "lsgan", "wgan-gp", "hinge")
DATASETS = ("mnist", "fashion-mnist", "typeset", "toy-ring", "toy-grid", "folder")
AUGMENTATIONS = ("translation", "cutout", "color")  # DiffAugment policies (ganlib.augment)
IMAGE_SIZES = (28, 32, 64, 128)  # 64 and 128: image folders only

def rules_of(model: str) -> Family:
    """The family entry of `model`; for a name no family has, DCGAN's, whose rules are TrainConfig's defaults
    (validate() says that the model is unknown)."""
    return FAMILIES.get(model, FAMILIES["dcgan"])


def on_gpu(device: str | None) -> bool:
    """Whether a run on `device` trains on a CUDA GPU: cuda or cuda:N, or auto (None) where one is present."""
    name = (device or "auto").strip().lower()
    if name.startswith("cuda"):
        return True
    if name != "auto":
        return False
    import torch  # only here: config and run files import without torch (the job runner starts fast)

    return torch.cuda.is_available()


def recipe(model: str, dataset: str | None = None, device: str | None = None) -> dict:
    """The fields where a `model` run starts from other values than TrainConfig's defaults: the family's
    recipe, on `dataset` if given (else the family's own), plus its GPU recipe on a CUDA GPU (`device`, auto
    when None) and its toy recipe on a 2-D toy."""
    fam = rules_of(model)
    out = dict(fam.recipe)
    if dataset:
        out["dataset"] = dataset
    if out.get("dataset", "").startswith("toy-"):
        out.update(fam.toy_recipe)
    elif on_gpu(device):
        out.update(fam.gpu_recipe)
    return out


def recipe_config(**given) -> "TrainConfig":
    """The TrainConfig that the CLI and the Train page start from: the given model's recipe (recipe()) on
    the given data set and device, with every given field on top."""
    start = recipe(given.get("model", "dcgan"), given.get("dataset"), given.get("device"))
    return TrainConfig(**{**start, **given})


def recipe_switch(old_model: str, old_dataset: str, model: str, dataset: str, old_device: str | None = None,
                  device: str | None = None) -> dict:
    """What a settings form resets when its model, data set or device changes from (old_model, old_dataset,
    old_device) to (model, dataset, device): each field whose recipe value differs, to the new recipe's value. A
    model with a data set of its own (CycleGAN's typeset) brings it; leaving that model goes back to
    TrainConfig's. A field both recipes agree on keeps whatever the user gave it."""
    def own(m: str) -> str:
        return rules_of(m).recipe.get("dataset", TrainConfig.dataset)

    if model != old_model and own(model) != own(old_model):
        dataset = own(model)
    before, after = recipe(old_model, old_dataset, old_device), recipe(model, dataset, device)

    def value(r: dict, name: str):
        return r.get(name, getattr(TrainConfig, name))

    return {n: value(after, n) for n in sorted(set(before) | set(after)) if value(after, n) != value(before, n)}


def field_applies(name: str, model: str) -> bool:
    """Whether TrainConfig field `name` has any effect on a `model` run (its family's reads_only and ignores)."""
    return reader_of(name) in (None, model) and name not in rules_of(model).ignores


# fields that say how a run is kept and watched, not what it learns: left out of changed_from_recipe
BOOKKEEPING = ("data_dir", "download", "device", "amp", "seed", "epochs", "max_steps", "log_every", "sample_every",
               "checkpoint_every", "eval_every", "eval_samples", "n_fixed")


def recipe_diff(config: "TrainConfig") -> dict[str, object]:
    """{field: value} where a config differs from the recipe the CLI starts its model from (recipe()): what a
    command must name to reproduce it. A run on `auto` is compared with the CPU recipe, so that the command
    trains the same on a machine with or without a GPU."""
    compared_on = "cpu" if config.device == "auto" else config.device
    start = TrainConfig(**{**recipe(config.model, config.dataset, compared_on), "model": config.model})
    return {f.name: getattr(config, f.name) for f in fields(TrainConfig)
            if getattr(config, f.name) != getattr(start, f.name)}


def changed_from_recipe(config: "TrainConfig") -> dict[str, object]:
    """recipe_diff among the fields the run's family reads, bookkeeping (BOOKKEEPING) left out: what a run
    header lists so that a run with --g-steps 10 or R1 off does not read like the default recipe."""
    return {name: value for name, value in recipe_diff(config).items()
            if name not in BOOKKEEPING and field_applies(name, config.model)}


def parse_augment(text: str) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '' or 'none' -> (). ValueError if unknown."""
    names = tuple(p.strip() for p in (text or "").split(",") if p.strip() and p.strip() != "none")
    unknown = [p for p in names if p not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown[0]!r}; use any of {', '.join(AUGMENTATIONS)} "
                         "separated by commas, or none.")
    return names


# (field, whether a value is in range, the sentence when not): the shared settings' ranges, checked by validate()
LIMITS = (
    ("channels", lambda v: v in (0, 1, 3), "Channels must be 1 (grey) or 3 (RGB), not {v}."),
    ("batch_size", lambda v: v >= 2, "Batch size must be at least 2."),
    ("lr_g", lambda v: 0 < v <= 0.1, "Learning rate lr_g must be in (0, 0.1], not {v}."),
    ("lr_d", lambda v: 0 < v <= 0.1, "Learning rate lr_d must be in (0, 0.1], not {v}."),
    ("beta1", lambda v: 0 <= v < 1, "Adam betas must be in [0, 1)."),
    ("beta2", lambda v: 0 <= v < 1, "Adam betas must be in [0, 1)."),
    ("latent_dim", lambda v: 1 <= v <= 1024, "Latent dimension must be between 1 and 1024."),
    ("width", lambda v: 4 <= v <= 512, "Width must be between 4 and 512."),
    ("n_critic", lambda v: v >= 1, "n_critic must be at least 1."),
    ("g_steps", lambda v: 1 <= v <= 20, "G steps per D step must be between 1 and 20, not {v}."),
    ("label_smoothing", lambda v: 0 <= v < 0.5, "Label smoothing must be in [0, 0.5)."),
    ("ema_decay", lambda v: 0 <= v < 1, "EMA decay must be in [0, 1)."),
    ("ema_rampup", lambda v: 0 <= v <= 1, "The EMA ramp-up must be in [0, 1] (0 = the (1 + t) / (10 + t) warm-up), not {v}."),
    ("r1_every", lambda v: 1 <= v <= 64, "Lazy R1 runs every 1 to 64 steps, not every {v}."),
    ("r1_gamma", lambda v: v >= 0, "The R1 weight must be 0 (off) or positive."),
    ("grad_clip", lambda v: v >= 0, "Gradient clipping must be 0 (off) or positive."),
    ("pack", lambda v: 1 <= v <= 8, "Packing must be between 1 (off) and 8 samples per D input, not {v}."),
    ("unrolled_steps", lambda v: 0 <= v <= 20, "Unrolled D steps must be between 0 (off) and 20, not {v}."),
    ("latent_mixture", lambda v: 0 <= v <= 1000, "The latent mixture has 0 (off) to 1000 components, not {v}."),
    ("log_every", lambda v: v >= 1, "log_every must be at least 1."),
    ("sample_every", lambda v: v >= 1, "sample_every must be at least 1."),
    ("checkpoint_every", lambda v: v >= 1, "checkpoint_every must be at least 1."),
    ("n_fixed", lambda v: 1 <= v <= 256, "Number of fixed-noise samples must be between 1 and 256."),
    ("lr_decay", lambda v: 0 <= v <= 1, "The learning-rate decay must be a fraction of the steps in [0, 1], not {v}."),
    ("r1_late", lambda v: 0 <= v <= 10,
     "R1's late factor multiplies the R1 weight while the learning rates decay: 0 to 10, not {v}."),
)


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
    subset: int = 0                   # use only N training examples, drawn with the seed (0 = all)
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
    g_steps: int = 1                  # G steps per D step (> 1 over-trains G: a cause of mode collapse)
    gp_weight: float = 10.0           # WGAN-GP gradient-penalty weight
    r1_gamma: float = 1.0             # R1 penalty weight on D's gradient at real data (0 = off)
    label_smoothing: float = 0.0      # one-sided: real targets become 1 - label_smoothing
    two_sided_smoothing: bool = False # also fake targets become label_smoothing
    grad_clip: float = 0.0            # clip gradient norm of both nets (0 = off)
    minibatch_discrimination: bool = False
    minibatch_std: bool = False
    spectral_norm: bool = False
    d_norm: str = "auto"              # dcgan/cgan D's normalisation: auto (layer for wgan-gp, else batch) | batch | layer | none
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
    lambda_semantic: float = 0.0      # CyCADA semantic loss: our MNIST classifier reads G(a) as it reads a, F(b) as b (0 = off)
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
        that run trained with (each family's before_defaults), not today's default."""
        before = {k: v for f in FAMILIES.values() for k, v in f.before_defaults.items()}
        return cls.from_dict({**before, **json.loads(Path(path).read_text())})

    def validate(self) -> list[str]:
        """Problems that make this config unusable, each one sentence saying what to change."""
        problems = [f"{what} must be one of {', '.join(allowed)}, not {value!r}." for what, value, allowed in (
            ("Model", self.model, MODELS), ("Loss", self.loss, LOSSES), ("Data set", self.dataset, DATASETS))
            if value not in allowed]
        fam = rules_of(self.model)
        if self.dataset == "folder" and not self.data_dir:
            problems.append("The folder data set needs a data directory (--data-dir).")
        if fam.images_only and not fam.two_domains and self.dataset.startswith("toy-"):  # CycleGAN's own says it
            problems.append(f"{self.model.upper()} generates images; use the gan model for 2-D {self.dataset}.")
        if fam.two_domains and self.dataset_b not in DATASETS and not self.dataset_b.startswith("toy-"):
            problems.append(f"Domain B must be one of {', '.join(DATASETS)}, not {self.dataset_b!r}.")
        problems += fam.problems(self)
        if self.image_size not in IMAGE_SIZES:
            problems.append(f"Image size must be 28, 32, 64 or 128, not {self.image_size}.")
        elif self.image_size > 32:
            problems += self._big_image_problems()
        problems += dict.fromkeys(sentence.format(v=getattr(self, name)) for name, ok, sentence in LIMITS
                                  if not ok(getattr(self, name)))  # one sentence for both betas
        if self.epochs < 1 and self.max_steps < 1:
            problems.append("Give at least one epoch or a positive step limit.")
        if self.label_smoothing and self.loss not in ("ns", "bce", "lsgan"):
            problems.append(f"Label smoothing applies to ns, bce and lsgan losses, not {self.loss}.")
        try:
            parse_augment(self.augment)
        except ValueError as e:
            problems.append(str(e))
        if 1 < self.pack <= 8 and self.batch_size % self.pack:
            problems.append(f"The batch size ({self.batch_size}) must be a multiple of the packing ({self.pack}).")
        if 0 < self.latent_mixture <= 1000 and self.model != "gan":
            problems.append("The latent mixture is for the gan model (fully connected); set it to 0 for "
                            f"{self.model}.")
        if 0 <= self.r1_late <= 10 and self.r1_late != 1 and self.lr_decay <= 0:
            problems.append("R1's late factor applies while the learning rates decay: set a learning-rate decay "
                            "(e.g. 0.5) or leave the factor at 1.")
        return problems

    def _big_image_problems(self) -> list[str]:
        """64 and 128 px are for image folders (the digits are 28 px; upscaling them teaches nothing)."""
        two = rules_of(self.model).two_domains
        datasets = [self.dataset] + ([self.dataset_b] if two else [])
        if any(d != "folder" for d in datasets):
            return [f"Image sizes 64 and 128 are for image folders (--dataset folder"
                    + (" and --dataset-b folder" if two else "") + "); use 28 or 32 for "
                    f"{', '.join(sorted({d for d in datasets if d != 'folder'}))}."]
        return []


def flag_name(name: str) -> str:
    """The command-line flag of a TrainConfig field: lr_g -> --lr-g."""
    return "--" + name.replace("_", "-")


def flag_text(name: str, value) -> str:
    """A field's value as the command line writes it: ('lr_g', 0.01) -> '--lr-g 0.01', ('r1_gamma', 0.0) ->
    '--r1-gamma 0.0', ('spectral_norm', False) -> '--no-spectral-norm', ('augment', '') -> "--augment ''"."""
    if isinstance(value, bool):
        return flag_name(name) if value else "--no-" + flag_name(name)[2:]
    return f"{flag_name(name)} {shlex.quote(str(value))}"


def command_for(config: TrainConfig, out: str) -> str:
    """The exact `python -m ganlib train ...` command that reproduces a config: its model and data set, then
    what differs from the recipe that the CLI starts that model from (recipe_diff)."""
    named = {"model": config.model, "dataset": config.dataset, **recipe_diff(config)}
    return " ".join(["python -m ganlib train", *(flag_text(k, v) for k, v in named.items()), "--out", shlex.quote(out)])


def upgrade(saved: dict) -> dict:
    """A config dict written by an earlier version, with what that run trained with filled in: a missing field
    takes its family's before_defaults value, and a DCGAN/CGAN written before lazy R1 (no ema_rampup field)
    keeps R1 on every step (its stored r1_every was StyleGAN's setting then, which these models did not read)."""
    before = {k: v for f in FAMILIES.values() for k, v in f.before_defaults.items()}
    out = {**before, **saved}
    if "ema_rampup" not in saved and saved.get("model", "dcgan") in ("dcgan", "cgan"):
        out["r1_every"] = 1
    return out
