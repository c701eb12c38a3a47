"""AppTest: the Lessons page. Every chapter opens by its link (?chapter=<slug>) with its text, formula,
question, answer and a link to its full page; each chapter's live widget answers its controls; Previous and
Next walk the course and keep the URL; the projector view (?present=1 and the toggle). Also: every course
text has its Chinese in studio/locale/zh/LC_MESSAGES/lessons.po, and the pages whose widgets the lessons
share still open."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ganlib.modelcard import transposed_conv_size
from ganlib import pretrained
from ganlib.pretrained import manifest, pretrained_path
from studio import lessons

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "studio" / "main.py")
PAGES = ROOT / "studio" / "app_pages"
PAGE = str(PAGES / "0_Lessons.py")
PO = ROOT / "studio" / "locale" / "zh" / "LC_MESSAGES" / "lessons.po"


@pytest.fixture(autouse=True)
def root(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(root))
    return root


def lesson(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def run(changed) -> AppTest:
    """Run the app after a widget was set or clicked (`changed`: the widget); no exception allowed."""
    at = changed.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def images(at) -> list[str]:
    """The media URLs of the images drawn (they name the bytes, so other pixels give another URL)."""
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def link(at) -> tuple[str, str]:
    """(page, query string) of the chapter's link to its full page."""
    (page_link,) = at.get("page_link")
    return page_link.proto.page, page_link.proto.query_string


def step_line(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Step **"))


# ---------------------------------------------------------------- every chapter, by its link

FULL_PAGES = {"game": "mode_collapse", "dcgan": "train", "training": "train", "cgan": "latent",
              "collapse": "mode_collapse", "latent": "latent", "stylegan": "style", "cyclegan": "translate",
              "measuring": "mode_collapse"}


@pytest.mark.parametrize("slug", lessons.SLUGS)
def test_every_chapter_opens_by_its_link(slug):
    at = lesson(chapter=slug)
    i = lessons.SLUGS.index(slug)
    chapter = lessons.chapters()[i]
    assert at.subheader[0].value == f"{i + 1}. {chapter.title}"
    assert at.selectbox(key="lesson_pick").value == slug
    assert texts(at.markdown).count(chapter.paragraphs[0]) == 1
    assert at.latex[0].value.strip("$\n") == chapter.formula
    assert chapter.try_this in texts(at.markdown) and chapter.question in texts(at.markdown)
    assert [e.label for e in at.expander] == ["Answer"] and chapter.answer in texts(at.expander[0].markdown)
    assert link(at)[0] == FULL_PAGES[slug]
    assert dict(at.query_params) == {"chapter": slug}


def test_an_unknown_chapter_opens_the_first_with_a_warning():
    at = lesson(chapter="gans-in-space")
    assert "no chapter 'gans-in-space'" in texts(at.warning)
    assert at.query_params["chapter"] == "game"


def test_next_and_previous_walk_the_course_and_keep_the_url():
    at = lesson()
    assert at.query_params["chapter"] == "game" and at.button(key="lesson_previous").disabled
    for slug in lessons.SLUGS[1:]:
        run(at.button(key="lesson_next").click())
        assert at.query_params["chapter"] == slug
    assert at.button(key="lesson_next").disabled
    run(at.button(key="lesson_previous").click())
    assert at.query_params["chapter"] == lessons.SLUGS[-2]
    run(at.selectbox(key="lesson_pick").set_value("cgan"))
    assert at.query_params["chapter"] == "cgan" and at.subheader[0].value.startswith("4. ")


def test_projector_view_by_link_and_by_toggle():
    at = lesson(chapter="latent", present=1)
    assert at.toggle(key="lesson_present").value
    assert not at.title and not at.subheader   # the chapter's title is the screen's heading
    assert "## The latent space" in texts(at.markdown) and "**6 / 9**" in texts(at.markdown)
    assert "stSidebar" in texts(at.get("html"))   # the CSS that hides the sidebar and toolbar
    run(at.button(key="lesson_next").click())
    assert dict(at.query_params) == {"chapter": "stylegan", "present": "1"}
    run(at.toggle(key="lesson_present").set_value(False))
    assert dict(at.query_params) == {"chapter": "stylegan"}
    assert at.title[0].value == "Lessons" and "stSidebar" not in texts(at.get("html"))
    run(at.toggle(key="lesson_present").set_value(True))
    assert at.query_params["present"] == "1"


# ---------------------------------------------------------------- each chapter's live widget answers

def test_game_steps_the_arena_in_its_two_halves():
    at = lesson(chapter="game")
    assert step_line(at).startswith("Step **0**")
    run(at.button(key="step_lesson_game").click())
    assert "D has updated" in texts(at.caption) and at.button(key="step_lesson_game").label == "G update"
    assert step_line(at).startswith("Step **1**")
    run(at.button(key="step_lesson_game").click())
    assert at.button(key="step_lesson_game").label == "D update"
    query = link(at)[1]
    assert query == "panel=vanilla-ring&panel=pacgan-ring"


def test_dcgan_layer_table_follows_the_image_size_and_the_calculator_computes():
    at = lesson(chapter="dcgan")
    outputs = list(at.dataframe[0].value["output"])
    assert "64×7×7" in outputs and "1×28×28" in outputs
    assert all(layer.startswith("ConvTranspose2d") for layer in at.dataframe[0].value["layer"][1:-1])
    assert at.metric[0].value == "8"
    run(segmented(at, "lesson_dcgan_size").set_value(32))
    outputs = list(at.dataframe[0].value["output"])
    assert "64×8×8" in outputs and "1×32×32" in outputs
    run(at.number_input(key="lesson_conv_k").set_value(3))
    assert at.metric[0].value == "7" == str(transposed_conv_size(4, 3, 2, 1))
    at.number_input(key="lesson_conv_in").set_value(1)
    run(at.number_input(key="lesson_conv_p").set_value(4))   # nothing is left: one sentence
    assert "leaves nothing" in texts(at.error)


def test_training_draws_the_arena_runs_curves_and_trains_on():
    at = lesson(chapter="training")
    charts = [c for c in at.get("plotly_chart") if c.proto.id and "lesson_training" in c.proto.id]
    assert len(charts) == 2
    assert "step 250" in texts(at.caption)
    run(at.button(key="lesson_training_train").click())
    assert "step 500" in texts(at.caption)
    run(at.button(key="lesson_training_reset").click())
    assert "step 250" in texts(at.caption)


def segmented(at, key):
    return next(b for b in at.get("button_group") if b.key == key)


def test_cgan_class_and_seed_change_the_digits_and_the_link():
    at = lesson(chapter="cgan")
    before = images(at)
    assert "seed 0, class 3" in texts(at.caption)
    run(segmented(at, "lesson_cgan_class").set_value(7))
    assert "seed 0, class 7" in texts(at.caption) and images(at) != before
    run(at.number_input(key="lesson_cgan_seed").set_value(5))
    assert link(at) == ("latent", "model=cgan_mnist&view=explore&seed=5&class=7")


def test_collapse_trains_the_chosen_remedy():
    at = lesson(chapter="collapse")
    run(at.selectbox(key="lesson_remedy").set_value("pacgan-ring"))
    assert step_line(at).startswith("Step **0**")
    run(at.button(key="lesson_collapse_train").click())
    assert step_line(at).startswith("Step **250**")
    assert link(at)[1] == "panel=vanilla-ring&panel=pacgan-ring"


def test_collapse_digits_view_slides_through_the_shipped_pairs_training():
    """The chapter's second view: the shipped collapsed and cured DCGANs as they trained, one step slider for
    both (the Mode-collapse lab's widget), the collapsed run one digit at its last step."""
    at = lesson(chapter="collapse")
    assert at.get("segmented_control")[0].value == "2-D game"
    run(at.selectbox(key="lesson_remedy").set_value("mbd-ring"))
    run(at.get("segmented_control")[0].set_value("Digits"))
    slider = at.select_slider(key="lesson_history_step")
    collapsed_steps = [row["step"] for row, frame in pretrained.history("dcgan_mnist_collapsed")]
    assert slider.options[0] == str(collapsed_steps[0]) and slider.value == manifest()["dcgan_mnist_cured"]["step"]
    last = images(at)
    assert len(last) == 2
    def lines() -> list[str]:
        return [c.value for c in at.caption if c.value.startswith("Step ")]

    cured_last = f"{slider.value:,}"
    assert lines() == [f"Step {collapsed_steps[-1]} · digits in 100: 1/10 · top-3 share 100% · confidence 0.90",
                       f"Step {cured_last} · digits in 100: 10/10 · top-3 share 38% · confidence 0.79"]
    run(slider.set_value(collapsed_steps[0]))
    assert all(a != b for a, b in zip(images(at), last))  # both runs' grids are the earliest ones now
    assert [line.split(" · ")[0] for line in lines()] == [f"Step {collapsed_steps[0]}", "Step 100"]  # cured: from 100
    assert link(at) == ("mode_collapse", "")
    run(at.get("segmented_control")[0].set_value("2-D game"))
    assert at.selectbox(key="lesson_remedy").value == "mbd-ring"  # the class's remedy is still chosen
    zh = lesson(chapter="collapse", lang="zh")
    run(zh.get("segmented_control")[0].set_value("Digits"))  # the value stays English; its label is translated
    assert [c.value for c in zh.caption if "100 个样本中的数字：1/10" in c.value]


def test_latent_slider_moves_the_digit_and_the_link_carries_it():
    at = lesson(chapter="latent")
    before = images(at)
    run(at.slider(key="lesson_latent_alpha").set_value(3.0))
    assert images(at)[0] != before[0] and "α = 3" in texts(at.caption)
    run(at.selectbox(key="lesson_latent_dir").set_value(2))
    assert link(at) == ("latent", "model=dcgan_mnist&view=explore&seed=0&kind=sefa&d=0%2C0%2C3%2C0%2C0")


def test_stylegan_mixing_follows_the_layer_group_and_new_seeds():
    at = lesson(chapter="stylegan")
    coarse = images(at)
    assert "4–8 px layers" in texts(at.caption)
    run(segmented(at, "lesson_style_group").set_value("Fine 32"))
    assert "32–32 px layers" in texts(at.caption) and images(at) != coarse
    assert link(at) == ("style", "model=stylegan_mnist&view=mixing&a=0%2C1%2C2%2C3&b=100%2C101%2C102&layers=32")
    run(at.button(key="lesson_style_reroll").click())
    assert "a=1000%2C1001" in link(at)[1]


def test_cyclegan_translates_another_batch_and_the_other_way():
    at = lesson(chapter="cyclegan")
    first = images(at)
    assert "Rows: input x, G(x), F(G(x))" in texts(at.caption)
    run(at.button(key="lesson_cycle_next").click())
    assert images(at) != first
    run(segmented(at, "lesson_cycle_direction").set_value("b2a"))
    assert "Rows: input x, F(x), G(F(x))" in texts(at.caption)


def test_measuring_runs_the_diversity_test_of_the_chosen_generator():
    at = lesson(chapter="measuring")
    metrics = {m.label: m.value for m in at.metric}
    fid = {name: f"{entry['evaluate']['fid']:.2f}" for name, entry in manifest().items() if "fid" in entry.get("evaluate", {})}
    assert metrics["FID"] == fid["dcgan_mnist_collapsed"] and metrics["Digits covered"] != "10/10"
    run(at.selectbox(key="lesson_diversity").set_value(str(pretrained_path("dcgan_mnist"))))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Digits covered"] == "10/10" and metrics["FID"] == fid["dcgan_mnist"] == "0.64"


# ---------------------------------------------------------------- the course text and its Chinese

def lesson_texts() -> list[str]:
    """Every string passed to lesson_text(...) in the app, as Babel's extractor sees it."""
    found = []
    for path in (ROOT / "studio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lesson_text":
                assert len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str), f"{path.name}:{node.lineno}: lesson_text takes one literal"
                found.append(node.args[0].value)
    return found


def test_every_course_text_has_its_chinese():
    from babel.messages.pofile import read_po

    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_Hans", domain="lessons")
    assert str(catalog.locale) == "zh_Hans"
    wanted = lesson_texts()
    assert len(wanted) >= 5 * len(lessons.SLUGS)   # title, a paragraph, try this, question, answer
    missing = [m for m in wanted if m not in catalog or not catalog[m].string or catalog[m].fuzzy]
    assert not missing, "no Chinese for:\n" + "\n".join(missing)
    for m in wanted:   # the same {placeholders} on both sides
        assert sorted(part.split("}")[0] for part in m.split("{")[1:]) == \
            sorted(part.split("}")[0] for part in catalog[m].string.split("{")[1:]), m


# ---------------------------------------------------------------- the pages that share the lessons' widgets

@pytest.mark.parametrize("page", ["2_Latent.py", "3_Style.py", "5_Mode_collapse.py"])
def test_the_pages_whose_widgets_the_lessons_share_still_open(page):
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(str(PAGES / page)).run()
    assert not at.exception, at.exception
    if page == "5_Mode_collapse.py":
        run(at.button(key="step_0").click())
        assert "D has updated" in texts(at.caption)
        assert [m.label for m in at.metric][:3] == ["Digits covered", "KL to uniform", "Closest pair"]


def test_transposed_conv_size():
    assert [transposed_conv_size(4, 3, 2, 1), transposed_conv_size(7, 4, 2, 1), transposed_conv_size(1, 4, 1, 0)] \
        == [7, 14, 4]
    with pytest.raises(ValueError, match="leaves nothing"):
        transposed_conv_size(1, 1, 1, 2)
