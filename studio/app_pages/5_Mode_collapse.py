"""Mode-collapse lab: a 2-D arena of small GANs trained live side by side (each with its own remedy),
and the 100-sample diversity test for any digit generator, e.g. the shipped collapsed and cured DCGANs.

The arena steps its tiny models in this process with ganlib's own training step (ganlib.arena);
each panel's models live in st.session_state, so every browser session has its own.
"""
from __future__ import annotations

import os

import plotly.graph_objects as go
import streamlit as st
import torch

from ganlib import pretrained
from ganlib.arena import PRESETS, Arena, arena_config
from ganlib.checkpoints import CheckpointError, generator_classes
from ganlib.config import command_for
from ganlib.fieldhelp import FIELD_HELP
from ganlib.images import png_bytes
from ganlib.metrics.diversity import diversity_grid_image, diversity_test, summary
from ganlib.train import rundir
from ganlib.paths import runs_root
from studio import figures, widgets
from studio.i18n import N_, _, gettext_now

FRAME_S = 0.5                       # seconds between frames of a playing panel
DEFAULT_PANELS = ["vanilla-ring", "pacgan-ring", "vanilla-grid", "deligan-grid"]
SETTINGS = ("loss", "batch_size", "lr_g", "lr_d", "pack", "unrolled_steps", "minibatch_discrimination",
            "label_smoothing", "spectral_norm", "grad_clip", "n_critic", "r1_gamma", "lr_decay", "r1_late",
            "latent_mixture", "seed")

st.title(_("Mode-collapse lab"))
st.caption(_("Watch a GAN collapse onto a few modes of a 2-D mixture and compare the cures side by side; "
             "then measure the diversity of any digit generator with the 100-sample test."))
arena_tab, images_tab = st.tabs([_("2-D arena"), _("Image diversity")])
SHOW = [N_("D's surface"), N_("G's gradient")]  # the pills' values (English), shown translated


# ---------------------------------------------------------------- 2-D arena

def new_panel(i: int, preset: str, **overrides) -> None:
    try:
        arena = Arena(arena_config(preset, **overrides))
    except ValueError as e:
        st.session_state[f"arena_error_{i}"] = str(e)
        return
    st.session_state.pop(f"arena_error_{i}", None)
    st.session_state[f"arena_{i}"] = {"arena": arena, "preset": preset, "playing": False, "previous": None,
                                      "saved": ""}


def half_step(state: dict) -> None:
    """D update: one training step, drawn with G's points from before it (D's update does not move them);
    G update: the same step's new points. Both halves are exact, as D updates before G in a step."""
    if state["previous"] is not None:
        state["previous"] = None
    else:
        state["previous"] = state["arena"].points()
        state["arena"].train(1)


def toggle_play(state: dict) -> None:
    state["playing"] = not state["playing"]
    state["toggled"] = True


def panel(i: int) -> None:
    """One arena: controls, D's surface under real and generated points, coverage over time."""
    state = st.session_state[f"arena_{i}"]
    if state.pop("toggled", False):
        st.rerun(scope="app")  # play/pause changed: the fragment's timer starts or stops
    arena: Arena = state["arena"]
    cfg = arena.config
    if state["playing"]:
        arena.train(st.session_state.get("arena_speed", 25))
        state["previous"] = None
    # four buttons in a row fit a panel of two; three or four panels are too narrow for their labels: two rows
    b = st.columns(4) if (st.session_state.get("arena_n") or 2) <= 2 else st.columns(2) + st.columns(2)
    # toggled in a callback: a click that lands while a timer rerun of the fragment runs is never lost
    b[0].button(_("Pause") if state["playing"] else _("Play"), key=f"play_{i}", icon=(
        ":material/pause:" if state["playing"] else ":material/play_arrow:"), width="stretch",
        on_click=toggle_play, args=(state,))
    b[1].button(_("G update") if state["previous"] is not None else _("D update"), key=f"step_{i}",
                icon=":material/skip_next:", disabled=state["playing"], width="stretch", on_click=half_step,
                args=(state,), help=_("One step of the game, shown in its two halves: D updates (its surface "
                                      "changes under G's points), then G updates (its points move)."))
    if b[2].button(_("Reset"), key=f"reset_{i}", icon=":material/restart_alt:", width="stretch",
                   help=_("Start again with a new seed.")):
        new_panel(i, state["preset"], **{k: getattr(cfg, k) for k in SETTINGS if k != "seed"},
                  dataset=cfg.dataset, seed=cfg.seed + 1)
        st.rerun(scope="app")
    if b[3].button(_("Save run"), key=f"save_{i}", icon=":material/save:", width="stretch",
                   help=_("Save this panel as an ordinary run directory (the Train page and the CLI read it).")):
        name = rundir.sanitize_run_name(f"arena-{state['preset']}-seed{cfg.seed}-step{arena.step}")
        try:
            state["saved"] = str(arena.save_run(runs_root() / name))
        except (ValueError, OSError) as e:
            state["saved"] = ""
            st.error(str(e))
    show = st.session_state.get("arena_show", ["D's surface"])
    caption = ""
    if state["previous"] is not None:
        fig = figures.arena_figure(arena, surface="D's surface" in show, arrows="G's gradient" in show,
                                   previous=state["previous"])
        caption = _("D has updated (its surface changed); G's points have not moved yet: press **G update**.")
    else:
        fig = figures.arena_figure(arena, surface="D's surface" in show, arrows="G's gradient" in show)
    st.plotly_chart(fig, key=f"arena_plot_{i}", config={"displayModeBar": False}, width="stretch")
    ev = arena.eval_rows[-1]
    st.markdown(_("Step **{step:,}** · modes **{covered}/{total}** (at step {eval_step:,}) · **{quality:.0%}** high "
                  "quality · reverse KL {kl:.2f}").format(step=arena.step, covered=ev["modes_covered"],
                                                          total=ev["num_modes"], eval_step=ev["step"],
                                                          quality=ev["high_quality_frac"], kl=ev["reverse_kl"]))
    if caption:
        st.caption(caption)
    st.plotly_chart(figures.coverage_figure(arena), key=f"arena_cov_{i}", config={"displayModeBar": False},
                    width="stretch")
    if state["saved"]:
        st.success(_("Saved as `{folder}`: open it on the Train & monitor page.").format(folder=state["saved"]), icon=":material/save:")


LAB_LOSSES = ("ns", "lsgan", "wgan-gp", "hinge")  # the panel's loss choices (bce, ns's saturating twin, is left out)


def settings_form(i: int, state: dict) -> None:
    cfg = state["arena"].config
    with st.popover(_("Settings"), icon=":material/tune:", width="stretch"):
        with st.form(f"settings_{i}", border=False):
            values = {"dataset": st.selectbox(_("Mixture"), ["toy-ring", "toy-grid"],
                                              index=["toy-ring", "toy-grid"].index(cfg.dataset))}
            c = st.columns(2)
            values["loss"] = c[0].selectbox(_("Loss"), LAB_LOSSES, help=_(FIELD_HELP["loss"]),
                                            index=LAB_LOSSES.index(cfg.loss) if cfg.loss in LAB_LOSSES else 0)
            values["batch_size"] = int(c[1].number_input(_("Batch size"), value=cfg.batch_size, step=32))
            values["lr_g"] = float(c[0].number_input(_("G learning rate"), value=cfg.lr_g, step=1e-4, format="%g"))
            values["lr_d"] = float(c[1].number_input(_("D learning rate"), value=cfg.lr_d, step=1e-4, format="%g"))
            values["pack"] = int(c[0].number_input(_("PacGAN pack"), value=cfg.pack, step=1, help=_(FIELD_HELP["pack"])))
            values["unrolled_steps"] = int(c[1].number_input(_("Unrolled D steps"), value=cfg.unrolled_steps, step=1,
                                                             help=_(FIELD_HELP["unrolled_steps"])))
            values["n_critic"] = int(c[0].number_input(_("D steps per G step"), value=cfg.n_critic, step=1,
                                                       help=_(FIELD_HELP["n_critic"])))
            values["label_smoothing"] = float(c[1].number_input(_("Label smoothing"), value=cfg.label_smoothing,
                                                                step=0.05, format="%g",
                                                                help=_(FIELD_HELP["label_smoothing"])))
            values["grad_clip"] = float(c[0].number_input(_("Gradient clipping"), value=cfg.grad_clip, step=0.5,
                                                          format="%g", help=_(FIELD_HELP["grad_clip"])))
            values["seed"] = int(c[1].number_input(_("Seed"), value=cfg.seed, step=1))
            values["r1_gamma"] = float(c[0].number_input(_("R1 weight"), value=cfg.r1_gamma, step=0.5, format="%g",
                                                         help=_(FIELD_HELP["r1_gamma"])))
            values["lr_decay"] = float(c[1].number_input(
                _("Learning-rate decay"), value=cfg.lr_decay, step=0.1, format="%g",
                help=_(FIELD_HELP["lr_decay"]) + " " + _("This panel trains {steps:,} steps.").format(
                    steps=cfg.max_steps)))
            values["r1_late"] = float(c[0].number_input(_("R1 late factor"), value=cfg.r1_late, step=0.1, min_value=0.0,
                                                        format="%g", help=_(FIELD_HELP["r1_late"])))
            values["latent_mixture"] = int(c[1].number_input(_("Latent mixture"), value=cfg.latent_mixture, step=10,
                                                             min_value=0, help=_(FIELD_HELP["latent_mixture"])))
            values["minibatch_discrimination"] = st.checkbox(_("Minibatch discrimination"),
                                                             value=cfg.minibatch_discrimination,
                                                             help=_(FIELD_HELP["minibatch_discrimination"]))
            values["spectral_norm"] = st.checkbox(_("Spectral norm on D"), value=cfg.spectral_norm,
                                                  help=_(FIELD_HELP["spectral_norm"]))
            if st.form_submit_button(_("Apply (restarts the panel)")):
                new_panel(i, state["preset"], **values)
                st.rerun()


with arena_tab:
    wanted = [p for p in st.query_params.get_all("panel") if p in PRESETS][:4]
    top = st.columns([2, 3, 2])
    n_panels = top[0].segmented_control(_("Panels"), [2, 3, 4], default=max(2, len(wanted)) if wanted else 2,
                                        key="arena_n") or 2
    top[1].pills(_("Show"), SHOW, selection_mode="multi", default=["D's surface"], key="arena_show",
                 format_func=gettext_now())
    top[2].select_slider(_("Steps per frame"), [1, 5, 10, 25, 50, 100], value=25, key="arena_speed")
    presets = list(PRESETS)
    chosen = []
    for i, col in enumerate(st.columns(n_panels)):
        with col:
            default = wanted[i] if i < len(wanted) else DEFAULT_PANELS[i]
            if f"arena_preset_{i}" not in st.session_state:
                st.session_state[f"arena_preset_{i}"] = default
            preset = st.selectbox(_("Panel {n}").format(n=i + 1), presets, key=f"arena_preset_{i}",
                                  format_func=lambda p, tr=gettext_now(): tr(PRESETS[p][0]))
            chosen.append(preset)
            state = st.session_state.get(f"arena_{i}")
            if state is None or state["preset"] != preset:
                new_panel(i, preset)
                state = st.session_state.get(f"arena_{i}")
            if f"arena_error_{i}" in st.session_state:
                st.error(st.session_state[f"arena_error_{i}"])
            if state is None:
                continue
            st.caption(_(PRESETS[preset][2]))
            settings_form(i, state)
            st.fragment(panel, run_every=FRAME_S if state["playing"] else None)(i)
            st.code(command_for(state["arena"].config, f"runs/arena-{preset}"), language="bash", wrap_lines=True)
    st.query_params["panel"] = chosen


# ---------------------------------------------------------------- image diversity

@st.cache_data(show_spinner=False, max_entries=32)
def diversity(path: str, mtime_ns: int, seed: int) -> tuple[dict, bytes]:
    G, meta = widgets.generator(path)
    num_classes = generator_classes(meta)
    labels = torch.arange(100) % num_classes if num_classes else None
    result = diversity_test(G, widgets.classifier(), n=100, seed=seed, labels=labels)
    return summary(result), png_bytes(diversity_grid_image(result, scale=3))


def histogram_figure(hist: list[int]) -> go.Figure:
    return go.Figure({"data": [{"type": "bar", "x": [str(d) for d in range(10)], "y": hist,
                                "marker": {"color": "#1f77b4"}}],
                      "layout": {"height": 200, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                                 "xaxis": {"title": {"text": _("digit the classifier reads")}},
                                 "yaxis": {"title": {"text": _("samples")}},
                                 "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": sum(hist) / 10,
                                             "y1": sum(hist) / 10, "line": {"dash": "dot", "color": "#d62728"}}],
                                 "annotations": [{"xref": "paper", "x": 1, "y": sum(hist) / 10, "text": _("even"),
                                                  "showarrow": False, "xanchor": "right", "yanchor": "bottom",
                                                  "font": {"color": "#d62728", "size": 11}}]}}, _validate=False)


def diversity_column(key: str, default: str | None) -> None:
    choice = widgets.checkpoint_picker(_("Generator"), key=key, families=("dcgan", "cgan", "gan"), default=default)
    if choice is None:
        return
    if choice["dataset"] not in ("mnist", "typeset"):
        st.warning(_("The diversity test reads digits; {model} was trained on {dataset}.").format(
            model=widgets.choice_label(choice), dataset=choice["dataset"]))
        return
    seed = int(st.number_input(_("Seed"), value=0, step=1, key=f"{key}_seed",
                               help=_("Another seed draws another 100 samples.")))
    try:
        mtime = os.stat(choice["path"]).st_mtime_ns
        figures, png = diversity(choice["path"], mtime, seed)
    except (CheckpointError, ValueError, OSError) as e:
        st.error(str(e))
        return
    m = st.columns(3)
    m[0].metric(_("Digits covered"), f"{figures['class_coverage']}/10")
    m[1].metric(_("KL to uniform"), f"{figures['class_kl_uniform']:.2f}",
                help=_("0 = every digit equally often; 2.30 = one digit only."))
    closest = figures["similar_pairs"][0][2] if figures["similar_pairs"] else 0.0
    m[2].metric(_("Closest pair"), f"{closest:.3f}",
                help=_("RMS pixel difference of the two most similar samples (median over all pairs: {median:.3f}); "
                       "framed in the grid.").format(median=figures["median_pair_distance"]))
    st.image(png, width="stretch", output_format="PNG")
    st.plotly_chart(histogram_figure(figures["class_histogram"]), key=f"{key}_hist",
                    config={"displayModeBar": False}, width="stretch")
    pairs = ", ".join(f"#{i}–#{j} ({d:.3f})" for i, j, d in figures["similar_pairs"])
    st.caption(_("Most similar pairs (sample numbers, row by row from 0): {pairs}.").format(pairs=pairs))


with images_tab:
    st.caption(_("The seeds' diversity test: 100 samples, each tagged with the digit our MNIST classifier reads. "
                 "A healthy generator covers all ten digits about equally; a collapsed one repeats a few."))
    shipped = pretrained.manifest()
    defaults = [str(pretrained.CHECKPOINTS_DIR / shipped[n]["file"]) if n in shipped else None
                for n in ("dcgan_mnist_collapsed", "dcgan_mnist_cured")]
    with st.container(key="diversity"):
        st.html("<style>.st-key-diversity img {image-rendering: pixelated;}</style>")
        left, right = st.columns(2)
        with left:
            diversity_column("diversity_a", defaults[0])
        with right:
            diversity_column("diversity_b", defaults[1])
    for name in ("dcgan_mnist_collapsed", "dcgan_mnist_cured"):
        if name in shipped:
            st.caption(f"**{shipped[name]['title']}**: `{shipped[name]['train_command']}`")
