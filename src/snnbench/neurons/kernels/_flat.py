"""Shared plumbing of the CPU backends (torch, numba, c): states and per-neuron parameters
as flat contiguous ``[N]`` tensors (N = all neurons of all samples), inputs as ``[T, N]``.

A backend subclasses :class:`FlatKernel` and writes two methods over flat buffers:
``fwd(x, states, params, c, save, s)`` (``states`` hold the initial state on entry and the
final one on exit; returns the tensors backward needs, first one ``[T, ...]``) and
``bwd(saved, gs, g, states0, params, c, gparams, gx)`` (``g`` hold the final-state
gradients on entry and the initial-state ones on exit; ``gparams`` are zeroed
accumulators, ``None`` where no gradient is wanted). A kernel whose
:meth:`FlatKernel.reads_states0` says no gets empty initial states in bwd.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

__all__ = ["FlatKernel", "flat", "one_or_flat", "reduce_to"]


def flat(t: torch.Tensor, shape: torch.Size, dtype: torch.dtype, copy: bool = False) -> torch.Tensor:
    """Broadcast a per-neuron tensor to ``shape`` as a contiguous 1-D tensor; ``copy``
    guarantees fresh storage (for buffers the kernels write into)."""
    t = t.detach().to(dtype).expand(shape)
    if copy:
        return t.clone(memory_format=torch.contiguous_format).view(-1)
    return t.reshape(-1).contiguous()


def one_or_flat(t: torch.Tensor, shape: torch.Size, dtype: torch.dtype) -> tuple[torch.Tensor, bool]:
    """``(value, True)`` for a tensor that is one value for every neuron (one element, or
    a broadcast of one: all strides 0), as a 1-element tensor; else ``(flat(t), False)``."""
    if t.numel() > 0 and (t.numel() == 1 or not any(t.stride())):
        return t.detach().as_strided((1,), (1,)).to(dtype).contiguous(), True
    return flat(t, shape, dtype), False


def reduce_to(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Sum a gradient of broadcast shape back to the shape of ``like`` (autograd rule)."""
    if g.shape == like.shape:
        return g
    return g.sum_to_size(like.shape) if like.dim() else g.sum()


class FlatKernel(ABC):
    """A :class:`snnbench.neurons.kernels.Kernel` over flat buffers (see the module doc); a
    backend implements :meth:`fwd` and :meth:`bwd`."""

    def reads_states0(self, c, param_grads: bool) -> bool:
        """Whether bwd reads the initial states, for constants ``c`` and with or without
        parameter gradients; when not, they are passed as empty tensors instead of ``[N]``
        copies (one buffer per layer and step less, the size of the layer's neurons)."""
        return True

    @abstractmethod
    def fwd(self, x, states, params, c, save, s):
        """Run the sequence over flat buffers; return the tensors backward needs."""

    @abstractmethod
    def bwd(self, saved, gs, g, states0, params, c, gparams, gx):
        """Reverse recurrence: fill ``gx``, turn ``g`` into initial-state gradients and
        accumulate ``gparams``."""

    def forward(self, x, states0, params, c, save):
        nshape, dtype = x.shape[1:], x.dtype
        st = [flat(t, nshape, dtype, copy=True) for t in states0]
        pr = [flat(p, nshape, dtype) for p in params]
        s = torch.empty_like(x)
        saved = self.fwd(x, st, pr, c, save, s)
        return s, tuple(v.view(nshape) for v in st), saved

    def backward(self, saved, gs, gfinal, states0, params, c, need, xdtype):
        h = saved[0]
        nshape, dtype = h.shape[1:], h.dtype
        gs = torch.zeros_like(h) if gs is None else gs.to(dtype).contiguous()
        g = [torch.zeros(nshape.numel(), dtype=dtype, device=h.device) if gf is None
             else gf.to(dtype).expand(nshape).reshape(-1).clone() for gf in gfinal]
        n = len(states0)
        if not self.reads_states0(c, any(need[n:])):
            st0 = [h.new_empty(0) for _ in states0]
        else:
            st0 = [flat(t, nshape, dtype) for t in states0]
        pr = [flat(p, nshape, dtype) for p in params]
        gp = [torch.zeros(nshape.numel(), dtype=dtype, device=h.device) if need[n + i] else None
              for i in range(len(params))]
        gx = torch.empty_like(h)
        self.bwd(saved, gs, g, st0, pr, c, gp, gx)
        grads = [reduce_to(g[i].view(nshape), states0[i]) if need[i] else None for i in range(n)]
        grads += [reduce_to(q.view(nshape), p) if q is not None else None
                  for q, p in zip(gp, params)]
        return gx, grads
