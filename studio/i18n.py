"""The app's languages (English, Simplified Chinese) through gettext catalogues.

The source text is English and is the message id; the Chinese lives in PO files under studio/locale/zh/
LC_MESSAGES/, one per domain: "studio" (the pages and shared widgets: `_`, and `N_` for a constant translated
where it is drawn) and "lessons" (the Lessons page's course text: `lesson_text`, and `N_lesson`). The PO files
are read with Babel once per process (no compiled .mo files in git); scripts/i18n.sh extracts the messages
(babel.cfg) and updates the PO files, and tests/test_i18n.py fails on a message without a translation.

A browser session's language is `?lang=zh` / `?lang=en` in the URL, else the one kept in session state
(LANG_KEY), else English; language_toggle() (drawn by studio/main.py on every page) sets both. Outside a
script run (the JSON API, tests of pure functions) it is English unless `use_language` says otherwise.

    from studio.i18n import _
    st.button(_("Start"))
    st.caption(_("Found in {seconds:.1f} s.").format(seconds=t))   # placeholders stay in the message
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import io
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "zh")   # the first is the source language and the default
DOMAINS = ("studio", "lessons")
KEYWORDS = {"studio": ("_", "N_"), "lessons": ("lesson_text", "N_lesson")}  # each domain's markers (babel.cfg)
LANG_PARAM = "lang"        # the URL's query parameter, kept by every page that rewrites its URL
LANG_KEY = "lang"          # session state: the language chosen last in this browser session
_forced: contextvars.ContextVar[str | None] = contextvars.ContextVar("studio_language", default=None)


@functools.cache
def translations(lang: str, domain: str) -> gettext.NullTranslations:
    """The catalogue of one language and domain, read from its PO file once per process (fuzzy and empty
    entries fall back to the English); a missing file gives the English."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    if lang == LANGUAGES[0] or not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)   # the in-memory binary catalogue gettext reads
    buf.seek(0)
    return Translations(buf, domain=domain)


def valid(lang: object) -> str | None:
    """`lang` if it is one of LANGUAGES ('zh-CN' and 'ZH' count as 'zh'), else None."""
    text = str(lang or "").strip().lower().split("-")[0].split("_")[0]
    return text if text in LANGUAGES else None


def language() -> str:
    """The language of the current browser session (see the module's docstring)."""
    if forced := _forced.get():
        return forced
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:   # no browser session: the API, a test of a function
        return LANGUAGES[0]
    import streamlit as st

    return valid(st.query_params.get(LANG_PARAM)) or valid(st.session_state.get(LANG_KEY)) or LANGUAGES[0]


@contextlib.contextmanager
def use_language(lang: str | None):
    """Within the block, texts are in `lang` (an unknown or None one: English), whatever the session says
    (the JSON API answers in the language the page asked for)."""
    token = _forced.set(valid(lang) or LANGUAGES[0])
    try:
        yield
    finally:
        _forced.reset(token)


def _(message: str) -> str:
    """`message` in the session's language (the gettext convention: `_` marks a string for extraction)."""
    return translations(language(), "studio").gettext(message) if message else message


def gettext_now(domain: str = "studio"):
    """`_` bound to the session's language as it is now: the format_func of a widget, which Streamlit (and
    AppTest) may call again outside the script run, where the session's language cannot be read."""
    catalogue = translations(language(), domain)
    return lambda message: catalogue.gettext(message) if message else message


def N_(message: str) -> str:
    """Marks a constant for extraction without translating it (it is translated with `_` where it is drawn)."""
    return message


def lesson_text(message: str) -> str:
    """A string of the Lessons course (domain "lessons") in the session's language."""
    return translations(language(), "lessons").gettext(message) if message else message


def N_lesson(message: str) -> str:
    """Marks a constant of the Lessons course for extraction (domain "lessons"); translate it with lesson_text."""
    return message


def extract_main(fileobj, keywords, comment_tags, options):
    """Babel's extraction method for studio/main.py (babel.cfg): its marked messages, and for the studio domain
    (keyword N_) the titles and texts of PAGES, a literal list that the e2e tests read without running the app."""
    import ast

    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    if "N_" not in keywords:
        return
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            for entry in node.value.elts:
                _path, title, _icon, text = ast.literal_eval(entry)
                yield entry.lineno, None, title, []
                yield entry.lineno, None, text, []


# ---------------------------------------------------------------- the language switch

NAMES = {"en": "English", "zh": "中文"}   # each language named in itself, never translated


def _chosen() -> None:
    import streamlit as st

    lang = "zh" if st.session_state.get("lang_toggle") else "en"
    st.session_state[LANG_KEY] = lang
    st.query_params[LANG_PARAM] = lang


def language_toggle() -> str:
    """The sidebar's language switch, drawn by studio/main.py on every page: its choice goes into the URL
    (`?lang=`, so a link opens in it) and into session state (so it survives a page that rewrites its URL).
    Returns the language in force."""
    import streamlit as st

    lang = language()
    st.session_state[LANG_KEY] = lang
    if lang != LANGUAGES[0] and st.query_params.get(LANG_PARAM) != lang:
        st.query_params[LANG_PARAM] = lang   # a page that rewrote its URL dropped it: the link keeps the language
    st.session_state["lang_toggle"] = lang == "zh"
    st.sidebar.toggle(NAMES["zh"], key="lang_toggle", on_change=_chosen,
                      help=f"{NAMES['en']} / {NAMES['zh']}")
    return lang
