"""Implicit-feedback interaction matrices with id maps in both directions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class Interactions:
    """A binary user-by-item matrix and the original ids of its rows and columns.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix of shape (n_users, n_items)
        1.0 where the user interacted with the item.
    user_ids : ndarray of shape (n_users,)
        Original user id of each row.
    item_ids : ndarray of shape (n_items,)
        Original item id of each column.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def user_index(self, user_ids) -> np.ndarray:
        """Map original user ids to row indices; raise on unknown ids."""
        return _lookup(self.user_ids, user_ids, "user id")

    def item_index(self, item_ids) -> np.ndarray:
        """Map original item ids to column indices; raise on unknown ids."""
        return _lookup(self.item_ids, item_ids, "item id")

    def __repr__(self) -> str:
        density = self.matrix.nnz / max(1, self.n_users * self.n_items)
        return (f"Interactions({self.n_users:,} users x {self.n_items:,} items, "
                f"{self.matrix.nnz:,} interactions, density {density:.2%})")


def _lookup(known: np.ndarray, ids, what: str) -> np.ndarray:
    ids = np.atleast_1d(np.asarray(ids))
    index = pd.Index(known).get_indexer(ids)
    if (index < 0).any():
        missing = ids[index < 0][:5].tolist()
        raise KeyError(
            f"unknown {what}(s) {missing}; valid ids range from {known.min()} to "
            f"{known.max()} ({len(known):,} ids, with gaps where ids were dropped)"
        )
    return index


def dense_codes(ids) -> tuple[np.ndarray, np.ndarray]:
    """Number ids 0..n-1 in ascending id order; return (codes, distinct ids).

    Equivalent to ``np.unique(ids, return_inverse=True)``. Small
    non-negative integer ids (all MovieLens ids) take a linear-time path
    that avoids sorting or hashing millions of values.
    """
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu" and len(ids) and ids.min() >= 0 \
            and ids.max() < max(1 << 24, 4 * len(ids)):
        present = np.zeros(int(ids.max()) + 1, dtype=bool)
        present[ids] = True
        code_of = np.cumsum(present, dtype=np.int64) - 1
        return code_of[ids], np.flatnonzero(present).astype(ids.dtype)
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def has_repeats(keys: np.ndarray) -> bool:
    """Return whether an integer array contains a value twice (one sort, no hashing)."""
    ordered = np.sort(keys)
    return bool((ordered[1:] == ordered[:-1]).any())


def to_implicit(ratings: pd.DataFrame, *, threshold: float = 4.0,
                item_ids: np.ndarray | None = None) -> Interactions:
    """Binarise explicit ratings: a rating >= `threshold` becomes a 1.

    Rows and columns are numbered by the distinct ids that remain, in
    ascending id order, so the matrix is never sized by the largest id.
    Repeated (user, item) pairs count once.

    Parameters
    ----------
    ratings : DataFrame
        With columns ``user_id``, ``item_id`` and ``rating``.
    threshold : float, default 4.0
        Smallest rating counted as a positive. With half-star ratings, 3.5 is
        a negative at the default.
    item_ids : array-like, optional
        Fix the columns to these item ids (positives on other items are
        dropped). Default: every item with at least one positive.

    Returns
    -------
    Interactions

    Defined in :doc:`/chapters/movie_example`.
    """
    missing = {"user_id", "item_id", "rating"} - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings is missing the column(s) {sorted(missing)}")
    positive = ratings.loc[ratings["rating"] >= threshold, ["user_id", "item_id"]]
    if positive.empty:
        raise ValueError(f"no rating is >= threshold={threshold}; lower the threshold")

    if item_ids is None:
        cols, item_ids = dense_codes(positive["item_id"].to_numpy())
    else:
        item_ids = np.asarray(item_ids)
        positive = positive[positive["item_id"].isin(item_ids)]
        cols = pd.Index(item_ids).get_indexer(positive["item_id"].to_numpy())
    rows, user_ids = dense_codes(positive["user_id"].to_numpy())

    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(user_ids), len(item_ids)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return Interactions(matrix, user_ids, item_ids)
