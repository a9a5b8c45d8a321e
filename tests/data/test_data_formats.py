"""IDX (MNIST, Fashion-MNIST) and CIFAR-10 readers on tiny files in the real formats."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from snnbench.data import load_dataset, read_cifar_batch, read_idx, write_cifar_batch, write_idx
from snnbench.data.formats import parse_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    """Independent IDX writer: magic 0x00000803 (uint8, rank 3) etc., big-endian dims."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_folder(folder, rng, n_train=6, n_test=4, gz=False, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 5, 4)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 5, 4)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, a in arrays.items():
        data = _idx_bytes(a)
        if dotted:
            name = name.replace("-idx", ".idx")
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_round_trip(tmp_path, gz):
    arrays = _mnist_folder(tmp_path, np.random.default_rng(0), gz=gz)
    s = load_dataset("mnist", root=tmp_path, val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (6, 4) and s.info.input_shape == (1, 5, 4)
    np.testing.assert_allclose(s.train.x[:, 0].numpy(), arrays["train-images-idx3-ubyte"] / 255.0, atol=1e-7)
    assert s.test.y.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert s.info.kind == "image" and s.info.name == "mnist"


def test_fashion_mnist_layouts_and_names(tmp_path):
    rng = np.random.default_rng(1)
    arrays = _mnist_folder(tmp_path / "FashionMNIST" / "raw", rng, gz=True)  # torchvision layout
    s = load_dataset("fashion_mnist", root=tmp_path, val_fraction=0.0)
    assert s.info.class_names[0] == "T-shirt/top" and s.info.class_names[9] == "Ankle boot"
    assert s.train.y.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    _mnist_folder(tmp_path / "dotted", rng, dotted=True)  # 'train-images.idx3-ubyte' spelling
    assert len(load_dataset("mnist", root=tmp_path / "dotted", val_fraction=0.0).train) == 6


def test_idx_writer_reader_agree_for_several_types(tmp_path):
    for arr in (np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([-5, 7], dtype=np.int16),
                np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2), np.array([1.5, -2.0])):
        write_idx(tmp_path / "a", arr)
        write_idx(tmp_path / "b.gz", arr, compress=True)
        for p in ("a", "b.gz"):
            back = read_idx(tmp_path / p)
            assert back.dtype == arr.dtype and np.array_equal(back, arr)
    assert (tmp_path / "a").read_bytes()[:4] == b"\x00\x00\x0e\x01"


def test_idx_missing_truncated_and_corrupt_files(tmp_path):
    _mnist_folder(tmp_path, np.random.default_rng(2))
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=rf"t10k-labels-idx1-ubyte\[\.gz\] not found; searched {tmp_path}.*yann\.lecun\.com"):
        load_dataset("mnist", root=tmp_path)
    good = _idx_bytes(np.zeros((3, 5, 4)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(4)))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(good[:-7])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte has the wrong size.*\(3, 5, 4\).*53 data bytes \(truncated\)"):
        load_dataset("mnist", root=tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(ValueError, match="not an IDX file: bad magic number 1234"):
        load_dataset("mnist", root=tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        load_dataset("mnist", root=tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(good)  # 3 images but 4 labels
    with pytest.raises(ValueError, match="one label per image"):
        load_dataset("mnist", root=tmp_path)
    with pytest.raises(ValueError, match="truncated: the header"):
        parse_idx(b"\x00\x00\x08\x03\x00\x00", "x")


def _cifar_folder(folder, rng, per_batch=2):
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        imgs = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch)
        # the real format: a dict with bytes keys, rows of 3072 = R plane, G plane, B plane
        d = {b"batch_label": name.encode(), b"data": imgs.reshape(per_batch, 3072), b"labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(d, protocol=2))
        out[name] = (imgs, labels)
    return out


def test_cifar10_round_trip_both_layouts(tmp_path):
    batches = _cifar_folder(tmp_path / "cifar-10-batches-py", np.random.default_rng(3))
    s = load_dataset("cifar10", root=tmp_path, val_fraction=0.0)
    assert (len(s.train), len(s.test)) == (10, 2) and s.info.input_shape == (3, 32, 32)
    imgs, labels = batches["data_batch_3"]
    flat = imgs.reshape(2, 3072)
    # pixel (c, h, w) of image k is byte c*1024 + h*32 + w of its row
    assert float(s.train.x[4, 1, 7, 30]) == pytest.approx(flat[0, 1024 + 7 * 32 + 30] / 255.0)
    assert s.train.y[4:6].tolist() == labels.tolist()
    assert s.info.class_names[0] == "airplane" and s.info.class_names[9] == "truck"
    t = load_dataset("cifar10", root=tmp_path / "cifar-10-batches-py", val_fraction=0.0)
    assert torch.equal(t.test.x, s.test.x)
    write_cifar_batch(tmp_path / "w", imgs, labels)
    back = read_cifar_batch(tmp_path / "w")
    assert np.array_equal(back[0], imgs) and back[1].tolist() == labels.tolist()


def test_cifar10_missing_truncated_and_unsafe(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _cifar_folder(folder, np.random.default_rng(4))
    (folder / "test_batch").unlink()
    with pytest.raises(ValueError, match=rf"test_batch not found in {folder}.*cifar-10-python\.tar\.gz"):
        load_dataset("cifar10", root=tmp_path)
    data = (folder / "data_batch_1").read_bytes()
    (folder / "test_batch").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"test_batch is not a readable CIFAR-10 batch"):
        load_dataset("cifar10", root=tmp_path)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"b'data' must be uint8 \[N, 3072\]"):
        load_dataset("cifar10", root=tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(ValueError, match="refusing to load global builtins.print"):
        load_dataset("cifar10", root=tmp_path)
