"""One description of each TrainConfig field: its type, default, choices, label, help, which families read
it and the smallest value a flag takes. The CLI's flags (cli/train.py), the Train page's form and every help
text (the CLI's --help, the Train page, the Mode-collapse lab) are derived from FIELDS; config.py holds the
dataclass (the defaults) and validate() (the ranges, which depend on each other and on the family).

    from ganlib.fieldhelp import FIELDS
    FIELDS["r1_late"].help, FIELDS["r1_late"].label, FIELDS["patch"].choices, FIELDS["patch"].read_by

Labels and help are English, marked N_ so that the app's translation catalogue (studio/locale) finds them; the
app translates them where it shows them. Write a setting's help here, not beside a widget: a text written in
several places drifts apart. Say what the setting does, which family reads it (a family's own settings:
families.FAMILIES[...].reads_only) and, where there is one, the published recipe's value.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

from .config import DATASETS, IMAGE_SIZES, LOSSES, TrainConfig, field_applies, flag_name
from .families import D_NORMS, MODELS, PATCH_SIZES


def N_(text: str) -> str:
    """Marks a label or help text for the app's catalogue (babel.cfg); the app translates it where it is shown."""
    return text


FIELD_HELP = {
    # what trains on what
    "model": N_("gan (fully connected), dcgan, cgan (conditional DCGAN), cyclegan (translates the data set to domain "
                "B and back) or stylegan (mapping network, styles per layer, noise)."),
    "dataset": N_("The training data: a bundled data set, a 2-D toy, or folder (your own images)."),
    "data_dir": N_("A folder of MNIST idx files, or of images for the folder data set."),
    "download": N_("Allow downloading a data set that is not bundled (needs internet)."),
    "subset": N_("Use only N training examples, drawn at random with the seed (0 = all)."),
    "image_size": N_("28 or 32 pixels; 64 or 128 for an image folder."),
    "device": N_("auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps."),
    "max_steps": N_("Stop after this many generator steps (0 = train for the epochs instead)."),
    "eval_every": N_("Compute the quality metrics every N steps (0 = off)."),
    # the game
    "loss": N_("ns: the seeds' non-saturating BCE (G maximises log D(G(z))); bce: the original minimax; lsgan: "
               "least squares; wgan-gp: a critic with a gradient penalty (use 5 D steps per G step); hinge."),
    "batch_size": N_("Images per step: 64 in the seeds' recipe (128 in PyTorch's DCGAN tutorial). Under torchrun it "
                     "is the global batch: N processes take batch size / N each, so the learning rates mean what they "
                     "mean in one process and a run resumes with any N that divides it."),
    "lr_g": N_("Adam learning rate of G: the seeds use 2e-4 for both nets; our default lets G learn faster (8e-4)."),
    "lr_d": N_("Adam learning rate of D: 2e-4 in the seeds' recipe, 4e-4 by default; lower it when D wins too easily."),
    "beta1": N_("Adam beta1: 0.5 as in the DCGAN paper; the usual 0.9 makes the game oscillate."),
    "label_smoothing": N_("One-sided label smoothing (Salimans et al. 2016): real targets become 1 - s (0.1 is usual), "
                          "so D cannot grow over-confident."),
    "two_sided_smoothing": N_("Also smooth the fake targets (to s); the paper advises against it: one-sided is the rule."),
    "r1_gamma": N_("R1 penalty (Mescheder et al. 2018): punishes D's gradient on real images, which steadies the game; "
                   "1 is our CPU default, 0 = off."),
    "grad_clip": N_("Clip both nets' gradient norm at this value (1 to 10) so one bad batch cannot wreck the weights."),
    "ema_decay": N_("Samples and checkpoints use a moving average of G's weights (0.999): steadier, usually better "
                    "digits; 0 = off."),
    "ema_rampup": N_("DCGAN, CGAN: the moving average's half-life is at most this fraction of the steps so far "
                     "(stylegan2-ada's ramp-up), so early samples are not stuck behind G's first weights; 0 = the "
                     "(1 + t) / (10 + t) warm-up."),
    "lr_decay": N_("Both learning rates fall linearly to ~0 over this last fraction of the steps (0.5: the second "
                   "half); 0 = constant (CycleGAN then keeps its paper's decay over the second half)."),
    "r1_late": N_("R1's weight while the learning rates decay, as a multiple of the R1 penalty: 0 drops R1 once the "
                  "decay starts, so D can see a generated mode sitting a little off its real one while G can still "
                  "move (the Mode-collapse lab's best cure); 1 = unchanged. Needs a learning-rate decay."),
    # cures for mode collapse
    "minibatch_discrimination": N_("Salimans et al. 2016: D sees how alike the samples of a batch are, so a G that "
                                   "repeats one digit is caught (a cure for mode collapse)."),
    "minibatch_std": N_("ProGAN (Karras et al. 2018): D gets the batch's spread as an extra channel; a cheap cure "
                        "for mode collapse."),
    "d_norm": N_("DCGAN/CGAN: the normalisation in D. auto = BatchNorm (the DCGAN paper's), or layer norm under "
                 "WGAN-GP. BatchNorm sees a batch of fakes together: when G repeats one image, the batch normalises "
                 "to nothing and D cannot see what the image is. layer or none judge each image alone."),
    "spectral_norm": N_("Miyato et al. 2018: caps each D layer's gain, steadying D without a penalty term."),
    "augment": N_("DiffAugment (Zhao et al. 2020): the same random shifts, cutouts or colour changes on D's real and "
                  "fake inputs; helps when data is scarce."),
    "n_critic": N_("D steps per G step: 5 for WGAN-GP (Gulrajani et al. 2017), 1 for the others."),
    "g_steps": N_("G steps per D step (1 = the usual game). More over-trains G against a D that stands still, "
                  "so G runs to the few images D likes best: a cause of mode collapse (Goodfellow's \"Helvetica "
                  "scenario\"; 10 collapses a DCGAN on MNIST to two or three digits within 500 steps)."),
    "gp_weight": N_("WGAN-GP's gradient-penalty weight (10 in the paper)."),
    "pack": N_("PacGAN (Lin et al. 2018): D judges this many samples at once (2 to 4), which exposes a G that "
               "repeats itself (1 = off; the batch size must be a multiple)."),
    "unrolled_steps": N_("Unrolled GAN (Metz et al. 2017): G's loss looks this many D updates ahead (5 to 10); "
                         "a cure for mode collapse that costs that many extra D steps (0 = off)."),
    "latent_mixture": N_("DeLiGAN (Gurumurthy et al. 2017), gan model: G's latent is a mixture of this many Gaussians "
                         "with learned means and spreads; G can jump from mode to mode across the gaps between them, "
                         "leaving fewer samples in between (50 on the 2-D mixtures); 0 = one Gaussian."),
    # the networks
    "width": N_("Base channel count of G and D (the seeds used 64 at 64x64; 32 is plenty for 28x28 digits)."),
    "amp": N_("bf16 autocast where the CPU or GPU has native bf16: 1.2 to 1.5x faster on such CPUs and for wide nets "
              "on a GPU (H100, width 128, batch 1024: 1.45x), but slower for the small default nets on a GPU (0.8x)."),
    # CycleGAN
    "dataset_b": N_("CycleGAN's domain B (domain A is the data set)."),
    "data_dir_b": N_("CycleGAN: domain B's folder of MNIST idx files or images."),
    "patch": N_("CycleGAN: the square each of D's scores judges, in pixels: 12 sees strokes only, so G barely restyles; "
                "18 sees parts of a digit and keeps more digits but restyles less; 34 (the shipped model's) sees a whole "
                "28 px digit."),
    "lambda_shape": N_("CycleGAN (ours): weight of a loss tying 7x7 thumbnails of G(a) to a and of F(b) to b, so a "
                       "translation keeps the digit where the cycle loss alone lets G hide it (0 = off)."),
    "lambda_semantic": N_("CycleGAN: weight of CyCADA's semantic loss (Hoffman et al. 2018): our MNIST classifier must "
                          "read G(a) as the digit it reads in a, and F(b) as the one in b, which keeps the digit "
                          "without pinning its pixels (0 = off). The same classifier reads the digits in evaluate."),
    "shape_norm": N_("CycleGAN: the shape loss compares thumbnails divided by their mean ink, so G may thicken or thin "
                     "strokes (where typeset and handwritten digits differ most) but not move them."),
    # StyleGAN
    "style_mode": N_("StyleGAN: modulate (StyleGAN2: the style scales the conv weights, then demodulation) or adain "
                     "(StyleGAN1: normalise each channel, then the style's scale and shift); modulation trains far "
                     "better (at 2,000 steps FID 10-17 against AdaIN's 31-55)."),
    "style_mixing_prob": N_("StyleGAN: share of G steps whose images switch to a second w at a random layer (paper: "
                            "0.9), so neighbouring layers do not rely on each other."),
    "mapping_lr_mul": N_("StyleGAN: the mapping network z -> w learns this much slower than the rest (paper: 0.01)."),
    "r1_every": N_("Lazy regularisation (DCGAN, CGAN, StyleGAN): R1 every N steps weighted by N, so most steps skip its "
                   "second backward pass (StyleGAN2 uses 16; 1 = every step)."),
}

LABELS = {"model": N_("Model"), "loss": N_("Loss"), "batch_size": N_("Batch size"), "epochs": N_("Epochs"),
          "image_size": N_("Image size"), "channels": N_("Channels"), "label_smoothing": N_("Label smoothing"),
          "minibatch_discrimination": N_("Minibatch discrimination"), "spectral_norm": N_("Spectral norm"),
          "seed": N_("Seed"), "device": N_("Device"), "log_every": N_("Log every"),
          "sample_every": N_("Sample every"), "checkpoint_every": N_("Checkpoint every"),
          "eval_samples": N_("Eval samples"),
          "lr_g": N_("G learning rate"), "lr_d": N_("D learning rate"), "max_steps": N_("Max steps (0 = use epochs)"),
          "grad_clip": N_("Gradient clipping (0 = off)"), "ema_decay": N_("EMA of G weights (0 = off)"),
          "subset": N_("Subset (0 = all)"), "data_dir": N_("Data directory"), "n_critic": N_("D steps per G step"),
          "g_steps": N_("G steps per D step"),
          "eval_every": N_("Evaluate every (0 = off)"), "n_fixed": N_("Fixed-noise samples"), "amp": N_("Mixed precision (bf16)"),
          "gp_weight": N_("Gradient-penalty weight"), "beta1": N_("Adam beta1"), "beta2": N_("Adam beta2"),
          "width": N_("Width (base channels)"), "latent_dim": N_("Latent size"), "dataset": N_("Data set"),
          "two_sided_smoothing": N_("Two-sided label smoothing"), "minibatch_std": N_("Minibatch std"),
          "d_norm": N_("D normalisation"),
          "download": N_("Download if missing"), "augment": N_("DiffAugment (translation,cutout,color)"),
          "r1_gamma": N_("R1 penalty (0 = off)"), "pack": N_("PacGAN pack (1 = off)"),
          "unrolled_steps": N_("Unrolled D steps (0 = off)"), "latent_mixture": N_("Latent mixture (gan; 0 = off)"),
          "r1_late": N_("R1 late factor (x R1)"), "lr_decay": N_("Learning-rate decay (0 = off)"),
          # CycleGAN's and StyleGAN's own
          "dataset_b": N_("Domain B (CycleGAN)"), "data_dir_b": N_("Domain B directory (CycleGAN)"),
          "lambda_cycle": N_("Cycle-loss weight (CycleGAN)"), "lambda_identity": N_("Identity weight, x cycle (CycleGAN)"),
          "lambda_shape": N_("Shape-loss weight (CycleGAN)"),
          "lambda_semantic": N_("Semantic-loss weight (CycleGAN)"), "shape_norm": N_("Ink-normalised shape loss (CycleGAN)"),
          "pool_size": N_("Image pool (CycleGAN)"), "res_blocks": N_("Residual blocks (CycleGAN)"),
          "patch": N_("D patch, px (CycleGAN)"), "mapping_layers": N_("Mapping layers (StyleGAN)"),
          "mapping_lr_mul": N_("Mapping lr multiplier (StyleGAN)"), "style_mode": N_("Style injection (StyleGAN)"),
          "style_mixing_prob": N_("Style-mixing probability (StyleGAN)"), "r1_every": N_("Lazy R1 every N steps"), "ema_rampup": N_("EMA ramp-up")}
CHOICES = {"model": MODELS, "loss": LOSSES, "dataset": DATASETS, "dataset_b": DATASETS, "image_size": IMAGE_SIZES,
           "channels": (0, 1, 3), "style_mode": ("modulate", "adain"), "patch": PATCH_SIZES,
           "d_norm": D_NORMS}
STEPS = {"lr_g": 1e-5, "lr_d": 1e-5, "r1_gamma": 0.5, "label_smoothing": 0.05, "grad_clip": 0.5, "ema_decay": 0.001,
         "beta1": 0.05, "beta2": 0.001, "gp_weight": 1.0}  # a float's +/- step on the page (others: 1 or 0.1)
# the smallest value a flag takes (below it the CLI refuses the flag at once; a whole number's default floor is
# 0); the other ranges are validate()'s, which names the setting and its family's range
LEAST = {"batch_size": 1}


@dataclass(frozen=True)
class Field:
    name: str
    type: type                      # bool, int, float or str
    default: object                 # TrainConfig's (DCGAN's recipe); a family's recipe may start elsewhere
    label: str                      # the Train page's widget label
    help: str | None                # what it does, in a sentence or two (None: the name says it)
    choices: tuple | None = None    # the allowed values, where there is a list
    step: float | None = None       # a float widget's step
    least: float | None = None      # the smallest value a flag takes
    read_by: tuple[str, ...] = ()   # the families whose runs it changes

    @property
    def flag(self) -> str:
        return flag_name(self.name)


def _field(f) -> Field:
    default = f.default if f.default is not MISSING else None
    kind = {"bool": bool, "int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
    return Field(f.name, kind, default, LABELS.get(f.name, f.name.replace("_", " ").capitalize()),
                 FIELD_HELP.get(f.name), CHOICES.get(f.name), STEPS.get(f.name, 0.1) if kind is float else None,
                 LEAST.get(f.name, 0) if kind is int else None, tuple(m for m in MODELS if field_applies(f.name, m)))


FIELDS: dict[str, Field] = {f.name: _field(f) for f in fields(TrainConfig)}
