"""Train/validation/test splits of implicit-feedback interactions.

Two families, each seeded and checked for overlap when it is built:

- **Strong generalisation** (:func:`strong_generalization_split`) follows
  Liang et al., "Variational Autoencoders for Collaborative Filtering", WWW
  2018 (reference code: https://github.com/dawenl/vae_cf). Whole users are
  held out. Each held-out user's interactions are split into a fold-in
  part, which the model reads, and a target part, which it must rank highly.
- **Holdout splits** (:class:`HoldoutSplit`) keep every user in training and
  hold out part of each user's interactions: at random, by time per user,
  the last one per user (leave-last-out), or by one global cut in time.

Rule for users and items that appear only in validation or test: the
matrices have one row per user and one column per item with at least one
training interaction. Held-out interactions of other users ("cold" users)
are dropped first, then those on other items ("cold" items); both are
counted in the split, never silently given an untrained row or column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .interactions import Interactions, dense_codes, has_repeats


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
    split = StrongSplit(train, parts[0], parts[1], data.user_ids[train_rows],
                        data.item_ids[seen], n_dropped)
    _check_strong(split)
    return split


def _check_strong(split: StrongSplit) -> None:
    """Raise if the user groups, or a user's fold-in and target, overlap."""
    groups = [split.train_user_ids, split.valid.user_ids, split.test.user_ids]
    every = np.concatenate(groups)
    if len(np.unique(every)) != len(every):
        raise RuntimeError("internal error: a user is in two parts of the split")
    for part in (split.valid, split.test):
        _check_disjoint(part.fold_in, part.target)


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


def _check_disjoint(*matrices: sp.csr_matrix) -> None:
    """Raise if two of the matrices share a nonzero position."""
    for a in range(len(matrices)):
        for b in range(a + 1, len(matrices)):
            if matrices[a].multiply(matrices[b]).nnz:
                raise RuntimeError(f"internal error: parts {a} and {b} of the "
                                   "split share an interaction")


@dataclass
class HoldoutSplit:
    """Train, validation and test interactions of the same users and items.

    Attributes
    ----------
    train, valid, test : csr_matrix of shape (n_users, n_items)
        Pairwise disjoint binary matrices.
    user_ids : ndarray of shape (n_users,)
        Original id of each row: the users with a training interaction.
    item_ids : ndarray of shape (n_items,)
        Original id of each column: the items with a training interaction.
    method : str
        The function that made the split.
    n_cold_users, n_cold_user_interactions : int
        Users with held-out but no training interactions, and the held-out
        interactions dropped with them.
    n_cold_items, n_cold_item_interactions : int
        Items with held-out but no training interactions, and the held-out
        interactions (of the remaining users) dropped with them.
    n_train_only_users : int
        Users with too few interactions to hold any out; all theirs are in
        `train`.
    cutoffs : (valid_start, test_start) or None
        The cut points of :func:`global_temporal_split`, in the type of the
        timestamp column; None for the other splits.
    """

    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    method: str
    n_cold_users: int = 0
    n_cold_user_interactions: int = 0
    n_cold_items: int = 0
    n_cold_item_interactions: int = 0
    n_train_only_users: int = 0
    cutoffs: tuple | None = None

    @property
    def valid_held_out(self) -> HeldOut:
        """Validation as fold-in (training history) and target (validation)."""
        return HeldOut(self.train, self.valid, self.user_ids)

    @property
    def test_held_out(self) -> HeldOut:
        """Test as fold-in (training and validation history) and target (test)."""
        return HeldOut((self.train + self.valid).tocsr(), self.test, self.user_ids)

    def summary(self) -> pd.Series:
        """Return the sizes and cold-start counts as a Series."""
        return pd.Series({
            "users": self.train.shape[0], "items": self.train.shape[1],
            "train": self.train.nnz, "valid": self.valid.nnz, "test": self.test.nnz,
            "cold users": self.n_cold_users,
            "cold-user interactions": self.n_cold_user_interactions,
            "cold items": self.n_cold_items,
            "cold-item interactions": self.n_cold_item_interactions,
            "train-only users": self.n_train_only_users,
        }, name=self.method)

    def __repr__(self) -> str:
        return (f"HoldoutSplit({self.method}: {self.train.shape[0]:,} users x "
                f"{self.train.shape[1]:,} items; {self.train.nnz:,} train, "
                f"{self.valid.nnz:,} valid, {self.test.nnz:,} test; dropped "
                f"{self.n_cold_user_interactions + self.n_cold_item_interactions:,} "
                "held-out interactions of cold users or items)")


def _encode(events: pd.DataFrame, with_time: bool):
    """Return user codes, item codes, times (or None) and the id of each code."""
    needed = ["user_id", "item_id"] + (["timestamp"] if with_time else [])
    missing = set(needed) - set(events.columns)
    if missing:
        raise ValueError(f"events is missing the column(s) {sorted(missing)}")
    if len(events) == 0:
        raise ValueError("events is empty")
    users, user_ids = dense_codes(events["user_id"].to_numpy())
    items, item_ids = dense_codes(events["item_id"].to_numpy())
    if has_repeats(users * len(item_ids) + items):
        raise ValueError("events has repeated (user_id, item_id) pairs, which would "
                         "land in two parts; drop them first, for example with "
                         "genrec.preprocess.clean_ratings")
    times = None
    if with_time:
        stamps = events["timestamp"]
        if pd.api.types.is_datetime64_any_dtype(stamps):
            times = stamps.astype("int64").to_numpy()  # in the column's unit
        elif pd.api.types.is_integer_dtype(stamps):
            times = stamps.to_numpy(dtype=np.int64)
        else:
            raise TypeError(f"timestamp must hold datetimes or integers, got "
                            f"dtype {stamps.dtype}")
    return users, items, times, np.asarray(user_ids), np.asarray(item_ids)


def _order_within_users(users, times, rng) -> np.ndarray:
    """Return row positions grouped by user, ascending in time within a user.

    Rows start in a random order drawn from `rng` (random keys of at least
    32 bits, so ties are rare and keep row order). Two stable sorts follow,
    by time (when given) and then by user. So without times the order within
    a user is random, and with them equal times are in random order.
    """
    index_bits = max(1, (len(users) - 1).bit_length())
    order = _stable_argsort(rng.integers(0, 1 << (63 - index_bits), size=len(users)))
    if times is not None:
        elapsed = times - times.min()
        for unit in (10**9, 10**6, 10**3):  # to whole seconds, when exact
            if elapsed.max() >= 1 << 31 and not (elapsed % unit).any():
                elapsed = elapsed // unit
        order = order[_stable_argsort(elapsed[order])]
    return order[_stable_argsort(users[order])]


def _stable_argsort(values: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative integers.

    When the values leave room, each is packed with its position into one
    int64 and the packed values are sorted with np.sort, which is several
    times faster than a stable np.argsort on large arrays.
    """
    index_bits = max(1, (len(values) - 1).bit_length())
    if len(values) and int(values.max()) < 1 << (63 - index_bits):
        packed = (values.astype(np.int64) << index_bits) | np.arange(len(values))
        return np.sort(packed) & ((1 << index_bits) - 1)
    return np.argsort(values, kind="stable")


def _assign_last(users, order, n_valid, n_test) -> np.ndarray:
    """Label each row 0 (train), 1 (valid) or 2 (test) from its place in `order`.

    Each user's last ``n_test[user]`` rows in `order` are test and the
    ``n_valid[user]`` before them validation.
    """
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    ordered_users = users[order]
    position = np.arange(len(order)) - starts[ordered_users]  # within the user
    from_end = counts[ordered_users] - 1 - position
    n_test_row = n_test[ordered_users]
    part = np.where(from_end < n_test_row, 2,
                    np.where(from_end < n_test_row + n_valid[ordered_users], 1, 0))
    labels = np.empty(len(order), dtype=np.int8)
    labels[order] = part
    return labels


def _holdout_counts(counts, valid_fraction, test_fraction, min_interactions):
    """Per-user validation and test sizes: ceil(fraction * n), train >= 1."""
    _check_fractions(valid_fraction, test_fraction)
    if min_interactions < 2:
        raise ValueError(f"min_interactions must be >= 2, got {min_interactions}")
    # The 1e-9 keeps 0.1 * 30 = 3.0000000000000004 from rounding up to 4.
    n_test = np.ceil(test_fraction * counts - 1e-9).astype(np.int64)
    n_valid = np.ceil(valid_fraction * counts - 1e-9).astype(np.int64)
    short = (counts < min_interactions) | (counts - n_test - n_valid < 1)
    n_test[short] = 0
    n_valid[short] = 0
    return n_valid, n_test, int(short.sum())


def _check_fractions(valid_fraction: float, test_fraction: float) -> None:
    if not (0 <= valid_fraction < 1 and 0 < test_fraction < 1
            and valid_fraction + test_fraction < 1):
        raise ValueError(
            f"need 0 <= valid_fraction, 0 < test_fraction and their sum < 1, got "
            f"valid_fraction={valid_fraction} and test_fraction={test_fraction}")


def _build(users, items, part, user_ids, item_ids, method, n_train_only=0
           ) -> HoldoutSplit:
    """Index rows and columns by training users and items, and apply the cold rule."""
    train = part == 0
    has_user = np.bincount(users[train], minlength=len(user_ids)) > 0
    has_item = np.bincount(items[train], minlength=len(item_ids)) > 0
    cold_user = ~train & ~has_user[users]
    cold_item = ~train & ~cold_user & ~has_item[items]
    rows = np.cumsum(has_user) - 1
    columns = np.cumsum(has_item) - 1
    shape = (int(has_user.sum()), int(has_item.sum()))

    matrices = []
    for label in (0, 1, 2):
        keep = (part == label) & ~cold_user & ~cold_item
        matrices.append(sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32),
             (rows[users[keep]], columns[items[keep]])), shape=shape))
    _check_disjoint(*matrices)
    held = ~train
    return HoldoutSplit(
        *matrices, user_ids=user_ids[has_user], item_ids=item_ids[has_item],
        method=method,
        n_cold_users=_n_distinct(users[cold_user], len(user_ids)),
        n_cold_user_interactions=int(cold_user.sum()),
        n_cold_items=_n_distinct(items[held & ~has_item[items]], len(item_ids)),
        n_cold_item_interactions=int(cold_item.sum()),
        n_train_only_users=n_train_only)


def _n_distinct(codes: np.ndarray, n_codes: int) -> int:
    return int(np.count_nonzero(np.bincount(codes, minlength=n_codes)))


def random_holdout_split(events: pd.DataFrame, *, valid_fraction: float = 0.1,
                         test_fraction: float = 0.1, min_interactions: int = 3,
                         seed: int = 0) -> HoldoutSplit:
    """Hold out a random part of each user's interactions.

    A user with n interactions gets ``ceil(test_fraction * n)`` test and
    ``ceil(valid_fraction * n)`` validation interactions, drawn at random;
    the rest are training. Users with fewer than `min_interactions`, and users
    who would have nothing left to train on, stay wholly in training.

    Parameters
    ----------
    events : DataFrame
        Implicit feedback, one row per (``user_id``, ``item_id``) pair.
    valid_fraction : float, default 0.1
        May be 0 for no validation part.
    test_fraction : float, default 0.1
    min_interactions : int, default 3
    seed : int, default 0

    Returns
    -------
    HoldoutSplit
        See the module docstring for users and items only in valid/test.

    Defined in :doc:`/chapters/data`.
    """
    users, items, _, user_ids, item_ids = _encode(events, with_time=False)
    n_valid, n_test, n_short = _holdout_counts(np.bincount(users), valid_fraction,
                                               test_fraction, min_interactions)
    order = _order_within_users(users, None, np.random.default_rng(seed))
    part = _assign_last(users, order, n_valid, n_test)
    return _build(users, items, part, user_ids, item_ids, "random holdout", n_short)


def temporal_holdout_split(events: pd.DataFrame, *, valid_fraction: float = 0.1,
                           test_fraction: float = 0.1, min_interactions: int = 3,
                           seed: int = 0) -> HoldoutSplit:
    """Hold out each user's latest interactions: test last, validation before.

    Sizes follow :func:`random_holdout_split`. Interactions with equal
    timestamps are ordered at random with `seed` (MovieLens users often rate
    many movies within one second).

    Parameters
    ----------
    events : DataFrame
        Implicit feedback with ``user_id``, ``item_id`` and ``timestamp``.
    valid_fraction, test_fraction, min_interactions, seed
        As in :func:`random_holdout_split`.

    Returns
    -------
    HoldoutSplit

    Defined in :doc:`/chapters/data`.
    """
    users, items, times, user_ids, item_ids = _encode(events, with_time=True)
    n_valid, n_test, n_short = _holdout_counts(np.bincount(users), valid_fraction,
                                               test_fraction, min_interactions)
    order = _order_within_users(users, times, np.random.default_rng(seed))
    part = _assign_last(users, order, n_valid, n_test)
    return _build(users, items, part, user_ids, item_ids, "per-user temporal", n_short)


def leave_last_out_split(events: pd.DataFrame, *, seed: int = 0) -> HoldoutSplit:
    """Hold out each user's last interaction for test and the one before for validation.

    Users with fewer than 3 interactions stay wholly in training. Equal
    timestamps are ordered at random with `seed`.

    Defined in :doc:`/chapters/data`.
    """
    users, items, times, user_ids, item_ids = _encode(events, with_time=True)
    counts = np.bincount(users)
    short = counts < 3
    n_held = np.where(short, 0, 1)
    order = _order_within_users(users, times, np.random.default_rng(seed))
    part = _assign_last(users, order, n_held, n_held)
    return _build(users, items, part, user_ids, item_ids, "leave-last-out",
                  int(short.sum()))


def global_temporal_split(events: pd.DataFrame, *, valid_fraction: float = 0.1,
                          test_fraction: float = 0.1,
                          cutoffs: tuple | None = None) -> HoldoutSplit:
    """Cut all interactions at two points in time: train, then validation, then test.

    An interaction at time t is training if ``t < valid_start``, validation
    if ``valid_start <= t < test_start`` and test otherwise. By default the
    cut points are the timestamps below which ``1 - valid_fraction -
    test_fraction`` and ``1 - test_fraction`` of the interactions fall, so
    the parts have about those shares (more where many interactions share a
    cut time). The split is deterministic and has no seed. Users who joined
    after the first cut are cold users, dropped and counted.

    Parameters
    ----------
    events : DataFrame
        Implicit feedback with ``user_id``, ``item_id`` and ``timestamp``.
    valid_fraction, test_fraction : float, default 0.1
    cutoffs : (valid_start, test_start), optional
        Explicit cut points, as timestamps (or strings pandas reads as dates,
        taken as UTC); overrides the fractions.

    Returns
    -------
    HoldoutSplit

    Defined in :doc:`/chapters/data`.
    """
    users, items, times, user_ids, item_ids = _encode(events, with_time=True)
    if cutoffs is None:
        _check_fractions(valid_fraction, test_fraction)
        # The cut points are the times with round(share * n) interactions before them.
        n = len(times)
        valid_start, test_start = (
            np.partition(times, rank)[rank] if rank < n else times.max() + 1
            for rank in (round((1 - valid_fraction - test_fraction) * n),
                         round((1 - test_fraction) * n)))
    else:
        valid_start, test_start = (_time_value(c, events["timestamp"]) for c in cutoffs)
        if valid_start > test_start:
            raise ValueError(f"cutoffs must be in time order, got {cutoffs}")
    part = (times >= valid_start).astype(np.int8) + (times >= test_start)
    result = _build(users, items, part, user_ids, item_ids, "global temporal")
    stamps = events["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(stamps):
        result.cutoffs = tuple(pd.Series([valid_start, test_start]).astype(
            stamps.dtype))  # the integers back to the column's datetimes
    else:
        result.cutoffs = (int(valid_start), int(test_start))
    return result


def _time_value(cutoff, stamps: pd.Series) -> int:
    """Express a cut point in the integer unit of the timestamp column."""
    if pd.api.types.is_integer_dtype(stamps):
        return int(cutoff)
    moment = pd.Timestamp(cutoff)
    if moment.tzinfo is None and getattr(stamps.dt, "tz", None) is not None:
        moment = moment.tz_localize("UTC")
    return int(pd.Series([moment]).astype(stamps.dtype).astype("int64").iloc[0])
