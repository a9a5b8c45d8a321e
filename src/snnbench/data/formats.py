"""Readers for datasets the user downloads once into a folder: MNIST / Fashion-MNIST (IDX
files) and CIFAR-10 (python pickled batches).

A missing file gives an error naming the file, the folder searched and where the data
comes from; a truncated or corrupt file gives an error naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import importlib
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

from .._validation import check_choice
from .paths import resolve_root
from .splits import RawData

# ---------------------------------------------------------------------------------- IDX

# IDX header: two zero bytes, a type code, the number of dimensions, then one big-endian
# uint32 per dimension; the data follow in C order, big-endian.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

MNIST_VARIANTS = {
    "mnist": {
        "url": "https://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)",
        "torchvision": "MNIST",
        "classes": tuple(str(i) for i in range(10)),
        "title": "MNIST",
    },
    "fashion_mnist": {
        "url": "https://github.com/zalandoresearch/fashion-mnist (data/fashion/*.gz)",
        "torchvision": "FashionMNIST",
        "classes": (
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        "title": "Fashion-MNIST",
    },
}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _read_maybe_gzip(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path} is a corrupt or truncated gzip file: {err}") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an IDX file into an array of the stored type and shape."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(
            f"{name} is not an IDX file: bad magic number {data[:4].hex() or '(empty)'} "
            f"(expected 0000 then a type code in {[hex(k) for k in IDX_TYPES]} and the rank)"
        )
    dtype, ndim = IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated: the header of a rank-{ndim} IDX file needs {header} bytes, got {len(data)}")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{name} has the wrong size: its header says shape {shape} of {dtype.name} "
            f"({expected} data bytes) but it holds {len(data) - header} data bytes"
            + (" (truncated)" if len(data) - header < expected else "")
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed."""
    path = Path(path)
    return parse_idx(_read_maybe_gzip(path), str(path))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = False) -> None:
    """Write ``array`` as an IDX file (gzip-compressed with ``compress``)."""
    array = np.asarray(array)
    code = next((k for k, v in IDX_TYPES.items() if v.kind == array.dtype.kind and v.itemsize == array.dtype.itemsize), None)
    if code is None or array.ndim > 255:
        raise ValueError(f"array dtype {array.dtype} / rank {array.ndim} cannot be stored as IDX")
    body = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body += np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    Path(path).write_bytes(gzip.compress(body) if compress else body)


def _find_file(folders: list[Path], stem: str) -> Path | None:
    # the official names, their .gz versions, and the 'train-images.idx3-ubyte' spelling
    # some mirrors use
    names = [stem, stem + ".gz"]
    dotted = stem.replace("-idx", ".idx")
    names += [dotted, dotted + ".gz"]
    for folder in folders:
        for n in names:
            if (folder / n).is_file():
                return folder / n
    return None


def load_mnist_idx_raw(root: str | os.PathLike[str] | None = None, *, variant: str = "mnist") -> RawData:
    """Full MNIST or Fashion-MNIST from the four IDX files (60,000 train / 10,000 test).

    ``root`` is the folder with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (``root/raw`` and the
    torchvision layout ``root/MNIST/raw`` are searched too); default
    ``default_data_root()/<variant>``. Images ``[N, 1, H, W]`` scaled by 1/255.
    """
    check_choice("variant", variant, tuple(MNIST_VARIANTS))
    meta = MNIST_VARIANTS[variant]
    base = resolve_root(root, variant)
    folders = [base, base / "raw", base / meta["torchvision"] / "raw"]
    arrays = {}
    for key, stem in MNIST_FILES.items():
        path = _find_file(folders, stem)
        if path is None:
            raise ValueError(
                f"{meta['title']} file {stem}[.gz] not found; searched {', '.join(str(f) for f in folders)}. "
                f"Download the four IDX files from {meta['url']} into one folder and pass root=<that folder>"
            )
        arrays[key] = (read_idx(path), path)
    out = {}
    for split in ("train", "test"):
        (img, ip), (lab, lp) = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if img.ndim != 3 or img.dtype != np.uint8:
            raise ValueError(f"{ip} must hold uint8 images [N, H, W], got {img.dtype} {img.shape}")
        if lab.ndim != 1 or len(lab) != len(img):
            raise ValueError(f"{lp} must hold one label per image of {ip} ({len(img)}), got shape {lab.shape}")
        if lab.size and (lab.min() < 0 or lab.max() > 9):
            raise ValueError(f"{lp} holds labels outside 0..9 (min {lab.min()}, max {lab.max()})")
        out[split] = ((img.astype(np.float32) / 255.0)[:, None], lab.astype(np.int64))
    return RawData(
        name=variant, kind="image",
        train_x=out["train"][0], train_y=out["train"][1], test_x=out["test"][0], test_y=out["test"][1],
        class_names=meta["classes"],
        description=f"{meta['title']} from IDX files ({len(out['train'][1])} train / {len(out['test'][1])} test)",
    )


# ------------------------------------------------------------------------------ CIFAR-10

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

# Only what a pickled dict of numpy arrays needs: a pickle can run arbitrary code, and a
# dataset file from the internet should not be able to.
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core."):]  # numpy >= 2 name
        return getattr(importlib.import_module(module), name)


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch -> (images uint8 ``[N, 3, 32, 32]``, labels int64 ``[N]``)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            d = _SafeUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path} is not a readable CIFAR-10 batch (corrupt or truncated pickle: {err})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path} must hold a dict with b'data' and b'labels', got {type(d).__name__}")
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or "labels" not in d:
        raise ValueError(f"{path} lacks the key b'data' or b'labels' (has {sorted(d)})")
    data = np.asarray(d["data"])
    labels = np.asarray(d["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' must be uint8 [N, 3072], got {data.dtype} {data.shape}")
    if labels.ndim != 1 or len(labels) != len(data):
        raise ValueError(f"{path}: b'labels' must hold {len(data)} labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be in 0..9, got min {labels.min()} max {labels.max()}")
    # rows are 1024 red, then 1024 green, then 1024 blue values, each 32x32 row-major
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def load_cifar10_raw(root: str | os.PathLike[str] | None = None) -> RawData:
    """CIFAR-10 from the python batches (50,000 train / 10,000 test).

    ``root`` is the folder containing ``cifar-10-batches-py/`` or that folder itself;
    default ``default_data_root()/cifar10``. Images ``[N, 3, 32, 32]`` scaled by 1/255.
    """
    base = resolve_root(root, "cifar10")
    folders = [base / CIFAR10_FOLDER, base]
    folder = next((f for f in folders if (f / CIFAR10_TEST).is_file() or (f / CIFAR10_TRAIN[0]).is_file()), folders[0])
    parts = {}
    for name in CIFAR10_TRAIN + (CIFAR10_TEST,):
        path = folder / name
        if not path.is_file():
            raise ValueError(
                f"CIFAR-10 file {name} not found in {folder} (searched {', '.join(str(f) for f in folders)}). "
                f"Download {CIFAR10_URL}, unpack it and pass root=<folder containing {CIFAR10_FOLDER}/>"
            )
        parts[name] = read_cifar_batch(path)
    x_tr = np.concatenate([parts[n][0] for n in CIFAR10_TRAIN])
    y_tr = np.concatenate([parts[n][1] for n in CIFAR10_TRAIN])
    x_te, y_te = parts[CIFAR10_TEST]
    return RawData(
        name="cifar10", kind="image",
        train_x=x_tr.astype(np.float32) / 255.0, train_y=y_tr,
        test_x=x_te.astype(np.float32) / 255.0, test_y=y_te,
        class_names=CIFAR10_CLASSES,
        description=f"CIFAR-10 from python batches ({len(y_tr)} train / {len(y_te)} test)",
    )


def write_cifar_batch(path: str | os.PathLike[str], images: np.ndarray, labels) -> None:
    """Write images uint8 ``[N, 3, 32, 32]`` and labels as a CIFAR-10 python batch."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[1:] != (3, 32, 32):
        raise ValueError(f"images must be uint8 [N, 3, 32, 32], got {images.shape}")
    d = {b"batch_label": b"snnbench", b"data": images.reshape(len(images), -1),
         b"labels": [int(v) for v in labels]}
    Path(path).write_bytes(pickle.dumps(d, protocol=2))


__all__ = [
    "parse_idx", "read_idx", "write_idx", "load_mnist_idx_raw",
    "read_cifar_batch", "write_cifar_batch", "load_cifar10_raw",
]
