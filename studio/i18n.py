"""The app's languages (English, Simplified Chinese) through gettext catalogues.

Placeholder until the catalogues land: every text comes back as given. Two domains: "studio" (the pages and
shared widgets, `_`) and "lessons" (the Lessons page's course text, `lesson_text`)."""
from __future__ import annotations


def _(message: str) -> str:
    """`message` in the session's language (the gettext convention: `_` marks a string for extraction)."""
    return message


def lesson_text(message: str) -> str:
    """A string of the Lessons course (domain "lessons") in the session's language."""
    return message
