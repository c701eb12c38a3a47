"""A live Plotly chart that grows in the browser: each rerun sends only the rows that are new since the
last one, and the browser appends them (Plotly.extendTraces) instead of redrawing a whole figure.

    live_chart("loss", figures.loss_spec(log_y), rows, smoothing, base="run-a:...")

The spec (studio.figures: layout and one trace template per metric) is what figures.spec_figure draws for
the report, so the two cannot drift. Smoothing and the log-scale fallback are applied in the browser
over the raw values it keeps, so moving the smoothing slider sends no data at all. A chart that is
scrolled out of view (or in a background tab) keeps the rows but is not redrawn until it shows again:
a Plotly redraw costs ~20-50 ms of CPU, which a CPU-only machine takes from training. Past two points
per pixel column a chart draws the min and max of each column's points (the same picture), so a run
with 20,000 logged steps redraws as fast as one with 1,000. Plotly itself is
plotly.min.js from the installed plotly package, served by this Streamlit server (never a CDN) and
loaded once per browser tab. Built on Streamlit's components v2 (no iframe).

The browser side is plain JavaScript and CSS in studio/web/: poller.js (one poller per run URL for the
whole tab, shared by the charts, the status strip and the grid) goes in front of each component's module.
"""
from __future__ import annotations

import functools
from pathlib import Path

import plotly
import streamlit as st
import streamlit.components.v1 as components_v1

from studio import figures
from studio.i18n import LANGUAGES, language

SENT = "_live_chart_sent"  # session state: {chart key: (base, rows the browser holds)}
WEB = Path(__file__).parent / "web"

# Registering plotly's package_data folder as a (never mounted) v1 component makes the server serve its
# files at /component/<name>/...: the same origin, offline, with a JavaScript content type.
_PLOTLY_FILES = components_v1.declare_component("plotly_js", path=str(Path(plotly.__file__).parent / "package_data"))


def _web(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


def _module(name: str) -> str:
    """A component's JavaScript module: the shared poller, then the component's own code."""
    return _web("poller.js") + "\n" + _web(name)


_component = st.components.v2.component("gan_studio.live_chart", js=_module("live_chart.js"), isolate_styles=False)


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
    steps, cols = figures.chart_columns(spec, rows[start:])
    payload = {"plotly": plotly_url(), "key": key, "base": base, "start": start, "x": steps, "y": cols,
               "layout": spec["layout"], "series": spec["series"], "log_note": spec["log_note"],
               "smoothing": smoothing, "poll": poll}
    _component(key=key, data=payload, on_resync_change=functools.partial(_forget, key))
    sent[key] = (base, len(rows))


def poll_spec(run_name: str, every_s: float, kind: str, base: str, held_train: int, held_eval: int) -> dict:
    """How a component follows a run: the live API's URL (studio.api), how often, which rows (train or
    eval) it draws, the stream it belongs to, and how many rows of each kind the page already sent. The URL
    asks for the session's language (the status strip's labels), when it is not English."""
    lang = language()
    return {"url": f"/api/runs/{run_name}/live" + (f"?lang={lang}" if lang != LANGUAGES[0] else ""), "every_ms": int(every_s * 1000), "kind": kind, "base": base,
            "held": {"train": held_train, "eval": held_eval}}


_status = st.components.v2.component("gan_studio.live_status", js=_module("live_status.js"),
                                     css=_web("live_status.css"), isolate_styles=False)
_grid = st.components.v2.component("gan_studio.live_grid", js=_module("live_grid.js"), css=_web("live_grid.css"),
                                   isolate_styles=False)


def live_status(key: str, cells: dict, poll: dict | None = None, on_state_change=None) -> None:
    """The run's figures strip (step, epoch, elapsed, ETA, images/s, device), its progress bar and status
    message (cells: studio.figures.status_figures); with poll it follows the run by itself, and tells the page
    (on_state_change) when the run's state changes."""
    _status(key=key, data={"figures": cells, "poll": poll}, on_state_change=on_state_change or (lambda: None))


def live_grid(key: str, run_name: str, grid: dict | None, caption: str, poll: dict | None = None) -> None:
    """A run's latest sample grid (grid: {"step", "version"}, None before the first), served by the live API; with poll the newest
    grid replaces it as soon as it is written. caption: "{step}" is replaced by the grid's step."""
    _grid(key=key, data={"run": run_name, "grid": grid, "caption": caption, "poll": poll})
