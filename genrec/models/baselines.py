"""Non-generative baselines behind the same ``score(x)`` call as the models."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..utils import as_csr


class Popularity:
    """Score every item by how many training users interacted with it.

    Every user gets the same ranking, apart from the items they already know.
    """

    def fit(self, X: sp.spmatrix) -> "Popularity":
        """Count each item's interactions in `X` of shape (n_users, n_items)."""
        X = as_csr(X)
        self.item_counts_ = np.asarray((X > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, x) -> np.ndarray:
        """Return the item counts, repeated for each row of `x`."""
        if not hasattr(self, "item_counts_"):
            raise RuntimeError("Popularity is not fitted; call fit(X) first")
        x = as_csr(x)
        _check_width(x, len(self.item_counts_))
        return np.broadcast_to(self.item_counts_, x.shape).copy()


def _check_width(x: sp.spmatrix, n_items: int) -> None:
    if x.shape[1] != n_items:
        raise ValueError(
            f"x has {x.shape[1]} item columns but the model was fitted on {n_items}; "
            "build the rows with the item index the model was trained on"
        )
