"""UEA/UCR sets through aeon: archive splits, padding, lengths, train-only standardisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnbench.data import load_dataset


def _raw(name: str, split: str):
    from aeon.datasets import load_classification

    return load_classification(name, split=split)


def test_basicmotions_split_and_train_statistics():
    s = load_dataset("basicmotions", val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (40, 40)
    assert s.info.kind == "timeseries" and s.info.input_shape == (100, 6)
    assert s.info.class_names == ("badminton", "running", "standing", "walking")
    assert torch.bincount(s.test.y).tolist() == [10, 10, 10, 10]
    assert s.train.lengths.tolist() == [100] * 40
    xtr, _ = _raw("BasicMotions", "train")  # [N, C, L]
    xte, yte = _raw("BasicMotions", "test")
    mean = xtr.mean(axis=(0, 2))
    std = xtr.std(axis=(0, 2))
    want = (xte.transpose(0, 2, 1) - mean) / std
    np.testing.assert_allclose(s.test.x.numpy(), want, rtol=1e-5, atol=1e-5)
    assert [s.info.class_names[i] for i in s.test.y] == list(yte)
    flat = s.train.x.reshape(-1, 6).double()
    np.testing.assert_allclose(flat.mean(0).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(flat.std(0, unbiased=False).numpy(), 1.0, atol=1e-5)


def test_statistics_ignore_validation_and_test():
    s = load_dataset("basicmotions", val_fraction=0.5, seed=3)
    assert (len(s.train), len(s.val)) == (20, 20)
    assert torch.bincount(s.val.y).tolist() == [5, 5, 5, 5]
    tr = s.train.x.reshape(-1, 6).double()
    np.testing.assert_allclose(tr.mean(0).numpy(), 0.0, atol=1e-6)
    # the held-out halves are scaled with the same statistics, so they are not centred
    assert s.val.x.reshape(-1, 6).double().mean(0).abs().max() > 1e-3


def test_japanesevowels_padding_and_lengths_match_raw():
    s = load_dataset("japanesevowels", val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (270, 370)
    assert s.info.input_shape == (29, 12) and s.info.num_classes == 9
    assert s.info.class_names == tuple(str(i) for i in range(1, 10))
    xtr, ytr = _raw("JapaneseVowels", "train")  # list of [12, L_i]
    xte, _ = _raw("JapaneseVowels", "test")
    stacked = np.concatenate([a.T for a in xtr])
    mean, std = stacked.mean(0), stacked.std(0)
    assert s.train.lengths.tolist() == [a.shape[1] for a in xtr]
    assert s.test.lengths.tolist() == [a.shape[1] for a in xte]
    assert int(s.train.lengths.min()) == 7 and max(s.train.lengths.max(), s.test.lengths.max()) == 29
    for split, raw in ((s.train, xtr), (s.test, xte)):
        for i in (0, 5, len(raw) - 1):
            n = raw[i].shape[1]
            np.testing.assert_allclose(split.x[i, :n].numpy(), (raw[i].T - mean) / std, rtol=1e-5, atol=1e-5)
            assert torch.all(split.x[i, n:] == 0)
    assert [int(v) + 1 for v in s.train.y] == [int(v) for v in ytr]


def test_gunpoint_and_ucr_prefix_are_case_insensitive():
    s = load_dataset("gunpoint", val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (50, 150)
    assert s.info.input_shape == (150, 1) and s.info.class_names == ("1", "2")
    _, yte = _raw("GunPoint", "test")
    assert (s.test.y + 1).tolist() == [int(v) for v in yte]
    p = load_dataset("ucr:GUNPOINT", val_fraction=0.0)
    assert p.info.name == "ucr:GunPoint" and s.info.name == "gunpoint"
    assert torch.equal(p.test.x, s.test.x)


def test_missing_archive_says_where_to_put_it(tmp_path):
    with pytest.raises(ValueError, match=r"ECG200.*not on this machine.*Download.*ECG200_TRAIN\.ts"):
        load_dataset("ucr:ECG200", root=tmp_path)
    with pytest.raises(ValueError, match="unknown UEA/UCR dataset 'NoSuchProblem'"):
        load_dataset("ucr:NoSuchProblem", root=tmp_path)


def _write_ts(path, rows, labels):
    head = [
        "@problemName Toy", "@timeStamps false", "@missing true", "@univariate false",
        "@equalLength false", "@classLabel true a b", "@data",
    ]
    body = [":".join(",".join(str(v) for v in ch) for ch in r) + f":{lab}" for r, lab in zip(rows, labels)]
    path.write_text("\n".join(head + body) + "\n")


def test_user_folder_with_variable_length_and_missing_values(tmp_path):
    d = tmp_path / "Toy"
    d.mkdir()
    train = [[[1, 2, 3], [0, 0, 0]], [[3, 4], [2, 2]], [[5, 6, 7, 8], [1, 1, 1, 1]], [[1, 1], [0, 2]]]
    _write_ts(d / "Toy_TRAIN.ts", train, ["b", "a", "b", "a"])
    _write_ts(d / "Toy_TEST.ts", [[[2, "NaN", 2], [1, 1, 1]]], ["a"])
    s = load_dataset("ucr:toy", root=tmp_path, val_fraction=0.0)
    assert s.info.name == "ucr:Toy" and s.info.class_names == ("a", "b")
    assert s.train.y.tolist() == [1, 0, 1, 0]
    assert s.train.lengths.tolist() == [3, 2, 4, 2] and s.info.input_shape == (4, 2)
    ch0 = np.array([1, 2, 3, 3, 4, 5, 6, 7, 8, 1, 1], dtype=float)
    m, sd = ch0.mean(), ch0.std()
    np.testing.assert_allclose(s.test.x[0, :, 0].numpy(), [(2 - m) / sd, 0.0, (2 - m) / sd, 0.0], atol=1e-6)
    assert s.test.lengths.tolist() == [3]
