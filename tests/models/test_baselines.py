"""ANN baselines: shapes, closed-form parameter counts, length handling, recording."""

from __future__ import annotations

import pytest
import torch

from snnbench.models import CNN, MLP, GRUClassifier, LSTMClassifier, count_parameters


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_mlp_shapes_and_count_on_every_kind():
    for shape in [(1, 8, 8), (4,), (10, 3)]:
        m = MLP(shape, [16, 8], 5)
        assert m(_rand(3, *shape)).shape == (3, 5)
        f = 1
        for s in shape:
            f *= s
        assert count_parameters(m) == f * 16 + 16 + 16 * 8 + 8 + 8 * 5 + 5


def test_cnn_shapes_and_count():
    m = CNN((1, 8, 8), [4, 6], 10, kernel_size=3)  # same padding: 8 -> 4 -> 2
    assert m(_rand(2, 1, 8, 8)).shape == (2, 10)
    assert m.feature_shape == (6, 2, 2)
    expected = (1 * 9 * 4 + 4) + (4 * 9 * 6 + 6) + (6 * 2 * 2 * 10 + 10)
    assert count_parameters(m) == expected
    # classic 12c5-p2-32c5-p2 without padding on 28x28: 28 -> 24 -> 12 -> 8 -> 4
    m = CNN((1, 28, 28), [12, 32], 10, kernel_size=5, padding=0, hidden=[20])
    assert m.feature_shape == (32, 4, 4)
    assert m(_rand(2, 1, 28, 28)).shape == (2, 10)


def test_cnn_errors():
    with pytest.raises(ValueError, match="input_shape must be"):
        CNN((64,), [4], 10)
    with pytest.raises(ValueError, match="kernel_size"):
        CNN((1, 4, 4), [4], 10, kernel_size=7, padding=0)
    with pytest.raises(ValueError, match="channels"):
        CNN((1, 8, 8), [], 10)
    with pytest.raises(ValueError, match="x must have shape"):
        CNN((1, 8, 8), [4], 10)(torch.zeros(2, 1, 7, 8))


@pytest.mark.parametrize("cls", [GRUClassifier, LSTMClassifier])
def test_rnn_last_valid_step_equals_unpadded_run(cls):
    torch.manual_seed(0)
    m = cls(3, 6, 2, 4)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 9, 3, generator=g)
    lengths = torch.tensor([5, 9])
    x[0, 5:] = 7.0  # garbage padding must not matter
    logits = m(x, lengths)
    assert logits.shape == (2, 4)
    torch.testing.assert_close(logits[0], m(x[:1, :5])[0])
    torch.testing.assert_close(logits[1], m(x[1:])[0])


@pytest.mark.parametrize("cls", [GRUClassifier, LSTMClassifier])
def test_rnn_on_images_and_tabular(cls):
    m = cls(1 * 8, 5, 1, 3)  # image rows: 8 steps of C*W = 8 features
    assert m(_rand(2, 1, 8, 8)).shape == (2, 3)
    m = cls(1, 5, 1, 3)  # tabular row: F steps of 1 feature
    assert m(_rand(2, 6)).shape == (2, 3)
    with pytest.raises(ValueError, match="features per step"):
        m(_rand(2, 6, 2))
    with pytest.raises(ValueError, match="lengths must be"):
        m(_rand(2, 6, 1), torch.tensor([0, 6]))


def test_ann_record_activity_shapes():
    m = MLP((1, 8, 8), [16], 10)
    m.record = True
    m(_rand(3, 1, 8, 8))
    names = [n for n, _ in m.synapse_layers()]
    assert names == list(m.last_activity) == ["hidden_layers.0", "out"]
    assert m.last_activity["hidden_layers.0"]["input"].shape == (3, 64)
    assert m.last_activity["hidden_layers.0"]["output"].shape == (3, 16)
    assert bool((m.last_activity["hidden_layers.0"]["output"] >= 0).all())  # after ReLU
    assert m.last_activity["out"]["output"].shape == (3, 10)
    c = CNN((1, 8, 8), [4], 10, kernel_size=3)
    c.record = True
    c(_rand(2, 1, 8, 8))
    assert c.last_activity["convs.0"]["output"].shape == (2, 4, 4, 4)
    r = GRUClassifier(3, 5, 1, 2)
    r.record = True
    r(torch.randn(2, 7, 3))
    assert r.last_activity["rnn"]["input"].shape == (7, 2, 3)  # time-first
    assert r.last_activity["rnn"]["output"].shape == (7, 2, 5)
    m.record = False
    m.last_activity = {}
    m(_rand(3, 1, 8, 8))
    assert m.last_activity == {}


def test_ann_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        MLP((4,), [3], 1)
    with pytest.raises(ValueError, match=r"hidden\[0\]"):
        MLP((4,), [0], 3)
    with pytest.raises(ValueError, match="input_shape"):
        MLP((), [3], 3)
    with pytest.raises(ValueError, match="x must have shape"):
        MLP((4,), [3], 3)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="hidden"):
        GRUClassifier(3, 0, 1, 3)
