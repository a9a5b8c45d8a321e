"""Everything about a suite that can be checked before its run folder exists.

The config schema checks types, ranges and names; what it cannot check without the data is
whether each model can be built (its ``kwargs``: an unknown option such as ``encodr``, or
``num_steps: 0``). :func:`preflight` resolves the device, loads every experiment's data (for
the first seed, kept in the returned cache so the run does not load it again) and builds
every model once, turning any failure into an error that names the config field.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .config import ConfigError, SuiteConfig
from .runner import _load_split_cached, build_experiment_model, resolve_device


def _field_of(err: Exception, kwargs: dict[str, Any], base: str) -> str:
    """``base.kwargs.<key>`` when the builder's message starts with one of the model's
    options (``num_steps must be ...``), else ``base``."""
    text = str(err)
    for key in sorted(kwargs, key=len, reverse=True):
        if re.match(rf"{re.escape(key)}\b", text):
            return f"{base}.kwargs.{key}"
    if "unknown keys" in text:
        return f"{base}.kwargs"
    return base


def preflight(suite: SuiteConfig) -> dict:
    """Check what the schema cannot: the device, the data and every model; return the data
    cache for :func:`~snnbench.experiments.runner.run_suite`. Raises :class:`ConfigError`."""
    cache: dict = {}
    if suite.kind != "surrogate":
        return cache  # STDP cells are validated by the schema already
    resolve_device(suite.device)
    for i, exp in enumerate(suite.experiments):
        try:
            data = _load_split_cached(cache, exp, suite.seeds[0])
        except (ValueError, OSError, KeyError) as err:
            raise ConfigError(f"experiments.{i}.data ({exp.name!r}): {' '.join(str(err).split())}") from None
        for j, m in enumerate(exp.models):
            base = f"experiments.{i}.models.{j}"
            with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the global RNG alone
                try:
                    build_experiment_model(exp, m, data.info)
                except (ValueError, TypeError) as err:
                    field = _field_of(err, m.kwargs, base)
                    raise ConfigError(
                        f"{field} (model {m.name!r} of experiment {exp.name!r}): {' '.join(str(err).split())}"
                    ) from None
    return cache
