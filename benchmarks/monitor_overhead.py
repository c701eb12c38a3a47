"""What watching a run costs: training images/s with the monitor page open vs closed, the delay from a
metrics line being written to it being drawn in the browser, and peak memory of server and trainer.

    .venv/bin/python benchmarks/monitor_overhead.py [--refresh "2 s"] [--phase-seconds 45] [--phases 4]

One real training run (`python -m ganlib train`: the training page's default run, DCGAN on MNIST) and one real
`streamlit run app.py` run throughout. Phases alternate: no browser, then headless Chromium on the
Train & monitor page, and so on (alternating evens out drift in machine load). The throughput of a
phase is the steps logged in it times the batch size over the wall time between its first and last
metrics line. Targets (from the issue): monitor costs < 5 % of images/s, line-to-screen < 2 s,
peak RSS server < 1.5 GB, trainer < 3 GB. Results are printed and written to benchmarks/out/.

The page's "Refresh every" setting trades one target against the other: each refresh costs the
browser CPU (which, on a CPU-only machine, training loses), and the refresh interval bounds the delay.
Run it once per setting (`--refresh "1 s"`, `"2 s"`, `"5 s"`) to see the trade-off on your machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e")]

import harness  # noqa: E402  (starts `streamlit run app.py` and headless Chromium, as the e2e tests do)

from ganlib.config import TrainConfig  # noqa: E402
from ganlib.train import jobs, rundir  # noqa: E402

TCK = os.sysconf("SC_CLK_TCK")
DRAW_RECORDER = """() => {
  window.__draws = []; let last = -1;
  setInterval(() => {
    const el = document.querySelector('.st-key-loss_chart .js-plotly-plot');
    const n = el && el.data && el.data.length ? el.data[el.data.length - 1].x.length : 0;
    if (n !== last) { window.__draws.push([Date.now() / 1000, n]); last = n; }
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
    a = p.parse_args()

    root = Path(tempfile.mkdtemp(prefix="gan-bench-")) / "runs"
    root.mkdir()
    # evaluations are off: they pause the steps for a second or two, which would swamp the comparison
    config = TrainConfig(model=a.model, dataset=a.dataset, width=a.width, batch_size=a.batch_size,
                         max_steps=1_000_000, log_every=a.log_every, checkpoint_every=10_000, eval_every=0,
                         device=a.device)
    phases, draws, page_opened = [], [], []
    with harness.streamlit_server(root, log_path=root.parent / "streamlit.log") as (url, server):
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
            print(f"training {a.model} on {a.dataset} (batch {a.batch_size}, width {a.width}) on "
                  f"{jobs.status(run).get('device')}; {a.phases} phases of {a.phase_seconds:.0f} s; page refresh "
                  f"{a.refresh or 'default'}", flush=True)
            for i in range(a.phases):
                with_page = i % 2 == 1
                if with_page:
                    with harness.chromium_page() as page:
                        page.goto(url + "/")
                        page.get_by_role("link", name="Train & monitor").first.click()
                        page.locator(".st-key-loss_chart .js-plotly-plot").wait_for(timeout=60_000)
                        if a.refresh:
                            page.locator(".st-key-refresh input").click()
                            page.get_by_role("option", name=a.refresh, exact=True).click()
                            page.wait_for_timeout(500)
                        page.evaluate(DRAW_RECORDER)
                        page_opened.append(time.time())
                        phases.append(measure(a, watcher, server.pid, train_pid, True))
                        draws += page.evaluate("window.__draws")
                else:
                    phases.append(measure(a, watcher, server.pid, train_pid, False))
                ph = phases[-1]
                print(f"  phase {i + 1} ({'page open' if with_page else 'no page  '}): "
                      f"{ph['images_per_s']:.1f} images/s, server CPU {ph['server_cpu']:.1%} of a core", flush=True)
            rss_train = peak_rss_mb(train_pid)
            rss_server = peak_rss_mb(server.pid)
        finally:
            watcher.done = True
            jobs.stop(run, timeout=20)
            harness.kill_training_processes(root)

    no_page = [ph["images_per_s"] for ph in phases if not ph["page"] and ph["images_per_s"]]
    page = [ph["images_per_s"] for ph in phases if ph["page"] and ph["images_per_s"]]
    windows = [(t, ph["end"]) for t, ph in zip(page_opened, [ph for ph in phases if ph["page"]])]
    latencies = line_to_screen(watcher.lines, draws, windows)
    result = {
        "config": {"refresh": a.refresh, "model": a.model, "dataset": a.dataset, "width": a.width, "batch_size": a.batch_size,
                   "log_every": a.log_every, "phase_seconds": a.phase_seconds, "cpus": os.cpu_count(),
                   "loadavg_at_end": os.getloadavg()},
        "phases": phases,
        "images_per_s_no_page": statistics.mean(no_page) if no_page else None,
        "images_per_s_page_open": statistics.mean(page) if page else None,
        "latency_s": {"n": len(latencies), "median": _q(latencies, 0.5), "p90": _q(latencies, 0.9),
                      "max": max(latencies) if latencies else None},
        "peak_rss_mb": {"server": rss_server, "training": rss_train},
    }
    ratio = (result["images_per_s_page_open"] / result["images_per_s_no_page"]
             if no_page and page else float("nan"))
    result["ratio_page_open_to_no_page"] = ratio
    out = REPO / "benchmarks" / "out" / f"monitor_overhead{'_' + a.refresh.replace(' ', '') if a.refresh else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    lat = result["latency_s"]
    print()
    print(f"training images/s, no page open : {result['images_per_s_no_page']:.1f}")
    print(f"training images/s, page polling : {result['images_per_s_page_open']:.1f}")
    print(f"ratio (page / no page)          : {ratio:.3f}  -> monitor costs {1 - ratio:+.1%} (target < 5 %)")
    print(f"server CPU, no page / page      : {_mean(phases, False, 'server_cpu'):.1%} / "
          f"{_mean(phases, True, 'server_cpu'):.1%} of a core; browser {_mean(phases, True, 'browser_cpu'):.1%}")
    print(f"metrics line -> drawn in browser: median {lat['median']:.2f} s, p90 {lat['p90']:.2f} s, "
          f"max {lat['max']:.2f} s over {lat['n']} lines (target < 2 s)")
    print(f"peak RSS, app server            : {rss_server:.0f} MB (target < 1500 MB)")
    print(f"peak RSS, training process      : {rss_train:.0f} MB (target < 3000 MB)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; written to {out}")
    return 0


def measure(a, watcher: MetricsWatcher, server_pid: int, train_pid: int, page: bool) -> dict:
    me = os.getpid()
    s0, b0, t0 = cpu_seconds(server_pid), _browser_cpu(me, server_pid, train_pid), time.time()
    time.sleep(a.phase_seconds)
    t1 = time.time()
    return {"page": page, "start": t0, "end": t1,
            "images_per_s": throughput(watcher.lines, t0, t1, a.batch_size),
            "server_cpu": (cpu_seconds(server_pid) - s0) / (t1 - t0),
            "browser_cpu": (_browser_cpu(me, server_pid, train_pid) - b0) / (t1 - t0)}


def _browser_cpu(me: int, server_pid: int, train_pid: int) -> float:
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
        new = {p for p, pp in parent.items() if pp in ours and p not in ours and p not in (server_pid, train_pid)}
        ours |= new
        grew = bool(new)
    return sum(cpu_seconds(p) for p in ours - {me})


def line_to_screen(lines: list, draws: list, windows: list) -> list[float]:
    """For each train line written while a page was open, seconds until the chart had that many points."""
    out = []
    for i, (written, _) in enumerate(lines):
        if not any(opened + 3 < written < closed - 3 for opened, closed in windows):
            continue
        drawn = next((t for t, n in draws if n >= i + 1 and t >= written - 0.05), None)
        if drawn is not None:
            out.append(max(0.0, drawn - written))
    return out


def _q(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _mean(phases: list, page: bool, key: str) -> float:
    xs = [ph[key] for ph in phases if ph["page"] == page]
    return statistics.mean(xs) if xs else float("nan")


if __name__ == "__main__":
    sys.exit(main())
