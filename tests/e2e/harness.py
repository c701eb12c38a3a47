"""Start the real app (`streamlit run app.py`) and a headless Chromium for end-to-end tests."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(runs_root: Path, extra_env: dict | None = None, log_path: Path | None = None,
                     app_dir: Path = REPO):
    """Yield (url, process) of `streamlit run app.py` in app_dir (default: this repo) on a free port, with
    runs under runs_root."""
    port = free_port()
    env = dict(os.environ, GAN_STUDIO_RUNS=str(runs_root), **(extra_env or {}))
    log = open(log_path or runs_root.parent / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def kill_training_processes(runs_root: Path) -> None:
    """Never leave a training process behind."""
    from ganlib.train import jobs, procs, rundir

    for d in jobs.run_dirs(runs_root):
        pid = rundir.read_status(d).get("pid")
        if pid and procs.pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def chromium_browser():
    """One headless Chromium (Playwright's Browser); each browser.new_context() in it is a separate user."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(30_000)
        yield page


def seconds_until_redrawn(page, images, act, timeout: float = 30.0) -> float:
    """Seconds from act() (a key press on a slider, a click) until every image of the locator `images` shows
    other pixels than before (a new src), as the user sees it; AssertionError after `timeout`."""
    before = [images.nth(i).get_attribute("src") for i in range(images.count())]
    start = time.monotonic()
    act()
    while time.monotonic() < start + timeout:
        now = [images.nth(i).get_attribute("src") for i in range(images.count())]
        if len(now) == len(before) and all(a != b for a, b in zip(now, before)):
            return time.monotonic() - start
        page.wait_for_timeout(20)
    raise AssertionError(f"the images did not all change within {timeout:.0f} s")
