"""Encoders by name, so that a config can say ``encoder: {name: poisson, num_steps: 25}``."""

from __future__ import annotations

from typing import Any

from .._validation import check_choice
from ._common import Encoder
from .delta import DeltaEncoder
from .population import PopulationEncoder
from .rate import BernoulliEncoder, DirectEncoder, PoissonEncoder
from .temporal import LatencyEncoder, RankOrderEncoder

ENCODERS: dict[str, type[Encoder]] = {
    "poisson": PoissonEncoder,
    "bernoulli": BernoulliEncoder,
    "latency": LatencyEncoder,
    "rank_order": RankOrderEncoder,
    "population": PopulationEncoder,
    "delta": DeltaEncoder,
    "direct": DirectEncoder,
}


def get_encoder(name: str, **kwargs: Any) -> Encoder:
    """Build the encoder registered as ``name`` with its keyword arguments.

    Unknown names and unknown keyword arguments raise ``ValueError``.
    """
    cls = ENCODERS[check_choice("name", name, tuple(ENCODERS))]
    try:
        return cls(**kwargs)
    except TypeError as err:
        # A misspelt option should read like the other argument errors, not a TypeError.
        raise ValueError(f"bad arguments for encoder {name!r} ({cls.__name__}): {err}") from None
