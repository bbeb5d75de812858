"""Tests of genrec.split: strong generalisation and the four holdout splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from genrec.interactions import to_implicit
from genrec.split import (HoldoutSplit, global_temporal_split, leave_last_out_split,
                          random_holdout_split, strong_generalization_split,
                          temporal_holdout_split)

HOLDOUTS = [random_holdout_split, temporal_holdout_split, leave_last_out_split,
            global_temporal_split]


def events_frame(rows) -> pd.DataFrame:
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], unit="s", utc=True)
    return events


@pytest.fixture
def events():
    # Users 1 and 5 rate items 1..10, user 1 at times 1..10 and user 5 in
    # the reverse order, so each one's latest items are the other's earliest.
    # User 2 rates 4 items. Users 3 and 4 rate only 2, too few to hold any
    # out. User 4 rates after everyone else, once on an item (11) that no
    # one else has.
    rows = [(1, item, item) for item in range(1, 11)]
    rows += [(5, item, 11 - item) for item in range(1, 11)]
    rows += [(2, 1, 3), (2, 2, 4), (2, 3, 5), (2, 4, 6)]
    rows += [(3, 1, 1), (3, 2, 2)]
    rows += [(4, 1, 20), (4, 11, 21)]
    return events_frame(rows)


def two_users(n_items: int) -> pd.DataFrame:
    """Two users with the same items in opposite time orders."""
    return events_frame([(1, i, i) for i in range(n_items)]
                        + [(2, i, n_items - i) for i in range(n_items)])


def pairs(split: HoldoutSplit, matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(split.user_ids[coo.row].tolist(), split.item_ids[coo.col].tolist()))


def check_partition(split: HoldoutSplit, events: pd.DataFrame) -> None:
    """Parts are disjoint, binary, and with the dropped ones make up the events."""
    parts = [pairs(split, m) for m in (split.train, split.valid, split.test)]
    assert not parts[0] & parts[1]
    assert not parts[0] & parts[2]
    assert not parts[1] & parts[2]
    for matrix in (split.train, split.valid, split.test):
        assert set(np.unique(matrix.data)) <= {1.0}
    kept = sum(len(p) for p in parts)
    dropped = split.n_cold_user_interactions + split.n_cold_item_interactions
    assert kept + dropped == len(events)
    assert parts[0] | parts[1] | parts[2] <= set(zip(events.user_id, events.item_id))


@pytest.mark.parametrize("make", HOLDOUTS)
def test_holdout_parts_partition_events(make, events):
    check_partition(make(events), events)


@pytest.mark.parametrize("make", HOLDOUTS[:3])
def test_holdout_same_seed_same_split(make, events):
    a, b = make(events, seed=3), make(events, seed=3)
    for name in ("train", "valid", "test"):
        assert (getattr(a, name) != getattr(b, name)).nnz == 0


def test_random_holdout_sizes_follow_rule(events):
    split = random_holdout_split(events, valid_fraction=0.2, test_fraction=0.2)
    sizes = {name: dict(zip(split.user_ids, np.diff(getattr(split, name).indptr)))
             for name in ("valid", "test")}
    dropped = split.n_cold_item_interactions
    # Users 1 and 5: ceil(0.2 * 10) = 2 and 2. User 2: ceil(0.2 * 4) = 1 and 1.
    assert sum(sizes["valid"].values()) + sum(sizes["test"].values()) + dropped == 10
    assert sizes["test"][2] + sizes["valid"][2] + dropped >= 2
    # Users 3 and 4 have 2 < min_interactions = 3 interactions: training only.
    assert split.n_train_only_users == 2
    assert sizes["test"][3] == sizes["test"][4] == 0


def test_random_holdout_seed_changes_choice():
    events = two_users(100)
    tests = {frozenset(random_holdout_split(events, seed=s).test.indices)
             for s in range(5)}
    assert len(tests) > 1


def test_fraction_rounding_is_exact():
    # 0.1 * 30 is 3.0000000000000004 in floating point; each test part is 3.
    split = temporal_holdout_split(two_users(30))
    assert np.diff(split.test.indptr).tolist() == [3, 3]


def test_temporal_holdout_takes_latest(events):
    split = temporal_holdout_split(events, valid_fraction=0.2, test_fraction=0.2)
    test, valid = pairs(split, split.test), pairs(split, split.valid)
    # User 1 rated item t at time t: items 9, 10 are test and 7, 8 validation.
    assert {i for u, i in test if u == 1} == {9, 10}
    assert {i for u, i in valid if u == 1} == {7, 8}
    assert {i for u, i in test if u == 5} == {1, 2}
    assert {i for u, i in test if u == 2} == {4}
    assert split.n_cold_item_interactions == 0


def test_temporal_ties_broken_by_seed():
    # User 1's items 1 and 2 share the last time; each seed picks one as test.
    # User 2 has them in training, so neither is a cold item.
    events = events_frame([(1, 0, 0), (1, 3, 1), (1, 1, 5), (1, 2, 5),
                           (2, 1, 0), (2, 2, 0)])
    chosen = set()
    for seed in range(20):
        split = leave_last_out_split(events, seed=seed)
        chosen |= {i for u, i in pairs(split, split.test)}
    assert chosen == {1, 2}


def test_leave_last_out(events):
    split = leave_last_out_split(events)
    assert pairs(split, split.test) == {(1, 10), (5, 1), (2, 4)}
    assert pairs(split, split.valid) == {(1, 9), (5, 2), (2, 3)}
    assert split.n_train_only_users == 2  # users 3 and 4 have fewer than 3


def test_leave_last_out_counts_cold_items():
    # Held out: user 1's items 3 (test) and 2 (valid), user 2's items 4 and
    # 2. Training has item 1 only, so items 2, 3 and 4 are cold.
    events = events_frame([(1, 1, 1), (1, 2, 2), (1, 3, 3),
                           (2, 1, 1), (2, 2, 2), (2, 4, 3)])
    split = leave_last_out_split(events)
    assert split.n_cold_items == 3
    assert split.n_cold_item_interactions == 4
    assert split.test.nnz == split.valid.nnz == 0


def test_global_temporal_cold_users_and_items(events):
    split = global_temporal_split(events, cutoffs=(pd.Timestamp(8, unit="s", tz="UTC"),
                                                   pd.Timestamp(20, unit="s")))
    # Valid (8 <= t < 20): user 1's items 8-10 and user 5's items 1-3, all
    # in the other's training. Test (t >= 20): user 4, who has no training
    # interaction, so both are dropped as a cold user's; item 11 is cold too
    # but its interaction already went with user 4.
    assert (split.n_cold_users, split.n_cold_user_interactions) == (1, 2)
    assert (split.n_cold_items, split.n_cold_item_interactions) == (1, 0)
    assert split.valid.nnz == 6
    assert split.test.nnz == 0
    assert 4 not in split.user_ids


def test_global_temporal_fractions_cut_by_time():
    events = events_frame([(u, i, 10 * u + i) for u in range(10) for i in range(10)])
    split = global_temporal_split(events, valid_fraction=0.1, test_fraction=0.2)
    # Times 0..99: train t < 70, validation 70..79 (user 7), test 80..99
    # (users 8 and 9). Users 7-9 have no training interaction: cold.
    assert split.train.nnz == 70
    assert (split.n_cold_users, split.n_cold_user_interactions) == (3, 30)


def test_global_temporal_integer_cutoffs():
    events = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [1, 2, 3],
                           "timestamp": [5, 10, 15]})
    split = global_temporal_split(events, cutoffs=(10, 15))
    assert split.train.nnz == 1


@pytest.mark.parametrize("make", HOLDOUTS)
def test_holdout_rejects_repeated_pairs(make, events):
    repeated = pd.concat([events, events.iloc[:1]])
    with pytest.raises(ValueError, match="repeated"):
        make(repeated)


@pytest.mark.parametrize("kwargs, message", [
    ({"valid_fraction": 0.5, "test_fraction": 0.5}, "their sum < 1"),
    ({"test_fraction": 0.0}, "0 < test_fraction"),
    ({"min_interactions": 1}, "min_interactions must be >= 2"),
])
def test_holdout_rejects_bad_sizes(kwargs, message, events):
    with pytest.raises(ValueError, match=message):
        random_holdout_split(events, **kwargs)


def test_holdout_rejects_bad_columns(events):
    with pytest.raises(ValueError, match=r"missing the column\(s\) \['timestamp'\]"):
        temporal_holdout_split(events.drop(columns="timestamp"))
    with pytest.raises(TypeError, match="timestamp must hold datetimes or integers"):
        temporal_holdout_split(events.assign(timestamp="x"))
    with pytest.raises(ValueError, match="cutoffs must be in time order"):
        global_temporal_split(events, cutoffs=("2000-01-01", "1990-01-01"))


def test_held_out_views(events):
    split = temporal_holdout_split(events, valid_fraction=0.2, test_fraction=0.2)
    valid, test = split.valid_held_out, split.test_held_out
    assert valid.fold_in is split.train
    assert test.fold_in.nnz == split.train.nnz + split.valid.nnz
    assert test.fold_in.multiply(test.target).nnz == 0
    assert split.summary()["train"] == split.train.nnz


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 12), st.integers(0, 5)),
                min_size=1, max_size=80),
       st.integers(0, 3))
def test_holdout_partition_property(rows, seed):
    events = events_frame(rows).drop_duplicates(["user_id", "item_id"])
    for make in HOLDOUTS[:3]:
        check_partition(make(events, seed=seed), events)
    if events["timestamp"].nunique() > 1:
        check_partition(global_temporal_split(events), events)


# --- strong generalisation -------------------------------------------------------


@pytest.fixture
def implicit():
    rng = np.random.default_rng(0)
    rows = [(u, i, 5.0) for u in range(40) for i in rng.choice(30, 8, replace=False)]
    return to_implicit(pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]))


def test_strong_split_users_disjoint_and_rows_whole(implicit):
    split = strong_generalization_split(implicit, n_valid_users=5, n_test_users=5,
                                        seed=1)
    groups = [set(split.train_user_ids), set(split.valid.user_ids),
              set(split.test.user_ids)]
    assert not groups[0] & groups[1]
    assert not groups[0] & groups[2]
    assert not groups[1] & groups[2]
    for part in (split.valid, split.test):
        assert part.fold_in.multiply(part.target).nnz == 0
    # Every held-out interaction is in a fold-in or target part, or dropped.
    total = split.valid.fold_in.nnz + split.valid.target.nnz + split.test.fold_in.nnz \
        + split.test.target.nnz + split.n_dropped
    assert total == 10 * 8


def test_strong_split_is_seeded(implicit):
    a = strong_generalization_split(implicit, n_valid_users=5, n_test_users=5, seed=2)
    b = strong_generalization_split(implicit, n_valid_users=5, n_test_users=5, seed=2)
    np.testing.assert_array_equal(a.test.user_ids, b.test.user_ids)
    assert (a.test.target != b.test.target).nnz == 0


def test_global_temporal_reports_cutoffs():
    events = events_frame([(u, i, 10 * u + i) for u in range(10) for i in range(10)])
    split = global_temporal_split(events, valid_fraction=0.1, test_fraction=0.2)
    assert split.cutoffs == (pd.Timestamp(70, unit="s", tz="UTC"),
                             pd.Timestamp(80, unit="s", tz="UTC"))


def test_temporal_order_with_huge_timestamps():
    # Integer times too large to pack with the row index take the
    # np.argsort fallback; the latest item must still be the test item.
    big = 2**61
    events = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2],
                           "item_id": [1, 2, 3, 3, 2, 1],
                           "timestamp": [big + 1, big + 5, big + 9, 1, 2, 3]})
    split = leave_last_out_split(events)
    assert pairs(split, split.test) == {(1, 3), (2, 1)}
