"""Train & monitor: launch GAN / DCGAN / CGAN runs, watch them live, compare and replay them.

The page only reads run directories (ganlib.train.rundir) and asks ganlib.train.jobs to act,
so a refresh, a second tab or a server restart loses nothing.
"""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd
import streamlit as st

from ganlib.config import TrainConfig, field_applies, recipe, recipe_switch
from ganlib.families import FAMILIES
from ganlib.fieldhelp import FIELDS
from ganlib.device import available_devices, describe_device, gpu_count
from ganlib.train import jobs, rundir
from ganlib.modelcard import card_records, config_card, human
from ganlib.train.doctor import diagnose, doctor_fix
from studio import figures, report
from studio.api import chart_base
from studio.live_chart import live_chart, live_grid, live_status, poll_spec

ROOT = jobs.runs_root()
DEFAULTS = TrainConfig()
NAMES = {**{m: f.title for m, f in FAMILIES.items()},  # what a select box shows for a choice
         "ns": "non-saturating BCE (ns)", "bce": "minimax BCE", "lsgan": "least squares (LSGAN)",
         "wgan-gp": "WGAN-GP", "hinge": "hinge", 0: "data set's own"}
MAIN_FIELDS = (("batch_size", "lr_g", "lr_d", "epochs", "max_steps"),  # below model, data set, loss and device
               ("label_smoothing", "r1_gamma", "grad_clip", "ema_decay", "minibatch_discrimination"))
STATE_COLORS = {"queued": "gray", "running": "green", "paused": "orange", "stopped": "blue",
                "finished": "violet", "failed": "red"}


KEPT = "cfg_kept"  # each setting's last value: Streamlit drops the state of a widget that is not drawn, so a
# setting that More settings hides while another model is chosen would come back at its default without it
MOVED = "cfg_moved"  # the settings switch_recipe has just set, until their widgets are drawn


def recipe_caption(model: str, start: dict) -> str:
    """'Settings below start from the recipe for CycleGAN (...): loss least squares (LSGAN), ...', or '' for a
    model that starts from TrainConfig's defaults."""
    own = {k: v for k, v in start.items() if k != "dataset"}
    if not own:
        return ""
    shown = lambda v: format(v, "g") if isinstance(v, float) else NAMES.get(v, v) if isinstance(v, str) else v
    what = "the fully connected GAN on 2-D points" if model == "gan" else NAMES[model].split(" (")[0]
    return (f"Settings below start from the recipe for {what} (the defaults are DCGAN's): "
            + " · ".join(f"{FIELDS[k].label.split(' (')[0]}: {shown(v)}" for k, v in own.items()) + ". Change any of them.")


def switch_recipe() -> None:
    """on_change of the model and the data set: the settings whose recipe differs (config.recipe_switch) are
    set to the new recipe's values through the Session State API (the one way to move a widget the browser
    holds); the others keep the user's."""
    state = st.session_state
    kept, moved = state.setdefault(KEPT, {}), state.setdefault(MOVED, set())
    old_model, old_dataset = kept.get("model", DEFAULTS.model), kept.get("dataset", DEFAULTS.dataset)  # as drawn
    model, dataset = state.get("cfg_model", old_model), state.get("cfg_dataset", old_dataset)
    for name, value in recipe_switch(old_model, old_dataset, model, dataset).items():
        kept[name] = state[f"cfg_{name}"] = value
        moved.add(name)


def config_input(name: str, start: dict | None = None):
    """One widget for one TrainConfig field, drawn at the value the user last gave it, else at `start`'s
    value for it (the chosen model's recipe), else TrainConfig's default; no bounds here, so validate() can
    say what is wrong."""
    kept = st.session_state.setdefault(KEPT, {})
    default, key = kept.get(name, (start or {}).get(name, getattr(DEFAULTS, name))), f"cfg_{name}"
    field = FIELDS[name]
    moved = st.session_state.setdefault(MOVED, set())
    # a value switch_recipe just set is the widget's: giving a default as well would be ignored, and warned of
    start_at = ({} if name in moved else {"index": field.choices.index(default)} if field.choices
                else {"value": default})
    moved.discard(name)
    label, help_ = field.label, field.help
    if field.choices:
        value = st.selectbox(label, field.choices, key=key, help=help_, format_func=lambda v: NAMES.get(v, str(v)),
                             on_change=switch_recipe if name in ("model", "dataset") else None, **start_at)
    elif isinstance(default, bool):
        value = st.checkbox(label, key=key, help=help_, **start_at)
    elif isinstance(default, int):
        value = int(st.number_input(label, step=1, key=key, help=help_, **start_at))
    elif isinstance(default, float):
        value = float(st.number_input(label, step=field.step, format="%g", key=key, help=help_, **start_at))
    else:
        value = st.text_input(label, key=key, help=help_, **start_at)
    kept[name] = value
    return value


@st.cache_data(ttl=300, show_spinner=False)
def preflight(config_json: str) -> list[str]:
    return jobs.preflight(TrainConfig.from_dict(json.loads(config_json)))


def new_run_form(open_: bool) -> None:
    with st.expander("Start a new run", expanded=open_):
        values = {}
        cols = st.columns(4)
        with cols[0]:
            values["model"] = config_input("model")
        with cols[1]:  # a model with a data set of its own (CycleGAN: typeset) starts on it
            values["dataset"] = config_input("dataset", recipe(values["model"]))
        start = recipe(values["model"], values["dataset"])  # where every other setting starts
        with cols[2]:
            values["loss"] = config_input("loss", start)
        devices = available_devices()
        with cols[3]:
            values["device"] = st.selectbox("Device", devices, key="cfg_device",
                                            help="The GPU is preselected when there is one.")
        gpus = 1
        if gpu_count() > 1:  # one training process per GPU, launched through torchrun
            with cols[3]:
                gpus = int(st.number_input("GPUs", 1, gpu_count(), 1, key="cfg_gpus",
                                           help="More than one: the run starts through torchrun, one process per "
                                                "GPU, each taking batch size / GPUs images of every batch."))
            if gpus > 1:
                values["device"] = "cuda"  # each process takes the GPU of its local rank
        if devices == ["cpu"]:
            st.caption(f"Device: {describe_device()}. Training runs on the CPU; DCGAN's defaults are tuned for it "
                       "(about 1,400 images/s on 2 cores: 20 epochs of the bundled MNIST in about a minute).")
        if caption := recipe_caption(values["model"], start):  # the settings below moved when the model was chosen
            st.caption(caption)
        for row in MAIN_FIELDS:
            if row is MAIN_FIELDS[1]:
                st.caption("Stabilising tricks")
            # "Minibatch discrimination" needs a wider column to show whole; a setting the model does not
            # read (config.field_applies) leaves its column empty, so the rows keep their places
            widths = [1.6 if name == "minibatch_discrimination" else 1 for name in row]
            for col, name in zip(st.columns(widths), [n for n in row if field_applies(n, values["model"])]):
                with col:
                    values[name] = config_input(name, start)
        if values["dataset"] == "folder":
            values["data_dir"] = config_input("data_dir")
        with st.expander("More settings"):
            # only what this model reads (config.field_applies): other models' fields stay at their defaults
            rest = [f.name for f in fields(TrainConfig) if f.name not in values and f.name != "device"
                    and field_applies(f.name, values["model"])]
            flags = [n for n in rest if isinstance(getattr(DEFAULTS, n), bool)]
            for names in ([n for n in rest if n not in flags], flags):
                cols = st.columns(4)
                for i, name in enumerate(names):
                    with cols[i % 4]:
                        values[name] = config_input(name, start)
        config = TrainConfig(**values)
        name = st.text_input("Run name", placeholder=jobs.default_run_name(config), key="run_name")
        problems = config.validate() + jobs.launch_problems(config, gpus)
        blocker = jobs.start_blocker(ROOT)
        for p in problems:
            st.error(p)
        if not problems:
            with st.expander("Networks of these settings (layer by layer)", icon=":material/schema:"):
                model_card(config.to_json(), "form")
        if blocker:
            st.warning(f"Start is disabled: {blocker}")
        if st.button("Start", type="primary", disabled=bool(problems or blocker), key="start",
                     help=blocker or (problems[0] if problems else "Check the data, then launch the run")):
            with st.spinner("Checking the data set against the model…"):
                problems = preflight(config.to_json())
            if problems:
                for p in problems:
                    st.error(p)
                return
            try:
                run_dir = jobs.start(config, name, argv=jobs.torchrun_argv(config, "{run_dir}", gpus) if gpus > 1
                                     else None)
            except ValueError as e:
                st.error(str(e))
                return
            st.session_state["select_run"] = run_dir.name
            st.rerun()


@st.cache_data(max_entries=64, show_spinner=False)
def card_tables(config_json: str) -> dict[str, list[dict]]:
    """The model card of a config: {"G": rows, "D": rows} with a totals row each (ganlib.modelcard)."""
    card = config_card(TrainConfig.from_dict(json.loads(config_json)))
    return {net: card_records(rows) for net, rows in card.items()}


def model_card(config_json: str, where: str) -> None:
    """G and D side by side, layer by layer: type, output shape, parameters, FLOPs per image."""
    try:
        tables = card_tables(config_json)
    except (ValueError, RuntimeError) as e:
        st.caption(f"The networks cannot be built from these settings: {e}")
        return
    for col, (net, records) in zip(st.columns(2), tables.items()):
        with col:
            total = records[-1]
            st.markdown(f"**{'Generator' if net == 'G' else 'Discriminator'}** · {total['params']:,} parameters · "
                        f"{human(total['flops'])}FLOPs per image")
            st.dataframe(pd.DataFrame(records).drop(columns="name"), hide_index=True, key=f"card_{where}_{net}",
                         height="content", row_height=28,
                         column_config={"layer": st.column_config.TextColumn("layer", width="medium"),
                                        "output": st.column_config.TextColumn("output", width="small"),
                                        "params": st.column_config.NumberColumn("params", format="localized",
                                                                                width="small"),
                                        "flops": st.column_config.NumberColumn("FLOPs/image", format="localized",
                                                                               width="small")})
    st.caption("Read from the networks these settings build (forward hooks), so it always matches what trains. "
               "Outputs are C×H×W per image; a multiply-add counts as 2 FLOPs. "
               "Also: `python -m ganlib train ... --dry-run`.")


# ---------------------------------------------------------------- monitor

def controls(run_dir: Path, st_: dict, config: TrainConfig | None, until: int | None) -> None:
    state = st_.get("state")
    row = st.container(horizontal=True, key="controls")
    if state == "running" and row.button("Pause", key="pause", icon=":material/pause:"):
        jobs.pause(run_dir)
    if state == "paused" and row.button("Continue", key="continue", icon=":material/play_arrow:"):
        jobs.proceed(run_dir)
    if state in jobs.ACTIVE_STATES and row.button("Stop", key="stop", icon=":material/stop:"):
        with st.spinner("Stopping: saving a checkpoint…"):
            jobs.stop(run_dir, timeout=15)
        st.rerun(scope="app")
    if state in ("stopped", "failed") and config is not None:
        if row.button("Resume", key="resume", icon=":material/replay:", type="primary"):
            try:
                jobs.resume(run_dir)
                st.rerun(scope="app")
            except ValueError as e:
                st.error(str(e))
    if state not in jobs.ACTIVE_STATES:
        with row.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete **{run_dir.name}** and everything in it (checkpoint, samples, metrics)?")
            if st.button("Yes, delete it", type="primary", key="confirm_delete"):
                jobs.delete(run_dir, ROOT)
                st.session_state.pop("run", None)
                st.rerun(scope="app")
    ckpt = run_dir / "checkpoint.pt"
    row.download_button("Checkpoint", data=lambda: ckpt.read_bytes(), file_name=f"{run_dir.name}.pt",
                        mime="application/octet-stream", disabled=not ckpt.exists(), on_click="ignore",
                        icon=":material/download:", key="dl_ckpt")
    row.download_button("Metrics CSV", data=lambda: report.metrics_csv(rundir.read_metrics(run_dir)),
                        file_name=f"{run_dir.name}-metrics.csv", mime="text/csv", on_click="ignore",
                        icon=":material/download:", key="dl_csv")
    row.download_button("Samples GIF", data=lambda: report.grid_gif(rundir.list_samples(run_dir)),
                        file_name=f"{run_dir.name}.gif", mime="image/gif", on_click="ignore",
                        disabled=not rundir.list_samples(run_dir), icon=":material/download:", key="dl_gif")
    row.download_button("Report", data=lambda: report.run_report_html(run_dir, until),
                        file_name=f"{run_dir.name}-report.html", mime="text/html", on_click="ignore",
                        disabled=config is None, icon=":material/download:", key="dl_report",
                        help="One HTML file: config, curves, grids, metrics and the command that reproduces the run")


# While a run trains, the browser follows it by itself: the charts, the status strip and the sample grid
# poll the run's live API (studio/api.py) every few seconds (the user's pick, REFRESH_S) and draw only what
# is new, with no Streamlit rerun. The page itself (a fragment: the doctor, and the run's state) re-runs
# only every DOCTOR_S, or at once when the strip sees the run change state. Before, every refresh re-ran
# the fragment and the browser re-rendered it: 7% of a 2-core machine's training speed at a 2 s refresh
# (benchmarks/monitor_overhead.py measures what watching costs training).
REFRESH_S = {"1 s": 1.0, "2 s": 2.0, "5 s": 5.0, "10 s": 10.0}
DEFAULT_REFRESH = "2 s"
PAUSED_POLL_S = 5.0
DOCTOR_S = 15.0
RUNS_TABLE_S = 10.0  # each re-run of the runs table costs the browser a table redraw


def monitor(run_dir: Path, refresh: float) -> None:
    """Everything about one run: header, controls and view settings here; the parts that change while it
    trains in live_view, a fragment that re-reads the run's files every `refresh` seconds."""
    if not run_dir.is_dir():
        st.warning(f"{run_dir.name} no longer exists.")
        return
    st_ = jobs.status(run_dir)
    state = st_.get("state", "queued")
    st.session_state.setdefault("shown_state", {})[run_dir.name] = state
    active = state in jobs.ACTIVE_STATES
    config = jobs.load_config(run_dir)

    with st.container(key="run_status"):
        st.markdown(f"### {run_dir.name} &nbsp; :{STATE_COLORS.get(state, 'gray')}-badge[{state}]")
        if config:
            st.caption(f"{NAMES[config.model]} on {config.dataset}, {NAMES[config.loss]} loss, batch "
                       f"{config.batch_size}, lr G {config.lr_g:g} / D {config.lr_d:g}")
        controls_box = st.container()

    # which step to show: live, or a step picked to replay the run (curves and grids up to it)
    view = st.columns([1, 2, 1], vertical_alignment="center")
    live = active and view[0].toggle("Follow live", value=True, key=f"live_{run_dir.name}")
    if not active:
        view[0].caption("Replay: pick a step below to see the curves and samples up to it.")
    smoothing = view[1].slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="smoothing")
    log_y = view[2].toggle("Log scale", key="log_y")
    until = None
    if not live:
        logged = [r["step"] for r in rundir.read_metrics(run_dir, "train")]
        marks = sorted({s for s, _ in rundir.list_samples(run_dir)} | set(logged[:: max(1, len(logged) // 300)]))
        if len(marks) > 1:
            until = st.select_slider("Show the run up to step (curves and samples)", options=marks,
                                     value=marks[-1], key=f"until_{run_dir.name}")
    with controls_box:
        controls(run_dir, st_, config, until)
    if config:
        with st.expander("Networks (layer by layer)", icon=":material/schema:"):
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
        st.code(jobs.tail_log(run_dir, 25) or "(log.txt is empty)", language=None)


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
            what = ("Fixed inputs: A → G(A) → F(G(A)) and B → F(B) → G(F(B))" if config and config.model == "cyclegan"
                    else "Fixed noise")
            live_grid("grid", run_dir.name, latest, f"{what} at step {{step}}" + (" (latest)" if until is None else ""),
                      grid_poll)
        else:
            st.info("The first sample grid appears once the model is built.")
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
        tabs = st.tabs(["Gradient norms", "Speed", "Quality metrics"], key="more_curves", on_change="rerun")
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
                    st.caption("Quality metrics (FID, class coverage) are plotted here when the run evaluates "
                               "(set *Evaluate every* under More settings).")


def doctor(run_dir: Path, config: TrainConfig | None, findings: list) -> None:
    """The doctor's findings, each with its remedy and, where there is one, a button that starts a new run
    with the remedy applied (same settings otherwise)."""
    blocker = jobs.start_blocker(ROOT)
    with st.container(key="doctor"):
        for f in findings:
            show = {"error": st.error, "warning": st.warning, "info": st.success}[f.level]
            show(f"**{f.title}** {f.detail}  \n**Remedy:** {f.remedy}",
                 icon={"error": ":material/error:", "warning": ":material/warning:",
                       "info": ":material/check_circle:"}[f.level])
            fix = doctor_fix(f, config)
            if fix is None:
                continue
            fixed, what = fix
            if st.button("Start a new run with this fix", key=f"fix_{f.fix}", icon=":material/healing:",
                         disabled=bool(blocker), help=blocker or f"A copy of this run's settings with {what}."):
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
    st.subheader("All runs")
    df = pd.DataFrame(table)
    df["started"] = pd.to_datetime(df["started"], unit="s", utc=True).dt.tz_convert(None).dt.floor("s")
    event = st.dataframe(df, hide_index=True, key="runs_table", on_select="rerun", selection_mode="multi-row",
                         column_config={"d_loss": st.column_config.NumberColumn(format="%.3f"),
                                    "g_loss": st.column_config.NumberColumn(format="%.3f")})
    picked = [table[i]["name"] for i in event.selection.rows]
    if len(picked) == 1 and st.button(f"Monitor {picked[0]}", key="open_run"):
        st.session_state["select_run"] = picked[0]
        st.rerun(scope="app")
    if len(picked) < 2:
        st.caption("Select two or more runs to overlay their curves (same seed, one setting changed).")
        return
    runs = {n: rundir.read_metrics(ROOT / n) for n in picked}
    keys = ["d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "images_per_s"]
    keys += [k for k in figures.eval_keys([r for rows in runs.values() for r in rows if r.get("kind") == "eval"])
             if k not in keys]
    c = st.columns([2, 1, 1])
    key = c[0].selectbox("Curve", keys, key="overlay_key")
    smoothing = c[1].slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="overlay_smoothing")
    log_y = c[2].toggle("Log scale", key="overlay_log")
    st.plotly_chart(figures.overlay_figure(runs, key, smoothing, log_y), key="fig_overlay")
    configs = {n: cfg for n in picked if (cfg := jobs.load_config(ROOT / n)) is not None}
    diff = jobs.config_diff(configs)
    if diff:
        st.caption("Settings that differ between the selected runs")
        st.dataframe(pd.DataFrame(diff).T.astype(str), key="config_diff")
    else:
        st.caption("The selected runs have identical settings.")


# ---------------------------------------------------------------- page

st.title("Train & monitor")
st.html("<style>.st-key-sample_grid img {image-rendering: pixelated;}</style>")
runs = [d.name for d in jobs.run_dirs(ROOT)]
if st.session_state.get("select_run") in runs:
    st.session_state["run"] = st.session_state.pop("select_run")
new_run_form(open_=not runs)
if not runs:
    st.info("No runs yet. Start one above, or from a shell: "
            "`python -m ganlib train --model dcgan --dataset mnist --out runs/my-run` "
            f"(runs live in `{ROOT}`).")
else:
    if st.session_state.get("run") not in runs:
        st.session_state["run"] = runs[0]
    pick = st.columns([4, 1])
    run_name = pick[0].selectbox("Run", runs, key="run")
    refresh = REFRESH_S[pick[1].selectbox(
        "Refresh every", list(REFRESH_S), index=list(REFRESH_S).index(DEFAULT_REFRESH), key="refresh",
        help="How often the browser asks a training run for new rows, figures and grids. Only what is new is "
             "drawn, but a CPU-only machine still pays for it out of training: on 2 cores the page took about "
             "4% of the machine at 2 s (6% with 20,000 logged steps).")]
    run_dir = ROOT / run_name
    monitor(run_dir, refresh)
st.fragment(runs_table, run_every=RUNS_TABLE_S)()  # notices runs started elsewhere (CLI, another tab)
