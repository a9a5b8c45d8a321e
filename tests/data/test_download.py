"""Verified downloads without the network: a loopback HTTP server (127.0.0.1 only) serves
small archives written in the real formats; wrong hashes, truncated and interrupted
transfers are caught and leave nothing in the data folder."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pooch")

from snnbench.cli import main  # noqa: E402
from snnbench.data import download as dl  # noqa: E402
from snnbench.data import load_dataset, write_cifar_batch  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    mode = "ok"  # "ok", "truncate" (close early), "stall" (send half, then wait)

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.mode == "ok":
            self.wfile.write(body)
        elif self.mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(3)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    _Handler.files, _Handler.mode = {}, "ok"
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _md5(b: bytes) -> str:
    return "md5:" + hashlib.md5(b).hexdigest()


def _serve(monkeypatch, name: str, blobs: dict[str, bytes], *, keep_hash: bool = False):
    """Serve ``blobs`` (filename -> bytes) at the recipe's URL paths; the recipe's hashes
    become those of the test files unless ``keep_hash`` (the real published ones)."""
    recipe = dl.DOWNLOADS[name]
    res = []
    for r in recipe.resources:
        _Handler.files[_path(r.url)] = blobs[r.filename]
        h = r.known_hash if keep_hash or r.known_hash is None else _md5(blobs[r.filename])
        res.append(dataclasses.replace(r, known_hash=h))
    monkeypatch.setitem(dl.DOWNLOADS, name, dataclasses.replace(recipe, resources=tuple(res)))


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _mnist_blobs(rng):
    imgs = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8) % 10
    out = {}
    for stem, arr in (("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", imgs[:2]), ("t10k-labels-idx1-ubyte", labels[:2])):
        # the IDX layout written by hand (independent of snnbench's write_idx): magic 0 0 8 rank,
        # big-endian uint32 sizes, then the bytes; gzip-compressed as published
        body = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes() + arr.tobytes()
        out[stem + ".gz"] = gzip.compress(body)
    return imgs, labels, out


def test_fetch_mnist_then_load_it(server, monkeypatch, tmp_path):
    _, base = server
    imgs, labels, blobs = _mnist_blobs(np.random.default_rng(0))
    _serve(monkeypatch, "mnist", blobs)
    root = tmp_path / "data"
    got = dl.fetch("mnist", root, url_base=base)
    assert got == root and (root / "mnist" / dl.MARKER).is_file()
    marker = dl.cached_marker("mnist", root)
    assert marker["verified"] and set(marker["files"]) == set(blobs)
    s = load_dataset("mnist", root=root / "mnist", val_fraction=0.0)
    np.testing.assert_allclose(s.train.x[:, 0].numpy(), imgs / 255.0, atol=1e-7)
    assert s.test.y.tolist() == labels[:2].tolist()
    assert not (root / dl.DOWNLOADS_DIR).exists()  # archives removed after unpacking
    # a second fetch is a no-op (nothing served now), and data list reports it
    _Handler.files.clear()
    assert dl.fetch("mnist", root, url_base=base) == root
    assert [r["state"].startswith("fetched") for r in dl.describe(root) if r["name"] == "mnist"] == [True]


def test_data_download_flag_fetches_on_first_use(server, monkeypatch, tmp_path):
    _, base = server
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, n in [(f"data_batch_{i}", 2) for i in range(1, 6)] + [("test_batch", 4)]:
            p = tmp_path / name
            write_cifar_batch(p, imgs[:n], list(range(n)))
            tar.add(p, arcname=f"cifar-10-batches-py/{name}")
        tar.addfile(tarfile.TarInfo("../evil"), io.BytesIO(b""))  # never written outside the folder
    _serve(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": buf.getvalue()})
    monkeypatch.setenv("SNNBENCH_DATA", str(tmp_path / "cache"))
    real_fetch = dl.fetch
    monkeypatch.setattr(dl, "fetch", lambda name, root=None, **kw: real_fetch(name, root, url_base=base, **kw))
    s = load_dataset("cifar10", download=True, val_fraction=0.0)
    assert len(s.train) == 10 and len(s.test) == 4
    np.testing.assert_allclose(s.test.x.numpy(), imgs / 255.0, atol=1e-7)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cache" / "evil").exists()


def test_shd_zip_and_unverified_sets(server, monkeypatch, tmp_path):
    from snnbench.data.events import write_hsd_h5

    _, base = server
    blobs = {}
    for split in ("train", "test"):
        h5 = tmp_path / f"shd_{split}.h5"
        write_hsd_h5(h5, [np.array([0.01, 0.02])] * 2, [np.array([1, 2])] * 2, [0, 1])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.write(h5, f"shd_{split}.h5")
        blobs[f"shd_{split}.h5.zip"] = buf.getvalue()
    _serve(monkeypatch, "shd", blobs)
    root = dl.fetch("shd", tmp_path / "d", url_base=base)
    assert (root / "shd" / "shd_train.h5").is_file() and (root / "shd" / "shd_test.h5").is_file()
    with pytest.raises(ValueError, match="fsdd has no published checksum .*--allow-unverified"):
        dl.fetch("fsdd", tmp_path / "d", url_base=base)
    with pytest.raises(ValueError, match="no download for 'imagenet'; downloadable sets"):
        dl.fetch("imagenet", tmp_path / "d")


def test_wrong_hash_is_refused_and_nothing_is_kept(server, monkeypatch, tmp_path):
    _, base = server
    _, _, blobs = _mnist_blobs(np.random.default_rng(2))
    _serve(monkeypatch, "mnist", blobs, keep_hash=True)  # the real md5s cannot match these files
    root = tmp_path / "d"
    with pytest.raises(ValueError, match="does not match its published hash \\(md5:f68b3c2dcbeaaa9fbdd348bbdeb94873\\)"):
        dl.fetch("mnist", root, url_base=base)
    assert _files(root) == [] and not (root / "mnist").exists()


@pytest.mark.parametrize("mode", ["truncate", "stall"])
def test_truncated_and_interrupted_downloads_leave_nothing(server, monkeypatch, tmp_path, mode):
    _, base = server
    wavs = io.BytesIO()
    with tarfile.open(fileobj=wavs, mode="w:gz") as tar:
        data = b"RIFF" + bytes(4000)
        info = tarfile.TarInfo("free-spoken-digit-dataset-1.0.10/recordings/0_a_0.wav")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    _serve(monkeypatch, "fsdd", {"free-spoken-digit-dataset-1.0.10.tar.gz": wavs.getvalue()})
    _Handler.mode = mode
    root = tmp_path / "d"
    with pytest.raises(ValueError, match="downloading .* failed .*nothing was kept"):
        dl.fetch("fsdd", root, allow_unverified=True, url_base=base, timeout=1.0)
    assert _files(root) == [] and not (root / "fsdd").exists()
    # the same server, working again: the unverified fetch records the SHA-256 that arrived
    _Handler.mode = "ok"
    dl.fetch("fsdd", root, allow_unverified=True, url_base=base)
    marker = dl.cached_marker("fsdd", root)
    assert not marker["verified"]
    want = hashlib.sha256(wavs.getvalue()).hexdigest()
    assert marker["files"]["free-spoken-digit-dataset-1.0.10.tar.gz"]["sha256"] == want
    assert (root / "fsdd" / "recordings" / "0_a_0.wav").is_file()


def test_data_cli_list_and_fetch(server, monkeypatch, tmp_path, capsys):
    _, base = server
    _, _, blobs = _mnist_blobs(np.random.default_rng(3))
    _serve(monkeypatch, "mnist", blobs)
    real_fetch = dl.fetch
    monkeypatch.setattr(dl, "fetch", lambda name, root=None, **kw: real_fetch(name, root, url_base=base, **kw))
    root = tmp_path / "d"
    assert main(["data", "list", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "not cached" in out and "none published" in out
    assert main(["data", "fetch", "mnist", "--root", str(root), "--no-progress"]) == 0
    assert main(["data", "list", "--root", str(root)]) == 0
    assert any(line.split()[:2] == ["mnist", "fetched"] for line in capsys.readouterr().out.splitlines())
    assert main(["data", "fetch", "wisdm", "--root", str(root)]) == 2
    assert "--allow-unverified" in capsys.readouterr().err


def test_recipes_carry_published_hashes_or_say_none():
    for r in dl.DOWNLOADS.values():
        for res in r.resources:
            assert res.url.startswith("https://")
            if res.known_hash is None:
                assert "none published" in r.hash_source
            else:
                algo, digest = res.known_hash.split(":")
                assert len(digest) == {"md5": 32, "sha256": 64}[algo]
