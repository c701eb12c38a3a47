"""Run by tests/test_distributed.py under torchrun: train (or resume) one run with ganlib's own loop and
save this rank's trained nets and EMA copies, so the test can compare ranks.

    torchrun --nproc_per_node 2 tests/ddp_worker.py '[{"run_dir": ..., "states": ..., "config": {...}}, ...]'

Several runs share one launch (the process group is joined once here, so ganlib uses it as it is).
Ranks other than 0 get run_dir + ".rank<r>" as their run directory: it must never appear (rank 0 alone writes).
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist

from ganlib.config import TrainConfig
from ganlib.train import loop, rundir


def run(spec: dict, rank: int) -> None:
    steps = []
    build_step = loop.build_step

    def keep(*args, **kwargs):  # the real step; the test only keeps a reference to read its nets afterwards
        step = build_step(*args, **kwargs)
        steps.append(step)
        fail = spec.get("fail")  # {"rank": r, "step": s}: that rank's step s raises, as a bug or an OOM would
        if fail and fail["rank"] == rank:
            real_call = step.__call__
            step_class = type(step)

            class Failing(step_class):
                def __call__(self, next_batch, at: int, want: bool):
                    if at == fail["step"]:
                        raise ValueError("the injected failure")
                    return real_call(next_batch, at, want)

            step.__class__ = Failing
        return step

    loop.build_step = keep
    write_status, written = rundir.write_status, {}
    slow = spec.get("slow_status", {}) if rank == 0 else {}  # {state: seconds}: rank 0 writes it as a loaded disk might

    def timed(run_dir, state, *args, **kwargs):  # and notes when each state's write ended
        time.sleep(slow.get(state, 0))
        done = write_status(run_dir, state, *args, **kwargs)
        written[state] = time.time()
        return done

    rundir.write_status = timed
    run_dir = spec["run_dir"] if rank == 0 else f"{spec['run_dir']}.rank{rank}"
    if spec.get("resume"):
        loop.train(None, run_dir, resume=True, overrides=spec.get("overrides"))
    else:
        loop.train(TrainConfig(**spec["config"]), run_dir)
    returned = time.time()
    step = steps[0]
    state = {name: net.state_dict() for name, net in step.nets.items()}
    state.update({name: ema.state_dict() for name, ema in step.emas.items() if ema is not None})
    os.makedirs(spec["states"], exist_ok=True)
    torch.save(state, os.path.join(spec["states"], f"rank{rank}.pt"))
    with open(os.path.join(spec["states"], f"rank{rank}.json"), "w") as f:  # when train() returned here
        json.dump({"returned": returned, "finished_written": written.get("finished")}, f)
    loop.build_step, rundir.write_status = build_step, write_status


def main() -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    for spec in json.loads(sys.argv[1]):
        run(spec, dist.get_rank())  # an injected failure ends the process here, with torchrun's usual teardown
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
