"""Mult-VAE and Mult-DAE for collaborative filtering.

D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational
Autoencoders for Collaborative Filtering", WWW 2018. Reference code (TF1):
https://github.com/dawenl/vae_cf

A user's history row is L2-normalised, passed through dropout, encoded to a
latent vector and decoded to logits over all items. The likelihood is
multinomial: the loss is the negative sum of log-softmax probabilities of
the items the user clicked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from ..utils import as_csr, csr_to_torch
from .baselines import _check_width


@dataclass
class VAEConfig:
    """Architecture and loss settings of :class:`MultVAE` and :class:`MultDAE`."""

    n_items: int
    hidden_dims: tuple[int, ...] = (600,)  # encoder layers before the latent
    latent_dim: int = 200
    dropout: float = 0.5  # on the normalised input, during training only
    beta_cap: float = 0.2  # largest KL weight
    anneal_steps: int = 200_000  # updates for beta to grow from 0 to 1 (capped)
    # Clamp on the encoder's log-variance, so exp() cannot overflow.
    logvar_bound: float = 10.0


def _input_layer(x: sp.csr_matrix, dropout: float, training: bool) -> torch.Tensor:
    """L2-normalise each row, apply dropout to its nonzeros, return sparse COO."""
    x = as_csr(x)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x = sp.csr_matrix(sp.diags(1.0 / norms, format="csr") @ x, dtype=np.float32)
    t = csr_to_torch(x)
    if training and dropout > 0:
        t = torch.sparse_coo_tensor(t.indices(), F.dropout(t.values(), dropout), t.shape,
                                    check_invariants=False)
    return t


def _mlp(dims: list[int]) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))


def _multinomial_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-user negative multinomial log-likelihood, -sum_i x_i log softmax_i."""
    # log_softmax, never log(softmax): the latter underflows to -inf.
    return -(F.log_softmax(logits, dim=1) * x).sum(dim=1)


class _AutoEncoder(nn.Module):
    """Shared layers and scoring of the two autoencoders."""

    def __init__(self, config: VAEConfig, encoder_out: int):
        super().__init__()
        self.config = config
        dims = [config.n_items, *config.hidden_dims]
        self.encoder = _mlp(dims + [encoder_out])
        self.decoder = _mlp([config.latent_dim, *reversed(dims)])
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def _encode(self, x: sp.csr_matrix) -> torch.Tensor:
        h = _input_layer(x, self.config.dropout, self.training)
        first, *rest = self.encoder
        h = torch.sparse.mm(h, first.weight.T) + first.bias  # sparse input
        for layer in rest:
            h = layer(torch.tanh(h))
        return h

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.decoder):
            z = layer(z if i == 0 else torch.tanh(z))
        return z

    @torch.no_grad()
    def score(self, x) -> np.ndarray:
        """Return item logits for user rows `x`, without dropout or sampling.

        The model is put in evaluation mode for the call and its previous
        mode is restored afterwards.
        """
        x = as_csr(x)
        _check_width(x, self.config.n_items)
        was_training = self.training
        self.eval()
        try:
            return self.forward(x)[0].numpy()
        finally:
            self.train(was_training)


class MultVAE(_AutoEncoder):
    """Mult-VAE with a multinomial likelihood and an annealed KL weight.

    Parameters
    ----------
    config : VAEConfig
        The default is the paper's 600-200-600 architecture.

    Defined in :doc:`/chapters/movie_example`.
    """

    def __init__(self, config: VAEConfig):
        super().__init__(config, encoder_out=2 * config.latent_dim)

    def forward(self, x: sp.csr_matrix):
        """Return (logits, mu, logvar); z is sampled in training, else z = mu."""
        h = self._encode(x)
        mu, logvar = h.chunk(2, dim=1)  # each (batch, latent_dim)
        bound = self.config.logvar_bound
        logvar = logvar.clamp(-bound, bound)
        z = mu
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self._decode(z), mu, logvar

    def beta(self, step: int) -> float:
        """KL weight after `step` updates: step / anneal_steps, capped."""
        return min(self.config.beta_cap, step / self.config.anneal_steps)

    def loss(self, x: sp.csr_matrix, step: int = 0):
        """Return the negative ELBO (KL weighted by beta) averaged over users.

        `step` is the global count of updates so far, across epochs.
        """
        logits, mu, logvar = self.forward(x)
        nll = _multinomial_nll(logits, torch.from_numpy(as_csr(x).toarray())).mean()
        # KL(N(mu, sigma^2) || N(0, 1)), summed over latent dimensions.
        kl = (0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar)).sum(dim=1).mean()
        beta = self.beta(step)
        return nll + beta * kl, {"nll": nll.item(), "kl": kl.item(), "beta": beta}


class MultDAE(_AutoEncoder):
    """Mult-DAE: the same autoencoder without the latent distribution.

    The paper's best Mult-DAE on ML-20M has no hidden layer, so use
    ``VAEConfig(n_items, hidden_dims=())``. Weight decay goes to the
    optimiser.
    """

    def __init__(self, config: VAEConfig):
        super().__init__(config, encoder_out=config.latent_dim)

    def forward(self, x: sp.csr_matrix):
        """Return (logits,); the code is tanh of the encoder output."""
        return (self._decode(torch.tanh(self._encode(x))),)

    def loss(self, x: sp.csr_matrix, step: int = 0):
        """Return the multinomial negative log-likelihood averaged over users."""
        (logits,) = self.forward(x)
        nll = _multinomial_nll(logits, torch.from_numpy(as_csr(x).toarray())).mean()
        return nll, {"nll": nll.item()}
