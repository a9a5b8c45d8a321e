"""The ``tune:`` block of a suite config: one search budget for every model of every
experiment, and optional per-model search spaces (see :mod:`snnbench.experiments.search_space`).

.. code-block:: yaml

    tune:
      trials: 8            # Optuna (TPE) trials per model
      epochs: 30           # epochs per trial (default: the experiment's train.epochs)
      scheduler: asha      # asha | median | none: the same early-stopping rule for every model
      grace_fraction: 0.25 # a trial runs this share of its epochs before it may be stopped
      grace_period: null   # or that many epochs, the same for every model (overrides the share)
      cv_folds: null       # k-fold CV on the training split instead of one validation split
      val_fraction: 0.2    # stratified validation split carved from train (no CV)
      spaces:              # per model name: overrides of its family's default space
        snn: {beta: {uniform: [0.8, 0.98]}, num_steps: null}   # null removes a parameter
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The parameters a search may vary, per model family, and the range kinds a space may use
# (a space maps a parameter to one {kind: [low, high]} or {choice: [...]}).
KINDS = ("loguniform", "uniform", "randint", "choice")
TRAIN_PARAMS = ("weight_decay", "batch_size")
NEURON_PARAMS = ("beta", "threshold", "alpha")
SNN_PARAMS = ("lr", *TRAIN_PARAMS, *NEURON_PARAMS, "num_steps")
ANN_PARAMS = {"mlp": ("lr", *TRAIN_PARAMS, "dropout", "depth"), "cnn": ("lr", *TRAIN_PARAMS),
              "gru": ("lr", *TRAIN_PARAMS, "dropout", "depth"), "lstm": ("lr", *TRAIN_PARAMS, "dropout", "depth")}


def allowed_params(model_type: str) -> tuple[str, ...]:
    return SNN_PARAMS if model_type.startswith("snn") else ANN_PARAMS[model_type]


def check_param_spec(where: str, name: str, spec: Any) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``spec`` is ``None`` or one range spec."""
    known = sorted(set(SNN_PARAMS) | {p for ps in ANN_PARAMS.values() for p in ps})
    if name not in known:
        raise ValueError(f"{where}: unknown parameter {name!r}; allowed: {known}")
    if spec is None:
        return
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ValueError(f"{where}: expected one of {{{', '.join(k + ': ...' for k in KINDS)}}} or null, got {spec!r}")
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"{where}: choice needs a non-empty list, got {arg!r}")
        return
    if not isinstance(arg, list) or len(arg) != 2 or not all(isinstance(a, (int, float)) for a in arg) or arg[0] >= arg[1]:
        raise ValueError(f"{where}: {kind} needs [low, high] with low < high, got {arg!r}")
    if kind == "loguniform" and arg[0] <= 0:
        raise ValueError(f"{where}: loguniform needs low > 0, got {arg[0]}")


class TuneSettings(BaseModel):
    """Search budget shared by every model; choices are made on validation data only."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    trials: int = Field(8, ge=1, description="trials per model (the same for every model)")
    epochs: int | None = Field(None, ge=1, description="epochs per trial (default: train.epochs)")
    scheduler: Literal["asha", "median", "none"] = "asha"
    grace_period: int | None = Field(None, ge=1, description="epochs a trial runs before it may be stopped "
                                     "(default: grace_fraction of the epochs per trial)")
    # A fixed count of epochs judges a 50-epoch trial after a tenth of its schedule, when a
    # model that starts slowly (a GRU at a low learning rate) has not left chance yet; a share
    # of the trial's own epochs gives every model of every task the same part of its schedule.
    grace_fraction: float = Field(0.25, gt=0.0, le=1.0, description="share of the epochs per trial a trial "
                                  "runs before it may be stopped (when grace_period is not set)")
    cv_folds: int | None = Field(None, ge=2, le=20, description="k-fold CV on train instead of one split")
    val_fraction: float = Field(0.2, gt=0.0, lt=0.9, description="validation share of train (no CV)")
    seed: int = Field(0, ge=0, description="seed of the sampler, the split and the trials")
    spaces: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-model space overrides")

    def grace_epochs(self, epochs: int) -> int:
        """Epochs before the scheduler may stop a trial of ``epochs`` epochs:
        ``grace_period`` when set, else ``ceil(grace_fraction * epochs)``; at least 1, at most ``epochs``."""
        g = self.grace_period if self.grace_period is not None else math.ceil(self.grace_fraction * epochs - 1e-9)
        return max(1, min(int(g), epochs))

    def startup_trials(self) -> int:
        """Random trials before TPE models the results: half the budget (Optuna's default of
        10 would leave a budget of 8 a random search), at least 1, at most 10."""
        return max(1, min(10, self.trials // 2))

    @field_validator("spaces")
    @classmethod
    def _spaces(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for model, space in v.items():
            if not isinstance(space, dict):
                raise ValueError(f"spaces.{model} must map parameter names to ranges, got {space!r}")
            for name, spec in space.items():
                check_param_spec(f"spaces.{model}.{name}", name, spec)
        return v
