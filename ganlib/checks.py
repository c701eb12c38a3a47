"""Every value from outside (a URL parameter, a command-line argument, a form field) passes through here once.

Two ways to use them:
- strict (the CLI, ganlib's own functions): `finite_float`, `whole_number`, `seed_value`, `number_list` raise
  BadValue with one sentence naming the value and what is allowed;
- lenient (a link someone pasted): `from_url` turns whatever a parser rejects into the default, and a number
  outside the range into the nearest allowed one (the URL's documented behaviour is to clamp).

NaN, infinities, numbers too big for 64 bits and counts below their minimum never get past either.
"""
from __future__ import annotations

import math
import os
from typing import Callable, TypeVar

T = TypeVar("T")

SEED_MAX = 2**63 - 1      # torch.manual_seed takes any 64-bit number; a 63-bit one survives every int64 on the way
URL_SEED_MAX = 2**31 - 1  # the pages' seed inputs (Streamlit's number_input) stop here


class BadValue(ValueError):
    """A value from outside that cannot be used; str() is one sentence for the user."""


def _describe(value: object) -> str:
    text = str(value)
    return repr(text[:40] + "…") if len(text) > 40 else repr(text)


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {_num(lo)} and {_num(hi)}"
    if lo is not None:
        return f"at least {_num(lo)}"
    return f"at most {_num(hi)}"


def finite_float(value: object, name: str, lo: float | None = None, hi: float | None = None,
                 clamp: bool = False) -> float:
    """`value` (a number or its text) as a finite float in [lo, hi]; clamp=True moves it into the range
    instead of refusing it. NaN and infinities are always refused."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise BadValue(f"{name} must be a number, not {_describe(value)}.") from None
    if not math.isfinite(x):
        raise BadValue(f"{name} must be a finite number, not {_describe(value)}.")
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        if not clamp:
            raise BadValue(f"{name} must be {_range_text(lo, hi)}, not {x:g}.")
        x = min(max(x, lo if lo is not None else x), hi if hi is not None else x)
    return x


def whole_number(value: object, name: str, lo: int | None = None, hi: int | None = None,
                 clamp: bool = False) -> int:
    """`value` as an int in [lo, hi] ("7", 7, 7.0 and "7.0" are fine; 7.5, "seven", NaN are not)."""
    if isinstance(value, bool):
        raise BadValue(f"{name} must be a whole number, not {_describe(value)}.")
    if isinstance(value, int):
        n = value
    else:
        text = str(value).strip()
        try:
            n = int(text)
        except ValueError:
            try:
                x = float(text)
            except ValueError:
                raise BadValue(f"{name} must be a whole number, not {_describe(value)}.") from None
            if not math.isfinite(x) or x != int(x):
                raise BadValue(f"{name} must be a whole number, not {_describe(value)}.")
            n = int(x)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        if not clamp:
            shown = str(n) if len(str(n)) <= 20 else _describe(n)
            raise BadValue(f"{name} must be {_range_text(lo, hi)}, not {shown}.")
        n = min(max(n, lo if lo is not None else n), hi if hi is not None else n)
    return n


def seed_value(value: object, name: str = "The seed", hi: int = SEED_MAX) -> int:
    """A random seed: a whole number from 0 to `hi` (2**63 - 1 by default)."""
    return whole_number(value, name, 0, hi)


def number_list(text: str, name: str, lo: float | None = None, hi: float | None = None, clamp: bool = False,
                max_len: int | None = None) -> list[float]:
    """'0.5,-1,2' as finite floats, each checked like finite_float; empty items are skipped."""
    items = [item for item in str(text).split(",") if item.strip()]
    if max_len is not None and len(items) > max_len:
        if not clamp:
            raise BadValue(f"{name} takes at most {max_len} numbers, not {len(items)}.")
        items = items[:max_len]
    return [finite_float(item.strip(), name, lo, hi, clamp) for item in items]


def count(value: object, name: str, lo: int = 1, hi: int | None = None) -> int:
    """A count (samples, frames, steps, restarts...): a whole number in [lo, hi]."""
    return whole_number(value, name, lo, hi)


def memory_budget(fraction: float = 0.25) -> int:
    """Bytes that one request may use: `fraction` of this machine's memory (1 GiB where it cannot be read)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 * 2**30
    return max(2**28, int(total * fraction))


def count_limit(bytes_each: int, budget: int | None = None, ceiling: int = 1_000_000) -> int:
    """How many items of `bytes_each` bytes fit in the memory budget (never more than `ceiling`)."""
    budget = memory_budget() if budget is None else budget
    return max(1, min(ceiling, budget // max(1, int(bytes_each))))


def from_url(params, key: str, parse: Callable[[str], T], default: T) -> T:
    """params[key] parsed by `parse` (a lenient checker: clamp=True), or `default` when it is absent or bad.
    A link is somebody's old or hand-edited state: it should open the page, never raise."""
    if key not in params:
        return default
    try:
        return parse(params[key])
    except (BadValue, TypeError, ValueError, OverflowError):
        return default
