"""Mode-collapse lab: a 2-D arena of small GANs trained live side by side (each with its own remedy),
and the 100-sample diversity test for any digit generator, e.g. the shipped collapsed and cured DCGANs.

The arena steps its tiny models in this process with ganlib's own training step (ganlib.arena);
each panel's models live in st.session_state, so every browser session has its own.
"""
from __future__ import annotations

import streamlit as st

from ganlib import pretrained
from ganlib.arena import PRESETS
from ganlib.config import command_for
from ganlib.fieldhelp import FIELD_HELP
from studio import widgets
from studio.i18n import N_, _, gettext_now

FRAME_S = 0.5                       # seconds between frames of a playing panel
DEFAULT_PANELS = ["vanilla-ring", "pacgan-ring", "vanilla-grid", "deligan-grid"]

st.title(_("Mode-collapse lab"))
st.caption(_("Watch a GAN collapse onto a few modes of a 2-D mixture and compare the cures side by side; "
             "then measure the diversity of any digit generator with the 100-sample test."))
arena_tab, images_tab = st.tabs([_("2-D arena"), _("Image diversity")])
SHOW = [N_("D's surface"), N_("G's gradient")]  # the pills' values (English), shown translated


# ---------------------------------------------------------------- 2-D arena

def new_panel(i: int, preset: str, **overrides) -> None:
    widgets.new_arena(i, preset, **overrides)


def panel(i: int) -> None:
    """One arena (studio.widgets.arena_panel, shared with the Lessons page): controls, D's surface under real
    and generated points, coverage over time."""
    widgets.arena_panel(i, speed=st.session_state.get("arena_speed", 25),
                        show=st.session_state.get("arena_show", ["D's surface"]),
                        two_rows=(st.session_state.get("arena_n") or 2) > 2)


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

def history_section(recorded: dict[str, list[tuple[dict, bytes]]]) -> None:
    """The pair as it trained (studio.widgets.collapse_history, shared with the Lessons page)."""
    st.subheader(_("The collapse, step by step"))
    st.caption(_("Both runs of the pair as they trained, from the same fixed noise at every step, with the digits "
                 "our classifier read in each evaluation's samples. Slide through the steps: the collapsed run "
                 "draws the same one or few images for every z while the cured one draws all ten digits."))
    widgets.collapse_history(recorded, key="history")


with images_tab:
    st.caption(_("The seeds' diversity test: 100 samples, each tagged with the digit our MNIST classifier reads. "
                 "A healthy generator covers all ten digits about equally; a collapsed one repeats a few."))
    shipped = pretrained.manifest()
    defaults = [str(pretrained.CHECKPOINTS_DIR / shipped[n]["file"]) if n in shipped else None
                for n in widgets.COLLAPSE_PAIR]
    with st.container(key="diversity"):
        st.html("<style>.st-key-diversity img {image-rendering: pixelated;}</style>")
        left, right = st.columns(2)
        with left:
            widgets.diversity_column("diversity_a", defaults[0])
        with right:
            widgets.diversity_column("diversity_b", defaults[1])
    for name in widgets.COLLAPSE_PAIR:
        if name in shipped:
            st.caption(f"**{shipped[name]['title']}**: `{shipped[name]['train_command']}`")
    recorded = widgets.recorded_histories()
    if recorded:
        history_section(recorded)
