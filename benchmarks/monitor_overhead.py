"""What watching a run costs: training images/s with the monitor page open vs closed, the delay from a
metrics line being written to it being drawn in the browser, and peak memory of server and trainer.

    .venv/bin/python benchmarks/monitor_overhead.py [--refresh "2 s"] [--phase-seconds 45] [--phases 4]
    # before and after in one run: the page as it was at another commit, in alternate page phases
    git archive 17bbe4b | (mkdir -p /tmp/gs-before && tar -x -C /tmp/gs-before)
    .venv/bin/python benchmarks/monitor_overhead.py --before /tmp/gs-before

One real training run (`python -m ganlib train`: the training page's default run, DCGAN on MNIST) and one real
`streamlit run app.py` run throughout. Phases alternate: no browser, then headless Chromium on the
Train & monitor page, and so on (alternating evens out drift in machine load). The throughput of a
phase is the steps logged in it times the batch size over the wall time between its first and last
metrics line. Targets (from the issue): monitor costs < 5 % of images/s, line-to-screen < 2 s,
peak RSS server < 1.5 GB, trainer < 3 GB. Results are printed and written to benchmarks/out/.

The page's "Refresh every" setting trades one target against the other: each refresh costs the
browser CPU (which, on a CPU-only machine, training loses), and the refresh interval bounds the delay.
Run it once per setting (`--refresh "1 s"`, `"2 s"`, `"5 s"`) to see the trade-off on your machine.

With --before APP_DIR a second server serves the app from that folder (an older checkout) and the page
phases alternate between it and this one: no page, before, no page, after, ... so both are measured in
one run against the same training process. Then, for each of them, the redraw cost at --redraw-points
logged steps (default 20,000; a stand-in trainer appends a row every 0.25 s to a run that has them):
the browser's CPU per refresh, its longest main-thread task, and (this app) the time Plotly takes to
extend or redraw the charts.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e")]

import harness  # noqa: E402  (starts `streamlit run app.py` and headless Chromium, as the e2e tests do)

from ganlib.config import TrainConfig  # noqa: E402
from ganlib.train import jobs, rundir  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")
DRAW_RECORDER = """() => {
  window.__draws = []; let last = -1;
  setInterval(() => {  // the last step drawn on the loss chart (a long run's chart draws fewer points than rows)
    const el = [...document.querySelectorAll('.st-key-loss_chart .js-plotly-plot')].find((e) => e.data && e.data.length);
    const x = el ? el.data[el.data.length - 1].x : [];
    const step = x.length ? x[x.length - 1] : 0;
    if (step !== last) { window.__draws.push([Date.now() / 1000, step]); last = step; }
  }, 50);
}"""


def cpu_seconds(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / TCK  # own + reaped children
    except OSError:
        return 0.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MetricsWatcher(threading.Thread):
    """Records the wall time at which each metrics.jsonl train line appears (polls every 20 ms)."""

    def __init__(self, run_dir: Path):
        super().__init__(daemon=True)
        self.path, self.lines, self.done = run_dir / "metrics.jsonl", [], False

    def run(self) -> None:
        offset, buf = 0, ""
        while not self.done:
            try:
                with open(self.path) as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
            except OSError:
                chunk = ""
            now = time.time()
            buf += chunk
            *complete, buf = buf.split("\n")
            for line in complete:
                row = json.loads(line)
                if row.get("kind", "train") == "train":
                    self.lines.append((now, row))
            time.sleep(0.02)


def throughput(lines: list, t0: float, t1: float, batch: int) -> float | None:
    inside = [(t, r["step"]) for t, r in lines if t0 <= t <= t1]
    if len(inside) < 3:
        return None
    (ta, sa), (tb, sb) = inside[0], inside[-1]
    return (sb - sa) * batch / (tb - ta)


def app_server(app_dir: Path, runs_root: Path, log_path: Path):
    """(url, process) of `streamlit run app.py` started in app_dir, importing that folder's ganlib."""
    return harness.streamlit_server(runs_root, {"PYTHONPATH": str(app_dir)}, log_path, app_dir=app_dir)


def open_monitor(page, url: str, refresh: str | None) -> None:
    page.goto(url + "/")
    page.get_by_role("link", name="Train & monitor").first.click()
    page.locator(".st-key-loss_chart .js-plotly-plot").first.wait_for(timeout=120_000)
    if refresh:
        page.locator(".st-key-refresh input").click()
        page.get_by_role("option", name=refresh, exact=True).click()
        page.wait_for_timeout(500)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase-seconds", type=float, default=45)
    p.add_argument("--phases", type=int, default=4, help="alternating no-page / page phases (even number)")
    defaults = TrainConfig()  # the run the training page starts when nothing is changed
    p.add_argument("--model", default=defaults.model)
    p.add_argument("--dataset", default=defaults.dataset)
    p.add_argument("--width", type=int, default=defaults.width)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--log-every", type=int, default=defaults.log_every)
    p.add_argument("--device", default="auto")
    p.add_argument("--refresh", default=None, help="the page's 'Refresh every' setting, e.g. '1 s' "
                   "(default: the page's default)")
    p.add_argument("--before", type=Path, default=None, metavar="APP_DIR",
                   help="also measure the app in this folder (an older checkout), in alternate page phases")
    p.add_argument("--redraw-points", type=int, default=20000, help="logged steps for the redraw measurement "
                   "(0 = skip it)")
    p.add_argument("--redraw-seconds", type=float, default=40)
    # the default run on 2 free cores logs a row every ~0.9 s (20 steps x 64 images at ~1,400 images/s)
    p.add_argument("--redraw-row-seconds", type=float, default=0.9, help="seconds between the stand-in "
                   "trainer's rows in the redraw measurement")
    a = p.parse_args()
    arms = {"after": REPO} if a.before is None else {"before": a.before.resolve(), "after": REPO}

    root = Path(tempfile.mkdtemp(prefix="gan-bench-")) / "runs"
    root.mkdir()
    # evaluations are off: they pause the steps for a second or two, which would swamp the comparison
    config = TrainConfig(model=a.model, dataset=a.dataset, width=a.width, batch_size=a.batch_size,
                         max_steps=1_000_000, log_every=a.log_every, checkpoint_every=10_000, eval_every=0,
                         device=a.device)
    phases, draws, page_opened = [], [], []
    with contextlib.ExitStack() as stack:
        servers = {arm: stack.enter_context(app_server(d, root, root.parent / f"streamlit-{arm}.log"))
                   for arm, d in arms.items()}
        run = jobs.start(config, "bench", root=root)
        watcher = MetricsWatcher(run)
        watcher.start()
        try:
            deadline = time.time() + 300
            while len(watcher.lines) < 5:  # data loaded, first steps (slow ones) done
                if jobs.status(run).get("state") == "failed" or time.time() > deadline:
                    raise SystemExit(f"training did not start: {jobs.tail_log(run)}")
                time.sleep(0.2)
            train_pid = rundir.read_status(run)["pid"]
            server_pids = [proc.pid for _, proc in servers.values()]
            print(f"training {a.model} on {a.dataset} (batch {a.batch_size}, width {a.width}) on "
                  f"{jobs.status(run).get('device')}; {a.phases} phases of {a.phase_seconds:.0f} s; page refresh "
                  f"{a.refresh or 'default'}; pages: {', '.join(f'{k} ({v})' for k, v in arms.items())}", flush=True)
            order = [None] + [x for arm in arms for x in (arm, None)]  # no page, before, no page, after, no page
            for i in range(a.phases):
                arm = order[i % len(order)] if len(arms) > 1 else (None if i % 2 == 0 else "after")
                if arm:
                    url, proc = servers[arm]
                    with harness.chromium_page() as page:
                        open_monitor(page, url, a.refresh)
                        page.evaluate(DRAW_RECORDER)
                        page_opened.append(time.time())
                        phases.append(measure(a, watcher, proc.pid, train_pid, arm, server_pids))
                        draws += [(t, n, arm) for t, n in page.evaluate("window.__draws")]
                else:
                    phases.append(measure(a, watcher, server_pids[-1], train_pid, None, server_pids))
                ph = phases[-1]
                print(f"  phase {i + 1} ({arm or 'no page'}): {ph['images_per_s'] or float('nan'):.1f} images/s, "
                      f"server CPU {ph['server_cpu']:.1%}, browser CPU {ph['browser_cpu']:.1%} of a core", flush=True)
            rss_train = peak_rss_mb(train_pid)
            rss_server = {arm: peak_rss_mb(proc.pid) for arm, (_, proc) in servers.items()}
        finally:
            watcher.done = True
            jobs.stop(run, timeout=20)
            harness.kill_training_processes(root)

    no_page = [ph["images_per_s"] for ph in phases if not ph["page"] and ph["images_per_s"]]
    base = statistics.mean(no_page) if no_page else float("nan")
    result = {
        "config": {"refresh": a.refresh, "model": a.model, "dataset": a.dataset, "width": a.width,
                   "batch_size": a.batch_size, "log_every": a.log_every, "phase_seconds": a.phase_seconds,
                   "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(), "arms": {k: str(v) for k, v in arms.items()}},
        "phases": phases, "images_per_s_no_page": base, "arms": {}, "redraw": {},
        "peak_rss_mb": {"server": rss_server, "training": rss_train},
    }
    for arm in arms:
        mine = [ph for ph in phases if ph["page"] == arm]
        ips = [ph["images_per_s"] for ph in mine if ph["images_per_s"]]
        windows = [(ph["start"], ph["end"]) for ph in mine]
        lat = line_to_screen(watcher.lines, [(t, n) for t, n, w in draws if w == arm], windows)
        result["arms"][arm] = {
            "images_per_s_page_open": statistics.mean(ips) if ips else None,
            "ratio_page_open_to_no_page": (statistics.mean(ips) / base) if ips and no_page else float("nan"),
            "server_cpu": _mean(phases, arm, "server_cpu"), "browser_cpu": _mean(phases, arm, "browser_cpu"),
            "latency_s": {"n": len(lat), "median": _q(lat, 0.5), "p90": _q(lat, 0.9), "max": max(lat) if lat else None}}
    out = REPO / "benchmarks" / "out" / f"monitor_overhead{'_' + a.refresh.replace(' ', '') if a.refresh else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    print()
    print(f"training images/s, no page open : {base:.1f}")
    for arm, r in result["arms"].items():
        lat = r["latency_s"]
        print(f"[{arm}] images/s with the page open: {r['images_per_s_page_open'] or float('nan'):.1f}; ratio "
              f"{r['ratio_page_open_to_no_page']:.3f} -> watching costs {1 - r['ratio_page_open_to_no_page']:+.1%} "
              "(target < 5 %)")
        page_cpu = r["browser_cpu"] + r["server_cpu"] - _mean(phases, None, "server_cpu") / len(arms)
        r["page_share_of_machine"] = page_cpu / os.cpu_count()
        print(f"[{arm}] server CPU {r['server_cpu']:.1%}, browser CPU {r['browser_cpu']:.1%} of a core (no page: "
              f"servers {_mean(phases, None, 'server_cpu'):.1%}): the page takes {page_cpu:.1%} of a core, "
              f"{r['page_share_of_machine']:.1%} of the machine")
        if lat["n"]:
            print(f"[{arm}] metrics line -> drawn in browser: median {lat['median']:.2f} s, p90 {lat['p90']:.2f} s, "
                  f"max {lat['max']:.2f} s over {lat['n']} lines (target < 2 s)")
    redraw = result["redraw"]
    for arm, d in (arms.items() if a.redraw_points else ()):
        r = redraw[arm] = redraw_cost(d, a)
        print(f"[{arm}] at {a.redraw_points:,} logged steps, a new row every {a.redraw_row_seconds:g} s: page CPU "
              f"{r['browser_cpu']:.1%} (browser) + {r['server_cpu']:.1%} (server) of a core = "
              f"{r['page_share_of_machine']:.1%} of this {os.cpu_count()}-CPU machine (what a training run on every "
              "core would lose)")
        print(f"[{arm}]   first draw {r['first_draw_s']:.2f} s after the click; "
              f"browser CPU {r['browser_cpu_per_refresh_ms']:.0f} ms per refresh ({r['refreshes']} refreshes), longest "
              f"main-thread task {r['longest_task_ms']:.0f} ms"
              + (f"; Plotly redraw median {r['redraw_ms_median']:.0f} ms (max {r['redraw_ms_max']:.0f})"
                 if r.get("redraw_ms_median") is not None else ""))
    print(f"peak RSS, app server            : {', '.join(f'{k} {v:.0f} MB' for k, v in rss_server.items())} "
          "(target < 1500 MB)")
    print(f"peak RSS, training process      : {rss_train:.0f} MB (target < 3000 MB)")
    out.write_text(json.dumps(result, indent=2))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; written to {out}")
    return 0


REDRAW_PROBE = """() => {
  window.__stepSeen = 0; let last = null;
  setInterval(() => {  // a refresh that found new rows changes the step figure
    // the step figure: the live status strip's first value (older pages: Streamlit's first st.metric)
    const el = document.querySelector('.gs-fig-value, [data-testid="stMetricValue"]');
    const t = el ? el.innerText : null;
    if (t !== last) { if (last !== null) window.__stepSeen += 1; last = t; }
  }, 50);
  window.__tasks = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__tasks.push(e.duration); })
    .observe({type: 'longtask', buffered: false});
  window.__plotMs = [];
  const P = window.Plotly;  // this app's live charts load plotly.min.js as window.Plotly; the old page did not
  if (P && !P.__timed) {
    P.__timed = true;
    for (const name of ['extendTraces', 'react']) {
      const inner = P[name];
      P[name] = function (...args) {  // Plotly.react: the live charts' redraws once they hold many points
        const t0 = performance.now();
        const out = inner.apply(this, args);
        window.__plotMs.push([name, performance.now() - t0]);
        return out;
      };
    }
  }
}"""


def redraw_cost(app_dir: Path, a) -> dict:
    """Browser cost of watching a run that has a.redraw_points logged steps and keeps logging."""
    root = Path(tempfile.mkdtemp(prefix="gan-redraw-")) / "runs"
    run = root / "big"
    run.mkdir(parents=True)
    cfg = TrainConfig(dataset="typeset", max_steps=10**7, log_every=1)
    (run / "config.json").write_text(cfg.to_json())
    n = a.redraw_points
    with open(run / "metrics.jsonl", "w") as f:
        for s in range(1, n + 1):
            loss = 0.7 + 0.3 * math.sin(s / 300) + 0.05 * math.sin(s * 1.7)
            f.write(json.dumps({"kind": "train", "step": s, "epoch": s // 100, "time": s * 0.25, "d_loss": loss,
                                "g_loss": 2 - loss, "d_real": 0.6, "d_fake": 0.4, "grad_norm_d": 1.0 + loss,
                                "grad_norm_g": 2.0, "images_per_s": 500.0}) + "\n")
    (run / "checkpoint.pt").write_text(json.dumps({"step": n, "time": n * 0.25, "max_steps": 10**7}))
    trainer = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_train.py"), "--resume", str(run),
                                "--step-time", str(a.redraw_row_seconds), "--log-every", "1",
                                "--sample-every", str(max(1, round(10 / a.redraw_row_seconds)))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with app_server(app_dir, root, root.parent / "streamlit.log") as (url, server), \
                harness.chromium_page() as page:
            t0 = time.time()
            open_monitor(page, url, a.refresh)
            page.wait_for_function("() => [...document.querySelectorAll('.st-key-loss_chart .js-plotly-plot')]"
                                   f".some((el) => el.data && el.data.length && el.data[0].x.slice(-1)[0] >= {n})",
                                   timeout=120_000)
            first = time.time() - t0
            page.wait_for_timeout(3000)  # let the first draws settle
            page.evaluate(REDRAW_PROBE)
            me = os.getpid()
            b0, c0, s0, w0 = _browser_cpu(me, server.pid, trainer.pid), cpu_seconds(server.pid), time.time(), _reruns(page)
            time.sleep(a.redraw_seconds)
            cpu, wall = _browser_cpu(me, server.pid, trainer.pid) - b0, time.time() - s0
            server_cpu = cpu_seconds(server.pid) - c0
            refreshes = max(1, _reruns(page) - w0)
            tasks = page.evaluate("window.__tasks")
            plot = [ms for name, ms in page.evaluate("window.__plotMs")]
    finally:
        os.killpg(trainer.pid, signal.SIGKILL)
    return {"points": n, "first_draw_s": first, "browser_cpu": cpu / wall, "server_cpu": server_cpu / wall,
            "page_share_of_machine": (cpu + server_cpu) / wall / os.cpu_count(), "refreshes": refreshes,
            "browser_cpu_per_refresh_ms": 1000 * cpu / refreshes, "longest_task_ms": max(tasks, default=0.0),
            "redraw_ms_median": _q(plot, 0.5), "redraw_ms_max": max(plot) if plot else None}


def _reruns(page) -> int:
    """Refreshes seen so far: the step figure's text changes on each one that found a new row."""
    return page.evaluate("() => window.__stepSeen || 0")


def measure(a, watcher: MetricsWatcher, server_pid: int, train_pid: int, page: str | None,
            server_pids: list[int]) -> dict:
    """One phase: images/s of training, CPU of the page's server (all servers when no page is open) and of
    Chromium, as fractions of one core. page: the arm whose page is open, or None."""
    me = os.getpid()
    watched = [server_pid] if page else server_pids
    skip = [*server_pids, train_pid]
    s0, b0, t0 = sum(map(cpu_seconds, watched)), _browser_cpu(me, *skip), time.time()
    time.sleep(a.phase_seconds)
    t1 = time.time()
    return {"page": page, "start": t0, "end": t1,
            "images_per_s": throughput(watcher.lines, t0, t1, a.batch_size),
            "server_cpu": (sum(map(cpu_seconds, watched)) - s0) / (t1 - t0),
            "browser_cpu": (_browser_cpu(me, *skip) - b0) / (t1 - t0)}


def _browser_cpu(me: int, *not_browser: int) -> float:
    """CPU seconds of this process's descendants other than the server and the trainer (Chromium)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    ours, grew = {me}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in ours and p not in ours and p not in not_browser}
        ours |= new
        grew = bool(new)
    return sum(cpu_seconds(p) for p in ours - {me})


def line_to_screen(lines: list, draws: list, windows: list) -> list[float]:
    """For each train line written while a page was open, seconds until the chart showed its step."""
    out = []
    for written, row in lines:
        if not any(opened + 3 < written < closed - 3 for opened, closed in windows):
            continue
        drawn = next((t for t, step in draws if step >= row["step"] and t >= written - 0.05), None)
        if drawn is not None:
            out.append(max(0.0, drawn - written))
    return out


def _q(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _mean(phases: list, page: str | None, key: str) -> float:
    xs = [ph[key] for ph in phases if ph["page"] == page]
    return statistics.mean(xs) if xs else float("nan")


if __name__ == "__main__":
    sys.exit(main())
