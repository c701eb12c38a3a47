"""Job runner: real background processes (a torch-free fake trainer), start/stop/resume/list/faults."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ganlib.config import TrainConfig
from ganlib.train import jobs, procs, rundir

FAKE = str(Path(__file__).with_name("fake_train.py"))


def fake(*extra: str) -> list[str]:
    return [sys.executable, FAKE, "--out", "{run_dir}", "--config", CFG.to_json(), *extra]


RESUME = [sys.executable, FAKE, "--resume", "{run_dir}"]


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.03)
    raise AssertionError(f"timed out waiting for {what}")


def state(run_dir) -> str:
    return jobs.status(run_dir).get("state")


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("GAN_STUDIO_MAX_RUNS", "2")
    yield tmp_path / "runs"
    for d in jobs.run_dirs(tmp_path / "runs"):  # never leave a process behind
        pid = rundir.read_status(d).get("pid")
        if procs.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


CFG = TrainConfig(dataset="typeset", subset=64, batch_size=16, max_steps=20)


def test_runs_root_from_env(root):
    assert jobs.runs_root() == root.resolve()


def test_start_runs_to_finish_and_writes_the_run_dir(root):
    run = jobs.start(CFG, "first", argv=fake("--max-steps", "20", "--step-time", "0.01"))
    assert run.parent == root.resolve() and run.name == "first"
    wait_for(lambda: state(run) == "finished", what="finished")
    assert [r["step"] for r in rundir.read_metrics(run, "train")] == list(range(2, 21, 2))
    assert [s for s, _ in rundir.list_samples(run)] == [5, 10, 15, 20]
    log = (run / "log.txt").read_text()
    assert TrainConfig.load(run / "config.json") == CFG
    assert FAKE in log.splitlines()[0] and "fake training from step 0" in log


def test_same_name_never_clobbers_and_names_are_sanitised(root):
    a = jobs.new_run_dir(root, "demo")
    b = jobs.new_run_dir(root, "demo")
    assert (a.name, b.name) == ("demo", "demo-2")
    evil = jobs.new_run_dir(root, "../../etc/passwd")
    assert evil.parent == root and ".." not in evil.name and "/" not in evil.name
    with pytest.raises(ValueError):
        jobs.new_run_dir(root, "../..")


def test_invalid_config_is_refused_before_anything_is_written(root):
    with pytest.raises(ValueError, match="Learning rate lr_d"):
        jobs.start(TrainConfig(lr_d=5.0), "bad", argv=fake())
    assert not jobs.run_dirs(root)


def test_pause_continue_stop_resume(root):
    run = jobs.start(CFG, "pausable", argv=fake("--max-steps", "60", "--step-time", "0.02"))
    wait_for(lambda: rundir.read_status(run).get("step", 0) >= 4, what="some steps")
    jobs.pause(run)
    wait_for(lambda: state(run) == "paused", what="paused")
    step = rundir.read_status(run)["step"]
    time.sleep(0.3)
    assert rundir.read_status(run)["step"] == step and procs.pid_alive(rundir.read_status(run)["pid"])
    jobs.proceed(run)
    wait_for(lambda: rundir.read_status(run).get("step", 0) > step, what="steps after continue")
    final = jobs.stop(run, timeout=5)
    assert final["state"] == "stopped" and (run / "checkpoint.pt").exists()
    stopped_at = final["step"]
    assert stopped_at < 60
    jobs.resume(run, argv=RESUME)
    with pytest.raises(ValueError, match="stop it"):  # one process per run
        jobs.resume(run, argv=RESUME)
    wait_for(lambda: state(run) == "finished", what="finished after resume")
    steps = [r["step"] for r in rundir.read_metrics(run, "train")]
    assert steps == sorted(set(steps)) and steps[-1] == 60  # resumed, no step logged twice
    with pytest.raises(ValueError, match="finished"):
        jobs.resume(run, argv=RESUME)


def test_killed_process_reads_as_failed_with_its_log_and_can_be_resumed(root):
    run = jobs.start(CFG, "victim", argv=fake("--max-steps", "200", "--step-time", "0.02"))
    wait_for(lambda: rundir.read_status(run).get("step", 0) >= 4, what="running")
    jobs.stop(run, timeout=5)  # leaves a checkpoint to resume from
    jobs.resume(run, argv=RESUME)
    pid = wait_for(lambda: state(run) == "running" and rundir.read_status(run)["pid"], what="resumed")
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (s := jobs.status(run))["state"] == "failed" and s, what="failed")
    assert f"pid {pid}" in st["message"] and "signal 9" in st["message"]
    assert st["message"].endswith("the last checkpoint is kept — resume continues from it.")
    assert "fake training from step" in st["log_tail"]
    assert rundir.read_status(run)["state"] == "failed"  # written back for every reader
    jobs.resume(run, argv=RESUME + ["--step-time", "0.001"])
    wait_for(lambda: state(run) == "finished", what="finished")


def test_a_run_killed_before_its_first_checkpoint_says_resume_starts_again(root):
    run = jobs.start(CFG, "early", argv=fake("--max-steps", "200", "--step-time", "0.02"))
    pid = wait_for(lambda: rundir.read_status(run).get("step", 0) >= 4 and rundir.read_status(run)["pid"],
                   what="running")
    os.kill(pid, signal.SIGKILL)
    st = wait_for(lambda: (s := jobs.status(run))["state"] == "failed" and s, what="failed")
    assert not (run / "checkpoint.pt").exists()
    assert st["message"].endswith("no checkpoint was saved yet, so resume starts again from step 0."), st["message"]


def test_crash_on_startup_shows_failed_with_traceback(root):
    run = jobs.start(CFG, "crash", argv=fake("--crash-at", "3"))
    st = wait_for(lambda: (s := jobs.status(run))["state"] == "failed" and s, what="failed")
    assert "exited with code 3" in st["message"]
    assert "simulated crash" in jobs.tail_log(run)


def test_nan_stops_the_run_with_step_and_reason(root):
    run = jobs.start(CFG, "nan", argv=fake("--nan-at", "6", "--log-every", "1"))
    wait_for(lambda: state(run) == "failed", what="failed")
    assert "NaN at step 6" in jobs.status(run)["message"]


def test_hung_process_is_killed_by_stop(root):
    run = jobs.start(CFG, "hung", argv=fake("--max-steps", "100000", "--ignore-stop"))
    pid = wait_for(lambda: state(run) == "running" and rundir.read_status(run)["pid"], what="running")
    t0 = time.time()
    st = jobs.stop(run, timeout=0.3)
    assert st["state"] == "stopped" and "killed" in st["message"]
    assert not procs.pid_alive(pid) and time.time() - t0 < 6


def test_concurrent_runs_are_bounded(root):
    a = jobs.start(CFG, "a", argv=fake("--max-steps", "100000"))
    b = jobs.start(CFG, "b", argv=fake("--max-steps", "100000"))
    assert "limit is 2" in jobs.start_blocker(root)
    with pytest.raises(ValueError, match="limit is 2"):
        jobs.start(CFG, "c", argv=fake())
    assert {d.name for d in jobs.active_runs(root)} == {"a", "b"}
    jobs.pause(a)  # paused still holds its slot
    wait_for(lambda: state(a) == "paused", what="paused")
    assert jobs.start_blocker(root)
    jobs.stop(b, timeout=5)
    assert jobs.start_blocker(root) == ""
    c = jobs.start(CFG, "c", argv=fake("--max-steps", "10"))
    wait_for(lambda: state(c) == "finished", what="c finished")
    jobs.stop(a, timeout=5)
    assert jobs.active_runs(root) == []


def test_simultaneous_starts_respect_the_bound(root):
    results: list[object] = []

    def go(i):
        try:
            results.append(jobs.start(CFG, "same", argv=fake("--max-steps", "100000")))
        except ValueError as e:
            results.append(e)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    started = [r for r in results if isinstance(r, Path)]
    assert len(started) == 2 and len({p.name for p in started}) == 2
    for run in started:
        jobs.stop(run, timeout=5)


def test_list_jobs_summary_and_delete(root):
    run = jobs.start(CFG, "listed", argv=fake("--max-steps", "20", "--step-time", "0.001"))
    wait_for(lambda: state(run) == "finished", what="finished")
    [row] = jobs.list_jobs(root)
    assert row["name"] == "listed" and row["model"] == "dcgan" and row["dataset"] == "typeset"
    assert row["state"] == "finished" and row["step"] == 20
    # best over the fake's evaluations at steps 5, 10, 15, 20: FID 50 / (1 + step / 10) falls, coverage stays
    assert row["best_fid"] == pytest.approx(50 / 3) and row["best_class_coverage"] == 10
    assert "best_eval_seconds" not in row and "best_num_samples" not in row  # headline metrics only
    with pytest.raises(ValueError):
        jobs.delete(root.parent, root)  # not a run dir under the root
    jobs.delete(run, root)
    assert not run.exists() and jobs.list_jobs(root) == []


def test_delete_refuses_an_active_run(root):
    run = jobs.start(CFG, "busy", argv=fake("--max-steps", "100000"))
    wait_for(lambda: state(run) == "running", what="running")
    with pytest.raises(ValueError, match="stop it"):
        jobs.delete(run, root)
    jobs.stop(run, timeout=5)


def test_pid_alive_rejects_zombies_and_recycled_pids(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
             what="zombie")
    assert not procs.pid_alive(child.pid)
    child.wait()
    assert procs.pid_alive(os.getpid())
    assert not procs.pid_alive(os.getpid(), not_after=time.time() - 10_000)  # we are younger than that
    # a status that points at a pid that was not its writer is failed, not running
    rundir.write_status(tmp_path, "running", "Training.", pid=os.getpid(), step=7)
    st = rundir.read_status(tmp_path)
    st["updated"] = time.time() - 10_000
    rundir.atomic_write_json(tmp_path / "status.json", st)
    assert jobs.status(tmp_path)["state"] == "failed"


def test_progress_and_eta():
    rows = [{"step": 50, "time": 10.0}]
    p = jobs.progress({"state": "running", "step": 50, "total_steps": 200}, rows)
    assert p["fraction"] == 0.25 and p["eta"] == pytest.approx(30.0) and p["elapsed"] == 10.0
    assert jobs.progress({"state": "finished", "step": 200, "total_steps": 200}, rows)["eta"] is None


def test_best_metrics_and_config_diff():
    best = jobs.best_metrics([{"kind": "eval", "step": 1, "fid": 30.0, "class_coverage": 0.6},
                              {"kind": "eval", "step": 2, "fid": 20.0, "class_coverage": 0.9},
                              {"kind": "eval", "step": 3, "fid": float("nan"), "class_coverage": 0.7}])
    assert best == {"best_fid": 20.0, "best_class_coverage": 0.9}
    diff = jobs.config_diff({"a": TrainConfig(), "b": TrainConfig(lr_d=1e-4)})
    assert diff == {"lr_d": {"a": 4e-4, "b": 1e-4}}


def test_preflight_checks_the_data():
    assert any("Learning rate" in p for p in jobs.preflight(TrainConfig(lr_g=0)))
    small = TrainConfig(dataset="typeset", subset=16, batch_size=32)
    [problem] = jobs.preflight(small)
    assert "batch size (32) is larger than the data set (16" in problem
    assert jobs.preflight(TrainConfig(model="cgan", dataset="typeset", subset=64, batch_size=32)) == []
    missing = TrainConfig(dataset="folder", data_dir="/nonexistent/folder")
    assert "does not exist" in jobs.preflight(missing)[0]


def test_preflight_cgan_needs_labels(tmp_path):
    # the config alone already rules out unlabelled data sets for CGAN
    assert any("labelled" in p for p in jobs.preflight(TrainConfig(model="cgan", dataset="toy-ring")))


def test_a_run_that_dies_before_writing_its_config_is_listed_failed_and_deletable(root):
    run = jobs.start(CFG, "early", argv=[sys.executable, "-c", "import sys; sys.exit('bad flag')"])
    assert jobs.run_dirs(root) == [run]
    wait_for(lambda: state(run) == "failed", what="failed")
    assert "bad flag" in jobs.tail_log(run)
    with pytest.raises(ValueError, match="before it wrote its config"):
        jobs.resume(run, argv=RESUME)
    jobs.delete(run, root)
    assert jobs.run_dirs(root) == []


def test_config_and_run_files_import_without_torch():
    # the fake trainer (and jobs' light paths) rely on this: torch takes seconds to import
    code = "import sys, ganlib.config, ganlib.train.rundir; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_read_metrics_parses_new_lines_only_and_follows_a_rewrite(tmp_path):
    # the app re-reads every run's metrics on each refresh; the reader parses each line once
    for step in (1, 2):
        rundir.append_metrics(tmp_path, {"step": step, "d_loss": 1.0})
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [1, 2]
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "kind": "eval"}\n{"step": 4, "d_lo')  # a line being written
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [1, 2, 3]
    assert [r["step"] for r in rundir.read_metrics(tmp_path, "eval")] == [3]
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('ss": 0.5}\nnot json\n[1, 2]\n{"step": 5}')  # the line completed; junk; a last line with no newline
    rows = rundir.read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and rows[3]["d_loss"] == 0.5
    rows.append({"step": 99})  # the caller's list is its own
    rundir.truncate_metrics(tmp_path, after_step=2)  # a rewrite by rename: a new file, read afresh
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == [1, 2]
    (tmp_path / "metrics.jsonl").unlink()
    assert rundir.read_metrics(tmp_path) == []
