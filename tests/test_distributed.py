"""Training with several processes (torchrun + DDP) on this CPU: 2 Gloo processes, tiny data, few steps.

The 2-process runs are real `torchrun` launches (tests/ddp_worker.py or `-m ganlib train`); the
1-process runs are ganlib's loop in this process. With a G and D without BatchNorm (the MLP GAN on the
ring), 2 ranks x 32 and 1 process x 64 do the same arithmetic (same data order, same noise), so their
losses agree to float rounding: we allow 1e-5 (measured: about 2e-7 over 20 steps), while one process
of 32 (what a rank alone would learn from) drifts 1e-4 away. (Adam's first steps are sign steps, so
rounding grows with the learning rate: at 10x the recipe's rates, 1e-3 by step 20.)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganlib.checkpoints import load_checkpoint
from ganlib.config import TrainConfig
from ganlib.train import rundir
from ganlib.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
pytestmark = pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to python")

# no BatchNorm anywhere (the MLP G drops it for 2-D points; the MLP D has none), R1 and EMA on
# learning rates pinned at the ones TOLERANCE was measured with: the reduction order of two ranks differs from one
# process's in the last bits, and faster rates carry that further in 20 steps (8e-4 / 4e-4: 1.9e-5 at step 16)
RING = dict(model="gan", dataset="toy-ring", subset=640, batch_size=64, width=16, latent_dim=16, max_steps=20,
            log_every=1, sample_every=10, checkpoint_every=10, eval_every=0, ema_decay=0.9, device="cpu",
            lr_g=4e-4, lr_d=2e-4)
TOLERANCE = 1e-5  # on each logged loss and D output, absolute


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], timeout: float = 300, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    argv = [str(TORCHRUN), "--nproc_per_node", "2", "--master-port", str(free_port()), *args]
    if popen:
        return subprocess.Popen(argv, cwd=ROOT, env=env, **popen)
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def launch(specs: list[dict]) -> None:
    done = torchrun([str(ROOT / "tests" / "ddp_worker.py"), json.dumps(specs)])
    assert done.returncode == 0, done.stderr[-3000:]


def train_rows(run_dir: Path) -> list[dict]:
    return [r for r in rundir.read_metrics(run_dir) if r.get("kind") == "train"]


def assert_same_trajectory(a: list[dict], b: list[dict]) -> None:
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert abs(ra[key] - rb[key]) <= TOLERANCE, (ra["step"], key, ra[key], rb[key])


def assert_ranks_identical(states: Path) -> dict:
    r0, r1 = torch.load(states / "rank0.pt", weights_only=True), torch.load(states / "rank1.pt", weights_only=True)
    assert r0.keys() == r1.keys()
    for net in r0:
        for name in r0[net]:
            assert torch.equal(r0[net][name], r1[net][name]), (net, name)
    return r0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One torchrun launch for all 2-rank runs here, and the 1-process references."""
    root = tmp_path_factory.mktemp("ddp")
    tiny = dict(subset=64, batch_size=16, width=8, latent_dim=16, max_steps=4, log_every=2, sample_every=2,
                checkpoint_every=2, eval_every=0, ema_decay=0.9, device="cpu", amp=False)
    cyclegan = dict(tiny, model="cyclegan", dataset="typeset", dataset_b="mnist", width=4, res_blocks=1,
                    pool_size=4, batch_size=8)
    specs = {"ring": RING, "ring10": dict(RING, max_steps=10), "dcgan": dict(tiny, model="dcgan", dataset="mnist"),
             "cgan": dict(tiny, model="cgan", dataset="mnist", loss="wgan-gp", n_critic=2),
             "unrolled": dict(tiny, model="dcgan", dataset="mnist", unrolled_steps=2, pack=2),
             "cyclegan": cyclegan,
             "stylegan": dict(tiny, model="stylegan", dataset="mnist", mapping_layers=2, r1_every=2,
                              style_mixing_prob=0.9, lr_decay=0.5)}
    launch([{"run_dir": str(root / name), "states": str(root / f"{name}-states"), "config": cfg}
            for name, cfg in specs.items()])
    train(TrainConfig(**RING), root / "single")
    train(TrainConfig(**dict(RING, max_steps=10)), root / "single10")
    train(TrainConfig(**dict(RING, batch_size=32)), root / "single32")
    return root


def test_two_ranks_keep_identical_weights_and_ema_in_every_family(runs):
    for name in ("ring", "dcgan", "cgan", "unrolled", "cyclegan", "stylegan"):
        state = assert_ranks_identical(runs / f"{name}-states")
        ckpt = load_checkpoint(runs / name / "checkpoint.pt")
        for net in state:  # rank 0 saved what both ranks hold, BatchNorm statistics included
            for key, value in state[net].items():
                assert torch.equal(ckpt[net][key], value), (name, net, key)
        assert (runs / name / "status.json").is_file()
        status = rundir.read_status(runs / name)
        assert status["state"] == "finished" and status["world_size"] == 2, (name, status)
        assert len(status["rank_images_per_s"]) == 2 and all(v > 0 for v in status["rank_images_per_s"])


def test_only_rank_0_writes(runs):
    for name in ("ring", "dcgan", "cyclegan"):
        assert not (runs / f"{name}.rank1").exists()
        files = sorted(p.name for p in (runs / name).iterdir())
        assert files == ["checkpoint.pt", "config.json", "control.json", "metrics.jsonl", "samples", "status.json", "writer.lock"]
        steps = [r["step"] for r in train_rows(runs / name)]
        assert steps == sorted(set(steps))  # one writer: no line logged twice


def test_two_ranks_of_32_follow_one_process_of_64(runs):
    two, one = train_rows(runs / "ring"), train_rows(runs / "single")
    assert len(two) == 20
    assert_same_trajectory(two, one)
    a, b = load_checkpoint(runs / "ring" / "checkpoint.pt"), load_checkpoint(runs / "single" / "checkpoint.pt")
    for key in a["G"]:
        assert torch.allclose(a["G"][key], b["G"][key], atol=1e-4), key
    # the check is not vacuous: the losses move, and a rank's half batch alone would learn otherwise
    assert abs(one[0]["d_loss"] - one[-1]["d_loss"]) > 50 * TOLERANCE
    half = train_rows(runs / "single32")
    assert max(abs(r["d_loss"] - h["d_loss"]) for r, h in zip(one, half)) > 10 * TOLERANCE


def test_resume_two_processes_in_one(runs, tmp_path):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(runs / "ring10", run)
    summary = train(None, run, resume=True, overrides={"max_steps": 20})
    assert summary["step"] == 20 and summary["world_size"] == 1
    assert rundir.read_status(run)["world_size"] == 1
    assert_same_trajectory(train_rows(run), train_rows(runs / "single"))


def test_resume_one_process_in_two(runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs / "single10", run)
    launch([{"run_dir": str(run), "states": str(tmp_path / "states"), "resume": True,
             "overrides": {"max_steps": 20}}])
    assert_ranks_identical(tmp_path / "states")
    assert rundir.read_status(run)["world_size"] == 2
    assert_same_trajectory(train_rows(run), train_rows(runs / "single"))


def test_every_rank_returns_from_train_once_rank_0_is_done(tmp_path):
    """A caller that owns the process group (this worker) destroys it when train() returns: if rank 1
    did so while rank 0 still saved, Gloo could abort it at exit (seen in CI). train() ends at a barrier."""
    states = tmp_path / "states"
    launch([{"run_dir": str(tmp_path / "run"), "states": str(states), "slow_status": {"finished": 2},
             "config": dict(RING, max_steps=4)}])
    rank0, rank1 = (json.loads((states / f"rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["finished_written"] is not None
    assert rank1["returned"] >= rank0["finished_written"] - 0.05, (rank0, rank1)  # 2 s earlier without the barrier
    assert rundir.read_status(tmp_path / "run")["state"] == "finished"


def test_a_rank_that_raises_fails_the_run_naming_rank_step_and_error(tmp_path):
    out = tmp_path / "run"
    spec = {"run_dir": str(out), "states": str(tmp_path / "states"), "fail": {"rank": 1, "step": 7},
            "config": dict(RING, max_steps=40, log_every=5, checkpoint_every=5)}
    done = torchrun([str(ROOT / "tests" / "ddp_worker.py"), json.dumps([spec])])
    assert done.returncode != 0
    st = rundir.read_status(out)
    assert st["state"] == "failed", st
    assert st["message"].startswith("Rank 1 of 2 failed at step 7 (ValueError: the injected failure); "
                                    "the last checkpoint is kept"), st["message"]
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 5
    assert not (tmp_path / "states").exists() and not Path(f"{out}.rank1").exists()


def test_the_failure_is_written_when_torchrun_stops_rank_0_during_the_write(tmp_path):
    """torchrun sends SIGTERM to the surviving ranks as soon as one fails: rank 0 holds it until status.json
    says why (here its write takes 3 s, as on a loaded disk), then ends by it."""
    out = tmp_path / "run"
    spec = {"run_dir": str(out), "states": str(tmp_path / "states"), "fail": {"rank": 1, "step": 7},
            "slow_status": {"failed": 3.0}, "config": dict(RING, max_steps=40, log_every=5, checkpoint_every=5)}
    done = torchrun([str(ROOT / "tests" / "ddp_worker.py"), json.dumps([spec])])
    assert done.returncode != 0
    assert "Sending process" in done.stderr and "closing signal SIGTERM" in done.stderr  # the race was run
    st = rundir.read_status(out)
    assert st["state"] == "failed", st
    assert st["message"].startswith("Rank 1 of 2 failed at step 7 (ValueError: the injected failure)"), st


def test_batch_that_does_not_split_over_the_ranks_fails_with_one_sentence(tmp_path):
    out = tmp_path / "odd"
    done = torchrun(["-m", "ganlib", "train", "--model", "gan", "--dataset", "toy-ring", "--subset", "200",
                     "--batch-size", "33", "--max-steps", "2", "--device", "cpu", "--quiet", "--out", str(out)])
    assert done.returncode != 0
    assert "must split evenly over 2 processes" in rundir.read_status(out)["message"]
    assert "error: The batch size (33)" in done.stderr


def test_a_rank_that_dies_fails_the_run_naming_rank_and_step(tmp_path):
    out = tmp_path / "run"
    proc = torchrun(["-m", "ganlib", "train", "--model", "gan", "--dataset", "toy-ring", "--subset", "640",
                     "--width", "8", "--max-steps", "100000", "--log-every", "5", "--checkpoint-every", "10",
                     "--sample-every", "100000", "--eval-every", "0", "--device", "cpu", "--quiet", "--out", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            st = rundir.read_status(out)
            if st.get("state") == "running" and st.get("step", 0) >= 20 and (out / "checkpoint.pt").exists():
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the run did not reach step 20: {rundir.read_status(out)}")
        rank1 = st["ranks"][1]["pid"]
        os.kill(rank1, signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    st = rundir.read_status(out)
    assert st["state"] == "failed", st
    assert st["message"].startswith(f"Rank 1 of 2 (pid {rank1}) died at step "), st["message"]
    step = int(st["message"].split("died at step ")[1].split(";")[0])
    assert step >= 20
    assert load_checkpoint(out / "checkpoint.pt")["step"] >= 10  # the last checkpoint stays


def test_torchrun_train_without_out_makes_a_run_the_monitor_lists(tmp_path):
    """The issue's command, shrunk: `torchrun --nproc_per_node=2 -m ganlib train --model dcgan --dataset mnist
    --epochs 3 --device cpu` (here 1 epoch of 256 images) ends in a run under the runs root."""
    from ganlib.train import jobs

    runs = tmp_path / "runs"
    env_runs = dict(os.environ, GAN_STUDIO_RUNS=str(runs))
    done = subprocess.run([str(TORCHRUN), "--nproc_per_node", "2", "--master-port", str(free_port()), "-m", "ganlib",
                           "train", "--model", "dcgan", "--dataset", "mnist", "--subset", "256", "--width", "8",
                           "--epochs", "1", "--device", "cpu", "--quiet"],
                          cwd=ROOT, env=dict(env_runs, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = jobs.run_dirs(runs)
    assert run.name.startswith("dcgan-mnist-ns-")
    assert done.stdout.count("finished: ") == 1 and str(run) in done.stdout  # rank 0 reports, once
    row = jobs.summary(run)
    assert row["state"] == "finished" and row["step"] == row["total"] == 4  # 256 / 64 per epoch
    assert rundir.read_status(run)["world_size"] == 2
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_00000000.png", "step_00000004.png"]


def test_pause_continue_and_stop_are_agreed_by_both_ranks(tmp_path, monkeypatch):
    """The Train page's buttons (ganlib.train.jobs) on a 2-process run started as the page starts one."""
    from ganlib.train import jobs, procs

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    config = TrainConfig(**dict(RING, max_steps=100_000, log_every=5, checkpoint_every=1000, sample_every=1000))
    run = jobs.start(config, "two", root=tmp_path, argv=jobs.torchrun_argv(config, "{run_dir}", 2))
    try:
        def wait(pred, what, timeout=120):
            deadline = time.time() + timeout
            while not pred(rundir.read_status(run)):
                assert time.time() < deadline, (what, rundir.read_status(run), jobs.tail_log(run))
                time.sleep(0.2)
            return rundir.read_status(run)

        wait(lambda st: st.get("state") == "running" and st.get("step", 0) >= 10, "running")
        jobs.pause(run)
        paused = wait(lambda st: st.get("state") == "paused", "paused")
        time.sleep(1.5)  # both ranks wait: no step is taken while paused
        assert rundir.read_status(run)["step"] == paused["step"] and paused["step"] % 5 == 0
        jobs.proceed(run)
        wait(lambda st: st.get("state") == "running" and st.get("step", 0) > paused["step"], "running again")
        final = jobs.stop(run, timeout=60)
    finally:
        if procs.pid_alive(rundir.read_status(run).get("launcher_pid")):
            os.killpg(rundir.read_status(run)["launcher_pid"], signal.SIGKILL)
    assert final["state"] == "stopped" and final["message"].startswith("Stopped at step"), final
    assert load_checkpoint(run / "checkpoint.pt")["step"] == final["step"]
    deadline = time.time() + 30
    while any(procs.pid_alive(r["pid"]) for r in final["ranks"]):  # rank 1 exits a moment after rank 0
        assert time.time() < deadline, final["ranks"]
        time.sleep(0.1)
    assert "killed" not in final["message"]


def test_resume_uses_as_many_processes_as_before_where_the_gpus_exist(tmp_path, monkeypatch):
    import ganlib.device
    from ganlib.train import jobs

    run = tmp_path / "run"
    assert jobs._resume_command(run, {"world_size": 2})[1:] == ["-m", "ganlib", "train", "--resume", str(run)]
    monkeypatch.setattr(ganlib.device, "gpu_count", lambda: 4)  # no GPU here: the resume is told of four
    assert jobs._resume_command(run, {"world_size": 2})[1:6] == ["-m", "torch.distributed.run", "--standalone",
                                                                "--nproc_per_node=2", "-m"]
    assert jobs._resume_command(run, {"world_size": 8})[1:3] == ["-m", "ganlib"]  # more than there are: one
    assert jobs._resume_command(run, {})[1:3] == ["-m", "ganlib"]
    assert jobs.launch_problems(TrainConfig(batch_size=64, pack=2), 4) == []
    assert jobs.launch_problems(TrainConfig(batch_size=60, pack=2), 4) == [
        "With 4 GPUs the batch size (60) must be a multiple of 8: it is the global batch, split evenly over the GPUs."]
