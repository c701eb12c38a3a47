"""The command line's argument types and its parser: every numeric flag goes through ganlib.checks, and every
refusal is `error: <one sentence>` on stderr with exit code 2 (no usage block, no traceback)."""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from .. import checks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class Parser(argparse.ArgumentParser):
    """argparse, but a refusal is one sentence: `error: --n must be at least 1, not 0.` and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {one_sentence(message)}\n")
        sys.exit(2)


def one_sentence(message: str, capital: bool = True) -> str:
    """argparse's 'argument --n: --n must be ...' -> '--n must be ...'; the first letter up (capital=True: argparse's
    own lower-case messages; not for ours, which may start with a file name), a full stop."""
    m = re.match(r"argument ([^:]+): (.*)", message, re.S)
    if m:
        flags, rest = m.groups()
        names = [f for f in flags.split("/") if f]
        if rest.startswith("expected one argument"):   # `--range -inf:3:5`: argparse read the value as an option
            rest = f"{names[0]} needs a value (write {names[0]}=VALUE when the value starts with -)"
        message = rest if any(n in rest for n in names) else f"{flags}: {rest}"
    message = " ".join(message.split())
    if capital and message and message[0].islower():
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def _typed(flag: str, check):
    def parse(text: str):
        try:
            return check(text)
        except checks.BadValue as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = flag.lstrip("-")
    return parse


def count_arg(flag: str, lo: int = 1, hi: int | None = None):
    """A `type=` for a count flag: a whole number from lo (1) to hi."""
    return _typed(flag, lambda t: checks.count(t, flag, lo, hi))


def seed_arg(flag: str = "--seed"):
    """A `type=` for a seed: a whole number from 0 to 2**63 - 1."""
    return _typed(flag, lambda t: checks.seed_value(t, flag))


def float_arg(flag: str, lo: float | None = None, hi: float | None = None):
    """A `type=` for a finite number in [lo, hi]."""
    return _typed(flag, lambda t: checks.finite_float(t, flag, lo, hi))


def truncation_arg(flag: str = "--truncation", lo_open: float = 0.0, hi: float = 1.0):
    """psi in (lo_open, hi] (sample: (0, 1]); finite."""
    def check(text: str) -> float:
        x = checks.finite_float(text, flag, lo_open, hi)
        if x <= lo_open:
            raise checks.BadValue(f"{flag} must be above {lo_open:g} and at most {hi:g}, not {x:g}.")
        return x
    return _typed(flag, check)


def seed_list(text: str, flag: str, lo_len: int = 1, hi_len: int = 16) -> list[int]:
    """'1,2,3' -> seeds, each within 64 bits; between lo_len and hi_len of them."""
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not lo_len <= len(items) <= hi_len:
        few = (f"{lo_len}" if lo_len == hi_len else "one or two" if (lo_len, hi_len) == (1, 2)
               else f"between {lo_len} and {hi_len}")
        raise ValueError(f"{flag} takes {few} seeds separated by commas, like 1,2, not {text!r}.")
    return [checks.seed_value(s, f"Each seed of {flag}") for s in items]


def value_range(text: str, flag: str = "--range", max_count: int = 64) -> tuple[float, float, int]:
    """'FROM:TO:COUNT' with finite ends and 1 <= COUNT <= max_count."""
    parts = str(text).split(":")
    if len(parts) != 3:
        raise ValueError(f"{flag} must look like -3:3:9 (FROM:TO:COUNT), not {text!r}.")
    lo = checks.finite_float(parts[0], f"The FROM of {flag}")
    hi = checks.finite_float(parts[1], f"The TO of {flag}")
    n = checks.count(parts[2], f"The COUNT of {flag}", 1, max_count)
    return lo, hi, n


def output_path(out: str, flag: str = "--out", suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """--out's path, its extension one of `suffixes` (case does not matter); ValueError naming them otherwise."""
    path = Path(out)
    if path.suffix.lower() not in suffixes:
        shown = path.suffix or "no extension"
        raise ValueError(f"{flag} {out!r} has {shown}; give a file ending in {', '.join(suffixes)}.")
    if path.is_dir():
        raise ValueError(f"{flag} {out!r} is a folder; give a file name.")
    return path


def input_file(path: str, flag: str) -> Path:
    """An input file that must exist and be a file (a folder is named as one)."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag} {path!r} is a folder, not a file; give one image file.")
    if not p.exists():
        raise ValueError(f"{flag} {path!r} does not exist.")
    return p


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def memory_count(n: int, bytes_each: int, flag: str, what: str, ceiling: int = 1_000_000,
                 hint: str = "") -> int:
    """n if n items of bytes_each fit the memory budget (checks.count_limit); else one sentence saying what was
    asked, what it would need and the most allowed."""
    limit = checks.count_limit(bytes_each, ceiling=ceiling)
    if n > limit:
        raise ValueError(f"{flag} {n} {what} would need about {_size(n * bytes_each)} of memory; at most {limit} "
                         f"fit here{hint}.")
    return n


def disk_count(n: int, bytes_each: int, where: Path, flag: str, what: str) -> int:
    """n if n items of bytes_each fit on the disk holding `where` (leaving a tenth free)."""
    folder = where.parent if where.parent.exists() else Path.cwd()
    free = shutil.disk_usage(folder).free
    limit = max(0, int(free * 0.9) // max(1, bytes_each))
    if n > limit:
        raise ValueError(f"{flag} {n} {what} would need {_size(n * bytes_each)} on disk; at most {limit} fit in the "
                         f"{_size(free)} free there.")
    return n
