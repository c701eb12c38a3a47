"""Translate: a CycleGAN turns typeset digits into handwriting and back. Pick a model and a
direction; translate your own digit (drawn or uploaded), a batch from the data set, or every font."""
from __future__ import annotations

import streamlit as st
import torch

from ganlib import translate as T
from ganlib.checkpoints import CheckpointError
from ganlib.pretrained import early_checkpoint, shipped_entry
from studio import widgets
from studio.i18n import N_, _, gettext_now

VIEWS = [N_("Your digit"), N_("A batch"), N_("Font gallery")]  # shown translated

st.title(_("Translate"))
st.html("<style>[class*='st-key-tr_'] img {image-rendering: pixelated;}</style>")

choice = widgets.checkpoint_picker(_("Model"), key="translate_model", families=("cyclegan",),
                                   help=_("CycleGAN checkpoints: the shipped typeset <-> handwriting model, or your "
                                          "runs."))
if choice is None:
    st.stop()
try:
    model = widgets.translator(choice["path"])
except CheckpointError as e:
    st.error(str(e), icon=":material/error:")
    st.stop()

a_name, b_name = model.domains
a_word, b_word = _(T.domain_word(a_name)), _(T.domain_word(b_name))
labels = {"a2b": f"{a_word} → {b_word}", "b2a": f"{b_word} → {a_word}"}
direction = st.segmented_control(_("Direction"), list(labels), default="a2b", format_func=labels.get,
                                 key="translate_direction") or "a2b"
src, dst = (a_word, b_word) if direction == "a2b" else (b_word, a_word)
fwd, back = ("G", "F") if direction == "a2b" else ("F", "G")
st.caption(_("CycleGAN is deterministic: one input gives one translation, every time, not a spread of samples. "
             "What its cycle loss buys instead is the round trip: {back}({fwd}(x)) comes back to x, so the "
             "translation has to keep what makes the input *this* digit. The red-to-yellow map shows where the round "
             "trip misses.").format(back=back, fwd=fwd))
measured = (shipped_entry(choice["path"]) or {}).get("evaluate", {})
if measured.get("handwriting_unseen"):   # a shipped model: what evaluate measured, the figures a class can check
    st.caption(_("Measured on {n} digits it never trained on, each way: {a2b} keeps the digit in {keep_ab:.1%} of "
                 "cases, and a {a}-vs-{b} judge takes {judged_ab:.0%} for {b}; {b2a} keeps {keep_ba:.1%}, and "
                 "{judged_ba:.0%} pass for {a}.").format(
        n=f"{measured['n']:,}", a2b=labels["a2b"], b2a=labels["b2a"], a=a_word, b=b_word,
        keep_ab=measured["label_a2b"], judged_ab=measured["judge_handwritten_a2b"],
        keep_ba=measured["label_b2a"], judged_ba=measured["judge_typeset_b2a"]))
view = st.segmented_control(_("Translate"), VIEWS, default=VIEWS[0], key="translate_view",
                            format_func=gettext_now()) or VIEWS[0]
digits = model.image_shape == (1, 28, 28)  # the MNIST classifier reads only 28x28 grey digits


def error_caption(x: torch.Tensor, rec: torch.Tensor) -> str:
    return _("cycle error |x − {back}({fwd}(x))| = **{error:.3f}** (pixels in [−1, 1])").format(
        back=back, fwd=fwd, error=float((rec - x).abs().mean()))


def round_trip_row(x: torch.Tensor, key: str, early=None) -> None:
    """input -> translation -> reconstruction -> error map for one image (1, C, H, W)."""
    y, rec = model.round_trip(x, direction)
    cols = st.columns(5 if early is not None else 4)
    with cols[0]:
        widgets.digit_image(x[0], _("input ({domain})").format(domain=src), width=168, reading=digits)
    with cols[1], st.container(key=f"tr_{key}_out"):
        widgets.digit_image(y[0], _("{fwd}(x): {domain}").format(fwd=fwd, domain=dst), width=168, reading=digits)
    with cols[2]:
        widgets.digit_image(rec[0], _("{back}({fwd}(x)): back to {domain}").format(back=back, fwd=fwd, domain=src),
                            width=168, reading=digits)
    with cols[3]:
        st.image(T.error_map_image(T.cycle_error_map(x, rec)[0], scale=6), width=168)
        st.caption(error_caption(x, rec))
    if early is not None:
        with cols[4]:
            widgets.digit_image(early.translate(x, direction)[0], _("{fwd}(x) early in training (step {step})").format(
                fwd=fwd, step=early.meta.get("step")), width=168, reading=digits)


early_path = early_checkpoint(choice["path"])
early = widgets.translator(early_path) if early_path is not None else None

if view == "Your digit":
    st.subheader(_("Your digit, {src} → {dst}").format(src=src, dst=dst))
    x = widgets.digit_input(key="translate_digit", label=_("Your digit"))
    if x is None:
        st.info(_("Draw a digit or upload an image of one: it is made white on black and centred at 28x28 like "
                  "MNIST, then translated {src} → {dst}.").format(src=src, dst=dst), icon=":material/draw:")
    elif tuple(x.shape) != model.image_shape:
        st.error(_("This model translates {shape} images; a drawn or uploaded digit is [1, 28, 28].").format(
                 shape=list(model.image_shape)),
                 icon=":material/error:")
    else:
        round_trip_row(x[None], "digit", early)
        if early is not None:
            st.caption(_("Right: the same input through the model at step {step} — the cycle loss has already "
                         "forced the digit's shape through, long before the style is learnt.").format(
                step=early.meta.get("step")))

elif view == "A batch":
    domain = a_name if direction == "a2b" else b_name
    seed = st.number_input(_("Batch seed"), 0, 10_000, 0, key="translate_seed")
    try:
        x, y_true = T.domain_batch(domain, 10, int(seed), size=model.image_shape[-1])
    except ValueError as e:
        st.error(str(e), icon=":material/error:")
        st.stop()
    out, rec = model.round_trip(x, direction)
    if domain == "typeset":
        st.subheader(_("10 {src} digits (in fonts held out of training) → {dst} → back").format(src=src, dst=dst))
    else:
        st.subheader(_("10 {src} digits → {dst} → back").format(src=src, dst=dst))
    st.image(widgets.crisp_png(torch.cat([x, out, rec]), scale=3, nrow=10), output_format="PNG")
    st.caption(_("Rows: input, {fwd}(x), {back}({fwd}(x)).").format(fwd=fwd, back=back) + " " + error_caption(x, rec))
    if digits:
        read = [widgets.classifier_reading(img)[0] for img in out]
        kept = sum(int(r == int(t)) for r, t in zip(read, y_true))
        st.markdown(_("Classifier reads the translations as: {readings} — **{kept}/10** keep their digit.").format(
            readings=" · ".join(f"**{r}**" if r == int(t) else _("~~{read}~~ (was {digit})").format(read=r, digit=int(t))
                                for r, t in zip(read, y_true)), kept=kept))
    st.subheader(_("Identity: {fwd} on digits that are already {dst}").format(fwd=fwd, dst=dst))
    other = b_name if direction == "a2b" else a_name
    try:
        xb = T.domain_batch(other, 10, int(seed), size=model.image_shape[-1])[0]
        idt = model.identity(xb, direction)
        st.image(widgets.crisp_png(torch.cat([xb, idt]), scale=3, nrow=10), output_format="PNG")
        st.caption(_("Top: {dst} digits; bottom: {fwd} applied to them, mean change **{change:.3f}**. The identity "
                     "loss asks {fwd} to leave its own domain alone, so it changes only what makes an image "
                     "{src}-like, not everything.").format(dst=dst, fwd=fwd, src=src,
                                                           change=float((idt - xb).abs().mean())))
    except ValueError as e:
        st.info(str(e), icon=":material/info:")

else:
    if a_name != "typeset":
        st.info(_("The font gallery shows typeset digits; this model translates {a} ↔ {b}.").format(a=a_word, b=b_word),
                icon=":material/info:")
        st.stop()
    names, typed, translated, round_trips, readings = widgets.font_gallery(choice["path"])
    st.subheader(_("0–9 in every font → {domain}").format(domain=b_word))
    st.caption(_("Each font: the typed digits, their translations and the round trip back. Fonts marked 'held out' "
                 "were never seen in training. Under each: what the MNIST classifier reads in the translations "
                 "(struck through where it differs from the typed digit)."))
    for i, (name, x, y, r) in enumerate(zip(names, typed, translated, round_trips)):
        with st.container(key=f"tr_font_{i}"):
            st.markdown("**" + name.replace(" (held out)", _(" (held out)")) + "**")
            st.image(widgets.crisp_png(torch.cat([x, y, r]), scale=2, nrow=10), output_format="PNG")
            if readings is not None:
                read = readings[i]
                st.caption(" · ".join(str(r) if r == d else f"~~{r}~~" for d, r in enumerate(read))
                           + f" — {sum(r == d for d, r in enumerate(read))}/10")
