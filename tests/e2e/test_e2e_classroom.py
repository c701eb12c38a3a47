"""benchmarks/classroom.py keeps working: a class of two (one in Chromium, one over Streamlit's protocol)
moves the Latent explorer's slider for a few seconds, every move comes back as a latency, and the server
loaded the model once for all three sessions (the warm-up's and the two students')."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import harness

sys.path.insert(0, str(harness.REPO / "benchmarks"))
import classroom  # noqa: E402

pytestmark = pytest.mark.e2e


def test_two_students_get_their_images(runs_root):
    if not Path(harness.CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with harness.streamlit_server(runs_root) as (url, proc), harness.chromium_browser() as browser:
        template = classroom.warm_up(browser, url, "dcgan_mnist")
        r = classroom.run_class(browser, url, proc.pid, n=2, duration=4, template=template, browsers=1)
    assert (r["students"], r["browsers"]) == (2, 1)
    assert r["moves"] >= 6 and r["unanswered"] == 0, r
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["max_ms"] < 10_000, r
    assert r["browser_p50_ms"] is not None, r
    assert r["server_cpu_s_per_move"] > 0 and r["rss_end_mib"] > r["rss_base_mib"] / 2, r
    assert r["model_loads"] == 1, r   # one generator for the warm-up and both students: st.cache_resource
