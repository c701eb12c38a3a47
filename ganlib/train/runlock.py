"""A run has one writer: whoever trains a run directory holds an exclusive lock on `<run>/writer.lock`.

The lock is the operating system's (flock): it is held by an open file, so it dies with its process, however
that process ends (killed, crashed, power cut), and a lock left behind by a dead process never blocks. The file
also names the holder (pid and command line) so that a refusal can say who is writing.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; a run is then guarded by its status only
    fcntl = None

LOCK_FILE = "writer.lock"


class RunBusy(RuntimeError):
    """Another process trains this run directory; str() is one sentence naming it."""


class RunLock:
    """The exclusive writer's lock of one run directory, held until release() or the end of the process."""

    def __init__(self, run_dir: str | Path, fd: int | None):
        self.run_dir, self._fd = Path(run_dir), fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder_text(run_dir: str | Path) -> str:
    """'process 1234 (python -m ganlib train ...)' from the lock file, as far as it can be read."""
    try:
        pid, _, command = (Path(run_dir) / LOCK_FILE).read_text(errors="replace").partition("\n")
    except OSError:
        return "another process"
    pid = pid.strip()
    if not pid.isdigit():
        return "another process"
    command = command.strip()
    return f"process {pid}" + (f" ({command[:120]})" if command else "")


def busy_sentence(run_dir: str | Path) -> str:
    return (f"{run_dir} is being trained by {holder_text(run_dir)}; a run has one writer at a time, so stop "
            "that one (or wait for it to finish) before resuming.")


def lock_run(run_dir: str | Path) -> RunLock:
    """Take the writer's lock of `run_dir` (which must exist) or raise RunBusy naming the holder."""
    run_dir = Path(run_dir)
    if fcntl is None:
        return RunLock(run_dir, None)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    for attempt in range(10):  # is_locked() holds a shared lock for a moment: wait that out, not a writer
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if attempt == 9:
                os.close(fd)
                raise RunBusy(busy_sentence(run_dir)) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n{' '.join(sys.argv)}\n".encode())
    os.set_inheritable(fd, False)  # a child process (a data loader, a shell) must not keep the run locked
    return RunLock(run_dir, fd)


def is_locked(run_dir: str | Path) -> bool:
    """Whether some live process holds `run_dir`'s writer's lock (asked without taking it)."""
    path = Path(run_dir) / LOCK_FILE
    if fcntl is None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if it was taken
    return False
