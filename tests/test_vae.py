"""Tests of Mult-VAE and Mult-DAE: loss formulas, KL, scoring and training sanity."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from genrec.models.vae import (
    MultDAE, MultVAE, SparseLinear, VAEConfig, gaussian_kl, negative_log_likelihood,
)
from genrec.utils import to_sparse_rows

MODELS = [MultVAE, MultDAE]


@pytest.fixture(scope="module")
def X():
    """6 users x 8 items of clicks, one user with no clicks at all."""
    rng = np.random.default_rng(0)
    dense = (rng.random((6, 8)) < 0.4).astype(np.float32)
    dense[0, :3] = 1.0
    dense[5] = 0.0
    return sp.csr_matrix(dense)


def small(model_cls, n_items=8, seed=0, **kwargs):
    torch.manual_seed(seed)
    return model_cls(VAEConfig(n_items, hidden_dims=(5,), latent_dim=3, **kwargs))


def test_multinomial_uses_log_softmax_not_log_of_softmax():
    # softmax of [0, -1000, 1000] underflows to exactly 0 for item 1, so
    # log(softmax) gives inf; the closed form gives 2000 (1000 - (-1000)).
    logits = torch.tensor([[0.0, -1000.0, 1000.0]])
    rows = to_sparse_rows(sp.csr_matrix(np.array([[0.0, 1.0, 0.0]], np.float32)))
    naive = -torch.log(torch.softmax(logits, dim=1))[0, 1]
    assert torch.isinf(naive)
    nll = negative_log_likelihood(logits, rows, "multinomial")
    assert nll.item() == pytest.approx(2000.0)


def test_multinomial_gradient_is_finite_for_extreme_logits():
    logits = torch.tensor([[0.0, -1000.0, 1000.0]], requires_grad=True)
    rows = to_sparse_rows(sp.csr_matrix(np.array([[0.0, 1.0, 0.0]], np.float32)))
    negative_log_likelihood(logits, rows).sum().backward()
    # d/dlogits = softmax * n - x = [0, -1, 1].
    assert logits.grad[0].tolist() == pytest.approx([0.0, -1.0, 1.0], abs=1e-6)


@pytest.mark.parametrize("likelihood", ["multinomial", "gaussian", "logistic"])
def test_likelihoods_match_dense_formulas(likelihood):
    x = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    dense = torch.from_numpy(x)
    expected = {
        "multinomial": -(F.log_softmax(logits, dim=1) * dense).sum(1),
        "gaussian": 0.5 * ((dense - logits) ** 2).sum(1),
        "logistic": F.binary_cross_entropy_with_logits(
            logits, dense, reduction="none").sum(1),
    }[likelihood]
    got = negative_log_likelihood(logits, to_sparse_rows(sp.csr_matrix(x)), likelihood)
    assert got.tolist() == pytest.approx(expected.tolist(), rel=1e-6)


def test_unknown_likelihood_raises():
    rows = to_sparse_rows(sp.csr_matrix(np.ones((1, 2), np.float32)))
    with pytest.raises(ValueError, match="likelihood must be one of"):
        negative_log_likelihood(torch.zeros(1, 2), rows, "poisson")


def test_kl_hand_computed_case():
    # Per dimension (exp(lv) + mu^2 - 1 - lv) / 2:
    # mu=1, lv=0: (1 + 1 - 1 - 0) / 2 = 0.5
    # mu=0, lv=ln 2: (2 + 0 - 1 - ln 2) / 2 = (1 - ln 2) / 2 = 0.15343
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    assert gaussian_kl(mu, logvar).item() == pytest.approx(0.5 + (1 - math.log(2)) / 2)


def test_kl_is_zero_at_prior_and_positive_elsewhere():
    assert gaussian_kl(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0
    generator = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(50, 4, generator=generator), torch.randn(50, 4, generator=generator)
    assert (gaussian_kl(mu, logvar) > 0).all()


def test_vae_loss_matches_numpy_formula_on_2x3_case():
    x = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32))
    model = small(MultVAE, n_items=3, beta_cap=0.5, anneal_steps=10).eval()
    logits, mu, logvar = (t.detach().numpy().astype(np.float64) for t in model.forward(x))
    loss, parts = model.loss(x, step=4)  # beta = 4 / 10 = 0.4, below the 0.5 cap

    dense = x.toarray()
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    nll = -(dense * log_softmax).sum(1).mean()
    kl = (0.5 * (np.exp(logvar) + mu ** 2 - 1 - logvar)).sum(1).mean()
    assert parts["beta"] == pytest.approx(0.4)
    assert parts["nll"] == pytest.approx(nll, rel=1e-5)
    assert parts["kl"] == pytest.approx(kl, rel=1e-5)
    assert loss.item() == pytest.approx(nll + 0.4 * kl, rel=1e-5)


def test_dae_loss_matches_numpy_formula():
    x = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32))
    model = small(MultDAE, n_items=3).eval()
    logits = model.forward(x)[0].detach().numpy().astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    loss, _ = model.loss(x)
    assert loss.item() == pytest.approx(-(x.toarray() * log_softmax).sum(1).mean(), rel=1e-5)


@pytest.mark.parametrize(("step", "expected"), [(0, 0.0), (50, 0.05), (200, 0.2), (10**6, 0.2)])
def test_beta_grows_linearly_then_stops_at_cap(step, expected):
    model = MultVAE(VAEConfig(4, beta_cap=0.2, anneal_steps=1000))
    assert model.beta(step) == pytest.approx(expected)


def test_beta_without_annealing_is_the_cap():
    assert MultVAE(VAEConfig(4, beta_cap=0.3, anneal_steps=0)).beta(0) == 0.3


@pytest.mark.parametrize("model_cls", MODELS)
def test_score_is_deterministic_and_restores_training_mode(model_cls, X):
    model = small(model_cls, dropout=0.5)
    model.train()
    first, second = model.score(X), model.score(X)
    assert model.training
    np.testing.assert_array_equal(first, second)
    model.eval()
    model.score(X)
    assert not model.training


def test_vae_score_decodes_the_posterior_mean(X):
    model = small(MultVAE).train()
    mu = torch.from_numpy(model.encode(X))
    with torch.no_grad():
        expected = model._decode(mu).numpy()
    np.testing.assert_allclose(model.score(X), expected, rtol=1e-6, atol=1e-6)


def test_training_forward_samples_and_drops_out(X):
    model = small(MultVAE).train()
    torch.manual_seed(1)
    first = model.forward(X)[0]
    second = model.forward(X)[0]
    assert not torch.equal(first, second)


def test_logvar_cannot_overflow(X):
    model = small(MultVAE, logvar_bound=10.0).train()
    with torch.no_grad():  # push the log-variance half of the encoder far out
        model.encoder[-1].bias[3:] = 1e4
    _, _, logvar = model.forward(X)
    assert logvar.max().item() == 10.0
    loss, parts = model.loss(X, step=100)
    assert math.isfinite(loss.item())
    assert math.isfinite(parts["kl"])


@pytest.mark.parametrize("model_cls", MODELS)
def test_shapes_finite_loss_and_backward(model_cls, X):
    model = small(model_cls).train()
    assert model.score(X).shape == (6, 8)
    assert model.encode(X).shape == (6, 3)
    loss, parts = model.loss(X, step=0)
    assert loss.dim() == 0
    assert math.isfinite(loss.item())
    assert all(math.isfinite(v) for v in parts.values())
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("model_cls", MODELS)
def test_same_seed_same_result(model_cls, X):
    results = []
    for _ in range(2):
        model = small(model_cls, seed=3).train()
        torch.manual_seed(7)
        loss, _ = model.loss(X, step=5)
        results.append((loss.item(), model.score(X)))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("model_cls", MODELS)
def test_overfits_a_tiny_batch(model_cls, X):
    model = small(model_cls, dropout=0.0, beta_cap=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = model.loss(X, step=0)[0].item()
    for step in range(150):
        loss, _ = model.loss(X, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.7 * first
    # Each user's clicked items should now outrank their other items.
    scores, dense = model.score(X), X.toarray()
    for user in range(5):
        clicked, other = scores[user][dense[user] > 0], scores[user][dense[user] == 0]
        assert clicked.min() > other.max(), user


def test_sparse_and_dense_input_give_the_same_scores(X):
    model = small(MultVAE)
    np.testing.assert_allclose(model.score(X), model.score(X.toarray()), rtol=1e-6)


def test_user_with_no_history_gets_finite_scores(X):
    model = small(MultVAE)
    assert np.isfinite(model.score(X[5])).all()


def test_sparse_linear_matches_dense_matmul(X):
    torch.manual_seed(0)
    layer = SparseLinear(8, 4)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    rows = to_sparse_rows(X)
    layer(rows, rows.values).pow(2).sum().backward()
    sparse_grad = layer.weight.grad.clone()

    layer.weight.grad = None
    dense = torch.from_numpy(X.toarray())
    out = dense @ layer.weight + layer.bias
    out.pow(2).sum().backward()
    np.testing.assert_allclose(layer(rows, rows.values).detach(), out.detach(), rtol=1e-5)
    np.testing.assert_allclose(sparse_grad, layer.weight.grad, rtol=1e-5, atol=1e-5)


def test_input_rows_are_l2_normalised_before_the_first_layer():
    # Rows [3, 4] and [6, 8] have the same direction, so the same code.
    x = sp.csr_matrix(np.array([[3.0, 4.0, 0.0], [6.0, 8.0, 0.0]], np.float32))
    model = small(MultVAE, n_items=3)
    mu = model.encode(x)
    np.testing.assert_allclose(mu[0], mu[1], rtol=1e-6)


def test_wrong_number_of_items_raises(X):
    with pytest.raises(ValueError, match="8 item columns but the model was built for 5"):
        small(MultVAE, n_items=5).score(X)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"likelihood": "poisson"}, "likelihood must be one of"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"latent_dim": 0}, "latent_dim must be >= 1"),
    ({"hidden_dims": (600, 0)}, r"hidden_dims\[1\] must be >= 1"),
    ({"anneal_steps": -1}, "must be >= 0"),
    ({"logvar_bound": 0.0}, "logvar_bound must be > 0"),
])
def test_config_rejects_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(10, **kwargs)


@pytest.mark.parametrize("likelihood", ["multinomial", "gaussian", "logistic"])
def test_every_likelihood_trains(likelihood, X):
    model = small(MultVAE, likelihood=likelihood).train()
    loss, _ = model.loss(X, step=0)
    loss.backward()
    assert math.isfinite(loss.item())
