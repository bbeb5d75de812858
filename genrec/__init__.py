"""genrec: the package behind the book on recommending with generative models.

Chapters import it as ``import genrec``; the names below are its public API.
"""

from . import plot, preprocess, significance, split, toy, tuning
from .datasets import (
    RELEASES,
    ChecksumError,
    MalformedFileError,
    MovieLens,
    data_home,
    fetch,
    load_movielens,
    read_release,
)
from .diffrec import DiffRecSplit, load_diffrec_split
from .interactions import Interactions, to_implicit
from .metrics import METRICS, Evaluation, beyond_accuracy, evaluate, f1_of_means, top_k
from .models import EASE, ItemKNN, MultDAE, MultVAE, Popularity, PureSVD, VAEConfig
from .preprocess import (
    clean,
    clean_ratings,
    genre_matrix,
    kcore_filter,
    movie_features,
    movie_stats,
    split_title,
    truncated_svd,
    user_demographics,
    user_stats,
)
from .recommend import Recommender, ask_in_terminal, recommendation_loop
from .split import (
    HeldOut,
    HoldoutSplit,
    StrongSplit,
    global_temporal_split,
    leave_last_out_split,
    random_holdout_split,
    strong_generalization_split,
    temporal_holdout_split,
)
from .significance import compare, comparison_table, paired_bootstrap, paired_test, seed_summary
from .train import History, train
from .tuning import grid_search
from .utils import get_device, set_seed

__version__ = "0.1.0"

__all__ = [
    "EASE", "ItemKNN", "METRICS", "PureSVD", "beyond_accuracy", "compare",
    "comparison_table", "f1_of_means", "grid_search", "paired_bootstrap", "paired_test",
    "seed_summary", "significance", "toy", "tuning",
    "RELEASES", "ChecksumError", "DiffRecSplit", "Evaluation", "HeldOut", "History",
    "HoldoutSplit", "Interactions", "MalformedFileError", "MovieLens", "MultDAE",
    "MultVAE", "Popularity", "Recommender", "StrongSplit", "VAEConfig",
    "ask_in_terminal", "clean", "clean_ratings", "data_home", "evaluate", "fetch",
    "genre_matrix", "get_device", "global_temporal_split", "kcore_filter",
    "leave_last_out_split", "load_diffrec_split", "load_movielens", "movie_features",
    "movie_stats", "plot", "preprocess", "random_holdout_split", "read_release",
    "recommendation_loop", "set_seed", "split", "split_title",
    "strong_generalization_split", "temporal_holdout_split", "to_implicit", "top_k",
    "train", "truncated_svd", "user_demographics", "user_stats",
]
