"""The Train page's form for a new run: one widget per TrainConfig field (ganlib.fieldhelp.FIELDS says its
label, help, choices and step), each family's recipe filled in when the model or the data set changes
(config.recipe_switch), the networks' layer table, and the Start button's checks (jobs.preflight)."""
from __future__ import annotations

import json
import re
from dataclasses import fields

import pandas as pd
import streamlit as st

from ganlib.config import TrainConfig, field_applies, on_gpu, recipe, recipe_switch, rules_of
from ganlib import device
from ganlib.device import available_devices
from ganlib.families import FAMILIES
from ganlib.fieldhelp import FIELDS
from ganlib.modelcard import card_records, config_card, human
from ganlib.train import jobs
from studio.i18n import N_, _, gettext_now
from studio.widgets import device_text

DEFAULTS = TrainConfig()
# what a select box shows for a choice, in English (translate with shown(), in the session's language)
NAMES = {**{m: f.title for m, f in FAMILIES.items()},
         "ns": N_("non-saturating BCE (ns)"), "bce": N_("minimax BCE"), "lsgan": N_("least squares (LSGAN)"),
         "wgan-gp": "WGAN-GP", "hinge": N_("hinge"), 0: N_("data set's own")}
MAIN_FIELDS = (("batch_size", "lr_g", "lr_d", "epochs", "max_steps"),  # below model, data set, loss and device
               ("label_smoothing", "r1_gamma", "grad_clip", "ema_decay", "minibatch_discrimination"))
KEPT = "cfg_kept"  # each setting's last value: Streamlit drops the state of a widget that is not drawn, so a
# setting that More settings hides while another model is chosen would come back at its default without it
MOVED = "cfg_moved"  # the settings switch_recipe has just set, until their widgets are drawn


def shown(value, tr=_) -> str:
    """A choice as a select box shows it, in the session's language (tr: a translation function)."""
    return tr(NAMES[value]) if value in NAMES else str(value)


def short_label(name: str) -> str:
    """A field's label without its parenthesis ('Max steps (0 = use epochs)' -> 'Max steps'), translated."""
    return re.split(r" ?[(（]", _(FIELDS[name].label))[0]


def recipe_caption(model: str, start: dict, gpu: bool = False) -> str:
    """'Settings below start from the recipe for CycleGAN (...): loss least squares (LSGAN), ...', or '' for a
    model that starts from TrainConfig's defaults; `gpu`: the run trains on a CUDA GPU (config.on_gpu)."""
    own = {k: v for k, v in start.items() if k != "dataset"}
    if not own:
        return ""
    value = lambda v: format(v, "g") if isinstance(v, float) else shown(v) if isinstance(v, str) else v
    what = _("the fully connected GAN on 2-D points") if model == "gan" else NAMES[model].split(" (")[0]
    if gpu and rules_of(model).gpu_recipe and not start.get("dataset", "").startswith("toy-"):
        what = _("{model} on a GPU").format(model=what)
    return _("Settings below start from the recipe for {model} (the defaults are DCGAN's): {settings}. Change any "
             "of them.").format(model=what, settings=" · ".join(f"{short_label(k)}: {value(v)}" for k, v in own.items()))


def switch_recipe() -> None:
    """on_change of the model and the data set: the settings whose recipe differs (config.recipe_switch) are
    set to the new recipe's values through the Session State API (the one way to move a widget the browser
    holds); the others keep the user's."""
    state = st.session_state
    kept, moved = state.setdefault(KEPT, {}), state.setdefault(MOVED, set())
    old_model, old_dataset = kept.get("model", DEFAULTS.model), kept.get("dataset", DEFAULTS.dataset)  # as drawn
    old_device = kept.get("device", DEFAULTS.device)
    model, dataset = state.get("cfg_model", old_model), state.get("cfg_dataset", old_dataset)
    device_now = state.get("cfg_device", old_device)
    for name, value in recipe_switch(old_model, old_dataset, model, dataset, old_device, device_now).items():
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
    label, help_ = _(field.label), field.help and _(field.help)
    if field.choices:
        tr = gettext_now()
        value = st.selectbox(label, field.choices, key=key, help=help_, format_func=lambda v: shown(v, tr),
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
    with st.expander(_("Start a new run"), expanded=open_):
        values = {}
        cols = st.columns(4)
        with cols[0]:
            values["model"] = config_input("model")
        devices = available_devices()
        chosen = st.session_state.get("cfg_device", devices[0])  # the recipe depends on it (a GPU's is bigger)
        with cols[1]:  # a model with a data set of its own (CycleGAN: typeset) starts on it
            values["dataset"] = config_input("dataset", recipe(values["model"], device=chosen))
        start = recipe(values["model"], values["dataset"], chosen)  # where every other setting starts
        with cols[2]:
            values["loss"] = config_input("loss", start)
        with cols[3]:
            values["device"] = st.selectbox(_("Device"), devices, key="cfg_device", on_change=switch_recipe,
                                            help=_("The GPU is preselected when there is one. DCGAN and CGAN start "
                                                   "from a bigger recipe on a GPU (batch 1024)."))
        st.session_state.setdefault(KEPT, {})["device"] = values["device"]
        gpus = 1
        if device.gpu_count() > 1:  # one training process per GPU, launched through torchrun
            with cols[3]:
                gpus = int(st.number_input(_("GPUs"), 1, device.gpu_count(), 1, key="cfg_gpus",
                                           help=_("More than one: the run starts through torchrun, one process per "
                                                  "GPU, each taking batch size / GPUs images of every batch.")))
            if gpus > 1:
                values["device"] = "cuda"  # each process takes the GPU of its local rank
        if devices == ["cpu"]:
            st.caption(_("Device: {device}. Training runs on the CPU; DCGAN's defaults are tuned for it (on 2 cores: "
                         "recognisable digits after about 200 steps, some 15 s; 20 epochs of the bundled MNIST in "
                         "about a minute).").format(device=device_text()))
        elif on_gpu(values["device"]) and rules_of(values["model"]).gpu_recipe:
            gpu = rules_of(values["model"]).gpu_recipe
            st.caption(_("Device: {device}. DCGAN and CGAN start from the GPU recipe: batch {batch} (the small nets "
                         "leave a GPU idle at {cpu_batch}), learning rates {lr_g} / {lr_d} and {epochs} epochs (as many "
                         "steps as {cpu_epochs} epochs on a CPU). On an H200 it draws digits after about 1.4 s of "
                         "training, some 110,000 images/s.").format(
                device=device_text(), batch=gpu["batch_size"], cpu_batch=DEFAULTS.batch_size,
                lr_g=format(gpu["lr_g"], "g"), lr_d=format(gpu["lr_d"], "g"), epochs=gpu["epochs"],
                cpu_epochs=DEFAULTS.epochs))
        if caption := recipe_caption(values["model"], start, on_gpu(values["device"])):  # the settings below moved when the model was chosen
            st.caption(caption)
        for row in MAIN_FIELDS:
            if row is MAIN_FIELDS[1]:
                st.caption(_("Stabilising tricks"))
            # "Minibatch discrimination" needs a wider column to show whole; a setting the model does not
            # read (config.field_applies) leaves its column empty, so the rows keep their places
            widths = [1.6 if name == "minibatch_discrimination" else 1 for name in row]
            for col, name in zip(st.columns(widths), [n for n in row if field_applies(n, values["model"])]):
                with col:
                    values[name] = config_input(name, start)
        if values["dataset"] == "folder":
            values["data_dir"] = config_input("data_dir")
        with st.expander(_("More settings")):
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
        name = st.text_input(_("Run name"), placeholder=jobs.default_run_name(config), key="run_name")
        problems = config.validate() + jobs.launch_problems(config, gpus)
        blocker = jobs.start_blocker(jobs.runs_root())  # read per run: a test or a restart may move it
        for p in problems:
            st.error(p)
        if not problems:
            with st.expander(_("Networks of these settings (layer by layer)"), icon=":material/schema:"):
                model_card(config.to_json(), "form")
        if blocker:
            st.warning(_("Start is disabled: {reason}").format(reason=blocker))
        if st.button(_("Start"), type="primary", disabled=bool(problems or blocker), key="start",
                     help=blocker or (problems[0] if problems else _("Check the data, then launch the run"))):
            with st.spinner(_("Checking the data set against the model…")):
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


def model_card(config_json: str, where: str, nets: tuple[str, ...] = ("G", "D"), only: tuple[str, ...] = (),
               caption: bool = True) -> None:
    """G and D side by side (or only the `nets` asked for), layer by layer: type, output shape, parameters,
    FLOPs per image. `only`: keep just the layers whose type starts with one of these (and the input and
    total rows)."""
    try:
        tables = {net: [r for i, r in enumerate(records) if not only or i in (0, len(records) - 1)
                        or r["layer"].startswith(only)]
                  for net, records in card_tables(config_json).items() if net in nets}
    except (ValueError, RuntimeError) as e:
        st.caption(_("The networks cannot be built from these settings: {error}").format(error=e))
        return
    for col, (net, records) in zip(st.columns(len(tables)), tables.items()):
        with col:
            total = records[-1]
            st.markdown(_("**{net}** · {params:,} parameters · {flops}FLOPs per image").format(
                net=_("Generator") if net == "G" else _("Discriminator"), params=total["params"],
                flops=human(total["flops"])))
            st.dataframe(pd.DataFrame(records).drop(columns="name"), hide_index=True, key=f"card_{where}_{net}",
                         height="content", row_height=28,
                         column_config={"layer": st.column_config.TextColumn(_("layer"), width="medium"),
                                        "output": st.column_config.TextColumn(_("output"), width="small"),
                                        "params": st.column_config.NumberColumn(_("params"), format="localized",
                                                                                width="small"),
                                        "flops": st.column_config.NumberColumn(_("FLOPs/image"), format="localized",
                                                                               width="small")})
    if caption:
        st.caption(_("Read from the networks these settings build (forward hooks), so it always matches what trains. "
                     "Outputs are C×H×W per image; a multiply-add counts as 2 FLOPs. "
                     "Also: `python -m ganlib train ... --dry-run`."))


# ---------------------------------------------------------------- monitor
