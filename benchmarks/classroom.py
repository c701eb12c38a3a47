"""How many students one server holds: N students at once on the Latent explorer, each moving a slider
about once a second, against one `streamlit run app.py`.

    .venv/bin/python benchmarks/classroom.py [--students 1,5,10,20] [--browsers 2] [--duration 30] [--json out.json]

Each class size gets a fresh server (started as the e2e tests start it) and the same protocol:
1. warm-up: one browser opens the Latent explorer (torch, the model and its directions load) and moves the
   slider once, then leaves; the server's resident memory (RSS) then is the baseline, and the message the page
   sent for that move is the template of the wire students' moves;
2. N students open the explorer on SeFa directions, each on its own seed (its own strips, as in a class):
   `--browsers` of them in headless Chromium (one browser, a context each: separate sessions), the rest as
   wire students, clients that speak Streamlit's websocket protocol as the page does (same messages, the new
   image fetched over HTTP) but draw nothing. Each is a real session on the server; the wire students stand
   in for browsers that, in a class, run on the students' own laptops and not on the server's cores;
3. for `--duration` seconds each student moves the first direction's slider to a new place every 0.8-1.2 s
   (open loop: a student does not wait for the image). Latency: in a browser, from the release to the new
   image drawn, by benchmarks/latent_latency.py's recorder in the page; for a wire student, from sending the
   move to the new image's bytes received. A move that a quicker second move overtook counts until the image
   that answers both;
4. moves stop, answers are waited for (up to 15 s), and the figures are read.

Figures: slider -> image p50 / p95 / max of all students and of the browsers alone; server CPU seconds per
move (/proc of the server process, all its threads) and server CPU as % of one core; the clients' CPU (this
process and the browsers) and what the rest of the machine used (/proc/stat's busy time minus both), since
the 2 cores are shared; memory per session (RSS after the moves minus the baseline, over N); the load
average. Target (from the issue): p95 < 1 s at 20 students on 2 cores. `--browsers 100` puts every student
in a browser on this machine: then the browsers, not the server, set the pace (about 0.1 CPU s per move each).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks"), str(REPO / "tests" / "e2e")]

import harness  # noqa: E402  (starts `streamlit run app.py` and headless Chromium, as the e2e tests do)
from latent_latency import RECORDER, TRACK, click_slider, open_explorer, percentile, slider_place  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
VIEWPORT = {"width": 1400, "height": 1000}   # latent_latency's layout


# ---------------------------------------------------------------- /proc readings

def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(root: int) -> list[int]:
    """Every live process under `root` (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def tree_cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError, ValueError):   # exited meanwhile
            pass
    return total


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (all cores), from /proc/stat."""
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in
                                                             Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


def cache_misses(url: str) -> dict[str, int]:
    """Calls to each st.cache_resource function that had to compute (a model loaded, directions found), from
    the server's /_stcore/metrics: 1 each however many sessions, if models are shared by every session."""
    out = {}
    for line in urllib.request.urlopen(url + "/_stcore/metrics", timeout=30).read().decode().splitlines():
        if line.startswith("cache_lookups_total{") and 'cache_type="st_cache_resource"' in line \
                and 'result="miss"' in line:
            name = line.split('cache="', 1)[1].split('"', 1)[0]
            if int(float(line.rsplit(" ", 1)[1])):
                out[name] = int(float(line.rsplit(" ", 1)[1]))
    return out


# ---------------------------------------------------------------- students in a browser

def explorer_query(model: str, seed: int) -> str:
    return f"model={model}&kind=sefa&seed={seed}" + ("&class=3" if model.startswith("cgan") else "")


def open_browser_students(browser, url: str, seeds: list[int], model: str) -> list[tuple]:
    """One browser context (a separate session) per seed on the Latent explorer; returns [(context, page,
    track)] once every image is drawn and the recorder is in place."""
    students = []
    for seed in seeds:   # all load at once, as a class does
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{url}/latent?{explorer_query(model, seed)}", wait_until="commit")
        students.append((context, page))
    for _, page in students:
        page.locator(".st-key-latent_image img").wait_for()
        page.locator(".st-key-dir_0 input[type=range]").wait_for()
    time.sleep(2.0)   # the last strips and captions settle
    out = []
    for context, page in students:
        page.evaluate(RECORDER)
        out.append((context, page, page.evaluate(TRACK)))
    return out


# ---------------------------------------------------------------- students who speak Streamlit's protocol

class WireStudent:
    """A session driven over Streamlit's websocket as the page drives it: the first message opens the page,
    each move is the message a real page sent for a slider move (`template`) with this student's seed and
    slider value; the answer is read until the big image's new URL, whose PNG is then fetched over HTTP."""

    def __init__(self, url: str, seed: int, model: str, template: BackMsg):
        self.url, self.seed, self.model, self.template = url, seed, model, template
        self.lat: list[float] = []       # ms, release -> new image received
        self.pending: list[float] = []   # monotonic times of moves not answered yet
        self.moves = 0
        self.slider = None               # the first direction's slider element (its min, max, step)
        self.image_path: list[int] | None = None   # where the big image's container sits in the page
        self.image_url = ""
        self.drawn = asyncio.Event()

    async def open(self) -> None:
        import websockets

        self.ws = await websockets.connect(self.url.replace("http", "ws", 1) + "/_stcore/stream",
                                           subprotocols=["streamlit"], origin=self.url, max_size=None)
        first = BackMsg()
        first.rerun_script.query_string = explorer_query(self.model, self.seed)
        first.rerun_script.page_name = "latent"
        first.rerun_script.context_info.CopyFrom(self.template.rerun_script.context_info)
        self.reader = asyncio.create_task(self.read())
        await self.ws.send(first.SerializeToString())
        await asyncio.wait_for(self.drawn.wait(), 180)

    async def read(self) -> None:
        async for data in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            if msg.WhichOneof("type") != "delta":
                continue
            delta, path = msg.delta, list(msg.metadata.delta_path)
            if delta.WhichOneof("type") == "add_block" and delta.add_block.id.endswith("-latent_image"):
                self.image_path = path
            elif delta.WhichOneof("type") == "new_element":
                element = delta.new_element
                kind = element.WhichOneof("type")
                if kind == "slider" and element.slider.id.endswith("-dir_0"):
                    self.slider = element.slider
                elif kind == "imgs" and path[:-1] == self.image_path and element.imgs.imgs:
                    await self.new_image(element.imgs.imgs[0].url)

    async def new_image(self, src: str) -> None:
        if src == self.image_url:
            return
        self.image_url = src
        answered, self.pending = self.pending, []
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: urllib.request.urlopen(self.url + src, timeout=60).read())
        except OSError:   # a newer image replaced it on the server first: those moves wait for the next one
            self.pending[:0] = answered
            return
        now = time.monotonic()
        self.lat += [1000 * (now - t) for t in answered]
        self.drawn.set()

    async def move(self, i: int) -> None:
        """Move the first direction's slider to its i-th place (as latent_latency.click_slider does)."""
        s = self.slider
        steps = round((s.max - s.min) / s.step)
        value = s.min + round(slider_place(i) * steps) * s.step
        msg = BackMsg()
        msg.CopyFrom(self.template)
        msg.rerun_script.query_string = explorer_query(self.model, self.seed)
        for w in msg.rerun_script.widget_states.widgets:
            if w.id.endswith("-latent_seed"):
                w.int_value = self.seed
            elif w.id.endswith("-dir_0"):
                w.double_array_value.data[:] = [value]
        self.pending.append(time.monotonic())
        self.moves += 1
        await self.ws.send(msg.SerializeToString())

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


class WireClass:
    """Wire students on an asyncio loop of their own (a thread), beside Playwright's synchronous calls."""

    def __init__(self, url: str, seeds: list[int], model: str, template: BackMsg):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.students = [WireStudent(url, seed, model, template) for seed in seeds]
        self.call(self._gather(*(s.open() for s in self.students)))

    @staticmethod
    async def _gather(*coros):
        return await asyncio.gather(*coros)

    def call(self, coro, timeout: float | None = 300):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start_moves(self, t0: float, duration: float, seed: int):
        """Moves on the schedule the browser students follow (see run_class); returns a future."""
        async def student(s: WireStudent) -> None:
            rng = random.Random(seed * 1000 + s.seed)
            t = rng.uniform(0.0, 1.0)
            while t < duration:
                await asyncio.sleep(max(0.0, t0 + t - time.monotonic()))
                await s.move(s.moves + 7 * s.seed)
                t += rng.uniform(0.8, 1.2)
        return asyncio.run_coroutine_threadsafe(self._gather(*(student(s) for s in self.students)), self.loop)

    def pending(self) -> int:
        return sum(len(s.pending) for s in self.students)

    def close(self) -> None:
        self.call(self._gather(*(s.close() for s in self.students)))
        self.loop.call_soon_threadsafe(self.loop.stop)


# ---------------------------------------------------------------- one class

def run_class(browser, url: str, server_pid: int, n: int, duration: float, template: BackMsg,
              browsers: int = 2, model: str = "dcgan_mnist", seed: int = 0) -> dict:
    """N students for `duration` seconds against the server at `url` (process `server_pid`, warmed up by
    warm_up, which gave `template`): the first `browsers` in browser contexts, the rest wire students.
    Returns the figures of one class (see the module's docstring)."""
    rss_base = rss_mib(server_pid)
    n_browsers = min(n, browsers)
    pages = open_browser_students(browser, url, list(range(n_browsers)), model)
    wire = WireClass(url, list(range(n_browsers, n)), model, template) if n > n_browsers else None
    rss_open = rss_mib(server_pid)
    client = [p for p in descendants(os.getpid()) if p != server_pid and p not in descendants(server_pid)]
    client.append(os.getpid())   # the wire students and Playwright's side of the browsers
    rngs = [random.Random(seed * 1000 + k) for k in range(n_browsers)]
    next_move = [rng.uniform(0.0, 1.0) for rng in rngs]   # students start out of step
    moves = [0] * n_browsers
    load_before = os.getloadavg()
    server0, client0, busy0 = cpu_seconds(server_pid), tree_cpu_seconds(client), machine_busy_seconds()
    t0 = time.monotonic() + 0.2
    wire_moves = wire.start_moves(t0, duration, seed) if wire else None
    while n_browsers:
        k = min(range(n_browsers), key=next_move.__getitem__)
        if next_move[k] >= duration:
            break
        time.sleep(max(0.0, t0 + next_move[k] - time.monotonic()))
        _, page, track = pages[k]
        click_slider(page, track, moves[k] + 7 * k)   # each student along its own sequence of places
        moves[k] += 1
        next_move[k] += rngs[k].uniform(0.8, 1.2)
    if wire_moves:
        wire_moves.result(duration + 60)

    def unanswered() -> int:
        return sum(p.evaluate("() => window.__pending.length") for _, p, _ in pages) + (wire.pending() if wire else 0)

    drain_end = time.monotonic() + 15
    while time.monotonic() < drain_end and unanswered():
        time.sleep(0.25)
    wall = time.monotonic() - t0
    server_s = cpu_seconds(server_pid) - server0
    client_s = tree_cpu_seconds(client) - client0
    busy_s = machine_busy_seconds() - busy0
    in_page = [ms for _, page, _ in pages for ms in page.evaluate("() => window.__lat")]
    lat = in_page + ([ms for s in wire.students for ms in s.lat] if wire else [])
    total_moves = sum(moves) + (sum(s.moves for s in wire.students) if wire else 0)
    rss_end = rss_mib(server_pid)
    loads = cache_misses(url)
    for context, _, _ in pages:
        context.close()
    if wire:
        wire.close()

    def pct(values: list[float], q: float) -> float | None:
        return percentile(values, q) if values else None

    return {
        "students": n, "browsers": n_browsers, "duration_s": duration, "wall_s": round(wall, 1),
        "moves": total_moves, "answered": len(lat), "unanswered": total_moves - len(lat),
        "p50_ms": pct(lat, 0.5), "p95_ms": pct(lat, 0.95), "max_ms": max(lat) if lat else None,
        "browser_p50_ms": pct(in_page, 0.5), "browser_p95_ms": pct(in_page, 0.95),
        "server_cpu_s_per_move": server_s / max(1, total_moves),
        "server_cpu_pct": 100 * server_s / wall, "clients_cpu_pct": 100 * client_s / wall,
        "others_cpu_pct": 100 * max(0.0, busy_s - server_s - client_s) / wall,
        "rss_base_mib": rss_base, "rss_open_mib": rss_open, "rss_end_mib": rss_end,
        "mib_per_session": (rss_end - rss_base) / n,
        "resource_cache_misses": loads, "model_loads": loads.get("studio.widgets._cached_generator", 0),
        "load_before": load_before, "load_after": os.getloadavg(),
    }


def warm_up(browser, url: str, model: str) -> BackMsg:
    """One browser visit that loads torch, the model and its directions into the server, as the first student
    would, and moves the slider once; returns the message the page sent for that move."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.goto(url + "/")   # the server learns the page paths on its first run of app.py
    page.get_by_text("Pretrained models").wait_for()
    sent: list[bytes] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    click_slider(page, open_explorer(page, url, model, "&seed=999"), 0)
    page.wait_for_function("() => window.__lat.length > 0")
    context.close()
    moves = []
    for frame in sent:
        msg = BackMsg()
        msg.ParseFromString(frame)
        if msg.WhichOneof("type") == "rerun_script" and msg.rerun_script.fragment_id:
            moves.append(msg)
    time.sleep(2.0)
    return moves[-1]


def level(browser, n: int, duration: float, browsers: int, model: str, seed: int) -> dict:
    """A fresh server, warmed up, then one class of n students."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        with harness.streamlit_server(runs, log_path=Path(tmp) / "streamlit.log") as (url, proc):
            template = warm_up(browser, url, model)
            return run_class(browser, url, proc.pid, n, duration, template, browsers, model, seed)


# ---------------------------------------------------------------- the table

COLUMNS = [  # (key, header, width, format)
    ("students", "students", 8, "d"), ("browsers", "in browser", 10, "d"), ("moves", "moves", 6, "d"),
    ("unanswered", "lost", 5, "d"), ("p50_ms", "p50 ms", 7, ".0f"), ("p95_ms", "p95 ms", 7, ".0f"),
    ("max_ms", "max ms", 7, ".0f"), ("browser_p50_ms", "browser p50", 11, ".0f"),
    ("browser_p95_ms", "browser p95", 11, ".0f"), ("server_cpu_s_per_move", "server CPU s/move", 17, ".3f"),
    ("server_cpu_pct", "server %", 8, ".0f"), ("clients_cpu_pct", "clients %", 9, ".0f"),
    ("others_cpu_pct", "others %", 8, ".0f"), ("mib_per_session", "MiB/session", 11, ".1f"),
    ("rss_base_mib", "base MiB", 8, ".0f"), ("model_loads", "model loads", 11, "d")]


def table(rows: list[dict]) -> str:
    """The figures of each class, one row each (CPU % are of one core; the machine has os.cpu_count())."""
    lines = [" ".join(f"{h:>{w}}" for _, h, w, _ in COLUMNS) + "  load 1-min before/after"]
    for r in rows:
        cells = [f"{r[k]:>{w}{f}}" if r[k] is not None else f"{'-':>{w}}" for k, _, w, f in COLUMNS]
        lines.append(" ".join(cells) + f"  {r['load_before'][0]:.2f}/{r['load_after'][0]:.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", default="1,5,10,20", help="class sizes, in order (default 1,5,10,20)")
    ap.add_argument("--repeat", type=int, default=20,
                    help="one more class of this size at the end, to see how much the shared machine moved "
                         "the figures (default 20; 0: none)")
    ap.add_argument("--browsers", type=int, default=2,
                    help="students in a real browser per class (default 2); the rest speak the protocol")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of slider moves per class (default 30)")
    ap.add_argument("--model", default="dcgan_mnist", help="shipped model to explore (default dcgan_mnist)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the students' timing")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    sizes = [int(n) for n in args.students.split(",")] + ([args.repeat] if args.repeat else [])
    rows = []
    with harness.chromium_browser() as browser:
        for n in sizes:
            rows.append(level(browser, n, args.duration, args.browsers, args.model, args.seed))
            r = rows[-1]
            print(f"{n} students: {r['answered']} of {r['moves']} moves answered, p50 {r['p50_ms'] or 0:.0f} ms, "
                  f"p95 {r['p95_ms'] or 0:.0f} ms; server {r['server_cpu_s_per_move']:.3f} CPU s per move, "
                  f"{r['mib_per_session']:.1f} MiB per session; load {r['load_after'][0]:.2f}", flush=True)
    print(f"\nLatent explorer ({args.model}), {args.duration:g} s of moves per class, one fresh server each, "
          f"{os.cpu_count()} cores shared by the server, the clients and whatever else runs here (others):")
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "duration_s": args.duration, "cores": os.cpu_count(),
                                         "classes": rows}, indent=2))


if __name__ == "__main__":
    main()
