"""genrec: the package behind the book on recommending with generative models.

Chapters import it as ``import genrec``; the names below are its public API.
"""

from . import plot
from .diffrec import DiffRecSplit, load_diffrec_split
from .datasets import RELEASES, ChecksumError, MovieLens, data_home, fetch, load_movielens
from .interactions import Interactions, to_implicit
from .metrics import Evaluation, evaluate, top_k
from .models import MultDAE, MultVAE, Popularity, VAEConfig
from .recommend import Recommender, ask_in_terminal, recommendation_loop
from .split import HeldOut, StrongSplit, strong_generalization_split
from .train import History, train
from .utils import get_device, set_seed

__version__ = "0.1.0"

__all__ = [
    "RELEASES", "ChecksumError", "Evaluation", "HeldOut", "History", "Interactions",
    "MovieLens", "MultDAE", "MultVAE", "Popularity", "Recommender", "StrongSplit",
    "VAEConfig", "DiffRecSplit", "ask_in_terminal", "recommendation_loop", "load_diffrec_split", "data_home", "evaluate", "fetch", "get_device", "load_movielens",
    "plot", "set_seed", "strong_generalization_split", "to_implicit", "top_k", "train",
]
