"""In a real browser: every page opens in Chinese from a `?lang=zh` link, the sidebar's 中文 toggle switches the
language and puts it in the URL, the language survives a page switch, and a watched run's status strip (which
the browser refreshes from the live API by itself) keeps its Chinese labels."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ganlib.config import TrainConfig
from ganlib.train import jobs

pytestmark = pytest.mark.e2e

# url path -> the page's title in Chinese (studio/locale/zh/LC_MESSAGES/studio.po)
TITLES = {"lessons": "课程", "train": "训练与监控", "latent": "潜空间探索", "style": "风格工作室", "translate": "图像转换",
          "mode_collapse": "模式崩溃实验室"}
NAV = ["首页", *TITLES.values()]
LABELS = """() => [...document.querySelectorAll('.st-key-run_figures .gs-fig-label')].map(el => el.innerText)"""
STEP = "() => { const el = document.querySelector('.st-key-run_figures .gs-fig-value'); return el ? el.innerText : ''; }"


def sidebar_links(page) -> list[str]:
    """The sidebar's page titles (each link's text ends with its title, after the icon's name)."""
    return [t.strip().split("\n")[-1] for t in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]


def no_exception(page) -> None:
    errors = page.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


def test_every_page_opens_in_chinese_from_a_link(page, server):
    page.goto(server + "/?lang=zh")
    page.get_by_text("预训练模型").wait_for(timeout=90_000)
    assert sidebar_links(page) == NAV
    for path, title in TITLES.items():
        page.goto(f"{server}/{path}?lang=zh")
        page.get_by_role("heading", name=title).wait_for(timeout=90_000)
        page.wait_for_timeout(1500)   # the rest of the page
        no_exception(page)
        assert sidebar_links(page) == NAV
        assert "lang=zh" in page.url, page.url


def test_the_toggle_switches_and_the_language_follows_the_user(page, server):
    page.goto(server + "/")
    page.get_by_text("Pretrained models").wait_for(timeout=90_000)
    page.locator(".st-key-lang_toggle label").click()
    page.get_by_text("预训练模型").wait_for(timeout=30_000)
    page.wait_for_function("() => location.search.includes('lang=zh')", timeout=10_000)
    page.get_by_role("link", name="潜空间探索").first.click()
    page.get_by_role("heading", name="潜空间探索").wait_for(timeout=90_000)
    page.wait_for_function("() => location.search.includes('seed=')", timeout=30_000)   # the page's own URL write
    assert "lang=zh" in page.url, page.url
    page.locator(".st-key-lang_toggle label").click()
    page.get_by_role("heading", name="Latent explorer").wait_for(timeout=30_000)
    page.wait_for_function("() => location.search.includes('lang=en')", timeout=10_000)


def test_a_watched_run_keeps_its_chinese_labels_while_the_browser_follows_it(page, server, runs_root):
    fake = str(Path(__file__).resolve().parents[1] / "fake_train.py")
    config = TrainConfig(dataset="typeset", subset=64, batch_size=16, max_steps=100000)
    run = jobs.start(config, "watched", root=runs_root,
                     argv=[sys.executable, fake, "--out", "{run_dir}", "--config", config.to_json(),
                           "--max-steps", "100000", "--step-time", "0.05", "--log-every", "2"])
    page.goto(server + "/train?lang=zh")
    page.locator(".st-key-run_status").get_by_text("运行中", exact=True).wait_for(timeout=60_000)
    page.locator(".st-key-run_figures .gs-fig-value").first.wait_for(timeout=30_000)
    first = int(page.evaluate(STEP) or 0)
    deadline = time.time() + 30
    while int(page.evaluate(STEP) or 0) <= first and time.time() < deadline:   # the live API answered, again
        page.wait_for_timeout(200)
    assert int(page.evaluate(STEP)) > first
    labels = page.evaluate(LABELS)
    assert "轮次" in labels and "设备" in labels and "Epoch" not in labels, labels
    no_exception(page)
    jobs.stop(run, timeout=10)
