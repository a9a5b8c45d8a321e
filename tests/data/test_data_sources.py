"""Dataset sources by name (sklearn:, file:, ucr:) and the checks on a user's data: every
bad input gets a one-line error naming the problem and the fix, before any run folder."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from snnbench.cli import main
from snnbench.data import load_dataset
from snnbench.data.arrays import raw_from_arrays


def _series_arrays(rng):
    # 3 classes, 2 channels, lengths 5..9 padded to 9
    n_tr, n_te, l_max = 18, 9, 9
    x_tr = np.zeros((n_tr, l_max, 2))
    x_te = np.zeros((n_te, l_max, 2))
    len_tr = rng.integers(5, l_max + 1, n_tr)
    len_te = rng.integers(5, l_max + 1, n_te)
    for x, lens in ((x_tr, len_tr), (x_te, len_te)):
        for i, n in enumerate(lens):
            x[i, :n] = rng.normal(size=(n, 2))
    return x_tr, np.arange(n_tr) % 3, x_te, np.arange(n_te) % 3, len_tr, len_te


def test_npz_and_csv_round_trip_to_the_same_tensors(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    x_tr, x_te = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    names = np.array(["cat", "dog", "eel"])
    y_tr, y_te = names[np.arange(30) % 3], names[np.arange(12) % 3]
    np.savez(tmp_path / "t.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    rows = [dict(zip(["a", "b", "c", "d"], r), species=lab, split=sp)
            for xs, ys, sp in ((x_tr, y_tr, "train"), (x_te, y_te, "test")) for r, lab in zip(xs, ys)]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    a = load_dataset(f"file:{tmp_path / 't.npz'}", val_fraction=0.2, seed=1)
    b = load_dataset(f"file:{tmp_path / 't.csv'}", val_fraction=0.2, seed=1, label="species")
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        torch.testing.assert_close(sa.x, sb.x, rtol=0, atol=1e-6)  # CSV stores ~17 digits
        assert torch.equal(sa.y, sb.y)
    assert a.info.kind == b.info.kind == "tabular" and a.info.class_names == ("cat", "dog", "eel")
    assert a.info.source.startswith("file ") and a.info.name == "file:t.npz"
    # min-max scaling fitted on the training split only: train spans [0, 1] exactly
    assert torch.allclose(a.train.x.min(0).values, torch.zeros(4))
    assert torch.allclose(a.train.x.max(0).values, torch.ones(4))
    kept = x_tr[_train_rows(x_tr)]
    want_te = (x_te - kept.min(0)) / np.ptp(kept, axis=0)
    np.testing.assert_allclose(a.test.x.numpy(), np.clip(want_te, 0, 1), atol=1e-6)


def _train_rows(x_tr) -> np.ndarray:
    """Which rows of x_tr stayed in train after the validation split (found by the label
    order: carve_validation keeps train rows in file order)."""
    from snnbench.data.splits import carve_validation

    y = np.arange(len(x_tr)) % 3
    tr, _ = carve_validation(y, 0.2, 1)
    return tr


def test_series_npz_and_long_csv_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    x_tr, y_tr, x_te, y_te, len_tr, len_te = _series_arrays(np.random.default_rng(1))
    np.savez(tmp_path / "s.npz", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
             lengths_train=len_tr, lengths_test=len_te)
    rows = []
    for split, xs, ys, lens, off in (("train", x_tr, y_tr, len_tr, 0), ("test", x_te, y_te, len_te, 100)):
        for i, (x, y, n) in enumerate(zip(xs, ys, lens)):
            for t in range(n)[::-1]:  # rows out of time order: the reader sorts them
                rows.append({"sid": off + i, "t": t, "c0": x[t, 0], "c1": x[t, 1], "label": y, "split": split})
    pd.DataFrame(rows).to_csv(tmp_path / "s.csv", index=False)
    a = load_dataset(f"file:{tmp_path / 's.npz'}", val_fraction=0.0)
    b = load_dataset(f"file:{tmp_path / 's.csv'}", val_fraction=0.0, series_id="sid", time="t")
    assert a.info.kind == b.info.kind == "timeseries" and a.info.input_shape == (9, 2)
    for sa, sb in ((a.train, b.train), (a.test, b.test)):
        assert torch.equal(sa.lengths, sb.lengths) and torch.equal(sa.y, sb.y)
        torch.testing.assert_close(sa.x, sb.x, rtol=0, atol=1e-6)
    # standardised with statistics of the valid training steps only
    valid = np.concatenate([x[:n] for x, n in zip(x_tr, len_tr)])
    z = (x_te[0, : len_te[0]] - valid.mean(0)) / valid.std(0)
    np.testing.assert_allclose(a.test.x[0, : len_te[0]].numpy(), z, rtol=1e-5, atol=1e-6)
    assert float(a.test.x[0, len_te[0]:].abs().sum()) == 0.0


def test_ts_pair_and_images(tmp_path):
    body = "@problemName T\n@timeStamps false\n@univariate true\n@classLabel true a b\n@data\n"
    rng = np.random.default_rng(2)
    for split, n in (("TRAIN", 6), ("TEST", 4)):
        lines = [",".join(f"{v:.4f}" for v in rng.normal(size=7)) + f":{'ab'[i % 2]}" for i in range(n)]
        (tmp_path / f"T_{split}.ts").write_text(body + "\n".join(lines) + "\n")
    s = load_dataset(f"file:{tmp_path / 'T_TRAIN.ts'}", val_fraction=0.0)
    assert (len(s.train), len(s.test), s.info.input_shape, s.info.class_names) == (6, 4, (7, 1), ("a", "b"))
    imgs = rng.integers(0, 256, size=(20, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "im.npz", x_train=imgs[:14], y_train=np.arange(14) % 2, x_test=imgs[14:], y_test=np.arange(6) % 2)
    im = load_dataset(f"file:{tmp_path / 'im.npz'}", kind="image", val_fraction=0.0)
    assert im.info.kind == "image" and im.info.input_shape == (1, 5, 5)
    np.testing.assert_allclose(im.test.x[:, 0].numpy(), imgs[14:] / 255.0, atol=1e-7)
    with pytest.raises(ValueError, match="a .ts file holds series, not kind='image'"):
        load_dataset(f"file:{tmp_path / 'T_TRAIN.ts'}", kind="image")


def test_sklearn_sets_canonical_splits():
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.model_selection import train_test_split

    for name, loader, sizes in (("wine", load_wine, (124, 54)), ("breast_cancer", load_breast_cancer, (398, 171))):
        s = load_dataset(f"sklearn:{name}", val_fraction=0.0)
        x, y = loader(return_X_y=True)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
        assert (len(s.train), len(s.test)) == sizes and s.info.kind == "tabular"
        assert s.train.y.tolist() == ytr.tolist() and s.test.y.tolist() == yte.tolist()
        want = np.clip((xte - xtr.min(0)) / np.ptp(xtr, axis=0), 0, 1)
        np.testing.assert_allclose(s.test.x.numpy(), want, atol=1e-6)
        assert s.info.source == f"scikit-learn load_{name}"
    iris = load_dataset("sklearn:iris")
    old = load_dataset("iris")
    assert torch.equal(iris.test.x, old.test.x) and iris.info.name == "sklearn:iris"
    assert load_dataset("sklearn:digits").info.input_shape == (1, 8, 8)


def test_small_many_class_series_gets_one_validation_sample_per_class():
    with pytest.warns(UserWarning, match="gives 5 validation samples for 10 classes; using 10"):
        s = load_dataset("ucr:PickupGestureWiimoteZ")
    assert (len(s.train), len(s.val), len(s.test)) == (40, 10, 50)
    assert sorted(s.val.y.tolist()) == list(range(10))


# --------------------------------------------------------------------------- bad input


def _npz(tmp_path, name="bad.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return f"file:{path}"


@pytest.mark.parametrize("case, match", [
    ("regression", "looks like a regression problem: .* non-integer target values"),
    ("single_class", "the training split has a single class \\('7', 12 samples\\)"),
    ("one_per_class", "class '2' has a single training sample.*set data.val_fraction=0"),
    ("nan", "x_train has 1 NaN value\\(s\\) \\(first at index \\(3, 1\\)\\): fill or drop them"),
    ("inf", "x_test has 1 infinite value\\(s\\).*clip to a finite range"),
    ("bool_labels", "y_train holds booleans; labels must be integers or strings"),
    ("nan_labels", "y_train has 1 missing or infinite label"),
    ("unseen_class", "occur in the test split but not in the training split"),
    ("image_range", "images must be uint8 \\(0..255\\) or floats in \\[0, 1\\]"),
    ("dims", "x_train has 5 dimensions; expected \\[N, F\\]"),
])
def test_bad_arrays_are_refused_with_the_fix(tmp_path, case, match):
    rng = np.random.default_rng(0)
    x, xt = rng.normal(size=(12, 3)), rng.normal(size=(6, 3))
    y, yt = np.arange(12) % 3, np.arange(6) % 3
    kind = None
    if case == "regression":
        y = rng.normal(size=12)
    elif case == "single_class":
        y = np.full(12, 7)
        yt = np.full(6, 7)
    elif case == "one_per_class":
        y = np.array([0] * 6 + [1] * 5 + [2])
    elif case == "nan":
        x[3, 1] = np.nan
    elif case == "inf":
        xt[2, 0] = -np.inf
    elif case == "bool_labels":
        y = np.arange(12) % 2 == 0
    elif case == "nan_labels":
        y = y.astype(float)
        y[4] = np.nan
    elif case == "unseen_class":
        yt = np.arange(6) % 4
    elif case == "image_range":
        x, xt, kind = rng.normal(size=(12, 4, 4)), rng.normal(size=(6, 4, 4)), "image"
    elif case == "dims":
        x, xt = np.zeros((12, 1, 1, 1, 1)), np.zeros((6, 1, 1, 1, 1))
    name = _npz(tmp_path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    with pytest.raises(ValueError, match=match) as err:
        load_dataset(name, kind=kind)
    assert "\n" not in str(err.value)


def test_nan_features_can_be_imputed_on_request(tmp_path):
    x = np.arange(36, dtype=float).reshape(12, 3)
    x[0, 0] = np.nan
    name = _npz(tmp_path, x_train=x, y_train=np.arange(12) % 2, x_test=x[:4] + 1, y_test=np.arange(4) % 2)
    s = load_dataset(name, val_fraction=0.0, missing="impute")
    assert bool(torch.isfinite(s.train.x).all())


def test_ragged_and_object_arrays(tmp_path):
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros((4, 2)), np.zeros((5, 2)), np.zeros((4, 2))]
    np.savez(tmp_path / "r.npz", x_train=ragged, y_train=np.arange(3), x_test=ragged, y_test=np.arange(3))
    with pytest.raises(ValueError, match="stores Python objects \\(ragged arrays\\?\\): save series zero padded"):
        load_dataset(f"file:{tmp_path / 'r.npz'}")
    with pytest.raises(ValueError, match="x_train is ragged .*lengths_train / lengths_test"):
        raw_from_arrays([np.zeros((4, 2)), np.zeros((5, 2))], [0, 1], [np.zeros((4, 2))], [0])
    with pytest.raises(ValueError, match="y_train\\[1\\] is None .*fill in the missing labels"):
        raw_from_arrays(np.zeros((3, 2)), np.array(["a", None, "b"], dtype=object), np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="holds complex numbers; labels must be integers or strings"):
        raw_from_arrays(np.zeros((3, 2)), np.array([1j, 2j, 1j]), np.zeros((2, 2)), ["a", "b"])


def test_bad_files_and_names(tmp_path):
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="unsupported file type '.txt'"):
        load_dataset(f"file:{tmp_path / 'x.txt'}")
    with pytest.raises(ValueError, match="does not exist; check the path after 'file:'"):
        load_dataset(f"file:{tmp_path / 'missing.npz'}")
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="is not a readable .npz file"):
        load_dataset(f"file:{tmp_path / 'c.npz'}")
    np.savez(tmp_path / "k.npz", x_train=np.zeros((4, 2)), labels=np.arange(4))
    with pytest.raises(ValueError, match="lacks \\['y_train'\\]; a .npz dataset holds x_train, y_train"):
        load_dataset(f"file:{tmp_path / 'k.npz'}")
    df = pd.DataFrame({"f": np.arange(10.0), "colour": ["r", "g"] * 5, "target": [0, 1] * 5})
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="has no label column 'label'.*--set data.label=COLUMN"):
        load_dataset(f"file:{tmp_path / 't.csv'}")
    with pytest.raises(ValueError, match="column\\(s\\) \\['colour'\\] are not numeric"):
        load_dataset(f"file:{tmp_path / 't.csv'}", label="target")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "t.parquet").write_bytes(b"PAR1")
        with pytest.raises(ValueError, match="needs a Parquet engine: pip install pyarrow"):
            load_dataset(f"file:{tmp_path / 't.parquet'}")
    with pytest.raises(ValueError, match="unknown scikit-learn dataset 'wines'"):
        load_dataset("sklearn:wines")
    with pytest.raises(ValueError, match="'Covid3Month' is a regression problem"):
        load_dataset("ucr:Covid3Month")
    with pytest.raises(ValueError, match="got unknown option\\(s\\) \\['label'\\]"):
        load_dataset("sklearn:wine", label="x")


def test_cli_refuses_bad_data_before_the_run_folder(tmp_path, capsys):
    name = _npz(tmp_path, x_train=np.random.default_rng(0).normal(size=(10, 2)), y_train=np.linspace(0, 1, 10),
                x_test=np.zeros((3, 2)), y_test=np.linspace(0, 1, 3))
    out = tmp_path / "run"
    assert main(["run", "tabular", "--set", f"data.name={name}", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "regression problem" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["run", "series", "--set", "data.name=sklearn:wine", "--out", str(out)]) == 2
    assert "is tabular data, but this config expects series" in capsys.readouterr().err and not out.exists()


def test_tabular_preset_names_the_dataset_in_results(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["run", "tabular", "--set", "data.name=sklearn:iris", "--set", "train.epochs=1", "--seeds", "1",
               "--out", str(out), "--no-progress", "--no-report"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| tabular | sklearn:iris | snn (snn_ff) |" in printed
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["dataset"] for r in rows} == {"sklearn:iris"}
    assert {r["dataset_source"] for r in rows} == {"scikit-learn load_iris"}


def test_ten_class_series_with_fifty_samples_runs_with_defaults(tmp_path, capsys):
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(10), 5)
    x = rng.normal(size=(50, 12, 2)) + y[:, None, None] * 0.3
    name = _npz(tmp_path, "ten.npz", x_train=x, y_train=y, x_test=x[::-1] + 0.01, y_test=y[::-1])
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        rc = main(["run", "series", "--set", f"data.name={name}", "--set", "train.epochs=1", "--seeds", "1",
                   "--out", str(out), "--no-progress", "--no-report"])
    assert rc == 0
    final = json.loads((out / "series" / "snn" / "seed0" / "final.json").read_text())
    assert final["dataset"] == "file:ten.npz" and len(final["extra"]["labels"]) == 50


def test_config_names_a_file_by_its_absolute_path(tmp_path, monkeypatch):
    from snnbench.experiments.config import DataConfig

    monkeypatch.chdir(tmp_path)
    d = DataConfig(name="file:sub/my.npz", label="y")
    assert d.name == f"file:{tmp_path / 'sub' / 'my.npz'}"
    assert d.load_kwargs() == {"root": None, "val_fraction": 0.1, "label": "y"}


def test_split_and_table_errors_name_the_fix(tmp_path):
    pd = pytest.importorskip("pandas")
    y = np.repeat(np.arange(3), 2)
    name = _npz(tmp_path, x_train=np.random.default_rng(0).normal(size=(6, 2)), y_train=y,
                x_test=np.zeros((3, 2)), y_test=np.arange(3))
    with pytest.raises(ValueError, match="val_fraction=0.8 leaves 1 of 6 training samples for 3 classes; "
                                         "lower data.val_fraction to at most 0.50"):
        load_dataset(name, val_fraction=0.8)
    rows = pd.DataFrame({"sid": [1, 1, 2, 2], "t": [0, 1, 0, 0], "v": [1.0, 2, 3, 4], "label": ["a", "b", "a", "a"]})
    rows.to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(ValueError, match="series 1 has 2 different labels"):
        load_dataset(f"file:{tmp_path / 'long.csv'}", series_id="sid", time="t")
    rows.assign(label="a").to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(ValueError, match="series 2 has repeated 't' values"):
        load_dataset(f"file:{tmp_path / 'dup.csv'}", series_id="sid", time="t")
    with pytest.raises(ValueError, match="needs both data.series_id and data.time"):
        load_dataset(f"file:{tmp_path / 'dup.csv'}", series_id="sid")
    with pytest.raises(ValueError, match="unknown dataset 'wine' \\(did you mean 'sklearn:wine'\\?\\)"):
        load_dataset("wine")


def test_python_arrays_register_as_a_named_dataset(monkeypatch):
    from snnbench.data import raw_from_arrays, register_dataset, registry

    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))
    rng = np.random.default_rng(4)
    x, xt = rng.normal(size=(20, 6, 3)), rng.normal(size=(8, 6, 3))
    register_dataset("mine", lambda: raw_from_arrays(x, np.arange(20) % 2, xt, np.arange(8) % 2, name="mine"),
                     "my series", "timeseries")
    s = load_dataset("mine", val_fraction=0.0)
    assert s.info.kind == "timeseries" and s.info.input_shape == (6, 3) and s.info.sizes == (20, 0, 8)
    flat = x.reshape(-1, 3)
    np.testing.assert_allclose(s.test.x.numpy(), (xt - flat.mean(0)) / flat.std(0), rtol=1e-5, atol=1e-6)
