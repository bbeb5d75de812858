"""Tests for genrec.diffrec on tiny arrays written in the DiffRec layout."""

import numpy as np
import pytest

import genrec
from genrec import diffrec
from genrec.datasets import sha256_of


@pytest.fixture
def split_dir(tmp_path, monkeypatch):
    folder = tmp_path / "diffrec-ml-1m-clean"
    folder.mkdir()
    parts = {
        "train_list.npy": [[0, 0], [0, 1], [1, 2], [2, 0]],
        "valid_list.npy": [[0, 2], [1, 0]],
        # Item 3 never occurs in training, so no model can score it.
        "test_list.npy": [[1, 1], [2, 3]],
    }
    for name, rows in parts.items():
        np.save(folder / name, np.array(rows, dtype=np.int64))
    pins = {name: sha256_of(folder / name) for name in parts}
    monkeypatch.setitem(diffrec.SPLITS, "clean", pins)
    return tmp_path


def test_load_builds_disjoint_matrices(split_dir):
    split = genrec.load_diffrec_split(data_dir=split_dir)
    assert split.train.shape == (3, 3)
    assert split.train.nnz == 4
    assert split.valid.nnz == 2
    assert split.train.multiply(split.valid).nnz == 0


def test_unseen_test_items_are_dropped_and_counted(split_dir):
    split = genrec.load_diffrec_split(data_dir=split_dir)
    assert split.test.nnz == 1
    assert split.n_dropped == 1


def test_changed_file_fails_checksum(split_dir):
    np.save(split_dir / "diffrec-ml-1m-clean" / "test_list.npy", np.zeros((1, 2), np.int64))
    with pytest.raises(genrec.ChecksumError, match="test_list.npy has sha256"):
        genrec.load_diffrec_split(data_dir=split_dir)


def test_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="extract ml-1m_clean.rar"):
        genrec.load_diffrec_split(data_dir=tmp_path)


def test_unknown_variant_rejected():
    with pytest.raises(ValueError, match="variant must be one of"):
        genrec.load_diffrec_split("dirty")
