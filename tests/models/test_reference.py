"""Reference classifiers: the chosen setting is the validation argmax, and the reported test
accuracy is what scikit-learn / aeon give for that setting refitted on train + validation."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from snnbench.data import load_dataset
from snnbench.models.reference import reference_rows


def test_tabular_references_on_iris():
    d = load_dataset("iris", val_fraction=0.2, seed=0)
    rows = {r["name"]: r for r in reference_rows(d, seed=0)}
    assert set(rows) == {"logistic regression", "gradient boosting"}
    lr = rows["logistic regression"]
    assert lr["val_accuracy"] == max(g["val_accuracy"] for g in lr["grid"])
    assert lr["chosen"] == next(g["params"] for g in lr["grid"] if g["val_accuracy"] == lr["val_accuracy"])
    x = np.concatenate([d.train.x.numpy(), d.val.x.numpy()]).astype(np.float64)
    y = np.concatenate([d.train.y.numpy(), d.val.y.numpy()])
    ref = LogisticRegression(C=lr["chosen"]["C"], max_iter=2000).fit(x, y)
    assert lr["test_accuracy"] == pytest.approx(np.mean(ref.predict(d.test.x.numpy().astype(np.float64)) == d.test.y.numpy()))
    assert all(r["fit_seconds"] > 0 and r["parameter_matched"] is False for r in rows.values())
    assert rows["gradient boosting"]["test_accuracy"] > 0.8


@pytest.mark.slow  # about 20 s idle (1-NN DTW over 4 windows, MiniRocket twice): python -m pytest -m slow tests/models
def test_series_references_on_gunpoint():
    d = load_dataset("gunpoint", val_fraction=0.2, seed=0)
    rows = {r["name"]: r for r in reference_rows(d, seed=0)}
    assert set(rows) == {"MiniRocket", "1-NN DTW"}
    # GunPoint: 1-NN DTW is a classic strong baseline (about 91 % with full DTW on the full train set)
    assert rows["1-NN DTW"]["test_accuracy"] > 0.8 and rows["MiniRocket"]["test_accuracy"] > 0.85


def test_needs_a_validation_split():
    with pytest.raises(ValueError, match="val_fraction > 0"):
        reference_rows(load_dataset("iris", val_fraction=0.0, seed=0))
