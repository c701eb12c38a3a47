"""Pause, stop and SIGTERM for a training run, and the training seconds that leave pauses out.

The Train page asks through control.json (rundir.request), stylegan2-ada-style callers through abort_fn,
and the system through SIGTERM. One process reads control.json at most every 0.25 s, at the top of a
step. Several processes (torchrun) agree at each logging step in one collective (distributed.agree), so
every rank pauses and stops at the same step; a paused world keeps agreeing every 0.5 s, well inside any
collective's timeout.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Callable, Iterator

from . import distributed
from .distributed import PAUSE, RUN, STOP
from .rundir import RunWriter

_COMMANDS = {"pause": PAUSE, "stop": STOP}


@contextlib.contextmanager
def hold_sigterm() -> Iterator[None]:
    """A SIGTERM that arrives inside waits until the block ends, then acts as it would have.

    For a failing run's last words: when a rank dies, torchrun sends SIGTERM to the survivors at once,
    and rank 0 must still write "failed" into status.json (a loaded disk's write can take a while)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    old = signal.signal(signal.SIGTERM, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        if held:
            os.kill(os.getpid(), signal.SIGTERM)  # now under the handler it would have met


class Controller:
    """What the run is asked to do. Use as a context: SIGTERM stops the run cleanly while inside."""

    def __init__(self, files: RunWriter, world: distributed.World, abort_fn: Callable[[], bool] | None,
                 base_seconds: float = 0.0):
        self.files, self.world, self.abort_fn = files, world, abort_fn
        self.stopping = threading.Event()  # SIGTERM, or a 'stop' read from control.json
        self.agreed = RUN                    # several processes: the command agreed at the last logging step
        self.paused_seconds = 0.0
        self._base, self._start, self._last_read = base_seconds, time.monotonic(), 0.0
        self._old_handler = None

    def __enter__(self) -> "Controller":
        if threading.current_thread() is threading.main_thread():
            self._old_handler = signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        return self

    def __exit__(self, *exc) -> None:
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)

    def seconds(self) -> float:
        """Training seconds so far: a resumed run's earlier seconds plus this process's, less pauses."""
        return self._base + time.monotonic() - self._start - self.paused_seconds

    def local_command(self) -> int:
        """What this process asks for: STOP on SIGTERM or abort_fn(); else control.json's (rank 0's) command."""
        if self.stopping.is_set() or (self.abort_fn is not None and self.abort_fn()):
            return STOP
        return _COMMANDS.get(self.files.requested(), RUN)

    def should_stop(self, step: int) -> bool:
        """Asked at the top of each step. One process (a world of one): its own command, read at most
        every 0.25 s, and it pauses here; several: the stop agreed at the last logging step."""
        if self.world.distributed:
            return self.agreed == STOP
        if time.monotonic() - self._last_read > 0.25:  # a file read per step would cost on fast GPUs
            self._last_read = time.monotonic()
            command = self.local_command()
            if command == PAUSE:
                command = self._pause(step, self.local_command, 0.2)
                self.files.status("running", "", step)
            if command == STOP:
                self.stopping.set()
        return self.stopping.is_set() or (self.abort_fn is not None and self.abort_fn())

    def agree(self, step: int, images_per_s: float) -> list[float]:
        """Several processes, at a logging step: one collective agrees on pause / stop (pausing here
        while the world is paused) and gathers each rank's images/s, which it returns."""
        command, rank_speeds = distributed.agree(self.world, self.local_command(), images_per_s)
        if command == PAUSE:
            command = self._pause(step, lambda: distributed.agree(self.world, self.local_command(), 0.0)[0], 0.5)
        self.agreed = command
        return rank_speeds

    def _pause(self, step: int, ask: Callable[[], int], interval: float) -> int:
        """Status 'paused' until ask() stops saying PAUSE; the command that ended the pause."""
        self.files.status("paused", f"Paused at step {step}.", step)
        started, command = time.monotonic(), PAUSE
        while command == PAUSE:
            time.sleep(interval)
            command = ask()
        self.paused_seconds += time.monotonic() - started
        return command
