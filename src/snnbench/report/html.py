"""The HTML report of one or more run folders: one self-contained file (every image a
base64 PNG inside it) plus a Markdown summary next to it.

Contents: results table (task, model, parameters, accuracy mean +- std over seeds, SynOps,
effective MACs / ACs, energy per sample, training time), the SNN-vs-ANN energy comparison
per task, accuracy vs energy across models, operation counts, training curves, confusion
matrices, a spike raster and membrane traces of one test sample per SNN, and for STDP runs
the receptive fields and the encoding x neuron x rule accuracy grid.

Efficiency metrics that are missing are computed first (:func:`compute_run_metrics`).
"""

from __future__ import annotations

import base64
import html
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..metrics.energy import EnergyModel, check_energy_model
from ..metrics.verdict import NO_DIFFERENCE
from . import plots
from .collect import RunInfo, SeedRun, collect_run, energy_comparison, summary_rows, verdicts

log = logging.getLogger("snnbench")

ENERGY_NOTE = (
    "Energy is an estimate of arithmetic only: effective accumulates x {ac} pJ + effective "
    "multiply-accumulates x {mac} pJ + neuron state updates x {upd} pJ per test sample ({source}). "
    "Memory traffic (fetching weights and neuron states), which dominates on real hardware, is not "
    "counted. The column 'incl. updates' prices every neuron state update (one LIF or GRU unit "
    "step) at one MAC instead. Effective operations skip zero inputs and zero weights (NeuroBench): a spike "
    "input costs an accumulate per nonzero outgoing weight, an analog input a multiply-accumulate."
)

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:8px 0;font-size:0.88em}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#f7f7e8;border-left:4px solid #cc9;padding:8px 12px;font-size:0.9em}
.warn{background:#fbeaea;border-left:4px solid #c66;padding:8px 12px;font-size:0.9em}
figure{margin:12px 0}figcaption{font-size:0.85em;color:#555}img{max-width:100%;height:auto}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid figure{flex:0 1 auto}
"""


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, caption: str | None = None) -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_b64(png)}">{cap}</figure>'


def _fmt(v: Any, fmt: str = "{:,.0f}", scale: float = 1.0) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return fmt.format(v * scale if scale != 1.0 else v)


_COLUMNS = [
    ("task", "task", None), ("model", "model", None), ("type", "type", None), ("dataset", "dataset", None),
    ("params", "params", "{:,}"), ("accuracy", "test acc. (%)", None),
    ("synops_dense", "dense SynOps / sample", "{:,.0f}"),
    ("effective_macs", "eff. MACs / sample", "{:,.0f}"), ("effective_acs", "eff. ACs / sample", "{:,.0f}"),
    ("energy_pj", "energy / sample (nJ)", "{:,.2f}"),
    ("energy_with_updates_pj", "incl. updates (nJ)", "{:,.2f}"),
    ("activation_sparsity", "act. sparsity", "{:.3f}"), ("mean_spike_rate", "spike rate", "{:.4f}"),
    ("train_seconds_mean", "train time (s)", "{:,.1f}"),
]


def _cell(r: dict[str, Any], key: str, fmt: str | None) -> tuple[str, bool]:
    if key == "accuracy":
        flag = f" at or below majority class ({r['majority_accuracy']:.1f})" if r.get("below_majority") else ""
        return f"{r['accuracy_mean']:.1f} &plusmn; {r['accuracy_std']:.1f} (n={r['seeds']}){flag}", True
    v = r.get(key)
    if fmt is None:
        return html.escape(str(v)), False
    scale = 1e-3 if key.startswith("energy") else 1.0
    return _fmt(v, fmt, scale), True


def results_table_html(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in _COLUMNS)
    body = []
    for r in rows:
        tds = []
        for key, _, fmt in _COLUMNS:
            text, num = _cell(r, key, fmt)
            tds.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def results_table_md(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(label for _, label, _ in _COLUMNS) + " |",
             "|" + "|".join("---" if fmt is None and key != "accuracy" else "---:" for key, _, fmt in _COLUMNS) + "|"]
    for r in rows:
        cells = []
        for key, _, fmt in _COLUMNS:
            text, _ = _cell(r, key, fmt)
            cells.append(text.replace("&plusmn;", "+-"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_lines(rows: list[dict[str, Any]], verdict_of: dict[tuple[str, str, str], Any] | None = None) -> list[str]:
    """One sentence per task: the most accurate SNN against the most accurate ANN in energy
    and accuracy. ``verdict_of`` maps (task, SNN, baseline) to their verdict: an accuracy
    gap the verdict finds within the noise is not stated as higher or lower."""
    out = []
    for c in energy_comparison(rows):
        s, a = c["snn"], c["ann"]
        rel = f"{c['ratio']:.1f}x less" if c["ratio"] >= 1 else f"{1 / c['ratio']:.1f}x more"
        gap = s["accuracy_mean"] - a["accuracy_mean"]
        v = (verdict_of or {}).get((c["task"], s["model"], a["model"]))
        if v is not None and v.verdict == NO_DIFFERENCE:
            acc = f"an accuracy difference of {gap:+.1f} points within the noise ({v.verdict})"
        else:
            acc = f"{abs(gap):.1f} points {'higher' if gap >= 0 else 'lower'} accuracy"
            acc += f" ({v.verdict})" if v is not None else " (no verdict: one seed or no per-sample predictions)"
        out.append(
            f"{c['task']}: SNN {s['model']} {s['accuracy_mean']:.1f}% at {s['energy_pj'] / 1e3:,.2f} nJ/sample "
            f"({s['effective_acs'] or 0:,.0f} ACs + {s['effective_macs'] or 0:,.0f} MACs) vs ANN {a['model']} "
            f"{a['accuracy_mean']:.1f}% at {a['energy_pj'] / 1e3:,.2f} nJ/sample ({a['effective_macs'] or 0:,.0f} MACs): "
            f"the SNN uses {rel} compute energy, at {acc}"
        )
    for r in rows:
        if r.get("below_majority"):
            out.append(f"{r['task']}: {r['model']} scores {r['accuracy_mean']:.1f}%, at or below the majority class "
                       f"({r['majority_accuracy']:.1f}%): it has learnt nothing usable; no energy or accuracy claim is made for it")
    return out


def _activity_layers(rec: Any, steps: int | None) -> list[tuple[str, np.ndarray | None, np.ndarray | None]]:
    """(name, spikes [T, N] | None, membrane [T, N] | None) of sample 0, from a
    :func:`snnbench.models.recording.record` of one forward pass (one entry per population;
    the non-spiking output integrator has no spikes)."""

    def first(t: torch.Tensor | None) -> np.ndarray | None:
        if t is None:
            return None
        a = t[:, 0].reshape(t.shape[0], -1).float().cpu().numpy()
        return a[:steps] if steps else a

    return [(name, first(rec[name].spikes), first(rec[name].membrane)) for name in rec]


def _activity_figure(info: RunInfo, r: SeedRun) -> tuple[bytes, Any]:
    from ..experiments.runner import load_trained_model

    net, data = load_trained_model(info.run_dir, r.experiment, r.model, r.seed)
    x = data.test.x[:1]
    lengths = data.test.lengths[:1] if data.test.lengths is not None else None
    from ..models.recording import record

    with record(net, membrane=True, max_samples=1) as rec, torch.no_grad():
        logits = net(x, lengths=lengths, generator=torch.Generator().manual_seed(r.seed))
    steps = None
    if lengths is not None:
        steps = int(lengths[0]) * int(getattr(net, "steps_per_sample", 1))
    layers = _activity_layers(rec, steps)
    label = int(data.test.y[0])
    names = getattr(data.info, "class_names", None)
    lab = names[label] if names and label < len(names) else str(label)
    pred = int(logits.argmax(1)[0])
    plab = names[pred] if names and pred < len(names) else str(pred)
    fig = plots.raster_and_membrane(layers, "steps",
                                    f"{r.experiment} / {r.model} (seed {r.seed}): test sample 0, class {lab}, predicted {plab}")
    return plots.figure_png(fig), data.info


def _grid_png(cells: list[dict[str, Any]], title: str) -> tuple[bytes, str]:
    """The grid heatmap (mean accuracy over seeds per cell), drawn by the STDP track's
    :func:`snnbench.report.stdp_plots.grid_heatmap`."""
    from . import stdp_plots

    acc: dict[tuple[str, str, str], list[float]] = {}
    for c in cells:
        acc.setdefault((c["encoding"], c["neuron"], c["rule"]), []).append(c["accuracy"])
    mean = {k: float(np.mean(v)) for k, v in acc.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = stdp_plots.grid_heatmap(
            mean, Path(tmp) / "grid.png",
            encodings=list(dict.fromkeys(k[0] for k in mean)),
            neurons=list(dict.fromkeys(k[1] for k in mean)),
            rules=list(dict.fromkeys(k[2] for k in mean)),
        )
        return Path(path).read_bytes(), "snnbench.report.stdp_plots.grid_heatmap"


def _stdp_section(info: RunInfo) -> tuple[str, list[str]]:
    parts: list[str] = []
    md: list[str] = []
    if not info.cells and not info.images:
        return "", md
    parts.append("<h3>STDP (Diehl &amp; Cook) cells</h3>")
    parts.append("<table><thead><tr><th>cell</th><th>encoding</th><th>neuron</th><th>rule</th><th>neurons</th>"
                 "<th>test acc. (%)</th><th>train samples/s</th></tr></thead><tbody>")
    md += ["| cell | encoding | neuron | rule | neurons | test acc. (%) |", "|---|---|---|---|---:|---:|"]
    grid_cells = []
    for c in info.cells:
        cfg = c.config
        sps = c.metrics.get("train_samples_per_s")
        sps = sps[-1] if isinstance(sps, list) and sps else sps
        acc = float(c.metrics.get("test_accuracy", float("nan")))
        parts.append(
            f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(str(cfg.get('encoding', '-')))}</td>"
            f"<td>{html.escape(str(cfg.get('neuron', '-')))}</td><td>{html.escape(str(cfg.get('rule', '-')))}</td>"
            f"<td class='num'>{cfg.get('n_neurons', '-')}</td><td class='num'>{100 * acc:.1f}</td>"
            f"<td class='num'>{_fmt(sps, '{:,.0f}')}</td></tr>")
        md.append(f"| {c.name} | {cfg.get('encoding', '-')} | {cfg.get('neuron', '-')} | {cfg.get('rule', '-')} | "
                  f"{cfg.get('n_neurons', '-')} | {100 * acc:.1f} |")
        if all(k in cfg for k in ("encoding", "neuron", "rule")):
            grid_cells.append({"encoding": cfg["encoding"], "neuron": cfg["neuron"], "rule": cfg["rule"], "accuracy": acc})
    parts.append("</tbody></table>")
    grid_pngs = [p for p in info.images if "grid" in p.name.lower() or "heatmap" in p.name.lower()]
    combos = {(c["encoding"], c["neuron"], c["rule"]) for c in grid_cells}
    if grid_pngs:
        for p in grid_pngs:
            parts.append(_img(p.read_bytes(), p.stem, f"{p.name} (from the STDP run)"))
    elif len(combos) > 1:
        png, origin = _grid_png(grid_cells, f"{info.name}: STDP grid, test accuracy")
        parts.append(_img(png, "grid heatmap",
                          f"test accuracy per encoding x neuron x rule (mean over repeated cells; drawn by {origin})"))
    for p in info.images:
        if p not in grid_pngs:
            parts.append(_img(p.read_bytes(), p.stem, str(p.relative_to(info.run_dir))))
    for c in info.cells:
        imgs = list(c.images)
        has_rf = any("recept" in p.name.lower() or "weight" in p.name.lower() for p in imgs)
        figs = [_img(p.read_bytes(), p.stem, f"{c.name}: {p.name}") for p in imgs]
        wpath = c.folder / "weights.safetensors"
        if not has_rf and wpath.is_file():
            try:
                from safetensors.torch import load_file

                w = load_file(str(wpath)).get("weights")
                if w is not None:
                    figs.insert(0, _img(plots.figure_png(plots.receptive_fields(w.numpy(), f"{c.name}: receptive fields")),
                                        "receptive fields", f"{c.name}: learned input weights per neuron"))
            except (OSError, ValueError) as err:
                figs.insert(0, f"<p class='warn'>receptive fields of {html.escape(c.name)} not drawn: {html.escape(str(err))}</p>")
        if figs:
            parts.append(f"<h4>{html.escape(c.name)}</h4><div class='grid'>{''.join(figs)}</div>")
    return "\n".join(parts), md


def _results_section(rows: list[dict[str, Any]], infos: list[RunInfo], energy: EnergyModel) -> tuple[list[str], list[str]]:
    """The results table, the energy comparison, the verdicts and the overview plots."""
    body: list[str] = []
    md: list[str] = []
    note = ENERGY_NOTE.format(ac=energy.ac_pj, mac=energy.mac_pj, upd=energy.update_pj, source=energy.source)
    body.append("<h2>Results</h2>")
    body.append(results_table_html(rows))
    body.append(f"<p class='note'>{html.escape(note)} SynOps, MACs and ACs are per test sample; "
                "padding steps of variable-length series are not counted.</p>")
    md += ["## Results", "", results_table_md(rows), "", note, ""]
    judged = [(info, v) for info in infos for v in verdicts(info)]
    comp = comparison_lines(rows, {(v.experiment, v.snn, v.baseline): v for _, v in judged})
    if comp:
        body.append("<h3>SNN vs ANN energy (most accurate of each kind per task)</h3><ul>"
                    + "".join(f"<li>{html.escape(c)}</li>" for c in comp) + "</ul>")
        md += ["## SNN vs ANN energy", ""] + [f"- {c}" for c in comp] + [""]
    vlines = [f"{info.name} / {v.snn} vs {v.baseline}: {v.text()}" for info, v in judged]
    if vlines:
        body.append("<h3>Verdicts (paired t-test over seeds and bootstrap 95 % interval over test samples; "
                    "both must agree)</h3><ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in vlines) + "</ul>")
        md += ["## Verdicts", ""] + [f"- {v}" for v in vlines] + [""]
    if any(r.get("energy_pj") for r in rows):
        body.append(_img(plots.figure_png(plots.accuracy_vs_energy(rows)), "accuracy vs energy",
                         "test accuracy (mean and std over seeds) against estimated compute energy per sample"))
        body.append(_img(plots.figure_png(plots.operations_bars(rows, "Synaptic operations per test sample")),
                         "operations", "dense SynOps (every connection every step) and effective MACs / ACs"))
    return body, md


def _model_section(info: RunInfo, exp: str, model: str, runs: list[Any]) -> str:
    """One model of an experiment: confusion matrix, activity figure, per-layer operations."""
    first = next(r for r in runs if r.model == model)
    figs: list[str] = []
    data_info = None
    if first.is_snn:
        try:
            png, data_info = _activity_figure(info, first)
            figs.append(_img(png, f"{model} activity", "spike raster and membrane traces, one test sample"))
        except Exception as err:  # a model that cannot be rebuilt still gets the rest of its report
            log.warning("activity plot of %s/%s failed: %s", exp, model, err)
            figs.append(f"<p class='warn'>activity plot not drawn: {html.escape(type(err).__name__)}: "
                        f"{html.escape(str(err))}</p>")
    extra = first.final.get("extra", {}) or {}
    if extra.get("predictions") and extra.get("labels"):
        names = getattr(data_info, "class_names", None)
        figs.insert(0, _img(plots.figure_png(plots.confusion_matrix(
            extra["predictions"], extra["labels"], names, f"{exp} / {model} (seed {first.seed})")),
            f"{model} confusion matrix", "rows: true class; colour: % of the true class; numbers: counts"))
    layer_ops = (first.efficiency or {}).get("workload", {}).get("layers", {})
    if layer_ops:
        trs = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{html.escape(v.get('type', ''))}</td><td>{html.escape(v.get('operation', ''))}</td>"
            f"<td class='num'>{_fmt(v.get('dense'))}</td><td class='num'>{_fmt(v.get('effective_macs'))}</td>"
            f"<td class='num'>{_fmt(v.get('effective_acs'))}</td></tr>" for n, v in layer_ops.items())
        figs.append("<table><thead><tr><th>layer</th><th>type</th><th>operand</th><th>dense</th>"
                    f"<th>eff. MACs</th><th>eff. ACs</th></tr></thead><tbody>{trs}</tbody></table>")
    return f"<h3>{html.escape(model)} ({html.escape(first.model_type)})</h3><div class='grid'>{''.join(figs)}</div>"


def _experiment_section(info: RunInfo, exp: str, bar: Any) -> list[str]:
    """Heading, training curves and one section per model of one experiment."""
    runs = [r for r in info.runs if r.experiment == exp]
    ds = str(runs[0].final.get("dataset", "")) if runs else ""
    src = str(runs[0].final.get("extra", {}).get("dataset_source", "")) if runs else ""
    body = [f"<h2>{html.escape(info.name)} / {html.escape(exp)}</h2>"
            + (f"<p class='note'>dataset {html.escape(ds)}{' (' + html.escape(src) + ')' if src else ''}</p>" if ds else "")]
    hist: dict[str, list[list[dict[str, Any]]]] = {}
    for r in runs:
        hist.setdefault(r.model, []).append(r.history)
    if any(h for hs in hist.values() for h in hs):
        body.append(_img(plots.figure_png(plots.training_curves(hist, f"{exp}: training curves")),
                         "training curves", "one line per seed; validation accuracy when a validation split exists"))
    for model in dict.fromkeys(r.model for r in runs):
        body.append(_model_section(info, exp, model, runs))
        bar.update(sum(1 for r in runs if r.model == model))
    return body


def write_report(
    run_dirs: list[Path],
    out: Path,
    *,
    compute_metrics: bool = True,
    energy: EnergyModel = EnergyModel(),
    progress: bool = True,
) -> Path:
    """Write ``out`` (HTML, self-contained) and ``out.with_suffix('.md')`` for the run folders;
    return ``out``. Missing efficiency metrics are computed first unless ``compute_metrics``
    is False."""
    from ..experiments.run_metrics import compute_run_metrics

    check_energy_model(energy)
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise ValueError("run_dirs must name at least one run folder, got []")
    out = Path(out)
    warnings: list[str] = []
    infos: list[RunInfo] = []
    for d in run_dirs:
        if compute_metrics:
            try:
                compute_run_metrics(d, energy=energy, progress=progress)
            except Exception as err:  # keep reporting the rest; the failure is shown in the report
                log.warning("efficiency metrics of %s failed: %s", d, err)
                warnings.append(f"efficiency metrics of {d} could not be computed: {type(err).__name__}: {err}")
        infos.append(collect_run(d))

    rows = [row for info in infos for row in summary_rows(info)]
    title = "snnbench report: " + ", ".join(info.name for info in infos)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Run folders: " + ", ".join(f"<code>{html.escape(str(i.run_dir))}</code>" for i in infos)
            + f". Generated {stamp}.</p>"]
    md = [f"# {title}", "", "Run folders: " + ", ".join(f"`{i.run_dir}`" for i in infos) + f". Generated {stamp}.", ""]
    for w in warnings:
        body.append(f"<p class='warn'>{html.escape(w)}</p>")
        md.append(f"> warning: {w}")
    if rows:
        rbody, rmd = _results_section(rows, infos, energy)
        body += rbody
        md += rmd

    bar = tqdm(total=sum(len(info.runs) for info in infos) + len(infos), desc="report", unit="item",
               disable=not progress, leave=False)
    for info in infos:
        for exp in dict.fromkeys(r.experiment for r in info.runs):
            body += _experiment_section(info, exp, bar)
    for info in infos:
        section, smd = _stdp_section(info)
        if section:
            body.append(f"<h2>{html.escape(info.name)}: STDP</h2>{section}")
            md += [f"## {info.name}: STDP", ""] + smd + [""]
        bar.update(1)
    bar.close()
    if not rows and not any(i.cells for i in infos):
        body.append("<p class='warn'>No finished runs found in these folders.</p>")
        md.append("No finished runs found in these folders.")

    doc = (f"<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>{html.escape(title)}</title>\n"
           f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
    from ..experiments.checkpoint import atomic_write_text

    atomic_write_text(out, doc)
    atomic_write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    return out
