"""The ``"c"`` backend: the LIF and adaptive LIF kernels in C, compiled when snnbench is
installed (``_lif_kernels.c``) and called through ctypes.

The same forward and backward loops as the numba backend (same loop structure, same order
of operations, so float32 results are bit-identical). It exists for memory (see
``snnbench._native``): no numba JIT in the process. :func:`available` says whether it was
built; when it was not, importing this module registers nothing and ``"auto"`` falls back
to numba.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from ..._native import I32, I64, P, data_ptr, dtype_suffix, load_library, num_threads
from ._contract import register, sg_consts
from ._flat import FlatKernel

__all__ = ["available"]


ABI = 3  # snn_lif_kernels_abi() of the library the signatures below describe


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL | None:
    lib = load_library(Path(__file__).resolve().parent, "_lif_kernels", lambda r: {
        "snn_lif_fwd": ([P, P, P, I32, r, r, I32, I32, P, P, I64, I64, I32], None),
        "snn_lif_bwd": ([P, P, P, P, P, P, I32, r, r, I32, I32, I32, r, r, r, P, I32, P, P,
                         I64, I64, I32], None),
        "snn_alif_fwd": ([P, P, P, P, P, r, r, r, I32, I32, P, P, P, I64, I64, I32], None),
        "snn_alif_bwd": ([P, P, P, P, P, P, P, P, r, r, r, I32, I32, I32, r, r, r, P, I32, I32,
                          P, P, P, I64, I64, I32], None),
    })
    if lib is None or not hasattr(lib, "snn_lif_kernels_abi"):
        return None  # not built, or built from an older source (rebuild: pip install -e .)
    lib.snn_lif_kernels_abi.argtypes, lib.snn_lif_kernels_abi.restype = [], ctypes.c_int
    return lib if lib.snn_lif_kernels_abi() == ABI else None


def available() -> bool:
    """Whether the compiled kernels were built and load."""
    return _lib() is not None


def _fn(name: str, t):
    return getattr(_lib(), f"{name}_{dtype_suffix(t.dtype)}")


def _dpre(c, u):
    """The custom surrogate's derivative at ``u()`` (sg kind < 0), else NULL. ``u`` is a
    thunk: the argument is a whole [T, N] tensor, only worth building when it is read."""
    return c.surrogate.derivative(u()).contiguous() if sg_consts(c.surrogate)[0] < 0 else None


class LIF(FlatKernel):
    """With a built-in surrogate the forward writes spikes only and saves its input: the
    backward recomputes h_t = beta v_{t-1} + x_t block by block in cache (bit-identical to
    the forward's), which saves one ``[T, N]`` buffer per layer and its first-touch cost,
    measured at about 40 % of a forward call on a 64 MiB layer. A custom surrogate's
    derivative is computed in torch from a whole ``h``, which is then saved as before."""

    scalar_params = True  # one beta for the whole layer is passed as one value

    @staticmethod
    def recomputes(c) -> bool:
        return sg_consts(c.surrogate)[0] >= 0

    def reads_states0(self, c, param_grads: bool) -> bool:
        # the recomputation starts from v0; with a saved h, v0 is read for dL/dbeta only
        return param_grads or self.recomputes(c)

    def fwd(self, x, states, params, c, save, s):
        """``v`` [N] holds v0 on entry and v_T on exit; fills ``s`` and, with save, saves
        ``x`` (h recomputed in backward) or fills and saves ``h``."""
        keep_h = save and not self.recomputes(c)
        h = x.new_empty(x.shape) if keep_h else None
        T, N = x.shape[0], states[0].numel()
        _fn("snn_lif_fwd", x)(x.data_ptr(), states[0].data_ptr(), params[0].data_ptr(),
                              int(params[0].numel() == 1), c.thr, c.vr, c.mode, int(keep_h),
                              s.data_ptr(), data_ptr(h), T, N, num_threads(T * N))
        return (h if keep_h else x,)

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        (hx,) = saved  # h, or x when h is recomputed
        recompute = self.recomputes(c)
        h, x = (None, hx) if recompute else (hx, None)
        T, N = hx.shape[0], g[0].numel()
        kind, alpha, c0, c1 = sg_consts(c.surrogate)
        gb = gparams[0]
        dpre = None if recompute else _dpre(c, lambda: h - c.thr)  # held in a name: ctypes gets only its address
        _fn("snn_lif_bwd", hx)(data_ptr(h), data_ptr(x), gs.data_ptr(), g[0].data_ptr(),
                               states0[0].data_ptr(), params[0].data_ptr(), int(params[0].numel() == 1),
                               c.thr, c.vr, c.mode, int(c.detach), kind,
                               alpha, c0, c1, data_ptr(dpre), int(gb is not None),
                               gx.data_ptr(), data_ptr(gb), T, N, num_threads(T * N))


class ALIF(FlatKernel):
    def reads_states0(self, c, param_grads: bool) -> bool:
        return param_grads  # v0 is read for dL/dbeta only (a_{t-1} is saved)

    def fwd(self, x, states, params, c, save, s):
        """``v``, ``a`` [N] hold the initial state on entry and the final one on exit; with
        save fills ``h`` (h_t) and ``at`` (a_{t-1})."""
        h = x.new_empty(x.shape) if save else None
        at = x.new_empty(x.shape) if save else None
        T, N = x.shape[0], states[0].numel()
        _fn("snn_alif_fwd", x)(x.data_ptr(), states[0].data_ptr(), states[1].data_ptr(),
                               params[0].data_ptr(), params[1].data_ptr(), c.thr, c.extra[0],
                               c.vr, c.mode, int(save), s.data_ptr(), data_ptr(h), data_ptr(at),
                               T, N, num_threads(T * N))
        return h, at

    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        h, at = saved
        T, N = h.shape[0], g[0].numel()
        kind, alpha, c0, c1 = sg_consts(c.surrogate)
        gb, gr = gparams
        dpre = _dpre(c, lambda: h - (at + c.thr))
        _fn("snn_alif_bwd", h)(h.data_ptr(), at.data_ptr(), gs.data_ptr(), g[0].data_ptr(),
                               g[1].data_ptr(), states0[0].data_ptr(), params[0].data_ptr(),
                               params[1].data_ptr(), c.thr, c.extra[0], c.vr, c.mode,
                               int(c.detach), kind, alpha, c0, c1, data_ptr(dpre),
                               int(gb is not None), int(gr is not None), gx.data_ptr(),
                               data_ptr(gb), data_ptr(gr), T, N, num_threads(T * N))


if available():
    register("lif", "c", LIF())
    register("alif", "c", ALIF())
