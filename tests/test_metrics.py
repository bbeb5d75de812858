"""Tests of genrec.metrics: ranking, each metric by hand, and the evaluator."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genrec.metrics import (METRICS, Evaluation, average_popularity, beyond_accuracy,
                            coverage, evaluate, exposure_gini, f1_of_means,
                            intra_list_diversity, novelty, top_k)


def rows(*lists, n_items=6):
    """CSR matrix with a 1 at each listed item of each row."""
    indptr = np.cumsum([0] + [len(items) for items in lists])
    indices = np.concatenate([np.asarray(items, dtype=np.int64) for items in lists])
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(lists), n_items))


class FixedScores:
    """Model whose scores are a fixed matrix, one row per evaluated user in order."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)
        self.offset = 0

    def score(self, x):
        batch = self.scores[self.offset:self.offset + x.shape[0]]
        self.offset += x.shape[0]
        return batch


# ---------------------------------------------------------------- top_k

def test_top_k_orders_by_score_then_lower_index():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.0]])
    # 0.9 ties between items 1 and 3: the lower index comes first.
    assert top_k(scores, 5).tolist() == [[1, 3, 2, 0, 4]]


def test_top_k_constant_scores_give_index_order():
    assert top_k(np.zeros((2, 5)), 3).tolist() == [[0, 1, 2], [0, 1, 2]]


def test_top_k_negative_zero_ties_with_zero():
    scores = np.array([[-0.0, 0.0, -1.0]], dtype=np.float32)
    assert top_k(scores, 3).tolist() == [[0, 1, 2]]


def test_top_k_handles_infinities_and_negatives():
    scores = np.array([[-np.inf, -2.0, np.inf, -1e-30, 3.0]])
    assert top_k(scores, 5).tolist() == [[2, 4, 3, 1, 0]]


def test_top_k_excluded_items_come_last():
    scores = np.array([[5.0, 4.0, 3.0, 2.0]])
    exclude = rows([0, 2], n_items=4)
    assert top_k(scores, 4, exclude=exclude).tolist() == [[1, 3, 0, 2]]


def test_top_k_caps_k_at_n_items():
    assert top_k(np.array([[1.0, 2.0]]), 10).tolist() == [[1, 0]]


@pytest.mark.parametrize("scores, k, match", [
    (np.zeros(3), 1, "2-D"),
    (np.array([[np.nan, 1.0]]), 1, "NaN"),
    (np.zeros((1, 3)), 0, "k must be >= 1"),
])
def test_top_k_rejects_bad_input(scores, k, match):
    with pytest.raises(ValueError, match=match):
        top_k(scores, k)


def test_top_k_rejects_exclude_of_other_shape():
    with pytest.raises(ValueError, match="exclude has shape"):
        top_k(np.zeros((2, 3)), 1, exclude=rows([0], n_items=3))


# ---------------------------------------------------------------- metrics by hand

def metric(name, hits, n_targets, k):
    return METRICS[name](np.asarray(hits, dtype=bool), np.asarray(n_targets), k)


# One user, list of 5 with hits at ranks 1 and 3 (1-based), 4 targets in all.
HITS = [[True, False, True, False, False]]


@pytest.mark.parametrize("name, k, expected", [
    ("precision", 5, 2 / 5),
    ("precision", 2, 1 / 2),
    ("recall", 5, 2 / 4),
    ("recall", 2, 1 / 4),
    # min(k, 4) = 2 at k = 2, 4 at k = 5.
    ("truncated_recall", 2, 1 / 2),
    ("truncated_recall", 5, 2 / 4),
    # F1@5 = 2 * 0.4 * 0.5 / 0.9 = 0.4444...
    ("f1", 5, 2 * 0.4 * 0.5 / 0.9),
    ("hit_rate", 5, 1.0),
    ("hit_rate", 1, 1.0),
    ("mrr", 5, 1.0),
    # AP@5 = (P@1 + P@3) / min(5, 4) = (1 + 2/3) / 4.
    ("map", 5, (1 + 2 / 3) / 4),
    # AP@2 = P@1 / min(2, 4) = 1 / 2.
    ("map", 2, 1 / 2),
    # DCG@5 = 1/log2(2) + 1/log2(4) = 1.5; IDCG over 4 hits = 1 + 1/log2(3)
    # + 1/2 + 1/log2(5).
    ("ndcg", 5, 1.5 / (1 + 1 / math.log2(3) + 0.5 + 1 / math.log2(5))),
])
def test_metric_hand_computed(name, k, expected):
    assert metric(name, HITS, [4], k) == pytest.approx([expected])


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_no_hits_is_zero(name):
    assert metric(name, [[False, False, False]], [2], 3) == pytest.approx([0.0])


@pytest.mark.parametrize("name, expected", [
    # Three hits in a list of three, three targets: every metric is 1.
    ("precision", 1.0), ("recall", 1.0), ("truncated_recall", 1.0), ("f1", 1.0),
    ("hit_rate", 1.0), ("mrr", 1.0), ("map", 1.0), ("ndcg", 1.0),
])
def test_metric_all_hits_is_one(name, expected):
    assert metric(name, [[True, True, True]], [3], 3) == pytest.approx([expected])


@pytest.mark.parametrize("name, expected", [
    # One target, found at rank 2 of 3.
    ("precision", 1 / 3),
    ("recall", 1.0),
    ("truncated_recall", 1.0),
    ("f1", 2 * (1 / 3) * 1 / (1 / 3 + 1)),  # = 0.5
    ("hit_rate", 1.0),
    ("mrr", 1 / 2),
    ("map", (1 / 2) / 1),
    ("ndcg", 1 / math.log2(3)),  # IDCG over min(3, 1) = 1 position is 1
])
def test_metric_fewer_targets_than_k(name, expected):
    assert metric(name, [[False, True, False]], [1], 3) == pytest.approx([expected])


def test_recall_variants_differ_with_many_targets():
    # Two hits in the top 2 and 10 targets: plain recall 2/10, truncated 2/2.
    hits, n_targets = [[True, True, False]], [10]
    assert metric("recall", hits, n_targets, 2) == pytest.approx([0.2])
    assert metric("truncated_recall", hits, n_targets, 2) == pytest.approx([1.0])


def test_mrr_uses_first_hit_only():
    # First hit at rank 3: 1/3, whatever follows.
    assert metric("mrr", [[False, False, True, True]], [2], 4) == pytest.approx([1 / 3])


def test_f1_of_means_differs_from_mean_f1():
    # Catalogue of 4, every user sees the list [0, 1] at k = 2.
    # User 0 has targets {0, 1}: P = 1, R = 1, F1 = 1.
    # User 1 has targets {0, 2, 3}: one hit, P = 1/2, R = 1/3,
    # F1 = 2 * (1/6) / (5/6) = 0.4.
    model = FixedScores([[4, 3, 2, 1], [4, 3, 2, 1]])
    ev = evaluate(model, sp.csr_matrix((2, 4)), rows([0, 1], [0, 2, 3], n_items=4),
                  k=[2], metrics=["precision", "recall", "f1"])
    assert ev["f1@2"] == pytest.approx((1.0 + 0.4) / 2)
    # Mean P = 0.75 and mean R = 2/3 give 2 * 0.5 / (0.75 + 2/3) = 0.70588...
    assert f1_of_means(ev, 2) == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))


def test_f1_of_means_needs_precision_and_recall():
    ev = Evaluation({"ndcg@2": np.array([1.0])}, np.array([0]))
    with pytest.raises(ValueError, match="precision@2"):
        f1_of_means(ev, 2)


# ---------------------------------------------------------------- reference check

def reference_ranking(scores, excluded):
    """Items sorted best first: by score (excluded as -inf), then by index."""
    keyed = [(-(-math.inf if i in excluded else float(s)), i) for i, s in enumerate(scores)]
    return [i for _, i in sorted(keyed)]


def reference_metrics(ranking, targets, k):
    """Every metric for one user, from plain Python sets and loops."""
    top = ranking[:k]
    hits = [item in targets for item in top]
    n, n_hits = len(targets), sum(hits)
    p, r = n_hits / len(top), n_hits / n
    ap = sum(sum(hits[:i + 1]) / (i + 1) for i in range(len(top)) if hits[i])
    dcg = sum(1 / math.log2(i + 2) for i in range(len(top)) if hits[i])
    idcg = sum(1 / math.log2(i + 2) for i in range(min(k, n)))
    first = next((i for i, h in enumerate(hits) if h), None)
    return {
        "precision": p, "recall": r, "truncated_recall": n_hits / min(k, n),
        "f1": 2 * p * r / (p + r) if n_hits else 0.0,
        "hit_rate": float(n_hits > 0), "mrr": 0.0 if first is None else 1 / (first + 1),
        "map": ap / min(k, n), "ndcg": dcg / idcg,
    }


@st.composite
def evaluation_case(draw):
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(2, 9))
    # Few distinct values, so ties are common.
    scores = draw(arrays(np.float32, (n_users, n_items),
                         elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])))
    roles = draw(arrays(np.int8, (n_users, n_items), elements=st.sampled_from([0, 1, 2])))
    k = draw(st.integers(1, n_items + 2))
    return scores, roles, k  # role 1: fold-in item, role 2: target


@settings(max_examples=150, deadline=None)
@given(evaluation_case())
def test_evaluate_matches_reference(case):
    scores, roles, k = case
    fold_in = sp.csr_matrix((roles == 1).astype(np.float32))
    target = sp.csr_matrix((roles == 2).astype(np.float32))
    ev = evaluate(FixedScores(scores[(roles == 2).any(1)]), fold_in, target,
                  k=[k], metrics=list(METRICS), batch_size=2)

    users = [u for u in range(len(roles)) if (roles[u] == 2).any()]
    assert ev.user_index.tolist() == users
    assert ev.n_skipped == len(roles) - len(users)
    for position, u in enumerate(users):
        ranking = reference_ranking(scores[u], set(np.flatnonzero(roles[u] == 1)))
        expected = reference_metrics(ranking, set(np.flatnonzero(roles[u] == 2)), k)
        assert ev.top[position].tolist() == ranking[:k]
        for name, value in expected.items():
            assert ev.per_user[f"{name}@{k}"][position] == pytest.approx(value), name


@settings(max_examples=100, deadline=None)
@given(arrays(np.float32, (3, 7), elements=st.floats(-3, 3, width=32)),
       st.integers(1, 7), st.integers(1, 7))
def test_top_k_lists_are_nested(scores, k_small, k_large):
    k_small, k_large = sorted((k_small, k_large))
    assert (top_k(scores, k_large)[:, :k_small] == top_k(scores, k_small)).all()


@settings(max_examples=100, deadline=None)
@given(arrays(np.float32, (4, 8), elements=st.floats(-3, 3, width=32)),
       arrays(np.bool_, (4, 8)), st.integers(1, 8))
def test_training_items_never_reach_top_k(scores, known, k):
    # Give known items the best scores, so a leak would put them first.
    scores = np.where(known, 10.0, scores)
    top = top_k(scores, k, exclude=sp.csr_matrix(known))
    n_allowed = (~known).sum(1)
    for u in range(len(top)):
        allowed_part = top[u, :min(k, n_allowed[u])]
        assert not known[u, allowed_part].any()


# ---------------------------------------------------------------- evaluator

class SpyModel:
    """Records every batch it is asked to score; scores by a fixed vector."""

    def __init__(self, n_items):
        self.inputs = []
        self.n_items = n_items

    def score(self, x):
        self.inputs.append(sp.csr_matrix(x).copy())
        return np.tile(np.arange(self.n_items, dtype=np.float32)[::-1], (x.shape[0], 1))


@pytest.fixture
def held_out():
    # 4 users, 6 items. User 2 has no targets and must be skipped.
    fold_in = rows([0, 1], [2], [3, 4], [5], n_items=6)
    target = rows([2, 3], [0, 4, 5], [], [1], n_items=6)
    return fold_in, target


def test_evaluator_never_feeds_targets(held_out):
    fold_in, target = held_out
    spy = SpyModel(6)
    evaluate(spy, fold_in, target, k=[3], batch_size=2)
    seen = sp.vstack(spy.inputs).toarray()
    users = [0, 1, 3]
    assert (seen == fold_in[users].toarray()).all()
    assert not (seen * target[users].toarray()).any()


def test_evaluator_gives_exclusion_not_input(held_out):
    # Train/valid/test style: the model reads the training rows, and the test
    # ranking also excludes validation items, which are not in its input.
    fold_in, target = held_out
    valid = rows([5], [1], [0], [0], n_items=6)
    spy = SpyModel(6)
    ev = evaluate(spy, fold_in, target, k=[6], exclude=(fold_in + valid),
                  metrics=["recall"])
    assert not (sp.vstack(spy.inputs).toarray() * valid[[0, 1, 3]].toarray()).any()
    # Scores favour low indices. User 0 excludes {0, 1, 5}: list 2, 3, 4, then 0, 1, 5.
    assert ev.top[0].tolist() == [2, 3, 4, 0, 1, 5]


def test_evaluator_skips_users_without_targets(held_out):
    fold_in, target = held_out
    ev = evaluate(SpyModel(6), fold_in, target, k=[2], metrics=["hit_rate"])
    assert ev.n_skipped == 1
    assert ev.user_index.tolist() == [0, 1, 3]
    # Lists (scores favour low indices): user 0 -> [2, 3] (2 hits), user 1 ->
    # [0, 1] (hit 0), user 3 -> [0, 1] (hit 1).
    assert ev.per_user["hit_rate@2"].tolist() == [1.0, 1.0, 1.0]


def test_evaluator_constant_model_gets_index_order(held_out):
    fold_in, target = held_out
    ev = evaluate(lambda x: np.zeros((x.shape[0], 6)), fold_in, target, k=[2],
                  metrics=["recall"])
    # Same lists as the spy: user 0 [2, 3] -> 2/2, user 1 [0, 1] -> 1/3,
    # user 3 [0, 1] -> 1/1.
    assert ev.per_user["recall@2"] == pytest.approx([1.0, 1 / 3, 1.0])


def test_evaluator_batches_do_not_change_results(held_out):
    fold_in, target = held_out
    model = SpyModel(6)
    one = evaluate(model, fold_in, target, k=[1, 3], metrics=list(METRICS), batch_size=1)
    all_ = evaluate(model, fold_in, target, k=[1, 3], metrics=list(METRICS))
    for name in one.per_user:
        assert one.per_user[name] == pytest.approx(all_.per_user[name])


def test_evaluator_warns_when_targets_are_in_input(held_out):
    fold_in, target = held_out
    leaky_input = fold_in + rows([2], [0], [], [], n_items=6)  # two targets added
    with pytest.warns(UserWarning, match="2 target interactions are also in the model input"):
        evaluate(SpyModel(6), leaky_input, target, exclude=fold_in, k=[2])


def test_evaluator_warns_when_targets_are_excluded(held_out):
    fold_in, target = held_out
    with pytest.warns(UserWarning, match="excluded from the ranking"):
        evaluate(SpyModel(6), fold_in, target, exclude=fold_in + target, k=[2])


def test_evaluator_silent_on_clean_split(held_out):
    fold_in, target = held_out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(SpyModel(6), fold_in, target, k=[2])


@pytest.mark.parametrize("kwargs, match", [
    ({"metrics": ["auc"]}, "unknown metric"),
    ({"k": [0]}, "k must be"),
    ({"k": []}, "k must be"),
    ({"batch_size": 0}, "batch_size"),
    ({"exclude": sp.csr_matrix((4, 5))}, "exclude has shape"),
])
def test_evaluator_rejects_bad_arguments(held_out, kwargs, match):
    fold_in, target = held_out
    with pytest.raises(ValueError, match=match):
        evaluate(SpyModel(6), fold_in, target, **kwargs)


def test_evaluator_rejects_wrong_score_shape(held_out):
    fold_in, target = held_out
    with pytest.raises(ValueError, match="model.score returned shape"):
        evaluate(lambda x: np.zeros((x.shape[0], 5)), fold_in, target)


def test_evaluation_summary_and_lookup():
    ev = Evaluation({"ndcg@2": np.array([0.0, 1.0, 0.5])}, np.arange(3))
    assert ev["ndcg@2"] == pytest.approx(0.5)
    # Standard error: std with ddof=1 is 0.5, divided by sqrt(3).
    assert ev.summary().loc["ndcg@2", "se"] == pytest.approx(0.5 / math.sqrt(3))
    with pytest.raises(KeyError, match="was not computed"):
        ev["recall@2"]


# ---------------------------------------------------------------- beyond accuracy

TOP = np.array([[0, 1], [0, 2]])  # two lists of 2 over a catalogue of 4 items


def test_coverage_counts_distinct_items():
    assert coverage(TOP, 4) == pytest.approx(3 / 4)  # items 0, 1, 2 of 4


def test_exposure_gini_hand_computed():
    # Exposure per item: [2, 1, 1, 0], sorted [0, 1, 1, 2], n = 4, total 4.
    # Gini = sum((2j - n - 1) e_j) / (n * total) with j = 1..4:
    # (-3*0 - 1*1 + 1*1 + 3*2) / 16 = 6 / 16.
    assert exposure_gini(TOP, 4) == pytest.approx(6 / 16)


@pytest.mark.parametrize("top, expected", [
    (np.array([[0, 1, 2, 3]]), 0.0),  # every item once: equal exposure
    (np.zeros((5, 1), dtype=int), 3 / 4),  # one of 4 items gets all: (n - 1) / n
])
def test_exposure_gini_extremes(top, expected):
    assert exposure_gini(top, 4) == pytest.approx(expected)


def test_novelty_hand_computed():
    # 8 training users; counts 4, 2, 1, 0 -> self-information 1, 2, 3 bits,
    # and 3 bits for the unseen item (its count is taken as 1).
    counts = np.array([4, 2, 1, 0])
    assert novelty(TOP, counts, 8) == pytest.approx([(1 + 2) / 2, (1 + 3) / 2])
    assert novelty(np.array([[3]]), counts, 8) == pytest.approx([3.0])


def test_average_popularity_hand_computed():
    assert average_popularity(TOP, np.array([4, 2, 1, 0])) == pytest.approx([3.0, 2.5])


def test_intra_list_diversity_hand_computed():
    genres = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])
    # Items 0 and 1 share genres: distance 0. Items 0 and 2: cosine 1/sqrt(2).
    expected = [0.0, 1 - 1 / math.sqrt(2)]
    assert intra_list_diversity(TOP, genres) == pytest.approx(expected)
    # Item 3 has no genre: distance 1 from anything.
    assert intra_list_diversity(np.array([[0, 3]]), genres) == pytest.approx([1.0])
    # Three items 0, 1, 2: pairs (0,1) 0, (0,2) and (1,2) 1 - 1/sqrt(2).
    three = intra_list_diversity(np.array([[0, 1, 2]]), sp.csr_matrix(genres))
    assert three == pytest.approx([2 * (1 - 1 / math.sqrt(2)) / 3])


def test_beyond_accuracy_summary():
    train = rows([0, 1], [0], [0, 2], [0], n_items=4)  # counts 4, 1, 1, 0
    genres = np.eye(4)
    result = beyond_accuracy(TOP, 2, train, item_features=genres)
    assert result["coverage@2"] == pytest.approx(3 / 4)
    assert result["popularity@2"] == pytest.approx((2.5 + 2.5) / 2)
    assert result["diversity@2"] == pytest.approx(1.0)
    # Self-information: item 0 log2(4/4) = 0, items 1 and 2 log2(4/1) = 2.
    assert result["novelty@2"] == pytest.approx(1.0)
    assert set(result) == {"coverage@2", "gini@2", "novelty@2", "popularity@2",
                           "diversity@2"}


def test_beyond_accuracy_rejects_long_k():
    with pytest.raises(ValueError, match="list length 2"):
        beyond_accuracy(TOP, 3, rows([0], n_items=4))


def test_beyond_accuracy_rejects_items_outside_catalogue():
    with pytest.raises(ValueError, match="outside 0..1"):
        coverage(TOP, 2)
