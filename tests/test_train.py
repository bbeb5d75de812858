"""Tests of the training loop: update counting, batching, best-epoch restore."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from genrec.metrics import evaluate
from genrec.models.vae import MultVAE, VAEConfig
from genrec.split import HeldOut
from genrec.train import train


class Recorder(torch.nn.Module):
    """A model that records what the loop hands it; its loss is a*mean(row sums)."""

    def __init__(self, n_items):
        super().__init__()
        self.a = torch.nn.Parameter(torch.ones(()))
        self.w = torch.nn.Parameter(torch.zeros(n_items))
        self.steps, self.sizes, self.modes, self.kinds = [], [], [], []

    def loss(self, x, step):
        self.steps.append(step)
        self.sizes.append(x.shape[0])
        self.modes.append(self.training)
        self.kinds.append(sp.issparse(x))
        row_sums = torch.from_numpy(np.asarray(x.sum(axis=1)).ravel())
        loss = self.a * row_sums.mean() + 0 * self.w.sum()
        return loss, {"row_sum": row_sums.mean().item()}

    def score(self, x):
        return np.broadcast_to(self.w.detach().numpy(), x.shape).copy()


@pytest.fixture(scope="module")
def X():
    """5 users x 6 items; user u has u + 1 clicks."""
    dense = np.zeros((5, 6), np.float32)
    for user in range(5):
        dense[user, : user + 1] = 1.0
    return sp.csr_matrix(dense)


@pytest.fixture(scope="module")
def tiny_split():
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 12)) < 0.35).astype(np.float32)
    dense[:, :3] = 1.0  # three popular items make the task learnable
    fold_in, target = dense.copy(), np.zeros_like(dense)
    for user in range(30, 40):
        clicked = np.flatnonzero(dense[user])
        fold_in[user, clicked[-2:]], target[user, clicked[-2:]] = 0.0, 1.0
    valid = HeldOut(sp.csr_matrix(fold_in[30:]), sp.csr_matrix(target[30:]),
                    np.arange(30, 40))
    return sp.csr_matrix(dense[:30]), valid


def test_step_counts_updates_across_epochs(X):
    model = Recorder(6)
    history = train(model, X, n_epochs=3, batch_size=2, seed=0)
    # ceil(5 / 2) = 3 updates per epoch, numbered 0..8 over three epochs.
    assert model.steps == list(range(9))
    assert history.steps == 9


def test_vae_beta_follows_the_global_step(X):
    model = MultVAE(VAEConfig(6, hidden_dims=(4,), latent_dim=2, anneal_steps=100,
                              beta_cap=1.0))
    history = train(model, X, n_epochs=2, batch_size=2, seed=0)
    # Epoch 1 runs steps 0, 1, 2 and epoch 2 steps 3, 4, 5. The epoch value is
    # weighted by batch size (2, 2, 1): (0*2 + 1*2 + 2*1) / 5 / 100 = 0.008
    # and (3*2 + 4*2 + 5*1) / 5 / 100 = 0.038.
    assert history.epochs["beta"].tolist() == pytest.approx([0.008, 0.038])


def test_batches_are_sparse_slices_covering_every_user(X):
    model = Recorder(6)
    train(model, X, n_epochs=2, batch_size=2, seed=0)
    assert model.sizes == [2, 2, 1, 2, 2, 1]
    assert all(model.kinds)
    assert all(model.modes)


def test_epoch_loss_is_a_per_user_mean(X):
    model = Recorder(6)
    history = train(model, X, n_epochs=1, batch_size=2, lr=0.0, seed=0)
    # Row sums are 1..5, whose mean is 3, whatever the unequal batches are.
    assert history.epochs.loc[1, "row_sum"] == pytest.approx(3.0)
    assert history.epochs.loc[1, "loss"] == pytest.approx(3.0)


def test_model_is_left_in_eval_mode(X):
    model = Recorder(6)
    train(model, X, n_epochs=1, batch_size=5)
    assert not model.training


def test_same_seed_same_history(tiny_split):
    X, valid = tiny_split
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # train reseeds, so this must not matter
        model = MultVAE(VAEConfig(12, hidden_dims=(8,), latent_dim=4))
        history = train(model, X, n_epochs=3, batch_size=8, valid=valid, seed=5)
        runs.append(history.epochs.drop(columns=["seconds", "valid_seconds"]))
    assert runs[0].equals(runs[1])


def test_best_epoch_weights_are_restored(tiny_split):
    X, valid = tiny_split
    torch.manual_seed(0)
    model = MultVAE(VAEConfig(12, hidden_dims=(8,), latent_dim=4))
    history = train(model, X, n_epochs=8, batch_size=10, lr=0.05, valid=valid,
                    metric="ndcg@3", seed=0)
    column = history.epochs["ndcg@3"]
    assert history.best_epoch == int(column.idxmax())
    assert history.best_score == pytest.approx(column.max())
    again = evaluate(model, valid.fold_in, valid.target, k=[3], metrics=["ndcg"])
    assert again["ndcg@3"] == pytest.approx(history.best_score)
    assert {"seconds", "valid_seconds"} <= set(history.epochs.columns)


def test_patience_stops_training(tiny_split):
    X, valid = tiny_split
    model = Recorder(12)  # its scores never change, so epoch 1 stays best
    history = train(model, X, n_epochs=20, batch_size=10, valid=valid,
                    metric="ndcg@3", patience=2)
    assert history.best_epoch == 1
    assert len(history.epochs) == 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_epochs": 0}, "n_epochs=0 and batch_size=500 must be >= 1"),
    ({"batch_size": 0}, "batch_size=0 must be >= 1"),
    ({"metric": "ndcg"}, "metric must look like 'ndcg@100'"),
    ({"patience": 3}, r"patience=3 needs valid=HeldOut\(...\)"),
])
def test_invalid_arguments_raise(kwargs, message, X):
    with pytest.raises(ValueError, match=message):
        train(Recorder(6), X, **kwargs)
