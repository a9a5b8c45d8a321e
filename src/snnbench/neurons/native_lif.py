"""The ``"c"`` backend of the fused LIF and adaptive LIF: C kernels compiled when snnbench
is installed.

``_lif_kernels.c`` holds the same forward and backward recurrences as the numba kernels
of ``snnbench.neurons.fused`` (same loop structure, same order of operations, so float32
results are bit-identical). It exists for memory (see ``snnbench._native``);
:func:`available` says whether it was built.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch

from .._native import I32, I64, P, data_ptr, dtype_suffix, load_library, num_threads

__all__ = ["available", "lif_forward", "lif_backward", "alif_forward", "alif_backward"]


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL | None:
    return load_library(Path(__file__).resolve().parent, "_lif_kernels", lambda r: {
        "snn_lif_fwd": ([P, P, P, r, r, I32, I32, P, P, I64, I64, I32], None),
        "snn_lif_bwd": ([P, P, P, P, P, r, r, I32, I32, I32, r, r, r, P, I32, P, P, I64, I64,
                         I32], None),
        "snn_alif_fwd": ([P, P, P, P, P, r, r, r, I32, I32, P, P, P, I64, I64, I32], None),
        "snn_alif_bwd": ([P, P, P, P, P, P, P, P, r, r, r, I32, I32, I32, r, r, r, P, I32, I32,
                          P, P, P, I64, I64, I32], None),
    })


def available() -> bool:
    """Whether the compiled kernels were built and load."""
    return _lib() is not None


def lif_forward(x: torch.Tensor, v: torch.Tensor, beta: torch.Tensor, thr: float, vr: float,
                mode: int, save: bool, s: torch.Tensor, h: torch.Tensor | None) -> None:
    """Contiguous CPU tensors: ``x``, ``s``, ``h`` [T, ...]; ``v`` [N] holds v0 on entry and
    v_T on exit; ``beta`` [N]. Fills ``s`` and, when ``save``, ``h``."""
    T, N = x.shape[0], v.numel()
    fn = getattr(_lib(), f"snn_lif_fwd_{dtype_suffix(x.dtype)}")
    fn(x.data_ptr(), v.data_ptr(), beta.data_ptr(), thr, vr, mode, int(save), s.data_ptr(),
       data_ptr(h), T, N, num_threads(T * N))


def lif_backward(h: torch.Tensor, gs: torch.Tensor, gv: torch.Tensor, v0: torch.Tensor,
                 beta: torch.Tensor, thr: float, vr: float, mode: int, detach: bool, kind: int,
                 alpha: float, c0: float, c1: float, dpre: torch.Tensor | None,
                 gx: torch.Tensor, gbeta: torch.Tensor | None) -> None:
    """Reverse recurrence: fills ``gx`` [T, ...]; ``gv`` [N] holds dL/dv_T on entry and
    dL/dv0 on exit; ``gbeta`` [N] (zeroed by the caller) accumulates dL/dbeta when given;
    ``dpre`` is the precomputed surrogate derivative when ``kind`` < 0."""
    T, N = h.shape[0], gv.numel()
    fn = getattr(_lib(), f"snn_lif_bwd_{dtype_suffix(h.dtype)}")
    fn(h.data_ptr(), gs.data_ptr(), gv.data_ptr(), v0.data_ptr(), beta.data_ptr(), thr, vr,
       mode, int(detach), kind, alpha, c0, c1, data_ptr(dpre), int(gbeta is not None),
       gx.data_ptr(), data_ptr(gbeta), T, N, num_threads(T * N))


def alif_forward(x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, beta: torch.Tensor,
                 rho: torch.Tensor, thr: float, tplus: float, vr: float, mode: int, save: bool,
                 s: torch.Tensor, h: torch.Tensor | None, at: torch.Tensor | None) -> None:
    """Adaptive LIF forward: ``v``, ``a`` [N] hold the initial state on entry and the final
    one on exit; with ``save`` fills ``h`` (h_t) and ``at`` (a_{t-1}), [T, ...] each."""
    T, N = x.shape[0], v.numel()
    fn = getattr(_lib(), f"snn_alif_fwd_{dtype_suffix(x.dtype)}")
    fn(x.data_ptr(), v.data_ptr(), a.data_ptr(), beta.data_ptr(), rho.data_ptr(), thr, tplus,
       vr, mode, int(save), s.data_ptr(), data_ptr(h), data_ptr(at), T, N, num_threads(T * N))


def alif_backward(h: torch.Tensor, at: torch.Tensor, gs: torch.Tensor, gv: torch.Tensor,
                  ga: torch.Tensor, v0: torch.Tensor, beta: torch.Tensor, rho: torch.Tensor,
                  thr: float, tplus: float, vr: float, mode: int, detach: bool, kind: int,
                  alpha: float, c0: float, c1: float, dpre: torch.Tensor | None,
                  gx: torch.Tensor, gbeta: torch.Tensor | None, grho: torch.Tensor | None) -> None:
    """Adaptive LIF reverse recurrence: ``gv``, ``ga`` [N] hold the final-state gradients on
    entry and the initial-state ones on exit; ``gbeta``/``grho`` (zeroed) accumulate."""
    T, N = h.shape[0], gv.numel()
    fn = getattr(_lib(), f"snn_alif_bwd_{dtype_suffix(h.dtype)}")
    fn(h.data_ptr(), at.data_ptr(), gs.data_ptr(), gv.data_ptr(), ga.data_ptr(), v0.data_ptr(),
       beta.data_ptr(), rho.data_ptr(), thr, tplus, vr, mode, int(detach), kind, alpha, c0, c1,
       data_ptr(dpre), int(gbeta is not None), int(grho is not None), gx.data_ptr(),
       data_ptr(gbeta), data_ptr(grho), T, N, num_threads(T * N))
