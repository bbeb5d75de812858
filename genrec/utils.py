"""Seeding, devices and conversion of sparse batches to torch."""

from __future__ import annotations

import random

import numpy as np
import scipy.sparse as sp
import torch


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Return `prefer` if given, else CUDA when available, else the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def as_csr(x) -> sp.csr_matrix:
    """Return `x` (sparse matrix, ndarray or tensor of user rows) as float32 CSR."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if sp.issparse(x):
        return sp.csr_matrix(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected user rows of shape (batch, n_items), got {x.shape}")
    return sp.csr_matrix(x)


def csr_to_torch(x: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """Convert a CSR batch to a torch sparse COO tensor of the same shape."""
    coo = x.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, device=device,
                                   check_invariants=False).coalesce()
