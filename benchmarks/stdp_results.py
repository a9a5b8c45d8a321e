"""Regenerate docs/stdp_results.md: Diehl & Cook on mnist5k and the 27-cell STDP grid.

Each stage appends its records to ``docs/stdp_results.json`` (so stages can run separately,
in the background, and a crash keeps what finished); ``render`` writes the markdown from
that file. Run folders (plots, weights, metrics) go to ``runs/stdp/``.

    python benchmarks/stdp_results.py dc --neurons 100 400 --seeds 0 1 2 --epochs 3
    python benchmarks/stdp_results.py dc --neurons 100 --seeds 0 1 2 --presentation-ms 250
    python benchmarks/stdp_results.py grid --epochs 1
    python benchmarks/stdp_results.py speed          # also BindsNET if its environment exists
    python benchmarks/stdp_results.py render
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JSON = ROOT / "docs" / "stdp_results.json"
MD = ROOT / "docs" / "stdp_results.md"
RUNS = ROOT / "runs" / "stdp"
sys.path.insert(0, str(HERE))


def _load() -> dict:
    return json.loads(JSON.read_text()) if JSON.exists() else {"dc": [], "grid": [], "speed": []}


def _save(db: dict) -> None:
    tmp = JSON.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(db, indent=1))
    tmp.replace(JSON)


def _update(stage: str, drop, record: dict) -> None:
    """Replace the records of ``stage`` matching ``drop`` by ``record`` under a file lock
    (stages may run at the same time in separate processes)."""
    JSON.parent.mkdir(parents=True, exist_ok=True)
    RUNS.mkdir(parents=True, exist_ok=True)
    with open(RUNS / ".stdp_results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = _load()
        db.setdefault(stage, [])
        db[stage] = [r for r in db.get(stage, []) if not drop(r)] + [record]
        _save(db)


def _record(m: dict) -> dict:
    keep = ("test_accuracy_per_epoch", "train_accuracy_per_epoch", "test_accuracy",
            "train_samples_per_s", "eval_samples_per_s", "silent_neurons", "repeats_mean",
            "seconds", "labels_histogram")
    out = {k: m[k] for k in keep} | {"config": m["config"]}
    for k in ("rstdp_readout", "test_accuracy_per_epoch_by_vote"):
        if k in m:
            out[k] = m[k]
    return out


def stage_dc(a) -> None:
    from stdp_speed import load_mnist5k

    from snnbench.experiments.diehl_cook_config import DiehlCookConfig, diehl_cook_preset
    from snnbench.experiments.stdp_runner import run_diehl_cook
    from snnbench.report.stdp_plots import save_all

    xtr, ytr, xte, yte = load_mnist5k()
    for n in a.neurons:
        for seed in a.seeds:
            kw = diehl_cook_preset(n) | {"seed": seed, "rstdp_readout": a.rstdp_readout}
            if a.epochs is not None:  # otherwise the preset's (3, or 7 above 400 neurons)
                kw["epochs"] = a.epochs
            if a.presentation_ms is not None:  # e.g. 250, BindsNET's number of steps
                kw["presentation_ms"] = a.presentation_ms
            cfg = DiehlCookConfig(**kw)
            ms = cfg.presentation_ms
            m = run_diehl_cook(cfg, xtr, ytr, xte, yte, RUNS / f"dc{n}_{ms:g}ms_seed{seed}", progress=True,
                               plot=save_all)
            _update("dc", lambda r: (r["config"]["n_neurons"], r["config"]["seed"],
                                     r["config"]["presentation_ms"]) == (n, seed, ms),
                    _record(m) | {"when": time.strftime("%Y-%m-%d %H:%M")})
            if n >= 1600 and seed == a.seeds[0]:  # the paper's sizes: their receptive fields go in the doc
                shutil.copyfile(RUNS / f"dc{n}_{ms:g}ms_seed{seed}" / "receptive_fields.png",
                                ROOT / "docs" / f"stdp_receptive_fields_{n}.png")


def stage_grid(a) -> None:
    from stdp_speed import load_mnist5k

    from snnbench.experiments.diehl_cook_config import PRESET_STDP_GRID, grid_configs
    from snnbench.experiments.stdp_runner import run_diehl_cook
    from snnbench.report.stdp_plots import grid_heatmap, save_all

    xtr, ytr, xte, yte = load_mnist5k()
    base = PRESET_STDP_GRID | {"epochs": a.epochs, "seed": a.seeds[0]}
    if a.grid_neurons:
        base["n_neurons"] = a.grid_neurons
    for cfg in grid_configs(**base):
        key = (cfg.encoding, cfg.neuron, cfg.rule)
        if a.cells and "/".join(key) not in a.cells:
            continue
        m = run_diehl_cook(cfg, xtr, ytr, xte, yte, RUNS / ("grid_" + "_".join(key)), progress=True,
                           plot=save_all)
        _update("grid", lambda r: tuple(r["cell"]) == key,
                _record(m) | {"cell": list(key), "when": time.strftime("%Y-%m-%d %H:%M")})
    db = _load()
    grid_heatmap({tuple(r["cell"]): r["test_accuracy"] for r in db["grid"]}, ROOT / "docs" / "stdp_grid.png")


def stage_speed(a) -> None:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    out = subprocess.run([sys.executable, str(HERE / "bindsnet_compare.py"), "--samples", str(a.peer_samples),
                          "--neurons", *map(str, a.neurons)], capture_output=True, text=True)
    print(out.stdout, out.stderr[-2000:], sep="\n")
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    for r in rows:
        _update("speed", lambda old, n=r["n_neurons"]: old["n_neurons"] == n,
                r | {"when": time.strftime("%Y-%m-%d %H:%M"), "load_before": load})


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


NOTES = """## How the simulation works and how the settings were chosen

- Simulation (`snnbench.models.diehl_cook`, with the STDP event kernels of
  `snnbench.learning.stdp_online`): numba-compiled, one sample at a time. Input spikes
  (`snnbench.encoding.spike_events`) are drawn per active pixel (exponential inter-spike intervals for Poisson, geometric skips
  for Bernoulli), counting-sorted by step; a step touches only the weight rows of the pixels
  that fired (currents, depression on the neurons that have fired this sample) and the
  column of a neuron that fires (potentiation over pixels that have fired). After a sample
  only the columns of neurons that fired are renormalised (the others did not change). The
  150 ms rest is simulated as its effect: membranes, refractory counters and traces reset,
  theta decays by exp(-150/tau_theta) (during the presentation it decays every step). Lateral inhibition is the inhibitory layer's
  effect without its neurons: a spike lowers every other membrane by inhibition_mv. Ties
  in a step (one_spike) go to the most depolarised neuron (BindsNET draws one at random).
  Learning-off passes run samples in parallel (numba prange) with theta frozen.
- The compiled step is checked against a step-by-step torch reference built from
  `snnbench.learning.stdp` (tests/models/test_diehl_cook.py).
- Tuning runs (single runs, seed 0 unless said, 100 neurons, 350 ms at 63.75 Hz):
  inhibition 17.5 mV 47-52% after 1 epoch, 120 mV 74%; 3 epochs 74.0 / 80.2 / 82.4%
  (seed 1: 75.7 / 81.4 / 83.5%); learning rates halved every epoch 82.0%; nu_post 0.005
  83.0%; theta_plus 0.1 83.8%; equal total input per sample (input_norm=100) 81.0 / 81.7%;
  128 Hz for 250 ms (BindsNET's example) 80.6 / 82.9 / 82.1%; weaker inhibition during
  evaluation only: 83.1% (120 mV) -> 80.5% (60) -> 76.9% (17.5) -> 73.0% (8).
  400 neurons with theta_plus 0.05: 63.5 / 69.3 / 65.6% and 84 neurons never fired (the
  BindsNET failure); theta_plus 0.2: 82.5 / 85.9 / 87.5%, 1 silent neuron; three seeds of
  that setting at epoch 3: 85.2, 87.8, 85.6%.
- Weight-dependent (soft-bound) rule instead of plain STDP, learning-off passes with every
  neuron above threshold allowed to fire: 100 neurons 85.1, 85.9, 85.9, 83.3% (seeds 0, 1,
  2, 1 again with a different sample order) against 82.4-83.8% for plain STDP; 400 neurons
  87.1% (seed 0). Evaluation inhibition at 400 neurons (weight-dependent, seed 1): 87.3%
  (120 mV), 89.0% (90), 89.4% (60); at 100 neurons it costs: 84.0 -> 83.3 -> 82.3%.
  Summing 3 or 5 learning-off presentations per sample: 83.2 -> 83.3 -> 83.7% (100 neurons);
  left at 1. Halving the learning rates every epoch: 83.3% (100, weight-dependent), 84.7%
  (400, plain STDP): worse.
  Other 100-neuron variants (weight-dependent, 3 epochs, seeds 0 and 1), none better than
  the preset: nu_pre 1e-3 84.6 / 83.5%; nu_post 5e-3 84.2 / 84.0%; theta_plus 0.1 83.9 /
  86.0%; tau_theta 2e6 ms 82.8 / 84.4%; 500 ms presentations 83.7 / 83.9%; 128 Hz for
  250 ms 84.2% (seed 0).
- R-STDP readout (`dc --rstdp-readout`, `snnbench.learning.rstdp_readout`; config field
  `rstdp_readout`): instead of assigning labels, 10 non-leaky integrate-and-fire output
  neurons read the last epoch's learning-off responses (the same spike counts label
  assignment uses); the most depolarised one at the end of the presentation is the decision,
  and R-STDP (Mozafari et al. 2018) rewards it (+1) or punishes it (-1): its synapses from
  the excitatory neurons that fired move by +-rate x count x w(1 - w). Its rate (3e-3, 1e-2
  or 3e-2) and number of epochs (1-20) are chosen on a stratified 20 % of the training
  responses, then it is trained on all of them; the test split is read once.
- Ceiling reference: k-means on the same 4,000 training images with majority-vote cluster
  labels gives 82.0% (100 clusters) and 89.9% (400 clusters) on the 1,000 test images
  (`sklearn.cluster.KMeans`, Euclidean, n_init=1), 73.0% / 81.6% when clusters are matched
  by the network's own similarity (dot product with sum-normalised centroids).
""".splitlines()


def peer_accuracy_section(db: dict) -> list[str]:
    """BindsNET's accuracy on the same split, measured by ``benchmarks/bindsnet_accuracy.py``,
    beside the ``dc`` records of ``db``."""
    from bindsnet_accuracy import RECORDS as path
    recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    if not recs:
        return []
    L = ["### BindsNET on the same split, measured here", "",
         "`python benchmarks/bindsnet_accuracy.py` (BindsNET 0.3.4 `DiehlAndCook2015` as in its",
         "`eth_mnist.py`: theta_plus 0.05, inhibition 120, Poisson at intensity 128 for 250 steps;",
         "labels from each epoch's training presentations, test with learning off, `all_activity`",
         "vote). Train samples/s on this loaded machine, beside other jobs. Its `poisson` encoder",
         "draws integer inter-spike intervals from a Poisson distribution (s.d. sqrt(mean) instead of",
         "the mean), so its input is far more regular than a Poisson process; snnbench has it as",
         "`encoding=\"poisson_intervals\"` (in cross-validation it changes nothing for the preset).", "",
         "| neurons | seed | test acc. after epoch 1 / 2 (%) | train samples/s |", "|---|---|---|---|"]
    for r in sorted(recs, key=lambda r: (r["n_neurons"], r["seed"])):
        L.append(f"| {r['n_neurons']} | {r['seed']} | {' / '.join(_pct(v) for v in r['test_accuracy_per_epoch'])} "
                 f"| {statistics.median(r['train_samples_per_s']):.1f} |")
    L.append("")
    for n in sorted({r["n_neurons"] for r in recs}):
        rs = [r for r in recs if r["n_neurons"] == n]
        ne = min(len(r["test_accuracy_per_epoch"]) for r in rs)
        per = [statistics.mean(r["test_accuracy_per_epoch"][e] for r in rs) for e in range(ne)]
        L.append(f"- BindsNET, {n} neurons, mean over {len(rs)} seeds after epoch 1..{ne}: "
                 f"{' / '.join(_pct(v) for v in per)} %.")
        for ms in (350.0, 250.0):
            ours = [r["test_accuracy_per_epoch"] for r in db.get("dc", [])
                    if r["config"]["n_neurons"] == n and r["config"]["presentation_ms"] == ms]
            if ours and all(len(a) >= ne for a in ours):
                mine = [statistics.mean(a[e] for a in ours) for e in range(ne)]
                L.append(f"- snnbench preset, {n} neurons, {ms:g} ms, mean over {len(ours)} seeds after "
                         f"epoch 1..{ne}: {' / '.join(_pct(v) for v in mine)} %.")
    return L + [""]


def cv_section(db: dict) -> list[str]:
    """The cross-validation tables of ``benchmarks/stdp_cv.py`` (records in docs/stdp_cv.jsonl)
    and the test-split summary of the ``dc`` records of ``db``."""
    from stdp_cv import table_lines

    base100 = "pair,theta_plus=0.15"  # the 100-neuron preset before it took the triplet form
    t100_5 = table_lines(100, base100, folds=5)
    t100_10 = table_lines(100, base100, folds=10)
    t400 = table_lines(400, "theta_plus=0.6", folds=5)
    if not (t100_5 or t100_10 or t400):
        return []
    L = ["## How the settings were chosen: cross-validation on the training split", "",
         "`python benchmarks/stdp_cv.py run|table` (the 1,000 test images are not used): the 4,000",
         "training images in stratified folds, each setting trained on the other folds and scored on",
         "the held-out one (fold k uses seed k, the same for every setting, so differences are paired",
         "by fold). A setting is `diehl_cook_preset(n)` with the overrides shown; `pair` stands for",
         "`tau_post2=None, nu_post=0.01` (pair-rule potentiation, the 100-neuron preset until the",
         "last step below). Many settings were compared, so the best row's validation score is",
         "optimistic; the test runs above are the unbiased figure.", "",
         "Step 1, theta_plus: 0.15 mV per 100 neurons was best at 100 neurons in both the 5-fold and",
         "the 10-fold runs and at 400 neurons (0.6 mV), so the preset took it. On the test split it",
         "did not show the gain: the previous preset (0.05 mV per 100 neurons; this file at commit",
         "6d5339a) scored 85.1 / 85.9 / 85.9 % (100 neurons) and 89.6 / 90.3 / 90.9 % (400) there,",
         "the new one 85.1 / 85.5 / 83.9 % and 89.3 / 89.7 / 90.8 % (seeds 0-2; 85.4 % over 8 seeds",
         "at 100 neurons, this file at commit d24fc4b). A 1,000-image test set has a standard error",
         "of about 1.1 points at 85%, the paired validation difference (4,000 held-out predictions)",
         "about 0.5, so the test difference is within noise; the selection was not revised after",
         "seeing it.", "",
         "Step 2, against that preset (`pair,theta_plus=0.15`, paired differences in the tables",
         "below): Diehl & Cook's published-code potentiation (`tau_post2`: scaled by a 40 or 80 ms",
         "post trace read before the spike, so a first spike does not potentiate) with nu_post",
         "0.01-0.05, pre traces of 10 or 40 ms, a higher threshold (-48 mV), a weaker input gain",
         "(0.7), equal ink per image (`input_norm`), 10 instead of 5 spikes before a repeat, weaker",
         "inhibition while evaluating, depression rates 5e-4 and 2e-3, and BindsNET's input",
         "encoder. Only the triplet form at nu_post 0.03 was ahead in two independent partitions:",
         "+0.9 ± 0.7 pp (5 folds) and +0.7 ± 0.4 pp (10 folds); at 0.04 -0.1 and +0.9, at 0.02",
         "+0.1 and -0.1. At 400 neurons it lost 1.3 ± 0.4 pp. The 100-neuron preset (below 400",
         "neurons) took `tau_post2=40, nu_post=0.03`; the 400-neuron preset is unchanged.", ""]
    last = [r["test_accuracy_per_epoch"][-1] for r in db.get("dc", [])
            if r["config"]["n_neurons"] == 100 and r["config"]["presentation_ms"] == 350]
    if len(last) > 1:
        L[-1:] = [f"On the test split the new 100-neuron preset's {len(last)} seeds (table above) give "
                  f"{_pct(statistics.mean(last))} % with a seed-to-seed s.d. of "
                  f"{_pct(statistics.stdev(last))} points, against 85.4 % (s.d. 1.2) for the pair-rule preset.", ""]
    t1600 = table_lines(1600, "theta_plus=1.2", folds=5)
    if t1600:
        L += ["Step 3, above 400 neurons (table: 5 folds, 1,600 neurons): with the 400-neuron rule's",
              "theta_plus scaled linearly (2.4 mV at 1,600, the row `preset` of the code then) each neuron",
              "wins too few of the 3,200 samples to learn; 1.2 mV (0.6 mV x sqrt(n / 400)) and 7 epochs",
              "scored best, 10 epochs no better. Then the vote, from the `vote=proportion` records, which",
              "hold both votes on the same responses: " + "; ".join(_vote_gain(n) for n in (1600, 400)) + ".",
              "The preset takes the proportion vote above 400 neurons, where its gain is about three",
              "standard errors and seen on every fold; at 400 neurons it is under two, and that preset,",
              "against which the R-STDP readout was compared, keeps the published \"all\" vote.", ""]
    for title, t in (("5 folds (3,200 train / 800 validation), 100 neurons", t100_5),
                     ("10 folds (3,600 / 400), 100 neurons", t100_10),
                     ("5 folds, 400 neurons", t400),
                     ("5 folds, 1,600 neurons (the `preset` row: theta_plus 2.4 mV, 5 epochs)", t1600)):
        if t:
            L += [f"{title}:", "", *t, ""]
    return L


def _vote_gain(neurons: int) -> str:
    """"proportion" minus "all" on the same validation responses, over the folds of the
    ``vote=proportion`` CV records at ``neurons`` (last epoch)."""
    from stdp_cv import RECORDS, _mean_se

    recs = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    d = [100 * (r["val_accuracy_per_epoch_by_vote"]["proportion"][-1] - r["val_accuracy_per_epoch_by_vote"]["all"][-1])
         for r in recs if r["neurons"] == neurons and "val_accuracy_per_epoch_by_vote" in r]
    if not d:
        return f"{neurons} neurons not run"
    m, se = _mean_se(d)
    return (f"\"proportion\" minus \"all\" {m:+.2f} ± {se:.2f} pp at {neurons:,} neurons "
            f"(higher on {sum(x > 0 for x in d)} of {len(d)} folds)")


def theta_fix_section(db: dict) -> list[str]:
    """Before / after the fix of the adaptive threshold's decay (same presets and seeds): the
    records run before it are kept under ``dc_before_theta_fix`` and ``grid_before_theta_fix``."""
    before = db.get("dc_before_theta_fix") or []
    if not before or not db.get("dc"):
        return []
    key = lambda r: (r["config"]["n_neurons"], r["config"]["presentation_ms"], r["config"]["seed"])  # noqa: E731
    old = {key(r): r for r in before}
    L = ["## Before and after the theta fix", "",
         "Until this fix the compiled simulation never decayed the adaptive threshold during a",
         "presentation: it decayed it once afterwards by `exp(-(presentation + rest) / tau_theta)`,",
         "which also over-decayed the increments of that presentation. Now theta decays every step",
         "(before the threshold test) and over the rest period, as documented and tested against the",
         "closed form. With the presets' tau_theta of 1e7 ms the per-sample difference is tiny, but it",
         "changes every run from its first spike on. Same presets, same seeds (paired); the runs",
         "after the fix shared the 2 cores with other jobs (load average 6-15), hence their speeds:", "",
         "| neurons | ms | seeds | before: epoch 1 / 2 / 3 (%) | after: epoch 1 / 2 / 3 (%) | after - before, last epoch (pp, mean +- s.d.) |",
         "|---|---|---|---|---|---|"]
    groups = sorted({k[:2] for k in old} & {key(r)[:2] for r in db["dc"]}, key=lambda g: (g[0], -g[1]))
    for n, ms in groups:
        pairs = [(old[key(r)], r) for r in db["dc"] if key(r)[:2] == (n, ms) and key(r) in old]
        if not pairs:
            continue
        ne = min(len(r["test_accuracy_per_epoch"]) for pr in pairs for r in pr)
        mean = lambda rs, e: statistics.mean(r["test_accuracy_per_epoch"][e] for r in rs)  # noqa: E731
        b = " / ".join(_pct(mean([p[0] for p in pairs], e)) for e in range(ne))
        a = " / ".join(_pct(mean([p[1] for p in pairs], e)) for e in range(ne))
        d = [100 * (p[1]["test_accuracy_per_epoch"][ne - 1] - p[0]["test_accuracy_per_epoch"][ne - 1]) for p in pairs]
        sd = f" +- {statistics.stdev(d):.1f}" if len(d) > 1 else ""
        L.append(f"| {n} | {ms:g} | {len(pairs)} | {b} | {a} | {statistics.mean(d):+.1f}{sd} |")
    gb = {tuple(r["cell"]): r for r in db.get("grid_before_theta_fix") or []}
    cells = [r for r in db.get("grid", []) if tuple(r["cell"]) in gb and r["cell"][1] == "adaptive_lif"]
    if cells:
        L += ["", "Grid cells with the adaptive threshold (the only ones the fix changes; 1 epoch, one seed):", "",
              "| cell | before (%) | after (%) |", "|---|---|---|"]
        for r in cells:
            L.append(f"| {'/'.join(r['cell'])} | {_pct(gb[tuple(r['cell'])]['test_accuracy'])} | {_pct(r['test_accuracy'])} |")
    L += ["", "The per-seed tables above are after the fix (stages `dc` and `grid` re-run; the records",
          "from before were kept as they were in `docs/stdp_results.json`). The cross-validation below",
          "was run before it (it chose the presets' settings, which were not retuned).", ""]
    return L


def render() -> str:
    from snnbench.experiments.diehl_cook_config import (
        _BERNOULLI,
        _NO_HOMEOSTASIS,
        _RANK_ORDER,
        GRID_CELLS,
        PRESET_STDP_GRID,
    )

    db = _load()
    L = ["# STDP track results (Diehl & Cook 2015 and the encoding x neuron x rule grid)", "",
         "Generated by `python benchmarks/stdp_results.py render` from `docs/stdp_results.json`;",
         "the numbers come from the `dc`, `grid` and `speed` stages of the same script (see its",
         "docstring). Data: mnist5k canonical split (per class the first 400 rows train, the last 100",
         "test: 4,000 / 1,000). Online learning, one sample at a time in a shuffled order, the",
         "published rule (no batch averaging); labels assigned by highest mean response per class",
         "on a learning-off pass over the training set after each epoch; test accuracy by the",
         "assigned labels (mean count of each class's neurons, the \"all\" vote; above 400 neurons",
         "each count weighted by the share of the neuron's response that goes to its class, the",
         "\"proportion\" vote). Machine: 2 shared CPU cores,",
         "other jobs running, so speeds are lower bounds of what a quiet machine gives.", ""]
    if db.get("dc"):
        L += ["## Diehl & Cook on mnist5k", "",
              "| neurons | ms per sample | seed | test acc. after each epoch (%) | before the theta fix (%) | R-STDP readout (%) | train acc. last (%) | train samples/s | eval samples/s | silent neurons | wall s |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        group = lambda r: (r["config"]["n_neurons"], -r["config"]["presentation_ms"])  # noqa: E731
        seed_key = lambda r: (r["config"]["n_neurons"], r["config"]["presentation_ms"], r["config"]["seed"])  # noqa: E731
        old = {seed_key(r): r for r in db.get("dc_before_theta_fix") or []}
        for r in sorted(db["dc"], key=lambda r: (group(r), r["config"]["seed"])):
            c = r["config"]
            o = old.get(seed_key(r))
            L.append(f"| {c['n_neurons']} | {c['presentation_ms']:g} | {c['seed']} "
                     f"| {' / '.join(_pct(v) for v in r['test_accuracy_per_epoch'])} "
                     f"| {' / '.join(_pct(v) for v in o['test_accuracy_per_epoch']) if o else '-'} "
                     f"| {_pct(r['rstdp_readout']['test_accuracy']) if 'rstdp_readout' in r else '-'} "
                     f"| {_pct(r['train_accuracy_per_epoch'][-1])} | {statistics.median(r['train_samples_per_s']):.0f} "
                     f"| {statistics.median(r['eval_samples_per_s']):.0f} | {r['silent_neurons']} | {r['seconds']:.0f} |")
        L.append("")
        for g in sorted({group(r) for r in db["dc"]}):
            rs = [r for r in db["dc"] if group(r) == g]
            n, ms = g[0], -g[1]
            ne = min(len(r["test_accuracy_per_epoch"]) for r in rs)
            per = [statistics.mean(r["test_accuracy_per_epoch"][e] for r in rs) for e in range(ne)]
            last = [r["test_accuracy_per_epoch"][ne - 1] for r in rs]
            sd = f", s.d. over seeds {_pct(statistics.stdev(last))}" if len(last) > 1 else ""
            L.append(f"- {n} neurons, {ms:g} ms, mean over {len(rs)} seeds after epoch 1..{ne}: "
                     f"{' / '.join(_pct(v) for v in per)} % (last epoch range "
                     f"{_pct(min(last))}-{_pct(max(last))}{sd}).")
            ro = [r for r in rs if "rstdp_readout" in r and len(r["test_accuracy_per_epoch"]) == ne]
            if len(ro) > 1:
                diff = [100 * (r["rstdp_readout"]["test_accuracy"] - r["test_accuracy_per_epoch"][-1]) for r in ro]
                L.append(f"  R-STDP readout on the same responses, {len(ro)} seeds: "
                         f"{_pct(statistics.mean(r['rstdp_readout']['test_accuracy'] for r in ro))} % against "
                         f"label assignment's {_pct(statistics.mean(r['test_accuracy_per_epoch'][-1] for r in ro))} %; "
                         f"paired difference {statistics.mean(diff):+.2f} +- {statistics.stdev(diff) / len(diff) ** 0.5:.2f} pp "
                         f"(mean +- s.e.; better on {sum(d > 0 for d in diff)}, equal on {sum(d == 0 for d in diff)} of {len(diff)}).")
            bv = [r for r in rs if "test_accuracy_per_epoch_by_vote" in r]
            if len(bv) > 1:
                last_of = lambda r, v: r["test_accuracy_per_epoch_by_vote"][v][-1]  # noqa: E731
                diff = [100 * (last_of(r, "proportion") - last_of(r, "all")) for r in bv]
                L.append(f"  Votes on the same responses, {len(bv)} seeds (the preset uses "
                         f"\"{bv[0]['config'].get('vote', 'all')}\"): \"all\" "
                         f"{_pct(statistics.mean(last_of(r, 'all') for r in bv))} %, \"proportion\" "
                         f"{_pct(statistics.mean(last_of(r, 'proportion') for r in bv))} %; paired difference "
                         f"{statistics.mean(diff):+.2f} +- {statistics.stdev(diff) / len(diff) ** 0.5:.2f} pp "
                         f"(better on {sum(d > 0 for d in diff)}, equal on {sum(d == 0 for d in diff)} of {len(diff)}).")
        from snnbench.experiments.diehl_cook_config import diehl_cook_preset

        L += ["", "Settings: `DiehlCookConfig(**diehl_cook_preset(n))`, i.e. "
              + "; ".join(f"n={n}: " + ", ".join(f"{k}={v}" for k, v in diehl_cook_preset(n).items() if k != "n_neurons")
                          for n in sorted({r["config"]["n_neurons"] for r in db["dc"]}))
              + ". Everything else at the `DiehlCookConfig` defaults (the paper's constants: 350 ms"
              " presentation + 150 ms rest, dt 1 ms, 63.75 Hz at intensity 1, tau_mem 100 ms, refractory"
              " 5 ms, tau_theta 1e7 ms, nu_pre 1e-4, nu_post 1e-2, traces 20 ms, weights normalised to 78.4"
              " per neuron, one spike per step while learning). Rows at 250 ms are the same preset with"
              " 250 ms presentations (`--presentation-ms 250`), BindsNET's number of steps; they were"
              " not used to choose anything. Train/eval samples/s here are per epoch on the loaded"
              " machine (median over epochs); the speed table below is the controlled measurement.", "",
              "References: BindsNET 0.3.4 on this split (quoted from issue #4, 250 steps, labels from",
              "the training presentations): 100 neurons 83.8% after 1 epoch, 85.2% after 2; 400 neurons",
              "31-66% after 1 epoch. Diehl & Cook 2015 on full MNIST: 82.9% (100), 87.0% (400).", ""]
    figs = sorted(ROOT.glob("docs/stdp_receptive_fields_*.png"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    for p in figs:
        L += [f"Receptive fields of the {int(p.stem.rsplit('_', 1)[1]):,}-neuron network (first seed):", "",
              f"![receptive fields]({p.name})", ""]
    L += theta_fix_section(db)
    L += peer_accuracy_section(db)
    L += cv_section(db)
    if db.get("speed"):
        L += ["## Speed: training samples per second, 250 steps of 1 ms, batch 1, learning on", "",
              "| neurons | snnbench train | snnbench eval (learning off) | BindsNET train (measured here) | BindsNET eval | ratio (train) |",
              "|---|---|---|---|---|---|"]
        for r in db["speed"]:
            bt = f"{r['bindsnet_train']:.2f}" if r.get("bindsnet_train") else "not run"
            be = f"{r['bindsnet_eval']:.2f}" if r.get("bindsnet_eval") else "not run"
            ratio = f"{r['snnbench_train'] / r['bindsnet_train']:.0f}x" if r.get("bindsnet_train") else "n/a"
            L.append(f"| {r['n_neurons']} | {r['snnbench_train']:.0f} | {r['snnbench_eval']:.0f} | {bt} | {be} | {ratio} |")
        when = sorted({f"{r['when']} UTC (load average before: {r['load_before']})" for r in db["speed"] if "load_before" in r})
        L += ["", *(["Measured " + "; ".join(when) + "."] if when else []),
              "Both measured in the same session, one after the other, under the same load and nice",
              "level (`python benchmarks/bindsnet_compare.py`): snnbench trains 2,000 samples three times",
              "(median) with the plain STDP rule, inhibition 120 mV, 250 ms; BindsNET's `DiehlAndCook2015`",
              "as in its `eth_mnist.py` example (its monitors, Poisson input at intensity 128, one torch",
              "thread), 20 presentations after 3 warm-up ones. BindsNET numbers quoted in issue #4 from a",
              "quiet machine: 13.6 (100) and 10.2 (400) samples/s learning on, 19.9 and 16.0 learning off;",
              "against those quoted figures the snnbench numbers above are "
              + ", ".join(f"{r['snnbench_train'] / q:.0f}x ({r['n_neurons']})" for r in db["speed"]
                          for n, q in ((100, 13.6), (400, 10.2)) if r["n_neurons"] == n)
              + " (snnbench measured loaded, BindsNET quiet).", ""]
    if db.get("grid"):
        L += ["## The 27-cell grid (encoding x neuron x rule)", "",
              f"{db['grid'][0]['config']['n_neurons']} neurons, {db['grid'][0]['config']['epochs']} epoch(s), seed "
              f"{db['grid'][0]['config']['seed']}; chance is 10%. Heatmap: `docs/stdp_grid.png`.", "",
              "| encoding | neuron | rule | test acc. (%) | silent neurons | wall s | per-cell setting (why) |",
              "|---|---|---|---|---|---|---|"]
        order = {k: i for i, k in enumerate(
            (e, n, r) for e in ("poisson", "bernoulli", "rank_order") for n in ("adaptive_lif", "lif", "if")
            for r in ("stdp", "weight_dependent", "hebbian"))}
        for r in sorted(db["grid"], key=lambda r: order[tuple(r["cell"])]):
            over, why = GRID_CELLS.get(tuple(r["cell"]), ({}, ""))
            tags = [t for t, key in (("R", "one spike per nonzero pixel"), ("B", "per-step probability"),
                                     ("H", "cannot learn")) if key in why]
            note = ", ".join(f"{k}={v}" for k, v in over.items()) or "grid defaults"
            if tags:
                note += " [" + ",".join(tags) + "]"
            L.append(f"| {r['cell'][0]} | {r['cell'][1]} | {r['cell'][2]} | {_pct(r['test_accuracy'])} "
                     f"| {r['silent_neurons']} | {r['seconds']:.0f} | {note} |")
        L += ["", "Grid defaults: `PRESET_STDP_GRID` = " + ", ".join(f"{k}={v}" for k, v in PRESET_STDP_GRID.items())
              + ", otherwise the `DiehlCookConfig` defaults (theta_plus 0.05 mV, 350 ms at 63.75 Hz, plain constants of the paper).", "",
              "Why (recorded with each cell in `snnbench.experiments.diehl_cook_config.GRID_CELLS`):", "",
              "- [R] rank order: " + _RANK_ORDER + ".",
              "- [B] Bernoulli: " + _BERNOULLI + ".",
              "- [H] LIF and IF (no adaptive threshold): " + _NO_HOMEOSTASIS + ".", ""]
        L += ["", "Reference (the seeds' BindsNET study, 784-100, 1 epoch): adaptive LIF + Poisson + STDP",
              "79.75%; Bernoulli ~35%; rank order ~12%; IF and LIF at chance.", ""]
    L += NOTES
    text = "\n".join(L) + "\n"
    MD.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["dc", "grid", "speed", "render", "all"])
    ap.add_argument("--neurons", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=None, help="dc: instead of the preset's; grid: default 1")
    ap.add_argument("--presentation-ms", type=float, default=None, help="dc: instead of the preset's 350 ms")
    ap.add_argument("--rstdp-readout", action="store_true",
                    help="dc: also train the R-STDP readout on the last epoch's responses")
    ap.add_argument("--grid-neurons", type=int, default=None)
    ap.add_argument("--cells", nargs="*", default=None, help="only these grid cells, as enc/neuron/rule")
    ap.add_argument("--peer-samples", type=int, default=20)
    a = ap.parse_args(argv)
    if a.stage in ("dc", "all"):
        a_dc = argparse.Namespace(**vars(a))
        a_dc.epochs = a.epochs
        stage_dc(a_dc)
    if a.stage in ("grid", "all"):
        a_g = argparse.Namespace(**vars(a))
        a_g.epochs = a.epochs or 1
        stage_grid(a_g)
    if a.stage in ("speed", "all"):
        stage_speed(a)
    print(render())


if __name__ == "__main__":
    main(sys.argv[1:])
