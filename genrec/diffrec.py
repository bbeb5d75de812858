"""The ML-1M splits released with DiffRec, as a ready-made train/valid/test split.

W. Wang, Y. Xu, F. Feng, X. Lin, X. He and T.-S. Chua, "Diffusion
Recommender Model", SIGIR 2023 (https://github.com/YiyanXu/DiffRec). The
authors publish each split as three NumPy arrays of 0-based ``[user, item]``
rows (``train_list.npy``, ``valid_list.npy``, ``test_list.npy``) inside a RAR
archive. genrec does not unpack RAR: extract the archive and point
``GENREC_DATA`` at the folder that contains ``diffrec-ml-1m-clean/`` (or
``-noisy/``), or pass `data_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .datasets import ChecksumError, data_home, sha256_of

SPLITS = {
    "clean": {
        "train_list.npy": "b39010ebf49c1159c71b5a44a2a45081f01c3f653f4221027fef2721cc0b0523",
        "valid_list.npy": "93f795d0a8439bb07e644d7e69679a2c1799684bf4b19d10bd415d80a05681b2",
        "test_list.npy": "645010f80c5a4e7b35f154587acacb596cdf3b2502531a7c71e3a8ae020c06c9",
    },
    "noisy": {
        "train_list.npy": "fd19bd8593815306dc43ab8d9c8c856c3b3fa11cad0aef0c13ecface801e2dfb",
        "valid_list.npy": "0b56d7cb7d0d057b2d5eea388a33d5c9fef4c89730712aa35d5d0a5ff0e3e1d0",
        "test_list.npy": "ba638f755595545bbd5255d06685e2427c2d2502806e7ccca07fc3d76aa4e9c6",
    },
}


@dataclass
class DiffRecSplit:
    """Train, validation and test matrices of shape (n_users, n_items).

    Every user appears in all three; the parts are disjoint. Following the
    DiffRec evaluation, validation excludes training items and test excludes
    training and validation items.
    """

    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    variant: str
    n_dropped: int = 0  # valid/test rows on items absent from training

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    def __repr__(self) -> str:
        return (f"DiffRecSplit({self.variant!r}: {self.n_users:,} users, "
                f"{self.n_items:,} items; {self.train.nnz:,} train, "
                f"{self.valid.nnz:,} valid, {self.test.nnz:,} test interactions)")


def load_diffrec_split(variant: str = "clean", *,
                       data_dir: Path | str | None = None) -> DiffRecSplit:
    """Load DiffRec's ML-1M split after checking each array's sha256.

    The matrix has ``max user + 1`` rows and ``max train item + 1`` columns,
    as in DiffRec's own loader.

    Parameters
    ----------
    variant : {"clean", "noisy"}, default "clean"
    data_dir : path, optional
        Folder holding ``diffrec-ml-1m-<variant>/``; default :func:`genrec.data_home`.
    """
    if variant not in SPLITS:
        raise ValueError(f"variant must be one of {sorted(SPLITS)}, got {variant!r}")
    root = Path(data_dir).expanduser() if data_dir is not None else data_home()
    folder = root / f"diffrec-ml-1m-{variant}"
    arrays = {}
    for name, expected in SPLITS[variant].items():
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; extract ml-1m_{variant}.rar from the DiffRec "
                f"repository into {folder}, or set GENREC_DATA to the folder above it"
            )
        actual = sha256_of(path)
        if actual != expected:
            raise ChecksumError(f"{path} has sha256 {actual}, expected {expected}; "
                                "replace it with the file from the DiffRec archive")
        arrays[name] = np.load(path, allow_pickle=False)

    train = arrays["train_list.npy"]
    n_users = int(max(a[:, 0].max() for a in arrays.values())) + 1
    n_items = int(train[:, 1].max()) + 1
    parts, n_dropped = [], 0
    for name in ("train_list.npy", "valid_list.npy", "test_list.npy"):
        rows = arrays[name]
        keep = rows[:, 1] < n_items  # items never trained on cannot be scored
        n_dropped += int((~keep).sum())
        rows = rows[keep]
        parts.append(sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows[:, 0], rows[:, 1])),
            shape=(n_users, n_items)))
    return DiffRecSplit(*parts, variant=variant, n_dropped=n_dropped)
