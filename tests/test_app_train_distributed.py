"""AppTest: the Train page with several processes: the GPUs field (shown only where more than one GPU
is present) launches through torchrun, and the monitor shows the world size and each rank's speed."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ganlib.device
from ganlib.config import TrainConfig
from ganlib.train import jobs, rundir

ROOT = Path(__file__).resolve().parents[1]
FAKE = str(ROOT / "tests" / "fake_train.py")
APP = str(ROOT / "studio" / "main.py")
TRAIN_PAGE = str(ROOT / "studio" / "app_pages" / "1_Train.py")
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return root


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    """The monitor's status strip (studio.live_chart.live_status): {label: value}."""
    [strip] = [json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name.endswith("live_status")]
    return dict(strip["figures"]["cells"])


def test_no_gpus_field_without_several_gpus(root):
    assert ganlib.device.gpu_count() <= 1  # this machine
    at = train_page()
    assert "cfg_gpus" not in {n.key for n in at.number_input}


def test_gpus_field_launches_the_run_through_torchrun(root, monkeypatch):
    # this machine has no GPU: the page is told there are two, the launch runs the fake trainer
    monkeypatch.setattr(ganlib.device, "gpu_count", lambda: 2)
    launched = {}

    def torchrun_argv(config, run_dir, nproc):
        launched.update(config=config, nproc=nproc, run_dir=run_dir)
        return [sys.executable, FAKE, "--out", str(run_dir), "--config", config.to_json(), "--max-steps", "4"]

    monkeypatch.setattr(jobs, "torchrun_argv", torchrun_argv)
    at = train_page()
    at.selectbox(key="cfg_dataset").set_value("typeset")
    at.number_input(key="cfg_subset").set_value(64)
    at.number_input(key="cfg_gpus").set_value(2)
    at.number_input(key="cfg_batch_size").set_value(33).run()
    assert "With 2 GPUs the batch size (33) must be a multiple of 2" in "\n".join(e.value for e in at.error)
    assert at.button(key="start").disabled
    at.number_input(key="cfg_batch_size").set_value(32).run()
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    assert launched["nproc"] == 2 and launched["run_dir"] == "{run_dir}"
    assert launched["config"].device == "cuda" and launched["config"].batch_size == 32
    assert len(jobs.run_dirs(root)) == 1


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to python")
def test_monitor_shows_world_size_and_per_rank_speed_of_a_torchrun_run(root):
    config = TrainConfig(model="dcgan", dataset="mnist", subset=256, batch_size=32, width=8, latent_dim=16,
                         max_steps=12, log_every=4, sample_every=6, eval_every=0, device="cpu")
    run = jobs.start(config, "two", argv=jobs.torchrun_argv(config, "{run_dir}", 2))
    deadline = time.time() + 180
    while jobs.status(run).get("state") not in ("finished", "failed"):
        assert time.time() < deadline, jobs.tail_log(run)
        time.sleep(0.3)
    st = jobs.status(run)
    assert st["state"] == "finished", (st, jobs.tail_log(run))
    at = train_page()
    shown = metrics(at)
    assert shown["Processes"] == "2" and shown["Device"] == "cpu"
    speeds = shown["Images/s per rank"].split(" · ")
    assert len(speeds) == 2 and all(float(v) > 0 for v in speeds)
    assert [r["step"] for r in rundir.read_metrics(run, "train")] == [4, 8, 12]
