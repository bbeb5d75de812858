"""Tests of genrec.preprocess: cleaning, title parsing, features, k-core and SVD."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genrec.datasets import MovieLens
from genrec.preprocess import (clean, clean_ratings, genre_matrix, kcore_filter,
                               movie_features, movie_stats, split_title,
                               truncated_svd, user_demographics, user_stats)


def frame(rows, columns=("user_id", "item_id", "rating", "timestamp")):
    return pd.DataFrame(rows, columns=list(columns))


@pytest.fixture
def dirty():
    return frame([
        (1, 10, 4.0, 100),
        (1, 10, 2.0, 300),      # repeat of (1, 10), newer: kept
        (1, 20, 6.0, 100),      # above the scale
        (2, 10, np.nan, 100),   # missing rating
        (2, 20, 3.7, 100),      # off the half-star grid
        (2, 30, 0.5, 100),      # movie 30 not in the catalogue
        (3, 20, 5.0, 200),
        (3, 20, 4.5, 200),      # repeat at the same time: the later row is kept
    ])


@pytest.fixture
def catalogue():
    return pd.DataFrame({"title": ["A (1990)", "B (1991)", "C (1992)"],
                         "genres": [("Drama",), ("Comedy", "Drama"), ()]},
                        index=pd.Index([10, 20, 40], name="item_id"))


def test_clean_ratings_removes_and_reports(dirty, catalogue):
    kept, report = clean_ratings(dirty, movies=catalogue)
    assert report.removed == {
        "missing value": 1,
        "rating outside [0.5, 5.0]": 1,
        "rating not a multiple of 0.5": 1,
        "movie not in the catalogue": 1,
        "repeated (user, movie): older rating": 2,
    }
    assert kept[["user_id", "item_id", "rating"]].values.tolist() == [
        [1, 10, 2.0], [3, 20, 4.5]]
    assert (report.n_before, report.n_after) == (8, 2)
    assert kept["timestamp"].iloc[0] == pd.Timestamp(300, unit="s", tz="UTC")
    assert kept.dtypes.astype(str).tolist()[:3] == ["int32", "int32", "float32"]


def test_clean_ratings_whole_star_scale(dirty):
    _, report = clean_ratings(dirty, rating_scale=(1.0, 5.0, 1.0))
    # Out of [1, 5]: 6.0 and 0.5. Off the whole-star grid: 3.7 and 4.5.
    assert report.removed["rating outside [1.0, 5.0]"] == 2
    assert report.removed["rating not a multiple of 1.0"] == 2


def test_clean_ratings_reports_id_gaps():
    _, report = clean_ratings(frame([(5, 1000, 4.0, 1), (9, 7, 3.0, 1)]))
    assert (report.n_users, report.max_user_id) == (2, 9)
    assert (report.n_items, report.max_item_id) == (2, 1000)


@pytest.mark.parametrize("column, values, error, message", [
    ("timestamp", ["a", "b"], TypeError, "timestamp must hold Unix seconds"),
    ("user_id", [1.5, 2.0], TypeError, "user_id must hold integers"),
    ("item_id", [-1, 2], ValueError, r"item_id must be in \[0, 2\*\*31 - 1\]"),
])
def test_clean_ratings_rejects_bad_columns(column, values, error, message):
    ratings = frame([(1, 1, 4.0, 1), (2, 2, 4.0, 2)])
    ratings[column] = values
    with pytest.raises(error, match=message):
        clean_ratings(ratings)


def test_clean_ratings_rejects_bad_scale(dirty):
    with pytest.raises(ValueError, match="rating_scale must be"):
        clean_ratings(dirty, rating_scale=(5.0, 1.0, 1.0))


def test_clean_release_drops_unrated_catalogue(dirty, catalogue):
    users = pd.DataFrame({"age": [20, 30, 40, 50]}, index=pd.Index([1, 2, 3, 4]))
    data = MovieLens(dirty, catalogue, users, "ml-latest-small")
    cleaned, report = clean(data)
    assert report.unrated_movies == 1  # movie 40
    assert report.unrated_users == 2  # users 2 (all removed) and 4
    assert cleaned.movies.index.tolist() == [10, 20]
    assert cleaned.users.index.tolist() == [1, 3]
    assert report.to_frame().loc["catalogue movie without ratings", "removed"] == 1
    assert str(report).startswith("8 ratings in, 2 out")


@pytest.mark.parametrize("raw, title, alt, year", [
    ("Toy Story (1995)", "Toy Story", None, 1995),
    ("  Babylon 5 ", "Babylon 5", None, None),
    ("2001: A Space Odyssey (1968)", "2001: A Space Odyssey", None, 1968),
    ("1900 (Novecento) (1976)", "1900", "Novecento", 1976),
    ("(500) Days of Summer (2009)", "(500) Days of Summer", None, 2009),
    ("Seven (a.k.a. Se7en) (1995)", "Seven", "Se7en", 1995),
    ("City of Lost Children, The (Cit\u00e9 des enfants perdus, La) (1995)",
     "The City of Lost Children", "La Cit\u00e9 des enfants perdus", 1995),
    ("Arm\u00e9e des ombres, L' (1969)", "L'Arm\u00e9e des ombres", None, 1969),
    ("Death Note: Desu n\u00f4to (2006\u20132007)", "Death Note: Desu n\u00f4to",
     None, 2006),
    ("Hyena Road (2016\u2013 )", "Hyena Road", None, 2016),
    ("Fawlty Towers (1975-1979)", "Fawlty Towers", None, 1975),
    ('"Great Performances" Cats (1998)', '"Great Performances" Cats', None, 1998),
])
def test_split_title(raw, title, alt, year):
    parts = split_title(pd.Series([raw])).iloc[0]
    assert parts["title"] == title
    assert (pd.isna(parts["alt_title"]) if alt is None else parts["alt_title"] == alt)
    assert (pd.isna(parts["year"]) if year is None else parts["year"] == year)


def test_genre_matrix_multi_hot(catalogue):
    genres = genre_matrix(catalogue)
    assert genres.columns.tolist() == ["Comedy", "Drama"]
    assert genres.values.tolist() == [[0, 1], [1, 1], [0, 0]]
    assert genres.dtypes.unique().tolist() == [np.int8]


def test_movie_and_user_stats():
    ratings = frame([(1, 10, 4.0, 1), (2, 10, 2.0, 5), (2, 20, 5.0, 3)])
    ratings["timestamp"] = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    stats = movie_stats(ratings, pd.DataFrame(index=pd.Index([10, 20, 30])))
    # Movie 10: two ratings, mean (4 + 2) / 2 = 3, rated by 2 of 2 users.
    assert stats.loc[10].tolist() == [2, 3.0, 1.0]
    assert stats.loc[20, "popularity"] == 0.5
    assert stats.loc[30, "n_ratings"] == 0
    assert np.isnan(stats.loc[30, "mean_rating"])
    users = user_stats(ratings)
    assert users.loc[2, "n_ratings"] == 2
    assert users.loc[2, "last"] == pd.Timestamp(5, unit="s", tz="UTC")


def test_user_demographics_common_age_groups():
    users = pd.DataFrame({"age": [7, 18, 24, 25, 49, 50, 56, 73],
                          "gender": ["F"] * 8, "occupation": ["x"] * 8})
    groups = user_demographics(users)["age_group"].astype(str).tolist()
    assert groups == ["Under 18", "18-24", "18-24", "25-34", "45-49", "50-55",
                      "56+", "56+"]
    dummies = user_demographics(users, one_hot=True)
    assert dummies["gender_F"].tolist() == [1] * 8
    with pytest.raises(ValueError, match="release with demographics"):
        user_demographics(None)


def test_kcore_repeats_until_stable():
    # 2-core: item 3 has one rating, so it goes in round 1; that leaves user
    # 3 with one rating, which goes in round 2; then all counts are >= 2.
    ratings = frame([(1, 1, 5, 0), (1, 2, 5, 0), (2, 1, 5, 0), (2, 2, 5, 0),
                     (3, 2, 5, 0), (3, 3, 5, 0)])
    kept, report = kcore_filter(ratings, min_user_count=2, min_item_count=2)
    assert kept[["user_id", "item_id"]].values.tolist() == [[1, 1], [1, 2], [2, 1],
                                                            [2, 2]]
    assert report.n_rounds == 2
    assert report.rounds["n_rows"].tolist() == [6, 5, 4]


def test_kcore_result_is_a_core():
    rng = np.random.default_rng(0)
    ratings = frame(np.c_[rng.integers(0, 60, 600), rng.zipf(1.5, 600) % 80,
                          np.ones(600), np.zeros(600)])
    kept, _ = kcore_filter(ratings, min_user_count=3, min_item_count=4)
    assert kept.groupby("user_id").size().min() >= 3
    assert kept.groupby("item_id").size().min() >= 4


def test_kcore_rejects_bad_threshold():
    with pytest.raises(ValueError, match="min_item_count must be an integer >= 1"):
        kcore_filter(frame([(1, 1, 1, 1)]), min_item_count=0)


def test_truncated_svd_matches_dense_svd():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 20)) < 0.2).astype(np.float32)
    result = truncated_svd(sp.csr_matrix(dense), 5, seed=0)
    exact = np.linalg.svd(dense, compute_uv=False)
    np.testing.assert_allclose(result.singular_values, exact[:5], rtol=1e-6)
    np.testing.assert_allclose(result.energy, exact[:5] ** 2 / (exact**2).sum(),
                               rtol=1e-5)
    again = truncated_svd(sp.csr_matrix(dense), 5, seed=0)
    np.testing.assert_array_equal(result.left, again.left)
    assert result.row_embedding().shape == (30, 5)
    assert result.column_embedding().shape == (20, 5)


def test_truncated_svd_center_is_pca():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) + 10
    result = truncated_svd(x, 3, center=True)
    centred = x - x.mean(axis=0)
    exact = np.linalg.svd(centred, compute_uv=False)
    np.testing.assert_allclose(result.singular_values, exact[:3], rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_components": 0}, r"n_components must be in \[1, 4\]"),
    ({"n_components": 5}, r"n_components must be in \[1, 4\]"),
    ({"n_components": 2, "center": True}, "would make the sparse matrix dense"),
])
def test_truncated_svd_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        truncated_svd(sp.identity(5, format="csr"), **kwargs)


def test_movie_features_shape_and_scaling(catalogue):
    ratings = frame([(1, 10, 4.0, 1), (2, 10, 2.0, 1), (2, 20, 5.0, 1)])
    features = movie_features(catalogue, ratings)
    assert features.columns.tolist() == ["Comedy", "Drama", "year",
                                         "log_n_ratings", "mean_rating"]
    assert features["year"].mean() == pytest.approx(0.0)
    assert features.loc[40, "mean_rating"] == 0.0  # unrated: set to the mean
