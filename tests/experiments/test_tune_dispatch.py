"""The routing behind one Ray Tune search for several models: every model gets exactly its
number of trials from its own searcher, and every trial's events reach its own model's
searcher and scheduler only (hand-made fakes, no Ray run)."""

from __future__ import annotations

import pytest

pytest.importorskip("ray.tune", reason="snnbench tune needs the 'scale' extra (ray[tune], optuna)")

from ray.tune.schedulers import FIFOScheduler, TrialScheduler  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402

from snnbench.experiments.tune_dispatch import MODEL_KEY, PerModelScheduler, PerModelSearcher  # noqa: E402


class FakeSearcher(Searcher):
    """Suggests {"i": k} for its k-th suggestion; can be told to wait (return None)."""

    def __init__(self) -> None:
        super().__init__(metric="acc", mode="max")
        self.asked, self.results, self.completed, self.wait = [], [], [], False

    def suggest(self, trial_id):
        if self.wait:
            return None
        self.asked.append(trial_id)
        return {"i": len(self.asked)}

    def on_trial_result(self, trial_id, result):
        self.results.append(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, error))


def test_each_model_gets_its_trials_in_turn_from_its_own_searcher(tmp_path):
    a, b = FakeSearcher(), FakeSearcher()
    s = PerModelSearcher({"snn": a, "gru": b}, 3, metric="acc", mode="max")
    configs = [s.suggest(f"t{k}") for k in range(6)]
    assert [c[MODEL_KEY] for c in configs] == ["snn", "gru"] * 3
    assert [c["i"] for c in configs] == [1, 1, 2, 2, 3, 3]
    assert s.suggest("t6") == Searcher.FINISHED  # 3 + 3 trials, no more
    assert a.asked == ["t0", "t2", "t4"] and b.asked == ["t1", "t3", "t5"]
    s.on_trial_result("t3", {"acc": 0.5})
    s.on_trial_complete("t3", {"acc": 0.5})
    s.on_trial_complete("t0", None, error=True)
    assert b.results == ["t3"] and b.completed == [("t3", False)]
    assert a.results == [] and a.completed == [("t0", True)]
    # the assignment survives a save and restore (Ray Tune restores a searcher on --resume)
    s.save(str(tmp_path / "state.pkl"))
    r = PerModelSearcher({"snn": FakeSearcher(), "gru": FakeSearcher()}, 3, metric="acc", mode="max")
    r.restore(str(tmp_path / "state.pkl"))
    r.on_trial_complete("t5", {"acc": 0.7})
    assert r._searchers["gru"].completed[-1] == ("t5", False)
    assert r.suggest("t7") == Searcher.FINISHED


def test_a_waiting_searcher_uses_no_trial_of_the_budget():
    a, b = FakeSearcher(), FakeSearcher()
    s = PerModelSearcher({"snn": a, "gru": b}, 1, metric="acc", mode="max")
    a.wait = True
    assert s.suggest("t0") is None  # snn's sampler waits: nothing handed out, nothing counted
    a.wait = False
    assert s.suggest("t1")[MODEL_KEY] == "snn"
    assert s.suggest("t2")[MODEL_KEY] == "gru"
    assert s.suggest("t3") == Searcher.FINISHED
    with pytest.raises(ValueError, match="at least one model"):
        PerModelSearcher({}, 1, metric="acc", mode="max")


class FakeTrial:
    def __init__(self, model: str) -> None:
        self.config = {MODEL_KEY: model}


class StopAll(FIFOScheduler):
    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    def on_trial_add(self, tune_controller, trial):
        self.seen.append(("add", trial.config[MODEL_KEY]))

    def on_trial_result(self, tune_controller, trial, result):
        self.seen.append(("result", trial.config[MODEL_KEY]))
        return TrialScheduler.STOP


def test_each_trial_reaches_its_own_models_scheduler():
    snn, gru = StopAll(), FIFOScheduler()
    sched = PerModelScheduler({"snn": snn, "gru": gru})
    assert sched.set_search_properties("acc", "max")
    t_snn, t_gru = FakeTrial("snn"), FakeTrial("gru")
    sched.on_trial_add(None, t_snn)
    sched.on_trial_add(None, t_gru)
    assert sched.on_trial_result(None, t_snn, {"acc": 0.1}) == TrialScheduler.STOP
    assert sched.on_trial_result(None, t_gru, {"acc": 0.1}) == TrialScheduler.CONTINUE
    assert snn.seen == [("add", "snn"), ("result", "snn")]
