"""Processes of training jobs: is a pid still our job (pid_alive), start one detached (launch), and how
a child of this process ended (exit_code). Torch-free, so the job runner and the fake trainer stay light."""
from __future__ import annotations

import os
import shlex
import subprocess
import threading
from pathlib import Path

from ganlib.paths import PROJECT_ROOT


def _proc_start_time(pid: int) -> float | None:
    """Unix time a process started (Linux /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime"))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def pid_alive(pid: int | None, not_after: float | None = None) -> bool:
    """True if the process exists, is not a zombie and (if known) started before `not_after`.

    The start-time check keeps a recycled pid from passing for a long-dead training process.
    """
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    if not_after is not None:
        started = _proc_start_time(pid)
        if started is not None and started > not_after + 2.0:
            return False
    return True


_exit_codes: dict[int, int] = {}  # pid -> return code, for children of this process
_reaped: dict[int, threading.Event] = {}  # pid -> set once its return code is in _exit_codes


def _reap(proc: subprocess.Popen) -> None:
    # Wait in a thread so a finished child does not linger as a zombie in a long-lived server.
    _exit_codes[proc.pid] = proc.wait()
    _reaped[proc.pid].set()


def exit_code(pid: int, wait: float = 2.0) -> int | None:
    """How a child that launch() started ended (negative: the signal that killed it); None if unknown.

    A child that has just died may not be reaped yet (a zombie until the reaper thread runs); for our
    own children this waits up to `wait` seconds for its code rather than calling it "gone".
    """
    done = _reaped.get(pid)
    if done is not None:
        done.wait(wait)
    return _exit_codes.get(pid)


def launch(argv: list[str], run_dir: Path) -> int:
    """Start argv detached (own session), output appended to run_dir/log.txt; returns the pid."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    with open(run_dir / "log.txt", "ab") as log:
        log.write(f"$ {shlex.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=PROJECT_ROOT, env=env, start_new_session=True, close_fds=True)
    _reaped[proc.pid] = threading.Event()
    threading.Thread(target=_reap, args=(proc,), daemon=True).start()
    return proc.pid
