"""Mult-VAE and Mult-DAE for collaborative filtering.

D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational
Autoencoders for Collaborative Filtering", WWW 2018. Reference code (TF1):
https://github.com/dawenl/vae_cf

A user's history row is L2-normalised, passed through dropout, encoded to a
latent vector and decoded to logits over all items. The paper's likelihood is
multinomial: the loss is the negative sum of the log-softmax probabilities of
the items the user clicked. Gaussian and logistic likelihoods are available
for comparison, as in the paper's experiments.

Speed: a user row contains far fewer items than the catalogue, so the first
layer reads the batch in CSR layout with ``embedding_bag`` (a weighted sum of
the rows of an item-by-hidden weight matrix) and every likelihood reads the
logits only at the stored entries plus one dense reduction per row. No
(batch, n_items) copy of the input is ever made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils import SparseRows, as_csr, check_n_items, to_sparse_rows

LIKELIHOODS = ("multinomial", "gaussian", "logistic")


class SparseLinear(nn.Module):
    """Linear layer whose input is a batch of sparse rows.

    ``weight`` has shape (in_features, out_features), one row per item, which
    is the transpose of :class:`torch.nn.Linear`'s layout; ``embedding_bag``
    then computes ``x @ weight + bias`` touching only the stored entries.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def forward(self, rows: SparseRows, values: torch.Tensor) -> torch.Tensor:
        """Return ``x @ weight + bias`` where x has `rows`' layout and `values`."""
        h = F.embedding_bag(rows.indices, self.weight, rows.indptr[:-1], mode="sum",
                            per_sample_weights=values)
        return h + self.bias


def _normalised_input(rows: SparseRows, dropout: float, training: bool) -> torch.Tensor:
    """Return the stored values of the L2-normalised rows, after dropout."""
    norms = rows.row_sums(rows.values.square()).sqrt()
    norms = torch.where(norms > 0, norms, torch.ones_like(norms))
    values = rows.values / norms[rows.row_index]
    # Dropout on the stored entries equals dropout on the dense row, because
    # zeros stay zero. Kept entries are scaled by 1 / (1 - p).
    return F.dropout(values, dropout, training=training)


def negative_log_likelihood(logits: torch.Tensor, rows: SparseRows,
                            likelihood: str = "multinomial") -> torch.Tensor:
    """Return -log p(x | logits) for each user row, shape (batch,).

    Parameters
    ----------
    logits : Tensor of shape (batch, n_items)
        Decoder output.
    rows : SparseRows
        The users' histories x (clicks, or any nonnegative counts).
    likelihood : {"multinomial", "gaussian", "logistic"}
        multinomial: ``-sum_i x_i log softmax(logits)_i``.
        gaussian: ``sum_i (x_i - logits_i)^2 / 2``, unit variance, constants
        dropped. logistic: ``-sum_i [x_i log s_i + (1 - x_i) log(1 - s_i)]``
        with ``s = sigmoid(logits)``, which is exact for 0/1 data.

    Defined in :doc:`/chapters/vae`.
    """
    # sum_i x_i * logit_i, from the stored entries only.
    picked = logits[rows.row_index, rows.indices]
    x_dot_logits = rows.row_sums(rows.values * picked)
    if likelihood == "multinomial":
        # log softmax_i = logit_i - logsumexp(logits): the closed form is
        # stable for any logits, where log(softmax(logits)) underflows to -inf.
        return rows.row_sums() * torch.logsumexp(logits, dim=1) - x_dot_logits
    if likelihood == "gaussian":
        x_squared = rows.row_sums(rows.values.square())
        return 0.5 * (logits.square().sum(dim=1) - 2 * x_dot_logits + x_squared)
    if likelihood == "logistic":
        # -[x log s + (1 - x) log(1 - s)] = softplus(logit) - x * logit.
        return F.softplus(logits).sum(dim=1) - x_dot_logits
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Return KL(N(mu, exp(logvar)) || N(0, I)) for each row, shape (batch,).

    Per dimension this is ``(exp(logvar) + mu^2 - 1 - logvar) / 2``, which is
    never negative and is zero only at mu = 0, logvar = 0.

    Defined in :doc:`/chapters/vae`.
    """
    return 0.5 * (logvar.exp() + mu.square() - 1.0 - logvar).sum(dim=1)


@dataclass
class VAEConfig:
    """Architecture and loss settings of :class:`MultVAE` and :class:`MultDAE`.

    Defined in :doc:`/chapters/vae`.
    """

    n_items: int
    hidden_dims: tuple[int, ...] = (600,)  # encoder layers before the latent
    latent_dim: int = 200
    dropout: float = 0.5  # on the normalised input, during training only
    likelihood: str = "multinomial"  # or "gaussian" or "logistic"
    beta_cap: float = 0.2  # largest KL weight
    # Updates for beta to grow linearly from 0 to 1 (it stops at beta_cap);
    # 0 keeps beta at beta_cap from the first update.
    anneal_steps: int = 200_000
    # Clamp on the encoder's log-variance, so exp() cannot overflow.
    logvar_bound: float = 10.0

    def __post_init__(self):
        self.hidden_dims = tuple(int(d) for d in self.hidden_dims)
        sizes = {"n_items": self.n_items, "latent_dim": self.latent_dim}
        sizes.update({f"hidden_dims[{i}]": d for i, d in enumerate(self.hidden_dims)})
        for name, value in sizes.items():
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(
                f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.beta_cap < 0 or self.anneal_steps < 0:
            raise ValueError(f"beta_cap={self.beta_cap} and anneal_steps="
                             f"{self.anneal_steps} must be >= 0")
        if self.logvar_bound <= 0:
            raise ValueError(f"logvar_bound must be > 0, got {self.logvar_bound}")


class _AutoEncoder(nn.Module):
    """Layers, encoding and scoring shared by the two autoencoders."""

    def __init__(self, config: VAEConfig, encoder_out: int):
        super().__init__()
        self.config = config
        dims = [*config.hidden_dims, encoder_out]
        self.input_layer = SparseLinear(config.n_items, dims[0])
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        back = [config.latent_dim, *reversed(config.hidden_dims), config.n_items]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back[:-1], back[1:]))
        # Xavier weights and small random biases, as in the reference code.
        for layer in [self.input_layer, *self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def _encode(self, rows: SparseRows) -> torch.Tensor:
        values = _normalised_input(rows, self.config.dropout, self.training)
        h = self.input_layer(rows, values)
        for layer in self.encoder:
            h = layer(torch.tanh(h))
        return h

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.decoder):
            z = layer(z if i == 0 else torch.tanh(z))
        return z

    def _rows(self, x) -> SparseRows:
        if not isinstance(x, SparseRows):
            x = as_csr(x)
        check_n_items(x, self.config.n_items)
        return x if isinstance(x, SparseRows) else to_sparse_rows(x)

    @torch.no_grad()
    def _eval_call(self, method, x) -> np.ndarray:
        """Run `method` on `x` in evaluation mode, then restore the old mode."""
        was_training = self.training
        self.eval()
        try:
            return method(self._rows(x)).numpy()
        finally:
            self.train(was_training)

    def score(self, x) -> np.ndarray:
        """Return item logits of shape (batch, n_items) for user rows `x`.

        No dropout and no sampling (z is the posterior mean), so the result
        depends only on `x` and the weights. The model is put in evaluation
        mode for the call and its previous mode is restored afterwards.
        """
        return self._eval_call(lambda rows: self.forward(rows)[0], x)


class MultVAE(_AutoEncoder):
    """Mult-VAE: a variational autoencoder of user histories, KL weight annealed.

    Parameters
    ----------
    config : VAEConfig
        The default is the paper's 600-200-600 architecture with a
        multinomial likelihood.

    Defined in :doc:`/chapters/vae`.
    """

    def __init__(self, config: VAEConfig):
        super().__init__(config, encoder_out=2 * config.latent_dim)

    def forward(self, x):
        """Return (logits, mu, logvar); z is sampled in training, else z = mu."""
        h = self._encode(self._rows(x))
        mu, logvar = h.chunk(2, dim=1)  # each (batch, latent_dim)
        bound = self.config.logvar_bound
        logvar = logvar.clamp(-bound, bound)
        z = mu
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self._decode(z), mu, logvar

    def beta(self, step: int) -> float:
        """Return the KL weight after `step` updates: step / anneal_steps, capped."""
        if self.config.anneal_steps == 0:
            return self.config.beta_cap
        return min(self.config.beta_cap, step / self.config.anneal_steps)

    def loss(self, x, step: int = 0):
        """Return the negative ELBO, KL weighted by beta, averaged over users.

        `step` is the global count of updates so far, across epochs. The
        parts are ``nll`` and ``kl`` (per-user means) and ``beta``.
        """
        rows = self._rows(x)
        logits, mu, logvar = self.forward(rows)
        nll = negative_log_likelihood(logits, rows, self.config.likelihood).mean()
        kl = gaussian_kl(mu, logvar).mean()
        beta = self.beta(step)
        return nll + beta * kl, {"nll": nll.item(), "kl": kl.item(), "beta": beta}

    def encode(self, x) -> np.ndarray:
        """Return the posterior means mu of shape (batch, latent_dim), no dropout."""
        return self._eval_call(lambda rows: self._encode(rows).chunk(2, dim=1)[0], x)


class MultDAE(_AutoEncoder):
    """Mult-DAE: the same autoencoder without the latent distribution.

    The paper's best Mult-DAE on ML-20M has no hidden layer, so use
    ``VAEConfig(n_items, hidden_dims=())``. The code is tanh of the encoder
    output; ``beta_cap``, ``anneal_steps`` and ``logvar_bound`` are unused.
    Give weight decay to the optimiser (the paper's is 0.01 / batch size).

    Defined in :doc:`/chapters/vae`.
    """

    def __init__(self, config: VAEConfig):
        super().__init__(config, encoder_out=config.latent_dim)

    def forward(self, x):
        """Return (logits,)."""
        return (self._decode(torch.tanh(self._encode(self._rows(x)))),)

    def loss(self, x, step: int = 0):
        """Return the negative log-likelihood averaged over users; `step` is unused."""
        rows = self._rows(x)
        (logits,) = self.forward(rows)
        nll = negative_log_likelihood(logits, rows, self.config.likelihood).mean()
        return nll, {"nll": nll.item()}

    def encode(self, x) -> np.ndarray:
        """Return the codes of shape (batch, latent_dim), no dropout."""
        return self._eval_call(lambda rows: torch.tanh(self._encode(rows)), x)
