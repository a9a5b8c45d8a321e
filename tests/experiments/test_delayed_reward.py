"""The delayed-reward task: deterministic under a seed, learns, and refuses bad settings.
The full target (chance at the start, >= 0.9 at the end, 3 seeds) is the slow test."""

import pytest

from snnbench.cli import main
from snnbench.experiments.delayed_reward import DelayedRewardTask, run_delayed_reward


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def test_short_run_is_deterministic_and_learns():
    task = DelayedRewardTask(trials=80, block=20, delay=10, nu=0.08)
    a = run_delayed_reward(task, 0)
    b = run_delayed_reward(DelayedRewardTask(trials=20, block=20, delay=10, nu=0.08), 0)
    assert b["rewards"] == a["rewards"][:20]  # same generator stream, same trials
    assert len(a["reward_rate"]) == 4 and set(a["rewards"]) <= {-1.0, 1.0}
    assert a["reward_rate"][-1] > a["before_learning"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delayed_reward_is_solved(seed):
    res = run_delayed_reward(DelayedRewardTask(), seed)
    assert 0.3 <= res["before_learning"] <= 0.7  # chance is 0.5
    assert res["last_block"] >= 0.9


def test_bad_settings_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="active"):
        DelayedRewardTask(active=100).check()
    with pytest.raises(ValueError, match="block"):
        DelayedRewardTask(trials=10, block=20).check()
    assert main(["reward-task", "--delay", "-1"]) == 2
    assert "delay" in capsys.readouterr().err
    assert main(["reward-task", "--trials", "4", "--block", "2", "--seeds", "1", "--out", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err
