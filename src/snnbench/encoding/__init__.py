"""Spike encoders (input -> ``[T, B, ...]``) and readouts (``[T, B, K]`` -> ``[B, K]``).

Every encoder is a pure function plus a module wrapper called as
``encoder(x, generator=None)``; ``get_encoder(name, **kwargs)`` builds one by name.
"""

from ._common import Encoder
from .delta import DeltaEncoder, delta_decode, delta_encode
from .population import (
    PopulationEncoder,
    gaussian_receptive_fields,
    population_encode,
    receptive_field_centres,
)
from .rate import (
    BernoulliEncoder,
    DirectEncoder,
    PoissonEncoder,
    bernoulli_encode,
    direct_encode,
    poisson_encode,
)
from .readout import (
    READOUTS,
    Readout,
    first_spike,
    first_spike_time,
    get_readout,
    last_membrane,
    max_membrane,
    mean_membrane,
    spike_count,
)
from .registry import ENCODERS, get_encoder
from .temporal import (
    LatencyEncoder,
    RankOrderEncoder,
    latency_encode,
    latency_spike_times,
    rank_order_encode,
    rank_order_spike_times,
)

__all__ = [
    "Encoder",
    "ENCODERS",
    "get_encoder",
    "poisson_encode",
    "bernoulli_encode",
    "direct_encode",
    "PoissonEncoder",
    "BernoulliEncoder",
    "DirectEncoder",
    "latency_encode",
    "latency_spike_times",
    "rank_order_encode",
    "rank_order_spike_times",
    "LatencyEncoder",
    "RankOrderEncoder",
    "gaussian_receptive_fields",
    "receptive_field_centres",
    "population_encode",
    "PopulationEncoder",
    "delta_encode",
    "delta_decode",
    "DeltaEncoder",
    "READOUTS",
    "Readout",
    "get_readout",
    "spike_count",
    "mean_membrane",
    "max_membrane",
    "last_membrane",
    "first_spike_time",
    "first_spike",
]
