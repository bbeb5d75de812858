"""Recommenders that share one scoring call.

Every model has ``score(x)``: it maps a batch of user history rows, a
``scipy.sparse`` matrix (or array) of shape (batch, n_items), to a NumPy array
of item scores of the same shape, higher meaning more likely to be liked. A
user need not have been seen in training. Trainable torch models also have
``loss(x, step)``, which :func:`genrec.train` calls; closed-form baselines
have ``fit(X)``.
"""

from .baselines import EASE, ItemKNN, Popularity, PureSVD
from .vae import MultDAE, MultVAE, VAEConfig

__all__ = ["EASE", "ItemKNN", "MultDAE", "MultVAE", "Popularity", "PureSVD", "VAEConfig"]
