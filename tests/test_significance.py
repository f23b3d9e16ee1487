"""colorist.eval.significance against hand-computed cases."""

import math

import numpy as np
import pytest

from colorist.eval.significance import bootstrap_ci, paired_bootstrap_diff, permutation_test


def test_identical_models_p_is_one_and_difference_ci_is_zero():
    a = [1, 0, 1, 1, 0, 1, 0, 0]
    assert permutation_test(a, a) == 1.0
    assert paired_bootstrap_diff(a, a) == {"diff": 0.0, "lo": 0.0, "hi": 0.0}


def test_all_right_vs_all_wrong_on_30_items_is_significant():
    # Only the all-positive sign pattern (probability 2**-30) reaches the observed mean 1, so the
    # p-value is the floor of 10k random flips: 2 * 1 / 10001 (two-sided, observed counted).
    p = permutation_test([1] * 30, [0] * 30)
    assert p < 1e-3
    assert p == pytest.approx(2 / 10001)
    assert paired_bootstrap_diff([1] * 30, [0] * 30) == {"diff": 1.0, "lo": 1.0, "hi": 1.0}


@pytest.mark.parametrize("a, b, expected", [
    # 2**3 = 8 sign patterns (exact test): only +++ reaches mean 1 -> one-sided 1/8, two-sided 1/4
    ([1, 1, 1], [0, 0, 0], 0.25),
    # the zero difference cannot flip: T >= 2/3 for the 2 of 8 patterns with both ones positive
    ([1, 1, 0], [0, 0, 0], 0.5),
    # 2**5 patterns, one extreme: 2 / 32
    ([1, 1, 1, 1, 1], [0, 0, 0, 0, 0], 0.0625),
    # differences (+1, -1): T in {1, 0, 0, -1} -> observed 0 is the median, p = 1
    ([1, 0], [0, 1], 1.0),
])
def test_exact_sign_flip_p_values(a, b, expected):
    assert permutation_test(a, b) == pytest.approx(expected)
    assert permutation_test(b, a) == pytest.approx(expected)  # two-sided: symmetric


def test_constant_values_have_a_degenerate_ci():
    assert bootstrap_ci([0.7] * 12) == (0.7, 0.7, 0.7)
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)


def test_two_item_bootstrap_matches_its_exact_distribution():
    # Resampled means of (0, 1): 0 w.p. 1/4, 0.5 w.p. 1/2, 1 w.p. 1/4.
    assert bootstrap_ci([0, 1]) == (0.5, 0.0, 1.0)  # 2.5th and 97.5th percentiles
    assert bootstrap_ci([0, 1], confidence=0.4) == (0.5, 0.5, 0.5)  # 30th and 70th


def test_bootstrap_ci_width_matches_the_normal_approximation():
    values = np.random.default_rng(3).integers(0, 2, 400)
    mean, lo, hi = bootstrap_ci(values)
    se = math.sqrt(mean * (1 - mean) / values.size)
    assert lo < mean < hi
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)
    _, lo99, hi99 = bootstrap_ci(values, confidence=0.99)
    assert lo99 <= lo and hi99 >= hi


def test_paired_difference_is_mean_of_differences():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 1, 0, 1])
    b = np.array([0, 1, 0, 0, 0, 1, 0, 1, 0, 0])
    out = paired_bootstrap_diff(a, b)
    assert out["diff"] == pytest.approx(0.4)
    assert out["lo"] <= 0.4 <= out["hi"]
    assert out == {"diff": out["diff"], **dict(zip(("lo", "hi"), bootstrap_ci(a - b)[1:]))}


def test_seeded_determinism():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    assert bootstrap_ci(a, seed=5) == bootstrap_ci(a, seed=5)
    assert paired_bootstrap_diff(a, b, seed=5) == paired_bootstrap_diff(a, b, seed=5)
    assert permutation_test(a, b, seed=5) == permutation_test(a, b, seed=5)
    scores = rng.normal(size=50)  # continuous: different draws give different percentiles
    assert bootstrap_ci(scores, seed=5) == bootstrap_ci(scores, seed=5)
    assert bootstrap_ci(scores, seed=5) != bootstrap_ci(scores, seed=6)


@pytest.mark.parametrize("call, message", [
    (lambda: bootstrap_ci([]), "no values"),
    (lambda: bootstrap_ci([1.0, float("nan")]), "non-finite value at item 1"),
    (lambda: bootstrap_ci([[1, 0]]), "1-D"),
    (lambda: bootstrap_ci([1, 0], confidence=1.0), "confidence"),
    (lambda: paired_bootstrap_diff([1, 0], [1]), "len\\(a\\)=2 != len\\(b\\)=1"),
    (lambda: permutation_test([1, 0, 1], [1, 0]), "same items"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_random_sign_flips_converge_to_the_exact_mcnemar_p():
    # For 0/1 correctness the sign-flip null of sum(a - b) is 2 * Binomial(k, 1/2) - k over the
    # k discordant items: the exact two-sided McNemar p is 2 * P(X >= (s + k) / 2).
    from scipy.stats import binom

    a = np.array([1] * 60 + [0] * 45 + [1] * 80 + [0] * 15)  # 60 items only a right,
    b = np.array([0] * 60 + [1] * 45 + [1] * 80 + [0] * 15)  # 45 only b: k = 105, s = 15
    exact = 2 * binom.sf((15 + 105) / 2 - 1, 105, 0.5)
    assert 0.1 < exact < 0.3
    assert permutation_test(a, b, n_permutations=20000) == pytest.approx(exact, abs=0.01)
