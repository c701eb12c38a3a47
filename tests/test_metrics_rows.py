"""metrics.jsonl rows go through one schema (rundir.valid_row) where they are read: a bad row is skipped and
counted, never raised, for the page, the API, resume and the report alike."""
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from ganlib.train import rundir

GOOD = {"kind": "train", "step": 10, "epoch": 0.5, "time": 1.5, "d_loss": 1.2, "g_loss": 0.7}
BROKEN = [
    {"kind": "train", "step": "abc", "time": 1.0},
    {"kind": "train", "step": 11, "time": "oops"},
    {"kind": "train", "step": 12, "time": None},
    {"kind": "train", "step": -1, "time": 1.0},
    {"kind": "train", "step": True, "time": 1.0},
    {"kind": "train", "step": 13.5, "time": 1.0},
    {"kind": "nonsense", "step": 14, "time": 1.0},
    {"kind": "train", "step": 15, "time": float("inf")},
    {"kind": "train", "time": 1.0},
    [1, 2, 3],
    "just text",
]


def write_lines(run, lines):
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.jsonl").write_bytes(b"".join(lines))


def test_badly_typed_rows_are_skipped_and_counted(tmp_path):
    lines = [json.dumps(GOOD).encode() + b"\n"]
    lines += [json.dumps(r).encode() + b"\n" for r in BROKEN]
    lines += [b"\x00\xff garbage\n", b"{not json\n", json.dumps({**GOOD, "step": 20}).encode() + b"\n"]
    write_lines(tmp_path / "run", lines)
    rows = rundir.read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [10, 20]
    assert rundir.skipped_rows(tmp_path / "run") == len(BROKEN) + 2


def test_a_nan_loss_is_kept_for_the_doctor(tmp_path):
    write_lines(tmp_path / "run", [b'{"kind": "train", "step": 5, "time": 2.0, "d_loss": NaN}\n'])
    [row] = rundir.read_metrics(tmp_path / "run")
    assert math.isnan(row["d_loss"]) and row["step"] == 5


def test_truncate_keeps_only_valid_rows_before_the_step(tmp_path):
    lines = [json.dumps({**GOOD, "step": s}).encode() + b"\n" for s in (10, 20, 30)]
    lines.insert(1, json.dumps(BROKEN[0]).encode() + b"\n")
    write_lines(tmp_path / "run", lines)
    rundir.truncate_metrics(tmp_path / "run", 20)
    assert [r["step"] for r in rundir.read_metrics(tmp_path / "run")] == [10, 20]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=6), children, max_size=3), max_leaves=8)
ROWS = st.dictionaries(st.sampled_from(["kind", "step", "time", "epoch", "d_loss", "fid"]) | st.text(max_size=6),
                       JSON_VALUES | st.sampled_from(["train", "eval"]), max_size=6)


@given(ROWS | JSON_VALUES)
def test_valid_row_accepts_only_rows_the_readers_can_trust(row):
    out = rundir.valid_row(row)
    if out is None:
        return
    assert out.get("kind", "train") in rundir.KINDS
    assert type(out["step"]) is int and out["step"] >= 0
    for key in ("time", "epoch"):
        if key in out:
            assert type(out[key]) in (int, float) and math.isfinite(out[key]) and out[key] >= 0


@given(st.lists(st.binary(max_size=40) | ROWS.map(lambda r: json.dumps(r).encode()), max_size=8))
def test_read_metrics_never_raises(tmp_path_factory, lines):
    run = tmp_path_factory.mktemp("run")
    write_lines(run, [line.replace(b"\n", b" ") + b"\n" for line in lines])
    rows = rundir.read_metrics(run)
    assert all(rundir.valid_row(r) is not None for r in rows)
    assert len(rows) + rundir.skipped_rows(run) <= len(lines)
