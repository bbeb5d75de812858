"""Preprocessing of MovieLens ratings: cleaning, features and dimensionality reduction.

Everything here works on the frames of :class:`genrec.datasets.MovieLens` and
on sparse matrices, and is vectorised so that ML-20M-sized inputs (20
million rows) take seconds. Nothing builds a dense user-by-item matrix.

The iterative k-core filter is the one of He and McAuley (WWW 2016, "Ups and
Downs"): drop users and items below a count threshold, and repeat, because
each removal can push others below it, until nothing changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from ._formats import AGE_GROUPS_1M
from .datasets import RELEASES, MovieLens
from .interactions import dense_codes, has_repeats

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


@dataclass
class CleaningReport:
    """Record of the ratings :func:`clean_ratings` removed, by reason.

    Attributes
    ----------
    n_before, n_after : int
        Ratings before and after cleaning.
    removed : dict of str to int
        Ratings removed, by reason, in the order the checks ran.
    n_users, n_items : int
        Distinct user and movie ids left.
    max_user_id, max_item_id : int
        Largest ids left; when they exceed `n_users`/`n_items` the ids have
        gaps, and matrices must be indexed by distinct id, not by id.
    unrated_movies, unrated_users : int
        Catalogue entries without any rating left, removed by :func:`clean`.
    """

    n_before: int
    n_after: int
    removed: dict[str, int] = field(default_factory=dict)
    n_users: int = 0
    n_items: int = 0
    max_user_id: int = 0
    max_item_id: int = 0
    unrated_movies: int = 0
    unrated_users: int = 0

    def to_frame(self) -> pd.DataFrame:
        """Return the removals as a frame indexed by reason."""
        rows = dict(self.removed)
        rows["catalogue movie without ratings"] = self.unrated_movies
        rows["user without ratings"] = self.unrated_users
        return pd.DataFrame({"removed": pd.Series(rows, dtype="int64")})

    def __str__(self) -> str:
        lines = [f"{self.n_before:,} ratings in, {self.n_after:,} out"]
        lines += [f"  {n:>9,} removed: {why}" for why, n in self.removed.items()]
        lines.append(f"  {self.unrated_movies:>9,} catalogue movies without ratings")
        lines.append(f"  {self.unrated_users:>9,} listed users without ratings")
        lines.append(f"{self.n_users:,} users (largest id {self.max_user_id:,}), "
                     f"{self.n_items:,} movies (largest id {self.max_item_id:,})")
        return "\n".join(lines)


def clean_ratings(ratings: pd.DataFrame, *,
                  rating_scale: tuple[float, float, float | None] = (0.5, 5.0, 0.5),
                  movies: pd.DataFrame | None = None
                  ) -> tuple[pd.DataFrame, CleaningReport]:
    """Remove invalid and repeated ratings, and report what went and why.

    The checks run in this order, each on what the previous ones left:

    1. a missing user id, movie id, rating or timestamp;
    2. a rating outside ``[low, high]``;
    3. a rating off the grid ``low + k * step`` (skipped when step is None);
    4. a movie id absent from `movies` (skipped when `movies` is None);
    5. a repeated (user, movie) pair: the most recent rating is kept, and
       among equal timestamps the one that comes last in the input.

    Integer timestamps are read as Unix seconds and become UTC datetimes;
    datetimes without a time zone are taken to be UTC.

    Parameters
    ----------
    ratings : DataFrame
        With columns ``user_id``, ``item_id``, ``rating`` and ``timestamp``.
    rating_scale : (low, high, step), default (0.5, 5.0, 0.5)
        Valid ratings. ml-100k and ml-1m use whole stars, (1.0, 5.0, 1.0).
    movies : DataFrame, optional
        The catalogue, indexed by ``item_id``.

    Returns
    -------
    ratings : DataFrame
        The kept rows in input order, with a fresh index, and only the four
        columns above in the dtypes of :class:`~genrec.datasets.MovieLens`.
    report : CleaningReport

    Defined in :doc:`/chapters/data`.
    """
    missing = set(RATING_COLUMNS) - set(ratings.columns)
    if missing:
        raise ValueError(f"ratings is missing the column(s) {sorted(missing)}")
    low, high, step = rating_scale
    if not low < high or (step is not None and step <= 0):
        raise ValueError(f"rating_scale must be (low, high, step) with low < high "
                         f"and step > 0 or None, got {rating_scale}")
    frame = ratings[RATING_COLUMNS]
    removed: dict[str, int] = {}

    def drop(mask, reason: str) -> None:
        nonlocal frame
        mask = np.asarray(mask, dtype=bool)
        removed[reason] = int(mask.sum())
        if removed[reason]:
            frame = frame[~mask]

    drop(frame.isna().any(axis=1), "missing value")
    frame = frame.assign(user_id=_as_ids(frame["user_id"], "user_id"),
                         item_id=_as_ids(frame["item_id"], "item_id"),
                         rating=frame["rating"].astype("float32"),
                         timestamp=_as_utc(frame["timestamp"]))
    rating = frame["rating"].to_numpy()
    drop((rating < low) | (rating > high), f"rating outside [{low}, {high}]")
    if step is not None:
        grid = (frame["rating"].to_numpy() - low) / step
        drop(np.abs(grid - np.round(grid)) > 1e-4, f"rating not a multiple of {step}")
    if movies is not None:
        drop(~frame["item_id"].isin(movies.index), "movie not in the catalogue")
    drop(_older_repeats(frame), "repeated (user, movie): older rating")

    frame = frame.reset_index(drop=True)
    user_ids = dense_codes(frame["user_id"].to_numpy())[1]
    item_ids = dense_codes(frame["item_id"].to_numpy())[1]
    report = CleaningReport(
        n_before=len(ratings), n_after=len(frame), removed=removed,
        n_users=len(user_ids), n_items=len(item_ids),
        max_user_id=int(user_ids.max()) if len(frame) else 0,
        max_item_id=int(item_ids.max()) if len(frame) else 0)
    return frame, report


def _as_ids(ids: pd.Series, name: str) -> pd.Series:
    values = ids.to_numpy()
    if not np.issubdtype(values.dtype, np.number) or (
            np.issubdtype(values.dtype, np.floating) and (values % 1 != 0).any()):
        raise TypeError(f"{name} must hold integers, got dtype {ids.dtype}")
    if len(values) and (values.min() < 0 or values.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{name} must be in [0, 2**31 - 1], got values from "
                         f"{values.min()} to {values.max()}")
    return ids.astype("int32")


def _as_utc(timestamps: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(timestamps):
        return pd.to_datetime(timestamps.astype("int64"), unit="s", utc=True)
    if isinstance(timestamps.dtype, pd.DatetimeTZDtype):
        return timestamps.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(timestamps):
        return timestamps.dt.tz_localize("UTC")
    raise TypeError(f"timestamp must hold Unix seconds or datetimes, got dtype "
                    f"{timestamps.dtype}")


def _older_repeats(frame: pd.DataFrame) -> np.ndarray:
    """Mark every rating of a (user, movie) pair except its most recent one."""
    users = frame["user_id"].to_numpy().astype(np.int64)
    key = (users << 32) | frame["item_id"].to_numpy()
    mark = np.zeros(len(frame), dtype=bool)
    if has_repeats(key):
        ordered = np.sort(key)
        rows = np.flatnonzero(np.isin(key, ordered[1:][ordered[1:] == ordered[:-1]]))
        times = frame["timestamp"].to_numpy()[rows]
        # Sort by pair, then time, then input order; all but each pair's last go.
        order = rows[np.lexsort((rows, times, key[rows]))]
        last = np.r_[key[order][1:] != key[order][:-1], True]
        mark[order[~last]] = True
    return mark


def clean(data: MovieLens) -> tuple[MovieLens, CleaningReport]:
    """Clean a release: :func:`clean_ratings`, then drop unrated catalogue entries.

    Ratings are checked against the release's own scale. Ratings of movies
    missing from the catalogue are removed. So are movies left without any
    rating, and users too where the release lists them.

    Defined in :doc:`/chapters/data`.
    """
    release = RELEASES.get(data.name)
    scale = release.rating_scale if release else (0.5, 5.0, 0.5)
    ratings, report = clean_ratings(data.ratings, rating_scale=scale,
                                    movies=data.movies)
    rated = data.movies.index.isin(dense_codes(ratings["item_id"].to_numpy())[1])
    report.unrated_movies = int((~rated).sum())
    users = data.users
    if users is not None:
        active = users.index.isin(dense_codes(ratings["user_id"].to_numpy())[1])
        report.unrated_users = int((~active).sum())
        users = users[active]
    return dataclasses.replace(data, ratings=ratings, movies=data.movies[rated],
                               users=users), report


_ARTICLES = ("The", "A", "An", "Les", "Le", "La", "L'", "Il", "Lo", "Gli", "I",
             "El", "Los", "Las", "Un", "Une", "Una", "Der", "Die", "Das", "Det",
             "Den", "De", "Het", "O", "Os", "As")
_YEAR = r"\((?P<year>\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\s*\)"


def split_title(titles: pd.Series) -> pd.DataFrame:
    """Split MovieLens titles into a display title, an alternative title and a year.

    ``"City of Lost Children, The (Cité des enfants perdus, La) (1995)"``
    becomes ``"The City of Lost Children"``, ``"La Cité des enfants perdus"``
    and 1995. The rules, which are heuristics for the releases' conventions:

    - A four-digit year in parentheses at the end is the year. A range such
      as ``(2006–2007)`` or ``(2016– )`` gives its first year. Without such a
      group the year is missing, and numbers inside the title stay in it.
    - A parenthesised group that then ends the title, after other text, is an
      alternative (often original-language) title, without any "a.k.a.".
    - A trailing ", The" (or another common article) moves to the front.
    - Surrounding spaces are removed.

    Parameters
    ----------
    titles : Series of str

    Returns
    -------
    DataFrame
        Indexed like `titles`, with ``title`` and ``alt_title`` (str, NaN
        when absent) and ``year`` (Int16, NA when absent).

    Defined in :doc:`/chapters/data`.
    """
    parts = titles.astype("str").str.strip().str.extract(
        rf"^(?P<rest>.*?)\s*(?:{_YEAR})?$")
    named = parts["rest"].str.extract(r"^(?P<title>.*?\S)\s+\((?P<alt>[^()]+)\)$")
    has_alt = named["title"].notna()
    title = parts["rest"].where(~has_alt, named["title"])
    alt = named["alt"].str.replace(r"^(?:a\.k\.a\.|aka)\s+", "", regex=True,
                                   case=False)
    return pd.DataFrame({
        "title": _article_first(title.str.strip()),
        "alt_title": _article_first(alt.str.strip()),
        "year": pd.to_numeric(parts["year"]).astype("Int16"),
    }, index=titles.index)


def _article_first(titles: pd.Series) -> pd.Series:
    """Move a trailing ", The" (or another article) to the front."""
    pattern = rf"^(?P<body>.+), (?P<article>{'|'.join(_ARTICLES)})$"
    found = titles.str.extract(pattern)
    space = np.where(found["article"].str.endswith("'"), "", " ")
    moved = found["article"] + space + found["body"]
    return moved.where(found["body"].notna(), titles)


def genre_matrix(movies: pd.DataFrame) -> pd.DataFrame:
    """Return the multi-hot genre matrix of the movies, one column per genre.

    Parameters
    ----------
    movies : DataFrame
        With a ``genres`` column of tuples, as in :class:`MovieLens`.

    Returns
    -------
    DataFrame of int8, of shape (n_movies, n_genres)
        Indexed like `movies`, columns in alphabetical order. A movie without
        genres has a row of zeros.

    Defined in :doc:`/chapters/data`.
    """
    binarizer = MultiLabelBinarizer()
    flags = binarizer.fit_transform(movies["genres"])
    return pd.DataFrame(flags.astype(np.int8), index=movies.index,
                        columns=pd.Index(binarizer.classes_, name="genre"))


def movie_stats(ratings: pd.DataFrame, movies: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """Return each movie's number of ratings, mean rating and popularity.

    Popularity is the share of users (of those in `ratings`) who rated the
    movie. With `movies`, every catalogue movie gets a row, and a movie
    without ratings gets a count of 0 and a NaN mean.

    Defined in :doc:`/chapters/data`.
    """
    grouped = ratings.groupby("item_id")["rating"]
    stats = pd.DataFrame({"n_ratings": grouped.size(), "mean_rating": grouped.mean()})
    if movies is not None:
        stats = stats.reindex(movies.index)
        stats["n_ratings"] = stats["n_ratings"].fillna(0)
    stats["n_ratings"] = stats["n_ratings"].astype("int64")
    stats["popularity"] = stats["n_ratings"] / max(1, ratings["user_id"].nunique())
    return stats


def user_stats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Return each user's number of ratings, mean rating, and first and last time.

    Defined in :doc:`/chapters/data`.
    """
    grouped = ratings.groupby("user_id")
    return pd.DataFrame({
        "n_ratings": grouped.size(),
        "mean_rating": grouped["rating"].mean(),
        "first": grouped["timestamp"].min(),
        "last": grouped["timestamp"].max(),
    })


def user_demographics(users: pd.DataFrame, *, one_hot: bool = False) -> pd.DataFrame:
    """Return age group, gender and occupation of users, on one scale for all releases.

    ml-100k gives exact ages, ml-1m only age groups; both are mapped to the
    seven ml-1m groups (under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+).

    Parameters
    ----------
    users : DataFrame
        The ``users`` frame of ml-100k or ml-1m.
    one_hot : bool, default False
        Return int8 indicator columns, such as ``gender_F``, instead.

    Defined in :doc:`/chapters/data`.
    """
    if users is None or "age" not in users:
        raise ValueError("users must be the users frame of a release with "
                         "demographics (ml-100k or ml-1m)")
    # ml-1m's age codes are the lower bounds of its groups, so cutting at the
    # codes maps both exact ages and codes to the same groups.
    edges = [-np.inf, *list(AGE_GROUPS_1M)[1:], np.inf]
    group = pd.cut(users["age"], bins=edges, right=False,
                   labels=list(AGE_GROUPS_1M.values()))
    frame = pd.DataFrame({"age_group": group, "gender": users["gender"],
                          "occupation": users["occupation"]}, index=users.index)
    return pd.get_dummies(frame, dtype=np.int8) if one_hot else frame


@dataclass
class KCoreReport:
    """Size of the data after each round of :func:`kcore_filter`.

    ``rounds`` has one row per round (round 0 is the input) with columns
    ``n_users``, ``n_items`` and ``n_rows``; the last row is the k-core.
    """

    rounds: pd.DataFrame

    @property
    def n_rounds(self) -> int:
        """Rounds that removed something."""
        return len(self.rounds) - 1


def kcore_filter(ratings: pd.DataFrame, *, min_user_count: int = 5,
                 min_item_count: int = 5) -> tuple[pd.DataFrame, KCoreReport]:
    """Keep the largest subset where every user and item has enough rows.

    Each round drops the rows of users with fewer than `min_user_count` rows
    and of items with fewer than `min_item_count` rows. Both are counted on
    the rows the previous round kept, and rounds repeat until one drops
    nothing.
    Rows are counted as given, so clean repeated pairs first.

    Parameters
    ----------
    ratings : DataFrame
        With columns ``user_id`` and ``item_id``.
    min_user_count, min_item_count : int, default 5

    Returns
    -------
    ratings : DataFrame
        The kept rows in input order, with a fresh index.
    report : KCoreReport

    Defined in :doc:`/chapters/data`.
    """
    for name, value in (("min_user_count", min_user_count),
                        ("min_item_count", min_item_count)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    users, _ = dense_codes(ratings["user_id"].to_numpy())
    items, _ = dense_codes(ratings["item_id"].to_numpy())
    rows = np.arange(len(ratings))
    history = []
    while True:
        user_counts = np.bincount(users)
        item_counts = np.bincount(items)
        history.append((np.count_nonzero(user_counts), np.count_nonzero(item_counts),
                        len(rows)))
        keep = ((user_counts[users] >= min_user_count)
                & (item_counts[items] >= min_item_count))
        if keep.all():
            break
        rows, users, items = rows[keep], users[keep], items[keep]
    report = KCoreReport(pd.DataFrame(history, columns=["n_users", "n_items", "n_rows"],
                                      index=pd.RangeIndex(len(history), name="round")))
    return ratings.iloc[rows].reset_index(drop=True), report


@dataclass
class TruncatedSVD:
    """The leading singular triplets of a matrix, ``X ~ left @ diag(s) @ right.T``.

    Attributes
    ----------
    left : ndarray of shape (n_rows, k)
    singular_values : ndarray of shape (k,)
        In decreasing order.
    right : ndarray of shape (n_columns, k)
    energy : ndarray of shape (k,)
        Share of the squared Frobenius norm of X that each component captures,
        ``s**2 / ||X||_F**2``; its cumulative sum is the explained-energy curve.
    """

    left: np.ndarray
    singular_values: np.ndarray
    right: np.ndarray
    energy: np.ndarray

    def row_embedding(self) -> np.ndarray:
        """Row coordinates ``left * s``, of shape (n_rows, k)."""
        return self.left * self.singular_values

    def column_embedding(self) -> np.ndarray:
        """Column coordinates ``right * s``, of shape (n_columns, k)."""
        return self.right * self.singular_values


def truncated_svd(matrix, n_components: int, *, center: bool = False,
                  seed: int = 0) -> TruncatedSVD:
    """Compute the leading `n_components` singular triplets, sparse input allowed.

    Uses randomized SVD (Halko, Martinsson and Tropp, SIAM Review 2011) as
    implemented in scikit-learn, so a sparse matrix stays sparse and the cost
    grows with its nonzeros. Signs are fixed so that results repeat.

    Parameters
    ----------
    matrix : sparse matrix or ndarray of shape (n_rows, n_columns)
        For example the user-by-movie interaction matrix, or the movie
        features of :func:`movie_features`.
    n_components : int
        Between 1 and ``min(n_rows, n_columns) - 1``.
    center : bool, default False
        Subtract column means first, which makes this PCA. Dense input only,
        because centring a sparse matrix makes it dense.
    seed : int, default 0

    Returns
    -------
    TruncatedSVD

    Defined in :doc:`/chapters/data`.
    """
    n_rows, n_columns = matrix.shape
    if not 1 <= n_components < min(n_rows, n_columns):
        raise ValueError(f"n_components must be in [1, {min(n_rows, n_columns) - 1}] "
                         f"for a matrix of shape {matrix.shape}, got {n_components}")
    if sp.issparse(matrix):
        if center:
            raise ValueError("center=True would make the sparse matrix dense; "
                             "pass a dense array or center=False")
        matrix = sp.csr_matrix(matrix, dtype=np.float64)
        total = float(matrix.multiply(matrix).sum())
    else:
        matrix = np.asarray(matrix, dtype=np.float64)
        if center:
            matrix = matrix - matrix.mean(axis=0)
        total = float(np.square(matrix).sum())
    # NOTE: one BLAS thread. The dense steps work on (n, k) blocks that gain
    # little from threads, and on a busy 2-core machine waiting threads made
    # this call 30 times slower (ml-100k, k=100: 4 s instead of 0.1 s).
    with threadpool_limits(limits=1, user_api="blas"):
        left, s, right_t = randomized_svd(matrix, n_components, random_state=seed)
    return TruncatedSVD(left, s, right_t.T, s**2 / total if total else np.zeros_like(s))


def movie_features(movies: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """Return a movie-by-feature matrix: genres, year, log count and mean rating.

    Genres are 0/1; year, ``log(1 + n_ratings)`` and the mean rating are
    standardised to mean 0 and variance 1, with a missing year or mean set to
    the mean (0). Movies without ratings get a count of 0.

    Defined in :doc:`/chapters/data`.
    """
    stats = movie_stats(ratings, movies)
    numeric = pd.DataFrame({
        "year": split_title(movies["title"])["year"].astype("float64"),
        "log_n_ratings": np.log1p(stats["n_ratings"].astype("float64")),
        "mean_rating": stats["mean_rating"].astype("float64"),
    }, index=movies.index)
    spread = numeric.std().replace(0, 1)
    numeric = ((numeric - numeric.mean()) / spread).fillna(0.0)
    return pd.concat([genre_matrix(movies).astype("float64"), numeric], axis=1)
