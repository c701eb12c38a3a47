"""What a watching browser needs from a run directory since it last asked, read incrementally.

The monitor's charts poll this (through the small JSON API in live_api.py) instead of asking Streamlit to
re-run the page. rundir.read_metrics parses only the lines appended since its last call, so a run with
20,000 logged steps costs a poll a few milliseconds. No torch here (the web server imports it).

    update = live_update(run_dir, train_start=120, eval_start=3)
    # {"base": "run-a:1234:None", "train_start": 120, "train": [...rows 120...], "eval_start": 3, "eval": [...],
    #  "figures": {"state": "running", "step": 2420, ...}, "grid": {"step": 2400, "version": ...}}
"""
from __future__ import annotations

import html
import math
import os
from pathlib import Path

from . import jobs, rundir


def chart_base(run_dir: Path, until: int | None = None) -> str:
    """The name of a run's row stream as the browser holds it: run, metrics file version, replay step.
    The page and this API must agree on it (a resume rewrites the file, so its rows are sent afresh)."""
    try:
        inode = (run_dir / "metrics.jsonl").stat().st_ino
    except FileNotFoundError:
        inode = 0
    return f"{run_dir.name}:{inode}:{until}"


def live_update(run_dir: str | Path, train_start: int = 0, eval_start: int = 0, max_rows: int = 5000) -> dict:
    """The train rows from index train_start on and the eval rows from eval_start on (at most max_rows
    each: a browser far behind catches up over a few polls), the figures of the status strip, and the
    latest sample grid."""
    run_dir = Path(run_dir)
    rows = rundir.read_metrics(run_dir)  # parses only the lines appended since the last call (its cache)
    train_all = [r for r in rows if r.get("kind", "train") == "train" and "step" in r]  # as the page counts them
    evals_all = [r for r in rows if r.get("kind") == "eval" and "step" in r]
    train = train_all[max(0, train_start):max(0, train_start) + max_rows]
    evals = evals_all[max(0, eval_start):max(0, eval_start) + max_rows]
    last = train_all[-1] if train_all else None
    status = jobs.status(run_dir)
    samples = rundir.list_samples(run_dir)
    grid = None
    if samples:
        step, path = samples[-1]
        try:
            grid = {"step": step, "version": os.stat(path).st_mtime_ns}
        except FileNotFoundError:
            grid = None
    return {"base": chart_base(run_dir), "train_start": train_start, "train": train,
            "eval_start": eval_start, "eval": evals, "figures": figures(status, last), "grid": grid}


def figures(status: dict, last_row: dict | None) -> dict:
    """The monitor's status strip, from status.json and the newest train row: labelled cells (text ready to
    show, HTML-escaped), the fraction done while the run is active (else None), the state and its message."""
    from ..viz import fmt_duration  # formatted here once for the page and the live API alike

    state = status.get("state", "queued")
    active = state in jobs.ACTIVE_STATES
    prog = jobs.progress(status, [last_row] if last_row else [])
    ips = last_row.get("images_per_s") if last_row else None
    cells = [(f"Step (of {prog['total']})" if prog["total"] else "Step", str(prog["step"])),
             ("Epoch", f"{float(prog['epoch'] or 0):.2f}"),
             ("Elapsed", fmt_duration(prog["elapsed"])),
             ("ETA", fmt_duration(prog["eta"]) if active else "—"),
             ("Images/s", f"{ips:.0f}" if isinstance(ips, (int, float)) and math.isfinite(ips) else "—"),
             ("Device", str(status.get("device", "—")))]
    if (status.get("world_size") or 1) > 1:  # torchrun: how many processes, and each one's speed
        speeds = status.get("rank_images_per_s") or []
        cells += [("Processes", str(status["world_size"])),
                  ("Images/s per rank", " · ".join(f"{v:.0f}" for v in speeds) or "—")]
    return {"state": state, "cells": [[html.escape(a), html.escape(b)] for a, b in cells],
            "progress": prog["fraction"] if active and prog["total"] else None,
            "message": html.escape(status.get("message", "") or "") if state != "failed" else ""}
