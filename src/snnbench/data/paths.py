"""Where datasets and cached features live on disk.

Every file-based loader resolves its default folder through :func:`default_data_root`, so
one environment variable moves all of them; the feature cache goes through
:func:`cache_dir`. Nothing here looks outside these folders: a dataset that is elsewhere is
named by ``root=`` (``data.root``) or ``SNNBENCH_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SNNBENCH_DATA"
CACHE_ENV = "SNNBENCH_CACHE"
APP_NAME = "snnbench"


def _user_cache() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_data_root() -> Path:
    """The folder file-based datasets are looked for (and downloaded into) when no ``root``
    is given: ``$SNNBENCH_DATA`` if set, else ``data/`` in the per-user cache
    (``platformdirs.user_cache_dir("snnbench")``: ``~/.cache/snnbench/data`` on Linux).

    The path is returned whether or not it exists; the loader that needs a file reports
    which one is missing, and ``snnbench data fetch NAME`` fills it.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (_user_cache() / "data").resolve()


def cache_dir() -> Path:
    """Folder for computed features (created on first use by the writer).

    ``SNNBENCH_CACHE`` if set, else ``$XDG_CACHE_HOME/snnbench``, else ``~/.cache/snnbench``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "snnbench").resolve()


def resolve_root(root: str | os.PathLike[str] | None, subdir: str) -> Path:
    """``root`` if given, else ``default_data_root() / subdir``."""
    if root is not None:
        return Path(root).expanduser().resolve()
    return default_data_root() / subdir
