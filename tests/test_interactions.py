"""Tests of genrec.interactions: binarising ratings and numbering ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genrec.interactions import dense_codes, has_repeats, to_implicit


@pytest.fixture
def ratings():
    # Ids with gaps: users 3 and 70, movies 5, 9 and 1000.
    return pd.DataFrame({"user_id": [3, 3, 3, 70, 70, 70],
                         "item_id": [5, 9, 1000, 5, 9, 9],
                         "rating": [4.0, 3.5, 5.0, 4.5, 4.0, 4.0]})


def test_to_implicit_threshold_and_half_stars(ratings):
    data = to_implicit(ratings)
    # 3.5 is below the default threshold 4.0; the repeated (70, 9) counts once.
    assert data.user_ids.tolist() == [3, 70]
    assert data.item_ids.tolist() == [5, 9, 1000]
    assert data.matrix.toarray().tolist() == [[1, 0, 1], [1, 1, 0]]
    assert data.matrix.dtype == np.float32


def test_to_implicit_sizes_by_distinct_ids(ratings):
    data = to_implicit(ratings, threshold=3.5)
    assert data.matrix.shape == (2, 3)  # not (71, 1001)
    assert data.matrix.nnz == 5


def test_to_implicit_fixed_columns(ratings):
    data = to_implicit(ratings, item_ids=np.array([9, 5]))
    assert data.matrix.toarray().tolist() == [[0, 1], [1, 1]]


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"user_id": [1], "item_id": [1]}),
     r"missing the column\(s\) \['rating'\]"),
    (pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1.0]}),
     "no rating is >="),
])
def test_to_implicit_rejects(frame, message):
    with pytest.raises(ValueError, match=message):
        to_implicit(frame)


def test_index_lookup_raises_on_unknown(ratings):
    data = to_implicit(ratings)
    assert data.item_index([1000, 5]).tolist() == [2, 0]
    with pytest.raises(KeyError, match=r"unknown user id\(s\) \[4\]"):
        data.user_index([4])


@pytest.mark.parametrize("ids", [
    np.array([7, 3, 7, 100, 3], dtype=np.int32),       # small ids: linear path
    np.array([2**40, 5, 2**40], dtype=np.int64),        # large ids: factorize path
    np.array([-2, 4, -2]),                              # negative ids
])
def test_dense_codes_matches_unique(ids):
    codes, uniques = dense_codes(ids)
    expected_uniques, expected_codes = np.unique(ids, return_inverse=True)
    np.testing.assert_array_equal(uniques, expected_uniques)
    np.testing.assert_array_equal(codes, expected_codes)
    assert uniques.dtype == ids.dtype


def test_has_repeats():
    assert has_repeats(np.array([3, 1, 3]))
    assert not has_repeats(np.array([3, 1, 2]))
    assert not has_repeats(np.array([], dtype=np.int64))
