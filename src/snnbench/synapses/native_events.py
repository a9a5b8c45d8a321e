"""C kernels of the event-driven linear synapse (``_event_kernels.c``), through ctypes.

The same kernels as the numba ones in ``event_linear`` (count, fill, spmm, transpose by
chunks, and the bitmask that keeps spike events between forward and backward), with their
loop and summation order, so results are bit-identical; used instead of numba when the
library was built at install time (see ``snnbench._native``). Every tensor argument is a
contiguous CPU tensor.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from .._native import I32, I64, P, data_ptr, dtype_suffix, load_library, num_threads

__all__ = ["available", "count", "fill", "fill_bits", "spmm", "transpose_chunks",
           "transpose_bits"]


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL | None:
    return load_library(Path(__file__).resolve().parent, "_event_kernels", lambda r: {
        "snn_ev_count": ([P, I64, I64, P, P, P, I32], None),
        "snn_ev_fill": ([P, I64, I64, P, P, P, I64, I32], None),
        "snn_ev_spmm": ([P, I64, P, P, I32, P, I64, P, I32, P, I32], None),
        "snn_ev_transpose_chunks": ([P, I64, P, P, I32, I64, I64, I64, P, P, P, I32], I32),
    }, {
        "snn_ev_fill_bits": ([P, I64, I64, P, P, I64, I32], None),
        "snn_ev_transpose_bits": ([P, P, I64, I64, I64, I64, P, P, I32], I32),
    })


def available() -> bool:
    """Whether the compiled kernels were built and load."""
    return _lib() is not None


def _fn(name: str, dtype: torch.dtype):
    return getattr(_lib(), f"snn_ev_{name}_{dtype_suffix(dtype)}")


def count(x: torch.Tensor, ptr: torch.Tensor, graded: torch.Tensor, bits: torch.Tensor) -> None:
    """ptr[n + 1] = nonzeros of row n of ``x`` [N, K]; graded[n] = how many are not 1;
    ``bits`` [N, ceil(K / 8)] uint8 gets the nonzero pattern (bit k % 8 of byte k // 8)."""
    N, K = x.shape
    _fn("count", x.dtype)(x.data_ptr(), N, K, ptr.data_ptr(), graded.data_ptr(),
                          bits.data_ptr(), num_threads(N * K))


def fill(x: torch.Tensor, ptr: torch.Tensor, idx: torch.Tensor, val: torch.Tensor) -> None:
    """Row n's nonzero columns and values into idx/val[ptr[n]:ptr[n+1]] (the last slot of
    idx/val is a spare that absorbs the branch-free overrun)."""
    N, K = x.shape
    _fn("fill", x.dtype)(x.data_ptr(), N, K, ptr.data_ptr(), idx.data_ptr(), val.data_ptr(),
                         idx.shape[0] - 1, num_threads(N * K))


def spmm(ptr: torch.Tensor, col: torch.Tensor, val: torch.Tensor, src: torch.Tensor,
         out: torch.Tensor, start: int, init: torch.Tensor | None) -> None:
    """out[r, :] = s0 + sum over e in ptr[r]:ptr[r+1] of val[e] * src[col[e], :]; s0 = 0
    (``start`` 0), ``init`` (1) or out[r, :] (2); an empty ``val`` means all ones."""
    R = ptr.shape[0] - 1
    H = src.shape[1]
    _fn("spmm", src.dtype)(ptr.data_ptr(), R, col.data_ptr(), val.data_ptr(),
                           int(val.numel() == 0), src.data_ptr(), H, out.data_ptr(), start,
                           data_ptr(init), num_threads(R * H))


def transpose_chunks(ptr: torch.Tensor, idx: torch.Tensor, val: torch.Tensor, K: int, rows: int,
                     cptr: torch.Tensor, ccol: torch.Tensor, cval: torch.Tensor) -> None:
    """Per chunk c of ``rows`` rows, the compressed rows of x[chunk]^T at the chunk's own
    offsets ``cptr[c, k]:cptr[c, k + 1]`` (chunk-local row indices in ``ccol``)."""
    N = ptr.shape[0] - 1
    nch = cptr.shape[0]
    failed = _fn("transpose_chunks", cval.dtype)(
        ptr.data_ptr(), N, idx.data_ptr(), val.data_ptr(), int(val.numel() == 0), K, rows, nch,
        cptr.data_ptr(), ccol.data_ptr(), cval.data_ptr(), torch.get_num_threads())
    if failed:
        raise MemoryError(f"event transpose: could not allocate {K} counters per thread")



def fill_bits(bits: torch.Tensor, ptr: torch.Tensor, idx: torch.Tensor) -> None:
    """Row n's set bits, ascending, into idx[ptr[n]:ptr[n+1]] (spike events from the
    bitmask that :func:`count` wrote); the last slot of ``idx`` is a spare, as in
    :func:`fill`."""
    N, KB = bits.shape
    _lib().snn_ev_fill_bits(bits.data_ptr(), N, KB, ptr.data_ptr(), idx.data_ptr(),
                            idx.shape[0] - 1, num_threads(N * KB * 8))


def transpose_bits(bits: torch.Tensor, ptr: torch.Tensor, K: int, rows: int, cptr: torch.Tensor,
                   ccol: torch.Tensor) -> None:
    """:func:`transpose_chunks` of spike events read from their bitmask (``ptr``: the
    events' row offsets)."""
    N = bits.shape[0]
    failed = _lib().snn_ev_transpose_bits(bits.data_ptr(), ptr.data_ptr(), N, K, rows,
                                          cptr.shape[0], cptr.data_ptr(), ccol.data_ptr(),
                                          torch.get_num_threads())
    if failed:
        raise MemoryError(f"event transpose: could not allocate {K} counters per thread")
