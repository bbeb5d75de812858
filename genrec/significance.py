"""Is one recommender better than another on the same users, or is it noise?

Two models evaluated on the same held-out users give two per-user metric
arrays that are paired: user u's NDCG under model A and under model B. The
helpers here compare such pairs.

- :func:`paired_bootstrap`: a percentile bootstrap confidence interval of the
  mean per-user difference, resampling users with replacement.
- :func:`paired_test`: a p-value from the paired t-test
  (:func:`scipy.stats.ttest_rel`) or the Wilcoxon signed-rank test
  (:func:`scipy.stats.wilcoxon`).
- :func:`compare` and :func:`comparison_table`: both at once, for two models
  or for many models against one reference, with Holm's step-down
  correction when several comparisons are made.
- :func:`seed_summary`: mean and spread of a trained model's metric over
  training seeds, which the per-user intervals above do not capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from .metrics import Evaluation

TESTS = ("ttest", "wilcoxon")


def _paired_arrays(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D arrays of the same users, got shapes "
                         f"{a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a paired comparison needs at least 2 users, got {len(a)}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("a or b contains NaN; drop users without a metric value first")
    return a, b


def paired_bootstrap(a, b, *, n_resamples: int = 10_000, confidence: float = 0.95,
                     seed: int = 0) -> tuple[float, float, float]:
    """Return the mean of ``a - b`` and a bootstrap confidence interval for it.

    Users are resampled with replacement `n_resamples` times; each resample
    keeps a user's two values together. The interval runs between the
    (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resampled
    means (the percentile method).

    Parameters
    ----------
    a, b : array of shape (n_users,)
        Per-user metric of two models, in the same user order.
    n_resamples : int, default 10000
    confidence : float, default 0.95
    seed : int, default 0

    Returns
    -------
    (difference, low, high) : tuple of float

    Defined in :doc:`/chapters/evaluation`.
    """
    a, b = _paired_arrays(a, b)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    difference = a - b
    n = len(difference)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # Draw in chunks so memory stays near 4M indices whatever the user count.
    chunk = max(1, 4_000_000 // n)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        means[start:stop] = difference[rng.integers(0, n, size=(stop - start, n))].mean(1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(difference.mean()), float(low), float(high)


def paired_test(a, b, *, test: str = "ttest") -> float:
    """Return the two-sided p-value of a paired test of "a and b do not differ".

    Parameters
    ----------
    a, b : array of shape (n_users,)
    test : {"ttest", "wilcoxon"}, default "ttest"
        "ttest" tests whether the mean difference is 0, the quantity the
        bootstrap interval is about. "wilcoxon" is the signed-rank test; it
        drops users whose two values are equal, which is common for metrics
        that are 0 for many users.

    Returns
    -------
    float
        1.0 when every user's two values are equal.

    Defined in :doc:`/chapters/evaluation`.
    """
    a, b = _paired_arrays(a, b)
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if np.all(a == b):
        return 1.0
    if test == "ttest":
        return float(scipy.stats.ttest_rel(a, b).pvalue)
    return float(scipy.stats.wilcoxon(a, b).pvalue)


@dataclass
class Comparison:
    """Paired comparison of model A against model B on one metric.

    Attributes
    ----------
    mean_a, mean_b : float
        Metric averaged over the shared users.
    difference, low, high : float
        Mean of A - B and its bootstrap confidence interval.
    p_value : float
        From the paired test named in `test`.
    n_users : int
    confidence : float
    test : str
    """

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    p_value: float
    n_users: int
    confidence: float = 0.95
    test: str = "ttest"

    @property
    def significant(self) -> bool:
        """Whether p < 1 - confidence, the level matching the interval."""
        return self.p_value < 1 - self.confidence

    def __str__(self) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"{self.mean_a:.3f} vs {self.mean_b:.3f}: difference "
                f"{self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}], "
                f"p = {self.p_value:.3g} ({verdict}, {self.n_users} users)")


def compare(a, b, *, n_resamples: int = 10_000, confidence: float = 0.95,
            test: str = "ttest", seed: int = 0) -> Comparison:
    """Compare two per-user metric arrays with an interval and a p-value.

    Parameters are those of :func:`paired_bootstrap` and :func:`paired_test`.

    Defined in :doc:`/chapters/evaluation`.
    """
    a, b = _paired_arrays(a, b)
    difference, low, high = paired_bootstrap(a, b, n_resamples=n_resamples,
                                             confidence=confidence, seed=seed)
    return Comparison(float(a.mean()), float(b.mean()), difference, low, high,
                      paired_test(a, b, test=test), len(a), confidence, test)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Return p-values adjusted by Holm's step-down method.

    The i-th smallest p-value is multiplied by (m - i + 1) for m tests, made
    non-decreasing and capped at 1. Rejecting where the adjusted value is
    below alpha keeps the chance of any false rejection below alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def comparison_table(evaluations: Mapping[str, Evaluation], metric: str, *,
                     reference: str, n_resamples: int = 10_000,
                     confidence: float = 0.95, test: str = "ttest",
                     seed: int = 0) -> pd.DataFrame:
    """Tabulate each model's metric and its paired difference to `reference`.

    Parameters
    ----------
    evaluations : mapping of model name to Evaluation
        All evaluated on the same users (their ``user_index`` must match).
    metric : str
        Such as ``"ndcg@100"``.
    reference : str
        The model every other row is compared with.
    n_resamples, confidence, test, seed
        As in :func:`compare`.

    Returns
    -------
    DataFrame
        One row per model: ``mean``, ``se`` (standard error over users),
        ``difference`` (model - reference), ``low``, ``high``, ``p_value``,
        ``p_holm`` (Holm-adjusted over the table's comparisons) and
        ``significant`` (p_holm below 1 - confidence). The reference row has
        NaN in the comparison columns.

    Defined in :doc:`/chapters/evaluation`.
    """
    if reference not in evaluations:
        raise ValueError(f"reference {reference!r} is not one of {sorted(evaluations)}")
    base = evaluations[reference]
    rows = {}
    for name, evaluation in evaluations.items():
        if metric not in evaluation.per_user:
            raise ValueError(f"{name!r} has no {metric!r}; it has {sorted(evaluation.per_user)}")
        if not np.array_equal(evaluation.user_index, base.user_index):
            raise ValueError(f"{name!r} and {reference!r} were evaluated on different "
                             "users; evaluate both on the same held-out matrices")
        values = evaluation.per_user[metric]
        row = {"mean": values.mean(), "se": values.std(ddof=1) / np.sqrt(len(values))}
        if name != reference:
            result = compare(values, base.per_user[metric], n_resamples=n_resamples,
                             confidence=confidence, test=test, seed=seed)
            row.update(difference=result.difference, low=result.low, high=result.high,
                       p_value=result.p_value)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    compared = table.index != reference
    table["p_holm"] = np.nan
    if compared.any():
        table.loc[compared, "p_holm"] = holm(table.loc[compared, "p_value"].to_numpy())
    significant = pd.array(table["p_holm"] < 1 - confidence, dtype="boolean")
    significant[~compared] = pd.NA
    table["significant"] = significant
    return table


def seed_summary(values: Mapping[int, float] | Sequence[float]) -> pd.Series:
    """Return the mean, standard deviation, minimum and maximum over seeds.

    Parameters
    ----------
    values : mapping of seed to metric, or sequence of metrics
        One test metric per training run that differs only in its seed.

    Returns
    -------
    Series
        ``n_seeds``, ``mean``, ``std`` (with ddof=1, NaN for one seed),
        ``min`` and ``max``.

    Defined in :doc:`/chapters/evaluation`.
    """
    array = np.asarray(list(values.values()) if isinstance(values, Mapping) else values,
                       dtype=np.float64)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError(f"values must contain one number per seed, got shape "
                         f"{array.shape}")
    std = array.std(ddof=1) if len(array) > 1 else np.nan
    return pd.Series({"n_seeds": len(array), "mean": array.mean(), "std": std,
                      "min": array.min(), "max": array.max()})
