"""Lessons: the guided course, one chapter at a time, each with its text and formula (studio.lessons), a live
widget on the shipped models (studio.lesson_widgets), a question for the class and a link to its full page.

The URL holds the view (?chapter=<slug>&present=1), so a teacher can put a chapter on a slide; present=1 is the
projector view: no sidebar or settings, large type, one chapter per 1280x720 screen, the arrow keys turn pages.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio import lesson_widgets, lessons, widgets
from studio.i18n import _, lesson_text

PAGES = Path(__file__).parent
URL_KEYS = ("chapter", "present")
s = st.session_state

# ---------------------------------------------------------------- URL <-> state

url = widgets.url_view(URL_KEYS)
if url != s.get("_lesson_url"):   # a link, the first visit or Back: the URL decides
    if url.get("chapter") and url["chapter"] not in lessons.SLUGS:
        st.warning(_("There is no chapter {slug!r}; here is the first one.").format(slug=url["chapter"]),
                   icon=":material/warning:")
    s["lesson_slug"] = lessons.SLUGS[lessons.chapter_index(url.get("chapter"))]
    s["lesson_present"] = url.get("present") == "1"
s.setdefault("lesson_slug", lessons.SLUGS[0])
s["lesson_present"] = s.get("lesson_present", False)   # re-set: a widget's state is dropped while it is not drawn
index = lessons.chapter_index(s["lesson_slug"])
chapters = lessons.chapters()
chapter = chapters[index]
present = s["lesson_present"]


def go(step: int) -> None:
    s["lesson_slug"] = lessons.SLUGS[min(max(index + step, 0), len(lessons.SLUGS) - 1)]


def pick() -> None:
    s["lesson_slug"] = s["lesson_pick"]


# ---------------------------------------------------------------- top bar: chapter, Previous / Next, projector

if present:
    lesson_widgets.projector_view()
with st.container(key="lesson_top"):
    if present:
        top = st.columns([6, 0.8, 1.3, 1.3, 1.7], vertical_alignment="center")
        top[0].markdown(f"## {chapter.title}")
        top[1].markdown(f"**{index + 1} / {len(chapters)}**")
    else:
        st.title(_("Lessons"))
        top = st.columns([3.4, 0.01, 1.5, 1.3, 2.1], vertical_alignment="bottom")
        s["lesson_pick"] = chapter.slug
        titles = {c.slug: f"{i + 1}. {c.title}" for i, c in enumerate(chapters)}
        top[0].selectbox(_("Chapter"), lessons.SLUGS, key="lesson_pick", format_func=titles.get, on_change=pick)
    top[2].button(_("Previous"), key="lesson_previous", icon=":material/arrow_back:", width="stretch",
                  disabled=index == 0, on_click=go, args=(-1,))
    top[3].button(_("Next"), key="lesson_next", icon=":material/arrow_forward:", width="stretch",
                  disabled=index == len(chapters) - 1, on_click=go, args=(1,))
    top[4].toggle(_("Projector view"), key="lesson_present",
                  help=_("Large type, no sidebar, one chapter per screen; the arrow keys turn the pages. "
                         "Also: add ?present=1 to the link."))

# ---------------------------------------------------------------- the chapter: text | live widget

text, live = st.columns([1, 1.25] if present else [1, 1.1], gap="large")
with live, st.container(key="lesson_widget"):
    lesson_widgets.pixelated()
    page, title, params = lesson_widgets.WIDGETS[chapter.slug](present)
with text, st.container(key="lesson_text"):
    if not present:
        st.subheader(f"{index + 1}. {chapter.title}")
    for paragraph in chapter.paragraphs:
        st.markdown(paragraph)
    st.latex(chapter.formula)
    st.markdown(f"**{_('Try this')}:** {chapter.try_this}")
    st.markdown(f"**{_('Question for the class')}:** {chapter.question}")
    with st.expander(_("Answer"), icon=":material/lightbulb:"):
        st.markdown(chapter.answer)
    st.page_link(str(PAGES / page), label=_("Open the full page: {title}").format(title=title),
                 icon=":material/open_in_new:", query_params=params or None)

widgets.set_url_view({"chapter": chapter.slug, "present": "1" if present else ""}, URL_KEYS, "_lesson_url")
if not present:
    st.caption(lesson_text("Every chapter opens by its link, e.g. ?chapter=cyclegan; add &present=1 for the "
                           "projector view."))
