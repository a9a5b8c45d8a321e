"""ArraySplit, finalize on synthetic raw data, and iterate_batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnbench.data import ArraySplit, RawData, encode_labels, finalize, iterate_batches
from snnbench.data.batching import num_batches


def _split(n=10, length=6):
    x = torch.arange(n * length * 2, dtype=torch.float32).reshape(n, length, 2)
    lengths = torch.tensor([(i % length) + 1 for i in range(n)])
    return ArraySplit(x, torch.arange(n) % 3, lengths)


def test_batches_cover_every_sample_once_in_a_seeded_order():
    s = _split(10)
    seen = torch.cat([y for _, y, _ in iterate_batches(s, 4)])
    assert seen.tolist() == s.y.tolist()  # no shuffle: file order
    g1, g2, g3 = (torch.Generator().manual_seed(k) for k in (5, 5, 6))
    xs1 = [x for x, _, _ in iterate_batches(s, 4, shuffle=True, generator=g1)]
    xs2 = [x for x, _, _ in iterate_batches(s, 4, shuffle=True, generator=g2)]
    xs3 = [x for x, _, _ in iterate_batches(s, 4, shuffle=True, generator=g3)]
    assert [len(x) for x in xs1] == [4, 4, 2]
    assert all(torch.equal(a, b) for a, b in zip(xs1, xs2))
    assert not all(torch.equal(a, b) for a, b in zip(xs1, xs3))
    firsts = sorted(int(v) for v in torch.cat(xs1)[:, 0, 0])
    assert firsts == sorted(int(v) for v in s.x[:, 0, 0])
    # x, y and lengths stay aligned after shuffling
    g = torch.Generator().manual_seed(0)
    for x, y, lengths in iterate_batches(s, 3, shuffle=True, generator=g):
        idx = (x[:, 0, 0] / 12).long()
        assert torch.equal(y, s.y[idx]) and torch.equal(lengths, s.lengths[idx])


def test_drop_last_trim_and_counts():
    s = _split(10)
    assert [len(y) for _, y, _ in iterate_batches(s, 4, drop_last=True)] == [4, 4]
    assert num_batches(10, 4) == 3 and num_batches(10, 4, drop_last=True) == 2 and num_batches(0, 4) == 0
    x, _, lengths = next(iterate_batches(s, 3, trim=True))
    assert lengths.tolist() == [1, 2, 3] and x.shape == (3, 3, 2)
    tab = ArraySplit(torch.zeros(5, 3), torch.zeros(5, dtype=torch.long))
    assert [lg for _, _, lg in iterate_batches(tab, 2, trim=True)] == [None, None, None]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        next(iterate_batches(s, 0))
    with pytest.raises(ValueError, match="split must be an ArraySplit"):
        next(iterate_batches((s.x, s.y), 2))


def test_array_split_checks_and_subset():
    s = _split(6)
    assert len(s) == 6 and "n=6" in repr(s)
    sub = s.subset([4, 1])
    assert sub.y.tolist() == [1, 1] and sub.lengths.tolist() == [5, 2]
    assert len(s.subset(s.y == 0)) == 2
    with pytest.raises(ValueError, match="y must be a 1-D long"):
        ArraySplit(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        ArraySplit(torch.zeros(3, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="lengths must be a long tensor"):
        ArraySplit(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(3, dtype=torch.long))


def test_encode_labels_sorts_numeric_names_by_value():
    ytr, yte, names = encode_labels(["10", "2", "1"], ["2"])
    assert names == ("1", "2", "10") and ytr.tolist() == [2, 1, 0] and yte.tolist() == [1]
    ytr, _, names = encode_labels(["b", "a", "c"], [])
    assert names == ("a", "b", "c") and ytr.tolist() == [1, 0, 2]


def test_finalize_tabular_imputes_and_scales_with_training_rows():
    tr = np.array([[1.0, 5.0, 7.0], [np.nan, 5.0, 3.0], [3.0, 5.0, np.nan], [2.0, 5.0, 1.0]])
    te = np.array([[np.nan, 9.0, 10.0], [0.0, 5.0, np.nan]])
    raw = RawData("t", "tabular", tr, np.array([0, 1, 0, 1]), te, np.array([0, 1]), ("a", "b"))
    s = finalize(raw, val_fraction=0.0)
    # column 0: median of train (1, 3, 2) = 2 fills the gaps; range 1..3
    np.testing.assert_allclose(s.train.x[:, 0].numpy(), [0.0, 0.5, 1.0, 0.5])
    np.testing.assert_allclose(s.test.x[:, 0].numpy(), [0.5, 0.0])  # 0 clipped up to 0
    assert torch.all(s.train.x[:, 1] == 0) and torch.all(s.test.x[:, 1] == 0)  # constant column
    np.testing.assert_allclose(s.test.x[:, 2].numpy(), [1.0, (3.0 - 1.0) / 6.0], atol=1e-6)
    assert s.val.x.shape == (0, 3) and s.val.y.dtype == torch.long


def test_finalize_rejects_impossible_stratification_and_bad_input():
    raw = RawData("t", "tabular", np.zeros((3, 2)), np.array([0, 1, 1]), np.zeros((1, 2)), np.array([0]), ("a", "b"))
    with pytest.raises(ValueError, match="val_fraction=0.3: class 'a' has a single training sample.*data.val_fraction=0"):
        finalize(raw, val_fraction=0.3)
    bad = RawData("t", "image", np.full((2, 1, 2, 2), 2.0), np.array([0, 1]), np.zeros((1, 1, 2, 2)), np.array([0]), ("a", "b"))
    with pytest.raises(ValueError, match="image train_x must be finite and in \\[0, 1\\]"):
        finalize(bad, val_fraction=0.0)
    wrong = RawData("t", "tabular", np.zeros((2, 2)), np.array([0, 5]), np.zeros((1, 2)), np.array([0]), ("a", "b"))
    with pytest.raises(ValueError, match="train_y must be 1-D class indices in \\[0, 2\\)"):
        finalize(wrong, val_fraction=0.0)
    kind = RawData("t", "video", np.zeros((2, 2)), np.array([0, 1]), np.zeros((1, 2)), np.array([0]), ("a", "b"))
    with pytest.raises(ValueError, match="kind must be one of"):
        finalize(kind)
