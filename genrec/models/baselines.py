"""Non-generative baselines behind the same ``score(x)`` call as the models.

Each baseline learns an item-by-item or item-by-factor matrix from the
training rows in ``fit(X)`` and scores any user from their history row alone,
so held-out users need no refitting. None of them builds a dense
users-by-items matrix of the training data: they work from the sparse matrix
and its item-by-item Gram matrix ``X.T @ X``.

- :class:`Popularity`: item counts, the same ranking for everyone.
- :class:`ItemKNN`: item-based nearest neighbours with shrunk cosine
  similarity (Sarwar et al., "Item-based collaborative filtering
  recommendation algorithms", WWW 2001).
- :class:`EASE`: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse
  Data", WWW 2019, in closed form.
- :class:`PureSVD`: P. Cremonesi, Y. Koren and R. Turrin, "Performance of
  recommender algorithms on top-N recommendation tasks", RecSys 2010.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from ..metrics import top_k
from ..utils import as_csr


def _check_width(x: sp.spmatrix, n_items: int) -> None:
    if x.shape[1] != n_items:
        raise ValueError(
            f"x has {x.shape[1]} item columns but the model was fitted on {n_items}; "
            "build the rows with the item index the model was trained on"
        )


def _check_fitted(model, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise RuntimeError(f"{type(model).__name__} is not fitted; call fit(X) first")


def _gram(X: sp.csr_matrix) -> np.ndarray:
    """Return the dense item-by-item co-occurrence matrix X.T @ X in float64."""
    return (X.T @ X).toarray().astype(np.float64)


class Popularity:
    """Score every item by how many training users interacted with it.

    Every user gets the same ranking, apart from the items they already know.

    Defined in :doc:`/chapters/evaluation`.
    """

    def fit(self, X: sp.spmatrix) -> "Popularity":
        """Count each item's interactions in `X` of shape (n_users, n_items)."""
        X = as_csr(X)
        self.item_counts_ = np.asarray((X > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def score(self, x) -> np.ndarray:
        """Return the item counts, repeated for each row of `x`."""
        _check_fitted(self, "item_counts_")
        x = as_csr(x)
        _check_width(x, len(self.item_counts_))
        return np.broadcast_to(self.item_counts_, x.shape).copy()


class ItemKNN:
    """Item-based k-nearest neighbours with shrunk cosine similarity.

    The similarity of items i and j is ``c_ij / (|x_i| |x_j| + shrink)``,
    where c_ij counts the users who interacted with both and |x_i| is the
    norm of item i's column. For each item j only its `n_neighbors` most
    similar items keep a weight. A user's score for j is the sum of the
    weights from j's neighbours that the user has interacted with.

    Parameters
    ----------
    n_neighbors : int, default 100
        Neighbours kept per item.
    shrink : float, default 0.0
        Added to the denominator; pulls down similarities that rest on few
        co-occurrences.
    batch_size : int, default 1024
        Items whose neighbours are selected at once; bounds fit's memory.

    Defined in :doc:`/chapters/evaluation`.
    """

    def __init__(self, *, n_neighbors: int = 100, shrink: float = 0.0,
                 batch_size: int = 1024):
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
        if shrink < 0:
            raise ValueError(f"shrink must be >= 0, got {shrink}")
        self.n_neighbors, self.shrink, self.batch_size = n_neighbors, shrink, batch_size

    def fit(self, X: sp.spmatrix) -> "ItemKNN":
        """Compute the pruned similarity matrix from `X` of shape (n_users, n_items)."""
        X = as_csr(X)
        gram = _gram(X)
        norms = np.sqrt(np.diag(gram))
        denominator = np.outer(norms, norms) + self.shrink
        similarity = np.divide(gram, denominator, out=np.zeros_like(gram),
                               where=denominator > 0)
        np.fill_diagonal(similarity, 0.0)

        # Column j contains the weights into item j. Keep its n_neighbors
        # largest, ties broken by the lower item index as in top_k.
        n_items = X.shape[1]
        n_keep = min(self.n_neighbors, n_items)
        rows, cols, values = [], [], []
        for start in range(0, n_items, self.batch_size):
            block = similarity[:, start:start + self.batch_size].T  # (block, n_items)
            neighbors = top_k(block, n_keep)
            rows.append(neighbors.ravel())
            cols.append(np.repeat(np.arange(start, start + len(block)), n_keep))
            values.append(np.take_along_axis(block, neighbors, axis=1).ravel())
        weights = sp.csr_matrix(
            (np.concatenate(values).astype(np.float32),
             (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items))
        weights.eliminate_zeros()  # items that never co-occur are not neighbours
        self.similarity_ = weights
        return self

    def score(self, x) -> np.ndarray:
        """Return ``x @ similarity`` for user rows `x` of shape (batch, n_items)."""
        _check_fitted(self, "similarity_")
        x = as_csr(x)
        _check_width(x, self.similarity_.shape[0])
        return (x @ self.similarity_).toarray()


class EASE:
    """EASE: a linear item-to-item model with a zero diagonal, fit in closed form.

    With G = X.T X + l2 I and P = G^-1, the weights are B_ij = -P_ij / P_jj
    and B_jj = 0, which minimise ``|X - X B|^2 + l2 |B|^2`` under the
    zero-diagonal constraint. Fitting inverts one dense n_items x n_items
    matrix (through its Cholesky factor).

    Parameters
    ----------
    l2 : float, default 500.0
        L2 weight on B. Larger values shrink B towards 0 and help on small
        data sets.

    Defined in :doc:`/chapters/evaluation`.
    """

    def __init__(self, *, l2: float = 500.0):
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0 for the Gram matrix to be invertible, got {l2}")
        self.l2 = l2

    def fit(self, X: sp.spmatrix) -> "EASE":
        """Compute the weights B from `X` of shape (n_users, n_items)."""
        X = as_csr(X)
        gram = _gram(X)
        gram[np.diag_indices_from(gram)] += self.l2
        # G is symmetric positive definite, so Cholesky is the stable inverse.
        factor = scipy.linalg.cho_factor(gram, overwrite_a=True)
        inverse = scipy.linalg.cho_solve(factor, np.eye(len(gram)), overwrite_b=True)
        weights = inverse / -np.diag(inverse)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)
        return self

    def score(self, x) -> np.ndarray:
        """Return ``x @ B`` for user rows `x` of shape (batch, n_items)."""
        _check_fitted(self, "weights_")
        x = as_csr(x)
        _check_width(x, self.weights_.shape[0])
        return np.asarray(x @ self.weights_)


class PureSVD:
    """PureSVD: project a user's row onto the top singular vectors of X.

    A truncated SVD X ~ U S V^T with `n_components` factors is computed by
    randomized SVD on the sparse matrix. A user's scores are ``x V V^T``: the
    history row mapped into the factor space and back.

    Parameters
    ----------
    n_components : int, default 50
        Number of singular vectors kept.
    n_iter : int, default 7
        Power iterations of the randomized SVD; more is slower and more exact.
    seed : int, default 0
        Seed of the random projection.

    Defined in :doc:`/chapters/evaluation`.
    """

    def __init__(self, *, n_components: int = 50, n_iter: int = 7, seed: int = 0):
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        self.n_components, self.n_iter, self.seed = n_components, n_iter, seed

    def fit(self, X: sp.spmatrix) -> "PureSVD":
        """Compute the item factors V from `X` of shape (n_users, n_items)."""
        X = as_csr(X)
        if self.n_components >= min(X.shape):
            raise ValueError(f"n_components={self.n_components} must be smaller than "
                             f"both dimensions of X, {X.shape}")
        _, singular_values, vt = randomized_svd(X, self.n_components, n_iter=self.n_iter,
                                                random_state=self.seed)
        self.singular_values_ = singular_values
        self.components_ = vt.astype(np.float32)  # (n_components, n_items)
        return self

    def score(self, x) -> np.ndarray:
        """Return ``x V V^T`` for user rows `x` of shape (batch, n_items)."""
        _check_fitted(self, "components_")
        x = as_csr(x)
        _check_width(x, self.components_.shape[1])
        return np.asarray((x @ self.components_.T) @ self.components_)
