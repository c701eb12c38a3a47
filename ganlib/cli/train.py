"""`python -m ganlib train`: one flag per TrainConfig field, a run directory, a progress bar."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from ..checks import BadValue, finite_float, seed_value, whole_number
from ..config import TrainConfig, field_applies, flag_name, recipe_config
from ..families import FAMILIES, reader_of
from ..fieldhelp import FIELDS, Field
from ..modelcard import config_card
from ..train import jobs
from ..train.loop import train
from .inspect import print_card

TORCHRUN_EPILOG = ("Several GPUs or machines: launch the same command with torchrun, e.g. "
                   "torchrun --nproc_per_node=2 -m ganlib train --model dcgan --out runs/ddp "
                   "(add --nnodes=2 --rdzv-backend=c10d --rdzv-endpoint=HOST:29400 on each machine for two). "
                   "Each process takes the GPU of its local rank and a slice of every batch; rank 0 alone writes "
                   "the run directory.")


def _recipe_defaults(name: str) -> str:
    """'; cyclegan: 16, gan on a toy: 128': where a family's recipe starts field `name` elsewhere."""
    default = getattr(TrainConfig, name)
    where = [(model, values.get(name, default)) for model, values in (
        *((m, f.recipe) for m, f in FAMILIES.items()), *((f"{m} on a toy", f.toy_recipe) for m, f in FAMILIES.items()),
        *((f"{m} on a GPU", f.gpu_recipe) for m, f in FAMILIES.items()))]
    return "".join(f"; {model}: {value}" for model, value in where if value != default)


def flag_value(field: Field, flag: str = ""):
    """The argparse type of a field's flag: the text as the field's type, or one sentence (ganlib.checks) for
    a value no run can take (NaN, infinity, 7.5 for a count, a count below its least, a seed beyond 64 bits)."""
    flag = flag or field.flag

    def parse(text: str):
        try:
            if field.name == "seed":
                return seed_value(text, flag)
            if field.type is int:
                return whole_number(text, flag, lo=field.least)
            return finite_float(text, flag) if field.type is float else text
        except BadValue as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = field.type.__name__  # what argparse names in its own messages
    return parse


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (ganlib.fieldhelp.FIELDS); defaults are None so that we can tell what
    was given."""
    for f in FIELDS.values():
        help_ = f"{f.help or f.name.replace('_', ' ')} (default: {f.default}{_recipe_defaults(f.name)})"
        if f.type is bool:
            p.add_argument(f.flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        else:
            p.add_argument(f.flag, dest=f.name, type=flag_value(f), default=None, choices=f.choices, help=help_,
                           metavar=None if f.choices else f.name.upper())
    p.add_argument("--lr", type=flag_value(FIELDS["lr_g"], "--lr"), default=None, help="set both --lr-g and --lr-d")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, dict]:
    """(config with defaults + given flags, the dict of flags that were given)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if getattr(args, "lr", None) is not None:
        given.setdefault("lr_g", args.lr)
        given.setdefault("lr_d", args.lr)
    return recipe_config(**given), given

# ---------------------------------------------------------------- commands

def default_run_dir(config: TrainConfig) -> Path:
    """Where `train` without --out trains: a fresh directory under the runs root ($GAN_STUDIO_RUNS, else
    ./runs) named like the Train page's runs, so the page lists it. Under torchrun rank 0 makes it (the
    other ranks never write)."""
    name = jobs.default_run_name(config)
    if os.environ.get("RANK", "0") != "0":
        return jobs.runs_root() / name
    return jobs.new_run_dir(jobs.runs_root(), name)


def cmd_train(args: argparse.Namespace) -> int:
    config, given = config_from_args(args)
    if getattr(args, "dry_run", False):
        return print_config_card(config, args)
    if args.resume:
        allowed = {"epochs", "max_steps", "device", "log_every", "sample_every", "checkpoint_every", "eval_every"}
        extra = sorted(set(given) - allowed)
        if extra:
            raise ValueError(f"--resume keeps the run's settings; only {', '.join(sorted(flag_name(a) for a in allowed))} "
                             f"can change (not {', '.join(flag_name(e) for e in extra)}).")
        if "epochs" in given and "max_steps" not in given:
            given["max_steps"] = 0  # a new epoch count replaces a step limit the run had
        run_dir, overrides = Path(args.resume), given
    else:
        run_dir, overrides = (Path(args.out) if args.out else default_run_dir(config)), None
        ignored = [n for n in given if not field_applies(n, config.model)]
        if ignored:  # a note, not an error: what trains is still what was asked for
            print(f"note: a {config.model} run ignores " + ", ".join(
                f"{flag_name(n)} ({reader_of(n)})" if reader_of(n) else flag_name(n) for n in ignored)
                + (", a setting" if len(ignored) == 1 else ", settings") + " other models read.", file=sys.stderr)

    bar = None

    def progress(step: int, total: int, row: dict | None) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=step - 1, unit="step", disable=args.quiet, dynamic_ncols=True)
        bar.update(step - bar.n)
        if row is not None:
            bar.set_postfix(d_loss=f"{row['d_loss']:.3f}", g_loss=f"{row['g_loss']:.3f}",
                            img_s=f"{row['images_per_s']:.0f}", refresh=False)

    try:
        summary = train(None if args.resume else config, run_dir, resume=bool(args.resume),
                        overrides=overrides, progress_fn=progress)
    finally:
        if bar is not None:
            bar.close()
    if summary.get("rank", 0) != 0:
        return 0  # torchrun: rank 0 reports for every rank
    if summary.get("data_note"):
        print(f"note: {summary['data_note']}", file=sys.stderr)
    m = summary.get("metrics") or {}
    losses = f", d_loss {m['d_loss']:.3f}, g_loss {m['g_loss']:.3f}" if m else ""
    print(f"{summary['state']}: {run_dir} at step {summary['step']}/{summary['total_steps']} "
          f"(epoch {summary['epoch']:.2f}) in {summary['time']:.1f} s on {summary['device']}{losses}")
    return 0



def print_config_card(config: TrainConfig, args: argparse.Namespace) -> int:
    """`train --dry-run`: the networks a config (or the run given to --resume) would train; nothing is written."""
    if args.resume:
        config = TrainConfig.load(Path(args.resume) / "config.json")
    problems = config.validate()
    if problems:
        raise ValueError(problems[0])
    return print_card(config_card(config), getattr(args, "json", False),
                      f"{config.model} on {config.dataset} (dry run: nothing trained, nothing written)")


def add_train_command(sub) -> None:
    t = sub.add_parser("train", help="train a GAN into a run directory, or resume one",
                       description="Train a GAN into a run directory (config.json, metrics.jsonl, samples/, "
                                   "checkpoint.pt, status.json), or continue one with --resume. Each model starts "
                                   "from its own recipe (the defaults below are DCGAN's on a CPU; where cyclegan, "
                                   "stylegan, the gan model on a 2-D toy, or dcgan and cgan on a CUDA GPU (--device "
                                   "auto or cuda) start elsewhere, each flag says so); any flag you give replaces the "
                                   "recipe's value.",
                       epilog=TORCHRUN_EPILOG)
    t.add_argument("--out", help="run directory to create (default: a new one under $GAN_STUDIO_RUNS or ./runs, "
                                 "which the Train page lists)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly where it stopped")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--dry-run", action="store_true", help="print the networks layer by layer (shapes, parameters, "
                   "FLOPs per image) and exit without training")
    add_config_flags(t)
    t.set_defaults(func=cmd_train)
