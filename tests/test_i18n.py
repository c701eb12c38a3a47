"""The translation catalogues (studio/i18n.py, studio/locale): every message the source marks is translated
into Chinese with the same placeholders, the PO files parse, and the app switches language by URL and toggle.

The messages are extracted here with Babel's own API and the same mapping as scripts/i18n.sh (babel.cfg), so a
new visible text fails this test until it is translated: run scripts/i18n.sh, fill in the empty msgstr."""
from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from studio import i18n

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "studio" / "main.py")
PAGES = ROOT / "studio" / "app_pages"


def source_messages(domain: str) -> dict[str, list[str]]:
    """{msgid: ["file:line", ...]} of every message marked for `domain` in the source (babel.cfg's files)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    keywords = {k: None for k in i18n.KEYWORDS[domain]}
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map,
                                                                           keywords=keywords):
        assert isinstance(message, str), f"{filename}:{lineno}: a plural or context message ({message!r})"
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def po_path(lang: str, domain: str) -> Path:
    return i18n.LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def placeholders(text: str) -> set[str]:
    """The str.format fields of a message, as written ({count:,}, {model!r}, ...)."""
    fields = set()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields.add("{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return fields


def catalogue_problems(lang: str, domain: str) -> list[str]:
    messages = source_messages(domain)
    path = po_path(lang, domain)
    if not path.exists():
        return [f"{path.relative_to(ROOT)} is missing for {len(messages)} message(s)"] if messages else []
    with path.open("rb") as f:
        catalog = read_po(f, abort_invalid=True)
    problems = []
    for msgid, where in messages.items():
        entry = catalog.get(msgid)
        if entry is None or not entry.string:
            problems.append(f"untranslated ({where[0]}): {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy ({where[0]}): {msgid!r}")
        elif placeholders(msgid) != placeholders(entry.string):
            problems.append(f"placeholders differ ({where[0]}): {sorted(placeholders(msgid))} in {msgid!r}, "
                            f"{sorted(placeholders(entry.string))} in {entry.string!r}")
    stale = [m.id for m in catalog if m.id and m.id not in messages]
    problems += [f"stale (no longer in the source; scripts/i18n.sh drops it): {m!r}" for m in stale]
    return problems


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_every_marked_message_is_translated_into_chinese(domain):
    """Each msgid of the source has a non-empty, non-fuzzy msgstr with the same {placeholders}, and the PO file
    holds no message the source no longer has. The lessons catalogue is checked once it exists."""
    problems = catalogue_problems("zh", domain)
    assert not problems, (f"{len(problems)} problem(s) in the {domain} catalogue; run scripts/i18n.sh, then "
                          "translate in studio/locale/zh/LC_MESSAGES/:\n" + "\n".join(problems))


def test_the_studio_catalogue_is_not_empty_and_the_script_uses_the_same_markers():
    messages = source_messages("studio")
    assert len(messages) > 400, len(messages)   # the pages, widgets, figures and ganlib's field help
    assert {"Train & monitor", "Start", "Generator", "Discriminator"} <= set(messages)
    script = (ROOT / "scripts" / "i18n.sh").read_text()
    for domain, keywords in i18n.KEYWORDS.items():
        assert f"extract {domain} {' '.join(keywords)}" in script


def test_every_train_form_label_and_help_is_extractable():
    """The Train form translates fieldhelp.FIELDS where it draws them: each label and help must be a marked
    message (a label made from a field's name would reach the page untranslated)."""
    from ganlib.fieldhelp import FIELDS

    messages = source_messages("studio")
    texts = {f.label for f in FIELDS.values()} | {f.help for f in FIELDS.values() if f.help}
    assert not sorted(texts - set(messages))


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_the_po_files_parse_and_load(domain):
    path = po_path("zh", domain)
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not on this branch")
    with path.open("rb") as f:
        catalog = read_po(f, abort_invalid=True)
    assert catalog.locale and catalog.locale.language == "zh"
    assert i18n.translations("zh", domain) is i18n.translations("zh", domain)   # read once per process


def test_translations_follow_the_language_and_fall_back_to_english():
    with i18n.use_language("zh"):
        assert i18n._("Start") == "开始"
        assert i18n._("Generator") == "生成器"
        assert i18n._("a text nobody marked") == "a text nobody marked"
        assert i18n._("") == ""
    with i18n.use_language("zh-CN"):
        assert i18n._("Discriminator") == "判别器"
    with i18n.use_language("xx"):
        assert i18n._("Start") == "Start"
    assert i18n._("Start") == "Start"   # outside a page, English
    assert i18n.lesson_text("Next") == "Next"


def test_the_training_doctor_speaks_both_languages():
    """A finding keeps its English texts (the CLI, the report) and gives its pieces to the page's translation."""
    from ganlib.train.doctor import diagnose

    rows = [{"step": s, "d_loss": 0.5, "g_loss": 0.7} for s in (10, 20, 30)] + [{"step": 40, "d_loss": float("nan")}]
    (finding,) = diagnose(rows)
    assert finding.title == "The D loss became nan at step 40."
    zh = i18n.translations("zh", "studio").gettext
    assert finding.text("title", zh) == "D 损失在第 40 步变成了 nan。"
    assert finding.text("title") == finding.title and "检查点" in finding.text("detail", zh)


def test_the_live_api_answers_in_the_language_asked(tmp_path, monkeypatch):
    from studio import api

    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path))
    (tmp_path / "a").mkdir()
    with i18n.use_language("zh"):
        labels = [label for label, _value in api.live_update(tmp_path / "a")["figures"]["cells"]]
    assert "轮次" in labels and "设备" in labels
    assert "Epoch" in [label for label, _value in api.live_update(tmp_path / "a")["figures"]["cells"]]


# ---------------------------------------------------------------- the app in each language

@pytest.fixture
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def open_app(lang: str | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    if lang:
        at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(str(PAGES / page)).run()
        assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    """Every title, header, caption, button and widget label the page drew."""
    parts = [e.value for kind in ("title", "subheader", "caption", "markdown", "info") for e in getattr(at, kind)]
    parts += [w.label for kind in ("button", "selectbox", "number_input", "slider", "select_slider", "toggle", "radio",
                                   "checkbox", "text_input")
              for w in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


# (page file, its title in English and Chinese, a label drawn on it in English and Chinese)
CASES = [
    (None, "GAN Studio", "GAN Studio", "Pretrained models", "预训练模型"),
    ("1_Train.py", "Train & monitor", "训练与监控", "Start", "开始"),
    ("2_Latent.py", "Latent explorer", "潜空间探索", "Randomise", "随机"),
    ("3_Style.py", "Style studio", "风格工作室", "Re-roll A", "重抽 A"),
    ("4_Translate.py", "Translate", "图像转换", "Model", "模型"),
    ("5_Mode_collapse.py", "Mode-collapse lab", "模式崩溃实验室", "Steps per frame", "每帧步数"),
]


@pytest.mark.parametrize("page,title_en,title_zh,label_en,label_zh", CASES, ids=[c[0] or "Home" for c in CASES])
def test_each_page_renders_in_chinese_and_in_english(root, page, title_en, title_zh, label_en, label_zh):
    at = open_app("zh", page)
    assert [t.value for t in at.title] == [title_zh]
    text = shown(at)
    assert label_zh in text and label_en not in text
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"

    at = open_app("en", page)
    assert [t.value for t in at.title] == [title_en]
    text = shown(at)
    assert label_en in text and label_zh not in text


def test_the_toggle_switches_the_language_and_the_url_keeps_it_across_pages(root):
    at = open_app(None)
    assert "lang" not in at.query_params and "Pretrained models" in shown(at)   # English by default
    toggle = at.sidebar.toggle(key="lang_toggle")
    assert toggle.label == "中文" and toggle.value is False
    toggle.set_value(True).run()
    assert not at.exception
    assert at.query_params["lang"] in ("zh", ["zh"]) and "预训练模型" in shown(at)
    # the Latent explorer rewrites its URL with its view: the language stays in it and in the session
    at.switch_page(str(PAGES / "2_Latent.py")).run()
    assert not at.exception
    assert at.query_params["lang"] in ("zh", ["zh"]) and "seed" in at.query_params
    assert [t.value for t in at.title] == ["潜空间探索"]
    at.sidebar.toggle(key="lang_toggle").set_value(False).run()
    assert at.query_params["lang"] in ("en", ["en"]) and [t.value for t in at.title] == ["Latent explorer"]


def test_a_page_that_drops_the_language_from_its_url_gets_it_back(root):
    """A page's own write of its query (st.query_params.from_dict) must not lose the session's language."""
    at = open_app("zh")
    at.query_params.pop("lang")   # as a page that rewrote the whole query would leave it
    at.run()
    assert at.query_params["lang"] in ("zh", ["zh"]) and "预训练模型" in shown(at)


def test_the_device_line_speaks_the_session_language(root):
    """The home page's device line: describe_device's fixed names are in the catalogue (a GPU's own name is not)."""
    from studio.widgets import device_text

    english = device_text()
    at = open_app("zh")
    with i18n.use_language("zh"):
        chinese = device_text()
    assert chinese in shown(at)
    if english == "CPU (no GPU found)":
        assert chinese == "CPU（未找到 GPU）"
