"""Reference classifiers: the field's standard strong models for each data kind, from
well-kept libraries, to show where an SNN and its matched twin stand against practice.
They are **not** parameter-matched.

- time series: aeon's MiniRocket (random convolutional features + ridge) and the 1-nearest
  neighbour under dynamic time warping (1-NN DTW, Sakoe-Chiba window as a fraction of the
  length);
- images and tabular rows (flattened): scikit-learn's multinomial logistic regression and
  histogram gradient boosting.

Each gets a small grid search: every setting is fitted on the training split and scored on
the validation split (carved from train); the best is refitted on train + validation and
tested once. ``fit_seconds`` is that refit's wall time (one thread).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

# 1-NN DTW costs about n_train * n_test * L^2 * C operations; beyond this it is skipped
DTW_MAX_OPS = 4e10


def _flat(split: Any) -> tuple[np.ndarray, np.ndarray]:
    return split.x.reshape(len(split), -1).numpy().astype(np.float64), split.y.numpy()


def _series(split: Any) -> tuple[np.ndarray, np.ndarray]:
    # snnbench series are [N, L, C] (zero padded after each series' end); aeon wants [N, C, L]
    return np.ascontiguousarray(split.x.numpy().transpose(0, 2, 1), dtype=np.float64), split.y.numpy()


def _candidates(kind: str, seed: int) -> list[tuple[str, list[dict[str, Any]], Any]]:
    if kind == "timeseries":
        from aeon.classification.convolution_based import MiniRocketClassifier
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        return [
            ("MiniRocket", [{"n_kernels": 2500}, {"n_kernels": 10000}],
             lambda p: MiniRocketClassifier(n_kernels=p["n_kernels"], random_state=seed)),
            ("1-NN DTW", [{"window": w} for w in (0.0, 0.1, 0.2, 1.0)],
             lambda p: KNeighborsTimeSeriesClassifier(distance="dtw", distance_params={"window": p["window"]},
                                                      n_neighbors=1)),
        ]
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    return [
        ("logistic regression", [{"C": c} for c in (0.01, 0.1, 1.0, 10.0)],
         lambda p: LogisticRegression(C=p["C"], max_iter=2000)),
        ("gradient boosting", [{"learning_rate": lr} for lr in (0.05, 0.1, 0.2)],
         lambda p: HistGradientBoostingClassifier(learning_rate=p["learning_rate"], max_iter=50,
                                                  early_stopping=False, random_state=seed)),
    ]


def reference_rows(data: Any, *, seed: int = 0) -> list[dict[str, Any]]:
    """Fit, choose on validation and test every reference classifier for ``data`` (a
    :class:`~snnbench.data.DatasetSplits` with a non-empty validation split). One dict per
    classifier: ``name``, ``test_accuracy``, ``val_accuracy``, ``chosen``, ``grid`` (each
    setting's validation accuracy), ``fit_seconds``; or ``skipped`` with the reason."""
    if len(data.val) == 0:
        raise ValueError("reference classifiers choose their settings on validation: give a val_fraction > 0")
    kind = data.info.kind
    prep = _series if kind == "timeseries" else _flat
    (xtr, ytr), (xva, yva), (xte, yte) = prep(data.train), prep(data.val), prep(data.test)
    rows = []
    with threadpool_limits(1):  # one thread, like each trial: no oversubscription of shared cores
        for name, grid, make in _candidates(kind, seed):
            rows.append(_fit_one(name, grid, make, (xtr, ytr), (xva, yva), (xte, yte)))
    return rows


def _fit_one(name: str, grid: list[dict[str, Any]], make: Any, train: tuple, val: tuple, test: tuple) -> dict[str, Any]:
    (xtr, ytr), (xva, yva), (xte, yte) = train, val, test
    if name == "1-NN DTW":
        ops = (len(xtr) + len(xva)) * (len(xte) + len(xva)) * xtr.shape[2] ** 2 * xtr.shape[1]
        if ops > DTW_MAX_OPS:
            return {"name": name, "skipped": f"about {ops:.1e} operations (limit {DTW_MAX_OPS:.0e})"}
    scores = []
    for params in grid:
        scores.append(float(np.mean(make(params).fit(xtr, ytr).predict(xva) == yva)))
    best = int(np.argmax(scores))
    model = make(grid[best])
    start = time.perf_counter()
    model.fit(np.concatenate([xtr, xva]), np.concatenate([ytr, yva]))
    fit_seconds = time.perf_counter() - start
    acc = float(np.mean(model.predict(xte) == yte))
    return {"name": name, "test_accuracy": acc, "val_accuracy": scores[best], "chosen": grid[best],
            "grid": [{"params": p, "val_accuracy": s} for p, s in zip(grid, scores)],
            "fit_seconds": fit_seconds, "parameter_matched": False}
