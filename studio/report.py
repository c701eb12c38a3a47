"""What a run can be downloaded as: its metrics as CSV, its sample grids as an animated GIF, and one
self-contained HTML report (curves inlined, so it opens offline).

No Streamlit here: every function returns bytes or a string. ganlib never imports this.
"""
from __future__ import annotations

import base64
import csv
import html
import io
from dataclasses import fields
from pathlib import Path

from PIL import Image, ImageDraw

from ganlib.config import TrainConfig, command_for, recipe_diff
from ganlib.train import rundir
from ganlib.train.doctor import diagnose
from studio.figures import (META_KEYS, d_outputs_figure, eval_figure, eval_keys, grad_norm_figure, loss_figure,
                            rows_until, throughput_figure)


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
    run_dir = Path(run_dir)
    config = TrainConfig.load(run_dir / "config.json")
    status = rundir.read_status(run_dir)
    rows = rows_until(rundir.read_metrics(run_dir), until_step)
    train = [r for r in rows if r.get("kind", "train") == "train"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    samples = [s for s in rundir.list_samples(run_dir) if until_step is None or s[0] <= until_step]
    esc = html.escape
    command = command_for(config, f"runs/{run_dir.name}-again")

    parts = [f"<h1>GAN Studio run: {esc(run_dir.name)}</h1>",
             f"<p><b>State:</b> {esc(str(status.get('state', '?')))} — {esc(str(status.get('message', '')))}<br>"
             f"<b>Step:</b> {status.get('step', 0)} / {status.get('total_steps', '?')} &nbsp; "
             f"<b>Device:</b> {esc(str(status.get('device', '?')))}"
             + (f"<br><b>Report up to step:</b> {until_step}" if until_step is not None else "") + "</p>",
             "<h2>Reproduce</h2>", f"<pre>{esc(command)}</pre>"]
    changed = recipe_diff(config)  # what the Reproduce command above names
    cfg_rows = "".join(
        f"<tr{' class=changed' if f.name in changed else ''}>"
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
