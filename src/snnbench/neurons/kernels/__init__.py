r"""The neuron-kernel registry: one contract, backends as plug-ins, one autograd path.

A *kind* (``"lif"``, ``"alif"``, ``"cuba"``, ``"rlif"``) is a recurrence over time with
state tensors (``v``; ``v, a``; ``i, v``; ``v, s``), per-neuron parameter tensors that may
receive gradients (``beta``; ``beta, rho``; ``alpha, beta``; ``w_rec, beta``) and Python
constants (:class:`Consts`: threshold, reset, surrogate, ...). Its equations and its
autograd reference step live with the kind (``snnbench.neurons.lif``, ``adaptive``,
``cuba``, ``recurrent``); a *backend* module (``reference`` = ``"torch"``, ``numba``,
``c``, ``triton``, ``recurrent``) implements the whole-sequence forward and the reverse
recurrence of a kind and registers them with :func:`register`. :func:`run` is the only
way in: it resolves the backend (:func:`resolve`), and one ``torch.autograd.Function``
calls the registered :class:`Kernel` forward and backward, whatever kind and backend.

A backend is imported the first time a kind asks for it, so a process that never uses
numba or triton never imports them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os

import torch

from ..._validation import check_choice
from ._contract import _REGISTRY, BACKENDS, RESET_CODE, Consts, Kernel, register, sg_consts

__all__ = ["BACKENDS", "RESET_CODE", "Consts", "Kernel", "register", "registered", "resolve",
           "run", "sg_consts"]

# backend -> the modules that register its kernels (imported on first use)
_MODULES = {"torch": ("reference", "recurrent"), "numba": ("numba", "numba_cuba"), "c": ("c",),
            "triton": ("triton",)}
_TRITON_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def registered(kind: str, backend: str) -> Kernel | None:
    """The kernel registered for ``(kind, backend)``, importing the backend module on first
    use; ``None`` when the backend has none for this kind or cannot be imported."""
    if (kind, backend) not in _REGISTRY and backend in _MODULES:
        _import_backend(backend)
    return _REGISTRY.get((kind, backend))


@functools.lru_cache(maxsize=None)
def _import_backend(backend: str) -> bool:
    try:
        for module in _MODULES[backend]:
            importlib.import_module(f"{__name__}.{module}")
    except ImportError:  # numba or triton missing: the backend is simply not there
        return False
    return True


@functools.lru_cache(maxsize=1)
def have_triton() -> bool:
    """Whether triton imports (checked once: importing it is slow, and it cannot change)."""
    try:
        import triton  # noqa: F401
    except Exception:  # missing, or broken beside this torch build
        return False
    return True


@functools.lru_cache(maxsize=1)
def have_numba() -> bool:
    """Whether numba is installed (without importing it: the C backend exists so that a
    process need not start numba's LLVM)."""
    return importlib.util.find_spec("numba") is not None


def c_available() -> bool:
    """Whether the C kernels were compiled at install time and load."""
    from . import c

    return c.available()


def _triton_interpreted() -> bool:
    # Triton's CPU interpreter runs the same kernels on CPU tensors (used by the tests on
    # machines without a GPU); it reads this variable when the kernels are defined.
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _check_explicit(backend: str, x: torch.Tensor, cpu_ok: bool, gpu_ok: bool) -> None:
    """Raise when an explicitly requested backend cannot run ``x``."""
    if backend == "c" and not c_available():
        raise ValueError("backend='c' needs the compiled kernels, which were not built at "
                         "install time (no C compiler?); reinstall snnbench or use 'numba'")
    if backend == "triton":
        if not have_triton():
            raise ValueError("backend='triton' needs the triton package (it comes with CUDA "
                             "builds of PyTorch); install it or use 'torch'")
        interp_ok = _triton_interpreted() and x.device.type == "cpu" and x.dtype in _TRITON_DTYPES
        if not (gpu_ok or interp_ok):
            raise ValueError(
                f"backend='triton' needs a CUDA tensor of dtype float16/bfloat16/float32/float64 "
                f"(or TRITON_INTERPRET=1 for CPU tensors), got {x.dtype} on {x.device}"
            )
    if backend == "numba" and not have_numba():
        raise ValueError("backend='numba' needs the numba package; install it or use 'torch'")
    if backend in ("c", "numba") and not cpu_ok:
        raise ValueError(
            f"backend={backend!r} needs a CPU float32/float64 tensor, got {x.dtype} on {x.device}"
        )


def resolve(x: torch.Tensor, backend: str = "auto", kind: str = "lif") -> str:
    """The backend that runs ``kind`` on tensor ``x``: an explicit name is checked (one-line
    error when it cannot run ``x`` or has no kernel for ``kind``); ``"auto"`` picks ``c``,
    else ``numba``, for CPU float32/float64 tensors, ``triton`` for CUDA tensors, else
    ``torch`` (any device and dtype)."""
    check_choice("backend", backend, BACKENDS)
    cpu_ok = x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
    gpu_ok = x.device.type == "cuda" and x.dtype in _TRITON_DTYPES
    if backend != "auto":
        _check_explicit(backend, x, cpu_ok, gpu_ok)
        if registered(kind, backend) is None:
            raise ValueError(f"backend={backend!r} has no kernel for the neuron kind {kind!r}; "
                             f"use backend='auto' or 'torch'")
        return backend
    if cpu_ok:
        order = (("c",) if c_available() else ()) + (("numba",) if have_numba() else ())
    else:
        order = ("triton",) if gpu_ok and have_triton() else ()
    for name in order:
        if registered(kind, name) is not None:
            return name
    return "torch"


class _KernelFn(torch.autograd.Function):
    """The one autograd node of every fused neuron: forward and backward are the
    registered kernel's; nothing here knows a kind or a backend."""

    @staticmethod
    def forward(ctx, kernel, c, save, overwrite, n_states, x, *tensors):  # type: ignore[override]
        ctx.set_materialize_grads(False)  # an unused final state's gradient stays None
        states0, params = tensors[:n_states], tensors[n_states:]
        xd = x.detach()
        xc = xd.contiguous()
        # x's own buffer is reused only when the caller gave it up, the kernel can, and x
        # is an intermediate result of the graph (never a leaf: the user's own data)
        overwrite = (overwrite and save and getattr(kernel, "overwrites_input", False)
                     and xc.data_ptr() == xd.data_ptr() and x.requires_grad and not x.is_leaf)
        s, finals, saved = kernel.forward(xc, states0, params, c, save,
                                          **({"overwrite": True} if overwrite else {}))
        if overwrite:
            # an operation that saved x for its backward now fails there, as after any
            # in-place change, instead of reading the membrane
            torch.autograd.graph.increment_version(x)
        if save:
            ctx.save_for_backward(*saved, *tensors)
            ctx.meta = (kernel, c, len(saved), n_states, x.dtype, overwrite)
            ctx.consumed = False
        return (s, *finals)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gs, *gfinal):  # type: ignore[override]
        kernel, c, n_saved, n_states, xdtype, consumes = ctx.meta
        if ctx.consumed:
            raise RuntimeError(
                "backward through a neuron layer run with overwrite_input=True a second time "
                "(retain_graph): its first backward wrote the gradient over the saved membrane; "
                "use overwrite_input=False to backward twice")
        tensors = ctx.saved_tensors
        saved, inputs = tensors[:n_saved], tensors[n_saved:]
        need = ctx.needs_input_grad[6:]
        ctx.consumed = consumes
        gx, grads = kernel.backward(saved, gs, gfinal, inputs[:n_states], inputs[n_states:], c,
                                    need, xdtype, **({"consume": True} if consumes else {}))
        return (None, None, None, None, None, gx, *grads)


def run(kind: str, backend: str, x: torch.Tensor, states0: tuple[torch.Tensor, ...],
        params: tuple[torch.Tensor, ...], c: Consts,
        overwrite_input: bool = False) -> tuple[torch.Tensor, ...]:
    """Run ``kind`` over ``x`` ``[T, B, ...]`` on ``backend`` (already resolved) and return
    ``(spikes, *final_states)``. States and parameters are tensors broadcastable to the
    neuron shape (checked by the caller); gradients flow to every one that requires grad.
    Backward's inputs are saved only when a gradient can be asked for.

    ``overwrite_input=True`` says the caller will not read ``x`` again: a kernel that can
    (``overwrites_input``) then keeps the membrane in ``x``'s buffer and writes the input
    gradient over it, like an in-place activation. It does so only for an ``x`` that is an
    intermediate result of the graph; ``x``'s values afterwards are unspecified, an
    operation that saved ``x`` for backward raises there, and a second backward through
    this call raises."""
    kernel = registered(kind, backend)
    if kernel is None:
        raise ValueError(f"backend={backend!r} has no kernel for the neuron kind {kind!r}")
    save = torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in states0)
                                        or any(t.requires_grad for t in params))
    ow = bool(overwrite_input)
    perm = dense_order(x) if kind in _ELEMENTWISE else None
    if perm is None:
        return _KernelFn.apply(kernel, c, save, ow, len(states0), x, *states0, *params)
    # x is dense in another order (a channels-last conv output): the kernel runs on the
    # permuted view, which is contiguous, and the outputs are permuted back, so they share
    # x's layout and nothing is copied. States and parameters follow the same permutation.
    nshape, nperm = x.shape[1:], [d - 1 for d in perm[1:]]
    states0 = tuple(t.expand(nshape).permute(nperm) for t in states0)
    params = tuple(t.expand(nshape).permute(nperm) for t in params)
    s, *finals = _KernelFn.apply(kernel, c, save, ow, len(states0), x.permute(perm), *states0,
                                 *params)
    back = [perm.index(d) for d in range(len(perm))]
    return (s.permute(back), *(f.permute([d - 1 for d in back[1:]]) for f in finals))


# kinds whose states and parameters are per neuron (elementwise over the neuron axes), so a
# permutation of those axes commutes with the recurrence; "rlif" mixes neurons (w_rec)
_ELEMENTWISE = ("lif", "alif", "cuba")


def dense_order(x: torch.Tensor) -> list[int] | None:
    """The permutation ``p`` (time axis first) that makes each step ``x.permute(p)[t]``
    contiguous, when the neuron axes of ``x`` are dense in another order than their own (a
    channels-last ``[T, B, C, H, W]``, also one expanded over T); ``None`` otherwise
    (channels-first already, or strided with gaps: the kernel then copies)."""
    if x.dim() < 3 or x[0].is_contiguous():
        return None
    step = x[0]
    strides = step.stride()
    order = sorted(range(step.dim()), key=lambda d: -strides[d])
    return [0] + [d + 1 for d in order] if step.permute(order).is_contiguous() else None
