r"""Event-driven linear synapse: a dense layer that only does the work of nonzero inputs.

.. math::

    y_n = b + \sum_{k:\,x_{nk} \neq 0} x_{nk} W_{:,k}, \qquad
    \frac{\partial L}{\partial W_{:,k}} = \sum_{n:\,x_{nk} \neq 0} x_{nk} g_n,\qquad
    \frac{\partial L}{\partial x_n} = W^\top g_n

(``x`` [N, K] presynaptic activity of ``N = T*B`` samples-steps, ``W`` [H, K] as in
``nn.Linear``, ``g = dL/dy``.) A spike train with density ``p`` needs ``p`` of the
multiply-adds of the dense product, for the forward pass and for the weight gradient: the
two products that dominate an SNN's training step. The input gradient is a dense product
(``g`` is dense) and stays with torch.

On the CPU the input is turned into events (compressed rows: per sample-step the indices
of its nonzero inputs, and their values unless all are 1) and one kernel (C, compiled at
install time, ``native_events``; numba where it was not built),
``out[r] = sum_e val_e * src[col_e]``, computes the forward pass (``src = W^T``) and the
weight gradient (``src = g``, the events regrouped by input over chunks of rows so the
chunk of ``g`` stays in cache). Between the two, spike events are kept as a bitmask (one
bit per input: at density 0.2 a sixth of the int32 event list). Each thread owns one
block of output columns, so no two threads write the same memory and the results do not
depend on the thread count.
When the input is denser than ``max_density``, the layer has fewer than
``MIN_OUT_FEATURES`` outputs, on other devices, or without either kernel, the call is plain
``torch.nn.functional.linear``.

Values equal the dense product up to float rounding (the sum runs in another order), so
a model that switches to event synapses may flip a spike that sat exactly at threshold.
"""

from __future__ import annotations

import math
import mmap

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._native import numba_threads
from .._validation import check_range
from . import native_events

try:  # numba is a declared dependency; without it every call is the dense product
    import numba
    import numpy as np

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _HAVE_NUMBA = False

__all__ = ["event_linear", "EventLinear", "events_from_dense",
           "DEFAULT_MAX_DENSITY", "MIN_OUT_FEATURES"]

#: Above this fraction of nonzero inputs the dense product is used. Measured on a 2-core
#: AVX-512 machine (``benchmarks/event_linear_speed.py``, forward + weight gradient): 2-2.4x
#: faster than the dense product at density 0.1, 1.4-1.6x at 0.2, about even at 0.3; a
#: machine with a relatively faster dense product moves the crossover down.
DEFAULT_MAX_DENSITY = 0.25
#: Layers with fewer outputs use the dense product: turning the input into events costs
#: about one pass over it, which a product with few outputs per input does not repay
#: (measured crossover 128-256 outputs for 800 inputs at density 0.1-0.2).
MIN_OUT_FEATURES = 256
# Bytes of the gradient's row chunk each thread keeps hot in backward.
_CHUNK_BYTES = 512 * 1024


if _HAVE_NUMBA:
    _jit = dict(cache=True, error_model="numpy")

    @numba.njit(parallel=True, **_jit)
    def _nb_count(x, ptr, graded, bits):
        """ptr[n + 1] = number of nonzero entries of row n of x [N, K] (ptr[0] untouched);
        graded[n] = how many of them differ from 1 (0 for a row of spikes); bits[n, k // 8]
        bit k % 8 set where x[n, k] != 0."""
        N, K = x.shape
        KB = bits.shape[1]
        for n in numba.prange(N):
            c = 0
            gr = 0
            for b in range(KB):
                byte = 0
                for k in range(8 * b, min(8 * b + 8, K)):
                    v = x[n, k]
                    nz = v != 0  # branch-free: spikes are too irregular to predict
                    byte |= nz << (k - 8 * b)
                    c += nz
                    gr += nz & (v != 1)
                bits[n, b] = byte
            ptr[n + 1] = c
            graded[n] = gr

    @numba.njit(parallel=True, **_jit)
    def _nb_fill(x, ptr, idx, val):
        """Row n's nonzero column indices and values into idx/val[ptr[n]:ptr[n+1]].

        Branch-free: every entry is written and the write position advances only past a
        nonzero one; a write that would pass the row's end goes to the spare last slot of
        idx/val instead (it would otherwise land in the next row, which another thread may
        already have filled)."""
        N, K = x.shape
        spare = idx.shape[0] - 1
        for n in numba.prange(N):
            e = ptr[n]
            end = ptr[n + 1]
            for k in range(K):
                v = x[n, k]
                j = e if e < end else spare
                idx[j] = k
                val[j] = v
                e += v != 0

    @numba.njit(parallel=True, **_jit)
    def _nb_spmm(ptr, col, val, src, out, start, init, nblk):
        """out[r, :] = s0 + sum over e in ptr[r]:ptr[r+1] of val[e] * src[col[e], :], with
        s0 = 0 (``start`` 0), ``init`` [H] (1) or out[r, :] itself (2: accumulate); an
        empty ``val`` means every value is 1 (spikes).

        Each thread owns a block of columns; events are taken four at a time so the output
        row is read and written once per four source rows (2x faster than one at a time)."""
        R = ptr.shape[0] - 1
        H = src.shape[1]
        unit = val.shape[0] == 0
        bsz = (H + nblk - 1) // nblk
        for b in numba.prange(nblk):
            h0 = min(H, b * bsz)
            h1 = min(H, h0 + bsz)
            m = h1 - h0
            for r in range(R):
                o = out[r, h0:h1]
                if start == 0:
                    for j in range(m):
                        o[j] = 0
                elif start == 1:
                    for j in range(m):
                        o[j] = init[h0 + j]
                e = ptr[r]
                e1 = ptr[r + 1]
                while e + 4 <= e1:
                    s0 = src[col[e], h0:h1]
                    s1 = src[col[e + 1], h0:h1]
                    s2 = src[col[e + 2], h0:h1]
                    s3 = src[col[e + 3], h0:h1]
                    if unit:
                        for j in range(m):
                            o[j] += (s0[j] + s1[j]) + (s2[j] + s3[j])
                    else:
                        v0, v1, v2, v3 = val[e], val[e + 1], val[e + 2], val[e + 3]
                        for j in range(m):
                            o[j] += (v0 * s0[j] + v1 * s1[j]) + (v2 * s2[j] + v3 * s3[j])
                    e += 4
                while e < e1:
                    s0 = src[col[e], h0:h1]
                    if unit:
                        for j in range(m):
                            o[j] += s0[j]
                    else:
                        v0 = val[e]
                        for j in range(m):
                            o[j] += v0 * s0[j]
                    e += 1

    @numba.njit(inline="always", **_jit)
    def _nb_chunk_offsets(cp, start, fill):
        """A chunk's offsets of the regrouped events (cp[k]:cp[k+1] for input k, from the
        chunk's first event); fill[k], the count of input k, becomes its write position."""
        cp[0] = start
        for k in range(fill.shape[0]):
            cp[k + 1] = cp[k] + fill[k]
            fill[k] = cp[k]

    @numba.njit(parallel=True, **_jit)
    def _nb_transpose_chunks(ptr, idx, val, K, rows, cptr, ccol, cval):
        """For each chunk c of ``rows`` rows of x: the compressed rows of x[chunk]^T, i.e.
        per input k the chunk-local rows where it is nonzero (ascending), at the chunk's own
        offsets of the event arrays (``cptr[c, k]:cptr[c, k + 1]``). Values are copied
        unless ``val`` is empty (spikes)."""
        N = ptr.shape[0] - 1
        unit = val.shape[0] == 0
        for c in numba.prange(cptr.shape[0]):
            n0 = c * rows
            n1 = min(N, n0 + rows)
            fill = np.zeros(K, np.int64)
            for e in range(ptr[n0], ptr[n1]):
                fill[idx[e]] += 1
            _nb_chunk_offsets(cptr[c], ptr[n0], fill)
            for n in range(n0, n1):
                for e in range(ptr[n], ptr[n + 1]):
                    k = idx[e]
                    ccol[fill[k]] = n - n0
                    if not unit:
                        cval[fill[k]] = val[e]
                    fill[k] += 1


    @numba.njit(parallel=True, **_jit)
    def _nb_fill_bits(bits, ptr, idx):
        """Row n's set bits, ascending, into idx[ptr[n]:ptr[n+1]]; branch-free like
        _nb_fill, with the spare last slot of idx."""
        N, KB = bits.shape
        spare = idx.shape[0] - 1
        for n in numba.prange(N):
            e = ptr[n]
            end = ptr[n + 1]
            for b in range(KB):
                v = bits[n, b]
                for j in range(8):
                    idx[e if e < end else spare] = b * 8 + j
                    e += (v >> j) & 1

    @numba.njit(parallel=True, **_jit)
    def _nb_transpose_bits(bits, ptr, K, rows, cptr, ccol):
        """_nb_transpose_chunks for spike events read from their bitmask (``ptr``: the
        events' row offsets)."""
        N, KB = bits.shape
        for c in numba.prange(cptr.shape[0]):
            n0 = c * rows
            n1 = min(N, n0 + rows)
            fill = np.zeros(K, np.int64)
            for n in range(n0, n1):
                for b in range(KB):
                    v = bits[n, b]
                    j = 0
                    while v:
                        fill[b * 8 + j] += v & 1
                        v >>= 1
                        j += 1
            _nb_chunk_offsets(cptr[c], ptr[n0], fill)
            for n in range(n0, n1):
                for b in range(KB):
                    v = bits[n, b]
                    j = 0
                    while v:
                        if v & 1:
                            k = b * 8 + j
                            ccol[fill[k]] = n - n0
                            fill[k] += 1
                        v >>= 1
                        j += 1


def _mapped_empty(n: int, dtype: torch.dtype) -> Tensor:
    """An uninitialised 1-D tensor in its own anonymous memory mapping, unmapped when the
    tensor is freed: for the event lists, which live for one call. From glibc's heap they
    stay resident: after the first such block is freed glibc raises its mmap threshold and
    serves the next ones from a heap it does not trim (measured at T=100, H=800: 6-8 MiB
    more peak memory per training step). The price is first-touch page faults, about
    0.5 ms per MiB on the development machine."""
    nbytes = n * dtype.itemsize
    if nbytes < (1 << 20):  # small blocks: the allocator's free list costs nothing
        return torch.empty(n, dtype=dtype)
    return torch.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype, count=n)


def events_from_dense(x: Tensor, max_density: float = 1.0) -> tuple[Tensor, Tensor, Tensor] | None:
    """Compressed rows of a 2-D CPU tensor ``x`` [N, K]: ``(ptr [N+1] int64, idx [E] int32,
    val)`` with the nonzero entries of row ``n`` at ``ptr[n]:ptr[n+1]``, in column order;
    ``val`` [E] holds their values, or is empty when every one is 1 (spikes: half the
    memory). Returns None when more than ``max_density`` of the entries are nonzero."""
    ev = _events(x, max_density)
    return None if ev is None else ev[:3]


def _events(x: Tensor, max_density: float) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """:func:`events_from_dense` plus the nonzero pattern as a bitmask [N, ceil(K / 8)]
    uint8 (bit k % 8 of byte k // 8), which the counting pass writes. A spike layer keeps
    only the bitmask for backward (an eighth of a byte per input instead of four bytes per
    event), and spike events are filled from it instead of from the float input."""
    x = x.detach().contiguous()
    N, K = x.shape
    use_c = native_events.available()
    ptr = torch.zeros(N + 1, dtype=torch.int64)
    graded = torch.empty(N, dtype=torch.int64)
    bits = torch.empty(N, (K + 7) // 8, dtype=torch.uint8)
    if use_c:
        native_events.count(x, ptr, graded, bits)
    else:
        numba_threads()  # starts numba's threading layer with torch's thread count kept
        _nb_count(x.numpy(), ptr.numpy(), graded.numpy(), bits.numpy())
    torch.cumsum(ptr, 0, out=ptr)
    E = int(ptr[-1])
    if E > max_density * N * K:
        return None
    idx = _mapped_empty(E + 1, torch.int32)  # + the spare slot of the branch-free fill
    if not bool(graded.any()):  # spikes: indices from the bits, no values stored
        if use_c:
            native_events.fill_bits(bits, ptr, idx)
        else:
            _nb_fill_bits(bits.numpy(), ptr.numpy(), idx.numpy())
        return ptr, idx[:E], torch.empty(0, dtype=x.dtype), bits
    val = _mapped_empty(E + 1, x.dtype)
    if use_c:
        native_events.fill(x, ptr, idx, val)
    else:
        _nb_fill(x.numpy(), ptr.numpy(), idx.numpy(), val.numpy())
    return ptr, idx[:E], val[:E], bits


def _num_blocks(H: int) -> int:
    """One column block per thread: measured faster than L2-sized blocks, even when a
    thread's slice of the weights exceeds its L2 cache."""
    if native_events.available():
        return max(1, min(H, torch.get_num_threads()))
    return max(1, min(H, numba_threads()))


def _spmm(ptr: Tensor, col: Tensor, val: Tensor, src: Tensor, out: Tensor, start: int,
          init: Tensor | None) -> None:
    """The event product of native_events.spmm, on whichever kernel is available."""
    if native_events.available():
        native_events.spmm(ptr, col, val, src, out, start, init)
    else:
        _nb_spmm(ptr.numpy(), col.numpy(), val.numpy(), src.numpy(), out.numpy(), start,
                 (init if init is not None else out[0]).numpy(), _num_blocks(src.shape[1]))


class _EventLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, ptr, idx, val, bits):  # type: ignore[override]
        wt = weight.detach().t().contiguous()  # [K, H]: an event reads one contiguous row
        K, H = wt.shape
        y = torch.empty(x2.shape[0], H, dtype=x2.dtype)
        b = bias.detach().contiguous() if bias is not None else None
        _spmm(ptr, idx, val, wt, y, 1 if bias is not None else 0, b)
        # spikes (no values): keep a bitmask, not the events, until backward
        ctx.packed = val.numel() == 0
        if ctx.packed:
            ctx.save_for_backward(weight, ptr, bits, val)
        else:
            ctx.save_for_backward(weight, ptr, idx, val)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):  # type: ignore[override]
        weight, ptr, idx, val = ctx.saved_tensors  # idx: the bitmask when packed
        g = g.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = g @ weight
        if ctx.needs_input_grad[1]:
            gw = _weight_grad(ptr, idx, val, g, weight.shape[1], ctx.packed)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(0)
        return gx, gw, gb, None, None, None, None


def _weight_grad(ptr: Tensor, idx: Tensor, val: Tensor, g: Tensor, K: int,
                 packed: bool = False) -> Tensor:
    """dL/dW [H, K] = g^T x from the events of x: per chunk of rows (small enough that the
    chunk of g stays in cache) the events grouped by input, then one spmm per chunk.
    ``packed``: ``idx`` is the spikes' bitmask (see ``_events``), ``val`` empty."""
    N, H = g.shape
    nblk = _num_blocks(H)
    rows = max(16, _CHUNK_BYTES // (math.ceil(H / nblk) * g.element_size()))
    nch = math.ceil(N / rows)
    cptr = torch.empty(nch, K + 1, dtype=torch.int64)
    E = int(ptr[-1])
    ccol = _mapped_empty(E, torch.int32)
    cval = _mapped_empty(E if val.numel() else 0, val.dtype)
    if packed and native_events.available():
        native_events.transpose_bits(idx, ptr, K, rows, cptr, ccol)
    elif packed:
        _nb_transpose_bits(idx.numpy(), ptr.numpy(), K, rows, cptr.numpy(), ccol.numpy())
    elif native_events.available():
        native_events.transpose_chunks(ptr, idx, val, K, rows, cptr, ccol, cval)
    else:
        _nb_transpose_chunks(ptr.numpy(), idx.numpy(), val.numpy(), K, rows, cptr.numpy(),
                             ccol.numpy(), cval.numpy())
    gwt = torch.empty(K, H, dtype=g.dtype)
    for c in range(nch):
        _spmm(cptr[c], ccol, cval, g[c * rows:(c + 1) * rows], gwt, 2 if c else 0, None)
    return gwt.t()


def event_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, max_density: float = DEFAULT_MAX_DENSITY
) -> Tensor:
    """``F.linear(x, weight, bias)`` computed from the nonzero entries of ``x`` only.

    Args:
        x: ``[..., K]`` presynaptic activity (spikes or any mostly-zero input).
        weight: ``[H, K]``; bias: ``[H]`` or None.
        max_density: use the dense product when more than this fraction of ``x`` is
            nonzero (0 always dense, 1 event-driven whenever possible).
    Returns: ``[..., H]``, equal to the dense product up to float rounding. Layers with
    fewer than ``MIN_OUT_FEATURES`` outputs always use the dense product.
    """
    check_range("max_density", max_density, 0.0, 1.0)
    if x.dim() < 1 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"x must end in {weight.shape[-1]} features (weight shape {tuple(weight.shape)}), "
            f"got x of shape {tuple(x.shape)}"
        )
    usable = (
        (native_events.available() or _HAVE_NUMBA)
        and max_density > 0
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and weight.dtype == x.dtype
        and (bias is None or bias.dtype == x.dtype)
        and x.numel() > 0
        and weight.shape[0] >= MIN_OUT_FEATURES
    )
    if not usable:
        return F.linear(x, weight, bias)
    x2 = x.reshape(-1, x.shape[-1])
    ev = _events(x2, max_density)
    if ev is None:
        return F.linear(x, weight, bias)
    y = _EventLinearFn.apply(x2, weight, bias, *ev)
    return y.view(*x.shape[:-1], weight.shape[0])


class EventLinear(nn.Linear):
    """``nn.Linear`` whose product skips zero inputs (see :func:`event_linear`).

    Same parameters, state-dict keys and initialisation as ``nn.Linear``, so checkpoints
    and metrics treat it as one. ``max_density`` picks the dense product for dense inputs.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        max_density: float = DEFAULT_MAX_DENSITY,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.max_density = check_range("max_density", max_density, 0.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return event_linear(x, self.weight, self.bias, self.max_density)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_density={self.max_density}"
