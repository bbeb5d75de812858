"""Tests of the closed-form baselines and of grid search on validation users."""

import numpy as np
import pytest
import scipy.sparse as sp

from genrec.models.baselines import EASE, ItemKNN, Popularity, PureSVD
from genrec.tuning import grid_search


def disjoint(fold_in, target):
    """Drop from `target` the interactions that are also in `fold_in`."""
    target = target - target.multiply(fold_in)
    target.eliminate_zeros()
    return target


@pytest.fixture(scope="module")
def X():
    """Seeded 30 users x 8 items binary matrix, about 40% dense."""
    rng = np.random.default_rng(0)
    return sp.csr_matrix((rng.random((30, 8)) < 0.4).astype(np.float32))


MODELS = [Popularity, lambda: ItemKNN(n_neighbors=3, shrink=1.0), lambda: EASE(l2=2.0),
          lambda: PureSVD(n_components=3)]
IDS = ["popularity", "itemknn", "ease", "puresvd"]


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_score_shape_and_dtype(make, X):
    scores = make().fit(X).score(X[:5])
    assert scores.shape == (5, 8)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_score_accepts_dense_and_new_users(make, X):
    model = make().fit(X)
    new_user = np.zeros((1, 8), dtype=np.float32)
    new_user[0, [1, 4]] = 1.0
    assert model.score(new_user) == pytest.approx(model.score(sp.csr_matrix(new_user)))


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_score_before_fit_raises(make, X):
    with pytest.raises(RuntimeError, match="not fitted"):
        make().score(X[:1])


@pytest.mark.parametrize("make", MODELS, ids=IDS)
def test_score_rejects_other_width(make, X):
    with pytest.raises(ValueError, match="fitted on 8"):
        make().fit(X).score(sp.csr_matrix((1, 7)))


def test_popularity_counts_users():
    X = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]], dtype=np.float32))
    assert Popularity().fit(X).score(X[:1]).tolist() == [[2.0, 0.0, 1.0]]


# ---------------------------------------------------------------- EASE

def test_ease_matches_column_by_column_ridge(X):
    # Each column j of B is the ridge regression of item j on the other
    # items, with penalty l2; solve it directly as a reference.
    l2 = 3.0
    dense = X.toarray().astype(np.float64)
    expected = np.zeros((8, 8))
    for j in range(8):
        others = [i for i in range(8) if i != j]
        A = dense[:, others]
        expected[others, j] = np.linalg.solve(A.T @ A + l2 * np.eye(7), A.T @ dense[:, j])
    model = EASE(l2=l2).fit(X)
    assert model.weights_ == pytest.approx(expected.astype(np.float32), abs=1e-5)
    assert np.diag(model.weights_).tolist() == [0.0] * 8


def test_ease_large_l2_shrinks_weights(X):
    small = np.abs(EASE(l2=1.0).fit(X).weights_).max()
    large = np.abs(EASE(l2=1e4).fit(X).weights_).max()
    assert large < small / 100


@pytest.mark.parametrize("l2", [0.0, -1.0])
def test_ease_rejects_nonpositive_l2(l2):
    with pytest.raises(ValueError, match="l2 must be > 0"):
        EASE(l2=l2)


# ---------------------------------------------------------------- ItemKNN

def reference_itemknn(dense, n_neighbors, shrink):
    """Plain loops: shrunk cosine, keep each column's n best (ties: lower index)."""
    n_items = dense.shape[1]
    norms = np.sqrt((dense ** 2).sum(0))
    weights = np.zeros((n_items, n_items))
    for j in range(n_items):
        sims = []
        for i in range(n_items):
            if i == j:
                continue
            denominator = norms[i] * norms[j] + shrink
            sim = dense[:, i] @ dense[:, j] / denominator if denominator > 0 else 0.0
            sims.append((-sim, i))
        for negative_sim, i in sorted(sims)[:n_neighbors]:
            weights[i, j] = -negative_sim
    return weights


@pytest.mark.parametrize("n_neighbors, shrink", [(1, 0.0), (3, 0.0), (3, 5.0), (20, 1.0)])
def test_itemknn_matches_reference(X, n_neighbors, shrink):
    model = ItemKNN(n_neighbors=n_neighbors, shrink=shrink, batch_size=3).fit(X)
    expected = reference_itemknn(X.toarray().astype(np.float64), n_neighbors, shrink)
    assert model.similarity_.toarray() == pytest.approx(expected, abs=1e-6)


def test_itemknn_hand_computed():
    # Items 0 and 1 co-occur for 1 user; |x_0| = sqrt(2), |x_1| = 1.
    # sim = 1 / (sqrt(2) * 1 + shrink); with shrink 1: 1 / 2.4142...
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1]], dtype=np.float32))
    model = ItemKNN(n_neighbors=2, shrink=1.0).fit(X)
    assert model.similarity_[0, 1] == pytest.approx(1 / (np.sqrt(2) + 1))
    # Items 1 and 2 never co-occur, so neither is a neighbour of the other.
    assert model.similarity_[1, 2] == 0
    assert model.similarity_[2, 1] == 0
    # A user who saw item 1 scores item 0 by sim(1, 0).
    user = sp.csr_matrix(np.array([[0, 1, 0]], dtype=np.float32))
    assert model.score(user)[0, 0] == pytest.approx(1 / (np.sqrt(2) + 1))


def test_itemknn_handles_items_without_interactions():
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32))
    scores = ItemKNN(n_neighbors=2).fit(X).score(X)
    assert np.isfinite(scores).all()
    assert (scores[:, 2] == 0).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"n_neighbors": 0}, "n_neighbors must be >= 1"),
    ({"shrink": -1.0}, "shrink must be >= 0"),
])
def test_itemknn_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ItemKNN(**kwargs)


# ---------------------------------------------------------------- PureSVD

def test_puresvd_matches_exact_svd(X):
    dense = X.toarray().astype(np.float64)
    _, _, vt = np.linalg.svd(dense, full_matrices=False)
    projection = vt[:3].T @ vt[:3]  # V V^T: unaffected by the signs of V
    model = PureSVD(n_components=3, n_iter=20).fit(X)
    assert model.score(X) == pytest.approx((dense @ projection).astype(np.float32), abs=1e-4)


def test_puresvd_same_seed_same_scores(X):
    a = PureSVD(n_components=3, seed=1).fit(X).score(X)
    b = PureSVD(n_components=3, seed=1).fit(X).score(X)
    assert (a == b).all()


@pytest.mark.parametrize("n_components, match", [(0, "n_components must be >= 1"),
                                                 (8, "must be smaller")])
def test_puresvd_rejects_bad_rank(X, n_components, match):
    with pytest.raises(ValueError, match=match):
        PureSVD(n_components=n_components).fit(X)


# ---------------------------------------------------------------- grid search

def test_grid_search_picks_best_validation_point(X):
    fold_in, target = X[:10], disjoint(X[:10], X[10:20])
    search = grid_search(lambda l2: EASE(l2=l2), {"l2": [0.1, 10.0, 1000.0]},
                         X[20:], fold_in, target, metric="ndcg@3")
    assert search.results["l2"].tolist() == [0.1, 10.0, 1000.0]
    best = search.results["ndcg@3"].idxmax()
    assert search.best_params == {"l2": search.results.loc[best, "l2"]}
    assert search.best_model.l2 == search.best_params["l2"]
    assert search.grid == {"l2": [0.1, 10.0, 1000.0]}


def test_grid_search_covers_the_product(X):
    search = grid_search(ItemKNN, {"n_neighbors": [1, 2], "shrink": [0.0, 1.0, 2.0]},
                         X, X[:5], disjoint(X[:5], X[5:10]), metric="recall@2")
    assert len(search.results) == 6


@pytest.mark.parametrize("grid, metric, match", [
    ({"l2": [1.0]}, "ndcg", "must look like"),
    ({}, "ndcg@3", "at least one value"),
    ({"l2": []}, "ndcg@3", "at least one value"),
])
def test_grid_search_rejects_bad_input(X, grid, metric, match):
    with pytest.raises(ValueError, match=match):
        grid_search(EASE, grid, X, X[:5], disjoint(X[:5], X[5:10]), metric=metric)
