"""Top-k ranking metrics under full ranking.

Every metric here is computed per user from a top-k list over all items, and
the list is built after the user's known items (the fold-in input, or the
training history) are excluded. Users with no target items are left out of
the averages and counted (:class:`Evaluation.n_skipped`).

Ties in the scores are broken by item index, lowest first. The rule does not
look at the targets, so a model that gives every item the same score gets
the metric of the ranking 0, 1, 2, ... And the top-k list for a smaller k is
always the start of the list for a larger k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp


def _sort_keys(scores: np.ndarray) -> np.ndarray:
    """Map float scores to distinct int64 keys ordered by (score, -item index).

    The float32 bit pattern is made monotone in the score, then the item
    index fills the low 32 bits so that equal scores order by index.
    """
    # Adding 0 turns -0.0 into +0.0, so the two zeros tie as they should.
    scores = np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0)
    bits = scores.view(np.int32).astype(np.int64)
    monotone = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    n_items = scores.shape[1]
    return (monotone << 32) | (0xFFFFFFFF - np.arange(n_items, dtype=np.int64))


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Return the indices of the `k` best items per row, best first.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
    k : int
        List length; capped at n_items.
    exclude : csr_matrix of shape (n_users, n_items), optional
        Nonzero entries are never returned (for example, the fold-in items).
        Rows with fewer than `k` allowed items return excluded items last.

    Returns
    -------
    ndarray of shape (n_users, min(k, n_items)), dtype int64

    Defined in :doc:`/chapters/movie_example`.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the model for a diverged training run")
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores {scores.shape}")
        scores = scores.copy()
        coo = exclude.tocoo()
        scores[coo.row, coo.col] = -np.inf
    k = min(int(k), scores.shape[1])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")

    keys = _sort_keys(scores)
    n_items = keys.shape[1]
    if k < n_items:
        part = np.argpartition(keys, n_items - k, axis=1)[:, n_items - k:]
    else:
        part = np.broadcast_to(np.arange(n_items), keys.shape).copy()
    # Keys are distinct, so this order is total and the same for every k.
    order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


def _hits(top: np.ndarray, target: sp.csr_matrix) -> np.ndarray:
    """Boolean matrix: is the item at each rank one of the user's targets."""
    dense = target.toarray().astype(bool)  # (batch, n_items): one batch at a time
    return np.take_along_axis(dense, top, axis=1)


def recall(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Plain recall@k: hits in the top k divided by the number of targets."""
    return hits[:, :k].sum(1) / n_targets


def truncated_recall(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Recall@k of Liang et al. (2018): hits divided by min(k, number of targets).

    It reaches 1 whenever the top k are all targets, even when a user has more
    than k targets, so it is larger than plain recall for such users.
    """
    return hits[:, :k].sum(1) / np.minimum(k, n_targets)


def ndcg(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k with binary gains; the ideal DCG puts min(k, n_targets) hits first."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[: hits[:, :k].shape[1]]).sum(1)
    ideal = np.cumsum(discounts)[np.minimum(k, n_targets) - 1]
    return dcg / ideal


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "recall": recall,
    "truncated_recall": truncated_recall,
    "ndcg": ndcg,
}


@dataclass
class Evaluation:
    """Per-user metric values of one model on one set of held-out users.

    Attributes
    ----------
    per_user : dict of str to ndarray
        ``"ndcg@100"`` and the like, one value per evaluated user.
    user_index : ndarray
        Row of each evaluated user in the held-out matrices.
    n_skipped : int
        Users left out because they have no target items.
    """

    per_user: dict[str, np.ndarray]
    user_index: np.ndarray
    n_skipped: int = 0
    extra: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return float(self.per_user[name].mean())

    def summary(self) -> pd.DataFrame:
        """Return the mean and standard error of each metric over users."""
        rows = {}
        for name, values in self.per_user.items():
            se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            rows[name] = {"mean": values.mean(), "se": se}
        return pd.DataFrame(rows).T


def evaluate(model, fold_in: sp.csr_matrix, target: sp.csr_matrix, *,
             k: Iterable[int] = (20, 100),
             metrics: Iterable[str] = ("recall", "truncated_recall", "ndcg"),
             batch_size: int = 1024) -> Evaluation:
    """Rank all items for held-out users and score the ranking against targets.

    The model reads only `fold_in`; its items are excluded from the ranking.
    Scoring runs in batches of `batch_size` users, so memory grows with the
    batch, not with the number of users.

    Parameters
    ----------
    model
        Anything with ``score(x) -> ndarray of shape (batch, n_items)``.
    fold_in, target : csr_matrix of shape (n_users, n_items)
    k : iterable of int, default (20, 100)
    metrics : iterable of str, default all of ``METRICS``
    batch_size : int, default 1024

    Returns
    -------
    Evaluation

    Defined in :doc:`/chapters/movie_example`.
    """
    if fold_in.shape != target.shape:
        raise ValueError(f"fold_in has shape {fold_in.shape}, target {target.shape}")
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; choose from {sorted(METRICS)}")
    ks = sorted(set(int(v) for v in k))
    fold_in, target = sp.csr_matrix(fold_in), sp.csr_matrix(target)
    n_targets = np.diff(target.indptr)
    users = np.flatnonzero(n_targets > 0)

    chunks: dict[str, list[np.ndarray]] = {f"{m}@{c}": [] for m in metrics for c in ks}
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        scores = model.score(fold_in[rows])
        top = top_k(scores, max(ks), exclude=fold_in[rows])
        hits = _hits(top, target[rows])
        for m in metrics:
            for c in ks:
                chunks[f"{m}@{c}"].append(METRICS[m](hits, n_targets[rows], c))
    per_user = {name: np.concatenate(v) if v else np.array([]) for name, v in chunks.items()}
    return Evaluation(per_user, users, n_skipped=int(len(n_targets) - len(users)))
