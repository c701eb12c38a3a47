"""The read-only JSON API that the monitor's live charts poll, served by Streamlit's own server (app.py).

Why: without it every refresh of a watched run re-ran part of the page in Streamlit, and the browser
re-rendered it (~0.3 s of CPU per refresh on 2 cores, which training lost). With it the charts, the
status strip and the sample grid fetch only what is new, and Streamlit re-runs the page only when the
run changes state (and, slowly, for the training doctor).

    GET /api/runs/<run>/live?train=<n>&eval=<m>   train rows from index n, eval rows from m, figures, grid
    GET /api/runs/<run>/grid/<step>.png            a sample grid of the run

Runs are looked up under ganlib.train.jobs.runs_root() by name only (no paths), so nothing else on the
disk can be read through it.
"""
from __future__ import annotations

import math
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ganlib.train import jobs, live, rundir

NO_STORE = {"Cache-Control": "no-store"}


def _run_dir(request: Request) -> Path | None:
    name = request.path_params["run"]
    try:
        if name != rundir.sanitize_run_name(name):
            return None
    except ValueError:  # no letter or digit at all
        return None
    run_dir = jobs.runs_root() / name
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
    update = live.live_update(run_dir, _count(request, "train"), _count(request, "eval"))
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
