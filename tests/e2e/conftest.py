"""End-to-end tests: the real `streamlit run app.py` driven by headless Chromium (Playwright)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test in a real browser (slow; needs /usr/bin/chromium)")


@pytest.fixture
def runs_root(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    yield root
    harness.kill_training_processes(root)


@pytest.fixture
def server(runs_root):
    with harness.streamlit_server(runs_root) as (url, _):
        yield url


@pytest.fixture
def page(server):
    if not Path(harness.CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with harness.chromium_page() as page:
        yield page
