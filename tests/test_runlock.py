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
