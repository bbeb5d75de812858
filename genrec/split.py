"""Train/validation/test splits of an interaction matrix.

The strong-generalisation protocol follows Liang et al., "Variational
Autoencoders for Collaborative Filtering", WWW 2018 (reference code:
https://github.com/dawenl/vae_cf): whole users are held out, and each
held-out user's interactions are split into a fold-in part, which the model
reads, and a target part, which it must rank highly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .interactions import Interactions


@dataclass
class HeldOut:
    """Held-out users: the history a model reads and the items it must find.

    Attributes
    ----------
    fold_in : csr_matrix of shape (n_users, n_items)
    target : csr_matrix of shape (n_users, n_items)
        Disjoint from `fold_in`; their sum is the users' full history.
    user_ids : ndarray of shape (n_users,)
        Original user id of each row.
    """

    fold_in: sp.csr_matrix
    target: sp.csr_matrix
    user_ids: np.ndarray


@dataclass
class StrongSplit:
    """A strong-generalisation split.

    Attributes
    ----------
    train : csr_matrix of shape (n_train_users, n_items)
    valid, test : HeldOut
    train_user_ids : ndarray
        Original user id of each training row.
    item_ids : ndarray of shape (n_items,)
        Original item id of each column: the items training users touched.
    n_dropped : int
        Held-out interactions on items no training user touched, dropped
        because no model could have learned those items.
    """

    train: sp.csr_matrix
    valid: HeldOut
    test: HeldOut
    train_user_ids: np.ndarray
    item_ids: np.ndarray
    n_dropped: int

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    def __repr__(self) -> str:
        return (f"StrongSplit({self.train.shape[0]} train, "
                f"{self.valid.fold_in.shape[0]} validation and "
                f"{self.test.fold_in.shape[0]} test users; {self.n_items} items; "
                f"{self.n_dropped} held-out interactions on unseen items dropped)")


def strong_generalization_split(
    data: Interactions, *, n_valid_users: int, n_test_users: int,
    target_fraction: float = 0.2, min_interactions: int = 5, seed: int = 0,
) -> StrongSplit:
    """Hold out whole users for validation and test, Liang et al. (2018) style.

    Users with fewer than `min_interactions` interactions are dropped first.
    The remaining users are shuffled with `seed`; the first `n_test_users`
    become test users, the next `n_valid_users` validation users, the rest
    training users. Items are restricted to those that training users
    touched. Each held-out user's interactions are then split at random:
    ``ceil(target_fraction * n)`` of them (at least one) become targets and
    the rest fold-in input.

    Parameters
    ----------
    data : Interactions
    n_valid_users, n_test_users : int
        Number of held-out users in each part.
    target_fraction : float, default 0.2
        Share of each held-out user's interactions kept as targets.
    min_interactions : int, default 5
        Users with fewer interactions are left out of every part.
    seed : int, default 0

    Returns
    -------
    StrongSplit

    Defined in :doc:`/chapters/movie_example`.
    """
    if not 0 < target_fraction < 1:
        raise ValueError(f"target_fraction must be in (0, 1), got {target_fraction}")
    counts = np.diff(data.matrix.indptr)
    eligible = np.flatnonzero(counts >= min_interactions)
    n_held = n_valid_users + n_test_users
    if n_valid_users < 1 or n_test_users < 1 or n_held >= len(eligible):
        raise ValueError(
            f"n_valid_users={n_valid_users} and n_test_users={n_test_users} must be "
            f">= 1 and leave training users among the {len(eligible)} users with "
            f">= {min_interactions} interactions"
        )

    rng = np.random.default_rng(seed)
    users = rng.permutation(eligible)
    test_rows, valid_rows = users[:n_test_users], users[n_test_users:n_held]
    train_rows = np.sort(users[n_held:])

    train = data.matrix[train_rows]
    seen = np.flatnonzero(np.diff(train.tocsc().indptr) > 0)
    train = train[:, seen].tocsr()

    parts, n_dropped = [], 0
    for rows in (np.sort(valid_rows), np.sort(test_rows)):
        full = data.matrix[rows]
        kept = full[:, seen].tocsr()
        n_dropped += full.nnz - kept.nnz
        fold_in, target = _split_rows(kept, target_fraction, rng)
        parts.append(HeldOut(fold_in, target, data.user_ids[rows]))
    return StrongSplit(train, parts[0], parts[1], data.user_ids[train_rows],
                       data.item_ids[seen], n_dropped)


def _split_rows(matrix: sp.csr_matrix, target_fraction: float,
                rng: np.random.Generator) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split each row's nonzeros at random into (fold_in, target)."""
    is_target = np.zeros(matrix.nnz, dtype=bool)
    for row in range(matrix.shape[0]):
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        n = stop - start
        if n == 0:
            continue
        n_target = max(1, int(np.ceil(target_fraction * n))) if n > 1 else 0
        is_target[start + rng.choice(n, size=n_target, replace=False)] = True
    target, fold_in = matrix.copy(), matrix.copy()
    target.data = np.where(is_target, matrix.data, 0).astype(matrix.dtype)
    fold_in.data = np.where(is_target, 0, matrix.data).astype(matrix.dtype)
    target.eliminate_zeros()
    fold_in.eliminate_zeros()
    return fold_in, target
