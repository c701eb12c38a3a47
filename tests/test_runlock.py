"""A run has one writer: the lock is taken by a real process, refused to a second one, and dies with its holder."""
import os
import signal
import subprocess
import sys
import time

import pytest

from ganlib.train.runlock import RunBusy, is_locked, lock_run

HOLD = "import sys, time; from ganlib.train.runlock import lock_run; lock_run(sys.argv[1]); print('held', flush=True); time.sleep(60)"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def holder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline().strip() == b"held"
    yield run, proc
    proc.kill()
    proc.wait()


def test_a_second_writer_is_refused_naming_the_holder(holder):
    run, proc = holder
    assert is_locked(run)
    with pytest.raises(RunBusy, match=rf"is being trained by process {proc.pid} \(.*\); a run has one writer"):
        lock_run(run)


def test_the_lock_dies_with_its_holder(holder):
    run, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not is_locked(run)
    with lock_run(run):
        assert is_locked(run)
    assert not is_locked(run)


def test_asking_never_blocks_a_writer(tmp_path):
    for _ in range(50):
        assert not is_locked(tmp_path)
        lock = lock_run(tmp_path)
        lock.release()


def test_a_resume_while_the_run_trains_is_refused_and_writes_nothing(tmp_path):
    """Two real trainers on one run: the second (`train --resume`) gets one sentence naming the first, and the
    first's metrics, checkpoint and status stay its own."""
    from ganlib.train import jobs, rundir

    run = tmp_path / "x"
    first = subprocess.Popen([sys.executable, "-m", "ganlib", "train", "--dataset", "typeset", "--subset", "64",
                              "--batch-size", "16", "--width", "8", "--latent-dim", "16", "--log-every", "2",
                              "--max-steps", "100000", "--eval-every", "0", "--quiet", "--out", str(run)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while rundir.read_status(run).get("state") != "running" or not rundir.read_metrics(run):
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read()
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "ganlib", "train", "--resume", str(run)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"is being trained by process {first.pid}" in second.stderr.strip().splitlines()[-1]
        status = rundir.read_status(run)
        assert status["state"] == "running" and status["pid"] == first.pid
        with pytest.raises(ValueError, match=f"process {first.pid}"):  # the page's Resume button
            jobs.resume(run)
        steps = [r["step"] for r in rundir.read_metrics(run)]
        assert steps == sorted(set(steps))
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert rundir.read_status(run)["state"] == "stopped"
    assert not is_locked(run)  # the lock went with its holder: now a resume may take it
