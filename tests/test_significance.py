"""Tests of genrec.significance: paired intervals, tests, tables and seeds."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genrec.metrics import Evaluation
from genrec.significance import (compare, comparison_table, holm, paired_bootstrap,
                                 paired_test, seed_summary)


def test_bootstrap_of_constant_difference_is_a_point():
    # Every user gains exactly 0.1, so every resample's mean is 0.1.
    a = np.linspace(0, 1, 50)
    difference, low, high = paired_bootstrap(a + 0.1, a, n_resamples=200)
    assert difference == pytest.approx(0.1)
    assert low == pytest.approx(0.1)
    assert high == pytest.approx(0.1)


def test_bootstrap_interval_covers_normal_theory_interval():
    # With 2,000 users the percentile interval should be close to
    # mean +- 1.96 * sd / sqrt(n).
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.3, 1, 2000), rng.normal(0.2, 1, 2000)
    difference, low, high = paired_bootstrap(a, b, n_resamples=4000, seed=1)
    se = (a - b).std(ddof=1) / np.sqrt(2000)
    assert difference == pytest.approx((a - b).mean())
    assert low == pytest.approx(difference - 1.96 * se, abs=0.2 * se)
    assert high == pytest.approx(difference + 1.96 * se, abs=0.2 * se)


def test_bootstrap_same_seed_same_interval():
    rng = np.random.default_rng(0)
    a, b = rng.random(100), rng.random(100)
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(2, 40), elements=st.floats(0, 1)),
       st.floats(0.5, 0.99))
def test_bootstrap_matches_plain_loop(values, confidence):
    # Same generator calls in a plain loop: one resample of users at a time.
    b = values[::-1].copy()
    n_resamples = 300
    _, low, high = paired_bootstrap(values, b, n_resamples=n_resamples,
                                    confidence=confidence, seed=7)
    rng = np.random.default_rng(7)
    draws = rng.integers(0, len(values), size=(n_resamples, len(values)))
    means = [np.mean(values[d] - b[d]) for d in draws]
    tail = (1 - confidence) / 2
    assert low == pytest.approx(np.quantile(means, tail))
    assert high == pytest.approx(np.quantile(means, 1 - tail))
    assert low <= high


@pytest.mark.parametrize("test, reference", [
    ("ttest", lambda a, b: scipy.stats.ttest_rel(a, b).pvalue),
    ("wilcoxon", lambda a, b: scipy.stats.wilcoxon(a, b).pvalue),
])
def test_paired_test_uses_scipy(test, reference):
    rng = np.random.default_rng(0)
    a, b = rng.random(40), rng.random(40)
    assert paired_test(a, b, test=test) == pytest.approx(reference(a, b))


@pytest.mark.parametrize("test", ["ttest", "wilcoxon"])
def test_paired_test_equal_arrays_give_one(test):
    a = np.array([0.0, 0.5, 1.0])
    assert paired_test(a, a.copy(), test=test) == 1.0


@pytest.mark.parametrize("a, b, kwargs, match", [
    ([1.0, 2.0], [1.0], {}, "same users"),
    ([1.0], [1.0], {}, "at least 2 users"),
    ([1.0, np.nan], [1.0, 2.0], {}, "NaN"),
    ([1.0, 2.0], [1.0, 3.0], {"test": "sign"}, "test must be one of"),
])
def test_paired_test_rejects_bad_input(a, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_test(np.array(a), np.array(b), **kwargs)


@pytest.mark.parametrize("kwargs, match", [({"confidence": 1.0}, "confidence"),
                                           ({"n_resamples": 0}, "n_resamples")])
def test_bootstrap_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(np.arange(3.0), np.arange(3.0), **kwargs)


def test_compare_reports_significance():
    rng = np.random.default_rng(0)
    base = rng.random(300)
    clear = compare(base + 0.05 + rng.normal(0, 0.01, 300), base)
    assert clear.significant and clear.low > 0
    noise = compare(base + rng.normal(0, 0.1, 300), base)
    assert not noise.significant
    assert noise.low < 0 < noise.high
    assert "not significant" in str(noise)


def test_holm_hand_computed():
    # Sorted p 0.01, 0.02, 0.04 scaled by 3, 2, 1 -> 0.03, 0.04, 0.04.
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # Running maximum keeps the adjusted values in order, capped at 1.
    assert holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def evaluation(values, users=None):
    values = np.asarray(values, dtype=np.float64)
    users = np.arange(len(values)) if users is None else np.asarray(users)
    return Evaluation({"ndcg@10": values}, users)


def test_comparison_table_rows_and_columns():
    rng = np.random.default_rng(0)
    base = rng.random(200)
    table = comparison_table(
        {"ref": evaluation(base), "better": evaluation(base + 0.1 + rng.normal(0, 0.01, 200)),
         "same": evaluation(base + rng.normal(0, 0.05, 200))},
        "ndcg@10", reference="ref", n_resamples=500)
    assert list(table.index) == ["ref", "better", "same"]
    assert table.loc["better", "difference"] == pytest.approx(0.1, abs=0.005)
    assert bool(table.loc["better", "significant"])
    assert not bool(table.loc["same", "significant"])
    assert np.isnan(table.loc["ref", "difference"])
    assert table.loc["ref", "significant"] is pd.NA
    # Holm over two comparisons: the smaller p-value is doubled.
    p = table.loc[["better", "same"], "p_value"]
    assert table.loc[p.idxmin(), "p_holm"] == pytest.approx(min(1.0, 2 * p.min()))


def test_comparison_table_rejects_different_users():
    with pytest.raises(ValueError, match="different users"):
        comparison_table({"a": evaluation([1, 2, 3]), "b": evaluation([1, 2, 3], [0, 1, 5])},
                         "ndcg@10", reference="a")


@pytest.mark.parametrize("metric, reference, match", [
    ("recall@10", "a", "has no 'recall@10'"),
    ("ndcg@10", "c", "reference 'c'"),
])
def test_comparison_table_rejects_bad_names(metric, reference, match):
    with pytest.raises(ValueError, match=match):
        comparison_table({"a": evaluation([1, 2]), "b": evaluation([2, 3])}, metric,
                         reference=reference)


def test_seed_summary_hand_computed():
    # Values 0.30, 0.32, 0.34: mean 0.32, sample std 0.02.
    summary = seed_summary({0: 0.30, 1: 0.32, 2: 0.34})
    assert summary["mean"] == pytest.approx(0.32)
    assert summary["std"] == pytest.approx(0.02)
    assert summary["n_seeds"] == 3
    assert (summary["min"], summary["max"]) == pytest.approx((0.30, 0.34))


def test_seed_summary_one_seed_has_no_spread():
    assert np.isnan(seed_summary([0.5])["std"])


def test_seed_summary_rejects_empty():
    with pytest.raises(ValueError, match="one number per seed"):
        seed_summary([])
