"""scikit-learn's bundled sets by name: ``sklearn:iris``, ``sklearn:wine``,
``sklearn:breast_cancer``, ``sklearn:digits``. Offline on any machine with scikit-learn.

Canonical splits (stratified, ``random_state=0``, as the design notes fix them): iris 30 %
test (105 / 45), wine 30 % (124 / 54), breast_cancer 30 % (398 / 171), digits 20 %
(1,437 / 360, images ``[1, 8, 8]`` in [0, 1]). ``sklearn:iris`` and ``sklearn:digits`` are
the same data and split as the registered ``iris`` and ``digits``.
"""

from __future__ import annotations

import numpy as np

from .splits import RawData

TEST_FRACTION = {"iris": 0.3, "wine": 0.3, "breast_cancer": 0.3, "digits": 0.2}
SKLEARN_SETS = tuple(TEST_FRACTION)


def load_sklearn_raw(name: str) -> RawData:
    """One of :data:`SKLEARN_SETS` with its canonical split."""
    import sklearn.datasets as skd
    from sklearn.model_selection import train_test_split

    key = name.strip().lower()
    if key not in TEST_FRACTION:
        raise ValueError(
            f"unknown scikit-learn dataset {name!r}; allowed: {', '.join('sklearn:' + n for n in SKLEARN_SETS)}"
        )
    d = getattr(skd, f"load_{key}")()
    y = np.asarray(d.target, dtype=np.int64)
    if key == "digits":
        x = (d.images.astype(np.float32) / 16.0)[:, None]
        kind = "image"
    else:
        x = np.asarray(d.data, dtype=np.float64)
        kind = "tabular"
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_FRACTION[key], stratify=y, random_state=0)
    names = tuple(str(n) for n in d.target_names) if key != "digits" else tuple(str(i) for i in range(10))
    shape = "x".join(str(s) for s in x.shape[1:])
    return RawData(
        name=f"sklearn:{key}", kind=kind, train_x=x_tr, train_y=y_tr, test_x=x_te, test_y=y_te,
        class_names=names,
        description=f"scikit-learn {key} ({len(y)} samples, {shape} features, {len(names)} classes; "
        f"{len(y_tr)} train / {len(y_te)} test)",
        extra={"source": f"scikit-learn load_{key}"},
    )
