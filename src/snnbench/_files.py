"""Atomic file writes: write a temporary file in the target's folder, then rename it over
the target, so a run killed at any moment leaves the old file or the new one, never a
torn one. Files get the usual permissions (0666 less the umask), not mkstemp's 0600.

Names that become file or folder names (experiment, model and suite names) are checked by
:func:`check_path_name`, and :func:`path_inside` refuses any path that would leave its base
folder, so a config can never make a run write outside its run folder."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


PATH_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# atomic_write's temporary files: ".<target name>.<mkstemp's 8 random characters>.tmp"
TEMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")


def check_path_name(field: str, value: str) -> str:
    """Require a name that is safe as one path component: letters, digits, ``_ . -`` only,
    and not ``.`` or ``..`` (so no separators, no absolute paths, no parent folders)."""
    if not isinstance(value, str) or not PATH_NAME.fullmatch(value) or value in (".", ".."):
        raise ValueError(
            f"{field} {value!r} becomes a folder name: use only letters, digits, '_', '.' and '-' "
            "(not '.' or '..'), e.g. 'digits-snn'"
        )
    return value


def path_inside(base: str | Path, *parts: str) -> Path:
    """``base / parts...``, refused unless it lies inside ``base`` once symbolic links are
    resolved (a name such as ``../x`` or a link pointing elsewhere cannot escape)."""
    base = Path(base)
    path = base.joinpath(*parts)
    root = base.resolve()
    if path.resolve() != root and root not in path.resolve().parents:
        raise ValueError(f"{str(path)!r} lies outside the run folder {str(base)!r}; refusing to write there")
    return path


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files that killed atomic writes left under ``folder``; return them.
    Only call this while no other process writes there (the run folder's lock is held)."""
    removed = []
    for path in Path(folder).rglob(".*.tmp"):
        if path.is_file() and TEMP_NAME.fullmatch(path.name):
            path.unlink()
            removed.append(path)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a binary temporary file, fsync it and rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # tensors and numpy arrays
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_json_default)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, to_json(obj) + "\n")
