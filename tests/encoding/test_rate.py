import math

import pytest
import torch

from snnbench.encoding import (
    BernoulliEncoder,
    PoissonEncoder,
    bernoulli_encode,
    direct_encode,
    poisson_encode,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _within_binomial(count: torch.Tensor, n: int, p: torch.Tensor, sigmas: float = 5.0) -> bool:
    # |k - n p| <= 5 sqrt(n p (1 - p)) (+1 so that p in {0, 1} demands an exact count)
    bound = sigmas * torch.sqrt(n * p * (1 - p)) + 1e-9
    return bool(((count - n * p).abs() <= bound).all())


def test_poisson_rate_matches_target():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(400, 1)  # [B=400, 5]
    T, rate, dt = 100, 150.0, 2.0
    s = poisson_encode(x, T, max_rate_hz=rate, dt=dt, generator=_gen(1))
    assert s.shape == (T, 400, 5) and s.dtype == torch.float32
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=torch.float64) * rate * dt / 1000.0
    counts = s.double().sum(dim=(0, 1))
    assert _within_binomial(counts, T * 400, p)
    assert counts[0] == 0  # zero intensity never spikes


def test_poisson_rate_one_spike_per_step_at_limit():
    # max_rate * dt = 1000 Hz ms -> p = 1 for x = 1
    s = poisson_encode(torch.ones(3, 2), 7, max_rate_hz=500.0, dt=2.0, generator=_gen(0))
    assert bool((s == 1).all())


def test_poisson_steps_are_independent():
    # Lag-1 coincidences occur at rate p^2 when steps are independent.
    p_in = 0.3
    s = poisson_encode(torch.full((2000,), p_in), 50, max_rate_hz=1000.0, dt=1.0, generator=_gen(3))
    both = (s[1:] * s[:-1]).double().sum()
    n = 49 * 2000
    assert _within_binomial(both, n, torch.tensor(p_in**2, dtype=torch.float64))


def test_bernoulli_rate_with_gain():
    x = torch.tensor([0.2, 0.8]).repeat(500, 1)
    s = bernoulli_encode(x, 80, gain=0.5, generator=_gen(2))
    counts = s.double().sum(dim=(0, 1))
    assert _within_binomial(counts, 80 * 500, torch.tensor([0.1, 0.4], dtype=torch.float64))


@pytest.mark.parametrize("fn", [
    lambda x, g: poisson_encode(x, 20, generator=g),
    lambda x, g: bernoulli_encode(x, 20, generator=g),
    lambda x, g: PoissonEncoder(20, max_rate_hz=300.0)(x, g),
    lambda x, g: BernoulliEncoder(20)(x, g),
])
def test_seed_determinism(fn):
    x = torch.rand(4, 3, 5, generator=_gen(9))
    a, b, c = fn(x, _gen(5)), fn(x, _gen(5)), fn(x, _gen(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_integer_input_is_accepted_and_checked():
    s = bernoulli_encode(torch.tensor([[0, 1]], dtype=torch.uint8), 5, generator=_gen(0))
    assert torch.equal(s[:, 0, 0], torch.zeros(5)) and torch.equal(s[:, 0, 1], torch.ones(5))
    with pytest.raises(ValueError, match="x must be <= 1"):
        bernoulli_encode(torch.tensor([[0, 255]], dtype=torch.uint8), 5)


def test_direct_repeats_and_passes_gradient():
    x = torch.tensor([[-1.5, 2.0], [0.25, 3.0]], requires_grad=True)
    y = direct_encode(x, 4)
    assert y.shape == (4, 2, 2)
    assert torch.equal(y.detach(), x.detach().expand(4, 2, 2))
    (y * torch.arange(4.0).view(4, 1, 1)).sum().backward()
    assert torch.allclose(x.grad, torch.full((2, 2), 6.0))  # 0+1+2+3


@pytest.mark.parametrize("call, match", [
    (lambda: poisson_encode(torch.rand(2, 2), 0), r"num_steps must be an integer >= 1, got 0"),
    (lambda: poisson_encode(torch.rand(2, 2), 2.5), r"num_steps .* got 2.5"),
    (lambda: poisson_encode(torch.rand(2, 2), 5, dt=0.0), r"dt must be finite and > 0, got 0.0"),
    (lambda: poisson_encode(torch.rand(2, 2), 5, max_rate_hz=-1.0), r"max_rate_hz .* > 0, got -1.0"),
    (lambda: poisson_encode(torch.rand(2, 2), 5, max_rate_hz=600.0, dt=2.0), r"must be <= 1.*1\.2"),
    (lambda: poisson_encode(torch.tensor([0.5, 1.5]), 5), r"x must be <= 1.*1\.5"),
    (lambda: poisson_encode(torch.tensor([-0.5, 0.5]), 5), r"x must be >= 0.*-0\.5"),
    (lambda: poisson_encode(torch.tensor([math.nan, 0.5]), 5), r"x contains NaN"),
    (lambda: poisson_encode(torch.tensor(0.5), 5), r"x must have at least 1 dimensions"),
    (lambda: poisson_encode([0.5], 5), r"x must be a torch.Tensor"),
    (lambda: bernoulli_encode(torch.tensor([0.8]), 5, gain=2.0), r"gain \* x .* gain=2.0"),
    (lambda: bernoulli_encode(torch.tensor([0.8]), 5, gain=0.0), r"gain must be finite and > 0"),
    (lambda: direct_encode(torch.tensor([math.inf]), 5), r"x contains NaN or infinite"),
    (lambda: PoissonEncoder(10, max_rate_hz=2000.0), r"max_rate_hz \* dt / 1000 must be <= 1"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_generator_gives_same_spikes_on_cuda():
    x = torch.rand(3, 4)
    cpu = poisson_encode(x, 10, max_rate_hz=500.0, generator=_gen(7))
    gpu = poisson_encode(x.cuda(), 10, max_rate_hz=500.0, generator=_gen(7))
    assert gpu.is_cuda and torch.equal(gpu.cpu(), cpu)
