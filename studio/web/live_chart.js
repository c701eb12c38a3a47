// The monitor's live Plotly chart (studio/live_chart.py): appends new rows instead of redrawing.
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

// Debiased EMA (TensorBoard's smoothing, as studio.figures.smooth); state {avg, n} carries on across calls.
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

// A chart of a training run follows it by polling the run's live API itself (studio/api.py), through one
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
