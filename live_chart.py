"""A live Plotly chart that grows in the browser: each rerun sends only the rows that are new since the
last one, and the browser appends them (Plotly.extendTraces) instead of redrawing a whole figure.

    live_chart("loss", viz.loss_spec(log_y), rows, smoothing, base="run-a:...")

The spec (ganlib.viz: layout and one trace template per metric) is what ganlib.viz.spec_figure draws for
the report, so the two cannot drift. Smoothing and the log-scale fallback are applied in the browser
over the raw values it keeps, so moving the smoothing slider sends no data at all. A chart that is
scrolled out of view (or in a background tab) keeps the rows but is not redrawn until it shows again:
a Plotly redraw costs ~20-50 ms of CPU, which a CPU-only machine takes from training. Past two points
per pixel column a chart draws the min and max of each column's points (the same picture), so a run
with 20,000 logged steps redraws as fast as one with 1,000. Plotly itself is
plotly.min.js from the installed plotly package, served by this Streamlit server (never a CDN) and
loaded once per browser tab. Built on Streamlit's components v2 (no iframe).
"""
from __future__ import annotations

import functools
from pathlib import Path

import plotly
import streamlit as st
import streamlit.components.v1 as components_v1

from ganlib import viz

SENT = "_live_chart_sent"  # session state: {chart key: (base, rows the browser holds)}

# Registering plotly's package_data folder as a (never mounted) v1 component makes the server serve its
# files at /component/<name>/...: the same origin, offline, with a JavaScript content type.
_PLOTLY_FILES = components_v1.declare_component("plotly_js", path=str(Path(plotly.__file__).parent / "package_data"))

# One poller per run URL for the whole browser tab, shared by the charts, the status strip and the grid.
POLLER_JS = r"""
const KEEP = 5000;  // rows of each kind a poller keeps for charts that catch up (a remount, a tab switch)

function pollers() { return window.__ganPollers || (window.__ganPollers = {}); }

async function tick(p) {
  for (const sub of [...p.subs]) if (!sub.alive()) p.subs.delete(sub);
  if (!p.subs.size) { clearInterval(p.timer); delete pollers()[p.url]; return; }
  if (p.busy || document.hidden) return;  // a background tab asks for nothing
  p.busy = true;
  try {
    const r = await fetch(`${p.url}?train=${p.next.train}&eval=${p.next.eval}`, {cache: "no-store"});
    if (!r.ok) return;
    const u = await r.json();
    for (const kind of ["train", "eval"]) {
      if (u[kind + "_start"] !== p.next[kind]) continue;  // an answer to an older question
      for (const row of u[kind]) p.rows[kind].push(row);
      p.next[kind] += u[kind].length;
      const extra = p.rows[kind].length - KEEP;
      if (extra > 0) { p.rows[kind].splice(0, extra); p.first[kind] += extra; }
    }
    p.last = u;
    for (const sub of p.subs) {
      try { sub.update(p, u); } catch (e) { console.error(e); }
    }
  } catch (e) {
    // the server restarted or the network blinked: the next tick asks again
  } finally {
    p.busy = false;
  }
}

// subscribe({url, every_ms, held: {train, eval}}, update(poller, answer), el) -> {stop()}: a new poller
// starts where the page's rows end (held); the subscription ends when `el` leaves the page.
function subscribe(poll, update, el) {
  const all = pollers();
  let p = all[poll.url];
  if (p && p.every !== poll.every_ms) { clearInterval(p.timer); p.timer = null; }
  if (!p) {
    const held = poll.held || {train: 0, eval: 0};
    p = all[poll.url] = {url: poll.url, subs: new Set(), rows: {train: [], eval: []},
                         first: {train: held.train, eval: held.eval}, next: {train: held.train, eval: held.eval},
                         busy: false, timer: null, last: null};
  }
  p.every = poll.every_ms;
  if (!p.timer) p.timer = setInterval(() => tick(p), poll.every_ms);
  let stopped = false;
  const sub = {update, alive: () => !stopped && el.isConnected, stop: () => { stopped = true; }};
  p.subs.add(sub);
  return sub;
}
"""

JS = POLLER_JS + r"""
const CONFIG = {displaylogo: false, responsive: true};

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__ganPlotly) {
    window.__ganPlotly = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { window.__ganPlotly = null; reject(new Error("could not load " + url)); };
      document.head.appendChild(s);
    });
  }
  return window.__ganPlotly;
}

const finite = (v) => v !== null && v !== undefined && Number.isFinite(v);

// Debiased EMA (TensorBoard's smoothing, as ganlib.viz.smooth); state {avg, n} carries on across calls.
function smoothMore(state, values, w) {
  return values.map((v) => {
    if (!finite(v)) return null;
    state.avg = w * state.avg + (1 - w) * v;
    state.n += 1;
    return state.avg / (1 - Math.pow(w, state.n));
  });
}

function theme(el) {
  const css = getComputedStyle(el);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {text: v("--st-text-color", "#31333F"), font: v("--st-font", "sans-serif"),
          grid: v("--st-border-color-light", "#e6eaf1")};
}

function styled(layout, el, height) {
  const t = theme(el);
  const out = JSON.parse(JSON.stringify(layout));
  Object.assign(out, {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", autosize: true,
                      height: height, font: Object.assign({family: t.font, color: t.text}, out.font || {})});
  for (const name of Object.keys(out)) {
    if (/^[xy]axis\d*$/.test(name)) {
      out[name] = Object.assign({gridcolor: t.grid, zerolinecolor: t.grid, automargin: true}, out[name]);
    }
  }
  if (!out.xaxis) out.xaxis = {gridcolor: t.grid};
  return out;
}

// Min and max of each of `buckets` equal slices of the x range, in x order: a line drawn from them looks
// the same as from every point (a pixel column shows the extremes), at a fraction of Plotly's cost.
function decimate(xs, ys, buckets) {
  const n = xs.length, x0 = xs[0], span = (xs[n - 1] - x0) || 1, ox = [], oy = [];
  let bucket = -1, lo = -1, hi = -1;
  const flush = () => {
    if (lo < 0) return;
    const a = Math.min(lo, hi), b = Math.max(lo, hi);
    ox.push(xs[a]); oy.push(ys[a]);
    if (b !== a) { ox.push(xs[b]); oy.push(ys[b]); }
  };
  for (let i = 0; i < n; i++) {
    const k = Math.min(buckets - 1, Math.floor(((xs[i] - x0) / span) * buckets));
    if (k !== bucket) { flush(); bucket = k; lo = hi = -1; }
    const v = ys[i];
    if (!finite(v)) continue;
    if (lo < 0 || v < ys[lo]) lo = i;
    if (hi < 0 || v > ys[hi]) hi = i;
  }
  flush();
  if (ox[ox.length - 1] !== xs[n - 1] && finite(ys[n - 1])) { ox.push(xs[n - 1]); oy.push(ys[n - 1]); }
  return [ox, oy];
}

// Every trace of the chart from the data held (decimated to `buckets` when given), with the EMA state
// each smoothed line ends on.
function allTraces(d, s, buckets) {
  const traces = [], ema = {};
  let positive = true;
  const trace = (template, ys) => {
    const [x, y] = buckets ? decimate(s.x, ys, buckets) : [s.x.slice(), ys.slice()];
    return Object.assign({}, template, {x, y});
  };
  for (const ser of d.series) {
    const ys = s.y[ser.key];
    for (const v of ys) if (finite(v) && v <= 0) positive = false;
    if (ser.smooth && d.smoothing > 0) {
      ema[ser.key] = {avg: 0, n: 0};
      traces.push(trace(ser.raw, ys));
      traces.push(trace(ser.line, smoothMore(ema[ser.key], ys, d.smoothing)));
    } else {
      traces.push(trace(ser.line, ys));
    }
  }
  return {traces, ema, positive};
}

function draw(Plotly, gd, d, s, buckets) {
  const {traces, ema, positive} = allTraces(d, s, buckets);
  let layout = d.layout;
  if (layout.yaxis && layout.yaxis.type === "log" && !positive) {  // a log axis would drop values <= 0
    layout = Object.assign({}, layout, {yaxis: Object.assign({}, layout.yaxis, {type: "linear"}),
                                        title: Object.assign({}, layout.title, {text: d.log_note})});
  }
  gd.__ema = ema;
  gd.__log = layout.yaxis && layout.yaxis.type === "log";
  return Plotly.react(gd, traces, styled(layout, gd, d.layout.height || 300), CONFIG);
}

function extend(Plotly, gd, d, xs, ys) {
  const update = {x: [], y: []}, index = [];
  for (const ser of d.series) {
    const vals = ys[ser.key];
    if (gd.__log && vals.some((v) => finite(v) && v <= 0)) return false;  // needs the linear fallback
    if (ser.smooth && d.smoothing > 0) {
      update.x.push(xs.slice()); update.y.push(vals.slice()); index.push(index.length);
      update.x.push(xs.slice()); update.y.push(smoothMore(gd.__ema[ser.key], vals, d.smoothing));
      index.push(index.length);
    } else {
      update.x.push(xs.slice()); update.y.push(vals.slice()); index.push(index.length);
    }
  }
  Plotly.extendTraces(gd, update, index);
  return true;
}

function apply(Plotly, gd, d, ask) {
  const store = window.__ganLive || (window.__ganLive = {});  // outlives a remount (a tab switch)
  let s = store[d.key];
  if (d.start === 0) {
    s = store[d.key] = {base: d.base, x: [], y: {}};
    for (const ser of d.series) s.y[ser.key] = [];
  } else if (!s || s.base !== d.base || d.start > s.x.length) {
    ask();  // this browser lacks the rows before d.start: the page sends them all once
    return;
  }
  const skip = s.x.length - d.start;  // rows this browser already holds (a repeated message)
  const xs = d.x.slice(skip), ys = {};
  for (const ser of d.series) {
    if (!s.y[ser.key]) s.y[ser.key] = new Array(s.x.length).fill(null);
    ys[ser.key] = (d.y[ser.key] || []).slice(skip);
    for (const v of ys[ser.key]) s.y[ser.key].push(v);
  }
  for (const x of xs) s.x.push(x);
  const view = JSON.stringify([d.key, d.base, d.layout, d.series, d.smoothing]);
  if (gd.__visible === false || document.hidden) {  // off screen: drawn from the rows held once it shows
    gd.__pending = () => {
      const buckets = Math.max(300, gd.clientWidth || 600);
      draw(Plotly, gd, d, s, s.x.length > 2 * buckets ? buckets : 0);
      gd.__view = view;
      gd.__n = s.x.length;
    };
    return;
  }
  gd.__pending = null;
  const held = gd.__view === view && gd.__n === s.x.length - xs.length && gd.data;
  // past ~2 points per pixel column every point costs Plotly time and shows nothing more
  const buckets = Math.max(300, gd.clientWidth || 600);
  if (s.x.length > 2 * buckets) {
    if (!held || xs.length) draw(Plotly, gd, d, s, buckets);
  } else if (!held || (xs.length && !extend(Plotly, gd, d, xs, ys))) {
    draw(Plotly, gd, d, s);
  }
  gd.__view = view;
  gd.__n = s.x.length;
}

// A chart scrolled out of view (or in a hidden tab) is not redrawn; it catches up when it shows again.
function watchVisibility(gd) {
  const catchUp = () => {
    if (gd.__visible !== false && !document.hidden && gd.__pending) {
      const run = gd.__pending;
      gd.__pending = null;
      gd.__queue = gd.__queue.then(run);
    }
  };
  new IntersectionObserver((entries) => {
    for (const e of entries) gd.__visible = e.isIntersecting;
    catchUp();
  }).observe(gd);
  document.addEventListener("visibilitychange", catchUp);
}

// A chart of a training run follows it by polling the run's live API itself (live_api.py), through one
// poller per run shared by every chart and panel on the page: no Streamlit rerun per refresh.
function follow(gd, component) {
  const d = component.data;
  if (gd.__sub) gd.__sub.stop();
  gd.__sub = null;
  if (!d.poll) return;
  const kind = d.poll.kind;
  gd.__sub = subscribe(d.poll, (p, update) => {
    if (update.base !== d.poll.base) return;  // the file was rewritten (a resume): the page sends it afresh
    const s = (window.__ganLive || {})[d.key];
    if (!s || s.base !== d.base) return;
    const have = s.x.length, first = p.first[kind], rows = p.rows[kind];
    if (have >= first + rows.length) return;  // nothing new: nothing to do
    if (have < first) { component.setTriggerValue("resync", d.base); return; }  // too far behind
    const fresh = rows.slice(have - first), y = {};
    for (const ser of d.series) y[ser.key] = fresh.map((r) => (finite(r[ser.key]) ? r[ser.key] : null));
    const more = Object.assign({}, d, {start: have, x: fresh.map((r) => r.step), y});
    gd.__queue = gd.__queue.then(() => loadPlotly(d.plotly))
      .then((Plotly) => apply(Plotly, gd, more, () => component.setTriggerValue("resync", d.base)));
  }, gd);
}

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let gd = parentElement.querySelector(".live-plot");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "live-plot";
    gd.style.height = (data.layout.height || 300) + "px";
    parentElement.appendChild(gd);
    gd.__queue = Promise.resolve();
    watchVisibility(gd);
  }
  let asked = false;
  const ask = () => { if (!asked) { asked = true; setTriggerValue("resync", data.base); } };
  gd.__queue = gd.__queue
    .then(() => loadPlotly(data.plotly))
    .then((Plotly) => apply(Plotly, gd, data, ask))
    .then(() => follow(gd, component))
    .catch((e) => { console.error(e); gd.textContent = "The chart could not be drawn: " + e.message; });
}
"""


_component = st.components.v2.component("gan_studio.live_chart", js=JS, isolate_styles=False)


def plotly_url() -> str:
    """Where this server serves plotly.min.js (the installed plotly package's own copy)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/component/{_PLOTLY_FILES.name}/plotly.min.js"


def _forget(key: str) -> None:
    st.session_state.get(SENT, {}).pop(key, None)  # the browser asked for everything again


def live_chart(key: str, spec: dict, rows: list[dict], smoothing: float, base: str, poll: dict | None = None) -> None:
    """Draw spec over rows (dicts with "step"), sending only the rows the browser does not hold yet.

    base names the data stream (run, file version, replay step): when it changes everything is sent again.
    poll (from poll_spec): the chart then follows the run by itself between reruns, through the live API.
    """
    rows = [r for r in rows if "step" in r]
    sent = st.session_state.setdefault(SENT, {})
    held_base, held = sent.get(key, (None, 0))
    start = held if held_base == base and held <= len(rows) else 0
    steps, cols = viz.chart_columns(spec, rows[start:])
    payload = {"plotly": plotly_url(), "key": key, "base": base, "start": start, "x": steps, "y": cols,
               "layout": spec["layout"], "series": spec["series"], "log_note": spec["log_note"],
               "smoothing": smoothing, "poll": poll}
    _component(key=key, data=payload, on_resync_change=functools.partial(_forget, key))
    sent[key] = (base, len(rows))




def poll_spec(run_name: str, every_s: float, kind: str, base: str, held_train: int, held_eval: int) -> dict:
    """How a component follows a run: the live API's URL (live_api.py), how often, which rows (train or
    eval) it draws, the stream it belongs to, and how many rows of each kind the page already sent."""
    return {"url": f"/api/runs/{run_name}/live", "every_ms": int(every_s * 1000), "kind": kind, "base": base,
            "held": {"train": held_train, "eval": held_eval}}


STATUS_JS = POLLER_JS + r"""
function render(el, f) {
  const cells = f.cells.map(([label, value]) =>
    `<div class="gs-fig"><div class="gs-fig-label">${label}</div><div class="gs-fig-value">${value}</div></div>`);
  const bar = f.progress === null ? "" :
    `<div class="gs-progress" role="progressbar" aria-valuenow="${Math.round(f.progress * 100)}" aria-valuemin="0"
       aria-valuemax="100"><div style="width:${(f.progress * 100).toFixed(2)}%"></div></div>`;
  const msg = f.message ? `<div class="gs-fig-message">${f.message}</div>` : "";
  el.innerHTML = `<div class="gs-figs">${cells.join("")}</div>${bar}${msg}`;
}

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let el = parentElement.querySelector(".gs-status");
  if (!el) {
    el = document.createElement("div");
    el.className = "gs-status";
    parentElement.appendChild(el);
  }
  render(el, data.figures);
  let shown = JSON.stringify(data.figures), told = false;
  if (el.__sub) el.__sub.stop();
  el.__sub = data.poll ? subscribe(data.poll, (p, u) => {
    const now = JSON.stringify(u.figures);
    if (now !== shown) { shown = now; render(el, u.figures); }  // nothing changed: no DOM work at all
    if (u.figures.state !== data.figures.state && !told) {  // paused, finished, failed: the page re-runs once
      told = true;
      setTriggerValue("state", u.figures.state);
    }
  }, el) : null;
}
"""

STATUS_CSS = """
.gs-figs {display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; margin-bottom: 0.5rem;}
.gs-fig-label {font-size: 0.875rem; color: var(--st-text-color); opacity: 0.8;}
.gs-fig-value {font-size: 1.75rem; line-height: 1.3; white-space: nowrap; color: var(--st-text-color);}
.gs-progress {height: 0.5rem; border-radius: 0.25rem; background: var(--st-secondary-background-color, #f0f2f6);
              overflow: hidden; margin: 0.25rem 0 0.5rem;}
.gs-progress > div {height: 100%; background: var(--st-primary-color, #ff4b4b); transition: width 0.3s;}
.gs-fig-message {font-size: 0.875rem; opacity: 0.8;}
"""

GRID_JS = POLLER_JS + r"""
export default function (component) {
  const {data, parentElement} = component;
  let box = parentElement.querySelector(".gs-grid");
  if (!box) {
    box = document.createElement("figure");
    box.className = "gs-grid";
    box.innerHTML = '<img alt="sample grid"><figcaption></figcaption>';
    parentElement.appendChild(box);
  }
  const img = box.querySelector("img"), cap = box.querySelector("figcaption");
  const show = (g) => {
    img.hidden = !g;
    if (!g) { cap.textContent = "The first sample grid appears once the model is built."; return; }
    const src = `/api/runs/${data.run}/grid/${g.step}.png?v=${g.version}`;
    if (img.getAttribute("src") !== src) img.setAttribute("src", src);  // the browser fetches only new grids
    cap.textContent = data.caption.replace("{step}", g.step);
  };
  show(data.grid);
  if (box.__sub) box.__sub.stop();
  box.__sub = data.poll ? subscribe(data.poll, (p, u) => { if (u.grid) show(u.grid); }, box) : null;
}
"""

GRID_CSS = """
.gs-grid {margin: 0;}
.gs-grid img {width: 100%; image-rendering: pixelated; display: block;}
.gs-grid figcaption {font-size: 0.875rem; opacity: 0.7; text-align: center; margin-top: 0.25rem;}
"""

_status = st.components.v2.component("gan_studio.live_status", js=STATUS_JS, css=STATUS_CSS, isolate_styles=False)
_grid = st.components.v2.component("gan_studio.live_grid", js=GRID_JS, css=GRID_CSS, isolate_styles=False)


def live_status(key: str, figures: dict, poll: dict | None = None, on_state_change=None) -> None:
    """The run's figures strip (step, epoch, elapsed, ETA, images/s, device), its progress bar and status
    message (figures: ganlib.train.live.figures); with poll it follows the run by itself, and tells the page
    (on_state_change) when the run's state changes."""
    _status(key=key, data={"figures": figures, "poll": poll}, on_state_change=on_state_change or (lambda: None))


def live_grid(key: str, run_name: str, grid: dict | None, caption: str, poll: dict | None = None) -> None:
    """A run's latest sample grid (grid: {"step", "version"}, None before the first), served by the live API; with poll the newest
    grid replaces it as soon as it is written. caption: "{step}" is replaced by the grid's step."""
    _grid(key=key, data={"run": run_name, "grid": grid, "caption": caption, "poll": poll})
