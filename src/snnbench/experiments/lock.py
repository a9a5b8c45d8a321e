"""The lock of a run folder: one process at a time trains into it.

``RUN/.lock`` holds the pid and host of the process that trains the folder, under an
exclusive, non-blocking ``flock`` (``msvcrt.locking`` on Windows). The operating system
drops the lock when that process ends in any way, kill -9 included, so a lock left by a
dead process is stale by construction and is taken over (the log says whose it was); a
second live process gets an error naming the holder's pid. The file stays in place after
release (emptied): deleting it would let two processes lock two different files.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import TracebackType

from .config import ConfigError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_FILE = ".lock"


class RunFolderBusy(ConfigError):
    """Another live process holds the run folder's lock."""


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 200).decode(errors="replace").strip()


class RunLock:
    """Exclusive lock on ``run_dir`` for the lifetime of a ``with`` block (or acquire/release).
    ``stale`` is the holder text of a lock left by a process that died, if one was taken over."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.stale: str | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = _read(fd) or "another process"
            os.close(fd)
            raise RunFolderBusy(
                f"run folder {str(self.run_dir)!r} is in use by {holder} (lock file {str(self.path)!r}); "
                "wait for it to finish or stop it, then resume"
            )
        previous = _read(fd)
        if previous:  # the kernel released a lock whose holder died without releasing it
            self.stale = previous  # the caller says so (the CLI prints it)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # empty: released cleanly, not stale
        finally:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
