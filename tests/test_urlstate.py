"""Property tests of the URL-state parsers (studio.urlstate): whatever a link holds, the pages' state is in range,
finite and of the widgets' types; a clean link round-trips."""
import math

from hypothesis import given, settings, strategies as st

from studio import urlstate

KINDS = ("sefa", "pca", "attribute", "raw")
NUMBERISH = (st.text(max_size=25) | st.integers(-10**25, 10**25).map(str)
             | st.floats(allow_nan=True, allow_infinity=True).map(str)
             | st.sampled_from(["NaN", "nan", "-inf", "Infinity", "1e400", "99999999999999999999", "", " 3 "]))
LISTISH = st.lists(NUMBERISH, max_size=8).map(",".join) | st.text(max_size=30)
LATENT_URL = st.fixed_dictionaries({}, optional={
    "view": st.text(max_size=12) | st.sampled_from(["explore", "invert"]), "seed": NUMBERISH, "class": NUMBERISH,
    "kind": st.text(max_size=8) | st.sampled_from(KINDS), "d": LISTISH, "psi": NUMBERISH, "digit": NUMBERISH,
    "z": st.text(max_size=20)})
STYLE_URL = st.fixed_dictionaries({}, optional={
    "view": st.text(max_size=12), "a": LISTISH, "b": LISTISH, "seed": NUMBERISH, "d": LISTISH, "psi": NUMBERISH,
    "noise": LISTISH, "nseed": NUMBERISH, "layer": st.text(max_size=10)})


def finite_in(x, lo, hi):
    return isinstance(x, float) and math.isfinite(x) and lo <= x <= hi


@settings(max_examples=300, deadline=None)
@given(LATENT_URL)
def test_any_latent_link_gives_a_state_in_range(url):
    s = urlstate.latent_state(url, KINDS, 5, 5.0)
    assert s["latent_view"] in urlstate.LATENT_VIEWS and s["latent_kind"] in KINDS
    assert type(s["latent_seed"]) is int and 0 <= s["latent_seed"] <= 2**31 - 1
    assert type(s["latent_class"]) is int and 0 <= s["latent_class"] <= urlstate.MAX_CLASS
    assert type(s["latent_digit"]) is int and 0 <= s["latent_digit"] <= 9
    assert finite_in(s["latent_psi"], 0.0, 1.5)
    assert all(finite_in(s[f"dir_{i}"], -5.0, 5.0) for i in range(5))
    assert set(s["_url_unreadable"]) <= {"seed", "class", "psi", "digit", "d"}


@settings(max_examples=300, deadline=None)
@given(STYLE_URL)
def test_any_style_link_gives_a_state_in_range(url):
    s = urlstate.style_state(url, 4, 3, 4, 6.0)
    assert s["style_view"] in urlstate.STYLE_VIEWS
    assert len(s["style_a"]) == 4 and len(s["style_b"]) == 3
    for seed in [*s["style_a"], *s["style_b"], s["style_seed"], s["style_nseed"]]:
        assert type(seed) is int and 0 <= seed <= 2**31 - 1
    assert finite_in(s["style_psi"], 0.0, 1.5)
    assert all(finite_in(s[f"style_d{i}"], -6.0, 6.0) for i in range(4))
    assert all(finite_in(v, 0.0, 2.0) for v in s["_style_noise_url"])


@given(st.integers(0, 2**31 - 1), st.integers(0, 9), st.floats(0, 1.5), st.lists(st.floats(-5, 5), min_size=5,
                                                                                   max_size=5))
def test_a_clean_latent_link_round_trips(seed, digit, psi, d):
    url = {"seed": str(seed), "digit": str(digit), "psi": repr(psi), "d": ",".join(map(repr, d)), "kind": "pca"}
    s = urlstate.latent_state(url, KINDS, 5, 5.0)
    assert (s["latent_seed"], s["latent_digit"], s["latent_psi"], s["latent_kind"]) == (seed, digit, psi, "pca")
    assert [s[f"dir_{i}"] for i in range(5)] == d and s["_url_unreadable"] == []


def test_the_issue_cases():
    s = urlstate.latent_state({"psi": "NaN", "seed": "99999999999999999999", "d": "nan,1"}, KINDS, 5, 5.0)
    assert s["latent_psi"] == 1.0 and s["latent_seed"] == 2**31 - 1 and s["dir_0"] == 0.0 and s["dir_1"] == 1.0
    s = urlstate.style_state({"noise": "nan,0.5", "nseed": "99999999999999999999"}, 4, 3, 4, 6.0)
    assert s["_style_noise_url"][:2] == [1.0, 0.5] and s["style_nseed"] == 2**31 - 1
