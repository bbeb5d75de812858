"""Tests of the 2-D toy data and the tiny VAE and GAN of the concepts chapter."""

import math

import numpy as np
import pytest
import torch

from genrec import toy


@pytest.fixture(scope="module")
def ring():
    x, mode = toy.make_ring(500, seed=0)
    return x, mode


@pytest.fixture(scope="module")
def vae_run(ring):
    return toy.train_vae(ring[0], n_steps=300, batch_size=128, n_samples=50, seed=0)


@pytest.fixture(scope="module")
def gan_run(ring):
    return toy.train_gan(ring[0], n_steps=300, batch_size=128, n_samples=50,
                         snapshot_steps=(0, 150, 300), seed=0)


def _set_output(layer: torch.nn.Linear, bias: list[float]) -> None:
    """Make a linear layer ignore its input and return `bias`."""
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor(bias))


# ---- data ---------------------------------------------------------------


def test_ring_centers_four_modes():
    # Angles 0, 90, 180 and 270 degrees on the unit circle.
    expected = [[1, 0], [0, 1], [-1, 0], [0, -1]]
    centers = toy.ring_centers(4, radius=1.0)
    assert centers == pytest.approx(np.array(expected), abs=1e-12)


def test_make_ring_shapes_and_dtypes(ring):
    x, mode = ring
    assert x.shape == (500, 2)
    assert x.dtype == np.float32
    assert mode.shape == (500,)
    assert set(np.unique(mode)) == set(range(8))


def test_make_ring_points_near_their_centre(ring):
    x, mode = ring
    distance = np.linalg.norm(x - toy.ring_centers()[mode], axis=1)
    # With std 0.05 per axis, a distance above 0.3 has probability exp(-18).
    assert distance.max() < 0.3


def test_make_ring_seeded():
    first, _ = toy.make_ring(100, seed=3)
    again, _ = toy.make_ring(100, seed=3)
    other, _ = toy.make_ring(100, seed=4)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_count_per_mode_hand_case():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    # Two points close to centre 0, one close to centre 1, one far from both.
    samples = np.array([[0.1, 0.0], [0.0, -0.2], [9.9, 0.1], [5.0, 5.0]])
    counts = toy.count_per_mode(samples, centers, max_distance=0.5)
    assert counts.tolist() == [2, 1]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_samples=0), ValueError, "n_samples must be >= 1, got 0"),
    (dict(n_samples=2.5), TypeError, "n_samples must be an int, got float"),
    (dict(n_modes=0), ValueError, "n_modes must be >= 1"),
    (dict(std=0.0), ValueError, "std must be > 0"),
    (dict(radius=-1.0), ValueError, "radius must be > 0"),
])
def test_make_ring_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        toy.make_ring(**kwargs)


@pytest.mark.parametrize("samples, centers, match", [
    (np.zeros((3, 3)), np.zeros((2, 2)), r"samples must have shape \(n, 2\)"),
    (np.zeros((3, 2)), np.zeros(2), r"centers must have shape \(n, 2\)"),
])
def test_count_per_mode_rejects_bad_shapes(samples, centers, match):
    with pytest.raises(ValueError, match=match):
        toy.count_per_mode(samples, centers, max_distance=1.0)


def test_count_per_mode_rejects_bad_distance():
    with pytest.raises(ValueError, match="max_distance must be > 0"):
        toy.count_per_mode(np.zeros((1, 2)), np.zeros((1, 2)), max_distance=0)


# ---- VAE ----------------------------------------------------------------


def test_vae_kl_matches_hand_computation():
    model = toy.VAE(latent_dim=2)
    # mu = (1, 0), log-variance = (0, log 4):
    # KL = 0.5 * [(1 + 1 - 1 - 0) + (0 + 4 - 1 - log 4)] = 0.5 * (4 - log 4).
    _set_output(model.encoder[-1], [1.0, 0.0, 0.0, math.log(4.0)])
    _, parts = model.loss(torch.zeros(3, 2))
    assert parts["kl"] == pytest.approx(0.5 * (4 - math.log(4.0)), rel=1e-6)


def test_vae_reconstruction_matches_hand_computation():
    model = toy.VAE(noise_std=0.5)
    _set_output(model.decoder[-1], [0.0, 0.0])  # decoder returns the origin
    # Squared error 0.3^2 + 0.4^2 = 0.25; -log N = 0.25 / (2 * 0.25) + log(2 pi 0.25).
    _, parts = model.loss(torch.tensor([[0.3, 0.4]]))
    expected = 0.5 + math.log(0.5 * math.pi)
    assert parts["reconstruction"] == pytest.approx(expected, rel=1e-6)


def test_vae_loss_is_reconstruction_plus_beta_kl():
    model = toy.VAE()
    _set_output(model.encoder[-1], [0.5, -0.5, -1.0, -1.0])
    _set_output(model.decoder[-1], [0.1, 0.2])
    x = torch.tensor([[1.0, 2.0], [-1.0, 0.5]])
    loss, parts = model.loss(x, beta=0.3)
    expected = parts["reconstruction"] + 0.3 * parts["kl"]
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_vae_backward_reaches_encoder():
    model = toy.VAE()
    loss, _ = model.loss(torch.randn(8, 2))
    loss.backward()
    gradient = model.encoder[0].weight.grad
    assert gradient is not None
    assert torch.isfinite(gradient).all()
    assert gradient.abs().sum() > 0


def test_vae_logvar_is_bounded():
    model = toy.VAE(latent_dim=1)
    _set_output(model.encoder[-1], [0.0, 1e4])
    _, logvar = model.encode(torch.zeros(1, 2))
    assert logvar.item() == 10.0


def test_vae_sample_shapes():
    model = toy.VAE(latent_dim=3)
    assert model.sample(7).shape == (7, 2)
    assert model.sample(7, add_noise=True).shape == (7, 2)


def test_train_vae_history_and_samples(vae_run):
    assert list(vae_run.history.columns) == ["loss", "reconstruction", "kl"]
    assert len(vae_run.history) == 300
    assert vae_run.history.index[0] == 1
    assert np.isfinite(vae_run.history.to_numpy()).all()
    assert vae_run.samples.shape == (50, 2)
    assert not vae_run.model.training


def test_train_vae_reduces_loss(vae_run):
    loss = vae_run.history["loss"]
    assert loss.iloc[-50:].mean() < loss.iloc[:50].mean() - 10


def test_train_vae_same_seed_same_result(ring):
    first, again, other = (toy.train_vae(ring[0], n_steps=50, batch_size=32, seed=seed)
                           for seed in (0, 0, 1))
    assert np.array_equal(again.samples, first.samples)
    assert again.history.equals(first.history)
    assert not np.array_equal(other.samples, first.samples)


def test_train_vae_leaves_global_state_alone(ring):
    n_threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    toy.train_vae(ring[0], n_steps=2, seed=0)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == n_threads


@pytest.mark.parametrize("x, match", [
    (np.zeros((5, 3)), r"x must be points of shape \(n_points, 2\), got .*\(5, 3\)"),
    (np.zeros((0, 2)), r"x must be points of shape"),
    (np.array([[0.0, np.nan]]), "x contains NaN or infinite values"),
])
def test_train_vae_rejects_bad_points(x, match):
    with pytest.raises(ValueError, match=match):
        toy.train_vae(x, n_steps=1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_steps=0), ValueError, "n_steps must be >= 1"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(lr=0.0), ValueError, "lr must be > 0, got 0.0"),
    (dict(beta=-1.0), ValueError, "beta must be >= 0"),
    (dict(latent_dim=0), ValueError, "latent_dim must be >= 1"),
    (dict(noise_std=0.0), ValueError, "noise_std must be > 0"),
    (dict(hidden_dim=True), TypeError, "hidden_dim must be an int, got bool"),
])
def test_train_vae_rejects_bad_arguments(ring, kwargs, error, match):
    with pytest.raises(error, match=match):
        toy.train_vae(ring[0], **{"n_steps": 1, **kwargs})


# ---- GAN ----------------------------------------------------------------


def test_gan_losses_at_even_odds():
    # D = sigmoid(0) = 1/2 for every point.
    zeros = torch.zeros(4)
    assert toy.discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    non_saturating = toy.generator_loss(zeros, "non-saturating").item()
    assert non_saturating == pytest.approx(math.log(2))
    assert toy.generator_loss(zeros, "minimax").item() == pytest.approx(-math.log(2))


def test_generator_loss_gradients_when_fakes_rejected():
    # D confidently rejects the fake: logit -10, D = 4.5e-5. The minimax loss
    # log(1 - D) has gradient -D in the logit, the non-saturating one -(1 - D).
    gradients = {}
    for kind in toy.GAN_LOSSES:
        logit = torch.tensor([-10.0], requires_grad=True)
        toy.generator_loss(logit, kind).backward()
        gradients[kind] = logit.grad.item()
    d_fake = 1 / (1 + math.exp(10.0))
    assert gradients["minimax"] == pytest.approx(-d_fake)
    assert gradients["non-saturating"] == pytest.approx(-1.0, abs=1e-4)


def test_generator_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of .* got 'wasserstein'"):
        toy.generator_loss(torch.zeros(1), "wasserstein")


def test_generator_and_discriminator_shapes():
    generator, discriminator = toy.Generator(noise_dim=3), toy.Discriminator()
    points = generator(torch.randn(5, 3))
    assert points.shape == (5, 2)
    assert discriminator(points).shape == (5,)


def test_train_gan_history_and_snapshots(gan_run):
    history = gan_run.history
    columns = ["discriminator_loss", "generator_loss", "d_real", "d_fake"]
    assert list(history.columns) == columns
    assert len(history) == 300
    assert np.isfinite(history.to_numpy()).all()
    assert history[["d_real", "d_fake"]].gt(0).all().all()
    assert history[["d_real", "d_fake"]].lt(1).all().all()
    assert sorted(gan_run.snapshots) == [0, 150, 300]
    for points in gan_run.snapshots.values():
        assert points.shape == (50, 2)
    assert gan_run.samples is gan_run.snapshots[300]


def test_train_gan_moves_samples_to_the_ring(gan_run):
    # The untrained generator's points sit near the origin; after 300 steps
    # their mean distance from it should be close to the ring's radius, 2.
    radius = {step: np.linalg.norm(points, axis=1).mean()
              for step, points in gan_run.snapshots.items()}
    assert radius[0] < 0.5
    assert 1.5 < radius[300] < 2.5


def test_train_gan_same_seed_same_result(ring):
    first, again, other = (toy.train_gan(ring[0], n_steps=50, batch_size=32, seed=seed)
                           for seed in (0, 0, 1))
    assert again.history.equals(first.history)
    assert np.array_equal(again.samples, first.samples)
    assert not np.array_equal(other.samples, first.samples)


def test_train_gan_default_snapshots(ring):
    result = toy.train_gan(ring[0], n_steps=8, batch_size=16, n_samples=10)
    assert sorted(result.snapshots) == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("kwargs", [dict(loss="minimax"),
                                    dict(n_discriminator_steps=2)])
def test_train_gan_options_run(ring, kwargs):
    result = toy.train_gan(ring[0], n_steps=5, batch_size=16, snapshot_steps=(5,),
                           n_samples=10, **kwargs)
    assert np.isfinite(result.history.to_numpy()).all()
    assert result.samples.shape == (10, 2)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss="hinge"), ValueError, "kind must be one of"),
    (dict(snapshot_steps=(0, 11)), ValueError,
     r"snapshot_steps must be .* \[0, n_steps=10\]"),
    (dict(snapshot_steps=()), ValueError, "snapshot_steps must be non-empty"),
    (dict(lr_generator=0.0), ValueError, "lr_generator must be > 0"),
    (dict(lr_discriminator=-1.0), ValueError, "lr_discriminator must be > 0"),
    (dict(n_discriminator_steps=0), ValueError, "n_discriminator_steps must be >= 1"),
    (dict(noise_dim=1.5), TypeError, "noise_dim must be an int"),
])
def test_train_gan_rejects_bad_arguments(ring, kwargs, error, match):
    with pytest.raises(error, match=match):
        toy.train_gan(ring[0], **{"n_steps": 10, **kwargs})
