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

import torch

from ..._native import I32, I64, P, data_ptr, dtype_suffix, load_library, num_threads
from ._contract import register, sg_consts
from ._flat import FlatKernel, flat, one_or_flat, reduce_to

__all__ = ["available"]


ABI = 4  # snn_lif_kernels_abi() of the library the signatures below describe


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL | None:
    lib = load_library(Path(__file__).resolve().parent, "_lif_kernels", lambda r: {
        "snn_lif_fwd": ([P, P, I32, P, P, I32, r, r, I32, I32, P, P, I64, I64, I32], None),
        "snn_lif_bwd": ([P, P, P, P, P, P, I32, P, I32, r, r, I32, I32, I32, r, r, r, P, I32, P,
                         P, I64, I64, I32], None),
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


class LIF:
    """The LIF kernel over flat buffers, without the ``[N]`` copies of :class:`FlatKernel`:
    an initial state or decay that is one value for every neuron (the resting state, a
    per-layer beta) is passed as that value, the final membrane is written once, and
    backward allocates dL/dv_T and dL/dv0 only when they exist or are wanted (each would
    be a quarter of a ``[T, N]`` buffer per layer at T = 4).

    What backward reads of the sequence:

    - with ``overwrite`` (the caller will not read ``x`` again): h_t is written over ``x``
      and backward writes the gradient over h, so the layer allocates no ``[T, N]`` buffer
      besides its spikes;
    - with a built-in surrogate: ``x`` is saved and backward recomputes h_t = beta v_{t-1}
      + x_t block by block in cache (bit-identical to the forward's), one ``[T, N]`` buffer
      less than saving h;
    - with a custom surrogate, whose derivative torch computes from a whole ``h``: h.
    """

    overwrites_input = True

    @staticmethod
    def recomputes(c) -> bool:
        return sg_consts(c.surrogate)[0] >= 0

    def forward(self, x, states0, params, c, save, *, overwrite=False):
        nshape, dtype = x.shape[1:], x.dtype
        T, N = x.shape[0], nshape.numel()
        v0, v0_one = one_or_flat(states0[0], nshape, dtype)
        beta, beta_one = one_or_flat(params[0], nshape, dtype)
        s, vT = torch.empty_like(x), x.new_empty(nshape)
        h = x if overwrite else x.new_empty(x.shape) if save and not self.recomputes(c) else None
        _fn("snn_lif_fwd", x)(x.data_ptr(), v0.data_ptr(), int(v0_one), vT.data_ptr(),
                              beta.data_ptr(), int(beta_one), c.thr, c.vr, c.mode,
                              int(h is not None), s.data_ptr(), data_ptr(h), T, N,
                              num_threads(T * N))
        return s, (vT,), (x if h is None else h,)  # x: h is recomputed in backward

    def backward(self, saved, gs, gfinal, states0, params, c, need, xdtype, *, consume=False):
        (buf,) = saved  # h (consume: the gradient is written over it), or x to recompute h
        nshape, dtype = buf.shape[1:], buf.dtype
        T, N = buf.shape[0], nshape.numel()
        h, x = (None, buf) if self.recomputes(c) and not consume else (buf, None)
        gs = torch.zeros_like(buf) if gs is None else gs.to(dtype).contiguous()
        gv_in = None if gfinal[0] is None else flat(gfinal[0], nshape, dtype)
        gv_out = buf.new_empty(N) if need[0] else None
        v0, v0_one = one_or_flat(states0[0], nshape, dtype)
        beta, beta_one = one_or_flat(params[0], nshape, dtype)
        gb = buf.new_zeros(N) if need[1] else None
        gx = buf if consume else torch.empty_like(buf)
        kind, alpha, c0, c1 = sg_consts(c.surrogate)
        dpre = None if x is not None else _dpre(c, lambda: h - c.thr)  # held in a name: ctypes gets only its address
        _fn("snn_lif_bwd", buf)(data_ptr(h), data_ptr(x), gs.data_ptr(), data_ptr(gv_in),
                                data_ptr(gv_out), v0.data_ptr(), int(v0_one), beta.data_ptr(),
                                int(beta_one), c.thr, c.vr, c.mode, int(c.detach), kind, alpha,
                                c0, c1, data_ptr(dpre), int(gb is not None), gx.data_ptr(),
                                data_ptr(gb), T, N, num_threads(T * N))
        return gx, [None if g is None else reduce_to(g.view(nshape), like)
                    for g, like in ((gv_out, states0[0]), (gb, params[0]))]


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
