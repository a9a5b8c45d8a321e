"""One Ray Tune search for all the models of an experiment, each with its own searcher and
scheduler behind it.

A search per model would start its own trial actors (fresh processes that import torch and
snnbench, seconds each) and leave a CPU idle between the models' searches. One ``Tuner`` per
experiment starts its actors once and reuses them for every model's trials. Fairness is kept
by routing: :class:`PerModelSearcher` gives every model exactly ``trials`` suggestions, in
turn, each from that model's own sampler (its TPE sees that model's trials only), and
:class:`PerModelScheduler` hands each trial's results to that model's own stopping rule (an
SNN trial is never compared with an MLP trial's validation curve). A trial's config carries
its model's name under :data:`MODEL_KEY`.
"""

from __future__ import annotations

import pickle
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

MODEL_KEY = "_model"


def trial_dirname(trial: Trial) -> str:
    """A trial's folder: its model, then Ray's trial id (``snn_3f2a1_00004``)."""
    return f"{trial.config.get(MODEL_KEY, 'trial')}_{trial.trial_id}"


class PerModelSearcher(Searcher):
    """Suggests ``trials`` configs for every model, taking the models in turn (the one with
    the fewest suggestions so far, in the given order), each config from that model's own
    searcher and tagged with ``{MODEL_KEY: name}``; finished when every model had its share."""

    def __init__(self, searchers: dict[str, Searcher], trials: int, *, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        if trials < 1 or not searchers:
            raise ValueError("PerModelSearcher needs at least one model and one trial per model")
        self._searchers = dict(searchers)
        self._trials = trials
        self._given = {name: 0 for name in searchers}
        self._model_of: dict[str, str] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        # each model's space was given to its own searcher; the Tuner's param_space is empty
        return not config

    def suggest(self, trial_id: str) -> dict | None:
        open_models = [n for n, given in self._given.items() if given < self._trials]
        if not open_models:
            return Searcher.FINISHED
        name = min(open_models, key=self._given.__getitem__)
        config = self._searchers[name].suggest(trial_id)
        if config is None or config == Searcher.FINISHED:  # that model's sampler waits
            return None
        self._given[name] += 1
        self._model_of[trial_id] = name
        return {**config, MODEL_KEY: name}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._searchers[self._model_of[trial_id]].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._model_of:
            self._searchers[self._model_of[trial_id]].on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))


class PerModelScheduler(FIFOScheduler):
    """Routes every trial event to the scheduler of the trial's model (``config[MODEL_KEY]``);
    trials start in submission order."""

    def __init__(self, schedulers: dict[str, TrialScheduler]) -> None:
        super().__init__()
        self._schedulers = dict(schedulers)
        self._supports_buffered_results = all(s.supports_buffered_results for s in schedulers.values())

    def _of(self, trial: Trial) -> TrialScheduler:
        return self._schedulers[trial.config[MODEL_KEY]]

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        ok = [s.set_search_properties(metric, mode, **spec) for s in self._schedulers.values()]
        if metric:
            self._metric = metric
        return all(ok)

    def on_trial_add(self, tune_controller, trial: Trial) -> None:
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial: Trial) -> None:
        self._of(trial).on_trial_error(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial: Trial, result: dict) -> str:
        return self._of(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial: Trial, result: dict) -> None:
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial: Trial) -> None:
        self._of(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "; ".join(f"{name}: {s.debug_string()}" for name, s in self._schedulers.items())
