"""A run is a directory. These functions are the only place that knows its file layout.

    runs/<name>/config.json     TrainConfig as JSON
    runs/<name>/metrics.jsonl   one JSON object per logged step ("kind": "train" or "eval")
    runs/<name>/samples/        step_00000500.png grids from the fixed noise
    runs/<name>/checkpoint.pt   latest checkpoint (atomic write); best.pt: best by evaluation
    runs/<name>/status.json     {"state", "message", "step", "epoch", "total_steps", "pid", ...}
    runs/<name>/control.json    {"command": "run" | "pause" | "stop"} written by the job runner
    runs/<name>/log.txt         stdout/stderr of a background training process

Readers never lock: writers replace whole files atomically (write a temp file, then rename),
and metrics.jsonl is append-only, so a reader sees either the old or the new state.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ..files import atomic_write_bytes, atomic_write_json, read_json

STATES = ("queued", "running", "paused", "stopped", "finished", "failed")
# the headline numbers of an "eval" row (of ~20), in display order, and which way is better: what
# the monitor plots and the runs table ranks ("best_fid", ...)
HEADLINE_EVAL = {"fid": min, "precision": max, "recall": max, "class_coverage": max, "coverage_100": max,
                 "label_accuracy": max, "class_kl_uniform": min, "near_duplicate_frac": min,
                 "modes_covered": max, "high_quality_frac": max, "reverse_kl": min}
_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_run_name(name: str) -> str:
    """A run name that is safe as one directory name: no separators, no '..', no leading dots."""
    clean = _NAME_OK.sub("-", name.strip()).strip(".-")
    clean = re.sub(r"\.{2,}", ".", clean)
    if not clean:
        raise ValueError("A run name needs at least one letter or digit.")
    return clean[:80]


# ---------------------------------------------------------------- status

CHECKPOINT = "checkpoint.pt"


def resume_clause(run_dir: str | Path) -> str:
    """What resuming this run will do, as the end of a failure sentence: continue from its checkpoint, or start
    again from step 0 where none was saved yet (a run that failed before its first --checkpoint-every)."""
    if (Path(run_dir) / CHECKPOINT).is_file():
        return "the last checkpoint is kept — resume continues from it"
    return "no checkpoint was saved yet, so resume starts again from step 0"


def write_status(run_dir: str | Path, state: str, message: str = "", **extra) -> dict:
    assert state in STATES, state
    old = read_status(run_dir)
    status = {**old, **extra, "state": state, "message": message, "updated": time.time()}
    atomic_write_json(Path(run_dir) / "status.json", status)
    return status


STATUS_NUMBERS = ("step", "epoch", "total_steps", "updated", "started")


def valid_status(status: object) -> dict:
    """status.json as its readers may trust it: an object ({} otherwise) whose "state" is one of STATES, "message"
    text, "pid" a positive whole number and the numbers of STATUS_NUMBERS finite; a field of the wrong type is
    dropped (a hand-edited or damaged file reads as a run in an unknown state, never raises)."""
    if not isinstance(status, dict):
        return {}
    out = dict(status)
    if out.get("state") not in STATES:
        out.pop("state", None)
    if not isinstance(out.get("message", ""), str):
        out.pop("message")
    pid = out.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**31):
        out.pop("pid")
    for key in STATUS_NUMBERS:
        v = out.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or abs(v) > STEP_MAX):
            out.pop(key)
    return out


def read_status(run_dir: str | Path) -> dict:
    try:
        return valid_status(read_json(Path(run_dir) / "status.json", default={}))
    except (ValueError, RecursionError, UnicodeDecodeError):
        return {}


# ---------------------------------------------------------------- control (pause / stop)

def request(run_dir: str | Path, command: str) -> None:
    """Ask a running training process to 'pause', 'stop' or 'run' (continue)."""
    assert command in ("run", "pause", "stop"), command
    atomic_write_json(Path(run_dir) / "control.json", {"command": command, "time": time.time()})


def requested(run_dir: str | Path) -> str:
    return (read_json(Path(run_dir) / "control.json", default={}) or {}).get("command", "run")


# ---------------------------------------------------------------- metrics

def append_metrics(run_dir: str | Path, row: dict) -> None:
    with open(Path(run_dir) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


# Parsed metrics, per file: the app re-reads every run's metrics.jsonl on each refresh (the monitor
# and the runs table), so a file is parsed once and then only its new lines. Safe because the file
# is append-only and replaced only by a rename (truncate_metrics), which gives it a new inode.
_METRICS_CACHE: OrderedDict[str, dict] = OrderedDict()
_METRICS_CACHE_FILES = 64
_METRICS_LOCK = threading.Lock()


KINDS = ("train", "eval")  # what a metrics row can be
STEP_MAX = 2**63 - 1       # a step beyond int64 is no step the trainer wrote (and pandas cannot hold it)


def valid_row(row: object) -> dict | None:
    """A metrics row as the readers may trust it, or None for a row to skip.

    The schema: a JSON object whose "kind" (default "train") is one of KINDS, whose "step" is a whole number
    from 0 to STEP_MAX, and whose "time" and "epoch", where given, are finite numbers >= 0. In a train row anything
    but a number is read as missing (None): the trainer writes only numbers there. A NaN or infinite loss stays
    (it is news the training doctor reports, not damage); an eval row's text, lists and objects pass as they are.
    """
    if not isinstance(row, dict):
        return None
    if row.get("kind", "train") not in KINDS:
        return None
    step = row.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= STEP_MAX:
        return None
    for key in ("time", "epoch"):
        value = row.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return None
    if row.get("kind", "train") == "train":  # the trainer writes only numbers there: anything else is read as missing
        bad = [k for k, v in row.items() if k != "kind" and v is not None
               and (isinstance(v, bool) or not isinstance(v, (int, float)))]
        return {**row, **dict.fromkeys(bad)} if bad else row
    return row


def _parse_lines(data: bytes) -> tuple[list[dict], int]:
    """(the valid rows, how many lines were skipped: not JSON, binary garbage, or outside the schema)."""
    rows, skipped = [], 0
    for line in data.split(b"\n"):  # JSON Lines: only \n ends a row (a stray \r is part of a damaged one)
        if not line.strip():
            continue
        try:
            row = valid_row(json.loads(line))
        except (ValueError, RecursionError):  # a damaged line is skipped, never fatal
            row = None
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return rows, skipped


def read_metrics(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    """All complete metrics rows that pass the schema (valid_row), optionally of one kind; a half-written
    last line, a damaged line or a row of the wrong types is skipped and counted (skipped_rows), never raised.

    The row dicts are shared between callers (see _METRICS_CACHE): read them, never change them.
    """
    path = Path(run_dir) / "metrics.jsonl"
    try:
        with open(path, "rb") as f, _METRICS_LOCK:
            stat = os.fstat(f.fileno())
            key = str(path.resolve())
            entry = _METRICS_CACHE.pop(key, None)
            if entry is None or entry["inode"] != (stat.st_dev, stat.st_ino) or stat.st_size < entry["offset"]:
                entry = {"inode": (stat.st_dev, stat.st_ino), "offset": 0, "rows": [], "skipped": 0}
            f.seek(entry["offset"])
            chunk = f.read(stat.st_size - entry["offset"])
            cut = chunk.rfind(b"\n") + 1  # lines up to the last newline are final; after it, one being written
            entry["offset"] += cut
            rows, skipped = _parse_lines(chunk[:cut])
            entry["rows"] += rows
            entry["skipped"] += skipped
            _METRICS_CACHE[key] = entry
            while len(_METRICS_CACHE) > _METRICS_CACHE_FILES:
                _METRICS_CACHE.popitem(last=False)
            rows = entry["rows"] + _parse_lines(chunk[cut:])[0]  # a last line without newline counts if whole
            return rows if kind is None else [r for r in rows if r.get("kind", "train") == kind]
    except OSError:
        return []


def skipped_rows(run_dir: str | Path) -> int:
    """How many complete lines of a run's metrics.jsonl read_metrics skipped as damaged or badly typed."""
    read_metrics(run_dir)
    with _METRICS_LOCK:
        entry = _METRICS_CACHE.get(str((Path(run_dir) / "metrics.jsonl").resolve()))
        return entry["skipped"] if entry else 0


def truncate_metrics(run_dir: str | Path, after_step: int) -> None:
    """Drop lines logged after a checkpoint's step, so a resumed run does not log steps twice."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= after_step]
    atomic_write_bytes(Path(run_dir) / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())


# ---------------------------------------------------------------- samples

def sample_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "samples" / f"step_{step:08d}.png"


def list_samples(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every sample grid, oldest first."""
    out = []
    for p in (Path(run_dir) / "samples").glob("step_*.png"):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(out)



# ---------------------------------------------------------------- the training process's writer

class RunWriter:
    """The run directory as the training loop writes it. Under torchrun rank 0 alone writes: the other
    ranks hold a RunWriter with writes=False, whose writes do nothing and which never asks to pause or stop.

    `common` holds what every status of a running loop repeats (pid, device, total_steps, ...); a status
    with a step gets its epoch from `steps_per_epoch`."""

    def __init__(self, run_dir: str | Path, writes: bool = True):
        self.dir, self.writes = Path(run_dir), writes
        self.common: dict = {}
        self.steps_per_epoch = 1

    def status(self, state: str, message: str = "", step: int | None = None, **extra) -> None:
        if not self.writes:
            return
        if step is not None:
            extra = {"step": step, "epoch": step / self.steps_per_epoch, **extra}
        write_status(self.dir, state, message, **extra, **self.common)

    def append_metrics(self, row: dict) -> None:
        if self.writes:
            append_metrics(self.dir, row)

    def truncate_metrics(self, after_step: int) -> None:
        if self.writes:
            truncate_metrics(self.dir, after_step)

    def requested(self) -> str:
        """'run', 'pause' or 'stop' from control.json (rank 0); always 'run' for the other ranks."""
        return requested(self.dir) if self.writes else "run"
