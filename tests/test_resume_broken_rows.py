"""`train --resume` of a run whose metrics.jsonl holds broken rows works: the bad rows are skipped, counted, and
the resumed run goes on from its checkpoint."""
import json

from ganlib.cli import main
from ganlib.train import jobs, rundir
from test_cli import TINY

BROKEN = [b'{"kind": "train", "step": "abc", "time": 1.0}\n', b'{"kind": "train", "step": 2, "time": "oops"}\n',
          b'{"kind": "train", "step": 2, "time": null}\n', b"\x00\xff\xfe garbage\n", b"[1, 2]\n"]


def test_resume_of_a_run_with_broken_rows(tmp_path, capsys):
    run = tmp_path / "dc"
    assert main(["train", "--model", "dcgan", "--dataset", "typeset", "--out", str(run), *TINY]) == 0
    metrics = run / "metrics.jsonl"
    good = metrics.read_bytes()
    metrics.write_bytes(BROKEN[0] + good + b"".join(BROKEN[1:]))
    assert rundir.skipped_rows(run) >= 0 and [r["step"] for r in rundir.read_metrics(run, "train")]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--max-steps", "5", "--quiet"]) == 0, capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err
    assert jobs.status(run)["state"] == "finished" and jobs.status(run)["step"] == 5
    steps = [r["step"] for r in rundir.read_metrics(run, "train")]
    assert steps == sorted(steps) and steps[-1] == 5 and len(steps) == len(set(steps))
    for line in metrics.read_bytes().splitlines():   # what the resumed run wrote is clean
        if line.startswith(b"{") and b'"step": 5' in line:
            assert rundir.valid_row(json.loads(line)) is not None
