r"""Whole-sequence neurons with explicit tensors: the kernels of
:mod:`snnbench.neurons.kernels` without the ``LIFParams``/``LIFState`` wrapping.

``lif(x_seq, state, p)`` and ``alif`` call the same kernels; these functions take the
initial state and the decays as tensors or numbers (``v0``, ``beta``, ...), for code that
manages its own state (benchmarks, custom layers). Each validates its arguments once.
"""

from __future__ import annotations

import torch

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive, check_tensor
from . import kernels
from ._checks import RESETS, as_tensor, check_broadcast, check_unit_interval, check_v_reset
from .surrogate import Surrogate, get_surrogate

__all__ = ["RESETS", "BACKENDS", "lif_multistep_fused", "if_multistep_fused",
           "alif_multistep_fused", "fused_backend"]

BACKENDS = kernels.BACKENDS


def fused_backend(x: torch.Tensor, backend: str = "auto", kind: str = "lif") -> str:
    """The backend that runs ``kind`` on ``x`` (see :func:`snnbench.neurons.kernels.resolve`)."""
    return kernels.resolve(x, backend, kind)


def _state(name: str, t: torch.Tensor | None, x_seq: torch.Tensor) -> torch.Tensor:
    """A state tensor broadcastable to the neuron shape; ``None`` is a zero scalar."""
    if t is None:
        return torch.zeros((), dtype=x_seq.dtype, device=x_seq.device)
    check_tensor(name, t, finite=False)
    check_broadcast(name, t, x_seq.shape[1:])
    return t


def _decay(name: str, d: float | torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """A per-step decay in [0, 1] (a number) or a tensor broadcastable to the neuron shape."""
    if isinstance(d, torch.Tensor):
        check_broadcast(name, d, x_seq.shape[1:])
        return d
    check_unit_interval(name, d, interval="[0, 1]")
    return as_tensor(d, x_seq)


def _check(x_seq, threshold, reset, v_reset, surrogate, detach_reset, extra=()):
    check_tensor("x_seq", x_seq, min_ndim=1, finite=False)
    if not x_seq.is_floating_point():
        raise ValueError(f"x_seq must be a floating-point tensor, got dtype {x_seq.dtype}")
    check_int("x_seq.shape[0] (time steps T)", int(x_seq.shape[0]), minimum=1)
    thr = check_positive("threshold", threshold)
    check_choice("reset", reset, RESETS)
    return kernels.Consts(thr, check_v_reset(v_reset), kernels.RESET_CODE[reset],
                          bool(detach_reset), get_surrogate(surrogate), extra)


def lif_multistep_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    beta: float | torch.Tensor = 0.9,
    threshold: float = 1.0,
    reset: str = "soft",
    v_reset: float = 0.0,
    surrogate: Surrogate | str = "atan",
    detach_reset: bool = False,
    backend: str = "auto",
    overwrite_input: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""LIF over a whole sequence: :math:`h_t = \beta v_{t-1} + x_t`,
    :math:`s_t = \Theta(h_t - \vartheta)`, reset ``"soft"``/``"hard"``/``"none"``.

    ``x_seq`` ``[T, B, ...]``; ``v0`` (``None`` = zeros) and ``beta`` (a float in [0, 1] or
    a tensor) broadcastable to the neuron shape. Returns ``(spikes, v_T)``; gradients flow
    to ``x_seq``, ``v0`` and a tensor ``beta``. ``overwrite_input``: the caller never reads
    ``x_seq`` again (see :func:`snnbench.neurons.lif`).
    """
    c = _check(x_seq, threshold, reset, v_reset, surrogate, detach_reset)
    v0, beta = _state("v0", v0, x_seq), _decay("beta", beta, x_seq)
    be = kernels.resolve(x_seq, backend, "lif")
    return kernels.run("lif", be, x_seq, (v0,), (beta,), c, bool(overwrite_input))


@takes_options_of(lif_multistep_fused, drop=("beta",), positional=True)
def if_multistep_fused(**options) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Integrate-and-fire: :func:`lif_multistep_fused` with :math:`\beta = 1` (no leak)."""
    return lif_multistep_fused(beta=1.0, **options)


@takes_options_of(lif_multistep_fused, only=("reset", "v_reset", "surrogate", "detach_reset", "backend"),
                  positional=True)
def alif_multistep_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor | None = None,
    a0: torch.Tensor | None = None,
    beta: float | torch.Tensor = 0.9,
    rho: float | torch.Tensor = 0.95,
    threshold: float = 1.0,
    theta_plus: float = 0.05,
    **options,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Adaptive-threshold LIF over a whole sequence (``snnbench.neurons.adaptive``'s
    equations: ``a`` is its ``theta``, ``rho`` its ``theta_decay``): threshold
    :math:`\vartheta + a_{t-1}`, :math:`a_t = \rho a_{t-1} + \theta_+ s_t`. Returns
    ``(spikes, v_T, a_T)``; gradients flow to ``x_seq``, ``v0``, ``a0`` and tensor
    ``beta``/``rho``.
    """
    tp = check_positive("theta_plus", theta_plus, allow_zero=True)
    o = options
    c = _check(x_seq, threshold, o["reset"], o["v_reset"], o["surrogate"], o["detach_reset"], (tp,))
    states = (_state("v0", v0, x_seq), _state("a0", a0, x_seq))
    params = (_decay("beta", beta, x_seq), _decay("rho", rho, x_seq))
    be = kernels.resolve(x_seq, o["backend"], "alif")
    return kernels.run("alif", be, x_seq, states, params, c)
