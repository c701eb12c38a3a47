"""The one training loop. Families differ in their step (ganlib.train.steps), not in the loop.

The loop owns: data order, fixed noise, logging to metrics.jsonl, sample grids, atomic
checkpoints, status.json, pause/stop requests, NaN detection, and exact resume.
"""
from __future__ import annotations

import errno
import math
import os
import signal
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..data import DataError, GanData, load_dataset
from ..evaluate import can_evaluate, evaluate_generator, is_better, metrics_note
from ..images import save_samples
from ..models import model_kwargs
from . import distributed, rundir
from .steps import build_step


class TrainingError(RuntimeError):
    """A run that cannot start or continue; the message is one sentence for the user."""


def load_training_data(config: TrainConfig) -> GanData:
    """The data set a config asks for, checked against the model (one-sentence errors)."""
    data = load_dataset(config.dataset, data_dir=config.data_dir, download=config.download,
                        image_size=config.image_size, channels=config.channels, subset=config.subset,
                        seed=config.seed,  # CycleGAN keeps some fonts unseen to measure label preservation on
                        fonts="train" if config.model == "cyclegan" else "all")
    problems = preflight(config, data)
    if problems:
        raise TrainingError(problems[0])
    return data


def load_domain_b(config: TrainConfig, data_a: GanData) -> GanData:
    """CycleGAN's domain B (config.dataset_b), checked against domain A (one-sentence errors)."""
    data = load_dataset(config.dataset_b, data_dir=config.data_dir_b, download=config.download,
                        image_size=config.image_size, channels=config.channels, subset=config.subset,
                        seed=config.seed + 1)
    if data.shape != data_a.shape:
        raise TrainingError(f"The two domains' images differ ({data_a.name}: {list(data_a.shape)}, {data.name}: "
                            f"{list(data.shape)}); give --channels 1 or 3 so both have the same.")
    if len(data) < config.batch_size:
        raise TrainingError(f"The batch size ({config.batch_size}) is larger than domain B ({len(data)} "
                            "examples); lower the batch size or use more data.")
    return data


def preflight(config: TrainConfig, data: GanData | None = None) -> list[str]:
    """Everything wrong with a config (and its data, when given), each one sentence."""
    problems = config.validate()
    if data is None:
        return problems
    if config.model == "cgan" and (data.y is None or data.num_classes < 2):
        problems.append(f"CGAN needs a labelled data set; {data.name} has no class labels here.")
    if config.model in ("dcgan", "cgan", "cyclegan") and not data.is_image:
        problems.append(f"{config.model.upper()} needs images; {data.name} holds 2-D points (use gan).")
    if len(data) < config.batch_size:
        problems.append(f"The batch size ({config.batch_size}) is larger than the data set ({len(data)} "
                        "examples); lower the batch size or use more data.")
    return problems


class _BatchStream:
    """An endless stream of batches: pass k is a permutation seeded by (seed, k), so resuming
    at any batch index continues the exact same order. Drops the last incomplete batch.

    With several processes, `batch_size` is the global batch and rank r of `world` takes its r-th
    slice of batch_size / world examples: the same permutation on every rank, so each rank sees
    different examples and a resume with another number of processes continues the same order."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int, start_batch: int = 0,
                 rank: int = 0, world: int = 1):
        self.x, self.y, self.bs, self.seed = x, y, batch_size, seed
        self.per_pass = len(x) // batch_size
        self.index = start_batch
        self._pass, self._perm = -1, None
        self.local = batch_size // world
        self.offset = rank * self.local

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        k, i = divmod(self.index, self.per_pass)
        if k != self._pass:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + k)
            perm = torch.randperm(len(self.x), generator=g)
            if self.x.device.type == "cuda":  # a pinned copy goes without making the host wait for the GPU
                perm = perm.pin_memory().to(self.x.device, non_blocking=True)
            self._pass, self._perm = k, perm.to(self.x.device)
        start = i * self.bs + self.offset
        idx = self._perm[start:start + self.local]
        self.index += 1
        return self.x[idx], (self.y[idx] if self.y is not None else None)


_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # native bf16 dot products (x86); without them bf16 is emulated
_cpu_bf16: bool | None = None


def cpu_supports_bf16(cpuinfo: str | None = None) -> bool:
    """True where this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX), so bf16 autocast speeds
    training up; elsewhere it is emulated and slower. Asked on first use, not at import; cached.

    `cpuinfo` (the text of /proc/cpuinfo) is for tests; then nothing is cached or asked of torch.
    """
    global _cpu_bf16
    given = cpuinfo is not None
    if not given and _cpu_bf16 is not None:
        return _cpu_bf16
    found = False
    try:
        if torch.backends.mkldnn.is_available():  # oneDNN runs the bf16 convolutions and matmuls
            if cpuinfo is None:
                probes = [getattr(torch.cpu, name, None)  # torch's own cpuinfo: Linux, Windows and macOS
                          for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
                probes = [p for p in probes if p is not None]
                if probes:
                    found = any(bool(p()) for p in probes)
                else:
                    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
            if cpuinfo is not None:
                flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                              if line.startswith("flags")), [])
                found = any(f in flags for f in _CPU_BF16_FLAGS)
    except Exception:  # noqa: BLE001 - an odd platform falls back to full precision, never fails
        found = False
    if not given:
        _cpu_bf16 = found
    return found


def _autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 autocast (no loss scaling needed) when config.amp, on CUDA GPUs that support it and on
    CPUs with native bf16 (about 1.4x faster on this project's AVX-512 BF16 CPU); full precision elsewhere."""
    if not config.amp or config.dataset.startswith("toy-"):
        return None  # 2-D points need more than bf16's 3 significant digits (a grid mode's std is 0.05 at 4)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def _rng_state(device: torch.device | None = None) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if device is not None and device.type == "cuda":
        state["device"] = torch.cuda.get_rng_state(device)  # what resumes any rank's device
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


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
    ckpt, error = None, None
    if world.is_main:
        try:
            config, ckpt = _open_run(config, run_dir, resume, overrides)
        except (TrainingError, CheckpointError) as e:
            error = e
    if world.distributed:  # the other ranks take rank 0's config and checkpoint (no shared disk needed)
        config, ckpt, message = distributed.broadcast_object((config, ckpt, str(error) if error else None), world)
        if message and not world.is_main:
            raise TrainingError(message)
    if error is not None:
        raise error
    if world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.atomic_write_json(run_dir / "config.json", asdict(config))
        rundir.atomic_write_json(run_dir / "control.json", {"command": "run"})
        rundir.write_status(run_dir, "queued", "Loading data.", pid=os.getpid())
    at_step = [0]  # the loop's current step, for failure sentences

    def on_rank_failure(sentence: str) -> None:
        rundir.write_status(run_dir, "failed", sentence, step=at_step[0])

    watch = distributed.RankWatch(world, lambda: at_step[0], on_rank_failure).start()
    try:
        summary = _train(config, run_dir, ckpt, progress_fn, abort_fn, world, at_step)
    except BaseException as e:
        watch.stop()
        msg = _failure_sentence(e, world, watch, at_step[0], run_dir)
        if not world.is_main:
            if isinstance(e, Exception) and not _is_collective_error(e):  # a collective error: another rank's failure
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
              ) -> tuple[TrainConfig, dict | None]:
    """(the config to train, the checkpoint to resume from or None); one-sentence errors."""
    ckpt = None
    if resume:
        if not (run_dir / "config.json").is_file():
            raise TrainingError(f"{run_dir} is not a run directory (it has no config.json).")
        try:
            config = TrainConfig.load(run_dir / "config.json")
        except (ValueError, TypeError) as e:
            raise TrainingError(f"{run_dir}/config.json is damaged ({e}).") from None
        if (run_dir / "checkpoint.pt").exists():
            ckpt = load_checkpoint(run_dir / "checkpoint.pt")
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
        return (f"Another rank stopped answering at step {step} ({type(e).__name__}: {e}); the last checkpoint "
                "is kept — resume continues from it with any number of processes.")
    if isinstance(e, (TrainingError, DataError, CheckpointError)):
        return str(e)  # the same on every rank: nothing to name
    if isinstance(e, OSError):
        msg = (f"The disk is full ({e.filename or run_dir}); the last checkpoint is kept — free space and resume."
               if e.errno == errno.ENOSPC else f"{type(e).__name__}: {e}")
    else:
        msg = f"{type(e).__name__}: {e}"
    if world.distributed:
        msg = f"Rank {world.rank} of {world.size} failed at step {step}: {msg}"
    return msg


def _train(config: TrainConfig, run_dir: Path, ckpt: dict | None, progress_fn, abort_fn,
           world: distributed.World | None = None, at_step: list | None = None) -> dict:
    world = world or distributed.World()
    # rank 0 alone writes the run directory: the other ranks' `rundir` is a stand-in whose writes do nothing
    rundir = _run_files if world.is_main else _NoWrites()
    at_step = at_step if at_step is not None else [0]
    datas = [load_training_data(config)]
    if config.model == "cyclegan":
        datas.append(load_domain_b(config, datas[0]))
    data = datas[0]
    try:
        device = distributed.device_for(config.device, world)
    except ValueError as e:  # an absent device, or more processes than GPUs: one sentence, every rank alike
        raise TrainingError(str(e)) from None
    if world.distributed and config.batch_size % (world.size * config.pack):
        raise TrainingError(f"The batch size ({config.batch_size}) is the global batch and must split evenly over "
                            f"{world.size} processes" + (f" in packs of {config.pack}" if config.pack > 1 else "")
                            + "; choose a multiple of " + f"{world.size * config.pack}.")
    torch.manual_seed(config.seed)  # the same seed on every rank: identical nets, noise drawn in slices
    kwargs = model_kwargs(config, data.shape, data.num_classes)
    steps_per_epoch = max(1, (len(data) // config.batch_size) // config.n_critic)
    total_steps = config.max_steps if config.max_steps > 0 else config.epochs * steps_per_epoch
    step_fn = build_step(config, kwargs, datas, device, _autocast_dtype(config, device), total_steps)

    step, base_time = 0, 0.0
    if ckpt is not None:
        if ckpt["family"] != config.model or ckpt["model_kwargs"] != kwargs:
            raise TrainingError(f"{run_dir}/checkpoint.pt does not match {run_dir}/config.json.")
        for name, net in step_fn.nets.items():
            net.load_state_dict(ckpt[name])
        for name, opt in step_fn.optimizers.items():
            opt.load_state_dict(ckpt[name])
        for name, ema in step_fn.emas.items():
            if ema is not None and ckpt.get(name):
                ema.load_state_dict(ckpt[name])
        step_fn.load_extra_state(ckpt)
        step, base_time = int(ckpt["step"]), float(ckpt.get("time", 0.0))
        _set_rng_state(ckpt["rng"])
        if device.type == "cuda" and "device" in ckpt["rng"]:  # the training device's own stream (any rank)
            torch.cuda.set_rng_state(ckpt["rng"]["device"], device)
    rundir.truncate_metrics(run_dir, step)
    if world.distributed:
        distributed.wrap_nets(step_fn, device)

    # one batch stream per domain; the second domain's order is seeded apart from the first's
    streams = [_BatchStream(d.x.to(device), d.y.to(device) if d.y is not None else None, config.batch_size,
                            config.seed + 7919 * i, start_batch=step * config.n_critic,
                            rank=world.rank, world=world.size) for i, d in enumerate(datas)]
    stream = streams[0] if len(streams) == 1 else (lambda: tuple(s() for s in streams))
    sampler = step_fn.sampler
    last_row: dict = {}
    last_eval: dict = {}
    best_eval: dict | None = ckpt.get("best_eval") if ckpt else None
    evaluating = config.eval_every > 0 and sampler is not None and can_evaluate(data.name, data.shape)

    def evaluate() -> None:
        """Quality metrics from the sampler; logged as an "eval" row; best.pt when they improve."""
        nonlocal last_eval, best_eval
        if not world.is_main:
            return
        t_eval = time.monotonic()
        was_training = sampler.training
        # with several ranks the RNG must stay identical on every rank: rank 0 evaluates on a fork
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], enabled=world.distributed):
            result = evaluate_generator(sampler.eval(), data.name, data.shape, device=device,
                                        num_classes=data.num_classes if config.model == "cgan" else 0,
                                        n=config.eval_samples, seed=config.seed)
        sampler.train(was_training)
        last_eval = {k: v for k, v in result.items() if isinstance(v, (int, float))}
        rundir.append_metrics(run_dir, {"kind": "eval", "step": step, "time": round(elapsed(), 3),
                                        "eval_seconds": round(time.monotonic() - t_eval, 2), **result})
        if is_better(last_eval, best_eval):
            best_eval = last_eval
            save("best.pt")

    def describe_data(d: GanData) -> dict:
        return {"name": d.name, "shape": list(d.shape), "num_classes": d.num_classes, "class_names": d.class_names}

    def save(name: str = "checkpoint.pt") -> None:
        if not world.is_main:
            return
        save_checkpoint(run_dir / name, {
            "family": config.model, "model_kwargs": kwargs, "train_config": asdict(config),
            "dataset": describe_data(data), **({"dataset_b": describe_data(datas[1])} if len(datas) > 1 else {}),
            "step": step, "epoch": step / steps_per_epoch, "time": elapsed(), "metrics": last_row,
            "eval": last_eval,
            **{k: net.state_dict() for k, net in step_fn.nets.items()},
            **{k: (ema.state_dict() if ema is not None else {}) for k, ema in step_fn.emas.items()},
            **{k: opt.state_dict() for k, opt in step_fn.optimizers.items()},
            "rng": _rng_state(device), "best_eval": best_eval or {}, **step_fn.extra_state(),
        })

    def write_samples() -> None:
        if not world.is_main:
            return
        images, nrow = step_fn.sample_grid()
        save_samples(images, rundir.sample_path(run_dir, step), modes=data.modes, nrow=nrow)

    stop_signal = threading.Event()
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, lambda *_: stop_signal.set())

    t_start, paused_s = time.monotonic(), 0.0

    def elapsed() -> float:
        return base_time + time.monotonic() - t_start - paused_s

    common = dict(pid=os.getpid(), device=str(device), total_steps=total_steps, steps_per_epoch=steps_per_epoch)
    # world_size 1 is written too, so a resumed run's status forgets an earlier run's ranks
    common.update(world_size=world.size, ranks=world.members, metrics_note=metrics_note(data.name, data.shape))
    rundir.write_status(run_dir, "running", _resume_note(step, data.note), step=step,
                        epoch=step / steps_per_epoch, started=time.time(), **common)
    if step == 0:
        write_samples()
    acc: dict[str, torch.Tensor] = {}
    acc_n, t_log, step_log = 0, time.monotonic(), step
    finite = _FiniteWatch(device)
    sync_every_step = _sync_every_step(device)
    last_control_check = 0.0
    agreed_stop = False  # several ranks: the stop all ranks agreed on at the last logging step
    final_state, final_msg = "finished", ""

    def local_command() -> int:
        """What this rank asks for at a logging step (rank 0 reads control.json; any rank may have a SIGTERM)."""
        if stop_signal.is_set() or (abort_fn is not None and abort_fn()):
            return distributed.STOP
        return {"pause": distributed.PAUSE, "stop": distributed.STOP}.get(rundir.requested(run_dir), distributed.RUN)
    for net in step_fn.nets.values():
        net.train()
    try:
        while step < total_steps:
            at_step[0] = step
            now = time.monotonic()
            if not world.distributed and now - last_control_check > 0.25:  # a file read per step would cost on fast GPUs
                last_control_check = now
                command = rundir.requested(run_dir)
                if command == "pause" and not stop_signal.is_set():
                    rundir.write_status(run_dir, "paused", f"Paused at step {step}.", step=step,
                                        epoch=step / steps_per_epoch, **common)
                    t_pause = time.monotonic()
                    while rundir.requested(run_dir) == "pause" and not stop_signal.is_set():
                        time.sleep(0.2)
                    paused_s += time.monotonic() - t_pause
                    t_log = time.monotonic()
                    command = rundir.requested(run_dir)
                    rundir.write_status(run_dir, "running", "", step=step, epoch=step / steps_per_epoch, **common)
                if command == "stop":
                    stop_signal.set()
            if agreed_stop if world.distributed else (stop_signal.is_set() or (abort_fn is not None and abort_fn())):
                final_state, final_msg = "stopped", f"Stopped at step {step}; resume to continue."
                break
            want = (step + 1) % config.log_every == 0 or step + 1 == total_steps
            stats = step_fn(stream, step, want)
            step += 1
            at_step[0] = step  # a failure seen while this step logs (another rank dead in a collective) names it
            finite.update(step, torch.stack([stats["d_loss"], stats["g_loss"]]))
            if sync_every_step or want or step % config.sample_every == 0 or step % config.checkpoint_every == 0 \
                    or (evaluating and step % config.eval_every == 0):
                finite.check()  # before anything is logged, drawn or saved from these weights
            for k, v in stats.items():  # d_loss, g_loss, d_real, d_fake and any family's own losses
                if not k.startswith("grad_norm"):
                    acc[k] = acc[k] + v if k in acc else v.clone()
            acc_n += 1
            row = None
            if want:
                if world.distributed:  # the logged losses are the global batch's, as with one process
                    acc = distributed.mean_over_ranks(acc, world)
                dt = max(time.monotonic() - t_log, 1e-9)
                row = {"kind": "train", "step": step, "epoch": round(step / steps_per_epoch, 4),
                       "time": round(elapsed(), 3)}
                row.update({k: float(v) / acc_n for k, v in acc.items()})
                row["grad_norm_d"], row["grad_norm_g"] = float(stats["grad_norm_d"]), float(stats["grad_norm_g"])
                row["images_per_s"] = round((step - step_log) * config.batch_size * config.n_critic / dt, 2)
                row["lr_d"] = step_fn.optimizers["opt_d"].param_groups[0]["lr"]  # CycleGAN's decay
                row["lr_g"] = step_fn.optimizers["opt_g"].param_groups[0]["lr"]
                rundir.append_metrics(run_dir, row)
                rundir.write_status(run_dir, "running", "", step=step, epoch=step / steps_per_epoch, **common)
                last_row, acc, acc_n, t_log, step_log = row, {}, 0, time.monotonic(), step
            if world.distributed and want:
                # one collective per logging step: pause / stop agreed by every rank, and each rank's speed
                command, rank_speeds = distributed.agree(world, local_command(), row["images_per_s"] / world.size)
                if command == distributed.PAUSE:
                    rundir.write_status(run_dir, "paused", f"Paused at step {step}.", step=step,
                                        epoch=step / steps_per_epoch, **common)
                    t_pause = time.monotonic()
                    while command == distributed.PAUSE:
                        time.sleep(0.5)  # rank 0 polls the file; the others wait here, well inside any timeout
                        command, _ = distributed.agree(world, local_command(), 0.0)
                    paused_s += time.monotonic() - t_pause
                    t_log = time.monotonic()
                agreed_stop = command == distributed.STOP
                rundir.write_status(run_dir, "running", "", step=step, epoch=step / steps_per_epoch,
                                    rank_images_per_s=rank_speeds, **common)
            if world.distributed and (step % config.sample_every == 0 or step % config.checkpoint_every == 0
                                      or (evaluating and step % config.eval_every == 0)):
                distributed.average_buffers(step_fn, world)  # BatchNorm statistics: the same on every rank
                if step % config.checkpoint_every == 0:
                    distributed.check_in_sync(step_fn, world, step)
            if step % config.sample_every == 0:
                write_samples()
            if evaluating and step % config.eval_every == 0:
                t_eval = time.monotonic()
                evaluate()
                t_log += time.monotonic() - t_eval  # images/s stays a training figure
            if step % config.checkpoint_every == 0:
                save()
            if progress_fn is not None and world.is_main:
                progress_fn(step, total_steps, row)
    except _Diverged as e:
        rundir.write_status(run_dir, "failed", str(e), step=step, epoch=step / steps_per_epoch, **common)
        raise TrainingError(str(e)) from None
    except KeyboardInterrupt:
        final_state, final_msg = "stopped", f"Interrupted at step {step}; resume to continue."
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)

    at_step[0] = step
    distributed.average_buffers(step_fn, world)
    if not rundir.sample_path(run_dir, step).exists():
        write_samples()
    if evaluating and final_state == "finished" and step % config.eval_every != 0:
        evaluate()
    save()
    if final_state == "finished":
        final_msg = f"Finished {step} steps in {elapsed():.0f} s."
    rundir.write_status(run_dir, final_state, final_msg, step=step, epoch=step / steps_per_epoch, **common)
    return {"state": final_state, "message": final_msg, "step": step, "total_steps": total_steps,
            "epoch": step / steps_per_epoch, "time": elapsed(), "metrics": last_row, "run_dir": str(run_dir),
            "device": str(device), "data_note": data.note, "rank": world.rank, "world_size": world.size}


class _Diverged(Exception):
    pass


def _sync_every_step(device: torch.device) -> bool:
    """Whether the loop reads the losses on the host after every step. On a CPU that costs nothing; on a
    GPU it would stall the queue of kernels each step, so there the check waits for the next step that
    logs, draws, evaluates or saves (a NaN is still caught before any of those, with its exact step)."""
    return device.type == "cpu"


class _FiniteWatch:
    """Remembers, on the device, the first step whose losses were not finite, without a host sync."""

    def __init__(self, device: torch.device):
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_losses = torch.zeros(2, device=device)

    def update(self, step: int, losses: torch.Tensor) -> None:
        """losses: [d_loss, g_loss] of this step (0-dim tensors stacked), still on the device."""
        newly_bad = (self.bad_step < 0) & ~torch.isfinite(losses).all()
        self.bad_step = torch.where(newly_bad, step, self.bad_step)
        self.bad_losses = torch.where(newly_bad, losses.detach().float(), self.bad_losses)

    def check(self) -> None:
        """Raises _Diverged (one sentence) if any step since the start was not finite; syncs once."""
        bad_step = int(self.bad_step)
        if bad_step < 0:
            return
        d_l, g_l = self.bad_losses.tolist()
        which, value = ("D loss", d_l) if not math.isfinite(d_l) else ("G loss", g_l)
        raise _Diverged(f"Training diverged: the {which} became {value} at step {bad_step}; the last good "
                        "checkpoint is kept — lower the learning rates or try another loss.")


_run_files = rundir


class _NoWrites:
    """`rundir` for ranks other than 0: the same reads, writes that do nothing, no control requests."""

    _WRITES = ("write_status", "append_metrics", "truncate_metrics", "atomic_write_json", "atomic_write_bytes",
               "request")

    def __getattr__(self, name: str):
        if name in self._WRITES:
            return lambda *args, **kwargs: None
        if name == "requested":
            return lambda run_dir: "run"
        return getattr(_run_files, name)


def _resume_note(step: int, data_note: str) -> str:
    parts = [f"Resumed at step {step}." if step else "", data_note]
    return " ".join(p for p in parts if p)
