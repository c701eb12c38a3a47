"""AppTest: the app shell and the Train & monitor page in each state (no runs, running, paused,
failed, finished), its form checks, and its actions. Runs use the torch-free fake trainer."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ganlib.config import TrainConfig
from ganlib.fieldhelp import FIELD_HELP
from ganlib.train import jobs, procs, rundir

FAKE = str(Path(__file__).with_name("fake_train.py"))
APP = str(Path(__file__).resolve().parents[1] / "studio" / "main.py")
TRAIN_PAGE = str(Path(__file__).resolve().parents[1] / "studio" / "app_pages" / "1_Train.py")
CFG = TrainConfig(dataset="typeset", subset=64, batch_size=16, max_steps=30)


def fake(*extra: str) -> list[str]:
    return [sys.executable, FAKE, "--out", "{run_dir}", "--config", CFG.to_json(), *extra]


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    monkeypatch.setenv("GAN_STUDIO_MAX_RUNS", "2")
    yield root
    for d in jobs.run_dirs(root):
        pid = rundir.read_status(d).get("pid")
        if procs.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.switch_page(TRAIN_PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def buttons(at) -> set[str]:
    return {b.label for b in at.button}


def components(at, name: str) -> list[dict]:
    """What this rerun sent the browser for each live component of one kind (studio/live_chart.py)."""
    return [json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name.endswith(name)]


def charts(at) -> dict[str, dict]:
    """The live charts on the page: {key: what this rerun sent the browser} (see studio/live_chart.py)."""
    return {c["key"]: c for c in components(at, "live_chart")}


def strip(at) -> dict:
    """The run's status strip: {label: value}, and the rest of what the page sent it."""
    [status] = components(at, "live_status")
    return {"cells": dict(status["figures"]["cells"]), **status}


def test_home_lists_existing_pages_and_the_device(root):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "GAN Studio"
    assert "Device:" in texts(at.info) + texts(at.success)
    links = [link.label for link in at.get("page_link")]
    assert links[:2] == ["Lessons", "Train & monitor"]  # pages are listed once their files exist, in PAGES order
    assert {"Latent explorer", "Mode-collapse lab"} <= set(links)


def test_no_runs(root):
    at = train_page()
    assert "No runs yet" in texts(at.info)
    assert at.button(key="start").disabled is False
    assert not [s for s in at.selectbox if s.key == "run"]


def test_invalid_hyperparameters_are_refused_with_a_reason(root):
    at = train_page()
    at.number_input(key="cfg_lr_d").set_value(5.0).run()
    assert "Learning rate lr_d must be in (0, 0.1], not 5.0." in texts(at.error)
    assert at.button(key="start").disabled
    at.number_input(key="cfg_lr_d").set_value(2e-4)
    at.selectbox(key="cfg_model").set_value("cgan")
    at.selectbox(key="cfg_dataset").set_value("toy-ring").run()
    assert "CGAN needs a labelled data set" in texts(at.error)


def test_choosing_a_model_fills_in_its_recipe_and_keeps_what_the_recipes_share(root):
    """config.recipe_switch on the form: the fields whose recipe value changes come back at the new one, with
    a caption listing them; a value the user gave that both recipes share stays."""
    at = train_page()
    value = lambda kind, name: getattr(at, kind)(key=f"cfg_{name}").value
    at.number_input(key="cfg_lr_d").set_value(1e-4)
    at.number_input(key="cfg_epochs").set_value(3).run()
    at.selectbox(key="cfg_model").set_value("cyclegan").run()
    assert (value("selectbox", "dataset"), value("selectbox", "loss"), value("number_input", "lr_g"),
            value("number_input", "r1_gamma"), value("number_input", "max_steps"),
            value("number_input", "batch_size")) == ("typeset", "lsgan", 2e-4, 0.0, 3000, 16)
    assert value("number_input", "epochs") == 3                    # no recipe sets it: the user's value stays
    assert "Loss: least squares (LSGAN) · G learning rate: 0.0002 · D learning rate: 0.0002 · R1 penalty: 0" in \
        texts(at.caption)
    at.selectbox(key="cfg_model").set_value("dcgan").run()
    assert (value("selectbox", "dataset"), value("selectbox", "loss"), value("number_input", "lr_g"),
            value("number_input", "r1_gamma"), value("number_input", "max_steps")) == ("mnist", "ns", 8e-4, 1.0, 0)
    assert value("number_input", "lr_d") == 4e-4          # the recipes differ here (2e-4 vs 4e-4): it moved back
    assert value("number_input", "epochs") == 3           # no recipe sets it: still the user's
    assert "Settings below start from the recipe" not in texts(at.caption)
    at.selectbox(key="cfg_model").set_value("gan").run()
    at.selectbox(key="cfg_dataset").set_value("toy-ring").run()   # the data set brings the toy recipe
    assert (value("number_input", "lr_d"), value("number_input", "width"), value("number_input", "ema_decay")) == \
        (2e-3, 64, 0.0)
    at.selectbox(key="cfg_dataset").set_value("toy-grid").run()   # the same recipe: nothing moves
    at.number_input(key="cfg_lr_g").set_value(1e-3).run()
    at.selectbox(key="cfg_dataset").set_value("toy-ring").run()
    assert value("number_input", "lr_g") == 1e-3
    assert not at.exception and not at.error and not at.warning, texts(at.error) + texts(at.warning)


def test_more_settings_shows_only_what_the_chosen_model_reads(root):
    """A family's own settings (its families entry's reads_only) appear only when that family is chosen."""
    at = train_page()
    keys = lambda: {w.key for kind in (at.number_input, at.selectbox, at.checkbox, at.toggle) for w in kind}
    assert "cfg_subset" in keys() and not {"cfg_patch", "cfg_dataset_b", "cfg_mapping_layers",
                                           "cfg_latent_mixture"} & keys()     # the default model, dcgan
    at.selectbox(key="cfg_model").set_value("gan").run()
    assert "cfg_latent_mixture" in keys() and "cfg_patch" not in keys()
    at.selectbox(key="cfg_model").set_value("cyclegan").run()
    assert {"cfg_patch", "cfg_dataset_b", "cfg_res_blocks", "cfg_subset"} <= keys()
    # nor the shared settings CycleGAN does not read (its ignores): it has no latent, one D step, ...
    assert not {"cfg_latent_dim", "cfg_n_critic", "cfg_minibatch_discrimination", "cfg_spectral_norm"} & keys()
    assert at.selectbox(key="cfg_patch").help == FIELD_HELP["patch"]          # the one text the CLI shows too
    assert not {"cfg_mapping_layers", "cfg_latent_mixture"} & keys()
    at.selectbox(key="cfg_patch").set_value(18).run()
    at.selectbox(key="cfg_model").set_value("stylegan").run()
    assert {"cfg_mapping_layers", "cfg_style_mode"} <= keys() and "cfg_patch" not in keys()
    at.selectbox(key="cfg_model").set_value("cyclegan").run()
    assert at.selectbox(key="cfg_patch").value == 18             # hidden meanwhile, back as the user left it
    assert not at.exception and not at.error, texts(at.error)


def test_start_checks_the_data_then_launches(root, monkeypatch):
    monkeypatch.setattr(jobs, "train_argv", lambda config, run_dir: [
        sys.executable, FAKE, "--out", str(run_dir), "--config", config.to_json(), "--max-steps", "10"])
    at = train_page()
    at.selectbox(key="cfg_dataset").set_value("typeset")
    at.number_input(key="cfg_subset").set_value(16)
    at.number_input(key="cfg_batch_size").set_value(32).run()
    at.button(key="start").click().run()
    assert "batch size (32) is larger than the data set (16" in texts(at.error)  # caught before launch
    assert jobs.run_dirs(root) == []
    at.number_input(key="cfg_batch_size").set_value(8)
    at.text_input(key="run_name").input("../my run").run()
    at.button(key="start").click().run()
    assert not at.exception
    [run] = jobs.run_dirs(root)
    assert run.name == "my-run" and at.selectbox(key="run").value == "my-run"
    assert TrainConfig.load(wait_for(lambda: (run / "config.json").exists() and run / "config.json")).batch_size == 8


def test_running_then_paused_then_stopped(root):
    run = jobs.start(CFG, "live", argv=fake("--max-steps", "100000", "--step-time", "0.02"))
    wait_for(lambda: len(rundir.list_samples(run)) >= 2 and len(rundir.read_metrics(run, "train")) >= 6,
             what="metrics and samples")
    at = train_page()
    assert ":green-badge[running]" in texts(at.markdown)
    assert {"Pause", "Stop"} <= buttons(at) and "Resume" not in buttons(at)
    sent = charts(at)
    assert list(sent) == ["loss", "d", "grad"]  # only the open tab is drawn
    [grid] = components(at, "live_grid")
    assert grid["grid"]["step"] in {s for s, _ in rundir.list_samples(run)} and grid["run"] == "live"
    assert grid["caption"].startswith("Fixed noise at step {step}")
    # while followed live, every live part polls the run's live API itself (no Streamlit rerun per refresh)
    fig = strip(at)
    assert fig["poll"]["url"] == grid["poll"]["url"] == sent["loss"]["poll"]["url"] == "/api/runs/live/live"
    assert fig["poll"]["every_ms"] == 2000 and sent["loss"]["poll"]["kind"] == "train"
    assert sent["loss"]["poll"]["held"]["train"] == len(sent["loss"]["x"])
    assert fig["figures"]["state"] == "running" and fig["figures"]["progress"] is not None
    assert int(fig["cells"]["Step (of 100000)"]) >= 10 and fig["cells"]["Device"] == "cpu"
    loss = sent["loss"]
    assert loss["start"] == 0 and loss["x"] and loss["x"] == sorted(loss["x"])  # first draw: every row
    assert [s["key"] for s in loss["series"]] == ["d_loss", "g_loss"] and len(loss["y"]["g_loss"]) == len(loss["x"])
    held = len(loss["x"])
    wait_for(lambda: len(rundir.read_metrics(run, "train")) > held + 2, what="new rows")
    at.run()  # the next refresh sends only the rows logged since
    again = charts(at)["loss"]
    assert again["start"] == held and again["x"] and again["x"][0] > loss["x"][-1]
    assert again["base"] == loss["base"]
    assert at.toggle(key="live_live").value is True
    assert at.selectbox(key="refresh").value == "2 s"  # how often the page re-reads the run
    at.button(key="pause").click().run()
    assert rundir.requested(run) == "pause"
    wait_for(lambda: jobs.status(run)["state"] == "paused", what="paused")
    at.run()
    assert ":orange-badge[paused]" in texts(at.markdown) and "Continue" in buttons(at)
    at.button(key="continue").click().run()
    assert rundir.requested(run) == "run"
    at.button(key="stop").click().run()
    assert jobs.status(run)["state"] == "stopped"
    assert ":blue-badge[stopped]" in texts(at.markdown) and "Resume" in buttons(at)


def test_failed_run_shows_the_reason_and_its_log_and_can_be_resumed(root, monkeypatch):
    run = jobs.start(CFG, "crashy", argv=fake("--crash-at", "8", "--step-time", "0.01"))
    wait_for(lambda: jobs.status(run)["state"] == "failed", what="failed")
    at = train_page()
    assert ":red-badge[failed]" in texts(at.markdown)
    assert "exited with code 3" in texts(at.error)
    assert "simulated crash" in texts(at.code)
    monkeypatch.setattr(jobs, "resume_argv", lambda run_dir: [sys.executable, FAKE, "--resume", str(run_dir)])
    at.button(key="resume").click().run()
    assert not at.exception
    wait_for(lambda: jobs.status(run)["state"] == "finished", what="finished after resume")


def test_a_failed_run_started_from_a_terminal_says_where_its_output_went(root):
    import subprocess

    run = root / "from-cli"  # started as `python -m ganlib train --out ...` would be: no log.txt
    argv = [a.replace("{run_dir}", str(run)) for a in fake("--crash-at", "4", "--step-time", "0.01")]
    subprocess.run(argv, capture_output=True, timeout=60)
    assert not (run / "log.txt").exists()
    wait_for(lambda: jobs.status(run)["state"] == "failed", what="failed")
    at = train_page()
    assert ":red-badge[failed]" in texts(at.markdown)
    assert "started outside the app" in texts(at.caption) and not at.code


def test_a_killed_process_reads_as_failed(root):
    run = jobs.start(CFG, "killed", argv=fake("--max-steps", "100000"))
    pid = wait_for(lambda: jobs.status(run)["state"] == "running" and rundir.read_status(run)["pid"])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not procs.pid_alive(pid), what="dead")
    at = train_page()
    assert ":red-badge[failed]" in texts(at.markdown) and "killed by signal 9" in texts(at.error)


def test_nan_run_says_where_and_why(root):
    run = jobs.start(CFG, "nan", argv=fake("--nan-at", "6", "--log-every", "1"))
    wait_for(lambda: jobs.status(run)["state"] == "failed", what="failed")
    at = train_page()
    assert "NaN at step 6" in texts(at.error)  # the status message and the doctor both say it


def test_finished_run_replay_downloads_and_delete(root):
    run = jobs.start(CFG, "done", argv=fake("--max-steps", "30", "--step-time", "0.005"))
    wait_for(lambda: jobs.status(run)["state"] == "finished", what="finished")
    at = train_page()
    assert ":violet-badge[finished]" in texts(at.markdown)
    assert not [t for t in at.toggle if t.key == "live_done"]
    scrub = at.select_slider(key="until_done")
    assert scrub.options == [str(s) for s in range(2, 31)  # logged steps (every 2) and grids (every 5)
                             if s % 2 == 0 or s % 5 == 0] and scrub.value == 30
    scrub.set_value(10).run()
    [grid] = components(at, "live_grid")
    assert grid["grid"]["step"] == 10 and grid["caption"] == "Fixed noise at step {step}" and grid["poll"] is None
    assert strip(at)["poll"] is None and strip(at)["cells"]["ETA"] == "—"
    replay = charts(at)["loss"]  # a replay step is a new stream: sent whole, up to that step
    assert replay["start"] == 0 and replay["x"] == [2, 4, 6, 8, 10]
    labels = {d.label for d in at.download_button}
    assert labels == {"Checkpoint", "Metrics CSV", "Samples GIF", "Report"}
    at.session_state["more_curves"] = "Quality metrics"  # open that tab
    at.run()
    assert list(charts(at)) == ["loss", "d", "eval"]
    keys = [s["key"] for s in charts(at)["eval"]["series"]]
    assert keys[0] == "fid" and "class_coverage" in keys and len(keys) <= 8  # the headline metrics, one panel each
    at.button(key="confirm_delete").click().run()
    assert not at.exception and not run.exists()
    assert "No runs yet" in texts(at.info)


def test_start_is_disabled_with_a_reason_when_too_many_runs_train(root, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_MAX_RUNS", "1")
    run = jobs.start(CFG, "busy", argv=fake("--max-steps", "100000"))
    wait_for(lambda: jobs.status(run)["state"] == "running")
    at = train_page()
    assert at.button(key="start").disabled
    assert "Start is disabled: 1 run(s) are already training or paused (busy) and the limit is 1" in texts(at.warning)
    jobs.stop(run, timeout=5)


def test_a_run_started_from_the_cli_is_listed(root):
    at = train_page()
    run = root / "from-cli"
    run.mkdir(parents=True)
    rundir.atomic_write_bytes(run / "config.json", CFG.to_json().encode())
    rundir.write_status(run, "finished", "Finished 30 steps.", step=30, total_steps=30)
    at.run()
    assert at.selectbox(key="run").options == ["from-cli"]
    assert ":violet-badge[finished]" in texts(at.markdown)
    assert "Changed from the recipe: `--subset 64`" in texts(at.caption)   # max_steps is bookkeeping
    # a run that leaves the recipe says how, in the flags that would start it again
    changed = root / "helvetica"
    changed.mkdir()
    config = dataclasses.replace(CFG, g_steps=10, r1_gamma=0.0, seed=7, eval_every=5)
    rundir.atomic_write_bytes(changed / "config.json", config.to_json().encode())
    rundir.write_status(changed, "finished", "Finished 30 steps.", step=30, total_steps=30)
    at.session_state["select_run"] = "helvetica"
    at.run()
    assert "Changed from the recipe: `--subset 64` `--g-steps 10` `--r1-gamma 0.0`" in texts(at.caption)


def test_model_card_before_launch_and_while_watching(root):
    def cards(at) -> list:  # the model card's tables (G, D), in page order
        return [d.value for d in at.dataframe if "flops" in d.value.columns]

    at = train_page()
    g, d = cards(at)
    assert list(g["output"])[-2:] == ["1×28×28", ""] and g["layer"].iloc[-1] == "total"
    assert g["params"].iloc[-1] == g["params"].iloc[:-1].sum() > 0 and d["layer"].iloc[1].startswith("Conv2d 1→32")
    at.selectbox(key="cfg_model").set_value("cgan").run()  # the card follows the form
    g = cards(at)[0]
    assert g["layer"].iloc[0] == "z ~ N(0, 1) + class label" and g["layer"].iloc[1].startswith("Embedding")
    run = jobs.start(CFG, "carded", argv=fake("--max-steps", "30", "--step-time", "0.001"))
    wait_for(lambda: jobs.status(run)["state"] == "finished", what="finished")
    at.run()
    form_g, _, g, _ = cards(at)  # the form's card, then the run's
    assert g["output"].iloc[-2] == "1×28×28" and g["layer"].iloc[0] == "z ~ N(0, 1)" and "Networks (layer by layer)" in [e.label for e in at.expander]


def test_doctor_offers_a_new_run_with_its_fix(root, monkeypatch):
    run = jobs.start(CFG, "nan", argv=fake("--nan-at", "6", "--log-every", "1"))
    wait_for(lambda: jobs.status(run)["state"] == "failed", what="failed")
    monkeypatch.setattr(jobs, "train_argv", lambda config, run_dir: [
        sys.executable, FAKE, "--out", str(run_dir), "--config", config.to_json(), "--max-steps", "10"])
    at = train_page()
    fix = at.button(key="fix_nan")
    assert fix.label == "Start a new run with this fix" and "grad_clip 0 → 5" in fix.help
    fix.click().run()
    assert not at.exception
    new = root / "nan-fix"
    assert at.selectbox(key="run").value == "nan-fix"
    config = TrainConfig.load(wait_for(lambda: (new / "config.json").exists() and new / "config.json"))
    assert (config.lr_g, config.lr_d, config.grad_clip) == (CFG.lr_g / 2, CFG.lr_d / 2, 5.0)
    assert (config.dataset, config.batch_size, config.seed) == (CFG.dataset, CFG.batch_size, CFG.seed)


BROKEN_ROWS = [b'{"kind": "train", "step": "abc", "time": 1.0}\n', b"\x00\xff\xfe garbage \x80\n",
               b'{"kind": "eval", "step": 4, "fid": "twelve"}\n', b'{"kind": "train", "step": 8, "time": null}\n',
               b'{"kind": "train", "step": 99999999999999999999999, "time": 1.0}\n']


@pytest.mark.parametrize("last", [b'{"kind": "train", "step": 31, "time": "oops"}\n',
                                  b'{"kind": "train", "step": 31, "time": null}\n',
                                  b'{"kind": "train", "step": 31, "time": 9.0, "images_per_s": "fast", "d_loss": "x"}\n'])
def test_a_run_with_broken_metrics_rows_shows_its_monitor(root, last):
    run = jobs.start(CFG, "broken", argv=fake("--max-steps", "30", "--step-time", "0.005"))
    wait_for(lambda: jobs.status(run)["state"] == "finished", what="finished")
    metrics = run / "metrics.jsonl"
    lines = metrics.read_bytes().splitlines(keepends=True)
    metrics.write_bytes(b"".join(lines[:3] + BROKEN_ROWS + lines[3:]) + last)
    at = train_page()
    assert not at.exception and not at.error, (at.exception, texts(at.error))
    assert ":violet-badge[finished]" in texts(at.markdown)
    cells = strip(at)["cells"]
    assert cells and "nan" not in json.dumps(cells).lower()
    assert at.select_slider(key="until_broken").value == (31 if b"fast" in last else 30)  # text is read as missing
    # an eval row may carry text; the other four and a last row whose time is not a number are skipped
    skipped = 4 + (0 if b"fast" in last else 1)
    assert rundir.skipped_rows(run) == skipped
    assert f"{skipped} damaged or badly typed line(s) of metrics.jsonl were skipped" in texts(at.caption)


def test_a_running_run_whose_last_row_is_broken_keeps_its_status_strip(root):
    run = jobs.start(CFG, "live", argv=fake("--max-steps", "100000", "--step-time", "0.05", "--log-every", "1"))
    wait_for(lambda: jobs.status(run)["state"] == "running" and rundir.read_metrics(run), what="rows")
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"kind": "train", "step": 999999, "time": "oops"}\n{"kind": "train", "step": "abc", "time": 1.0}\n')
    at = train_page()
    assert not at.exception and not at.error, (at.exception, texts(at.error))
    assert ":green-badge[running]" in texts(at.markdown) or "running" in texts(at.markdown)
    assert strip(at)["cells"]
