"""Loading snnbench's optional C kernels (plain shared libraries, called through ctypes).

The libraries are built by ``setup.py`` when snnbench is installed, as optional
extensions: where no C compiler was available they are missing and the numba kernels are
used instead. They exist for memory: the first numba call in a process starts LLVM and
numba's compiler (60-115 MiB resident in our measurements), while each library is a few
hundred KiB.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["library_path", "load_library", "num_threads", "dtype_suffix", "data_ptr",
           "numba_threads", "MIN_WORK_PER_THREAD"]

# Below this many elements of work per thread, starting a thread costs more than it saves.
MIN_WORK_PER_THREAD = 1 << 15


def library_path(directory: Path, stem: str) -> Path | None:
    """The compiled library ``stem`` (e.g. ``_lif_kernels``) in ``directory``, if built."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = Path(directory) / f"{stem}{suffix}"
        if p.is_file():
            return p
    return None


# ctypes argument types of the kernels' signatures.
P, I32, I64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
Signatures = dict[str, tuple[list, object]]  # function name -> (argtypes, restype)


def load_library(directory: Path, stem: str, typed: Callable[[type], Signatures],
                 untyped: Signatures | None = None) -> ctypes.CDLL | None:
    """The library loaded with ctypes and its functions declared, or None when it was not
    built or does not load (built for another platform, or damaged). ``typed(real)`` gives
    the functions that exist once per float type, declared as ``name_f32`` with
    ``real = c_float`` and ``name_f64`` with ``c_double``; ``untyped`` the others."""
    path = library_path(directory, stem)
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError:
        return None
    signatures = dict(untyped or {})
    for suffix, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        signatures.update({f"{name}_{suffix}": sig for name, sig in typed(real).items()})
    for name, (argtypes, restype) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
    return lib


def numba_threads() -> int:
    """numba's thread count (``numba.get_num_threads``), torch's thread count kept.

    numba's OpenMP threading layer starts at the first ``numba.get_num_threads()`` or
    parallel launch, and then sets the OpenMP thread count to numba's (by default the
    number of cores), which torch reads as its own: a process configured for one torch
    thread would silently run every later op on several (other float sums, other timings).
    Code with parallel numba kernels calls this before its first launch; once started, the
    layer leaves the count alone."""
    import numba

    n = torch.get_num_threads()
    count = numba.get_num_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return count


def num_threads(work: int) -> int:
    """Threads for a kernel call: torch's thread count, fewer for small work."""
    return max(1, min(torch.get_num_threads(), work // MIN_WORK_PER_THREAD))


def dtype_suffix(dtype: torch.dtype) -> str:
    """The kernels' name suffix for a tensor dtype (``f32`` or ``f64``)."""
    if dtype == torch.float32:
        return "f32"
    if dtype == torch.float64:
        return "f64"
    raise ValueError(f"the C kernels take float32 or float64 tensors, got {dtype}")


def data_ptr(t: torch.Tensor | None) -> int | None:
    """Address of a tensor's data for ctypes (None -> NULL)."""
    return None if t is None else t.data_ptr()


def keep_freed_memory() -> bool:
    """Make glibc's allocator serve large blocks from the heap and keep freed memory for
    reuse (``mallopt``: ``M_MMAP_MAX`` 0, ``M_TRIM_THRESHOLD`` and ``M_TOP_PAD`` 1 GiB).

    By default every buffer above 32 MiB is a fresh ``mmap`` that the kernel zeroes page by
    page on first touch and that ``free`` returns at once, so a training step pays for new
    pages for each of its large activations and gradients, every step: about a fifth of a
    CIFAR-shaped conv SNN step at T=8 on this CPU (``benchmarks/conv_speed.py
    --keep-freed-memory``). With this, the memory of one step is reused by the next, at the
    price of a higher peak (the heap fragments: 1.2-1.4x on those nets). Process-wide, so
    only the ``snnbench`` command with ``SNNBENCH_KEEP_FREED_MEMORY=1`` (and benchmarks)
    call it, never an import. Returns False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4  # <malloc.h>
    one_gib = 1 << 30
    return all(mallopt(k, v) == 1 for k, v in ((m_mmap_max, 0), (m_trim_threshold, one_gib),
                                               (m_top_pad, one_gib)))
