"""studio.figures and studio.report: figures, CSV, GIF and the run report, on synthetic run directories
(no Streamlit)."""
from __future__ import annotations

import io
import math

import plotly.graph_objects as go
import pytest
from PIL import Image

from ganlib.config import TrainConfig
from ganlib.train import rundir
from studio import figures, report


def train_rows(n=20, loss=lambda s: 1.0 + 0.1 * math.sin(s)):
    return [{"kind": "train", "step": s, "epoch": s / 10, "time": s * 0.1, "d_loss": loss(s), "g_loss": 2 * loss(s),
             "d_real": 0.6, "d_fake": 0.4, "grad_norm_d": 1.0 + s, "grad_norm_g": 2.0, "images_per_s": 500.0}
            for s in range(2, 2 * n + 1, 2)]


def make_run(tmp_path, n_grids=5, evals=True):
    run = tmp_path / "demo"
    run.mkdir()
    rundir.atomic_write_bytes(run / "config.json", TrainConfig(model="cgan", lr_d=1e-4).to_json().encode())
    rundir.write_status(run, "finished", "Finished 40 steps.", step=40, total_steps=40, device="cpu")
    for r in train_rows():
        rundir.append_metrics(run, r)
    if evals:
        for s, cov in ((10, 1.0), (20, 0.9), (40, 0.95)):
            rundir.append_metrics(run, {"kind": "eval", "step": s, "class_coverage": cov, "fid": 50.0 - s})
    for i in range(n_grids):
        path = rundir.sample_path(run, i * 10)
        path.parent.mkdir(exist_ok=True)
        Image.new("L", (62, 62), 40 * i).save(path)
    return run


def valid(fig: go.Figure) -> go.Figure:
    """The figures skip plotly's validation for speed; check here that their specs are valid."""
    return go.Figure(fig.to_dict())


def test_every_figure_kind_is_a_valid_plotly_figure():
    rows = train_rows()
    ev = [{"kind": "eval", "step": 10, "fid": 40.0, "class_coverage": 0.9}]
    for fig in (figures.loss_figure(rows, 0.6, True), figures.d_outputs_figure(rows, "ns"),
                figures.d_outputs_figure(rows, "hinge"), figures.grad_norm_figure(rows, 0.5, True),
                figures.throughput_figure(rows), figures.eval_figure(ev),
                figures.overlay_figure({"a": rows, "b": rows}, "g_loss", 0.3, True), figures.loss_figure([])):
        valid(fig)


def test_smooth_is_a_debiased_ema_and_passes_nan():
    assert figures.smooth([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])
    out = figures.smooth([0.0, 10.0, float("nan"), 10.0], 0.5)
    assert out[0] == 0.0 and math.isnan(out[2]) and 0 < out[1] < 10
    assert figures.smooth([1, 2], 0) == [1, 2]


def test_loss_figure_raw_and_smoothed_and_log_scale():
    rows = train_rows()
    fig = figures.loss_figure(rows, smoothing=0.6, log_y=True)
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert names == ["D loss (raw)", "D loss", "G loss (raw)", "G loss"]
    assert list(fig.data[0].x) == [r["step"] for r in rows] and fig.layout.yaxis.type == "log"
    assert [t.name for t in figures.loss_figure(rows, smoothing=0).data] == ["D loss", "G loss"]


def test_log_scale_falls_back_to_linear_for_negative_losses():
    fig = figures.loss_figure(train_rows(loss=lambda s: -1.0 + s / 100), log_y=True)
    assert fig.layout.yaxis.type == "linear" and "linear" in fig.layout.title.text


def test_d_outputs_reference_line_only_for_probabilities():
    rows = train_rows()
    probs = figures.d_outputs_figure(rows, "ns")
    assert any(s.y0 == 0.5 for s in valid(probs).layout.shapes)
    critic = figures.d_outputs_figure(rows, "wgan-gp")
    assert not critic.layout.shapes and "Critic" in critic.layout.title.text


def test_other_figures():
    rows = train_rows()
    assert [t.name for t in figures.grad_norm_figure(rows, 0).data] == ["D", "G"]
    assert list(figures.throughput_figure(rows).data[0].y) == [500.0] * 20
    assert figures.eval_figure([]) is None
    ev = [{"kind": "eval", "step": 10, "fid": 40.0, "class_coverage": 0.9},
          {"kind": "eval", "step": 20, "fid": 30.0}]
    fig = valid(figures.eval_figure(ev))
    assert fig.layout.annotations[1].text == "class coverage"
    assert [t.name for t in fig.data] == ["fid", "class_coverage"] and list(fig.data[0].y) == [40.0, 30.0]


def test_overlay_one_trace_per_run_including_eval_keys():
    runs = {"a": train_rows(), "b": train_rows(5)}
    fig = figures.overlay_figure(runs, "g_loss", smoothing=0)
    assert [t.name for t in fig.data] == ["a", "b"] and len(fig.data[1].x) == 5
    ev = {"a": [{"kind": "eval", "step": 5, "fid": 3.0}], "b": []}
    assert list(figures.overlay_figure(ev, "fid").data[0].y) == pytest.approx([3.0])


def test_rows_until_and_csv():
    rows = train_rows() + [{"kind": "eval", "step": 10, "fid": 1.5}]
    assert [r["step"] for r in figures.rows_until(rows, 6)] == [2, 4, 6]
    text = report.metrics_csv(rows)
    header, *lines = text.strip().splitlines()
    assert header.startswith("kind,step,epoch,time,") and "fid" in header and len(lines) == 21
    assert lines[-1].startswith("eval,10,,,")


def test_gif_has_a_captioned_frame_per_grid(tmp_path):
    run = make_run(tmp_path, n_grids=5)
    data = report.grid_gif(rundir.list_samples(run), scale=2)
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.n_frames == 5 and gif.size == (124, 124 + 16)
    many = report.grid_gif(rundir.list_samples(run), max_frames=3)
    assert Image.open(io.BytesIO(many)).n_frames == 3
    with pytest.raises(ValueError):
        report.grid_gif([])


def test_report_is_self_contained_and_can_stop_at_a_step(tmp_path):
    run = make_run(tmp_path)
    page = report.run_report_html(run)
    assert page.startswith("<!doctype html>") and "python -m ganlib train --model cgan" in page
    assert "--lr-d 0.0001" in page and "<script" in page and "<script src=\"http" not in page
    assert page.count("<img src='data:image/png;base64,") == 5 and "class_coverage" in page
    early = report.run_report_html(run, until_step=15)
    assert early.count("<img src='data:image/png;base64,") == 2 and "Report up to step:</b> 15" in early


def test_fmt_duration():
    assert [figures.fmt_duration(s) for s in (None, 42, 185, 3720)] == ["—", "42s", "3m 05s", "1h 02m"]


def test_eval_figure_of_a_real_evaluation_row_shows_the_headline_metrics():
    # a real evaluation row holds ~20 numbers; the figure must stay valid and show the headline ones
    row = {"kind": "eval", "step": 200, "time": 7.9, "eval_seconds": 5.0, "num_samples": 2000, "num_real": 10000,
           "fid": 3.1, "kid": 0.01, "kid_std": 0.001, "precision": 0.5, "recall": 0.7, "feature_diversity": 7.0,
           "real_feature_diversity": 7.7, "near_duplicate_frac": 0.001, "near_duplicate_threshold": 1.2,
           "class_histogram": [200] * 10, "class_coverage": 10, "coverage_100": 10, "class_kl_uniform": 0.01,
           "mnist_score": 5.0, "mean_confidence": 0.8, "label_accuracy": 0.97, "real_mnist_score": 6.3}
    fig = valid(figures.eval_figure([row, {**row, "step": 400}]))
    assert [t.name for t in fig.data] == ["fid", "precision", "recall", "class_coverage", "coverage_100",
                                          "label_accuracy", "class_kl_uniform", "near_duplicate_frac"]
    domains = [fig.layout[f"yaxis{i if i > 1 else ''}"].domain for i in range(1, 9)]
    assert all(0 <= lo < hi <= 1 for lo, hi in domains)


def test_chart_spec_columns_gaps_and_rounding():
    rows = train_rows(4)
    rows[1] = {**rows[1], "d_loss": float("nan")}
    del rows[2]["g_loss"]
    steps, cols = figures.chart_columns(figures.loss_spec(), rows)
    assert steps == [r["step"] for r in rows] and set(cols) == {"d_loss", "g_loss"}
    assert cols["d_loss"][1] is None and cols["g_loss"][2] is None  # a gap, never NaN (not valid JSON)
    assert cols["g_loss"][0] == float(f"{rows[0]['g_loss']:.6g}")
    import json
    json.loads(json.dumps({"x": steps, "y": cols}, allow_nan=False))


def test_spec_traces_are_the_figures_the_report_draws():
    rows = train_rows()
    spec = figures.loss_spec(log_y=True)
    steps, cols = figures.chart_columns(spec, rows, digits=17)
    data, layout = figures.spec_traces(spec, steps, cols, 0.6)
    fig = figures.loss_figure(rows, 0.6, True)
    assert [t["name"] for t in data] == [t.name for t in fig.data]
    assert list(fig.data[1].y) == pytest.approx(figures.smooth([r["d_loss"] for r in rows], 0.6))
    assert layout["yaxis"]["type"] == "log"
    neg = figures.spec_traces(spec, [1, 2], {"d_loss": [-1.0, 1.0], "g_loss": [1.0, 2.0]}, 0.0)[1]
    assert neg["yaxis"]["type"] == "linear" and neg["title"]["text"] == spec["log_note"]
    ev = figures.eval_spec([{"kind": "eval", "step": 10, "fid": 40.0},
                            {"kind": "eval", "step": 20, "class_coverage": 9}])
    assert [s["key"] for s in ev["series"]] == ["fid", "class_coverage"] and not ev["series"][0]["smooth"]


def test_history_figure_puts_step_on_a_log_axis_when_a_run_stops_early():
    def rows(steps):
        return [{"step": s, "top3_share": 1.0, "mean_confidence": 0.9} for s in steps]

    short = {"collapsed": rows(range(20, 200, 20)), "cured": rows(range(100, 5100, 100))}
    fig = figures.history_figure(short, step=180)
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[0].x0 == 180
    same = {"collapsed": rows(range(250, 3250, 250)), "cured": rows(range(250, 3250, 250))}
    assert figures.history_figure(same).layout.xaxis.type in (None, "-", "linear")
