"""Verified downloads of the public sets into the data folder (``snnbench data fetch NAME``,
``data.download: true``).

Each set has a recipe: the published URLs, the published checksum of each file (md5 or
sha256, as the dataset's own page or torchvision/tonic publish them), and how the
archive becomes the folder its loader reads. Downloads go through pooch (streamed to a
temporary file, hashed, renamed only when the hash matches); the folder is then built in a
temporary directory beside it and renamed into place, so an interrupted, truncated or
corrupted download leaves nothing half-written behind. A marker file
(``.snnbench-fetched.json``, written last) records what was fetched and its hashes.

Where no checksum has been published (FSDD, WISDM) the recipe says so, the download needs
``allow_unverified=True`` (``--allow-unverified``), and the SHA-256 of what arrived is
recorded in the marker so that a later fetch can be compared with it.

The data folder is :func:`~snnbench.data.paths.default_data_root` (the per-user cache, or
``$SNNBENCH_DATA``), or ``root``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._files import atomic_write_text
from .paths import default_data_root

MARKER = ".snnbench-fetched.json"
DOWNLOADS_DIR = ".downloads"


@dataclass(frozen=True)
class Resource:
    """One published file: where it is, its published hash (``"md5:..."``/``"sha256:..."``
    or None where none is published), and which archive members to keep.

    ``members``: glob of archive member paths to extract (None: store the file as it is);
    ``strip``: leading path components removed from each kept member.
    """

    url: str
    filename: str
    known_hash: str | None
    members: str | None = None
    strip: int = 0


@dataclass(frozen=True)
class Recipe:
    """A downloadable set: its data-folder subfolder, files, and what it needs."""

    name: str
    folder: str
    resources: tuple[Resource, ...]
    size: str
    hash_source: str
    homepage: str

    @property
    def verified(self) -> bool:
        return all(r.known_hash is not None for r in self.resources)


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_NMNIST = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"

DOWNLOADS: dict[str, Recipe] = {r.name: r for r in (
    Recipe(
        "mnist", "mnist",
        tuple(Resource(f"https://ossci-datasets.s3.amazonaws.com/mnist/{f}", f, h) for f, h in zip(_MNIST_FILES, (
            "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873", "md5:d53e105ee54ea40749a09fcbcd1e9432",
            "md5:9fb629c4189551a2d022fa330f9573f3", "md5:ec29112dd5afa0611ce80d1b7f02629c")))
        , "11 MB", "md5 as published by torchvision (datasets.MNIST.resources)", "https://yann.lecun.com/exdb/mnist/",
    ),
    Recipe(
        "fashion_mnist", "fashion_mnist",
        tuple(Resource(f"https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/{f}", f, h)
              for f, h in zip(_MNIST_FILES, (
                  "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", "md5:25c81989df183df01b3e8a0aad5dffbe",
                  "md5:bef4ecab320f06d8554ea6380940ec79", "md5:bb300cfdad3c16e7a12a480ee83cd310"))),
        "30 MB", "md5 as published in the Fashion-MNIST README and torchvision", "https://github.com/zalandoresearch/fashion-mnist",
    ),
    Recipe(
        "cifar10", "cifar10",
        (Resource("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                  "md5:c58f30108f718f92721af3b95e74349a", members="cifar-10-batches-py/*"),),
        "163 MB", "md5 as published on the CIFAR page and by torchvision", "https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    Recipe(
        "shd", "shd",
        (Resource("https://zenkelab.org/datasets/shd_train.h5.zip", "shd_train.h5.zip",
                  "md5:f3252aeb598ac776c1b526422d90eecb", members="shd_train.h5"),
         Resource("https://zenkelab.org/datasets/shd_test.h5.zip", "shd_test.h5.zip",
                  "md5:1503a5064faa34311c398fb0a1ed0a6f", members="shd_test.h5")),
        "~130 MB (zip)", "md5 as published by tonic (tonic.datasets.SHD)", "https://zenkelab.org/datasets/",
    ),
    Recipe(
        "nmnist", "NMNIST",
        (Resource(_NMNIST + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded", "train.zip",
                  "sha256:1a54ee392a5e5082a0bef52911cd9211f63b950a4905ccd8890553804d3335f9", members="Train/*"),
         Resource(_NMNIST + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded", "test.zip",
                  "sha256:6ecfd5d85dbb49a631961d8dc3101871c5be53e645004ee34064f6557d169f09", members="Test/*")),
        "~1 GB (zip)", "sha256 as published by tonic (tonic.prototype NMNIST; md5 in tonic.datasets.NMNIST)",
        "https://www.garrickorchard.com/datasets/n-mnist",
    ),
    Recipe(
        "fsdd", "fsdd",
        (Resource("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz",
                  "free-spoken-digit-dataset-1.0.10.tar.gz", None, members="*/recordings/*.wav", strip=1),),
        "~17 MB", "none published (GitHub release archive v1.0.10): needs --allow-unverified",
        "https://github.com/Jakobovski/free-spoken-digit-dataset",
    ),
    Recipe(
        "wisdm", "wisdm_v1.1_transformed",
        (Resource("https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz",
                  "WISDM_ar_latest.tar.gz", None, members="*WISDM_ar_v1.1_transformed.arff", strip=1),),
        "~50 MB", "none published (Fordham WISDM lab page): needs --allow-unverified",
        "https://www.cis.fordham.edu/wisdm/dataset.php",
    ),
)}


def _recipe(name: str) -> Recipe:
    key = str(name).strip().lower().replace("-", "_")
    if key not in DOWNLOADS:
        raise ValueError(f"no download for {name!r}; downloadable sets: {sorted(DOWNLOADS)}")
    return DOWNLOADS[key]


def _base(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).expanduser().resolve() if root is not None else default_data_root()


def cached_marker(name: str, root: str | os.PathLike[str] | None = None) -> dict | None:
    """The marker of a fetched set, or None when it has not been fetched there."""
    path = _base(root) / _recipe(name).folder / MARKER
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _safe_target(rel: str, strip: int) -> PurePosixPath | None:
    parts = PurePosixPath(rel).parts
    parts = parts[min(strip, len(parts) - 1):]  # an archive without the top folder keeps its file name
    if not parts or any(p in ("..", "") or p.startswith("/") for p in parts):
        return None  # never write outside the folder being built
    return PurePosixPath(*parts)


def _archive_files(archive: Path):
    """``(member name, open())`` of every regular file in a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, lambda info=info: z.open(info)
    else:
        with tarfile.open(archive) as t:
            for m in t:
                if m.isfile():
                    yield m.name, lambda m=m: t.extractfile(m)


def _extract(archive: Path, res: Resource, into: Path) -> int:
    """Copy the members of ``archive`` matching ``res.members`` into ``into``; returns the
    count. Bad archives raise ValueError naming the file."""
    n = 0
    try:
        for name, open_member in _archive_files(archive):
            target = _safe_target(name, res.strip) if fnmatch.fnmatch(name, res.members) else None
            if target is None:
                continue
            out = into / target
            out.parent.mkdir(parents=True, exist_ok=True)
            with open_member() as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            n += 1
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise ValueError(f"{archive.name} is not a readable archive ({type(err).__name__}: {err})") from None
    if n == 0:
        raise ValueError(f"{archive.name} holds no member matching {res.members!r}: the archive layout changed?")
    return n


def fetch(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    allow_unverified: bool = False,
    progress: bool = False,
    timeout: float = 60.0,
    url_base: str | None = None,
) -> Path:
    """Download ``name`` (see :data:`DOWNLOADS`) into ``root/<folder>`` unless it is there.

    Returns the data folder to pass as ``root`` to the loader. ``url_base`` replaces the
    scheme and host of every URL (a mirror; the tests use a loopback server). Raises
    ValueError on a hash mismatch, a truncated or failed transfer, or an unreadable
    archive; nothing partial is left in the folder.
    """
    recipe = _recipe(name)
    base = _base(root)
    final = base / recipe.folder
    if cached_marker(recipe.name, base) is not None:
        return base
    if not recipe.verified and not allow_unverified:
        raise ValueError(
            f"{recipe.name} has no published checksum ({recipe.hash_source}); to download it anyway "
            f"pass --allow-unverified (snnbench data fetch {recipe.name} --allow-unverified); the SHA-256 "
            "of what arrives is recorded"
        )
    if final.exists() and any(final.iterdir()):
        raise ValueError(
            f"{final} exists but was not fetched by snnbench (no {MARKER}); use it as it is with "
            f"data.root={base}, or remove it and fetch again"
        )
    downloads = base / DOWNLOADS_DIR / recipe.name
    downloads.mkdir(parents=True, exist_ok=True)
    try:
        got = _download_all(recipe, downloads, url_base, progress, timeout)
    except BaseException:
        _remove_downloads(base, downloads)  # nothing partial stays behind, whatever went wrong
        raise
    # build the folder beside its final place, then rename: never a half-built folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{recipe.folder}.partial-", dir=base))
    try:
        files = {}
        for res, path in got:
            if res.members is None:
                shutil.copyfile(path, tmp / res.filename)
            else:
                _extract(path, res, tmp)
            files[res.filename] = {"url": res.url, "known_hash": res.known_hash, "sha256": _sha256(path)}
        marker = {"name": recipe.name, "fetched": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                  "verified": recipe.verified, "files": files}
        atomic_write_text(tmp / MARKER, json.dumps(marker, indent=2) + "\n")
        if final.exists():
            final.rmdir()  # empty (checked above)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_downloads(base, downloads)
        raise
    _remove_downloads(base, downloads)  # archives are not needed once unpacked
    return base


def _remove_downloads(base: Path, downloads: Path) -> None:
    shutil.rmtree(downloads, ignore_errors=True)
    try:
        (base / DOWNLOADS_DIR).rmdir()
    except OSError:
        pass  # another set's download is in there


def _download_all(recipe: Recipe, downloads: Path, url_base: str | None, progress: bool,
                  timeout: float) -> list[tuple[Resource, Path]]:
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    got: list[tuple[Resource, Path]] = []
    for res in recipe.resources:
        url = res.url
        if url_base is not None:
            url = url_base.rstrip("/") + "/" + url.split("://", 1)[1].split("/", 1)[1]
        try:
            path = pooch.retrieve(url, known_hash=res.known_hash, fname=res.filename, path=downloads,
                                  downloader=downloader)
        except ValueError as err:  # pooch's hash mismatch
            raise ValueError(
                f"{recipe.name}: {res.filename} from {url} does not match its published hash "
                f"({res.known_hash}); the file was discarded. Try again later or report a changed upstream file "
                f"({str(err).splitlines()[0][:160]})"
            ) from None
        except (requests.RequestException, OSError) as err:
            raise ValueError(
                f"{recipe.name}: downloading {url} failed ({type(err).__name__}: {str(err)[:200]}); nothing "
                "was kept: check the network and run the fetch again"
            ) from None
        got.append((res, Path(path)))
    return got


# registered datasets that read another set's download
DATASET_DOWNLOAD = {"fsdd-spikes": "fsdd"}


def download_for(dataset: str) -> str | None:
    """The download recipe a registered dataset reads, or None."""
    key = DATASET_DOWNLOAD.get(dataset, dataset)
    return key if key in DOWNLOADS else None


def ensure_downloaded(dataset: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder to pass as ``root`` to ``dataset``'s loader, fetching it first if needed
    (``data.download: true``).

    Sets without a published checksum are not fetched here: that needs an explicit
    ``snnbench data fetch NAME --allow-unverified``.
    """
    key = download_for(dataset)
    if key is None:
        raise ValueError(f"dataset {dataset!r} has no download; downloadable: {sorted(DOWNLOADS)}")
    return fetch(key, root) / DOWNLOADS[key].folder


def describe(root: str | os.PathLike[str] | None = None) -> list[dict]:
    """One row per downloadable set: name, folder, cached or not, size, checksum source."""
    base = _base(root)
    rows = []
    for r in DOWNLOADS.values():
        marker = cached_marker(r.name, base)
        folder = base / r.folder
        state = "fetched " + marker["fetched"] if marker else ("present (not fetched)" if folder.is_dir() and any(folder.iterdir()) else "not cached")
        used_by = sorted({r.name, *(d for d, k in DATASET_DOWNLOAD.items() if k == r.name)})
        if r.name == "nmnist":
            used_by = ["tonic:NMNIST"]
        rows.append({"name": r.name, "folder": str(folder), "state": state, "size": r.size, "used_by": used_by,
                     "checksum": r.hash_source, "homepage": r.homepage, "verified": r.verified})
    return rows
