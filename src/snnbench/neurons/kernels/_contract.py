"""The kernel contract every backend module implements and registers against: the
constants of a call (:class:`Consts`), what a backend provides (:class:`Kernel`), the
registry (:func:`register`) and the surrogate codes the compiled kernels understand.
Backends import this module, never the package, so the registry package can load them
lazily without an import cycle."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from ..._validation import check_choice
from ..surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle

BACKENDS = ("auto", "c", "numba", "torch", "triton")
RESET_CODE = {"soft": 0, "hard": 1, "none": 2}
# Surrogates with a closed form the compiled kernels evaluate inline; any other Surrogate
# subclass works too, its derivative is then evaluated by torch over the whole sequence.
SG_CODE: dict[type, int] = {ATan: 0, FastSigmoid: 1, Triangle: 2, Sigmoid: 3}


class Consts(NamedTuple):
    """Python constants of a kernel call: threshold, reset value, reset mode
    (:data:`RESET_CODE`), ``detach_reset``, the surrogate, and the kind's extra constants
    (``(theta_plus,)`` for the adaptive LIF)."""

    thr: float
    vr: float
    mode: int
    detach: bool
    surrogate: Surrogate
    extra: tuple[float, ...] = ()


class Kernel(Protocol):
    """What a backend registers for a kind.

    ``forward(x, states0, params, c, save)`` runs the sequence ``x`` ``[T, B, ...]``
    (contiguous, detached) from the initial states and returns ``(spikes, final_states,
    saved)``; ``saved`` (tensors) is what backward needs and is only kept when ``save``.
    ``backward(saved, gs, gfinal, states0, params, c, need, xdtype)`` gets the gradients of
    the spikes and final states (``None`` where absent) and returns ``(gx, grads)``, one
    gradient per initial state and parameter (``None`` where ``need`` is False), each
    summed to its tensor's shape.

    A kernel that sets ``overwrites_input = True`` also takes ``forward(...,
    overwrite=True)`` (``x`` may be written over: keep ``h`` there) and ``backward(...,
    consume=True)`` (write the input gradient over the saved ``h`` and return it);
    :func:`snnbench.neurons.kernels.run` passes them only when the caller gave ``x`` up.
    """

    def forward(self, x, states0, params, c, save): ...

    def backward(self, saved, gs, gfinal, states0, params, c, need, xdtype): ...


_REGISTRY: dict[tuple[str, str], Kernel] = {}


def register(kind: str, backend: str, kernel: Kernel) -> None:
    """Make ``kernel`` the ``backend`` implementation of ``kind`` (called by the backend
    modules when they are imported)."""
    check_choice("backend", backend, BACKENDS[1:])
    _REGISTRY[(kind, backend)] = kernel


def sg_consts(surrogate: Surrogate) -> tuple[int, float, float, float]:
    """(kind code, alpha, c0, c1) of a surrogate for the compiled kernels (kind -1 = a
    custom surrogate, whose derivative torch evaluates beforehand)."""
    import math

    kind = SG_CODE.get(type(surrogate), -1)
    alpha = float(surrogate.alpha)
    c0 = alpha / 2 if kind == 0 else 0.0
    c1 = math.pi / 2 * alpha if kind == 0 else 0.0
    return kind, alpha, c0, c1
