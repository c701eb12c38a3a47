"""The command line: `python -m ganlib {train,sample,info,evaluate,export,train-classifier,translate,...} ...`.
It only builds arguments for ganlib functions; every user-facing failure is one sentence on stderr and exit code 2.

train.py: train (and its one flag per TrainConfig field); inspect.py: what to do with a checkpoint (sample, info,
evaluate, export, diversity, train-classifier); explore.py: latent, interpolate, invert, translate, style-check,
style-mix.
"""
from __future__ import annotations

import argparse
import sys

from .args import Parser, one_sentence
from .explore import add_latent_commands, add_style_commands, add_translate_commands
from .inspect import add_checkpoint_commands, add_diversity_command
from .train import add_train_command


def build_parser() -> argparse.ArgumentParser:  # a Parser: refusals are one sentence
    p = Parser(prog="python -m ganlib", description="GAN Studio: train, sample and inspect GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    add_train_command(sub)
    add_checkpoint_commands(sub)
    add_latent_commands(sub)
    add_translate_commands(sub)
    add_style_commands(sub)
    add_diversity_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError) as e:  # our errors carry one sentence for the user
        print(f"error: {one_sentence(str(e), capital=False)}", file=sys.stderr)
        return 2
