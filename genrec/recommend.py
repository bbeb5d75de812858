"""Top-k movie recommendations with titles, dates and ratings."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .datasets import MovieLens
from .metrics import top_k


class Recommender:
    """Turn a model's scores into a table of movies a user has not seen.

    Parameters
    ----------
    model
        Anything with ``score(x)``, trained on columns `item_ids`.
    data : MovieLens
        The release the model was trained on; its ratings tell which movies
        each user has seen and give each movie's mean rating.
    item_ids : ndarray of shape (n_items,)
        Movie id of each model column.
    threshold : float, default 4.0
        Smallest rating that counts as a like in a user's history, as in
        :func:`genrec.to_implicit`.

    Defined in :doc:`/chapters/movie_example`.
    """

    def __init__(self, model, data: MovieLens, item_ids: np.ndarray, *,
                 threshold: float = 4.0):
        self.model = model
        self.data = data
        self.item_ids = np.asarray(item_ids)
        self.threshold = threshold
        self._column = pd.Series(np.arange(len(self.item_ids)), index=self.item_ids)
        stats = data.ratings.groupby("item_id")["rating"].agg(["mean", "size"])
        self.catalogue = data.movies.join(
            stats.rename(columns={"mean": "mean_rating", "size": "n_ratings"}))
        self.catalogue["n_ratings"] = self.catalogue["n_ratings"].fillna(0).astype(int)

    def history(self, user_id: int) -> pd.DataFrame:
        """Return the movies `user_id` rated, with their rating, newest first."""
        ratings = self.data.ratings
        known = ratings["user_id"].unique()
        if user_id not in set(known.tolist()):
            raise KeyError(
                f"unknown user id {user_id}; valid ids range from {known.min()} "
                f"to {known.max()}"
            )
        mine = ratings[ratings["user_id"] == user_id].set_index("item_id")
        table = mine[["rating", "timestamp"]].join(
            self.catalogue[["title", "release_date", "genres"]])
        return table.sort_values("timestamp", ascending=False)

    def for_user(self, user_id: int, k: int = 10) -> pd.DataFrame:
        """Recommend `k` unseen movies to a user of the data set.

        The model reads the movies the user rated >= threshold; every movie
        the user rated at all is excluded from the list.
        """
        seen = self.history(user_id)
        liked = seen.index[seen["rating"] >= self.threshold]
        return self.recommend(liked, k, exclude=seen.index)

    def for_new_user(self, liked: Iterable[int | str], k: int = 10) -> pd.DataFrame:
        """Recommend `k` movies to someone who names the movies they liked.

        Parameters
        ----------
        liked : iterable of int or str
            Movie ids, or titles. A title is matched exactly (ignoring case),
            else as a substring; see :meth:`find`.
        """
        ids = self.resolve(liked)
        if not ids:
            raise ValueError("liked is empty; name at least one movie")
        return self.recommend(ids, k)

    def resolve(self, movies: Iterable[int | str]) -> list[int]:
        """Return the movie ids of `movies`, given as ids or titles (see :meth:`find`)."""
        ids: list[int] = []
        for entry in movies:
            if isinstance(entry, str):
                ids.extend(self.find(entry).index)
            elif entry in self.catalogue.index:
                ids.append(entry)
            else:
                raise KeyError(f"unknown movie id {entry}; valid ids range from "
                               f"{self.catalogue.index.min()} to "
                               f"{self.catalogue.index.max()}")
        return list(dict.fromkeys(ids))

    def find(self, title: str) -> pd.DataFrame:
        """Return the catalogue rows whose title matches `title`.

        An exact match, ignoring case, wins; several rows can share one title
        (MovieLens 100K lists some movies twice) and all are returned.
        Otherwise the title is searched as a substring. When the substring
        matches several different titles, or none, a ``LookupError`` lists
        the candidates or the closest titles.
        """
        titles = self.catalogue["title"].astype(str)
        exact = self.catalogue[titles.str.lower() == title.strip().lower()]
        if len(exact):
            return exact
        partial = self.catalogue[titles.str.contains(title.strip(), case=False, regex=False)]
        if partial["title"].nunique() == 1:
            return partial
        if len(partial):
            listed = "; ".join(f"{i}: {t}" for i, t in partial["title"].head(10).items())
            raise LookupError(f"title {title!r} matches several movies ({listed}); "
                              "pass a longer title or a movie id")
        close = difflib.get_close_matches(title, titles.tolist(), n=5, cutoff=0.4)
        raise LookupError(f"no movie title contains {title!r}; closest titles: {close}")

    def recommend(self, liked: Iterable[int], k: int = 10,
                  exclude: Iterable[int] = ()) -> pd.DataFrame:
        """Recommend `k` movies from a history of liked movie ids.

        The model reads `liked`; movies in `liked` or `exclude` are never
        returned. Liked movies outside the model's columns are ignored.
        """
        liked = pd.Index(list(liked)).unique()
        seen = liked.union(pd.Index(list(exclude)))
        n_items = len(self.item_ids)
        columns = self._column.reindex(liked).dropna().astype(int).to_numpy()
        x = sp.csr_matrix((np.ones(len(columns), np.float32),
                           (np.zeros(len(columns), int), columns)), shape=(1, n_items))
        hidden = self._column.reindex(seen).dropna().astype(int).to_numpy()
        exclude = sp.csr_matrix((np.ones(len(hidden), np.float32),
                                 (np.zeros(len(hidden), int), hidden)), shape=(1, n_items))
        scores = self.model.score(x)
        k = min(k, n_items - exclude.nnz)
        if k < 1:
            return self.catalogue.iloc[:0][["title", "release_date", "genres",
                                           "mean_rating", "n_ratings"]].assign(score=[])
        best = top_k(scores, k, exclude=exclude)[0]
        table = self.catalogue.loc[self.item_ids[best],
                                   ["title", "release_date", "genres",
                                    "mean_rating", "n_ratings"]].copy()
        table["score"] = scores[0, best]
        table.index.name = "item_id"
        return table


def ask_in_terminal(table: pd.DataFrame) -> list[int] | None:
    """Show `table` and read the ids of liked movies; an empty answer stops.

    An answer function for :func:`recommendation_loop` when a person is at
    the keyboard.
    """
    print(table[["title", "release_date", "mean_rating"]].to_string())
    answer = input("ids of the movies you like (comma-separated, empty to stop): ")
    if not answer.strip():
        return None
    try:
        return [int(part) for part in answer.split(",") if part.strip()]
    except ValueError:
        print(f"could not read {answer!r} as movie ids; stopping")
        return None


def recommendation_loop(recommender: Recommender, liked: Iterable[int | str], answer,
                        *, k: int = 5, max_rounds: int = 10) -> list[pd.DataFrame]:
    """Recommend in rounds, learning from the user's answers until they stop.

    Each round shows `k` movies not yet liked or shown, then calls
    ``answer(table)``, which returns the ids of the movies the user liked or
    None to stop. Liked movies join the history that the model reads; every
    movie shown is excluded from later rounds.

    Parameters
    ----------
    recommender : Recommender
    liked : iterable of int or str
        The starting history, as in :meth:`Recommender.for_new_user`.
    answer : callable
        ``answer(table) -> list of int or None``; :func:`ask_in_terminal` asks
        a person.
    k, max_rounds : int

    Returns
    -------
    list of DataFrame
        The table shown in each round, with a ``liked`` column added.

    Defined in :doc:`/chapters/movie_example`.
    """
    history = recommender.resolve(liked)
    shown: list[int] = []
    rounds = []
    for _ in range(max_rounds):
        table = recommender.recommend(history, k, exclude=shown)
        if table.empty:
            break
        reply = answer(table)
        table["liked"] = table.index.isin(reply or [])
        rounds.append(table)
        if reply is None:
            break
        unknown = set(reply) - set(table.index)
        if unknown:
            raise ValueError(f"answer() returned ids {sorted(unknown)} that were not "
                             f"shown this round; choose from {list(table.index)}")
        history.extend(reply)
        shown.extend(table.index)
    return rounds
