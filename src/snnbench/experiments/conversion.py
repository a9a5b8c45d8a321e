"""``snnbench convert RUN_DIR``: convert the trained MLP/CNN baselines of a run folder into
IF SNNs (:mod:`snnbench.models.conversion`) and measure them against the number of steps.

For every experiment, every ``mlp``/``cnn`` model and every seed trained in the folder, the
ANN is converted with thresholds balanced on its training split and the SNN is simulated
once for ``max(steps)`` steps on the test split; the prediction after ``T`` steps is the
argmax of the running-mean output, so every ``T`` comes from the same simulation. Per ``T``
it records the test accuracy and, per test sample, the effective synaptic operations
(:mod:`snnbench.metrics.synaptic_operations`: the analog input into the first layer is
multiply-accumulates at every step, spikes into the later layers are accumulates) and their
energy (:mod:`snnbench.metrics.energy`), beside the ANN's accuracy and operations.
Results go to ``RUN_DIR/conversion.json`` and ``RUN_DIR/conversion.md``.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import torch

from .._files import atomic_write_json, atomic_write_text
from .._validation import check_int, check_range
from ..data.batching import iterate_batches
from ..metrics.energy import estimate_energy
from ..metrics.synaptic_operations import layer_synaptic_operations, synaptic_operations
from ..models.conversion import convert, describe
from .config import ConfigError
from .run_folder import load_run_config, seed_folder
from .runner import load_trained_model
from .stats import mean_std

DEFAULT_STEPS = tuple(2**k for k in range(9))  # 1 .. 256
CONVERTIBLE = ("mlp", "cnn")


def _check_steps(steps: Any) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(s) for s in steps}))
    except (TypeError, ValueError):
        raise ValueError(f"steps must be positive integers, e.g. 1,2,4,...,256; got {steps!r}") from None
    if not out or out[0] < 1 or out[-1] > 100_000:
        raise ValueError(f"steps must be integers in [1, 100000], e.g. 1,2,4,...,256; got {steps!r}")
    return out


@torch.no_grad()
def evaluate_conversion(ann: torch.nn.Module, data: Any, *, steps: Any = DEFAULT_STEPS, percentile: float = 99.9,
                        v_init: float = 0.5, batch_size: int = 250, calibration_samples: int | None = None
                        ) -> dict[str, Any]:
    """Convert ``ann`` (calibrated on ``data.train``) and test it on ``data.test`` at every
    ``T`` in ``steps``; returns the ANN row, one row per ``T`` and the conversion summary."""
    steps = _check_steps(steps)
    ann.eval()
    calib = (x for x, _, _ in iterate_batches(data.train, batch_size, shuffle=False))
    if calibration_samples is not None:
        calib = itertools.islice(calib, max(1, -(-int(calibration_samples) // batch_size)))
    snn = convert(ann, calib, percentile=percentile, v_init=v_init)
    t_max = steps[-1]
    correct = dict.fromkeys(steps, 0)
    ops = torch.zeros(t_max, 2, dtype=torch.float64)  # per step: effective MACs, ACs (totals)
    ann_correct, ann_macs, ann_acs, n = 0, 0.0, 0.0, 0

    def count(t: int, seen: list) -> None:
        for layer, inp in seen:
            o = layer_synaptic_operations(layer, inp)
            ops[t, 0] += o.effective_macs
            ops[t, 1] += o.effective_acs

    ann.record = True
    try:
        for x, y, _ in iterate_batches(data.test, batch_size, shuffle=False):
            logits = ann(x)
            ann_correct += int((logits.argmax(1) == y).sum())
            for o in synaptic_operations(ann, ann.last_activity).values():
                ann_macs += o.effective_macs
                ann_acs += o.effective_acs
            means = snn.simulate(x, t_max, on_step=count)
            for t in steps:
                correct[t] += int((means[t - 1].argmax(1) == y).sum())
            n += len(y)
    finally:
        ann.record = False
    cum = ops.cumsum(0) / n
    rows = []
    for t in steps:
        macs, acs = float(cum[t - 1, 0]), float(cum[t - 1, 1])
        rows.append({"steps": t, "accuracy": correct[t] / n, "macs_per_sample": macs, "acs_per_sample": acs,
                     "energy_pj_per_sample": estimate_energy(macs, acs)})
    ann_row = {"accuracy": ann_correct / n, "macs_per_sample": ann_macs / n, "acs_per_sample": ann_acs / n,
               "energy_pj_per_sample": estimate_energy(ann_macs / n, ann_acs / n)}
    return {"ann": ann_row, "snn": rows, "conversion": {**describe(snn), "percentile": percentile},
            "test_samples": n}


def convert_run(run_dir: Path, *, steps: Any = DEFAULT_STEPS, percentile: float = 99.9, v_init: float = 0.5,
                batch_size: int = 250, calibration_samples: int | None = None,
                log: Any = print) -> dict[str, Any]:
    """Convert every trained MLP/CNN of ``run_dir``; writes ``conversion.json`` and
    ``conversion.md`` there and returns the results."""
    run_dir = Path(run_dir)
    steps = _check_steps(steps)
    # settings first: a bad one is reported before any model is loaded
    if not 0 < float(percentile) <= 100:
        raise ValueError(f"percentile must be in (0, 100] (100 = max activation), got {percentile}")
    check_range("v_init", v_init, 0.0, 1.0)
    check_int("batch_size", batch_size)
    if calibration_samples is not None:
        check_int("calibration_samples", calibration_samples)
    suite = load_run_config(run_dir)
    cells = [(e, m) for e in suite.experiments for m in e.models if m.type in CONVERTIBLE]
    if not cells:
        raise ConfigError(f"run {str(run_dir)!r} has no mlp or cnn model to convert; train one first, "
                          "e.g. 'snnbench run mnist5k-convert'")
    results: list[dict[str, Any]] = []
    for exp, m in cells:
        for seed in suite.seeds:
            folder = seed_folder(run_dir, exp.name, m.name, seed)
            if not (folder / "final.json").is_file():
                log(f"skip {exp.name}/{m.name}/seed{seed}: not trained to the end")
                continue
            ann, data = load_trained_model(run_dir, exp.name, m.name, seed)
            res = evaluate_conversion(ann, data, steps=steps, percentile=percentile, v_init=v_init,
                                      batch_size=batch_size, calibration_samples=calibration_samples)
            results.append({"experiment": exp.name, "model": m.name, "seed": seed, **res})
            best = next((r["accuracy"] for r in res["snn"] if r["steps"] == steps[-1]), None)
            log(f"{exp.name}/{m.name}/seed{seed}: ANN {res['ann']['accuracy']:.4f}, SNN at T={steps[-1]} {best:.4f}")
    if not results:
        raise ConfigError(f"run {str(run_dir)!r} has no finished mlp/cnn seed; finish it with "
                          f"'snnbench run --resume {run_dir}'")
    out = {"steps": list(steps), "percentile": percentile, "v_init": v_init, "results": results}
    atomic_write_json(run_dir / "conversion.json", out)
    atomic_write_text(run_dir / "conversion.md", format_conversion(out))
    return out


def summary_rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (experiment, model, T): mean +- std over seeds of the SNN accuracy, of its gap to
    the ANN (pp), and the mean operations and energy per sample."""
    rows = []
    keys = sorted({(r["experiment"], r["model"]) for r in out["results"]})
    for exp, model in keys:
        rs = [r for r in out["results"] if (r["experiment"], r["model"]) == (exp, model)]
        ann_m, ann_s = mean_std([r["ann"]["accuracy"] for r in rs])
        rows.append({"experiment": exp, "model": model, "steps": "ANN", "accuracy": (ann_m, ann_s),
                     "gap_pp": (0.0, 0.0), "macs": sum(r["ann"]["macs_per_sample"] for r in rs) / len(rs),
                     "acs": sum(r["ann"]["acs_per_sample"] for r in rs) / len(rs),
                     "energy": sum(r["ann"]["energy_pj_per_sample"] for r in rs) / len(rs), "seeds": len(rs)})
        for i, t in enumerate(out["steps"]):
            acc = [r["snn"][i]["accuracy"] for r in rs]
            gap = [100 * (r["ann"]["accuracy"] - r["snn"][i]["accuracy"]) for r in rs]
            rows.append({"experiment": exp, "model": model, "steps": t, "accuracy": mean_std(acc),
                         "gap_pp": mean_std(gap),
                         "macs": sum(r["snn"][i]["macs_per_sample"] for r in rs) / len(rs),
                         "acs": sum(r["snn"][i]["acs_per_sample"] for r in rs) / len(rs),
                         "energy": sum(r["snn"][i]["energy_pj_per_sample"] for r in rs) / len(rs),
                         "seeds": len(rs)})
    return rows


def format_conversion(out: dict[str, Any]) -> str:
    """Markdown table of :func:`summary_rows`."""
    lines = [f"Converted SNNs (IF, soft reset, direct input, {out['percentile']}th-percentile balancing, "
             f"v_init = {out['v_init']}); mean +- std over seeds; operations and energy per test sample "
             "(Horowitz 2014, 45 nm: 0.9 pJ per AC, 4.6 pJ per MAC).", "",
             "| experiment | model | T | accuracy | ANN - SNN (pp) | MACs | ACs | energy (nJ) | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary_rows(out):
        (am, as_), (gm, gs) = r["accuracy"], r["gap_pp"]
        lines.append(f"| {r['experiment']} | {r['model']} | {r['steps']} | {100 * am:.2f} +- {100 * as_:.2f} | "
                     f"{gm:+.2f} +- {gs:.2f} | {r['macs']:.3g} | {r['acs']:.3g} | {r['energy'] / 1e3:.3g} | "
                     f"{r['seeds']} |")
    return "\n".join(lines) + "\n"


def _cmd_convert(args: argparse.Namespace) -> int:
    steps = [s for s in str(args.steps).split(",") if s.strip()]
    try:
        steps = [int(s) for s in steps]
    except ValueError:
        raise ValueError(f"--steps must be comma-separated integers, e.g. 1,2,4,8; got {args.steps!r}") from None
    out = convert_run(Path(args.run_dir), steps=steps, percentile=args.percentile, v_init=args.v_init,
                      batch_size=args.batch_size, calibration_samples=args.calibration_samples)
    print(format_conversion(out))
    print(f"Wrote {Path(args.run_dir) / 'conversion.json'} and conversion.md")
    return 0


def add_convert_parser(sub: Any) -> None:
    """Register ``snnbench convert`` on the CLI's subparsers."""
    p = sub.add_parser("convert", help="convert the trained MLP/CNN of a run folder to IF SNNs, accuracy vs T")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--steps", default=",".join(map(str, DEFAULT_STEPS)), help="time steps T to test (comma-separated)")
    p.add_argument("--percentile", type=float, default=99.9,
                   help="activation percentile for threshold balancing (100 = max)")
    p.add_argument("--v-init", type=float, default=0.5, help="initial membrane potential (threshold units)")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--calibration-samples", type=int, default=None,
                   help="training samples used to balance thresholds (default: the whole training split)")
    p.set_defaults(func=_cmd_convert)
