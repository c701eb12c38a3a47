"""ganlib.checks: every value from outside passes one validator (examples and properties)."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganlib.checks import (SEED_MAX, BadValue, count, count_limit, finite_float, from_url, number_list, seed_value,
                           whole_number)

ANY_TEXT = st.one_of(st.text(max_size=30), st.floats(allow_nan=True, allow_infinity=True).map(str),
                     st.integers(min_value=-(10**30), max_value=10**30).map(str))


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999", "abc", "", None, float("nan")])
def test_finite_float_refuses_what_is_not_a_finite_number(bad):
    with pytest.raises(BadValue, match=r"^psi must be a (finite )?number, not .*\.$"):
        finite_float(bad, "psi")


def test_finite_float_range_refuses_or_clamps():
    assert finite_float("0.7", "psi", 0, 1.5) == 0.7
    with pytest.raises(BadValue, match=r"^psi must be between 0 and 1\.5, not 9\.$"):
        finite_float(9, "psi", 0, 1.5)
    assert finite_float(9, "psi", 0, 1.5, clamp=True) == 1.5
    assert finite_float("-3", "psi", 0, 1.5, clamp=True) == 0


@pytest.mark.parametrize("value, expected", [("7", 7), (7, 7), (7.0, 7), ("7.0", 7), (" 12 ", 12)])
def test_whole_number_accepts_whole_numbers(value, expected):
    assert whole_number(value, "--n") == expected


@pytest.mark.parametrize("bad", ["7.5", "seven", "nan", "inf", True, None, 2.5])
def test_whole_number_refuses_others(bad):
    with pytest.raises(BadValue, match=r"^--n must be a whole number, not .*\.$"):
        whole_number(bad, "--n")


def test_counts_and_seeds_have_ranges():
    with pytest.raises(BadValue, match=r"^--n must be at least 1, not 0\.$"):
        count(0, "--n")
    with pytest.raises(BadValue, match=r"^--k must be between 1 and 64, not -5\.$"):
        count(-5, "--k", hi=64)
    with pytest.raises(BadValue, match=r"^The seed must be between 0 and .*, not 99999999999999999999\.$"):
        seed_value("99999999999999999999")
    assert seed_value(str(SEED_MAX)) == SEED_MAX


def test_number_list_and_count_limit():
    assert number_list("0.5, -1,,2", "d") == [0.5, -1.0, 2.0]
    with pytest.raises(BadValue):
        number_list("1,nan", "d")
    assert number_list("1,9,3", "d", -3, 3, clamp=True, max_len=2) == [1.0, 3.0]
    assert count_limit(1000, budget=10_000) == 10
    assert count_limit(1, budget=10**12, ceiling=500) == 500


def test_from_url_falls_back_to_the_default():
    params = {"psi": "NaN", "seed": "99999999999999999999", "d": "1,2"}
    psi = lambda v: finite_float(v, "psi", 0, 1.5, clamp=True)  # noqa: E731
    assert from_url(params, "psi", psi, 1.0) == 1.0
    assert from_url(params, "seed", lambda v: whole_number(v, "seed", 0, 2**31 - 1, clamp=True), 0) == 2**31 - 1
    assert from_url(params, "missing", psi, 0.5) == 0.5


# ---------------------------------------------------------------- properties

@given(ANY_TEXT)
def test_finite_float_returns_a_finite_float_or_one_sentence(text):
    try:
        x = finite_float(text, "x", -10, 10, clamp=True)
    except BadValue as e:
        assert str(e).endswith(".") and "\n" not in str(e)
    else:
        assert math.isfinite(x) and -10 <= x <= 10


@given(ANY_TEXT)
def test_whole_number_returns_an_int_in_range_or_one_sentence(text):
    try:
        n = whole_number(text, "n", 0, 2**31 - 1, clamp=True)
    except BadValue as e:
        assert str(e).endswith(".") and "\n" not in str(e)
    else:
        assert isinstance(n, int) and 0 <= n <= 2**31 - 1


@given(st.text(max_size=60))
def test_number_list_gives_finite_numbers_or_one_sentence(text):
    try:
        values = number_list(text, "d", -3, 3, clamp=True, max_len=8)
    except BadValue as e:
        assert str(e).endswith(".")
    else:
        assert len(values) <= 8 and all(math.isfinite(v) and -3 <= v <= 3 for v in values)


@given(st.dictionaries(st.sampled_from(["psi", "seed", "d"]), ANY_TEXT))
def test_from_url_never_raises(params):
    psi = from_url(params, "psi", lambda v: finite_float(v, "psi", 0, 1.5, clamp=True), 1.0)
    seed = from_url(params, "seed", lambda v: whole_number(v, "seed", 0, 2**31 - 1, clamp=True), 0)
    d = from_url(params, "d", lambda v: number_list(v, "d", -3, 3, clamp=True, max_len=10), [])
    assert 0 <= psi <= 1.5 and 0 <= seed < 2**31 and all(-3 <= v <= 3 for v in d)
