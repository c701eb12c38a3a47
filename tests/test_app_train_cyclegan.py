"""AppTest: a CycleGAN run started from the Train & monitor page trains for real (the page's form
comes from TrainConfig, so CycleGAN's fields are there) and the monitor shows it like any run."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ganlib.train import jobs, procs, rundir

APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
TRAIN_PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "1_Train.py")


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    yield root
    for d in jobs.run_dirs(root):
        pid = rundir.read_status(d).get("pid")
        if procs.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_start_and_watch_a_cyclegan_run(root):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception, at.exception
    at.selectbox(key="cfg_model").set_value("cyclegan").run()
    # the form fills in CycleGAN's recipe (its families entry): typeset <-> mnist, LSGAN and no R1, under which
    # its Ds learn (under DCGAN's ns loss and R1 1 they stayed at 0.5)
    assert (at.selectbox(key="cfg_dataset").value, at.selectbox(key="cfg_dataset_b").value) == ("typeset", "mnist")
    assert (at.selectbox(key="cfg_loss").value, at.number_input(key="cfg_r1_gamma").value) == ("lsgan", 0.0)
    assert "Settings below start from the recipe for CycleGAN" in texts(at.caption)
    assert not at.error, texts(at.error)
    for key, value in (("cfg_subset", 48), ("cfg_batch_size", 8), ("cfg_max_steps", 4), ("cfg_width", 4),
                       ("cfg_res_blocks", 1), ("cfg_log_every", 2), ("cfg_sample_every", 2)):
        at.number_input(key=key).set_value(value)
    patch = at.selectbox(key="cfg_patch")
    assert patch.label == "D patch, px (CycleGAN)" and patch.options == ["12", "18", "34"] and patch.value == 34
    patch.set_value(18)
    at.text_input(key="run_name").input("cg").run()
    assert not at.error, texts(at.error)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    [run] = jobs.run_dirs(root)
    deadline = time.time() + 240
    while jobs.status(run).get("state") not in ("finished", "failed") and time.time() < deadline:
        time.sleep(0.5)
    assert jobs.status(run)["state"] == "finished", jobs.status(run)
    assert json.loads((run / "config.json").read_text())["patch"] == 18
    rows = rundir.read_metrics(run, "train")
    assert rows and {"d_loss", "g_loss", "cycle_a", "cycle_b", "g_adv_ab", "g_adv_ba", "identity_a"} <= set(rows[-1])
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="run").value == "cg"
    assert ":violet-badge[finished]" in texts(at.markdown)
    assert "CycleGAN" in texts(at.caption)
    sent = [json.loads(c.proto.json) for c in at.get("bidi_component")]
    charts = {c["key"]: c for c in sent if "series" in c}
    [grid] = [c for c in sent if "grid" in c]  # the sample grid says what a CycleGAN grid shows
    assert grid["caption"].startswith("Fixed inputs: A → G(A) → F(G(A)) and B → F(B) → G(F(B)) at step {step}")
    assert charts["d"]["layout"]["title"]["text"] == "D(real) and D(translated)"  # fakes are translations, not G(z)
    cyc = charts["cyclegan"]  # the live chart of the CycleGAN losses (studio/live_chart.py)
    assert cyc["layout"]["title"]["text"] == "CycleGAN losses"
    assert cyc["start"] + len(cyc["x"]) == len(rows)  # rows sent before plus rows sent now: the browser holds them all
    assert {"g_adv_ab", "g_adv_ba", "cycle_a", "cycle_b", "identity_a", "identity_b"} <= {s["key"] for s in cyc["series"]}
