"""Regenerate docs/reward.md and docs/reward_curve.png: the delayed-reward pattern
association task (:mod:`snnbench.experiments.delayed_reward`) learned by MSTDPET, 3 seeds.

    python benchmarks/reward_results.py            # same task as 'snnbench reward-task'
    python benchmarks/reward_results.py --seeds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docsections import replace_section  # noqa: E402

from snnbench.experiments.delayed_reward import DelayedRewardTask, run_delayed_reward  # noqa: E402
from snnbench.experiments.stats import mean_std  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = DelayedRewardTask()
    t0 = time.perf_counter()
    runs = [run_delayed_reward(task, s) for s in range(args.seeds)]
    secs = time.perf_counter() - t0
    load = "load average %.1f, %.1f, %.1f" % os.getloadavg()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    xs = [0] + [(i + 1) * task.block for i in range(len(runs[0]["reward_rate"]))]
    for r in runs:
        ax.plot(xs, [r["before_learning"], *r["reward_rate"]], "o-", ms=3, label=f"seed {r['seed']}")
    ax.axhline(0.5, color="gray", ls=":", label="chance")
    ax.axhline(0.9, color="k", ls="--", lw=1, label="target 0.9")
    ax.set_xlabel("training trials (0: untrained network)")
    ax.set_ylabel(f"reward rate per {task.block} trials")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "reward_curve.png", dpi=110)

    before = mean_std([r["before_learning"] for r in runs])
    first = mean_std([r["first_block"] for r in runs])
    last = mean_std([r["last_block"] for r in runs])
    rows = ["| seed | before learning | first block | last block |", "|---|---|---|---|"]
    rows += [f"| {r['seed']} | {r['before_learning']:.2f} | {r['first_block']:.2f} | {r['last_block']:.2f} |"
             for r in runs]
    body = [
        f"Delayed-reward pattern association: {task.num_patterns} patterns of {task.active} of {task.num_inputs} "
        f"inputs (p = {task.rate} per step for {task.stim_steps} steps, background p = {task.noise}), two LIF "
        f"action neurons, pattern k asks for action k mod 2; the reward (+1 / -1, to the acting neuron) arrives "
        f"{task.delay} steps after the stimulus ends and is bridged by MSTDPET eligibility traces "
        f"(tau_e = {task.tau_e} ms, pair STDP nu = {task.nu}, tau = {task.tau_trace} ms). Reward rate per block of "
        f"{task.block} trials, {task.trials} training trials; 'before learning' is one block with learning off.",
        "",
        f"Regenerate: `python benchmarks/reward_results.py` (or `snnbench reward-task --out FILE` for the curves); "
        f"{args.seeds} seeds took {secs:.0f} s on {platform.machine()} with {os.cpu_count()} cores shared "
        f"with other jobs ({load}).",
        "",
        f"Mean +- std over {args.seeds} seeds: before learning {before[0]:.2f} +- {before[1]:.2f} (chance 0.5), "
        f"first block {first[0]:.2f} +- {first[1]:.2f}, last block {last[0]:.2f} +- {last[1]:.2f} "
        "(target: >= 0.9 of the maximum 1.0).",
        "",
        *rows,
        "",
        "![reward rate while learning](reward_curve.png)",
    ]
    replace_section(ROOT / "docs" / "reward.md", "delayed-reward", "\n".join(body),
                    title="Reward-modulated STDP")
    print("\n".join(body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
