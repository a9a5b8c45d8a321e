"""WISDM v1.1 transformed features: arff parsing, user-wise split, median imputation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbench.data import load_dataset
from snnbench.data.wisdm import FILE, load_wisdm_raw, read_arff, read_wisdm

# the development copy of the data, passed explicitly: $SNNBENCH_DATA, else ../shared/data
# beside the repository (snnbench itself never looks there); tests skip when absent
DEV_DATA = Path(os.environ.get("SNNBENCH_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
WISDM = DEV_DATA / "wisdm_v1.1_transformed"
real = pytest.mark.skipif(not (WISDM / FILE).is_file(), reason=f"WISDM arff not present at {WISDM}")

TOY = """% a comment
@relation toy

@attribute "UNIQUE_ID" numeric
@attribute "user"
@attribute 'A' numeric
@attribute B numeric
@attribute class

@data
1,1,0.5,10,Walking
2,1,?,20,Jogging
3,2,1.5,?,Walking
4,2,2.5,40,Jogging
5,3,3.5,50,Walking

6,3,9.0,60,Jogging
"""


def test_arff_parser_on_a_small_file(tmp_path):
    p = tmp_path / "toy.arff"
    p.write_text(TOY)
    names, rows = read_arff(p)
    assert names == ["UNIQUE_ID", "user", "A", "B", "class"]
    assert len(rows) == 6 and rows[1][2] == "?"
    x, users, labels, feats = read_wisdm(p)
    assert feats == ["A", "B"] and users.tolist() == [1, 1, 2, 2, 3, 3]
    assert np.isnan(x[1, 0]) and np.isnan(x[2, 1]) and x[5, 0] == 9.0
    assert labels.tolist()[:2] == ["Walking", "Jogging"]
    p.write_text(TOY.replace("4,2,2.5,40,Jogging", "4,2,2.5,Jogging"))
    with pytest.raises(ValueError, match=r"toy\.arff:14: expected 5 comma-separated values.*got 4"):
        read_arff(p)


def test_median_imputation_uses_training_rows(tmp_path):
    (tmp_path / FILE).write_text(TOY)
    raw = load_wisdm_raw(tmp_path, split="user")
    assert set(raw.extra["train_users"]).isdisjoint(raw.extra["test_users"])
    s = load_dataset("wisdm", root=tmp_path, val_fraction=0.0)
    assert s.info.input_shape == (2,) and s.info.class_names == ("Jogging", "Walking")
    tr = np.asarray(raw.train_x)
    med = np.nanmedian(tr, axis=0)
    filled = np.where(np.isnan(tr), med, tr)
    lo, hi = filled.min(0), filled.max(0)
    np.testing.assert_allclose(s.train.x.numpy(), (filled - lo) / (hi - lo), atol=1e-6)
    te = np.where(np.isnan(np.asarray(raw.test_x)), med, raw.test_x)
    np.testing.assert_allclose(s.test.x.numpy(), np.clip((te - lo) / (hi - lo), 0, 1), atol=1e-6)


def test_missing_file_names_file_folder_and_source(tmp_path):
    with pytest.raises(ValueError, match=rf"{FILE} not found in {tmp_path}.*fordham"):
        load_dataset("wisdm", root=tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("wisdm", root=tmp_path, split="time")


@real
def test_real_file_user_split():
    x, users, labels, feats = read_wisdm(WISDM / FILE)
    assert x.shape == (5418, 43) and len(np.unique(users)) == 36
    assert np.isnan(x).any() and feats[0] == "X0" and feats[-1] == "RESULTANT"
    raw = load_wisdm_raw(WISDM)
    assert set(raw.extra["train_users"]).isdisjoint(raw.extra["test_users"])
    assert len(raw.extra["train_users"]) + len(raw.extra["test_users"]) == 36
    s = load_dataset("wisdm", root=WISDM, val_fraction=0.1)
    assert len(s.train) + len(s.val) + len(s.test) == 5418
    assert s.info.num_classes == 6 and s.info.input_shape == (43,)
    # every activity occurs in the test users
    assert (torch.bincount(s.test.y, minlength=6) > 0).all()
    for split in (s.train, s.val, s.test):
        assert not torch.isnan(split.x).any()
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0


@real
def test_real_file_random_split_is_stratified_80_20():
    s = load_dataset("wisdm", root=WISDM, val_fraction=0.0, split="random")
    assert (len(s.train), len(s.test)) == (4334, 1084)
    share = torch.bincount(s.train.y).double() / len(s.train)
    assert (torch.bincount(s.test.y).double() / len(s.test) - share).abs().max() < 0.01
