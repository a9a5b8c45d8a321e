r"""A delayed-reward pattern association task, in the spirit of Izhikevich 2007's distal
reward problem, learned by reward-modulated STDP with eligibility traces (MSTDPET).

Each trial shows one of ``num_patterns`` input patterns for ``stim_steps`` steps (each
pattern: a fixed random set of ``active`` of the ``num_inputs`` inputs firing as Bernoulli
processes with probability ``rate`` per step; every input also fires with ``noise`` per step
through the whole trial), then ``delay`` steps of noise only. Two LIF output neurons (the
actions; :math:`v_t = \beta v_{t-1} + W s_t`, spike at :math:`v \ge 1`, reset to 0) listen
during the stimulus; the one with more spikes is the action (ties: a coin flip with the
task's generator; all weights start at ``w_init``, so before learning every choice is such a
coin flip). Pattern ``k`` asks for action ``k mod 2``. The reward, +1 for the right
action and -1 for the wrong one, goes to the acting neuron only and arrives at the last step
of the trial, ``delay`` steps after the stimulus ended: only the eligibility traces
(:class:`~snnbench.learning.reward.MSTDPET`, :math:`e^{-k\,dt/\tau_e}`) link it to the
spikes that caused it. Between pairing and reward the noise keeps making new pairings, which
the reward also modulates (the credit-assignment problem of the distal reward).

The learning curve is the reward rate (fraction of rewarded trials) per block of trials;
chance is 0.5. Before training, one block of trials without learning measures the reward
rate of the initial network (``before_learning``).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._files import atomic_write_json
from .._validation import check_int, check_positive, check_range
from ..learning.reward import MSTDPET
from ..learning.stdp import STDP, STDPParams


@dataclass(frozen=True)
class DelayedRewardTask:
    """Task and learning settings (steps of ``dt`` = 1 ms)."""

    num_inputs: int = 60
    num_patterns: int = 4
    active: int = 15
    rate: float = 0.25
    noise: float = 0.01
    stim_steps: int = 20
    delay: int = 30
    trials: int = 600
    block: int = 50
    beta: float = 0.9
    tau_e: float = 25.0
    nu: float = 0.08
    tau_trace: float = 10.0
    w_init: float = 0.3

    def check(self) -> DelayedRewardTask:
        for name in ("num_inputs", "stim_steps", "trials", "block"):
            check_int(name, getattr(self, name))
        check_int("num_patterns", self.num_patterns, minimum=2)
        check_int("delay", self.delay, minimum=0)
        if not 1 <= self.active <= self.num_inputs:
            raise ValueError(f"active must be in [1, num_inputs={self.num_inputs}], got {self.active}")
        if self.block > self.trials:
            raise ValueError(f"block ({self.block}) must not exceed trials ({self.trials})")
        for name in ("rate", "noise", "w_init"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_range("beta", self.beta, 0.0, 1.0)
        for name in ("tau_e", "nu", "tau_trace"):
            check_positive(name, getattr(self, name))
        return self


def _lif(weight: torch.Tensor, pre: torch.Tensor, beta: float) -> torch.Tensor:
    """Output spikes ``[T, 1, 2]`` of the LIF readout for input spikes ``[T, 1, N]``."""
    v = torch.zeros(pre.shape[1], weight.shape[0], dtype=weight.dtype)
    out = []
    for s in pre.unbind(0):
        v = beta * v + s @ weight.T
        spk = (v >= 1.0).to(weight.dtype)
        v = v * (1 - spk)  # reset to zero
        out.append(spk)
    return torch.stack(out)


def run_delayed_reward(task: DelayedRewardTask = DelayedRewardTask(), seed: int = 0) -> dict[str, Any]:
    """Train one network on ``task``; returns the per-trial rewards and the block curve."""
    task.check()
    gen = torch.Generator().manual_seed(int(seed))
    dtype = torch.float64
    patterns = torch.stack([torch.randperm(task.num_inputs, generator=gen)[: task.active]
                            for _ in range(task.num_patterns)])
    fc = nn.Linear(task.num_inputs, 2, bias=False).to(dtype)
    with torch.no_grad():
        # equal weights: both action neurons spike alike, so the untrained network's choice is
        # a coin flip and its reward rate is chance whatever the seed
        fc.weight.fill_(task.w_init)
    pair = STDPParams(nu_pre=task.nu, nu_post=task.nu, tau_pre=task.tau_trace, tau_post=task.tau_trace,
                      wmin=0.0, wmax=1.0)
    steps = task.stim_steps + task.delay
    rewards: list[float] = []
    initial: list[float] = []
    for trial in range(task.block + task.trials):
        learn = trial >= task.block  # the first block measures the untrained network
        k = int(torch.randint(task.num_patterns, (1,), generator=gen))
        prob = torch.full((steps, 1, task.num_inputs), task.noise, dtype=dtype)
        prob[: task.stim_steps, 0, patterns[k]] = task.rate
        pre = (torch.rand(prob.shape, generator=gen, dtype=dtype) < prob).to(dtype)
        with torch.no_grad():
            post = _lif(fc.weight, pre, task.beta)
        counts = post[: task.stim_steps, 0].sum(0)
        if counts[0] == counts[1]:
            action = int(torch.randint(2, (1,), generator=gen))
        else:
            action = int(counts.argmax())
        r = 1.0 if action == k % 2 else -1.0
        (rewards if learn else initial).append(r)
        if not learn:
            continue
        reward = torch.zeros(steps, 1, 2, dtype=dtype)
        reward[-1, 0, action] = r  # at the end of the delay, to the acting neuron only
        STDP(fc, MSTDPET(pair, reward, per_step=True, tau_e=task.tau_e))(pre, post)
    wins = torch.tensor([r > 0 for r in rewards], dtype=dtype)
    n_blocks = task.trials // task.block
    curve = wins[: n_blocks * task.block].view(n_blocks, task.block).mean(1).tolist()
    before = sum(r > 0 for r in initial) / len(initial)
    return {"seed": seed, "task": asdict(task), "rewards": rewards, "reward_rate": curve,
            "before_learning": before, "first_block": curve[0], "last_block": curve[-1]}


def _cmd(args: argparse.Namespace) -> int:
    task = DelayedRewardTask(trials=args.trials, delay=args.delay, block=args.block).check()
    if args.out is not None and Path(args.out).is_dir():
        raise ValueError(f"--out {args.out!r} is a folder; name the JSON file to write")
    runs = []
    for seed in range(args.seeds):
        res = run_delayed_reward(task, seed)
        runs.append(res)
        curve = " ".join(f"{r:.2f}" for r in res["reward_rate"])
        print(f"seed {seed}: reward rate before learning {res['before_learning']:.2f}; "
              f"per {task.block} trials while learning: {curve}")
    if args.out:
        atomic_write_json(args.out, {"runs": runs})
        print(f"Wrote {args.out}")
    return 0


def add_reward_task_parser(sub: Any) -> None:
    """Register ``snnbench reward-task`` on the CLI's subparsers."""
    p = sub.add_parser("reward-task", help="delayed-reward pattern association learned by MSTDPET (learning curve)")
    p.add_argument("--trials", type=int, default=DelayedRewardTask.trials)
    p.add_argument("--delay", type=int, default=DelayedRewardTask.delay, help="steps between stimulus end and reward")
    p.add_argument("--block", type=int, default=DelayedRewardTask.block, help="trials per point of the curve")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", help="JSON file for the per-trial rewards and the curves")
    p.set_defaults(func=_cmd)
