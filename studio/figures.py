"""The app's figures: Plotly training curves (the live charts' specs and the report's figures), the
monitor's status strip, and the Mode-collapse lab's arena pictures.

No Streamlit here: every function returns a plotly Figure, a spec dict or strings, so tests can check
them without a browser. Titles and labels are in the session's language (studio.i18n; English outside a
page). Rows are metrics.jsonl dicts (see ganlib.train.rundir). ganlib never imports this.
"""
from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from ganlib.train import jobs
from ganlib.train.doctor import d_output_names
from ganlib.train.rundir import HEADLINE_EVAL
from studio.i18n import N_, _

if TYPE_CHECKING:  # the live API imports this module, and the arena would bring torch into the web server
    from ganlib.arena import Arena

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
            "xaxis": {"title": {"text": _("step")}},
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
            "raw": {"type": "scatter", "name": _("{name} (raw)").format(name=name), "mode": "lines", "showlegend": False,
                    "line": {"color": color, "width": 1}, "opacity": 0.25, "hoverinfo": "skip", "legendgroup": name},
            "line": {"type": "scatter", "name": name, "mode": "lines", "line": {"color": color, "width": 2},
                     "legendgroup": name, **line}}


def _spec(title: str, y_title: str, series: list[dict], log_y: bool, height: int = 300) -> dict:
    # log_note: the title when log_y meets a value <= 0 (a log axis would silently drop it)
    return {"layout": _layout(title, y_title, log_y, height), "series": series,
            "log_note": _("{title} (linear: some values are ≤ 0)").format(title=title)}


def loss_spec(log_y: bool = False) -> dict:
    """D loss and G loss against step."""
    return _spec(_("Losses"), _("loss"), [_series_spec("d_loss", _("D loss"), COLORS["d"]),
                                          _series_spec("g_loss", _("G loss"), COLORS["g"])], log_y)


def d_outputs_spec(loss: str = "ns", model: str = "") -> dict:
    """Mean D(x) and D(G(z)): probabilities drifting toward 0.5 in a healthy game (raw critic values for
    wgan-gp and hinge, where there is no 0.5 to aim for). A CycleGAN's are D(real) and D(translated)."""
    probs = loss in ("ns", "bce", "lsgan")
    real, fake = d_output_names(model)
    spec = _spec(_("{real} and {fake}").format(real=real, fake=fake) if probs else _("Critic outputs on real and fake"),
                 _("mean D output") if probs else _("mean critic value"),
                 [_series_spec("d_real", real, COLORS["real"]), _series_spec("d_fake", fake, COLORS["fake"])],
                 False)
    if probs:
        spec["layout"]["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": 0.5,
                                     "y1": 0.5, "line": {"color": "grey", "dash": "dot", "width": 1}}]
        spec["layout"]["annotations"] = [{"text": _("0.5: D cannot tell"), "xref": "paper", "x": 1, "yref": "y",
                                          "y": 0.5, "xanchor": "right", "yanchor": "top", "showarrow": False,
                                          "font": {"size": 11, "color": "grey"}}]
        if loss != "lsgan":
            spec["layout"]["yaxis"]["range"] = [-0.02, 1.02]
    return spec


def grad_norm_spec(log_y: bool = False) -> dict:
    return _spec(_("Gradient norms"), _("L2 norm"), [_series_spec("grad_norm_d", "D", COLORS["d"]),
                                               _series_spec("grad_norm_g", "G", COLORS["g"])], log_y)


def throughput_spec() -> dict:
    return _spec(_("Speed"), _("images / s"), [_series_spec("images_per_s", _("images/s"), COLORS["speed"])], False)


def eval_spec(eval_rows: list[dict], max_panels: int = 8) -> dict | None:
    """One panel per headline evaluation metric (FID, class coverage, ...) over a shared step axis, or None."""
    present = eval_keys(eval_rows)
    keys = [k for k in HEADLINE_EVAL if k in present] or present  # ~20 numbers a row; the rest: CSV, report
    keys = keys[:max_panels]
    if not keys:
        return None
    n = len(keys)
    gap = min(0.08, 0.4 / n)
    layout = _layout(_("Quality metrics"), "", False, height=170 * n + 60)
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
                                    "title": {"text": _("step") if i == n - 1 else ""}}
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
        log_y, title = False, _("{title} (linear: some values are ≤ 0)").format(title=title)
    return _figure({"data": data, "layout": _layout(title, key, log_y, height=360)})


CYCLEGAN_KEYS = {"g_adv_ab": (N_("adversarial G: A→B"), PALETTE[0]),
                 "g_adv_ba": (N_("adversarial F: B→A"), PALETTE[1]),
                 "cycle_a": (N_("cycle |F(G(a)) − a|"), PALETTE[2]),
                 "cycle_b": (N_("cycle |G(F(b)) − b|"), PALETTE[3]),
                 "identity_a": (N_("identity |F(a) − a|"), PALETTE[4]),
                 "identity_b": (N_("identity |G(b) − b|"), PALETTE[5])}  # names translated where drawn


def cyclegan_spec(log_y: bool = False) -> dict:
    """A CycleGAN run's own curves: adversarial losses per direction, cycle and identity losses (unweighted)."""
    return _spec(_("CycleGAN losses"), _("loss"),
                 [_series_spec(k, _(name), color) for k, (name, color) in CYCLEGAN_KEYS.items()], log_y)


# ---------------------------------------------------------------- the monitor's status strip

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


def status_figures(status: dict, last_row: dict | None) -> dict:
    """The monitor's status strip, from status.json and the newest train row: labelled cells (text ready to
    show, HTML-escaped), the fraction done while the run is active (else None), the state and its message.
    The page and the live API (studio.api) both send this, so the strip reads the same either way."""
    state = status.get("state", "queued")
    active = state in jobs.ACTIVE_STATES
    prog = jobs.progress(status, [last_row] if last_row else [])
    ips = last_row.get("images_per_s") if last_row else None
    cells = [(_("Step (of {total})").format(total=prog["total"]) if prog["total"] else _("Step"), str(prog["step"])),
             (_("Epoch"), f"{float(prog['epoch'] or 0):.2f}"),
             (_("Elapsed"), fmt_duration(prog["elapsed"])),
             (_("ETA"), fmt_duration(prog["eta"]) if active else "—"),
             (_("Images/s"), f"{ips:.0f}" if isinstance(ips, (int, float)) and math.isfinite(ips) else "—"),
             (_("Device"), str(status.get("device", "—")))]
    if (status.get("world_size") or 1) > 1:  # torchrun: how many processes, and each one's speed
        speeds = status.get("rank_images_per_s") or []
        cells += [(_("Processes"), str(status["world_size"])),
                  (_("Images/s per rank"), " · ".join(f"{v:.0f}" for v in speeds) or "—")]
    return {"state": state, "cells": [[html.escape(a), html.escape(b)] for a, b in cells],
            "progress": prog["fraction"] if active and prog["total"] else None,
            "message": html.escape(status.get("message", "") or "") if state != "failed" else ""}


# ---------------------------------------------------------------- the Mode-collapse lab's arena

def arena_figure(arena: Arena, n_points: int = 500, arrows: bool = False, surface: bool = True, title: str = "",
                 previous=None, height: int = 380) -> go.Figure:
    """Real points, G's points and D's surface as a heat map (GAN Lab's picture), optionally G's gradient
    arrows and, from `previous` points (n, 2), how far each sample moved."""
    r = arena.extent()
    data = []
    if surface:
        axis, values = arena.d_surface()
        prob = arena.config.loss in ("ns", "bce")
        data.append(go.Heatmap(x=axis.tolist(), y=axis.tolist(), z=values.tolist(), colorscale="RdBu",
                               zmin=0 if prob else None, zmax=1 if prob else None, zmid=None if prob else 0,
                               opacity=0.55, showscale=False, hoverinfo="skip", name="D", zsmooth="best"))
    real = arena.real_points(n_points)
    fake = arena.points(n_points) if previous is None else previous
    data.append(go.Scatter(x=real[:, 0].tolist(), y=real[:, 1].tolist(), mode="markers", name=_("real"),
                           marker={"size": 4, "color": "#2ca02c"}))
    data.append(go.Scatter(x=fake[:, 0].tolist(), y=fake[:, 1].tolist(), mode="markers", name="G(z)",
                           marker={"size": 4, "color": "#7b2cbf"}))
    if arrows:
        x, d = arena.g_gradients()
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12) * (0.08 * r)  # directions only
        xs, ys = [], []
        for (a, b), (u, v) in zip(x.tolist(), d.tolist()):
            xs += [a, a + u, None]
            ys += [b, b + v, None]
        data.append(go.Scatter(x=xs, y=ys, mode="lines", name=_("G's gradient"), hoverinfo="skip",
                               line={"color": "#222", "width": 1}))
    layout = {"height": height, "margin": {"l": 10, "r": 10, "t": 30 if title else 10, "b": 10},
              "xaxis": {"range": [-r, r], "visible": False},
              "yaxis": {"range": [-r, r], "visible": False, "scaleanchor": "x"},
              "legend": {"orientation": "h", "y": -0.02}, "uirevision": "arena",
              "plot_bgcolor": "white"}
    if title:
        layout["title"] = {"text": title, "x": 0, "font": {"size": 14}}
    return _figure({"data": data, "layout": layout})


def coverage_figure(arena: Arena) -> go.Figure:
    """An arena's modes covered and % high-quality samples against step."""
    steps = [r["step"] for r in arena.eval_rows]
    modes = [r["modes_covered"] for r in arena.eval_rows]
    hq = [100 * r["high_quality_frac"] for r in arena.eval_rows]
    m = len(arena.modes)
    data = [go.Scatter(x=steps, y=modes, name=_("modes covered (of {total})").format(total=m),
                       line={"color": "#1f77b4"}),
            go.Scatter(x=steps, y=hq, name=_("% high quality"), yaxis="y2", line={"color": "#ff7f0e"})]
    layout = {"height": 200, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
              "xaxis": {"title": {"text": _("step")}},
              "yaxis": {"range": [0, m + 0.5], "title": {"text": _("modes")}},
              "yaxis2": {"range": [0, 101], "dtick": 25, "overlaying": "y", "side": "right",
                         "title": {"text": _("% HQ")}},
              "legend": {"orientation": "h", "y": 1.15}}
    return _figure({"data": data, "layout": layout})


# ---------------------------------------------------------------- the diversity test

def histogram_figure(hist: list[int], x_title: str = "digit the classifier reads", y_title: str = "samples",
                     even: str = "even") -> go.Figure:
    """How many of the diversity test's samples the classifier reads as each digit, with the even share dotted."""
    return go.Figure({"data": [{"type": "bar", "x": [str(d) for d in range(10)], "y": hist,
                                "marker": {"color": "#1f77b4"}}],
                      "layout": {"height": 200, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                                 "xaxis": {"title": {"text": x_title}},
                                 "yaxis": {"title": {"text": y_title}},
                                 "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": sum(hist) / 10,
                                             "y1": sum(hist) / 10, "line": {"dash": "dot", "color": "#d62728"}}],
                                 "annotations": [{"xref": "paper", "x": 1, "y": sum(hist) / 10, "text": even,
                                                  "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                                                  "font": {"color": "#d62728", "size": 11}}]}}, _validate=False)


def history_figure(histories: dict[str, list[dict]], step: int | None = None) -> go.Figure:
    """Recorded training histories (ganlib.pretrained.history rows), one colour per model: the three
    commonest digits' share of the samples (solid; 0.3 when all ten are even, 1.0 at three digits or fewer)
    and the classifier's mean confidence (dotted), against step, with the chosen step marked. Where the
    recorded steps span more than a factor of 20 (a collapse stopped at step 180 beside a cure trained to
    5,000), step is on a log axis, so the short run's steps are not squeezed into the first few pixels."""
    every = [r["step"] for rows in histories.values() for r in rows]
    log_steps = bool(every) and min(every) > 0 and max(every) > 20 * min(every)
    data = []
    for i, (name, rows) in enumerate(histories.items()):
        color, steps = PALETTE[i % len(PALETTE)], [r["step"] for r in rows]
        data.append({"type": "scatter", "x": steps, "y": [r["top3_share"] for r in rows], "mode": "lines+markers",
                     "name": _("{model}: top-3 share").format(model=name), "line": {"color": color, "width": 2}})
        data.append({"type": "scatter", "x": steps, "y": [r["mean_confidence"] for r in rows], "mode": "lines",
                     "name": _("{model}: confidence").format(model=name),
                     "line": {"color": color, "width": 1, "dash": "dot"}})
    shapes = [] if step is None else [{"type": "line", "yref": "paper", "x0": step, "x1": step, "y0": 0, "y1": 1,
                                       "line": {"color": "#7f7f7f", "dash": "dash"}}]
    layout = {"height": 260, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "hovermode": "x unified",
              "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
              "xaxis": {"title": {"text": _("step")}, **({"type": "log"} if log_steps else {})},
              "yaxis": {"range": [0, 1.05], "title": {"text": _("share of samples")}}, "shapes": shapes}
    return _figure({"data": data, "layout": layout})
