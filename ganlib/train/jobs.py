"""Background training jobs: start, pause, continue, stop, resume, list, status, delete.

A job is a `python -m ganlib train ... --out RUN_DIR` process in its own session, with its
stdout/stderr in RUN_DIR/log.txt. Everything about a job is in its run directory (see rundir.py),
so any process (a Streamlit server, a second tab, a restarted server, a shell) sees the same jobs.
The runner talks to a job through control.json (pause / run / stop) and falls back to signals
only when a job does not answer.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from ganlib.config import TrainConfig
from ganlib.paths import runs_root
from ganlib.train import rundir
from ganlib.train.runlock import busy_sentence, is_locked
from ganlib.train.procs import exit_code, launch, pid_alive

ACTIVE_STATES = ("queued", "running", "paused")   # a process exists (or should) for these
DEFAULT_MAX_RUNS = 2


def max_concurrent() -> int:
    """How many runs may train (or sit paused) at once: $GAN_STUDIO_MAX_RUNS, default 2."""
    try:
        return max(1, int(os.environ.get("GAN_STUDIO_MAX_RUNS", DEFAULT_MAX_RUNS)))
    except ValueError:
        return DEFAULT_MAX_RUNS


# ---------------------------------------------------------------- processes

@contextlib.contextmanager
def _start_lock(root: Path):
    """Serialise starts under one runs root, so two clicks cannot both pass the concurrency bound."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".start.lock", "w") as f:
        try:
            import fcntl
            fcntl.flock(f, fcntl.LOCK_EX)
        except ImportError:  # Windows: no lock, the bound is best effort
            pass
        yield


# ---------------------------------------------------------------- commands

def train_argv(config: TrainConfig, run_dir: str | Path) -> list[str]:
    """The exact `python -m ganlib train ...` argv that trains `config` into run_dir."""
    from ganlib.config import command_for

    words = shlex.split(command_for(config, str(run_dir)))
    return [sys.executable, *words[1:]] if words and words[0].startswith("python") else words


def resume_argv(run_dir: str | Path) -> list[str]:
    return [sys.executable, "-m", "ganlib", "train", "--resume", str(run_dir)]


def torchrun_argv(config: TrainConfig, run_dir: str | Path, nproc: int) -> list[str]:
    """train_argv on `nproc` processes of this machine through torchrun (one per GPU; a free port of its own)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            *train_argv(config, run_dir)[1:]]


def torchrun_resume_argv(run_dir: str | Path, nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            *resume_argv(run_dir)[1:]]


def launch_problems(config: TrainConfig, nproc: int) -> list[str]:
    """What keeps `config` from training on `nproc` GPUs, each one sentence ([] for one process)."""
    from ganlib.train.preflight import split_problems  # the loop's own rule; imports torch, so not at the top

    return split_problems(config, nproc, unit="GPUs")


def _resume_command(run_dir: Path, st: dict) -> list[str]:
    """Resume on as many processes as the run last used, where this machine has that many GPUs; else one."""
    from ganlib.device import gpu_count

    nproc = int(st.get("world_size") or 1)
    return torchrun_resume_argv(run_dir, nproc) if 1 < nproc <= gpu_count() else resume_argv(run_dir)


def default_run_name(config: TrainConfig) -> str:
    return f"{config.model}-{config.dataset}-{config.loss}-{time.strftime('%Y%m%d-%H%M%S')}"


def new_run_dir(root: str | Path, name: str) -> Path:
    """Create a fresh run directory; a taken name gets -2, -3, ... so no run is ever clobbered."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = rundir.sanitize_run_name(name)
    for i in range(1, 10_000):
        path = root / (base if i == 1 else f"{base}-{i}")
        try:
            path.mkdir()  # atomic: fails if another start took the name first
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not find a free run name for {base!r}.")


def run_dirs(root: str | Path | None = None) -> list[Path]:
    """Run directories under the root, newest first, including runs still starting (no config.json yet)."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    runs = [d for d in root.iterdir() if (d / "config.json").is_file() or (d / "status.json").is_file()]

    def created(d: Path) -> float:
        st = rundir.read_status(d)
        return st.get("launched") or st.get("started") or d.stat().st_mtime

    return sorted(runs, key=created, reverse=True)


def active_runs(root: str | Path | None = None) -> list[Path]:
    """Runs whose process is queued, running or paused (dead ones are marked failed first)."""
    return [d for d in run_dirs(root) if status(d).get("state") in ACTIVE_STATES]


def start_blocker(root: str | Path | None = None) -> str:
    """Why a new run cannot start now ("" if it can)."""
    active = active_runs(root)
    limit = max_concurrent()
    if len(active) >= limit:
        names = ", ".join(d.name for d in active)
        return (f"{len(active)} run(s) are already training or paused ({names}) and the limit is {limit} "
                "(GAN_STUDIO_MAX_RUNS); stop one or wait for it to finish.")
    return ""


def start(config: TrainConfig, name: str = "", root: str | Path | None = None,
          argv: list[str] | None = None) -> Path:
    """Reserve a run directory, write status 'queued', launch the training process; returns the run dir.

    Raises ValueError (one sentence per problem) for an invalid config or when the bound on
    concurrent runs is reached. The process writes config.json itself (the CLI refuses a directory
    that already holds one). `argv` replaces the training command (tests use a fake trainer).
    """
    problems = config.validate()
    if problems:
        raise ValueError(" ".join(problems))
    root = Path(root) if root else runs_root()
    with _start_lock(root):
        blocker = start_blocker(root)
        if blocker:
            raise ValueError(blocker)
        run_dir = new_run_dir(root, name or default_run_name(config))
        rundir.request(run_dir, "run")
        launched = time.time()
        rundir.write_status(run_dir, "queued", "Starting the training process.", step=0, epoch=0,
                            launched=launched)
        argv = argv or train_argv(config, run_dir)
        pid = launch([a.replace("{run_dir}", str(run_dir)) for a in argv], run_dir)
        _record_pid(run_dir, pid, launched)
    return run_dir


def _record_pid(run_dir: Path, pid: int, launched: float) -> None:
    # The child writes its own status once torch is imported (seconds later); until then the
    # runner's pid lets status() notice a child that died on startup.
    st = rundir.read_status(run_dir)
    if st.get("state", "queued") == "queued" and not st.get("pid"):
        rundir.write_status(run_dir, "queued", st.get("message", "Starting the training process."),
                            pid=pid, launched=launched, launcher_pid=pid)


def resume(run_dir: str | Path, argv: list[str] | None = None) -> None:
    """Continue a stopped or failed run from its last checkpoint in a new process."""
    run_dir = Path(run_dir)
    if is_locked(run_dir):  # whatever status.json says, a process trains it now (the lock's holder)
        raise ValueError(busy_sentence(run_dir))
    st = status(run_dir)
    if st.get("state") in ACTIVE_STATES:
        raise ValueError(f"{run_dir.name} is still {st['state']}; stop it before resuming.")
    if st.get("state") == "finished":
        raise ValueError(f"{run_dir.name} has finished; start a new run to train longer.")
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir.name} failed before it wrote its config; start a new run instead.")
    with _start_lock(run_dir.parent):
        blocker = start_blocker(run_dir.parent)
        if blocker:
            raise ValueError(blocker)
        rundir.request(run_dir, "run")
        launched = time.time()
        rundir.write_status(run_dir, "queued", "Resuming from the last checkpoint.", pid=0, launched=launched)
        argv = argv or _resume_command(run_dir, st)
        pid = launch([a.replace("{run_dir}", str(run_dir)) for a in argv], run_dir)
        _record_pid(run_dir, pid, launched)


def pause(run_dir: str | Path) -> None:
    """Ask the process to stop taking steps; it stays alive (state 'paused')."""
    rundir.request(run_dir, "pause")


def proceed(run_dir: str | Path) -> None:
    """Continue a paused run."""
    rundir.request(run_dir, "run")


def stop(run_dir: str | Path, timeout: float = 10.0) -> dict:
    """Ask the run to save a checkpoint and exit; SIGTERM, then SIGKILL if it does not within timeout.

    Returns the final status.
    """
    run_dir = Path(run_dir)
    st = rundir.read_status(run_dir)
    pid = st.get("pid")
    rundir.request(run_dir, "stop")
    if not _wait_dead(pid, timeout, st):
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            with contextlib.suppress(OSError):
                os.killpg(pid, sig)  # the job leads its own session: its group is its pid
            launcher = st.get("launcher_pid")
            if launcher and launcher != pid and pid_alive(launcher, _not_after(st)):  # torchrun's session: every rank
                with contextlib.suppress(OSError):
                    os.killpg(launcher, sig)
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
            if _wait_dead(pid, wait, st):
                break
    st = rundir.read_status(run_dir)
    if st.get("state") in ACTIVE_STATES:  # killed before it could say so itself
        st = rundir.write_status(run_dir, "stopped", "Stopped (the process had to be killed); resume "
                                 "continues from the last checkpoint.")
    return st


def _wait_dead(pid: int | None, timeout: float, st: dict) -> bool:
    deadline = time.time() + timeout
    while pid_alive(pid, _not_after(st)):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def _not_after(st: dict) -> float | None:
    # A live job wrote its status after it started; a recycled pid belongs to a younger process.
    return st.get("updated")


def delete(run_dir: str | Path, root: str | Path | None = None) -> None:
    """Remove a run directory; refuses an active run and anything outside the runs root."""
    run_dir = Path(run_dir).resolve()
    root = Path(root).resolve() if root else run_dir.parent
    if run_dir.parent != root or run_dir not in [d.resolve() for d in run_dirs(root)]:
        raise ValueError(f"{run_dir} is not a run directory under {root}.")
    st = status(run_dir)
    if st.get("state") in ACTIVE_STATES:
        raise ValueError(f"{run_dir.name} is {st['state']}; stop it before deleting.")
    shutil.rmtree(run_dir)


# ---------------------------------------------------------------- reading jobs

def tail_log(run_dir: str | Path, lines: int = 20) -> str:
    """The last lines of the run's log.txt ("" if none)."""
    try:
        with open(Path(run_dir) / "log.txt", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def status(run_dir: str | Path) -> dict:
    """status.json, except that an active run whose process is gone becomes 'failed' (written back)."""
    run_dir = Path(run_dir)
    st = rundir.read_status(run_dir)
    state, pid = st.get("state"), st.get("pid")
    if state in ACTIVE_STATES and pid and not pid_alive(pid, _not_after(st)):
        st2 = rundir.read_status(run_dir)  # it may have written its final state just now
        if st2.get("state") != state or st2.get("pid") != pid:
            return st2
        code = exit_code(pid)
        how = (f"exited with code {code}" if code is not None and code >= 0 else
               f"was killed by signal {-code}" if code is not None else "is gone")
        step = st.get("step", 0)
        st = rundir.write_status(
            run_dir, "failed",
            f"The training process (pid {pid}) {how} while {state} at step {step}; {rundir.resume_clause(run_dir)}.",
            log_tail=tail_log(run_dir, 15))
    return st


def load_config(run_dir: str | Path) -> TrainConfig | None:
    try:
        return TrainConfig.load(Path(run_dir) / "config.json")
    except (OSError, ValueError, TypeError):
        return None


def progress(st: dict, train_rows: list[dict]) -> dict:
    """Step, total, fraction done, training seconds so far and the ETA in seconds (None if unknown)."""
    step = int(st.get("step") or (train_rows[-1]["step"] if train_rows else 0))
    total = int(st.get("total_steps") or 0)
    elapsed = float(train_rows[-1].get("time", 0.0)) if train_rows else 0.0
    eta = None
    if total and step and elapsed > 0 and step < total and st.get("state") in ACTIVE_STATES:
        eta = (total - step) * elapsed / step
    return {"step": step, "total": total, "fraction": min(1.0, step / total) if total else 0.0,
            "elapsed": elapsed, "eta": eta, "epoch": st.get("epoch", 0)}


def summary(run_dir: str | Path) -> dict:
    """One row of the runs table: what the run is, where it stands, its best metrics."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir)
    st = status(run_dir)
    rows = rundir.read_metrics(run_dir)
    train = [r for r in rows if r.get("kind", "train") == "train"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    out = {"name": run_dir.name, "model": cfg.model if cfg else "?", "dataset": cfg.dataset if cfg else "?",
           "loss": cfg.loss if cfg else "?", "state": st.get("state", "?"),
           "step": st.get("step") or (train[-1]["step"] if train else 0), "total": st.get("total_steps", 0),
           "d_loss": train[-1].get("d_loss") if train else None,
           "g_loss": train[-1].get("g_loss") if train else None,
           "started": st.get("started") or st.get("launched")}
    out.update(best_metrics(evals))
    return out


def best_metrics(eval_rows: list[dict]) -> dict:
    """Best value of each headline evaluation metric (rundir.HEADLINE_EVAL: min for FID, max for coverage, ...)."""
    best: dict[str, float] = {}
    for row in eval_rows:
        for key, pick in rundir.HEADLINE_EVAL.items():
            value = row.get(key)
            if not isinstance(value, (int, float)) or value != value:  # NaN never counts as best
                continue
            best[f"best_{key}"] = pick(best.get(f"best_{key}", value), value)
    return best


def list_jobs(root: str | Path | None = None) -> list[dict]:
    """summary() of every run under the root, newest first."""
    return [summary(d) for d in run_dirs(root)]


def config_diff(configs: dict[str, TrainConfig]) -> dict[str, dict[str, object]]:
    """{field: {run name: value}} for the fields where the given runs' configs differ."""
    out: dict[str, dict[str, object]] = {}
    dicts = {name: asdict(c) for name, c in configs.items()}
    for f in fields(TrainConfig):
        values = {name: d[f.name] for name, d in dicts.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out[f.name] = values
    return out


# ---------------------------------------------------------------- checks before launch

def preflight(config: TrainConfig) -> list[str]:
    """Everything wrong with a config before launch, each sentence saying what to change.

    validate() first (instant); then the data is loaded (seconds for MNIST) and checked against the
    model by the training process's own preflight (ganlib.train.preflight): labels for CGAN, images
    for DCGAN/CGAN/CycleGAN, a batch no larger than the data set, CycleGAN's domain B.
    """
    from ganlib.train.preflight import preflight_with_data  # loads torch: not on jobs' light paths

    return preflight_with_data(config)
