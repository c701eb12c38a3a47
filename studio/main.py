"""GAN Studio's Streamlit script (app.py serves it): the navigation over the pages and the home page.

The pages live in studio/app_pages/, not studio/pages/: with a pages/ folder beside this script Streamlit
runs its first script run after a start as an old-style multipage app (sidebar of file names, and a direct
link such as /latent answered "Page not found"). ganlib and torch are imported by the pages (and the home
page) themselves, after st.navigation, so the sidebar's titles paint before any heavy import.
"""
from pathlib import Path

import streamlit as st

from studio.i18n import _, language_toggle

HERE = Path(__file__).parent
# (file, title, icon, what it is for); a page is listed only once its file exists. A literal list (the e2e tests
# read it without running the app): the titles and texts are translated where they are drawn, and babel.cfg
# extracts them through studio.i18n.extract_main
PAGES = [
    ("app_pages/0_Lessons.py", "Lessons", ":material/school:",
     "The guided course in nine chapters, from the two-player game to StyleGAN, CycleGAN and measuring a GAN: "
     "a formula, a live widget on the shipped models and a question for the class in each; a projector view."),
    ("app_pages/1_Train.py", "Train & monitor", ":material/monitoring:",
     "Launch GAN, DCGAN, CGAN, CycleGAN or StyleGAN training in the background and watch it live: loss curves, D(x) vs "
     "D(G(z)), samples from fixed noise, a training doctor. Pause, stop, resume, compare and replay runs."),
    ("app_pages/2_Latent.py", "Latent explorer", ":material/explore:",
     "Open any generator (shipped or your run) and steer it: direction sliders (PCA, closed-form, "
     "attribute), truncation, interpolation, and inversion of a digit you draw or upload."),
    ("app_pages/3_Style.py", "Style studio", ":material/palette:",
     "Open a StyleGAN and see what each layer does: style mixing between two rows of digits (coarse, middle, "
     "fine or any layer range), per-layer-group style sliders, noise strength and resampling, truncation "
     "beside the mean-w image, and any layer's feature maps."),
    ("app_pages/4_Translate.py", "Translate", ":material/translate:",
     "Turn typeset digits into handwriting and back with a CycleGAN: your own drawn or uploaded digit, a "
     "batch, every font; the round trip's error map, the identity mapping, an early checkpoint beside the final."),
    ("app_pages/5_Mode_collapse.py", "Mode-collapse lab", ":material/scatter_plot:",
     "Watch a GAN collapse onto a few modes of a 2-D mixture and compare the cures side by side; "
     "measure the diversity of any image generator."),
]


def home_page() -> None:
    from studio import home  # imports torch (through ganlib): only once the sidebar is sent

    home.home([(page, _(title), icon, _(text)) for page, (__, title, icon, text) in zip(pages, listed)])


# an emoji favicon is drawn locally; a :material/...: one is fetched from fonts.gstatic.com (the app runs offline)
st.set_page_config(page_title="GAN Studio", page_icon="✨", layout="wide")
language_toggle()  # before the titles: a switch re-draws the sidebar in the new language at once
listed = [p for p in PAGES if (HERE / p[0]).exists()]
pages = [st.Page(str(HERE / path), title=_(title), icon=icon, url_path=Path(path).stem.split("_", 1)[-1].lower())
         for path, title, icon, __ in listed]
st.navigation([st.Page(home_page, title=_("Home"), icon=":material/home:", default=True), *pages]).run()
