"""Top-k ranking metrics under full ranking, and the evaluator that applies them.

Every metric here is computed per user from a top-k list over all items, and
the list is built after the user's known items (the fold-in input, or the
training and validation history) are excluded. Users with no target items are
left out of the averages and counted (:attr:`Evaluation.n_skipped`).

Ties in the scores are broken by item index, lowest first. The rule does not
look at the targets, so a model that gives every item the same score gets
the metric of the ranking 0, 1, 2, ... And the top-k list for a smaller k is
always the start of the list for a larger k.

Accuracy metrics take ``(hits, n_targets, k)``. ``hits`` is a boolean matrix
whose entry ``[u, r]`` is True when the item at rank ``r`` (0-based) of user
``u``'s list is a target, ``n_targets`` the number of targets of each user,
and ``k`` the cutoff. Metrics beyond accuracy (coverage, novelty, diversity,
popularity, Gini index of exposure) take the top-k lists themselves, as
:attr:`Evaluation.top` keeps them.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch


def _sort_keys(scores: np.ndarray) -> np.ndarray:
    """Map float32 scores to distinct int64 keys ordered by (score, -item index).

    The float32 bit pattern, made monotone in the score, becomes the high 32
    bits. ``0xFFFFFFFF - item index`` fills the low 32 bits, so equal scores
    order by index. Both halves are written through a 32-bit view, which is
    about twice as fast as shifting int64 arrays.
    """
    # Adding 0 turns -0.0 into +0.0, so the two zeros tie as they should.
    bits = (np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0)).view(np.int32)
    # Negative floats order backwards as integers: flip their 31 lower bits.
    monotone = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))
    n_rows, n_items = scores.shape
    low = (np.uint32(0xFFFFFFFF) - np.arange(n_items, dtype=np.uint32)).view(np.int32)
    if sys.byteorder != "little":  # NOTE: no big-endian machine has run this branch
        return (monotone.astype(np.int64) << 32) | low.view(np.uint32).astype(np.int64)
    keys = np.empty((n_rows, n_items), dtype=np.int64)
    words = keys.view(np.int32).reshape(n_rows, n_items, 2)
    words[:, :, 0] = low  # low word, compared as unsigned inside the int64
    words[:, :, 1] = monotone
    return keys


def _row_indices(matrix: sp.csr_matrix) -> np.ndarray:
    """Row index of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def top_k(scores: np.ndarray, k: int, exclude: sp.spmatrix | None = None) -> np.ndarray:
    """Return the indices of the `k` best items per row, best first.

    Equal scores are ordered by item index, lowest first, so the result is
    the same on every run and the list for a smaller `k` is the start of the
    list for a larger one.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
    k : int
        List length; capped at n_items.
    exclude : sparse matrix of shape (n_users, n_items), optional
        Stored entries are never returned ahead of other items (for example,
        the fold-in items). They get the score -inf, so rows with fewer than
        `k` other items end with excluded items.

    Returns
    -------
    ndarray of shape (n_users, min(k, n_items)), dtype int64

    Defined in :doc:`/chapters/evaluation`.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the model for a diverged training run")
    if exclude is not None:
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, scores {scores.shape}")
        exclude = sp.csr_matrix(exclude)
        scores = scores.copy()
        scores[_row_indices(exclude), exclude.indices] = -np.inf
    k = min(int(k), scores.shape[1])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")

    # Keys are distinct, so the order is total: the same on every run and
    # nested across k. torch.topk selects and sorts them in one pass.
    keys = torch.from_numpy(_sort_keys(scores))
    return torch.topk(keys, k, dim=1, sorted=True).indices.numpy()


def _hits(top: np.ndarray, target: sp.csr_matrix) -> np.ndarray:
    """Boolean matrix: is the item at each rank one of the user's targets."""
    dense = np.zeros(target.shape, dtype=bool)  # (batch, n_items): one batch at a time
    dense[_row_indices(target), target.indices] = True
    return np.take_along_axis(dense, top, axis=1)


# Accuracy metrics: (hits, n_targets, k) -> one value per user.

def precision(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Precision@k: hits in the top k divided by the list length, k.

    When the catalogue has fewer than k items the list is shorter, and the
    list length is used instead.
    """
    top = hits[:, :k]
    return top.sum(1) / top.shape[1]


def recall(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Plain recall@k: hits in the top k divided by the number of targets."""
    return hits[:, :k].sum(1) / n_targets


def truncated_recall(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Recall@k of Liang et al. (2018): hits divided by min(k, number of targets).

    It reaches 1 whenever the top k are all targets, even when a user has more
    than k targets, so it is larger than plain recall for such users.
    """
    return hits[:, :k].sum(1) / np.minimum(k, n_targets)


def f1(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Per-user F1@k: harmonic mean of precision@k and plain recall@k.

    A user without hits gets 0. Averaging this over users is not the F1 of
    the average precision and recall; :func:`f1_of_means` computes that one.
    """
    p, r = precision(hits, n_targets, k), recall(hits, n_targets, k)
    total = p + r
    return np.divide(2 * p * r, total, out=np.zeros_like(total), where=total > 0)


def hit_rate(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Hit rate@k: 1 when at least one target is in the top k, else 0."""
    return hits[:, :k].any(1).astype(np.float64)


def mrr(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank of the first target in the top k; 0 when there is none.

    Averaged over users this is the mean reciprocal rank, MRR@k.
    """
    top = hits[:, :k]
    first = top.argmax(1)  # 0-based rank of the first hit, 0 when no hit
    return np.where(top.any(1), 1.0 / (first + 1), 0.0)


def average_precision(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """Average precision at k, normalised by min(k, number of targets).

    AP@k sums precision@r over the ranks r <= k that hold a target and divides
    by min(k, number of targets), so a list whose first min(k, n) items are
    all targets scores 1. Averaged over users this is MAP@k.
    """
    top = hits[:, :k]
    ranks = np.arange(1, top.shape[1] + 1)
    precision_at_rank = np.cumsum(top, axis=1) / ranks
    return (precision_at_rank * top).sum(1) / np.minimum(k, n_targets)


def ndcg(hits: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k with binary gains; the ideal DCG puts min(k, n_targets) hits first."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[: hits[:, :k].shape[1]]).sum(1)
    ideal = np.cumsum(discounts)[np.minimum(k, n_targets) - 1]
    return dcg / ideal


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "precision": precision,
    "recall": recall,
    "truncated_recall": truncated_recall,
    "f1": f1,
    "hit_rate": hit_rate,
    "mrr": mrr,
    "map": average_precision,
    "ndcg": ndcg,
}


# Beyond accuracy: computed from the top-k lists, not from the targets.

def _check_top(top: np.ndarray, n_items: int) -> np.ndarray:
    top = np.asarray(top)
    if top.ndim != 2:
        raise ValueError(f"top must be 2-D (n_users, k), got shape {top.shape}")
    if top.size and (top.min() < 0 or top.max() >= n_items):
        raise ValueError(f"top contains item indices outside 0..{n_items - 1}; "
                         "build the lists over the same items as the other inputs")
    return top


def coverage(top: np.ndarray, n_items: int) -> float:
    """Return the catalogue coverage: the share of items in at least one list."""
    top = _check_top(top, n_items)
    return len(np.unique(top)) / n_items


def exposure_gini(top: np.ndarray, n_items: int) -> float:
    """Return the Gini index of how often each item appears in the lists.

    0 when every item appears equally often; it approaches 1 as the lists
    concentrate on a few items. Items that never appear count as 0 exposure.
    """
    top = _check_top(top, n_items)
    exposure = np.sort(np.bincount(top.ravel(), minlength=n_items)).astype(np.float64)
    if exposure.sum() == 0:
        return 0.0
    ranks = np.arange(1, n_items + 1)
    return float(((2 * ranks - n_items - 1) * exposure).sum() / (n_items * exposure.sum()))


def novelty(top: np.ndarray, item_counts: np.ndarray, n_users: int) -> np.ndarray:
    """Return each list's mean self-information, -log2(count / n_users), in bits.

    `item_counts` is the number of training users who interacted with each
    item. An item with count 0 is treated as having count 1, so its
    self-information stays finite.
    """
    item_counts = np.asarray(item_counts, dtype=np.float64)
    top = _check_top(top, len(item_counts))
    information = -np.log2(np.maximum(item_counts, 1.0) / n_users)
    return information[top].mean(1)


def average_popularity(top: np.ndarray, item_counts: np.ndarray) -> np.ndarray:
    """Return each list's mean item count (training users per recommended item)."""
    item_counts = np.asarray(item_counts, dtype=np.float64)
    top = _check_top(top, len(item_counts))
    return item_counts[top].mean(1)


def intra_list_diversity(top: np.ndarray, item_features) -> np.ndarray:
    """Return each list's mean cosine distance between item feature vectors.

    With genre indicators as features, two movies with the same genres are at
    distance 0 and two movies that share no genre at distance 1. An item
    without features is at distance 1 from every other. The mean runs over
    the k (k - 1) ordered pairs of distinct positions; lists shorter than 2
    get NaN.
    """
    features = item_features.toarray() if sp.issparse(item_features) else item_features
    features = np.asarray(features, dtype=np.float64)
    top = _check_top(top, features.shape[0])
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    k = top.shape[1]
    if k < 2:
        return np.full(top.shape[0], np.nan)
    # Sum of cosine similarities over pairs i != j: |sum of vectors|^2 minus
    # the k self-similarities, without building the k x k matrix.
    vectors = unit[top]  # (n_users, k, n_features)
    total = (vectors.sum(1) ** 2).sum(1) - (vectors ** 2).sum((1, 2))
    return 1.0 - total / (k * (k - 1))


def beyond_accuracy(top: np.ndarray, k: int, train: sp.spmatrix,
                    item_features=None) -> dict[str, float]:
    """Summarise what the top-k lists recommend, beyond whether it was right.

    Parameters
    ----------
    top : ndarray of shape (n_users, >= k)
        Lists of item indices, best first, such as :attr:`Evaluation.top`.
    k : int
        Cutoff; the first `k` items of each list are used.
    train : sparse matrix of shape (n_train_users, n_items)
        Training interactions; item popularity is counted here.
    item_features : array or sparse matrix of shape (n_items, n_features), optional
        Such as genre indicators; needed for the diversity entry.

    Returns
    -------
    dict of str to float
        ``coverage@k``, ``gini@k``, ``novelty@k`` (bits), ``popularity@k``
        (training users per recommended item) and, with `item_features`,
        ``diversity@k``; per-user values are averaged over users.

    Defined in :doc:`/chapters/evaluation`.
    """
    if k < 1 or k > np.shape(top)[1]:
        raise ValueError(f"k must be between 1 and the list length "
                         f"{np.shape(top)[1]}, got {k}")
    train = sp.csr_matrix(train)
    top = np.asarray(top)[:, :k]
    counts = np.diff(sp.csc_matrix(train > 0).indptr)
    n_items = train.shape[1]
    result = {
        f"coverage@{k}": coverage(top, n_items),
        f"gini@{k}": exposure_gini(top, n_items),
        f"novelty@{k}": float(novelty(top, counts, train.shape[0]).mean()),
        f"popularity@{k}": float(average_popularity(top, counts).mean()),
    }
    if item_features is not None:
        result[f"diversity@{k}"] = float(intra_list_diversity(top, item_features).mean())
    return result


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
    extra : dict
        Free-form notes a caller wants to keep with the result.
    top : ndarray of shape (n_evaluated, max k), optional
        Each evaluated user's list, best first, for the metrics of
        :func:`beyond_accuracy`. Rows follow `user_index`.
    """

    per_user: dict[str, np.ndarray]
    user_index: np.ndarray
    n_skipped: int = 0
    extra: dict = field(default_factory=dict)
    top: np.ndarray | None = None

    def __getitem__(self, name: str) -> float:
        if name not in self.per_user:
            raise KeyError(f"{name!r} was not computed; available: {sorted(self.per_user)}")
        return float(self.per_user[name].mean())

    def summary(self) -> pd.DataFrame:
        """Return the mean and standard error of each metric over users."""
        rows = {}
        for name, values in self.per_user.items():
            se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            rows[name] = {"mean": values.mean(), "se": se}
        return pd.DataFrame(rows).T


def f1_of_means(evaluation: Evaluation, k: int) -> float:
    """Return 2 P R / (P + R) of the mean precision@k and mean recall@k.

    This is the F1 that some papers report. It differs from the mean of the
    per-user F1 (the ``"f1"`` metric), which is never larger than it.
    Both ``precision@k`` and ``recall@k`` must be in `evaluation`.

    Defined in :doc:`/chapters/evaluation`.
    """
    names = [f"precision@{k}", f"recall@{k}"]
    missing = [n for n in names if n not in evaluation.per_user]
    if missing:
        raise ValueError(f"f1_of_means needs {missing}; evaluate with "
                         f"metrics=['precision', 'recall'] and k={k}")
    p, r = evaluation[names[0]], evaluation[names[1]]
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _check_inputs(fold_in, target, exclude):
    """Validate shapes, convert to CSR and warn about targets the protocol leaks."""
    fold_in, target = sp.csr_matrix(fold_in), sp.csr_matrix(target)
    if fold_in.shape != target.shape:
        raise ValueError(f"fold_in has shape {fold_in.shape}, target {target.shape}")
    if exclude is None:
        exclude = fold_in
    else:
        exclude = sp.csr_matrix(exclude)
        if exclude.shape != target.shape:
            raise ValueError(f"exclude has shape {exclude.shape}, target {target.shape}")
        leaked = fold_in.multiply(target).nnz
        if leaked:
            warnings.warn(f"{leaked} target interactions are also in the model input "
                          "fold_in, so the model sees what it must find", stacklevel=3)
    hidden = exclude.multiply(target).nnz
    if hidden:
        warnings.warn(f"{hidden} target interactions are also excluded from the "
                      "ranking, so they can never be hit", stacklevel=3)
    return fold_in, target, exclude


def evaluate(model, fold_in: sp.spmatrix, target: sp.spmatrix, *,
             k: Iterable[int] = (20, 100),
             metrics: Iterable[str] = ("recall", "truncated_recall", "ndcg"),
             batch_size: int = 1024,
             exclude: sp.spmatrix | None = None) -> Evaluation:
    """Rank all items for held-out users and score the ranking against targets.

    The model reads only `fold_in`. Items in `exclude` (by default the
    fold-in items) are removed from the ranking before the top k are taken.
    Users without targets are skipped and counted. Scoring runs in batches of
    `batch_size` users, so memory grows with the batch, not with the number
    of users.

    Parameters
    ----------
    model
        Anything with ``score(x) -> ndarray of shape (batch, n_items)``, or
        such a function itself.
    fold_in, target : sparse matrix of shape (n_users, n_items)
        The model input and the items it must find. A warning is raised when
        they share interactions.
    k : iterable of int, default (20, 100)
    metrics : iterable of str, default ("recall", "truncated_recall", "ndcg")
        Keys of ``METRICS``: "precision", "recall", "truncated_recall", "f1",
        "hit_rate", "mrr", "map", "ndcg".
    batch_size : int, default 1024
    exclude : sparse matrix of shape (n_users, n_items), optional
        Items to remove from each user's ranking, when they differ from the
        model input. On a train/valid/test split, for example, the model
        reads the training history and the test ranking excludes training
        and validation items.

    Returns
    -------
    Evaluation
        Per-user values named like ``"ndcg@100"``, and the top lists.

    Defined in :doc:`/chapters/evaluation`.
    """
    metrics = list(metrics)
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; choose from {sorted(METRICS)}")
    ks = sorted(set(int(v) for v in k))
    if not ks or ks[0] < 1:
        raise ValueError(f"k must be one or more cutoffs >= 1, got {ks}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    fold_in, target, exclude = _check_inputs(fold_in, target, exclude)
    score = model.score if hasattr(model, "score") else model
    n_targets = np.diff(target.indptr)
    users = np.flatnonzero(n_targets > 0)

    chunks: dict[str, list[np.ndarray]] = {f"{m}@{c}": [] for m in metrics for c in ks}
    tops = []
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        scores = score(fold_in[rows])
        if np.shape(scores) != (len(rows), target.shape[1]):
            raise ValueError(f"model.score returned shape {np.shape(scores)} for "
                             f"{len(rows)} users and {target.shape[1]} items")
        top = top_k(scores, max(ks), exclude=exclude[rows])
        hits = _hits(top, target[rows])
        for m in metrics:
            for c in ks:
                chunks[f"{m}@{c}"].append(METRICS[m](hits, n_targets[rows], c))
        tops.append(top.astype(np.int32))
    per_user = {name: np.concatenate(v) if v else np.array([]) for name, v in chunks.items()}
    top_all = np.concatenate(tops) if tops else np.empty((0, max(ks)), np.int32)
    return Evaluation(per_user, users, n_skipped=int(len(n_targets) - len(users)),
                      top=top_all)
