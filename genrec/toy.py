"""Points in the plane and two tiny generative models that learn them in seconds.

The concepts chapter trains a variational autoencoder (D. P. Kingma and
M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014) and a generative
adversarial network (I. Goodfellow et al., "Generative Adversarial Nets",
NeurIPS 2014) on a ring of Gaussian blobs. In two dimensions a reader can see
what each model learned: the VAE's latent map and samples, and the GAN's
samples as training goes on, including a run whose generator collapses, with
all its points bunched in one small region that moves as training goes on.

Training functions take an explicit ``seed`` and run on one CPU thread inside
``torch.random.fork_rng``, so on a given machine they give the same result
for the same seed, and they leave the caller's random state untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

GAN_LOSSES = ("non-saturating", "minimax")


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Return `n_modes` points spaced evenly on a circle, of shape (n_modes, 2)."""
    _check_positive_int(n_modes, "n_modes")
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def make_ring(n_samples: int = 2000, *, n_modes: int = 8, radius: float = 2.0,
              std: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw points from an equal mixture of Gaussian blobs placed on a circle.

    Parameters
    ----------
    n_samples : int, default 2000
        Number of points.
    n_modes : int, default 8
        Number of blobs, centred at :func:`ring_centers`.
    radius : float, default 2.0
        Radius of the circle of centres.
    std : float, default 0.05
        Standard deviation of each blob along each axis.
    seed : int, default 0
        Seed of the NumPy generator that draws the points.

    Returns
    -------
    x : ndarray of shape (n_samples, 2), float32
        The points.
    mode : ndarray of shape (n_samples,), int64
        Index of the blob each point came from.

    Defined in :doc:`/chapters/concepts`.
    """
    _check_positive_int(n_samples, "n_samples")
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    centers = ring_centers(n_modes, radius)
    rng = np.random.default_rng(seed)
    mode = rng.integers(n_modes, size=n_samples)
    x = centers[mode] + std * rng.standard_normal((n_samples, 2))
    return x.astype(np.float32), mode.astype(np.int64)


def count_per_mode(samples: np.ndarray, centers: np.ndarray, *,
                   max_distance: float) -> np.ndarray:
    """Count the samples that lie within `max_distance` of each centre.

    A sample counts for its nearest centre only, and only if it is that close.
    A generator that has collapsed leaves most counts at zero.

    Parameters
    ----------
    samples : array of shape (n_samples, 2)
    centers : array of shape (n_modes, 2)
    max_distance : float
        Radius around a centre, e.g. three blob standard deviations.

    Returns
    -------
    ndarray of shape (n_modes,), int64

    Defined in :doc:`/chapters/concepts`.
    """
    samples, centers = np.asarray(samples), np.asarray(centers)
    for name, array in [("samples", samples), ("centers", centers)]:
        if array.ndim != 2 or array.shape[1] != 2:
            raise ValueError(f"{name} must have shape (n, 2), got {array.shape}")
    if max_distance <= 0:
        raise ValueError(f"max_distance must be > 0, got {max_distance}")
    distance = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)
    nearest = distance.argmin(axis=1)
    close = distance[np.arange(len(samples)), nearest] <= max_distance
    return np.bincount(nearest[close], minlength=len(centers)).astype(np.int64)


def _mlp(n_in: int, hidden_dim: int, n_out: int) -> nn.Sequential:
    """Two hidden layers with ReLU; small enough to train in seconds on a CPU."""
    return nn.Sequential(nn.Linear(n_in, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                         nn.Linear(hidden_dim, n_out))


class VAE(nn.Module):
    """A variational autoencoder for 2-D points with a Gaussian likelihood.

    The encoder returns the mean and log-variance of q(z|x); the decoder
    returns the mean of p(x|z), a Gaussian with fixed standard deviation
    `noise_std` on each coordinate. The prior p(z) is a standard normal.

    Parameters
    ----------
    latent_dim : int, default 2
    hidden_dim : int, default 64
    noise_std : float, default 0.1
        Standard deviation of p(x|z). Smaller values weigh reconstruction
        more heavily against the KL term.

    Defined in :doc:`/chapters/concepts`.
    """

    def __init__(self, latent_dim: int = 2, hidden_dim: int = 64,
                 noise_std: float = 0.1):
        super().__init__()
        _check_positive_int(latent_dim, "latent_dim")
        _check_positive_int(hidden_dim, "hidden_dim")
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std}")
        self.latent_dim = latent_dim
        self.noise_std = noise_std
        self.encoder = _mlp(2, hidden_dim, 2 * latent_dim)
        self.decoder = _mlp(latent_dim, hidden_dim, 2)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `mu` and `logvar` of q(z|x), each of shape (batch, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        # Bounded so that exp(logvar) can neither overflow nor reach zero.
        return mu, logvar.clamp(-10.0, 10.0)

    def loss(self, x: torch.Tensor, beta: float = 1.0) -> tuple[torch.Tensor, dict]:
        """Return the negative ELBO averaged over the batch, the KL term times `beta`.

        With ``beta=1`` the value is -ELBO in nats, an upper bound on the mean
        of -log p(x). The dict holds the batch means of its two parts as floats.
        Draws the reparameterisation noise from torch's global generator.
        """
        mu, logvar = self.encode(x)

        # Reparameterisation: z is a differentiable function of mu, logvar, eps.
        eps = torch.randn_like(mu)
        z = mu + torch.exp(0.5 * logvar) * eps

        # -log N(x; decoder(z), noise_std^2 I), summed over the two coordinates.
        variance = self.noise_std ** 2
        squared_error = (x - self.decoder(z)).pow(2).sum(dim=1)
        reconstruction = (squared_error / (2 * variance)
                          + np.log(2 * np.pi * variance))  # 2 x 0.5 log(2 pi var)

        # KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form.
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
        loss = (reconstruction + beta * kl).mean()
        return loss, {"reconstruction": reconstruction.mean().item(),
                      "kl": kl.mean().item()}

    @torch.no_grad()
    def sample(self, n_samples: int, *, add_noise: bool = False) -> np.ndarray:
        """Decode `n_samples` draws of z ~ N(0, I) to points of shape (n_samples, 2).

        By default returns the decoder means; ``add_noise=True`` adds the
        likelihood's Gaussian noise, giving draws from the model's p(x).
        Uses torch's global generator.
        """
        x = self.decoder(torch.randn(n_samples, self.latent_dim))
        if add_noise:
            x = x + self.noise_std * torch.randn_like(x)
        return x.numpy()


class Generator(nn.Module):
    """Maps noise of shape (batch, noise_dim) to points of shape (batch, 2).

    Defined in :doc:`/chapters/concepts`.
    """

    def __init__(self, noise_dim: int = 2, hidden_dim: int = 64):
        super().__init__()
        _check_positive_int(noise_dim, "noise_dim")
        _check_positive_int(hidden_dim, "hidden_dim")
        self.noise_dim = noise_dim
        self.net = _mlp(noise_dim, hidden_dim, 2)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise)


class Discriminator(nn.Module):
    """Maps points of shape (batch, 2) to logits of shape (batch,): real vs fake.

    Defined in :doc:`/chapters/concepts`.
    """

    def __init__(self, hidden_dim: int = 64):
        super().__init__()
        _check_positive_int(hidden_dim, "hidden_dim")
        self.net = _mlp(2, hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def discriminator_loss(logits_real: torch.Tensor,
                       logits_fake: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy for labelling real points 1 and generated points 0.

    Equals -mean[log D(x)] - mean[log(1 - D(G(z)))] with D = sigmoid(logits),
    computed from logits with softplus so that it cannot overflow.
    """
    return F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()


def generator_loss(logits_fake: torch.Tensor,
                   kind: str = "non-saturating") -> torch.Tensor:
    """Compute the generator's loss from the discriminator's logits on its points.

    ``"minimax"`` minimises mean[log(1 - D(G(z)))], the original game; its
    gradient vanishes when the discriminator confidently rejects the fakes.
    ``"non-saturating"`` minimises -mean[log D(G(z))] instead, which has the
    same fixed point and a strong gradient exactly then.
    """
    if kind == "non-saturating":
        return F.softplus(-logits_fake).mean()
    if kind == "minimax":
        return -F.softplus(logits_fake).mean()
    raise ValueError(f"kind must be one of {GAN_LOSSES}, got {kind!r}")


@dataclass
class VAEResult:
    """A trained :class:`VAE`, its per-step losses and samples from it.

    Attributes
    ----------
    model : VAE
        In evaluation mode.
    history : DataFrame
        Indexed by step (1-based), with columns ``loss``, ``reconstruction``
        and ``kl`` (means over the batch).
    samples : ndarray of shape (n_samples, 2)
        Decoder means at draws of z from the prior.
    """

    model: VAE
    history: pd.DataFrame
    samples: np.ndarray


@dataclass
class GANResult:
    """A trained generator and discriminator, per-step losses and snapshots.

    Attributes
    ----------
    generator : Generator
    discriminator : Discriminator
    history : DataFrame
        Indexed by generator step (1-based), with columns
        ``discriminator_loss``, ``generator_loss``, ``d_real`` and ``d_fake``
        (mean probability the discriminator gives real and generated points).
    snapshots : dict of int to ndarray of shape (n_samples, 2)
        Generated points at the steps in `snapshot_steps`, always from the same
        noise, so a reader can follow each point as training goes on.
    """

    generator: Generator
    discriminator: Discriminator
    history: pd.DataFrame
    snapshots: dict[int, np.ndarray]

    @property
    def samples(self) -> np.ndarray:
        """Generated points at the last snapshot."""
        return self.snapshots[max(self.snapshots)]


def train_vae(x: np.ndarray, *, latent_dim: int = 2, hidden_dim: int = 64,
              noise_std: float = 0.1, beta: float = 1.0, n_steps: int = 1000,
              batch_size: int = 256, lr: float = 5e-3, n_samples: int = 1000,
              seed: int = 0) -> VAEResult:
    """Train a :class:`VAE` on 2-D points with Adam, one random batch per step.

    Parameters
    ----------
    x : array of shape (n_points, 2)
    latent_dim, hidden_dim, noise_std
        Passed to :class:`VAE`.
    beta : float, default 1.0
        Weight of the KL term; 1 gives the ELBO.
    n_steps : int, default 1000
    batch_size : int, default 256
    lr : float, default 5e-3
    n_samples : int, default 1000
        Number of samples drawn after training.
    seed : int, default 0
        Seeds the weights, the batches, the reparameterisation noise and the
        samples.

    Returns
    -------
    VAEResult

    Defined in :doc:`/chapters/concepts`.
    """
    data = _check_points(x)
    _check_training(n_steps, batch_size, lr)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    with _seeded_single_thread(seed):
        model = VAE(latent_dim, hidden_dim, noise_std)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        rows = []
        for _ in range(n_steps):
            batch = data[torch.randint(len(data), (batch_size,))]
            loss, parts = model.loss(batch, beta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rows.append({"loss": loss.item(), **parts})
        model.eval()
        samples = model.sample(n_samples)
    return VAEResult(model, _history(rows), samples)


def train_gan(x: np.ndarray, *, loss: str = "non-saturating", noise_dim: int = 2,
              hidden_dim: int = 64, n_steps: int = 1000, batch_size: int = 512,
              lr_generator: float = 2e-3, lr_discriminator: float = 2e-3,
              n_discriminator_steps: int = 1,
              snapshot_steps: Iterable[int] | None = None,
              n_samples: int = 1000, seed: int = 0) -> GANResult:
    """Play the GAN game on 2-D points: alternate discriminator and generator steps.

    Each generator step follows `n_discriminator_steps` discriminator steps,
    each on a fresh batch of real points and of generated points. Both
    players use Adam with betas (0.5, 0.999), a common choice for GANs.

    Parameters
    ----------
    x : array of shape (n_points, 2)
    loss : {"non-saturating", "minimax"}, default "non-saturating"
        The generator's loss; see :func:`generator_loss`.
    noise_dim, hidden_dim : int
        Sizes of the networks.
    n_steps : int, default 1000
        Number of generator updates.
    batch_size : int, default 512
        Real and generated points per update.
    lr_generator, lr_discriminator : float, default 2e-3
    n_discriminator_steps : int, default 1
        Discriminator updates per generator update.
    snapshot_steps : iterable of int, optional
        Generator steps after which to record samples; 0 is before training.
        Each must lie in [0, n_steps]. Default: 0, a quarter, half and three
        quarters of `n_steps`, and `n_steps`.
    n_samples : int, default 1000
        Number of points in each snapshot.
    seed : int, default 0

    Returns
    -------
    GANResult

    Defined in :doc:`/chapters/concepts`.
    """
    data = _check_points(x)
    _check_training(n_steps, batch_size, lr_generator, "lr_generator")
    _check_training(n_steps, batch_size, lr_discriminator, "lr_discriminator")
    _check_positive_int(n_discriminator_steps, "n_discriminator_steps")
    generator_loss(torch.zeros(1), loss)  # rejects an unknown loss before training
    if snapshot_steps is None:
        fractions = (0, 0.25, 0.5, 0.75, 1)
        snapshot_steps = [round(n_steps * fraction) for fraction in fractions]
    snapshot_steps = sorted(set(snapshot_steps))
    if not snapshot_steps or snapshot_steps[0] < 0 or snapshot_steps[-1] > n_steps:
        raise ValueError(f"snapshot_steps must be non-empty and within [0, n_steps="
                         f"{n_steps}], got {snapshot_steps}")

    with _seeded_single_thread(seed):
        generator = Generator(noise_dim, hidden_dim)
        discriminator = Discriminator(hidden_dim)
        opt_g = torch.optim.Adam(generator.parameters(), lr=lr_generator,
                                 betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_discriminator,
                                 betas=(0.5, 0.999))
        fixed_noise = torch.randn(n_samples, noise_dim)
        snapshots, rows = {}, []
        for step in range(n_steps + 1):
            if step in snapshot_steps:
                with torch.no_grad():
                    snapshots[step] = generator(fixed_noise).numpy()
            if step == n_steps:
                break

            rows.append(_gan_step(generator, discriminator, opt_g, opt_d, data,
                                  batch_size, loss, n_discriminator_steps))
    generator.eval()
    discriminator.eval()
    return GANResult(generator, discriminator, _history(rows), snapshots)


def _gan_step(generator: Generator, discriminator: Discriminator, opt_g, opt_d,
              data: torch.Tensor, batch_size: int, loss: str,
              n_discriminator_steps: int) -> dict:
    """Update the discriminator `n_discriminator_steps` times, then the generator."""
    noise_dim = generator.noise_dim
    for _ in range(n_discriminator_steps):
        real = data[torch.randint(len(data), (batch_size,))]
        with torch.no_grad():
            fake = generator(torch.randn(batch_size, noise_dim))
        logits = discriminator(torch.cat([real, fake]))  # one pass over both
        logits_real, logits_fake = logits[:batch_size], logits[batch_size:]
        d_loss = discriminator_loss(logits_real, logits_fake)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

    # The generator's backward pass also fills the discriminator's gradients,
    # which the next opt_d.zero_grad() clears before they are used.
    fake = generator(torch.randn(batch_size, noise_dim))
    g_loss = generator_loss(discriminator(fake), loss)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"discriminator_loss": d_loss.item(), "generator_loss": g_loss.item(),
            "d_real": torch.sigmoid(logits_real).mean().item(),
            "d_fake": torch.sigmoid(logits_fake).mean().item()}


@contextmanager
def _seeded_single_thread(seed: int):
    """Seed torch inside a fork of its random state, on one CPU thread.

    The caller's random state and thread count are restored on exit. One
    thread is faster here, because these networks are too small for torch's
    parallel kernels to pay for their start-up cost.
    """
    n_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(n_threads)


def _history(rows: list[dict]) -> pd.DataFrame:
    history = pd.DataFrame(rows)
    history.index = pd.RangeIndex(1, len(rows) + 1, name="step")
    return history


def _check_points(x) -> torch.Tensor:
    """Return `x` as a float32 tensor after checking it is an (n, 2) finite array."""
    array = np.asarray(x, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ValueError(
            f"x must be points of shape (n_points, 2), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("x contains NaN or infinite values; drop or fix those points")
    return torch.from_numpy(array)


def _check_training(n_steps: int, batch_size: int, lr: float,
                    lr_name: str = "lr") -> None:
    _check_positive_int(n_steps, "n_steps")
    _check_positive_int(batch_size, "batch_size")
    if not lr > 0:
        raise ValueError(f"{lr_name} must be > 0, got {lr}")


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
