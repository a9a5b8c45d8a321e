import pytest
import torch

from snnbench.encoding import ENCODERS, Encoder, get_encoder, poisson_encode

CASES = {
    "poisson": ({"num_steps": 6, "max_rate_hz": 200.0}, (3, 4), (6, 3, 4)),
    "bernoulli": ({"num_steps": 6}, (3, 4), (6, 3, 4)),
    "latency": ({"num_steps": 6}, (3, 1, 2, 2), (6, 3, 1, 2, 2)),
    "rank_order": ({"num_steps": 6}, (3, 4), (6, 3, 4)),
    "population": ({"num_steps": 6, "n_neurons": 3}, (3, 4), (6, 3, 12)),
    "delta": ({"threshold": 0.1}, (3, 5, 2), (5, 3, 4)),
    "direct": ({"num_steps": 6}, (3, 4), (6, 3, 4)),
}


def test_registry_covers_all_names():
    assert set(ENCODERS) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_encoder_builds_and_runs(name):
    kwargs, in_shape, out_shape = CASES[name]
    enc = get_encoder(name, **kwargs)
    assert isinstance(enc, Encoder) and isinstance(enc, torch.nn.Module)
    x = torch.rand(in_shape, generator=torch.Generator().manual_seed(0))
    a = enc(x, torch.Generator().manual_seed(1))
    b = enc(x, torch.Generator().manual_seed(1))
    assert a.shape == out_shape and torch.equal(a, b)
    assert bool(torch.isfinite(a).all())


def test_module_and_function_share_the_random_stream():
    enc = get_encoder("poisson", num_steps=5, max_rate_hz=400.0, dt=0.5)
    x = torch.rand(2, 3)
    assert enc.stochastic and not get_encoder("latency", num_steps=3).stochastic
    assert torch.equal(
        enc(x, torch.Generator().manual_seed(4)),
        poisson_encode(x, 5, max_rate_hz=400.0, dt=0.5, generator=torch.Generator().manual_seed(4)),
    )


def test_errors():
    with pytest.raises(ValueError, match=r"name must be one of .*got 'rate'"):
        get_encoder("rate", num_steps=5)
    with pytest.raises(ValueError, match=r"bad arguments for encoder 'poisson'.*max_rate"):
        get_encoder("poisson", num_steps=5, max_rate=10.0)
    with pytest.raises(ValueError, match=r"num_steps must be an integer >= 1, got 0"):
        get_encoder("latency", num_steps=0)
