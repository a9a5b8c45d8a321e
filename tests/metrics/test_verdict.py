"""Verdict statistics on hand-made correctness vectors, checked against scipy and closed forms."""

import numpy as np
import pytest
import torch
from scipy import stats

from snnbench.metrics.verdict import (
    ANN_BETTER, NO_DIFFERENCE, SNN_BETTER, at_or_below_floor, bootstrap_difference, chance_accuracy,
    compare, majority_accuracy, paired_t_test,
)


def test_floors_by_hand():
    assert chance_accuracy(4) == 0.25
    # training majority is class 2 (3 of 6); test has 2 of 5 class-2 samples -> 0.4
    assert majority_accuracy([2, 0, 2, 1, 2, 0], [2, 1, 2, 0, 0]) == pytest.approx(0.4)
    assert at_or_below_floor(0.394, 0.394) and at_or_below_floor(0.366, 0.394)
    assert not at_or_below_floor(0.40, 0.394)
    with pytest.raises(ValueError, match="num_classes"):
        chance_accuracy(1)


def test_paired_t_matches_scipy():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.uniform(0.8, 1.0, 5)
        b = a - rng.normal(0.01, 0.02, 5)
        t, p = paired_t_test(a, b)
        ref = stats.ttest_rel(a, b)
        assert t == pytest.approx(ref.statistic, rel=1e-10)
        assert p == pytest.approx(ref.pvalue, rel=1e-10)


def test_paired_t_degenerate_and_bad_input():
    assert paired_t_test([0.9, 0.8], [0.9, 0.8]) == (0.0, 1.0)
    t, p = paired_t_test([0.9, 0.8], [0.8, 0.7])
    assert t == np.inf and p == 0.0
    with pytest.raises(ValueError, match="at least 2 seeds"):
        paired_t_test([0.9], [0.8])
    with pytest.raises(ValueError, match="finite"):
        paired_t_test([0.9, float("nan")], [0.8, 0.7])


def test_bootstrap_mean_and_interval_of_a_known_difference():
    # A right on all 400, B right on 300: difference 25 points; each e_i is 0 or 1 with
    # p = 0.25, so the bootstrap sd of the mean is sqrt(.25 * .75 / 400) = 2.165 points
    a = np.ones(400)
    b = np.r_[np.ones(300), np.zeros(100)]
    d, lo, hi = bootstrap_difference(a, b, n_boot=4000, generator=torch.Generator().manual_seed(1))
    assert d == pytest.approx(25.0)
    sd = 100 * np.sqrt(0.25 * 0.75 / 400)
    assert lo == pytest.approx(25 - 1.96 * sd, abs=0.6)
    assert hi == pytest.approx(25 + 1.96 * sd, abs=0.6)
    # seeded: the same generator seed gives the same interval
    again = bootstrap_difference(a, b, n_boot=4000, generator=torch.Generator().manual_seed(1))
    assert again == (d, lo, hi)


def test_verdicts_known_difference_tie_and_direction():
    base = np.r_[np.ones(240), np.zeros(60)]                # 80 %
    better = np.r_[np.ones(285), np.zeros(15)]              # 95 %
    seeds_b = np.stack([np.roll(base, k) for k in range(3)])
    seeds_a = np.stack([np.roll(better, k) for k in range(3)])
    v = compare("snn", "mlp", seeds_a, seeds_b)
    assert v.verdict == SNN_BETTER and v.difference == pytest.approx(15.0) and v.ci_low > 0
    assert compare("snn", "mlp", seeds_b, seeds_a).verdict == ANN_BETTER
    # a tie: the same accuracy, errors on different samples
    tie_a = np.stack([np.roll(base, k) for k in range(3)])
    tie_b = np.stack([np.roll(base, 50 + k) for k in range(3)])
    v = compare("snn", "mlp", tie_a, tie_b)
    assert v.verdict == NO_DIFFERENCE and v.difference == 0.0 and v.ci_low < 0 < v.ci_high
    assert "no difference at 95 %" in v.text()


def test_seed_noise_vetoes_a_sample_level_difference():
    # the per-sample interval excludes zero, but the seeds disagree on the sign
    n = 1000
    def acc(k):
        return np.r_[np.ones(k), np.zeros(n - k)]
    a = np.stack([acc(900), acc(860), acc(905)])
    b = np.stack([acc(850), acc(870), acc(840)])
    v = compare("snn", "gru", a, b)
    _, p = stats.ttest_rel(a.mean(1), b.mean(1))
    assert v.p == pytest.approx(p)
    assert p > 0.05 and v.ci_low > 0
    assert v.verdict == NO_DIFFERENCE


def test_bad_correctness_input():
    with pytest.raises(ValueError, match="0/1"):
        compare("s", "b", [[0.5, 1.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="same seeds"):
        compare("s", "b", np.ones((2, 5)), np.ones((3, 5)))
