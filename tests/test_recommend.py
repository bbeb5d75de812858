"""Tests for genrec.recommend on a six-movie catalogue built here."""

import numpy as np
import pandas as pd
import pytest

import genrec
from genrec.datasets import MovieLens


class FixedScores:
    """A model whose score for item i is always `values[i]`."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float32)
        self.inputs = []

    def score(self, x):
        self.inputs.append(x.toarray())
        return np.tile(self.values, (x.shape[0], 1))


@pytest.fixture(scope="module")
def movielens():
    movies = pd.DataFrame({
        "item_id": [10, 11, 12, 13, 14, 15],
        "title": ["Alpha (1990)", "Beta (1991)", "Beta (1991)", "Gamma Ray (1992)",
                  "Delta Force (1993)", "Delta Blues (1994)"],
        "release_date": pd.to_datetime(["1990-01-01", "1991-01-01", "1991-01-01",
                                        None, "1993-01-01", "1994-01-01"]),
        "genres": [("Drama",), ("Comedy",), ("Comedy",), (), ("Action",), ("Drama",)],
    }).set_index("item_id")
    ratings = pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3],
        "item_id": [10, 11, 13, 10, 14, 15],
        "rating": [5.0, 2.0, 4.0, 4.0, 5.0, 3.0],
        "timestamp": pd.to_datetime([1, 2, 3, 4, 5, 6], unit="s", utc=True),
    })
    return MovieLens(ratings=ratings, movies=movies, users=None, name="tiny")


@pytest.fixture
def recommender(movielens):
    # Columns follow item ids 10..15; higher ids score higher.
    model = FixedScores([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    return genrec.Recommender(model, movielens, np.arange(10, 16))


def test_for_user_excludes_every_rated_movie(recommender):
    # User 1 rated 10, 11 (2 stars: seen but not liked) and 13.
    picks = recommender.for_user(1, k=10)
    assert list(picks.index) == [15, 14, 12]


def test_for_user_reads_only_liked_movies(recommender):
    recommender.for_user(1, k=2)
    (row,) = recommender.model.inputs[-1]
    # Movies 10 and 13 were rated >= 4; movie 11 got two stars.
    assert row.tolist() == [1, 0, 0, 1, 0, 0]


def test_for_user_returns_catalogue_columns(recommender):
    picks = recommender.for_user(2, k=1)
    assert list(picks.columns) == ["title", "release_date", "genres",
                                   "mean_rating", "n_ratings", "score"]
    assert picks.loc[15, "mean_rating"] == pytest.approx(3.0)
    assert picks.loc[15, "n_ratings"] == 1


def test_unknown_user_error_gives_range(recommender):
    with pytest.raises(KeyError, match="unknown user id 99; valid ids range from 1 to 3"):
        recommender.for_user(99)


def test_new_user_by_title_and_id(recommender):
    picks = recommender.for_new_user(["delta force", 15], k=3)
    assert 14 not in picks.index
    assert 15 not in picks.index
    assert list(picks.index) == [13, 12, 11]


def test_repeated_title_returns_every_copy(recommender):
    assert list(recommender.find("Beta (1991)").index) == [11, 12]
    assert recommender.resolve(["beta"]) == [11, 12]


def test_ambiguous_substring_lists_candidates(recommender):
    with pytest.raises(LookupError, match="matches several movies.*Delta Force"):
        recommender.find("Delta")


def test_unmatched_title_suggests_closest(recommender):
    with pytest.raises(LookupError, match="closest titles: .*Gamma Ray"):
        recommender.find("Gama Ray")


def test_unknown_movie_id_error(recommender):
    with pytest.raises(KeyError, match="unknown movie id 99; valid ids range from 10"):
        recommender.for_new_user([99])


def test_empty_history_is_rejected(recommender):
    with pytest.raises(ValueError, match="liked is empty"):
        recommender.for_new_user([])


def test_k_larger_than_catalogue_is_capped(recommender):
    assert len(recommender.for_new_user([10], k=50)) == 5


def test_loop_never_shows_a_movie_twice(recommender):
    replies = iter([[15], [], None])
    rounds = genrec.recommendation_loop(recommender, [10], lambda table: next(replies), k=2)
    shown = [i for table in rounds for i in table.index]
    assert len(rounds) == 3
    assert len(shown) == len(set(shown))
    assert rounds[0]["liked"].tolist() == [True, False]


def test_loop_feeds_liked_movies_back(recommender):
    replies = iter([[15], None])
    genrec.recommendation_loop(recommender, [10], lambda table: next(replies), k=2)
    (row,) = recommender.model.inputs[-1]
    assert row.tolist() == [1, 0, 0, 0, 0, 1]


def test_loop_rejects_answers_not_shown(recommender):
    with pytest.raises(ValueError, match=r"ids \[11\] that were not shown"):
        genrec.recommendation_loop(recommender, [10], lambda table: [11], k=2)
