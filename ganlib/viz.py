"""Figures for the pages and reports: plotly training curves, sample-grid GIFs, a run report.

No Streamlit here: every function returns a plotly Figure, PIL image, bytes or a string, so
tests and the CLI can use them too. Rows are metrics.jsonl dicts (see ganlib.train.rundir).
"""
from __future__ import annotations

import base64
import csv
import html
import io
import math
from dataclasses import fields
from pathlib import Path

import plotly.graph_objects as go
from PIL import Image, ImageDraw

from ganlib.train.doctor import PROBABILITY_LOSSES, d_output_names, diagnose
from ganlib.train.rundir import HEADLINE_EVAL

COLORS = {"d": "#d62728", "g": "#1f77b4", "real": "#2ca02c", "fake": "#ff7f0e", "speed": "#9467bd"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f"]
META_KEYS = ("kind", "step", "epoch", "time")


# ---------------------------------------------------------------- rows

def rows_until(rows: list[dict], step: int | None) -> list[dict]:
    """The rows logged at or before `step` (all of them for None)."""
    return rows if step is None else [r for r in rows if r.get("step", 0) <= step]


def eval_keys(eval_rows: list[dict]) -> list[str]:
    """Metric names present in eval rows, in first-seen order."""
    keys: list[str] = []
    for r in eval_rows:
        for k, v in r.items():
            if k not in META_KEYS and k not in keys and isinstance(v, (int, float)):
                keys.append(k)
    return keys


def smooth(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing); NaN passes through."""
    if weight <= 0:
        return list(values)
    out, avg, n = [], 0.0, 0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(float("nan"))
            continue
        avg = weight * avg + (1 - weight) * v
        n += 1
        out.append(avg / (1 - weight ** n))
    return out


def metrics_csv(rows: list[dict]) -> str:
    """All rows as CSV, one column per key seen (kind, step, epoch, time first)."""
    cols = [k for k in META_KEYS if any(k in r for r in rows)]
    cols += sorted({k for r in rows for k in r} - set(cols))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in cols})
    return buf.getvalue()


# ---------------------------------------------------------------- curves
# Figures are built as plain plotly specs and wrapped without validation: validating costs ~10 ms
# per figure, and the monitor rebuilds five of them on every refresh (every 2 s by default), next to
# a training process.
# tests/test_viz.py validates every figure kind once.

def _figure(spec: dict) -> go.Figure:
    return go.Figure(spec, _validate=False)


def _layout(title: str, y_title: str, log_y: bool, height: int = 300) -> dict:
    return {"title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}}, "height": height,
            "margin": {"l": 10, "r": 10, "t": 45, "b": 10}, "hovermode": "x unified",
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
            "uirevision": title,  # keep the user's zoom when the data refreshes
            "xaxis": {"title": {"text": "step"}},
            "yaxis": {"title": {"text": y_title}, "type": "log" if log_y else "linear"}}


def _series(rows: list[dict], key: str) -> tuple[list, list]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and "step" in r]
    return [p[0] for p in pts], [float(p[1]) for p in pts]


# ---------------------------------------------------------------- chart specs
# A chart is a spec (layout and one trace template per metric, no data) plus columns of data. The
# same spec draws the report's figures here (spec_figure) and the monitor's live charts in the
# browser (the page's live_chart component), which only receive the rows that are new.

def _series_spec(key: str, name: str, color: str, smooth: bool = True, **line) -> dict:
    """One metric: a line, drawn smoothed over a faint raw copy when smoothing > 0 and smooth is set."""
    return {"key": key, "smooth": smooth,
            "raw": {"type": "scatter", "name": f"{name} (raw)", "mode": "lines", "showlegend": False,
                    "line": {"color": color, "width": 1}, "opacity": 0.25, "hoverinfo": "skip", "legendgroup": name},
            "line": {"type": "scatter", "name": name, "mode": "lines", "line": {"color": color, "width": 2},
                     "legendgroup": name, **line}}


def _spec(title: str, y_title: str, series: list[dict], log_y: bool, height: int = 300) -> dict:
    # log_note: the title when log_y meets a value <= 0 (a log axis would silently drop it)
    return {"layout": _layout(title, y_title, log_y, height), "series": series,
            "log_note": f"{title} (linear: some values are ≤ 0)"}


def loss_spec(log_y: bool = False) -> dict:
    """D loss and G loss against step."""
    return _spec("Losses", "loss", [_series_spec("d_loss", "D loss", COLORS["d"]),
                                    _series_spec("g_loss", "G loss", COLORS["g"])], log_y)


def d_outputs_spec(loss: str = "ns", model: str = "") -> dict:
    """Mean D(x) and D(G(z)): probabilities drifting toward 0.5 in a healthy game (raw critic values for
    wgan-gp and hinge, where there is no 0.5 to aim for). A CycleGAN's are D(real) and D(translated)."""
    from ganlib.train.doctor import d_output_names

    probs = loss in ("ns", "bce", "lsgan")
    real, fake = d_output_names(model)
    spec = _spec(f"{real} and {fake}" if probs else "Critic outputs on real and fake",
                 "mean D output" if probs else "mean critic value",
                 [_series_spec("d_real", real, COLORS["real"]), _series_spec("d_fake", fake, COLORS["fake"])],
                 False)
    if probs:
        spec["layout"]["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": 0.5,
                                     "y1": 0.5, "line": {"color": "grey", "dash": "dot", "width": 1}}]
        spec["layout"]["annotations"] = [{"text": "0.5: D cannot tell", "xref": "paper", "x": 1, "yref": "y",
                                          "y": 0.5, "xanchor": "right", "yanchor": "top", "showarrow": False,
                                          "font": {"size": 11, "color": "grey"}}]
        if loss != "lsgan":
            spec["layout"]["yaxis"]["range"] = [-0.02, 1.02]
    return spec


def grad_norm_spec(log_y: bool = False) -> dict:
    return _spec("Gradient norms", "L2 norm", [_series_spec("grad_norm_d", "D", COLORS["d"]),
                                               _series_spec("grad_norm_g", "G", COLORS["g"])], log_y)


def throughput_spec() -> dict:
    return _spec("Speed", "images / s", [_series_spec("images_per_s", "images/s", COLORS["speed"])], False)


def eval_spec(eval_rows: list[dict], max_panels: int = 8) -> dict | None:
    """One panel per headline evaluation metric (FID, class coverage, ...) over a shared step axis, or None."""
    present = eval_keys(eval_rows)
    keys = [k for k in HEADLINE_EVAL if k in present] or present  # ~20 numbers a row; the rest: CSV, report
    keys = keys[:max_panels]
    if not keys:
        return None
    n = len(keys)
    gap = min(0.08, 0.4 / n)
    layout = _layout("Quality metrics", "", False, height=170 * n + 60)
    layout["showlegend"] = False
    layout["annotations"] = []
    series = []
    panel = (1 - gap * (n - 1)) / n
    for i, key in enumerate(keys):
        top = 1 - i * (panel + gap)
        suffix = "" if i == 0 else str(i + 1)
        layout[f"yaxis{suffix}"] = {"domain": [max(0.0, round(top - panel, 6)), min(1.0, round(top, 6))],
                                    "anchor": f"x{suffix}"}
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "showticklabels": i == n - 1,
                                    "title": {"text": "step" if i == n - 1 else ""}}
        if i:
            layout[f"xaxis{suffix}"]["matches"] = "x"  # one zoom for all panels
        layout["annotations"].append({"text": key.replace("_", " "), "xref": "paper", "yref": "paper", "x": 0.5,
                                      "y": top, "xanchor": "center", "yanchor": "bottom", "showarrow": False})
        s = _series_spec(key, key, PALETTE[i % len(PALETTE)], smooth=False, xaxis=f"x{suffix}",
                         yaxis=f"y{suffix}", connectgaps=True)
        s["line"]["mode"] = "lines+markers"
        s["line"]["line"].pop("width")
        series.append(s)
    return {"layout": layout, "series": series, "log_note": ""}


def chart_columns(spec: dict, rows: list[dict], digits: int = 6) -> tuple[list[int], dict[str, list]]:
    """(steps, {metric: values}) of the rows for a spec's metrics; a value that is missing or not finite is
    None (a gap); values are rounded to `digits` significant digits (what a chart can show)."""
    steps = [r["step"] for r in rows if "step" in r]
    cols = {}
    for s in spec["series"]:
        key, col = s["key"], []
        for r in rows:
            if "step" not in r:
                continue
            v = r.get(key)
            col.append(float(f"{v:.{digits}g}") if isinstance(v, (int, float)) and math.isfinite(v) else None)
        cols[key] = col
    return steps, cols


def spec_traces(spec: dict, steps: list, cols: dict[str, list], smoothing: float) -> tuple[list[dict], dict]:
    """Plotly traces and layout for a spec and its columns (the browser's live charts draw the same)."""
    data, positive = [], True
    for s in spec["series"]:
        values = [float("nan") if v is None else v for v in cols[s["key"]]]
        positive &= all(v > 0 for v in values if math.isfinite(v))
        if s["smooth"] and smoothing > 0:
            data.append({**s["raw"], "x": steps, "y": values})
            data.append({**s["line"], "x": steps, "y": smooth(values, smoothing)})
        else:
            data.append({**s["line"], "x": steps, "y": values})
    layout = dict(spec["layout"])
    if layout.get("yaxis", {}).get("type") == "log" and not positive:  # a log axis would drop values <= 0
        layout["yaxis"] = {**layout["yaxis"], "type": "linear"}
        layout["title"] = {**layout["title"], "text": spec["log_note"]}
    return data, layout


def spec_figure(spec: dict, rows: list[dict], smoothing: float = 0.6) -> go.Figure:
    steps, cols = chart_columns(spec, rows, digits=17)
    data, layout = spec_traces(spec, steps, cols, smoothing)
    return _figure({"data": data, "layout": layout})


def loss_figure(rows: list[dict], smoothing: float = 0.6, log_y: bool = False) -> go.Figure:
    """D loss and G loss against step."""
    return spec_figure(loss_spec(log_y), rows, smoothing)


def d_outputs_figure(rows: list[dict], loss: str = "ns", smoothing: float = 0.6, model: str = "") -> go.Figure:
    """Mean D(x) and D(G(z)) against step (see d_outputs_spec)."""
    return spec_figure(d_outputs_spec(loss, model), rows, smoothing)


def grad_norm_figure(rows: list[dict], smoothing: float = 0.6, log_y: bool = False) -> go.Figure:
    return spec_figure(grad_norm_spec(log_y), rows, smoothing)


def throughput_figure(rows: list[dict], smoothing: float = 0.0) -> go.Figure:
    return spec_figure(throughput_spec(), rows, smoothing)


def eval_figure(eval_rows: list[dict], max_panels: int = 8) -> go.Figure | None:
    """One panel per headline evaluation metric (FID, class coverage, ...) over a shared step axis, or None."""
    spec = eval_spec(eval_rows, max_panels)
    return None if spec is None else spec_figure(spec, eval_rows, 0.0)


def overlay_figure(runs: dict[str, list[dict]], key: str, smoothing: float = 0.6,
                   log_y: bool = False) -> go.Figure:
    """One curve per run for one metric (train or eval key): the classroom "what if" comparison."""
    data, positive = [], True
    for i, (name, rows) in enumerate(runs.items()):
        steps, values = _series(rows, key)
        positive &= all(v > 0 for v in values if math.isfinite(v))
        data.append({"type": "scatter", "x": steps, "y": smooth(values, smoothing), "name": name, "mode": "lines",
                     "line": {"color": PALETTE[i % len(PALETTE)], "width": 2}})
    title = key.replace("_", " ")
    if log_y and not positive:
        log_y, title = False, f"{title} (linear: some values are ≤ 0)"
    return _figure({"data": data, "layout": _layout(title, key, log_y, height=360)})


# ---------------------------------------------------------------- sample grids

def open_grid(path: str | Path, scale: int = 1) -> Image.Image:
    """A sample-grid PNG, enlarged `scale` times with crisp pixels."""
    with Image.open(path) as im:
        img = im.convert("RGB") if im.mode not in ("L", "RGB") else im.copy()
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def captioned(img: Image.Image, text: str) -> Image.Image:
    """img with a dark band underneath holding `text`."""
    band = 16
    out = Image.new(img.mode, (img.width, img.height + band), 0 if img.mode == "L" else (0, 0, 0))
    out.paste(img, (0, 0))
    ImageDraw.Draw(out).text((4, img.height + 2), text, fill=255 if img.mode == "L" else (255, 255, 255))
    return out


def grid_gif(samples: list[tuple[int, Path]], max_frames: int = 60, frame_ms: int = 250,
             scale: int = 2) -> bytes:
    """An animated GIF of the grids (oldest first), each captioned with its step; the last one lingers."""
    if not samples:
        raise ValueError("There are no sample grids yet.")
    if len(samples) > max_frames:  # evenly spaced, always keeping the first and the last
        idx = sorted({round(i * (len(samples) - 1) / (max_frames - 1)) for i in range(max_frames)})
        samples = [samples[i] for i in idx]
    frames = [captioned(open_grid(p, scale), f"step {s}") for s, p in samples]
    size = frames[-1].size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[frame_ms] * (len(frames) - 1) + [1500])
    return buf.getvalue()


def png_data_uri(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


# ---------------------------------------------------------------- report

def run_report_html(run_dir: str | Path, until_step: int | None = None) -> str:
    """One self-contained HTML page for a run (up to `until_step`): status, the reproducing command,
    config, curves (plotly, inlined so it works offline), sample grids, quality metrics, doctor notes."""
    from ganlib.config import TrainConfig, recipe_config
    from ganlib.train import rundir

    run_dir = Path(run_dir)
    config = TrainConfig.load(run_dir / "config.json")
    status = rundir.read_status(run_dir)
    rows = rows_until(rundir.read_metrics(run_dir), until_step)
    train = [r for r in rows if r.get("kind", "train") == "train"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    samples = [s for s in rundir.list_samples(run_dir) if until_step is None or s[0] <= until_step]
    esc = html.escape
    try:
        from ganlib.config import command_for
        command = command_for(config, f"runs/{run_dir.name}-again")
    except ImportError:
        command = "(ganlib.cli is not available)"

    parts = [f"<h1>GAN Studio run: {esc(run_dir.name)}</h1>",
             f"<p><b>State:</b> {esc(str(status.get('state', '?')))} — {esc(str(status.get('message', '')))}<br>"
             f"<b>Step:</b> {status.get('step', 0)} / {status.get('total_steps', '?')} &nbsp; "
             f"<b>Device:</b> {esc(str(status.get('device', '?')))}"
             + (f"<br><b>Report up to step:</b> {until_step}" if until_step is not None else "") + "</p>",
             "<h2>Reproduce</h2>", f"<pre>{esc(command)}</pre>"]
    defaults = recipe_config(model=config.model, dataset=config.dataset)  # what the CLI starts this model from
    cfg_rows = "".join(
        f"<tr{' class=changed' if getattr(config, f.name) != getattr(defaults, f.name) else ''}>"
        f"<td>{f.name}</td><td>{esc(repr(getattr(config, f.name)))}</td></tr>" for f in fields(TrainConfig))
    parts += ["<h2>Config</h2><p>Settings that differ from the model's recipe are in bold.</p>",
              f"<table>{cfg_rows}</table>"]
    findings = diagnose(train, evals, config.loss, config.model)
    if findings:
        parts.append("<h2>Training doctor</h2><ul>" + "".join(
            f"<li><b>{esc(f.title)}</b> {esc(f.detail)} <i>Remedy:</i> {esc(f.remedy)}</li>" for f in findings)
            + "</ul>")
    figs = [loss_figure(train), d_outputs_figure(train, config.loss, model=config.model), grad_norm_figure(train),
            throughput_figure(train), eval_figure(evals)]
    parts.append("<h2>Curves</h2>")
    first = True
    for fig in figs:
        if fig is None:
            continue
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False}))
        first = False
    if evals:
        keys = eval_keys(evals)
        head = "".join(f"<th>{esc(k)}</th>" for k in ["step", *keys])
        body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(k, ''))}</td>" for k in ["step", *keys]) + "</tr>"
                       for r in evals)
        parts.append(f"<h2>Quality metrics</h2><table><tr>{head}</tr>{body}</table>")
    if train:
        last = train[-1]
        parts.append("<h2>Last logged step</h2><table>" + "".join(
            f"<tr><td>{esc(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in last.items() if k != "kind") + "</table>")
    if samples:
        shown = samples if len(samples) <= 12 else [samples[round(i * (len(samples) - 1) / 11)] for i in range(12)]
        parts.append("<h2>Samples from the fixed noise</h2><div class=grids>" + "".join(
            f"<figure><img src='{png_data_uri(p)}' alt='step {s}'><figcaption>step {s}</figcaption></figure>"
            for s, p in shown) + "</div>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "pre{background:#f4f4f4;padding:.8em;white-space:pre-wrap;word-break:break-all}"
             "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;font-size:13px}"
             "tr.changed td{font-weight:bold}.grids{display:flex;flex-wrap:wrap;gap:12px}"
             "figure{margin:0}img{image-rendering:pixelated;width:224px}figcaption{text-align:center}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(run_dir.name)} — GAN Studio"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def fmt_duration(seconds: float | None) -> str:
    """'1h 02m', '3m 05s', '42s', or '—' for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


CYCLEGAN_KEYS = {"g_adv_ab": ("adversarial G: A→B", PALETTE[0]), "g_adv_ba": ("adversarial F: B→A", PALETTE[1]),
                 "cycle_a": ("cycle |F(G(a)) − a|", PALETTE[2]), "cycle_b": ("cycle |G(F(b)) − b|", PALETTE[3]),
                 "identity_a": ("identity |F(a) − a|", PALETTE[4]), "identity_b": ("identity |G(b) − b|", PALETTE[5])}


def cyclegan_spec(log_y: bool = False) -> dict:
    """A CycleGAN run's own curves: adversarial losses per direction, cycle and identity losses (unweighted)."""
    return _spec("CycleGAN losses", "loss", [_series_spec(k, name, color) for k, (name, color) in CYCLEGAN_KEYS.items()],
                 log_y)


def cyclegan_figure(rows: list[dict], smoothing: float = 0.6, log_y: bool = False) -> go.Figure:
    return spec_figure(cyclegan_spec(log_y), rows, smoothing)
