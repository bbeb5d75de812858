"""Seeding, devices and conversion of sparse user rows to torch."""

from __future__ import annotations

import random
from dataclasses import dataclass

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
    """Return `x` (sparse matrix, ndarray or tensor of user rows) as float32 CSR.

    A float32 CSR matrix is returned as it is, without a copy.
    """
    if isinstance(x, sp.csr_matrix) and x.dtype == np.float32:
        return x
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


def check_n_items(x: sp.spmatrix, n_items: int) -> None:
    """Raise ValueError unless `x` has `n_items` columns."""
    if x.shape[1] != n_items:
        raise ValueError(
            f"x has {x.shape[1]} item columns but the model was built for {n_items}; "
            "build the rows with the item index the model was trained on"
        )


@dataclass(frozen=True)
class SparseRows:
    """A batch of user rows as torch tensors in CSR layout.

    The tensors share memory with the scipy matrix they came from where the
    dtypes allow it, so building one costs almost nothing.

    Attributes
    ----------
    indptr : Tensor of shape (n_rows + 1,), int64
        Row ``r`` stores its values at positions ``indptr[r]:indptr[r + 1]``.
    indices : Tensor of shape (nnz,), int64
        Item (column) of each stored value.
    values : Tensor of shape (nnz,), float32
    row_index : Tensor of shape (nnz,), int64
        Row of each stored value (the COO row index).
    shape : tuple of int
        ``(n_rows, n_items)``.
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    values: torch.Tensor
    row_index: torch.Tensor
    shape: tuple[int, int]

    def row_sums(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """Sum `values` (default: the stored values) within each row."""
        values = self.values if values is None else values
        out = values.new_zeros(self.shape[0])
        return out.index_add_(0, self.row_index, values)


def to_sparse_rows(x: sp.spmatrix) -> SparseRows:
    """Convert user rows (anything :func:`as_csr` accepts) to :class:`SparseRows`."""
    x = as_csr(x)
    row_index = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(x.indptr))
    return SparseRows(torch.from_numpy(x.indptr).long(),
                      torch.from_numpy(x.indices).long(), torch.from_numpy(x.data),
                      torch.from_numpy(row_index), x.shape)


def csr_to_torch(x: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """Convert a CSR batch to a torch sparse COO tensor of the same shape.

    Duplicate entries are summed, as scipy does when it densifies.
    """
    coo = as_csr(x).tocoo()
    coo.sum_duplicates()  # sorts too, so the tensor can be marked coalesced
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data)
    return torch.sparse_coo_tensor(indices, values, coo.shape, device=device,
                                   is_coalesced=True)
