"""The read-only JSON API that the monitor's live charts poll, served by Streamlit's own server (app.py),
and what it answers: what a watching browser needs from a run directory since it last asked.

Why: without it every refresh of a watched run re-ran part of the page in Streamlit, and the browser
re-rendered it (~0.3 s of CPU per refresh on 2 cores, which training lost). With it the charts, the
status strip and the sample grid fetch only what is new, and Streamlit re-runs the page only when the
run changes state (and, slowly, for the training doctor).

    GET /api/runs/<run>/live?train=<n>&eval=<m>   train rows from index n, eval rows from m, figures, grid
                                                  (&lang=zh: the status strip's labels in Chinese)
    GET /api/runs/<run>/grid/<step>.png            a sample grid of the run

Runs are looked up under ganlib.paths.runs_root() by name only (no paths), so nothing else on the
disk can be read through it. rundir.read_metrics parses only the lines appended since its last call, so a
run with 20,000 logged steps costs a poll a few milliseconds. No torch here (the web server imports it).

    update = live_update(run_dir, train_start=120, eval_start=3)
    # {"base": "run-a:1234:None", "train_start": 120, "train": [...rows 120...], "eval_start": 3, "eval": [...],
    #  "figures": {"state": "running", "step": 2420, ...}, "grid": {"step": 2400, "version": ...}}
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ganlib.paths import runs_root
from ganlib.train import jobs, rundir
from studio.figures import status_figures
from studio.i18n import use_language

NO_STORE = {"Cache-Control": "no-store"}


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
            "eval_start": eval_start, "eval": evals, "figures": status_figures(status, last), "grid": grid}


def _run_dir(request: Request) -> Path | None:
    name = request.path_params["run"]
    try:
        if name != rundir.sanitize_run_name(name):
            return None
    except ValueError:  # no letter or digit at all
        return None
    run_dir = runs_root() / name
    return run_dir if run_dir.is_dir() else None


def _finite(value):
    """JSON has no NaN or infinity: such values (a diverged loss) travel as null, which charts draw as a gap."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _count(request: Request, name: str) -> int:
    try:
        return max(0, int(request.query_params.get(name, "0")))
    except ValueError:
        return 0


async def live_rows(request: Request) -> Response:
    run_dir = _run_dir(request)
    if run_dir is None:
        return JSONResponse({"error": "There is no such run."}, status_code=404, headers=NO_STORE)
    try:
        with use_language(request.query_params.get("lang")):
            update = live_update(run_dir, _count(request, "train"), _count(request, "eval"))
    except FileNotFoundError:  # the run was deleted while it was being read
        return JSONResponse({"error": "There is no such run."}, status_code=404, headers=NO_STORE)
    return JSONResponse(_finite(update), headers=NO_STORE)


async def grid(request: Request) -> Response:
    run_dir = _run_dir(request)
    try:
        step = int(request.path_params["step"])
    except ValueError:
        step = -1
    path = rundir.sample_path(run_dir, step) if run_dir is not None and step >= 0 else None
    if path is None or not path.is_file():
        return Response("There is no such sample grid.", status_code=404, headers=NO_STORE)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})


def routes() -> list[Route]:
    return [Route("/api/runs/{run}/live", live_rows, methods=["GET"]),
            Route("/api/runs/{run}/grid/{step}.png", grid, methods=["GET"])]
