"""Train & monitor: launch GAN / DCGAN / CGAN runs, watch them live, compare and replay them.

The page only reads run directories (ganlib.train.rundir) and asks ganlib.train.jobs to act,
so a refresh, a second tab or a server restart loses nothing.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ganlib.config import TrainConfig, changed_from_recipe, flag_text
from ganlib.train import jobs, rundir
from ganlib.train.doctor import diagnose, doctor_fix
from studio import figures, report
from studio.api import chart_base
from studio.live_chart import live_chart, live_grid, live_status, poll_spec
from studio.i18n import N_, _
from studio.train_form import model_card, new_run_form, shown

ROOT = jobs.runs_root()
STATE_NAMES = {"queued": N_("queued"), "running": N_("running"), "paused": N_("paused"), "stopped": N_("stopped"),
               "finished": N_("finished"), "failed": N_("failed")}  # a run's state as the badge shows it
STATE_COLORS = {"queued": "gray", "running": "green", "paused": "orange", "stopped": "blue",
                "finished": "violet", "failed": "red"}


def controls(run_dir: Path, st_: dict, config: TrainConfig | None, until: int | None) -> None:
    state = st_.get("state")
    row = st.container(horizontal=True, key="controls")
    if state == "running" and row.button(_("Pause"), key="pause", icon=":material/pause:"):
        jobs.pause(run_dir)
    if state == "paused" and row.button(_("Continue"), key="continue", icon=":material/play_arrow:"):
        jobs.proceed(run_dir)
    if state in jobs.ACTIVE_STATES and row.button(_("Stop"), key="stop", icon=":material/stop:"):
        with st.spinner(_("Stopping: saving a checkpoint…")):
            jobs.stop(run_dir, timeout=15)
        st.rerun(scope="app")
    if state in ("stopped", "failed") and config is not None:
        if row.button(_("Resume"), key="resume", icon=":material/replay:", type="primary"):
            try:
                jobs.resume(run_dir)
                st.rerun(scope="app")
            except ValueError as e:
                st.error(str(e))
    if state not in jobs.ACTIVE_STATES:
        with row.popover(_("Delete"), icon=":material/delete:"):
            st.write(_("Delete **{run}** and everything in it (checkpoint, samples, metrics)?").format(run=run_dir.name))
            if st.button(_("Yes, delete it"), type="primary", key="confirm_delete"):
                jobs.delete(run_dir, ROOT)
                st.session_state.pop("run", None)
                st.rerun(scope="app")
    ckpt = run_dir / "checkpoint.pt"
    row.download_button(_("Checkpoint"), data=lambda: ckpt.read_bytes(), file_name=f"{run_dir.name}.pt",
                        mime="application/octet-stream", disabled=not ckpt.exists(), on_click="ignore",
                        icon=":material/download:", key="dl_ckpt")
    row.download_button(_("Metrics CSV"), data=lambda: report.metrics_csv(rundir.read_metrics(run_dir)),
                        file_name=f"{run_dir.name}-metrics.csv", mime="text/csv", on_click="ignore",
                        icon=":material/download:", key="dl_csv")
    row.download_button(_("Samples GIF"), data=lambda: report.grid_gif(rundir.list_samples(run_dir)),
                        file_name=f"{run_dir.name}.gif", mime="image/gif", on_click="ignore",
                        disabled=not rundir.list_samples(run_dir), icon=":material/download:", key="dl_gif")
    row.download_button(_("Report"), data=lambda: report.run_report_html(run_dir, until),
                        file_name=f"{run_dir.name}-report.html", mime="text/html", on_click="ignore",
                        disabled=config is None, icon=":material/download:", key="dl_report",
                        help=_("One HTML file: config, curves, grids, metrics and the command that reproduces the run"))


# While a run trains, the browser follows it by itself: the charts, the status strip and the sample grid
# poll the run's live API (studio/api.py) every few seconds (the user's pick, REFRESH_S) and draw only what
# is new, with no Streamlit rerun. The page itself (a fragment: the doctor, and the run's state) re-runs
# only every DOCTOR_S, or at once when the strip sees the run change state. Before, every refresh re-ran
# the fragment and the browser re-rendered it: 7% of a 2-core machine's training speed at a 2 s refresh
# (benchmarks/monitor_overhead.py measures what watching costs training).
REFRESH_S = {"1 s": 1.0, "2 s": 2.0, "5 s": 5.0, "10 s": 10.0}  # labels that read the same in both languages
DEFAULT_REFRESH = "2 s"
PAUSED_POLL_S = 5.0
DOCTOR_S = 15.0
HEADER_FIELDS = ("model", "dataset", "loss", "batch_size", "lr_g", "lr_d")  # what the run header's caption names
RUNS_TABLE_S = 10.0  # each re-run of the runs table costs the browser a table redraw


def monitor(run_dir: Path, refresh: float) -> None:
    """Everything about one run: header, controls and view settings here; the parts that change while it
    trains in live_view, a fragment that re-reads the run's files every `refresh` seconds."""
    if not run_dir.is_dir():
        st.warning(_("{run} no longer exists.").format(run=run_dir.name))
        return
    st_ = jobs.status(run_dir)
    state = st_.get("state", "queued")
    st.session_state.setdefault("shown_state", {})[run_dir.name] = state
    active = state in jobs.ACTIVE_STATES
    config = jobs.load_config(run_dir)

    with st.container(key="run_status"):
        st.markdown(f"### {run_dir.name} &nbsp; :{STATE_COLORS.get(state, 'gray')}-badge"
                    f"[{_(STATE_NAMES[state]) if state in STATE_NAMES else state}]")
        if config:
            st.caption(_("{model} on {dataset}, {loss} loss, batch {batch}, lr G {lr_g:g} / D {lr_d:g}").format(
                model=shown(config.model), dataset=config.dataset, loss=shown(config.loss), batch=config.batch_size,
                lr_g=config.lr_g, lr_d=config.lr_d))
            changed = {k: v for k, v in changed_from_recipe(config).items() if k not in HEADER_FIELDS}
            if changed:
                st.caption(_("Changed from the recipe: {flags}").format(
                    flags=" ".join(f"`{flag_text(k, v)}`" for k, v in changed.items())))
        controls_box = st.container()

    # which step to show: live, or a step picked to replay the run (curves and grids up to it)
    view = st.columns([1, 2, 1], vertical_alignment="center")
    live = active and view[0].toggle(_("Follow live"), value=True, key=f"live_{run_dir.name}")
    if not active:
        view[0].caption(_("Replay: pick a step below to see the curves and samples up to it."))
    smoothing = view[1].slider(_("Smoothing"), 0.0, 0.99, 0.6, 0.01, key="smoothing")
    log_y = view[2].toggle(_("Log scale"), key="log_y")
    until = None
    if not live:
        logged = [r["step"] for r in rundir.read_metrics(run_dir, "train")]
        marks = sorted({s for s, __ in rundir.list_samples(run_dir)} | set(logged[:: max(1, len(logged) // 300)]))
        if len(marks) > 1:
            until = st.select_slider(_("Show the run up to step (curves and samples)"), options=marks,
                                     value=marks[-1], key=f"until_{run_dir.name}")
    with controls_box:
        controls(run_dir, st_, config, until)
    if config:
        with st.expander(_("Networks (layer by layer)"), icon=":material/schema:"):
            model_card(config.to_json(), "run")
    # the browser follows a live run through the live API; the fragment re-runs for the doctor (and when the
    # status strip sees the state change); a paused run is checked now and then for a resume from elsewhere
    every = max(refresh, PAUSED_POLL_S) if state == "paused" else DOCTOR_S if active else None
    follow = refresh if live else None
    st.fragment(live_view, run_every=every)(run_dir, config, until, smoothing, log_y, follow)


def live_view(run_dir: Path, config: TrainConfig | None, until: int | None, smoothing: float, log_y: bool,
              follow: float | None) -> None:
    """The parts of the monitor that change while a run trains (a fragment). follow: while a run is
    followed live, how often (s) the browser polls the live API for new rows, figures and grids."""
    if not run_dir.is_dir():
        st.rerun(scope="app")
    st_ = jobs.status(run_dir)
    if st.session_state.get("shown_state", {}).get(run_dir.name) != st_.get("state", "queued"):
        st.rerun(scope="app")  # new buttons, polling on or off, the runs table; rare, so a full rerun
    rows = rundir.read_metrics(run_dir)
    if skipped := rundir.skipped_rows(run_dir):
        st.caption(_("{count} damaged or badly typed line(s) of metrics.jsonl were skipped; the charts show the "
                     "rest.").format(count=skipped))
    train_all = [r for r in rows if r.get("kind", "train") == "train"]
    train = figures.rows_until(train_all, until)
    evals = figures.rows_until([r for r in rows if r.get("kind") == "eval"], until)
    base = chart_base(run_dir, until)  # followed live, until is None: the live API's own stream name
    held = (sum("step" in r for r in train), sum("step" in r for r in evals)) if follow is not None else None

    def poll(kind: str) -> dict | None:
        return None if held is None else poll_spec(run_dir.name, follow, kind, base, *held)

    status_figures(run_dir, st_, train_all[-1] if train_all else None, poll("status"))
    curves(run_dir, config, until, smoothing, log_y, train, evals, base, poll)


def status_figures(run_dir: Path, st_: dict, last_row: dict | None, poll: dict | None) -> None:
    """Step, epoch, times, speed, device, progress and the status message, from status.json and the newest
    train row (live_status: the browser keeps them current between reruns while the run is followed)."""
    state = st_.get("state", "queued")
    with st.container(key="run_figures"):
        live_status("run_status_strip", figures.status_figures(st_, last_row), poll)
    if state == "failed" and st_.get("message"):
        st.error(st_["message"])
    if state == "failed":
        log = jobs.tail_log(run_dir, 25)  # the app's own runs log their command line first: never empty
        if log:
            st.code(log, language=None)
        else:
            st.caption(_("No log here: this run was started outside the app, so its output went to the terminal "
                         "that started it."))


def curves(run_dir: Path, config: TrainConfig | None, until: int | None, smoothing: float, log_y: bool,
           train: list[dict], evals: list[dict], base: str, poll) -> None:
    """The doctor, the latest sample grid and the curves, up to step `until` (None: everything).
    poll(kind) -> how a component follows the run live (live_chart.poll_spec), or None."""
    samples = [s for s in rundir.list_samples(run_dir) if until is None or s[0] <= until]
    loss = config.loss if config else "ns"
    model = config.model if config else ""

    # the doctor reads the curves again only when the metrics file changed
    mfile = run_dir / "metrics.jsonl"
    mstat = mfile.stat() if mfile.exists() else None
    version = (run_dir.name, mstat and (mstat.st_ino, mstat.st_size, mstat.st_mtime_ns), until)
    cached = st.session_state.get("monitor_findings")
    if cached is None or cached[0] != version:
        cached = (version, diagnose(train, evals, loss, model))
        st.session_state["monitor_findings"] = cached
    doctor(run_dir, config, cached[1])

    left, right = st.columns([2, 3])
    with left, st.container(key="sample_grid"):
        grid_poll = poll("grid")
        if samples or grid_poll:
            latest = {"step": samples[-1][0], "version": samples[-1][1].stat().st_mtime_ns} if samples else None
            what = (_("Fixed inputs: A → G(A) → F(G(A)) and B → F(B) → G(F(B))")
                    if config and config.model == "cyclegan" else _("Fixed noise"))
            # "{step}" stays for the component, which fills in the grid's step
            caption = (_("{what} at step {step} (latest)") if until is None else _("{what} at step {step}"))
            live_grid("grid", run_dir.name, latest, caption.replace("{what}", what), grid_poll)
        else:
            st.info(_("The first sample grid appears once the model is built."))
    # the rows a browser holds belong to one version of the metrics file (a resume may rewrite it): base
    with right, st.container(key="loss_chart"):
        live_chart("loss", figures.loss_spec(log_y), train, smoothing, base, poll("train"))
        if train and "cycle_a" in train[-1]:  # a CycleGAN run: per-direction, cycle and identity losses
            live_chart("cyclegan", figures.cyclegan_spec(log_y), train, smoothing, base, poll("train"))
    a, b = st.columns(2)
    with a, st.container(key="d_chart"):
        live_chart("d", figures.d_outputs_spec(loss, model), train, smoothing, base, poll("train"))
    with b:
        # only the open tab is drawn
        tabs = st.tabs([_("Gradient norms"), _("Speed"), _("Quality metrics")], key="more_curves", on_change="rerun")
        if tabs[0].open:
            with tabs[0], st.container(key="grad_chart"):
                live_chart("grad", figures.grad_norm_spec(log_y), train, smoothing, base, poll("train"))
        if tabs[1].open:
            with tabs[1], st.container(key="speed_chart"):
                live_chart("speed", figures.throughput_spec(), train, smoothing, base, poll("train"))
        if tabs[2].open:
            with tabs[2], st.container(key="eval_chart"):
                spec = figures.eval_spec(evals)
                if spec is not None:
                    keys = ",".join(s["key"] for s in spec["series"])
                    live_chart("eval", spec, evals, 0.0, f"{base}:{keys}", poll("eval"))
                elif rundir.read_status(run_dir).get("metrics_note"):  # not digits: say what is reported instead
                    st.caption(rundir.read_status(run_dir)["metrics_note"])
                else:
                    st.caption(_("Quality metrics (FID, class coverage) are plotted here when the run evaluates "
                                 "(set *Evaluate every* under More settings)."))


def doctor(run_dir: Path, config: TrainConfig | None, findings: list) -> None:
    """The doctor's findings, each with its remedy and, where there is one, a button that starts a new run
    with the remedy applied (same settings otherwise)."""
    blocker = jobs.start_blocker(ROOT)
    remedy = _("Remedy:")
    with st.container(key="doctor"):
        for f in findings:
            show = {"error": st.error, "warning": st.warning, "info": st.success}[f.level]
            show(f"**{f.text('title', _)}** {f.text('detail', _)}  \n**{remedy}** {f.text('remedy', _)}",
                 icon={"error": ":material/error:", "warning": ":material/warning:",
                       "info": ":material/check_circle:"}[f.level])
            fix = doctor_fix(f, config)
            if fix is None:
                continue
            fixed, what = fix
            if st.button(_("Start a new run with this fix"), key=f"fix_{f.fix}", icon=":material/healing:",
                         disabled=bool(blocker),
                         help=blocker or _("A copy of this run's settings with {change}.").format(change=what)):
                try:
                    new_dir = jobs.start(fixed, f"{run_dir.name}-fix")
                except ValueError as e:
                    st.error(str(e))
                    continue
                st.session_state["select_run"] = new_dir.name
                st.rerun(scope="app")


# ---------------------------------------------------------------- runs table

def runs_table() -> None:
    table = jobs.list_jobs(ROOT)
    signature = tuple((r["name"], r["state"]) for r in table)
    if st.session_state.get("runs_signature", signature) != signature:
        st.session_state["runs_signature"] = signature
        st.rerun(scope="app")  # a run appeared (e.g. from the CLI), vanished or changed state
    st.session_state["runs_signature"] = signature
    if not table:
        return
    st.subheader(_("All runs"))
    df = pd.DataFrame(table)
    df["started"] = pd.to_datetime(df["started"], unit="s", utc=True).dt.tz_convert(None).dt.floor("s")
    event = st.dataframe(df, hide_index=True, key="runs_table", on_select="rerun", selection_mode="multi-row",
                         column_config={"d_loss": st.column_config.NumberColumn(format="%.3f"),
                                    "g_loss": st.column_config.NumberColumn(format="%.3f")})
    picked = [table[i]["name"] for i in event.selection.rows]
    if len(picked) == 1 and st.button(_("Monitor {run}").format(run=picked[0]), key="open_run"):
        st.session_state["select_run"] = picked[0]
        st.rerun(scope="app")
    if len(picked) < 2:
        st.caption(_("Select two or more runs to overlay their curves (same seed, one setting changed)."))
        return
    runs = {n: rundir.read_metrics(ROOT / n) for n in picked}
    keys = ["d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "images_per_s"]
    keys += [k for k in figures.eval_keys([r for rows in runs.values() for r in rows if r.get("kind") == "eval"])
             if k not in keys]
    c = st.columns([2, 1, 1])
    key = c[0].selectbox(_("Curve"), keys, key="overlay_key")
    smoothing = c[1].slider(_("Smoothing"), 0.0, 0.99, 0.6, 0.01, key="overlay_smoothing")
    log_y = c[2].toggle(_("Log scale"), key="overlay_log")
    st.plotly_chart(figures.overlay_figure(runs, key, smoothing, log_y), key="fig_overlay")
    configs = {n: cfg for n in picked if (cfg := jobs.load_config(ROOT / n)) is not None}
    diff = jobs.config_diff(configs)
    if diff:
        st.caption(_("Settings that differ between the selected runs"))
        st.dataframe(pd.DataFrame(diff).T.astype(str), key="config_diff")
    else:
        st.caption(_("The selected runs have identical settings."))


# ---------------------------------------------------------------- page

st.title(_("Train & monitor"))
st.html("<style>.st-key-sample_grid img {image-rendering: pixelated;}</style>")
runs = [d.name for d in jobs.run_dirs(ROOT)]
if st.session_state.get("select_run") in runs:
    st.session_state["run"] = st.session_state.pop("select_run")
new_run_form(open_=not runs)
if not runs:
    st.info(_("No runs yet. Start one above, or from a shell: "
              "`python -m ganlib train --model dcgan --dataset mnist --out runs/my-run` "
              "(runs live in `{folder}`).").format(folder=ROOT))
else:
    if st.session_state.get("run") not in runs:
        st.session_state["run"] = runs[0]
    pick = st.columns([4, 1])
    run_name = pick[0].selectbox(_("Run"), runs, key="run")
    refresh = REFRESH_S[pick[1].selectbox(
        _("Refresh every"), list(REFRESH_S), index=list(REFRESH_S).index(DEFAULT_REFRESH), key="refresh",
        help=_("How often the browser asks a training run for new rows, figures and grids. Only what is new is "
               "drawn, but a CPU-only machine still pays for it out of training: on 2 cores the page took about "
               "4% of the machine at 2 s (6% with 20,000 logged steps)."))]
    run_dir = ROOT / run_name
    monitor(run_dir, refresh)
st.fragment(runs_table, run_every=RUNS_TABLE_S)()  # notices runs started elsewhere (CLI, another tab)
