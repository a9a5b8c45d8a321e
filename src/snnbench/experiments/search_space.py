"""Search spaces per model family, and how a sampled point becomes a model config.

A space maps parameter names to one range spec: ``{loguniform: [lo, hi]}``,
``{uniform: [lo, hi]}``, ``{randint: [lo, hi]}`` (hi inclusive) or ``{choice: [...]}``.

Parameters and where they go:

=================  ============================================  ====================
name               meaning                                       families
=================  ============================================  ====================
``lr``             Adam learning rate                            all
``weight_decay``   L2 weight decay                               all
``batch_size``     training batch size                           all
``beta``           membrane decay per step (``exp(-dt/tau)``)    SNN
``threshold``      firing threshold (input units)                SNN
``alpha``          surrogate-gradient slope                      SNN
``num_steps``      time steps T of a static input's spike code   SNN, static inputs
``dropout``        dropout rate                                  MLP, GRU/LSTM (depth > 1)
``depth``          hidden layers; the width then follows from    MLP, GRU/LSTM
                   parameter matching, so every trial stays
                   within the match tolerance
=================  ============================================  ====================

Default spaces are the same for every model of a family; a config's ``tune.spaces`` may
override single parameters (``null`` removes one).
"""

from __future__ import annotations

from typing import Any

from .config import ExperimentConfig, ModelConfig
from .tune_config import (  # noqa: F401  (the parameter tables, re-exported)
    ANN_PARAMS, KINDS, NEURON_PARAMS, SNN_PARAMS, TRAIN_PARAMS, allowed_params, check_param_spec,
)

def _static_input(exp: ExperimentConfig, m: ModelConfig, input_shape: tuple[int, ...]) -> bool:
    return len(input_shape) != 2  # images and tabular rows: T is a free choice (any encoder)


def default_space(exp: ExperimentConfig, m: ModelConfig, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The family's space for model ``m`` of ``exp`` (``input_shape`` of one sample)."""
    b = exp.train.batch_size
    space: dict[str, Any] = {
        # Adam's step size, two decades around the presets' hand-tuned 2e-3..1e-2; below 3e-4
        # a small set's few hundred steps leave every family near chance (a GRU on BasicMotions
        # at 3e-4: 52 % validation after 50 epochs, benchmarks/grace_curves.py), so such trials only spend the budget
        "lr": {"loguniform": [3e-4, 3e-2]},
        "weight_decay": {"choice": [0.0, 1e-5, 1e-4, 1e-3]},
        "batch_size": {"choice": sorted({max(4, b // 2), b, 2 * b})},
    }
    if m.is_snn:
        space["beta"] = {"uniform": [0.7, 0.98]}
        space["threshold"] = {"uniform": [0.5, 1.5]}
        space["alpha"] = {"loguniform": [0.5, 8.0]}
        if _static_input(exp, m, input_shape):
            t = int(m.kwargs.get("num_steps", 25))
            space["num_steps"] = {"choice": sorted({max(2, t // 2), t, t + t // 2})}
    elif m.type in ("mlp", "gru", "lstm"):
        space["dropout"] = {"uniform": [0.0, 0.5]}
        if m.match is not None:  # the width follows from matching; the depth may vary
            space["depth"] = {"choice": [1, 2]}
    return space


def model_space(exp: ExperimentConfig, m: ModelConfig, input_shape: tuple[int, ...],
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Default space with the config's overrides applied (``None`` removes a parameter)."""
    space = default_space(exp, m, input_shape)
    allowed = allowed_params(m.type)
    for name, spec in (overrides or {}).items():
        check_param_spec(f"tune.spaces.{m.name}.{name}", name, spec)
        if name not in allowed:
            raise ValueError(f"tune.spaces.{m.name}.{name}: not a parameter of a {m.type} model; allowed: {list(allowed)}")
        if spec is None:
            space.pop(name, None)
        else:
            space[name] = spec
    return space


def to_ray(space: dict[str, Any]) -> dict[str, Any]:
    """The space as Ray Tune distributions (which ``OptunaSearch`` turns into Optuna's)."""
    from ray import tune

    out = {}
    for name, spec in space.items():
        kind, arg = next(iter(spec.items()))
        if kind == "loguniform":
            out[name] = tune.loguniform(float(arg[0]), float(arg[1]))
        elif kind == "uniform":
            out[name] = tune.uniform(float(arg[0]), float(arg[1]))
        elif kind == "randint":
            out[name] = tune.randint(int(arg[0]), int(arg[1]) + 1)
        else:
            out[name] = tune.choice(list(arg))
    return out


def apply_params(exp: ExperimentConfig, m: ModelConfig, params: dict[str, Any]) -> ModelConfig:
    """Model ``m`` with a sampled point applied: lr on the model, batch size and weight
    decay as its own train settings, neuron settings in ``kwargs.neuron_kwargs``, T, dropout
    and depth in ``kwargs``. Validated like any config."""
    unknown = sorted(set(params) - set(allowed_params(m.type)))
    if unknown:
        raise ValueError(f"parameters {unknown} do not apply to model {m.name!r} ({m.type})")
    kwargs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in m.kwargs.items()}
    train = dict(m.train)
    lr = m.lr
    for name, value in params.items():
        if hasattr(value, "item"):  # numpy scalars from the sampler
            value = value.item()
        if name == "lr":
            lr = float(value)
        elif name in TRAIN_PARAMS:
            train[name] = int(value) if name == "batch_size" else float(value)
        elif name in NEURON_PARAMS:
            kwargs.setdefault("neuron_kwargs", {})[name] = float(value)
        elif name in ("num_steps", "depth"):
            kwargs[name] = int(value)
        else:
            kwargs[name] = float(value)
    if "alpha" in params:  # the slope belongs to a named surrogate
        kwargs["neuron_kwargs"].setdefault("surrogate", "atan")
    data = m.model_dump()
    data.update(lr=lr, train=train, kwargs=kwargs)
    return ModelConfig.model_validate(data)
