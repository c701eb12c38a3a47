"""The one training loop. Families differ in their step (ganlib.train.steps), not in the loop.

    train(config, run_dir)
      _Run(...)           setup: data (ganlib.train.preflight), device, the step's nets, resume, batches
      while step < total: control (pause / stop / SIGTERM) -> step -> NaN check -> metrics row
                          -> samples / evaluation / checkpoint when due
      _finish(...)        last samples, evaluation and checkpoint; the final status

The loop owns: data order, fixed noise, logging to metrics.jsonl, sample grids, atomic
checkpoints, status.json, pause/stop requests, NaN detection, and exact resume.
"""
from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..data import DataError, GanData
from ..families import family
from ..evaluate import can_evaluate, evaluate_generator, is_better, metrics_note
from ..files import atomic_write_json
from ..images import save_samples
from ..models import model_kwargs
from . import distributed, rundir
from .batches import BatchStream, autocast_dtype, forked_rng, rng_state, set_rng_state
from .control import Controller, hold_sigterm
from .runlock import RunBusy, RunLock, lock_run
from .preflight import TrainingError, load_domain_b, load_training_data, split_problems
from .steps import build_step
from .tally import Diverged, FiniteWatch, MetricsAccumulator, sync_every_step


def train(config: TrainConfig | None, run_dir: str | Path, *, resume: bool = False,
          overrides: dict | None = None,
          progress_fn: Callable[[int, int, dict | None], None] | None = None,
          abort_fn: Callable[[], bool] | None = None) -> dict:
    """Train into `run_dir` (new) or continue it (`resume=True`). Returns a summary dict.

    progress_fn(step, total_steps, row) is called after each step (row is the logged metrics
    dict on logging steps, else None); abort_fn() -> True stops the run cleanly (checkpoint
    saved, status 'stopped'). Raises TrainingError / DataError / CheckpointError with one sentence.

    Under torchrun (WORLD_SIZE > 1) every process calls this; rank 0 alone reads and writes the
    run directory (see ganlib.train.distributed), and a rank that fails turns the run 'failed'
    with a sentence naming the rank and the step.
    """
    run_dir = Path(run_dir)
    world = distributed.setup()
    ckpt, error, lock = None, None, None
    if world.is_main:
        try:
            config, ckpt, lock = _open_run(config, run_dir, resume, overrides)
        except (TrainingError, CheckpointError, RunBusy) as e:
            error = e
    if world.distributed:  # the other ranks take rank 0's config and checkpoint (no shared disk needed)
        config, ckpt, message = distributed.broadcast_object((config, ckpt, str(error) if error else None), world)
        if message and not world.is_main:
            raise TrainingError(message)
    if error is not None:
        raise TrainingError(str(error)) if isinstance(error, RunBusy) else error
    try:
        return _train_locked(config, run_dir, ckpt, progress_fn, abort_fn, world)
    finally:
        if lock is not None:
            lock.release()


def _train_locked(config: TrainConfig, run_dir: Path, ckpt: dict | None, progress_fn, abort_fn,
                  world: distributed.World) -> dict:
    """train() once rank 0 holds the run's writer's lock: the run files, the rank watch, the failure status."""
    if world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", asdict(config))
        atomic_write_json(run_dir / "control.json", {"command": "run"})
        rundir.write_status(run_dir, "queued", "Loading data.", pid=os.getpid())
    at_step = [0]  # the loop's current step, for failure sentences

    def on_rank_failure(sentence: str) -> None:
        rundir.write_status(run_dir, "failed", sentence, step=at_step[0])

    watch = distributed.RankWatch(world, run_dir, lambda: at_step[0], on_rank_failure).start()
    try:
        summary = _train(config, run_dir, ckpt, progress_fn, abort_fn, world, at_step)
    except BaseException as e:
        with hold_sigterm():  # torchrun's SIGTERM after a rank dies waits until the failure is written
            watch.stop()
            msg = _failure_sentence(e, world, watch, at_step[0], run_dir)
            if not world.is_main:
                if isinstance(e, Exception) and not _is_collective_error(e):  # else another rank's failure
                    distributed.report_failure(world, at_step[0], e)
                raise
            if isinstance(e, KeyboardInterrupt):
                raise
            if msg is not None:
                rundir.write_status(run_dir, "failed", msg)
            if isinstance(e, OSError) and msg is not None:
                raise TrainingError(msg) from None
            raise
    watch.stop()
    distributed.shutdown(world)
    return summary


def _open_run(config: TrainConfig | None, run_dir: Path, resume: bool, overrides: dict | None
              ) -> tuple[TrainConfig, dict | None, RunLock]:
    """(the config to train, the checkpoint to resume from or None, the run's writer's lock, held by the
    caller until training ends); one-sentence errors, RunBusy when another process trains the run."""
    if resume and not (run_dir / "config.json").is_file():
        raise TrainingError(f"{run_dir} is not a run directory (it has no config.json).")
    if not resume and (run_dir / "config.json").exists():
        raise TrainingError(f"{run_dir} already holds a run; continue it with --resume or choose another name.")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_run(run_dir)  # before anything is read: the holder may be rewriting it
    try:
        return (*_read_run(config, run_dir, resume, overrides), lock)
    except BaseException:
        lock.release()
        if created:  # a refused new run leaves no directory behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _read_run(config: TrainConfig | None, run_dir: Path, resume: bool, overrides: dict | None
              ) -> tuple[TrainConfig, dict | None]:
    ckpt = None
    if resume:
        try:
            config = TrainConfig.load(run_dir / "config.json")
        except (ValueError, TypeError) as e:
            raise TrainingError(f"{run_dir}/config.json is damaged ({e}).") from None
        if (run_dir / rundir.CHECKPOINT).exists():
            ckpt = load_checkpoint(run_dir / rundir.CHECKPOINT)
            if ckpt.get("inference_only"):
                raise TrainingError(f"{run_dir}/checkpoint.pt is an exported checkpoint without D and optimiser "
                                    "states, so it cannot be resumed; train a new run instead.")
    else:
        if (run_dir / "config.json").exists():
            raise TrainingError(f"{run_dir} already holds a run; continue it with --resume or choose another name.")
    for k, v in (overrides or {}).items():
        setattr(config, k, v)
    problems = config.validate()
    if problems:
        raise TrainingError(problems[0])
    return config, ckpt


def _is_collective_error(e: BaseException) -> bool:
    """An error raised by a collective because another rank went away (not this rank's own failure)."""
    dist_error = getattr(torch.distributed, "DistError", None)
    if dist_error is not None and isinstance(e, dist_error):
        return True
    text = str(e).lower()
    return type(e) is RuntimeError and any(w in text for w in ("gloo", "nccl", "connection", "peer", "socket"))


def _failure_sentence(e: BaseException, world: distributed.World, watch: distributed.RankWatch, step: int,
                      run_dir: Path) -> str | None:
    """The status message for a run that ends with `e` (None: status.json already says it)."""
    if isinstance(e, KeyboardInterrupt):
        return None
    if world.distributed and world.is_main and _is_collective_error(e):
        found = watch.wait_for_failure(5.0)  # the other rank's last words, or its pid's death
        if found is not None:
            return found
        return (f"Another rank stopped answering at step {step} ({type(e).__name__}: {e}); "
                f"{rundir.resume_clause(run_dir)} with any number of processes.")
    if isinstance(e, (TrainingError, DataError, CheckpointError)):
        return str(e)  # the same on every rank: nothing to name
    if isinstance(e, OSError):
        msg = (f"The disk is full ({e.filename or run_dir}); {rundir.resume_clause(run_dir)} once space is freed."
               if e.errno == errno.ENOSPC else f"{type(e).__name__}: {e}")
    else:
        msg = f"{type(e).__name__}: {e}"
    if world.distributed:
        msg = f"Rank {world.rank} of {world.size} failed at step {step}: {msg}"
    return msg


# ---------------------------------------------------------------- setup and resume

class _Run:
    """One run in this process: its data, device, step (nets and optimisers), batches and progress, and
    the hooks the loop calls (samples, evaluation, checkpoints). Rank 0 alone writes (self.files)."""

    def __init__(self, config: TrainConfig, run_dir: Path, ckpt: dict | None, world: distributed.World):
        self.config, self.world = config, world
        self.files = rundir.RunWriter(run_dir, writes=world.is_main)
        self.datas = [load_training_data(config)]
        if family(config.model).two_domains:
            self.datas.append(load_domain_b(config, self.datas[0]))
        self.data = self.datas[0]
        try:
            self.device = distributed.device_for(config.device, world)
        except ValueError as e:  # an absent device, or more processes than GPUs: one sentence, every rank alike
            raise TrainingError(str(e)) from None
        problems = split_problems(config, world.size)
        if problems:
            raise TrainingError(problems[0])
        torch.manual_seed(config.seed)  # the same seed on every rank: identical nets, noise drawn in slices
        self.kwargs = model_kwargs(config, self.data.shape, self.data.num_classes)
        self.steps_per_epoch = max(1, (len(self.data) // config.batch_size) // config.n_critic)
        self.total_steps = config.max_steps if config.max_steps > 0 else config.epochs * self.steps_per_epoch
        self.step_fn = build_step(config, self.kwargs, self.datas, self.device, autocast_dtype(config, self.device),
                                  self.total_steps)
        self.step, self.base_seconds = 0, 0.0
        self.last_row: dict = {}
        self.last_eval: dict = {}
        self.best_eval: dict | None = None
        if ckpt is not None:
            self._resume(ckpt)
        self.files.truncate_metrics(self.step)
        if world.distributed:
            distributed.wrap_nets(self.step_fn, self.device)
        # one batch stream per domain; the second domain's order is seeded apart from the first's
        streams = [BatchStream(d.x.to(self.device), d.y.to(self.device) if d.y is not None else None,
                               config.batch_size, config.seed + 7919 * i, start_batch=self.step * config.n_critic,
                               rank=world.rank, world=world.size) for i, d in enumerate(self.datas)]
        self.next_batch = streams[0] if len(streams) == 1 else (lambda: tuple(s() for s in streams))
        self.evaluating = (config.eval_every > 0 and self.step_fn.sampler is not None
                           and can_evaluate(self.data.name, self.data.shape))
        self.files.steps_per_epoch = self.steps_per_epoch
        # world_size 1 is written too, so a resumed run's status forgets an earlier run's ranks
        self.files.common = dict(pid=os.getpid(), device=str(self.device), total_steps=self.total_steps,
                                 steps_per_epoch=self.steps_per_epoch, world_size=world.size, ranks=world.members,
                                 metrics_note=metrics_note(self.data.name, self.data.shape))

    def _resume(self, ckpt: dict) -> None:
        run_dir = self.files.dir
        if ckpt["family"] != self.config.model or ckpt["model_kwargs"] != self.kwargs:
            raise TrainingError(f"{run_dir}/checkpoint.pt does not match {run_dir}/config.json.")
        for name, net in self.step_fn.nets.items():
            net.load_state_dict(ckpt[name])
        for name, opt in self.step_fn.optimizers.items():
            opt.load_state_dict(ckpt[name])
        for name, ema in self.step_fn.emas.items():
            if ema is not None and ckpt.get(name):
                ema.load_state_dict(ckpt[name])
        self.step_fn.load_extra_state(ckpt)
        self.step, self.base_seconds = int(ckpt["step"]), float(ckpt.get("time", 0.0))
        self.best_eval = ckpt.get("best_eval")
        set_rng_state(ckpt["rng"], self.device)

    # ------------------------------------------------------------ hooks: samples, evaluation, checkpoints

    def due(self) -> tuple[bool, bool, bool]:
        """(samples, evaluation, checkpoint) due after this step."""
        cfg, step = self.config, self.step
        return (step % cfg.sample_every == 0, self.evaluating and step % cfg.eval_every == 0,
                step % cfg.checkpoint_every == 0)

    def write_samples(self) -> None:
        if self.files.writes:
            images, nrow = self.step_fn.sample_grid()
            save_samples(images, rundir.sample_path(self.files.dir, self.step), modes=self.data.modes, nrow=nrow)

    def save(self, seconds: float, name: str = "checkpoint.pt") -> None:
        if self.files.writes:
            save_checkpoint(self.files.dir / name, checkpoint_payload(
                self.config, self.kwargs, self.datas, self.step_fn, step=self.step,
                steps_per_epoch=self.steps_per_epoch, seconds=seconds, metrics=self.last_row,
                evaluation=self.last_eval, best_eval=self.best_eval, rng=rng_state(self.device)))

    def evaluate(self, clock: Callable[[], float]) -> None:
        """Quality metrics from the sampler; logged as an "eval" row; best.pt when they improve."""
        if not self.files.writes:
            return
        t_eval, sampler, device = time.monotonic(), self.step_fn.sampler, self.device
        was_training = sampler.training
        # evaluation runs on a fork of the RNG, so how often a run is evaluated (bookkeeping) does not change
        # what it learns; with several ranks the RNG must also stay identical on every rank (rank 0 evaluates)
        with forked_rng(device):
            result = evaluate_generator(sampler.eval(), self.data.name, self.data.shape, device=device,
                                        num_classes=self.data.num_classes if family(self.config.model).conditional else 0,
                                        n=self.config.eval_samples, seed=self.config.seed)
        sampler.train(was_training)
        self.last_eval = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        self.files.append_metrics({"kind": "eval", "step": self.step, "time": round(clock(), 3),
                                   "eval_seconds": round(time.monotonic() - t_eval, 2), **result})
        if is_better(self.last_eval, self.best_eval):
            self.best_eval = self.last_eval
            self.save(clock(), "best.pt")


def _describe(data: GanData) -> dict:
    return {"name": data.name, "shape": list(data.shape), "num_classes": data.num_classes,
            "class_names": data.class_names}


def checkpoint_payload(config: TrainConfig, kwargs: dict, datas: list[GanData], step_fn, *, step: int,
                       steps_per_epoch: int, seconds: float, metrics: dict, evaluation: dict,
                       best_eval: dict | None, rng: dict) -> dict:
    """What checkpoint.pt and best.pt hold: the family, its model arguments and config (so a resume rebuilds
    everything from the file), the data set(s), progress and the last metrics, every net, EMA and optimiser
    of the step, the RNG state and the step's own extra state. The 2-D arena saves itself with it too."""
    return {
        "family": config.model, "model_kwargs": kwargs, "train_config": asdict(config),
        "dataset": _describe(datas[0]), **({"dataset_b": _describe(datas[1])} if len(datas) > 1 else {}),
        "step": step, "epoch": step / steps_per_epoch, "time": seconds, "metrics": metrics, "eval": evaluation,
        **{k: net.state_dict() for k, net in step_fn.nets.items()},
        **{k: (ema.state_dict() if ema is not None else {}) for k, ema in step_fn.emas.items()},
        **{k: opt.state_dict() for k, opt in step_fn.optimizers.items()},
        "rng": rng, "best_eval": best_eval or {}, **step_fn.extra_state(),
    }


# ---------------------------------------------------------------- the loop

def _train(config: TrainConfig, run_dir: Path, ckpt: dict | None, progress_fn, abort_fn,
           world: distributed.World | None = None, at_step: list | None = None) -> dict:
    world = world or distributed.World()
    at_step = at_step if at_step is not None else [0]
    run = _Run(config, run_dir, ckpt, world)
    control = Controller(run.files, world, abort_fn, base_seconds=run.base_seconds)
    metrics = MetricsAccumulator(run.step, control.seconds())
    finite, sync_each = FiniteWatch(run.device), sync_every_step(run.device)
    run.files.status("running", _resume_note(run.step, run.data.note), run.step, started=time.time())
    if run.step == 0:
        run.write_samples()
    for net in run.step_fn.nets.values():
        net.train()
    state, message = "finished", ""
    try:
        with control:  # SIGTERM stops the run cleanly in here
            while run.step < run.total_steps:
                at_step[0] = run.step
                if control.should_stop(run.step):
                    state, message = "stopped", f"Stopped at step {run.step}; resume to continue."
                    break
                logging = (run.step + 1) % config.log_every == 0 or run.step + 1 == run.total_steps
                stats = run.step_fn(run.next_batch, run.step, logging)
                run.step += 1
                at_step[0] = run.step  # a failure while this step logs (a rank dead in a collective) names it
                finite.update(run.step, torch.stack([stats["d_loss"], stats["g_loss"]]))
                due = run.due()
                if sync_each or logging or any(due):
                    finite.check()  # before anything is logged, drawn or saved from these weights
                metrics.add(stats)
                row = _log(run, metrics, control, stats) if logging else None
                _when_due(run, due, metrics, control)
                if progress_fn is not None and world.is_main:
                    progress_fn(run.step, run.total_steps, row)
    except Diverged as e:
        run.files.status("failed", str(e), run.step)
        raise TrainingError(str(e)) from None
    except KeyboardInterrupt:
        state, message = "stopped", f"Interrupted at step {run.step}; resume to continue."
    at_step[0] = run.step
    return _finish(run, control, state, message)


def _log(run: _Run, metrics: MetricsAccumulator, control: Controller, stats: dict) -> dict:
    """A logging step: the metrics row (the global batch's means, with several ranks), its status, and
    with several ranks the pause / stop they agree on."""
    cfg = run.config
    row = metrics.row(run.step, run.steps_per_epoch, control.seconds(), stats, run.step_fn.optimizers,
                      world=run.world, batch_images=cfg.batch_size * cfg.n_critic)
    run.files.append_metrics(row)
    run.files.status("running", "", run.step)
    run.last_row = row
    if run.world.distributed:  # one collective per logging step: pause / stop, and each rank's speed
        rank_speeds = control.agree(run.step, row["images_per_s"] / run.world.size)
        run.files.status("running", "", run.step, rank_images_per_s=rank_speeds)
    return row


def _when_due(run: _Run, due: tuple[bool, bool, bool], metrics: MetricsAccumulator, control: Controller) -> None:
    samples, evaluation, checkpoint = due
    if run.world.distributed and any(due):
        distributed.average_buffers(run.step_fn, run.world)  # BatchNorm statistics: the same on every rank
        if checkpoint:
            distributed.check_in_sync(run.step_fn, run.world, run.step)
    if samples:
        run.write_samples()
    if evaluation:
        t_eval = time.monotonic()
        run.evaluate(control.seconds)
        metrics.exclude(time.monotonic() - t_eval)  # images/s stays a training figure
    if checkpoint:
        run.save(control.seconds())


def _finish(run: _Run, control: Controller, state: str, message: str) -> dict:
    """The last samples, evaluation and checkpoint, the final status; the run's summary."""
    distributed.average_buffers(run.step_fn, run.world)
    if not rundir.sample_path(run.files.dir, run.step).exists():
        run.write_samples()
    if run.evaluating and state == "finished" and run.step % run.config.eval_every != 0:
        run.evaluate(control.seconds)
    run.save(control.seconds())
    if state == "finished":
        message = f"Finished {run.step} steps in {control.seconds():.0f} s."
    run.files.status(state, message, run.step)
    return {"state": state, "message": message, "step": run.step, "total_steps": run.total_steps,
            "epoch": run.step / run.steps_per_epoch, "time": control.seconds(), "metrics": run.last_row,
            "run_dir": str(run.files.dir), "device": str(run.device), "data_note": run.data.note,
            "rank": run.world.rank, "world_size": run.world.size}


def _resume_note(step: int, data_note: str) -> str:
    parts = [f"Resumed at step {step}." if step else "", data_note]
    return " ".join(p for p in parts if p)
