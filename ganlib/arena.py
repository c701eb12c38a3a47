"""The 2-D arena: small MLP GANs on the toy mixtures, stepped in the caller's process (a step takes
milliseconds) with the training loop's own AdversarialStep, never a second loop. An Arena also
computes D's output over the plane (GAN Lab's picture), G's gradient on its samples, mode coverage over
time (ganlib.metrics.evaluate_points), and saves itself as an ordinary run directory; the app draws
them (studio.figures).

    arena = Arena(arena_config("vanilla-ring"))
    arena.train(500)
    axis, d_values = arena.d_surface()    # what studio.figures.arena_figure draws
    arena.save_run("runs/arena_vanilla")   # python -m ganlib evaluate --checkpoint runs/arena_vanilla

Same config, same seed, same numbers as `python -m ganlib train` with that config (command_for()).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import torch

from . import losses
from .checkpoints import save_checkpoint
from .config import TrainConfig
from .evaluate import evaluate_generator
from .families import TOY_RECIPE
from .files import atomic_write_json
from .images import save_samples
from .models import build_models, model_kwargs
from .models.layers import make_ema
from .train import rundir
from .train.batches import BatchStream, autocast_dtype, rng_state
from .train.loop import checkpoint_payload
from .train.tally import MetricsAccumulator
from .train.preflight import load_training_data, preflight
from .train.schedules import make_adam
from .train.steps import AdversarialStep

def N_(text: str) -> str:
    """Marks a text for the app's catalogue (babel.cfg); the app translates it where it is shown."""
    return text


# The arena's base recipe: the seeds' MLP GAN (Adam, betas (0.5, 0.999), non-saturating loss, 256
# hidden units, z of 16) without the house's image tricks (R1, EMA: they are remedies here), D
# learning 4x faster than G (2e-3 vs 5e-4: D must resolve modes 0.05 wide; 2.5x the high-quality
# samples of equal rates at 10k steps), evaluated every 250 steps on 2,500 samples.
BASE = dict(model="gan", dataset="toy-ring", **TOY_RECIPE, max_steps=10000, log_every=50, sample_every=1000,
            checkpoint_every=10000, eval_every=250, eval_samples=2500)

# name -> (title, overrides of BASE, what it shows). Each is one remedy (or none) on one mixture. The texts are
# English, marked N_ for the app's catalogue (babel.cfg): the app translates them where it shows them.
PRESETS: dict[str, tuple[str, dict, str]] = {
    "vanilla-ring": (N_("Vanilla GAN, ring"), {},
                     N_("The seeds' GAN on 8 Gaussians: G's samples gather on one or two modes and hop from "
                        "mode to mode as D chases them.")),
    "vanilla-grid": (N_("Vanilla GAN, grid"), {"dataset": "toy-grid"},
                     N_("The same GAN on 25 Gaussians: several modes are never found.")),
    "pacgan-ring": (N_("PacGAN (pack 2) + EMA, ring"), {"pack": 2, "ema_decay": 0.999},
                    N_("D judges 2 samples at once, so samples that sit on one mode are easy to call fake; "
                       "G's averaged weights (EMA) keep the points sharp.")),
    "pacgan-grid": (N_("PacGAN (pack 2) + EMA, grid"), {"dataset": "toy-grid", "pack": 2, "ema_decay": 0.999},
                    N_("Packing on 25 Gaussians: more modes found than the vanilla GAN, but blurred.")),
    "r1-decay-grid": (N_("R1 + learning-rate decay, grid"),
                      {"dataset": "toy-grid", "r1_gamma": 1.0, "lr_decay": 0.5, "max_steps": 12000,
                       "batch_size": 256, "lr_g": 1e-3},
                      N_("A cure: D's gradient is penalised at real points (R1), so the game "
                         "settles on the data instead of circling it; both learning rates then fall to ~0 over "
                         "the second half of 12,000 steps, which pulls G's points onto the modes; batches of 256 "
                         "and G learning at half D's rate sharpen them (all 25 modes found on every seed "
                         "measured, ~91% of points on a mode). After step 12,000 the panel barely moves.")),
    "r1-decay-ring": (N_("R1 + learning-rate decay, ring"),
                      {"r1_gamma": 1.0, "lr_decay": 0.5, "max_steps": 12000, "batch_size": 256, "lr_g": 1e-3},
                      N_("The same cure on the ring: no hopping from mode to mode; the points settle as the "
                         "learning rates fall to ~0 by step 12,000.")),
    "deligan-grid": (N_("R1 + decay + latent mixture (DeLiGAN), grid"),
                     {"dataset": "toy-grid", "r1_gamma": 1.0, "lr_decay": 0.5, "max_steps": 14000,
                      "batch_size": 256, "lr_g": 1e-3, "latent_mixture": 50, "width": 48, "r1_late": 0.0},
                     N_("The benchmark's winner. R1 finds all 25 modes; as both learning rates fall it is dropped, "
                        "so D can see a mode drawn a little off its real one while G can still move it. G's latent "
                        "is a mixture of 50 learned Gaussians, with gaps where G can jump between modes without "
                        "leaving points in between (25/25 modes, >= 95% of points on a mode, every seed measured).")),
    "deligan-ring": (N_("R1 + decay + latent mixture (DeLiGAN), ring"),
                     {"r1_gamma": 1.0, "lr_decay": 0.5, "max_steps": 14000, "batch_size": 256, "lr_g": 1e-3,
                      "latent_mixture": 50, "width": 48},
                     N_("The grid's winner on the ring, with R1 kept to the end: the ring's modes are 5x narrower, "
                        "so the second half does all the sharpening, and without R1 there one seed of five lost a "
                        "mode (with it, all 8 modes on every seed measured, ~95% of points on a mode).")),
    "pacgan4-grid": (N_("PacGAN (pack 4), grid"), {"dataset": "toy-grid", "pack": 4},
                     N_("Packing 4: finds modes, but D is slower to judge each one sharply.")),
    "unrolled-ring": (N_("Unrolled GAN (5 steps), ring"), {"unrolled_steps": 5},
                      N_("G is scored against D after 5 more updates, so it cannot win by jumping to the mode "
                         "D forgot.")),
    "wgan-gp-ring": (N_("WGAN-GP, ring"), {"loss": "wgan-gp", "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4,
                                          "beta1": 0.5, "beta2": 0.9},
                     N_("The critic's smooth Wasserstein gradient pulls samples toward every mode.")),
    "mbd-ring": (N_("Minibatch discrimination, ring"), {"minibatch_discrimination": True},
                 N_("D sees how close each sample is to the rest of the batch.")),
    "smoothing-ring": (N_("Label smoothing 0.2, ring"), {"label_smoothing": 0.2},
                       N_("Real targets 0.8: a gentler D (often not enough on its own).")),
    "big-batch-ring": (N_("Batch 512, lr 2e-4, ring"), {"batch_size": 512, "lr_g": 2e-4, "lr_d": 2e-4},
                       N_("A larger batch and a lower learning rate: slower, steadier.")),
    "clip-sn-ring": (N_("Spectral norm + gradient clipping, ring"), {"spectral_norm": True, "grad_clip": 1.0},
                     N_("A Lipschitz D and clipped updates.")),
}

_TORCH = threading.Lock()  # the global RNG and thread count are shared by every session of the app


def arena_config(preset: str = "vanilla-ring", **overrides) -> TrainConfig:
    """The TrainConfig of a preset (see PRESETS), with any field overridden."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown arena preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    return TrainConfig(**{**BASE, **PRESETS[preset][1], **overrides})


class Arena:
    """One live 2-D GAN: its config, networks, optimisers, the loop's step, and what it measured."""

    def __init__(self, config: TrainConfig, n_fixed: int = 1000):
        problems = preflight(config)
        if not (config.model == "gan" and config.dataset.startswith("toy-")):
            problems.insert(0, "The arena trains the gan model on toy-ring or toy-grid.")
        if problems:
            raise ValueError(problems[0])
        self.config = config
        self.data = load_training_data(config)
        self.modes, self.std = self.data.modes, self.data.mode_std
        self.device = torch.device("cpu")  # nets this small run faster on a CPU than through a GPU's launches
        self.rng = torch.Generator().manual_seed(config.seed).get_state()  # = torch.manual_seed(seed)
        with self._torch():
            # the same order of seeded work as the training loop's setup (ganlib.train.loop), so the CLI run matches
            self.kwargs = model_kwargs(config, self.data.shape, 0)
            self.G, self.D = build_models("gan", self.kwargs)
            self.opt_g = make_adam(self.G.parameters(), config.lr_g, config)
            self.opt_d = make_adam(self.D.parameters(), config.lr_d, config)
            self.G_ema = make_ema(self.G) if config.ema_decay > 0 else None
        g = torch.Generator().manual_seed(config.seed + 1)
        self.fixed_noise = torch.randn(max(config.n_fixed, n_fixed), config.latent_dim, generator=g)
        self.stream = BatchStream(self.data.x, None, config.batch_size, config.seed)
        self.step_fn = AdversarialStep(self.G, self.D, self.opt_g, self.opt_d, config, self.G_ema, self.device,
                                       autocast_dtype(config, self.device), config.max_steps)
        self.steps_per_epoch = max(1, self.stream.per_pass // config.n_critic)
        self.step, self.seconds = 0, 0.0
        self.train_rows: list[dict] = []   # metrics.jsonl "train" rows
        self.eval_rows: list[dict] = []    # metrics.jsonl "eval" rows (modes covered, % high quality, ...)
        self.metrics = MetricsAccumulator()  # the loop's own: the mean of every step's losses since the last row
        self.evaluate()

    @property
    def sampler(self) -> torch.nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    @contextmanager
    def _torch(self):
        """This arena's own RNG stream, on one thread (10-20x faster than two for nets this small)."""
        with _TORCH:
            threads, outside = torch.get_num_threads(), torch.get_rng_state()
            torch.set_num_threads(1)
            torch.set_rng_state(self.rng)
            try:
                yield
            finally:
                self.rng = torch.get_rng_state()
                torch.set_rng_state(outside)
                torch.set_num_threads(threads)

    def train(self, n_steps: int = 1) -> dict:
        """n generator updates (each after n_critic D updates) with the loop's step; the last step's stats."""
        cfg, stats = self.config, {}
        with self._torch():
            self.G.train(), self.D.train()
            for _ in range(n_steps):
                t0 = time.perf_counter()
                want = (self.step + 1) % cfg.log_every == 0
                stats = self.step_fn(self.stream, self.step, want)
                self.step += 1
                self.seconds += time.perf_counter() - t0
                self.metrics.add(stats)
                if want:
                    self.train_rows.append(self.metrics.row(self.step, self.steps_per_epoch, self.seconds, stats,
                                                            self.step_fn.optimizers))
                if cfg.eval_every > 0 and self.step % cfg.eval_every == 0:
                    self._evaluate_unlocked()
        return {k: float(v) for k, v in stats.items()}

    def evaluate(self) -> dict:
        """Mode coverage of eval_samples points from G now (the VEEGAN / PacGAN protocol); logged."""
        with self._torch():
            return self._evaluate_unlocked()

    def _evaluate_unlocked(self) -> dict:
        result = evaluate_generator(self.sampler, self.config.dataset, self.data.shape,
                                    n=self.config.eval_samples, seed=self.config.seed)
        self.sampler.train()
        row = {"kind": "eval", "step": self.step, "time": round(self.seconds, 3), **result}
        if self.eval_rows and self.eval_rows[-1]["step"] == self.step:
            self.eval_rows[-1] = row
        else:
            self.eval_rows.append(row)
        return row

    @torch.no_grad()
    def points(self, n: int = 500) -> torch.Tensor:
        """G's samples (n, 2) from the fixed noise, so frames of an animation are comparable."""
        was = self.sampler.training
        self.sampler.eval()
        out = self.sampler(self.fixed_noise[:n]).float()
        self.sampler.train(was)
        return out

    def real_points(self, n: int = 500) -> torch.Tensor:
        return self.data.x[:n]

    def extent(self) -> float:
        """Half-width of the square the arena draws: the modes plus a margin."""
        return float(self.modes.abs().max()) * 1.4 + 0.2

    @torch.no_grad()
    def d_surface(self, n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
        """D's output on an n x n grid over the arena: (axis (n,), values (n, n) with [row=y, col=x]).

        Probabilities for the ns/bce losses, raw scores otherwise. A PacGAN D judges each point as a
        pack of m copies of it; with minibatch discrimination, D judges each point as if it came in a
        batch with G's current samples (a batch of the whole grid would cost n^4 and mean nothing).
        """
        r = self.extent()
        axis = torch.linspace(-r, r, n)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)                # (n*n, 2)
        reference = None
        if self.config.minibatch_discrimination:
            reference = self.points(self.config.batch_size - 1)                # G's samples, packs of m
            reference = reference[:len(reference) - len(reference) % self.config.pack]
        with self._torch():
            was = self.D.training
            self.D.eval()
            out = self.D(grid.repeat_interleave(self.config.pack, 0), mbd_reference=reference).float()  # (n*n,)
            self.D.train(was)
        if self.config.loss in ("ns", "bce"):
            out = torch.sigmoid(out)
        return axis, out.view(n, n)

    def g_gradients(self, n: int = 150) -> tuple[torch.Tensor, torch.Tensor]:
        """G's samples (n, 2) and the direction each is pushed by G's loss, -dL_G/dx (n, 2)."""
        n -= n % self.config.pack
        x = self.points(n).requires_grad_(True)
        with self._torch():
            was = self.D.training
            self.D.eval()
            loss = losses.g_loss(self.config.loss, self.D(x).float())
            (grad,) = torch.autograd.grad(loss, x)
            self.D.train(was)
        return x.detach(), -grad

    def save_run(self, run_dir: str | Path) -> Path:
        """Write this arena as a run directory (config.json, metrics.jsonl, samples/, checkpoint.pt,
        status.json) that the CLI, the monitor and `train --resume` read like any other run."""
        run_dir = Path(run_dir)
        if (run_dir / "config.json").exists():
            raise ValueError(f"{run_dir} already holds a run; choose another name.")
        run_dir.mkdir(parents=True, exist_ok=True)
        config = replace(self.config, max_steps=max(self.step, 1))  # resume continues from here
        atomic_write_json(run_dir / "config.json", asdict(config))
        atomic_write_json(run_dir / "control.json", {"command": "run"})
        for row in sorted(self.train_rows + self.eval_rows, key=lambda r: (r["step"], r["kind"] == "eval")):
            rundir.append_metrics(run_dir, row)
        save_samples(self.points(len(self.fixed_noise)), rundir.sample_path(run_dir, self.step), modes=self.modes)
        last_eval = {k: v for k, v in self.eval_rows[-1].items()
                     if isinstance(v, (int, float)) and k not in ("step", "time")} if self.eval_rows else {}
        with self._torch():
            rng = rng_state()
        rng["cpu"] = self.rng
        payload = checkpoint_payload(config, self.kwargs, [self.data], self.step_fn, step=self.step,
                                     steps_per_epoch=self.steps_per_epoch, seconds=self.seconds,
                                     metrics=self.train_rows[-1] if self.train_rows else {}, evaluation=last_eval,
                                     best_eval={}, rng=rng)
        save_checkpoint(run_dir / "checkpoint.pt", {**payload, "fixed_noise": self.fixed_noise})  # the arena's own
        rundir.write_status(run_dir, "finished", f"Saved from the mode-collapse arena at step {self.step}.",
                            step=self.step, epoch=self.step / self.steps_per_epoch, total_steps=self.step,
                            steps_per_epoch=self.steps_per_epoch, device="cpu")
        return run_dir
