"""Where datasets and cached features live on disk.

Every file-based loader resolves its default folder through :func:`default_data_root`, so
one environment variable moves all of them; the feature cache goes through
:func:`cache_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SNNBENCH_DATA"
CACHE_ENV = "SNNBENCH_CACHE"


def default_data_root() -> Path:
    """The folder file-based datasets are looked for in when no ``root`` is given.

    Resolution order:

    1. the environment variable ``SNNBENCH_DATA``, if set;
    2. ``../shared/data`` relative to the current working directory (the layout of the
       development machines, where the repository sits next to ``shared/``).

    A user's machine normally has neither: set ``SNNBENCH_DATA`` or pass ``root=`` to
    :func:`snnbench.data.load_dataset`. The path is returned whether or not it exists; the
    loader that needs a file reports which one is missing.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / ".." / "shared" / "data").resolve()


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
