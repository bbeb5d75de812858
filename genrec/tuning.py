"""Hyperparameter search on validation users, never on test users.

:func:`grid_search` fits one model per point of a stated grid on the
training rows, evaluates each on the validation split and keeps the best.
The test split plays no part, so the chosen model can then be evaluated on
test once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import scipy.sparse as sp

from .metrics import evaluate


@dataclass
class GridSearch:
    """Result of :func:`grid_search`.

    Attributes
    ----------
    results : DataFrame
        One row per grid point: its parameters and the validation metric,
        in grid order.
    best_params : dict
        Parameters of the best row (the first of equals, in grid order).
    best_model
        The model fitted with `best_params`.
    metric : str
    grid : dict
        The search space as given.
    """

    results: pd.DataFrame
    best_params: dict
    best_model: Any
    metric: str
    grid: dict


def grid_search(make_model: Callable[..., Any], grid: Mapping[str, Sequence],
                X: sp.spmatrix, fold_in: sp.spmatrix, target: sp.spmatrix, *,
                metric: str = "ndcg@100", exclude: sp.spmatrix | None = None,
                batch_size: int = 1024) -> GridSearch:
    """Fit ``make_model(**params).fit(X)`` for every grid point; pick by validation.

    Parameters
    ----------
    make_model : callable
        Builds an unfitted model from keyword parameters, for example
        :class:`genrec.models.baselines.EASE`.
    grid : mapping of parameter name to the values to try
        The full Cartesian product is searched.
    X : sparse matrix of shape (n_users, n_items)
        Training rows passed to ``fit``.
    fold_in, target : sparse matrix of shape (n_valid_users, n_items)
        Validation input and targets, as for :func:`genrec.evaluate`.
    metric : str, default "ndcg@100"
        Validation metric to maximise, named like ``"recall@20"``.
    exclude : sparse matrix, optional
        Items removed from the validation ranking when they differ from
        `fold_in` (see :func:`genrec.evaluate`).
    batch_size : int, default 1024

    Returns
    -------
    GridSearch

    Defined in :doc:`/chapters/evaluation`.
    """
    name, _, cutoff = metric.partition("@")
    if not cutoff.isdigit():
        raise ValueError(f"metric must look like 'ndcg@100', got {metric!r}")
    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ValueError(f"grid must give at least one value per parameter, got {dict(grid)}")
    keys = list(grid)
    rows, best, best_model, best_params = [], None, None, None
    for values in itertools.product(*(grid[key] for key in keys)):
        params = dict(zip(keys, values))
        model = make_model(**params).fit(X)
        result = evaluate(model, fold_in, target, k=[int(cutoff)], metrics=[name],
                          batch_size=batch_size, exclude=exclude)[metric]
        rows.append({**params, metric: result})
        if best is None or result > best:
            best, best_model, best_params = result, model, params
    return GridSearch(pd.DataFrame(rows), best_params, best_model, metric, dict(grid))
