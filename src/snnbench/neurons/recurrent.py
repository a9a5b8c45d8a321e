r"""Recurrently connected LIF layer: functional core and module.

.. code-block:: text

    h_t = beta * v_{t-1} + W_in x_t + b_in + W_rec s_{t-1}
    s_t = Theta(h_t - threshold),  v_t = reset(h_t, s_t)      (as in snnbench.neurons.lif)

``W_in x_t`` is computed for all T at once (one matmul over the folded ``[T*B, F]``
input); only the recurrent term ``W_rec s_{t-1}`` runs inside the time loop.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._signature import takes_options_of
from .._validation import check_int, check_tensor
from . import kernels
from ._checks import as_tensor, check_seq, check_state_shape
from ._scan import scan
from .lif import LIFParams, _core_step, check_lif_params
from .modules import LIF, _NeuronModule


class RLIFState(NamedTuple):
    """Membrane ``v``, refractory counter and the previous step's spikes ``[B, H]``."""

    v: torch.Tensor
    refractory: torch.Tensor
    spikes: torch.Tensor


def rlif_initial_state(cur: torch.Tensor) -> RLIFState:
    """Rest (``v = 0``, no spikes), shaped like one step of the projected input ``[B, H]``."""
    return RLIFState(
        torch.zeros_like(cur),
        torch.zeros(cur.shape, dtype=torch.int32, device=cur.device),
        torch.zeros_like(cur),
    )


def recurrent_lif(
    x_seq: torch.Tensor,
    w_in: torch.Tensor,
    w_rec: torch.Tensor,
    state: RLIFState | None = None,
    p: LIFParams | None = None,
    *,
    b_in: torch.Tensor | None = None,
    return_membrane: bool = False,
    fused: bool = True,
    check_finite: bool = True,
):
    """Run a recurrent LIF layer over ``x_seq`` ``[T, B, F]``.

    ``w_in`` ``[H, F]``, ``w_rec`` ``[H, H]`` (row = postsynaptic neuron, as ``nn.Linear``),
    optional ``b_in`` ``[H]``. ``p`` defaults to ``LIFParams(beta=0.9)``. Returns
    ``(spikes [T, B, H], state)`` or ``(spikes, state, membrane)`` (pre-reset ``h_t``).
    Without a refractory period, with a scalar threshold and no membrane to return, the
    time loop is one autograd node (the ``"rlif"`` kernel,
    :mod:`snnbench.neurons.kernels.recurrent`, same values and gradients); ``fused=False``
    forces the reference loop below. ``check_finite`` as in :func:`snnbench.neurons.lif.lif`.
    """
    check_seq(x_seq, finite=check_finite)
    check_tensor("w_in", w_in, ndim=2)
    check_tensor("w_rec", w_rec, ndim=2)
    hidden = w_in.shape[0]
    if w_in.shape[1] != x_seq.shape[-1]:
        raise ValueError(
            f"w_in must have shape [H, {x_seq.shape[-1]}] to match x_seq's last dim, got {tuple(w_in.shape)}"
        )
    if tuple(w_rec.shape) != (hidden, hidden):
        raise ValueError(f"w_rec must have shape [{hidden}, {hidden}], got {tuple(w_rec.shape)}")
    if b_in is not None:
        check_tensor("b_in", b_in, ndim=1)
        if b_in.shape[0] != hidden:
            raise ValueError(f"b_in must have shape [{hidden}], got {tuple(b_in.shape)}")
    p = LIFParams(beta=0.9) if p is None else check_lif_params(p)

    cur_all = F.linear(x_seq, w_in, b_in)  # one matmul for all T
    cur = cur_all.unbind(0)
    if state is None:
        v, ref, s = rlif_initial_state(cur[0])
    else:
        if not isinstance(state, tuple) or len(state) != 3:
            raise ValueError(
                f"state must be RLIFState(v, refractory, spikes) or None, got {type(state).__name__}"
            )
        v, ref, s = state
        for name, t in (("state.v", v), ("state.refractory", ref), ("state.spikes", s)):
            check_state_shape(name, t, cur[0].shape)
    beta, thr, reset, v_reset = p.beta, p.threshold, p.reset, float(p.v_reset)
    n_ref, sg, det = p.refractory_steps, p.surrogate, p.detach_reset
    if fused and n_ref == 0 and not return_membrane and not isinstance(thr, torch.Tensor):
        c = kernels.Consts(float(thr), v_reset, kernels.RESET_CODE[reset], bool(det), sg)
        out, v, s = kernels.run("rlif", "torch", cur_all, (v, s), (w_rec, as_tensor(beta, cur_all)), c)
        return out, RLIFState(v, ref, s)

    def step(c, st):
        x = c + F.linear(st.spikes, w_rec)
        s, h, v, ref = _core_step(x, st.v, st.refractory, beta, thr, reset, v_reset, n_ref, sg, det)
        return s, h, RLIFState(v, ref, s)

    return scan(step, cur, RLIFState(v, ref, s), return_membrane)


class RecurrentLIF(_NeuronModule):
    """Recurrent LIF layer ``in_features -> hidden`` with input and recurrent weights.

    Weights start as ``nn.Linear`` does (uniform in ``+-1/sqrt(fan_in)``). Takes
    ``x_seq`` ``[T, B, in_features]``; returns ``(spikes [T, B, hidden], RLIFState)``.
    """

    @takes_options_of(LIF.__init__, drop=("shape", "backend"))
    def __init__(self, in_features: int, hidden: int, *, bias: bool = True, **lif_options) -> None:
        in_features = check_int("in_features", in_features)
        hidden = check_int("hidden", hidden)
        self._init_lif(hidden, lif_options)
        self.in_features, self.hidden = in_features, hidden
        self.fc_in = nn.Linear(in_features, hidden, bias=bias)
        self.fc_rec = nn.Linear(hidden, hidden, bias=False)
        check_lif_params(self.params())

    def params(self) -> LIFParams:
        return self._lif_params()

    def forward(
        self, x_seq: torch.Tensor, state: RLIFState | None = None
    ) -> tuple[torch.Tensor, RLIFState]:
        return self._finish(
            recurrent_lif(
                x_seq, self.fc_in.weight, self.fc_rec.weight, state, self.params(),
                b_in=self.fc_in.bias, return_membrane=self.record, check_finite=self.check_finite,
            )
        )

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, hidden={self.hidden}"
