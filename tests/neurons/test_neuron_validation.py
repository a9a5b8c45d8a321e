"""Bad arguments raise ValueError naming the argument, the value and what is allowed."""

from __future__ import annotations

import pytest
import torch

from snnbench.neurons import (
    IF,
    LIF,
    AdaptiveLIF,
    ALIFParams,
    Izhikevich,
    IzhikevichParams,
    LIFParams,
    LIFState,
    RecurrentLIF,
    alif,
    izhikevich,
    izhikevich_preset,
    lif,
    lif_step,
    recurrent_lif,
)

X = torch.zeros(4, 2, 3)


@pytest.mark.parametrize(
    "fn,p",
    [(lif, LIFParams(beta=0.9)), (alif, ALIFParams(beta=0.9)), (izhikevich, IzhikevichParams())],
)
def test_bad_inputs(fn, p):
    with pytest.raises(ValueError, match=r"x_seq.*at least 2 dimensions.*\(5,\)"):
        fn(torch.zeros(5), None, p)
    nan = X.clone()
    nan[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="x_seq contains NaN"):
        fn(nan, None, p)
    with pytest.raises(ValueError, match="x_seq must be a floating point tensor"):
        fn(torch.zeros(4, 2, dtype=torch.long), None, p)
    with pytest.raises(ValueError, match="x_seq must be a torch.Tensor"):
        fn([[0.0]], None, p)


@pytest.mark.parametrize("beta", [1.5, -0.1, float("nan")])
def test_beta_out_of_range(beta):
    with pytest.raises(ValueError, match=r"beta must be in \[0.0, 1.0\], got"):
        lif(X, None, LIFParams(beta=beta))
    with pytest.raises(ValueError, match="beta"):
        LIF(beta=beta)
    with pytest.raises(ValueError, match="beta"):
        alif(X, None, ALIFParams(beta=beta))


def test_beta_tensor_out_of_range():
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\].*1.2"):
        lif(X, None, LIFParams(beta=torch.tensor([0.5, 1.2, 0.3])))


@pytest.mark.parametrize("tau", [0.0, -3.0])
def test_tau_not_positive(tau):
    with pytest.raises(ValueError, match=f"tau_mem must be finite and > 0, got {tau}"):
        LIFParams.from_tau(tau, 1.0)
    with pytest.raises(ValueError, match="tau_mem"):
        LIF(tau_mem=tau)
    with pytest.raises(ValueError, match="tau_theta"):
        ALIFParams.from_tau(10.0, tau)
    with pytest.raises(ValueError, match="tau_theta"):
        AdaptiveLIF(tau_theta=tau)


@pytest.mark.parametrize("dt", [0.0, -1.0])
def test_dt_not_positive(dt):
    with pytest.raises(ValueError, match=f"dt must be finite and > 0, got {dt}"):
        LIFParams.from_tau(10.0, dt)
    with pytest.raises(ValueError, match="dt"):
        LIF(tau_mem=10.0, dt=dt)
    with pytest.raises(ValueError, match="dt"):
        izhikevich(X, None, IzhikevichParams(dt=dt))


@pytest.mark.parametrize("thr", [0.0, -1.0])
def test_threshold_not_positive(thr):
    with pytest.raises(ValueError, match=f"threshold must be finite and > 0, got {thr}"):
        lif(X, None, LIFParams(beta=0.9, threshold=thr))
    with pytest.raises(ValueError, match="threshold"):
        IF(threshold=thr)


def test_bad_reset_and_other_fields():
    with pytest.raises(ValueError, match=r"reset must be one of \['hard', 'none', 'soft'\], got 'subtract'"):
        lif(X, None, LIFParams(beta=0.9, reset="subtract"))
    with pytest.raises(ValueError, match="reset"):
        LIF(reset="zero")
    with pytest.raises(ValueError, match="refractory_steps must be an integer >= 0, got -1"):
        lif(X, None, LIFParams(beta=0.9, refractory_steps=-1))
    with pytest.raises(ValueError, match="surrogate must be one of"):
        LIF(surrogate="relu")
    with pytest.raises(ValueError, match="surrogate must be a Surrogate"):
        lif(X, None, LIFParams(beta=0.9, surrogate="atan"))
    with pytest.raises(ValueError, match="theta_decay"):
        alif(X, None, ALIFParams(beta=0.9, theta_decay=1.5))


def test_state_shape_mismatch():
    bad = LIFState(torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"state.v must have the neuron shape \(2, 3\), got \(2, 4\)"):
        lif(X, bad, LIFParams(beta=0.9))
    with pytest.raises(ValueError, match="state.v"):
        lif_step(X[0], bad, LIFParams(beta=0.9))


def test_module_argument_errors():
    with pytest.raises(ValueError, match=r"x_seq must have shape \[T, B, 5\]"):
        LIF(5)(X)
    with pytest.raises(ValueError, match="beta or tau_mem, not both"):
        LIF(beta=0.9, tau_mem=10.0)
    with pytest.raises(ValueError, match="per_neuron=True needs the neuron shape"):
        LIF(learn_tau=True, per_neuron=True)
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\) open with learn_tau"):
        LIF(beta=1.0, learn_tau=True)
    with pytest.raises(ValueError, match="shape must be an integer >= 1, got 0"):
        LIF((3, 0))
    with pytest.raises(ValueError, match="hidden must be an integer >= 1, got 0"):
        RecurrentLIF(3, 0)


def test_izhikevich_argument_errors():
    with pytest.raises(ValueError, match=r"preset must be one of .*got 'pyramidal'"):
        izhikevich_preset("pyramidal")
    with pytest.raises(ValueError, match="give all of a, b, c, d"):
        Izhikevich(a=0.02, b=0.2)
    with pytest.raises(ValueError, match=r"c must be < v_peak=30.0"):
        izhikevich(X, None, IzhikevichParams(c=35.0))
    with pytest.raises(ValueError, match="substeps must be an integer >= 1, got 0"):
        izhikevich(X, None, IzhikevichParams(substeps=0))


def test_recurrent_weight_shapes():
    with pytest.raises(ValueError, match=r"w_in must have shape \[H, 3\]"):
        recurrent_lif(X, torch.zeros(5, 4), torch.zeros(5, 5))
    with pytest.raises(ValueError, match=r"w_rec must have shape \[5, 5\], got \(5, 4\)"):
        recurrent_lif(X, torch.zeros(5, 3), torch.zeros(5, 4))
