"""The live widget of each Lessons chapter (WIDGETS: slug -> function), and the projector view's look and
arrow keys. Every widget calls what the other pages use (studio.widgets, studio.figures, ganlib) and the
shipped models in checkpoints/, loaded once per server; none has an arena, a slider view or a gallery of
its own.

A widget takes `present` (the projector view: larger images, smaller charts) and returns the full page's
link as (page file under studio/app_pages/, its title, query parameters that carry the widget's state).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from ganlib import latent as L
from ganlib import pretrained
from ganlib import style as S
from ganlib.arena import PRESETS
from studio import figures, widgets
from studio.i18n import N_, _, gettext_now

WEB = Path(__file__).parent / "web"
FRAME_S = 0.5                                  # seconds between frames of a playing arena (the lab's pace)
SLIDER_RANGE = 5.0                             # the Latent explorer's: steps along a unit direction
STRIP_VALUES = tuple(torch.linspace(-SLIDER_RANGE, SLIDER_RANGE, 7).tolist())
REMEDIES = ("vanilla-ring", "pacgan-ring", "mbd-ring", "wgan-gp-ring", "r1-decay-ring")
# the class's remedy while the Digits view hides its select box: Streamlit drops an undrawn widget's state, and a
# value put back through session state is used but not shown (the box came back reading the first remedy)
REMEDY_KEPT = "lesson_remedy_kept"
COLLAPSE_VIEWS = (N_("2-D game"), N_("Digits"))  # the collapse chapter's two views (values stay English)
STYLE_A, STYLE_B = (0, 1, 2, 3), (100, 101, 102)   # the Style studio's default seeds

Link = tuple[str, str, dict]


def shipped(name: str) -> str:
    return str(pretrained.pretrained_path(name))


def pixelated() -> None:
    st.html("<style>.st-key-lesson_widget img {image-rendering: pixelated;}</style>")


# ---------------------------------------------------------------- the game and mode collapse: the 2-D arena

def ensure_arena(key: str, preset: str) -> dict | None:
    """session_state's arena for `key`, made afresh when there is none or it has another preset."""
    state = st.session_state.get(f"arena_{key}")
    if state is None or state["preset"] != preset:
        widgets.new_arena(key, preset)
        state = st.session_state.get(f"arena_{key}")
    if f"arena_error_{key}" in st.session_state:
        st.error(st.session_state[f"arena_error_{key}"])
    return state


def arena(key: str, preset: str, present: bool) -> None:
    """The Mode-collapse lab's arena panel (studio.widgets.arena_panel) for one preset, playing by frames."""
    state = ensure_arena(key, preset)
    if state is not None:
        st.fragment(widgets.arena_panel, run_every=FRAME_S if state["playing"] else None)(
            key, speed=25, save=False, coverage=False, height=330 if present else 380)


def game(present: bool) -> Link:
    arena("lesson_game", "vanilla-ring", present)
    st.caption(_("The background is D's output: blue where D says real, red where it says fake. Green: real "
                 "points; purple: G's samples."))
    return "5_Mode_collapse.py", _("Mode-collapse lab"), {"panel": ["vanilla-ring", "pacgan-ring"]}


def train_steps(state: dict, n: int) -> None:
    state["arena"].train(n)
    state["previous"] = None


def collapse(present: bool) -> Link:
    """The 2-D game with a remedy of the class's choice, trained live; or the shipped DCGAN pair's recorded
    training (studio.widgets.collapse_history): one crisp 8 for every z against all ten digits."""
    recorded = widgets.recorded_histories()
    # the view's switch, then the remedy and its button; on the projector all three share one row, so its 720 px
    # still hold the arena (the page's narrower column gives the switch a row of its own)
    switch = None
    if recorded and present:
        switch, *c = st.columns([1.6, 2.2, 1.5], vertical_alignment="bottom")
    elif recorded:
        switch, c = st.container(), st.columns([3, 1.4], vertical_alignment="bottom")
    else:
        c = st.columns([3, 1.4], vertical_alignment="bottom")
    view = None if switch is None else switch.segmented_control(
        _("Show"), COLLAPSE_VIEWS, default=COLLAPSE_VIEWS[0], key="lesson_collapse_view", format_func=gettext_now())
    if view == COLLAPSE_VIEWS[1]:
        widgets.collapse_history(recorded, key="lesson_history", compact=True, image_width=240 if present else 280)
        return "5_Mode_collapse.py", _("Mode-collapse lab"), {}
    kept = st.session_state.get(REMEDY_KEPT, REMEDIES[0])
    remedy = c[0].selectbox(_("Remedy"), REMEDIES, index=REMEDIES.index(kept), key="lesson_remedy",
                            format_func=lambda p: PRESETS[p][0])
    st.session_state[REMEDY_KEPT] = remedy
    state = ensure_arena("lesson_collapse", remedy)
    if state is not None:
        c[1].button(_("Train 250 steps"), key="lesson_collapse_train", icon=":material/fast_forward:",
                    width="stretch", on_click=train_steps, args=(state, 250), disabled=state["playing"])
    arena("lesson_collapse", remedy, present)
    st.caption(PRESETS[remedy][2])
    return "5_Mode_collapse.py", _("Mode-collapse lab"), {"panel": ["vanilla-ring", remedy] if remedy != "vanilla-ring"
                                                          else ["vanilla-ring", "pacgan-ring"]}


def training(present: bool) -> Link:
    """The arena's own metrics rows (the loop's, logged every 50 steps) drawn as the Train page draws a run's."""
    key = "lesson_training"
    if st.session_state.get(f"arena_{key}") is None:
        widgets.new_arena(key, "vanilla-ring")
        train_steps(st.session_state[f"arena_{key}"], 250)
    state = st.session_state[f"arena_{key}"]
    b = st.columns(2)
    b[0].button(_("Train 250 steps"), key="lesson_training_train", icon=":material/fast_forward:", width="stretch",
                on_click=train_steps, args=(state, 250))
    b[1].button(_("Reset"), key="lesson_training_reset", icon=":material/restart_alt:", width="stretch",
                on_click=lambda: st.session_state.pop(f"arena_{key}", None))
    rows = state["arena"].train_rows
    height = 225 if present else 300
    for fig, name in ((figures.d_outputs_figure(rows), "d"), (figures.loss_figure(rows), "loss")):
        fig.update_layout(height=height)
        st.plotly_chart(fig, key=f"lesson_training_{name}", config={"displayModeBar": False}, width="stretch")
    ev = state["arena"].eval_rows[-1]
    st.caption(_("The 2-D GAN of the first chapter, step {step}: modes covered {covered}/{modes}. The Train page "
                 "draws a real run's curves the same way.").format(step=f"{state['arena'].step:,}",
                                                                    covered=ev["modes_covered"], modes=ev["num_modes"]))
    return "1_Train.py", _("Train & monitor"), {}


# ---------------------------------------------------------------- DCGAN's layers

def dcgan(present: bool) -> Link:
    import json

    from ganlib.config import TrainConfig
    from ganlib.modelcard import transposed_conv_size
    from studio.train_form import model_card

    size = st.segmented_control(_("Image size"), [28, 32], default=28, key="lesson_dcgan_size") or 28
    model_card(json.dumps({**json.loads(TrainConfig(model="dcgan", dataset="mnist").to_json()),
                           "image_size": size}), "lesson", nets=("G",), only=("ConvTranspose2d",), caption=False)
    st.caption(_("G's transposed convolutions (batch norms and activations keep the size), read from the network "
                 "the Train page would build."))
    st.markdown(_("**Calculator**: one transposed convolution"))
    c = st.columns(5, vertical_alignment="bottom")
    h_in = c[0].number_input(_("Input size"), 1, 256, 4, key="lesson_conv_in")
    k = c[1].number_input(_("Kernel k"), 1, 9, 4, key="lesson_conv_k")
    s = c[2].number_input(_("Stride s"), 1, 4, 2, key="lesson_conv_s")
    p = c[3].number_input(_("Padding p"), 0, 4, 1, key="lesson_conv_p")
    try:
        c[4].metric(_("Output size"), transposed_conv_size(int(h_in), int(k), int(s), int(p)))
    except ValueError as e:
        c[4].error(str(e))
    return "1_Train.py", _("Train & monitor"), {}


# ---------------------------------------------------------------- the conditional GAN

@st.cache_data(show_spinner=False, max_entries=64)
def cgan_rows(path: str, mtime_ns: int, seed: int, label: int) -> tuple[bytes, bytes, torch.Tensor]:
    """(one z in every class, ten seeds of one class, the chosen image (1, 28, 28))."""
    G, _meta = widgets.generator(path)
    z = L.sample_latents(G, 1, seed)
    with L.torch_threads(1):
        every_class = L.render(G, z.repeat(10, 1), list(range(10)))
        every_seed = L.render(G, torch.cat([L.sample_latents(G, 1, seed + i) for i in range(10)]), [label] * 10)
    return (widgets.crisp_png(every_class, scale=2, nrow=10), widgets.crisp_png(every_seed, scale=2, nrow=10),
            every_class[label])


def cgan(present: bool) -> Link:
    path = shipped("cgan_mnist")
    mtime = Path(path).stat().st_mtime_ns
    c = st.columns([3, 1.2], vertical_alignment="bottom")
    label = c[0].segmented_control(_("Class"), list(range(10)), default=3, key="lesson_cgan_class")
    label = 3 if label is None else int(label)
    seed = int(c[1].number_input(_("Seed"), 0, 2**31 - 1, 0, key="lesson_cgan_seed"))
    every_class, every_seed, image = cgan_rows(path, mtime, seed, label)
    left, right = st.columns([1, 2.2], vertical_alignment="center")
    with left:
        widgets.digit_image(image, _("seed {seed}, class {label}").format(seed=seed, label=label),
                            width=200 if present else 168)
    with right:
        st.image(every_class, width="stretch", output_format="PNG")
        st.caption(_("The same z (seed {seed}) in every class: the style stays, the digit changes.").format(seed=seed))
        st.image(every_seed, width="stretch", output_format="PNG")
        st.caption(_("Ten seeds of class {label}: the digit stays, the style changes.").format(label=label))
    return "2_Latent.py", _("Latent explorer"), {"model": "cgan_mnist", "view": "explore", "seed": str(seed),
                                                 "class": str(label)}


# ---------------------------------------------------------------- the latent space

def latent(present: bool) -> Link:
    path = shipped("dcgan_mnist")
    G, _meta = widgets.generator(path)
    mtime = Path(path).stat().st_mtime_ns
    dirs = widgets.latent_directions(path, mtime, "sefa")
    c = st.columns([2, 1.2], vertical_alignment="bottom")
    index = c[0].selectbox(_("Direction"), list(range(5)), key="lesson_latent_dir",
                           format_func=lambda i: f"{dirs.names[i]} · {dirs.score_name} {dirs.scores[i]:.1%}"
                           if dirs.score_name else dirs.names[i])
    seed = int(c[1].number_input(_("Seed"), 0, 2**31 - 1, 0, key="lesson_latent_seed"))
    alpha = st.slider(_("Step α along the direction"), -SLIDER_RANGE, SLIDER_RANGE, 0.0, step=0.25,
                      key="lesson_latent_alpha")
    z = L.steer(L.sample_latents(G, 1, seed)[0], dirs.vectors[[index]], [alpha])
    left, right = st.columns([1, 2], vertical_alignment="center")
    with left, L.torch_threads(1):
        widgets.digit_image(L.render(G, z[None])[0], f"α = {alpha:g}", width=200 if present else 168)
    with right:
        st.image(widgets.direction_strip_png(path, mtime, seed, "", None, "sefa", index, 1.0, STRIP_VALUES),
                 width="stretch", output_format="PNG")
        st.caption(_("Where the slider leads: α from {lo:g} to {hi:g}.").format(lo=STRIP_VALUES[0],
                                                                               hi=STRIP_VALUES[-1]))
    amounts = [0.0] * 5
    amounts[index] = alpha
    d = ",".join(f"{a:g}" for a in amounts) if alpha else ""
    return "2_Latent.py", _("Latent explorer"), {"model": "dcgan_mnist", "view": "explore", "seed": str(seed),
                                                 "kind": "sefa", **({"d": d} if d else {})}


# ---------------------------------------------------------------- StyleGAN's style mixing

def stylegan(present: bool) -> Link:
    path = shipped("stylegan_mnist")
    mtime = Path(path).stat().st_mtime_ns
    groups = {_("Coarse 4–8"): "coarse", _("Middle 16"): "middle", _("Fine 32"): "fine"}
    st.session_state.setdefault("lesson_style_seeds", (STYLE_A, STYLE_B))
    c = st.columns([3, 1], vertical_alignment="bottom")
    picked = c[0].segmented_control(_("Layers from A"), list(groups), default=list(groups)[0],
                                    key="lesson_style_group") or list(groups)[0]
    lo, hi = S.GROUPS[groups[picked]]

    def reroll() -> None:
        k = st.session_state.get("lesson_style_roll", 0) + 1
        st.session_state["lesson_style_roll"] = k
        st.session_state["lesson_style_seeds"] = (tuple(1000 * k + i for i in range(4)),
                                                  tuple(1000 * k + 500 + i for i in range(3)))

    c[1].button(_("New seeds"), key="lesson_style_reroll", icon=":material/casino:", on_click=reroll,
                width="stretch")
    seeds_a, seeds_b = st.session_state["lesson_style_seeds"]
    figs = widgets.style_mixing(path, mtime, seeds_a, seeds_b, lo, hi)
    st.image(figs["grid"], width=460 if present else 420, output_format="PNG")
    st.caption(_("Top row: A; left column: B. Each cell takes the {lo}–{hi} px layers from its column's A and the "
                 "others from its row's B.").format(lo=lo, hi=hi))
    return "3_Style.py", _("Style studio"), {"model": "stylegan_mnist", "view": "mixing",
                                             "a": ",".join(map(str, seeds_a)), "b": ",".join(map(str, seeds_b)),
                                             "layers": f"{lo}-{hi}" if lo != hi else str(lo)}


# ---------------------------------------------------------------- CycleGAN

def cyclegan(present: bool) -> Link:
    from ganlib import translate as T

    model = widgets.translator(shipped("cyclegan_typeset_mnist"))
    a_name, b_name = model.domains
    words = {"a2b": f"{T.domain_word(a_name)} → {T.domain_word(b_name)}",
             "b2a": f"{T.domain_word(b_name)} → {T.domain_word(a_name)}"}
    c = st.columns([3, 1.3], vertical_alignment="bottom")
    direction = c[0].segmented_control(_("Direction"), list(words), default="a2b", format_func=words.get,
                                       key="lesson_cycle_direction") or "a2b"
    c[1].button(_("Another batch"), key="lesson_cycle_next", icon=":material/casino:", width="stretch",
                on_click=lambda: st.session_state.update(
                    lesson_cycle_seed=st.session_state.get("lesson_cycle_seed", 0) + 1))
    seed = st.session_state.get("lesson_cycle_seed", 0)
    x, y_true = T.domain_batch(a_name if direction == "a2b" else b_name, 8, seed, size=model.image_shape[-1])
    out, rec = model.round_trip(x, direction)
    fwd, back = ("G", "F") if direction == "a2b" else ("F", "G")
    st.image(widgets.crisp_png(torch.cat([x, out, rec]), scale=3, nrow=8), width="stretch", output_format="PNG")
    kept = sum(int(widgets.classifier_reading(img)[0] == int(t)) for img, t in zip(out, y_true))
    st.caption(_("Rows: input x, {fwd}(x), {back}({fwd}(x)). Cycle error |x − {back}({fwd}(x))| = **{err:.3f}**; "
                 "the classifier reads the same digit in **{kept}/8** translations.").format(
        fwd=fwd, back=back, err=float((rec - x).abs().mean()), kept=kept))
    return "4_Translate.py", _("Translate"), {}


# ---------------------------------------------------------------- measuring: the diversity test and FID

def measuring(present: bool) -> Link:
    models = pretrained.manifest()
    figures_ = widgets.diversity_column("lesson_diversity", shipped("dcgan_mnist_collapsed"), histogram=False,
                                        pairs=False, image_width=280 if present else 340, compact=True)
    chosen = st.session_state.get("lesson_diversity")
    entry = next((e for n, e in models.items() if chosen and Path(chosen).name == e["file"]), None)
    if figures_ is not None and entry and entry.get("evaluate"):
        ev = entry["evaluate"]
        c = st.columns(3)
        c[0].metric(_("FID"), f"{ev['fid']:.2f}", help=_("On our MNIST classifier's features, 10,000 samples."))
        c[1].metric(_("MNIST score (IS)"), f"{ev['mnist_score']:.2f}",
                    help=_("The Inception Score on our classifier; real MNIST scores {real:.2f}.").format(
                        real=ev.get("real_mnist_score", float("nan"))))
        c[2].metric(_("Digits in 10,000"), f"{ev['class_coverage']}/10")
    return "5_Mode_collapse.py", _("Mode-collapse lab"), {}


WIDGETS = {"game": game, "dcgan": dcgan, "training": training, "cgan": cgan, "collapse": collapse, "latent": latent,
           "stylegan": stylegan, "cyclegan": cyclegan, "measuring": measuring}


# ---------------------------------------------------------------- the projector view

PROJECTOR_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] {display: none !important;}
.stMain .block-container, [data-testid="stMainBlockContainer"] {padding: 0.6rem 1.6rem 1rem 1.6rem !important;
  max-width: 100% !important;}
.st-key-lesson_text p, .st-key-lesson_text li {font-size: 1.15rem; line-height: 1.45;}
.st-key-lesson_text .katex {font-size: 1.3em;}
.st-key-lesson_top h2 {font-size: 2rem; padding: 0;}
.st-key-lesson_widget p, .st-key-lesson_widget label p {font-size: 1.05rem;}
</style>"""

_arrow_keys = st.components.v2.component("gan_studio.lesson_keys", js=(WEB / "lesson_keys.js").read_text("utf-8"),
                                         isolate_styles=False)


def projector_view() -> None:
    """The projector view's look (no sidebar, no toolbar, large type) and the left/right arrow keys, which
    press the page's Previous and Next buttons (studio/web/lesson_keys.js; no network, no iframe)."""
    st.html(PROJECTOR_CSS)
    _arrow_keys(key="lesson_keys", data={"previous": "lesson_previous", "next": "lesson_next"})
