"""In a real browser: a run trained by `torchrun --nproc_per_node=2 -m ganlib train ... --device cpu` shows
on the Train & monitor page like any other run, with its number of processes and each rank's speed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import harness
import pytest

from ganlib.train import jobs

pytestmark = pytest.mark.e2e
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture
def torchrun_run(runs_root):
    if not TORCHRUN.exists():
        pytest.skip("torchrun is not installed next to python")
    done = subprocess.run([str(TORCHRUN), "--nproc_per_node", "2", "--master-port", str(harness.free_port()),
                           "-m", "ganlib", "train", "--model", "dcgan", "--dataset", "mnist", "--subset", "512",
                           "--width", "8", "--epochs", "1", "--log-every", "2", "--device", "cpu", "--quiet"],
                          cwd=harness.REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, GAN_STUDIO_RUNS=str(runs_root), OMP_NUM_THREADS="1",
                                   PYTHONPATH=str(harness.REPO)))
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = jobs.run_dirs(runs_root)
    return run


def test_a_torchrun_run_shows_processes_and_per_rank_speed(torchrun_run, page, server):
    page.goto(server + "/")
    page.get_by_role("link", name="Train & monitor").first.click()
    figures = page.locator(".st-key-run_figures")
    figures.wait_for()
    page.get_by_text("Processes", exact=True).wait_for()
    lines = [line.strip() for line in figures.inner_text().splitlines() if line.strip()]
    shown = dict(zip(lines[::2], lines[1::2]))  # label, value, label, value, ...
    assert shown["Processes"] == "2" and shown["Device"] == "cpu"
    speeds = shown["Images/s per rank"].split(" · ")
    assert len(speeds) == 2 and all(float(v) > 0 for v in speeds)
    assert page.get_by_text("finished", exact=True).count() >= 1
    page.locator(".st-key-sample_grid img").first.wait_for()  # the final grid, as for any run
