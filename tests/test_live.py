"""The live API the monitor's browser polls: studio.api (what is new in a run, and its routes on Streamlit's
server) and the status strip's cells (studio.figures). The browser side is checked end to end in
tests/e2e/test_e2e_train.py."""
from __future__ import annotations

import asyncio
import json
import os

import pytest
from PIL import Image
from starlette.requests import Request

from ganlib.train import rundir
from studio import api, figures


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path))
    run_dir = tmp_path / "watch"
    run_dir.mkdir()
    for step in (2, 4, 6):
        rundir.append_metrics(run_dir, {"kind": "train", "step": step, "time": step / 2, "d_loss": 1.0,
                                        "g_loss": 0.5, "images_per_s": 123.4})
    rundir.append_metrics(run_dir, {"kind": "eval", "step": 4, "fid": 12.5})
    rundir.write_status(run_dir, "running", "", pid=os.getpid(), step=6, epoch=0.5, total_steps=60,
                        device="cpu")
    for step in (0, 5):
        path = rundir.sample_path(run_dir, step)
        path.parent.mkdir(exist_ok=True)
        Image.new("L", (8, 8), 128).save(path)
    return run_dir


def test_live_update_sends_only_what_is_new(run):
    first = api.live_update(run)
    assert [r["step"] for r in first["train"]] == [2, 4, 6] and [r["step"] for r in first["eval"]] == [4]
    assert first["base"] == api.chart_base(run) == f"watch:{(run / 'metrics.jsonl').stat().st_ino}:None"
    assert first["grid"]["step"] == 5
    cells = dict(first["figures"]["cells"])
    assert cells == {"Step (of 60)": "6", "Epoch": "0.50", "Elapsed": "3s", "ETA": "27s", "Images/s": "123",
                     "Device": "cpu"}
    assert first["figures"]["state"] == "running" and first["figures"]["progress"] == pytest.approx(0.1)
    # a poll that finds nothing new gets nothing; then only the appended rows, from the index asked for
    again = api.live_update(run, train_start=3, eval_start=1)
    assert again["train"] == [] and again["eval"] == [] and again["train_start"] == 3
    rundir.append_metrics(run, {"kind": "train", "step": 8, "d_loss": float("nan"), "g_loss": 0.4})
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "step": 10, "d_lo')  # a line still being written waits for the next poll
    later = api.live_update(run, train_start=3, eval_start=1)
    assert [r["step"] for r in later["train"]] == [8]
    assert api.live_update(run, train_start=1, max_rows=1)["train"][0]["step"] == 4  # catching up in slices


def test_figures_of_a_finished_or_failed_run():
    done = figures.status_figures({"state": "finished", "step": 30, "total_steps": 30,
                                   "message": "Finished <30> steps."}, {"step": 30, "time": 65.0})
    assert dict(done["cells"])["ETA"] == "—" and dict(done["cells"])["Elapsed"] == "1m 05s"
    assert done["progress"] is None and done["message"] == "Finished &lt;30&gt; steps."  # shown as text, escaped
    failed = figures.status_figures({"state": "failed", "message": "Training diverged."}, None)
    assert failed["message"] == "" and dict(failed["cells"])["Images/s"] == "—"  # the page shows the error itself


def call(endpoint, run_name: str, query: str = "", **params):
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query.encode(),
             "path_params": {"run": run_name, **params}}
    return asyncio.run(endpoint(Request(scope)))


def test_api_answers_rows_as_json_with_gaps_for_nan(run):
    rundir.append_metrics(run, {"kind": "train", "step": 8, "d_loss": float("nan"), "g_loss": float("inf")})
    response = call(api.live_rows, "watch", "train=3&eval=bad")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = json.loads(response.body)
    assert body["train"] == [{"kind": "train", "step": 8, "d_loss": None, "g_loss": None}]
    assert body["train_start"] == 3 and body["eval_start"] == 0 and len(body["eval"]) == 1


def test_api_serves_only_runs_by_name(run, tmp_path):
    (tmp_path / "secret.txt").write_text("not a run")
    for name in ("nope", "../watch", "..", "watch/../watch", ""):
        assert call(api.live_rows, name).status_code == 404
    png = call(api.grid, "watch", step="5")
    assert png.status_code == 200 and png.media_type == "image/png" and str(png.path) == str(rundir.sample_path(run, 5))
    assert call(api.grid, "watch", step="7").status_code == 404
    assert call(api.grid, "watch", step="x").status_code == 404
    assert call(api.grid, "../watch", step="5").status_code == 404


def test_app_py_serves_studio_main_with_the_live_routes():
    import ast
    from pathlib import Path

    tree = ast.parse((Path(api.__file__).parents[1] / "app.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "App"]
    assert calls and calls[0].args[0].value == "studio/main.py"  # `streamlit run app.py` finds st.App by itself
    assert {r.path for r in api.routes()} == {"/api/runs/{run}/live", "/api/runs/{run}/grid/{step}.png"}
