"""The report of a tiny harness run: well-formed HTML, every embedded image decodes, the
efficiency metrics are written and agree with the run's own results."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
import yaml

from snnbench.experiments.run_metrics import compute_run_metrics
from snnbench.report import write_report
from snnbench.report.collect import RunInfo, SeedRun, energy_comparison, summary_rows

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base"}


class _Checker(HTMLParser):
    """Fails on a closing tag that does not match the innermost open one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.images: list[dict[str, str]] = []
        self.errors: list[str] = []
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype |= decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_html(text: str) -> _Checker:
    c = _Checker()
    c.feed(text)
    c.close()
    assert c.doctype, "missing <!DOCTYPE html>"
    assert not c.errors, c.errors[:5]
    assert c.stack == [], f"unclosed tags: {c.stack}"
    return c


def decode_images(c: _Checker) -> list[np.ndarray]:
    out = []
    for img in c.images:
        src = img.get("src", "")
        assert src.startswith("data:image/png;base64,"), "images must be embedded, not linked"
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        arr = mpimg.imread(io.BytesIO(png), format="png")
        assert arr.ndim == 3 and arr.shape[0] > 50 and arr.shape[1] > 50
        assert float(arr[..., :3].std()) > 0.01, f"image {img.get('alt')!r} is blank"
        out.append(arr)
    return out


def test_report_of_tiny_run(tiny_report: Path):
    out = tiny_report
    text = out.read_text()
    c = check_html(text)
    alts = [i.get("alt") for i in c.images]
    for needed in ("accuracy vs energy", "operations", "training curves", "snn confusion matrix",
                   "mlp confusion matrix", "snn activity"):
        assert needed in alts, f"missing figure {needed!r}: {alts}"
    assert "mlp activity" not in alts  # an ANN has no spikes to plot
    decode_images(c)
    assert "memory traffic" in text.lower() and "0.9 pJ" in text and "4.6 pJ" in text
    md = out.with_suffix(".md").read_text()
    assert re.search(r"^\| digits \| snn \| snn_ff \|", md, re.M) and re.search(r"^\| digits \| mlp \| mlp \|", md, re.M)
    assert "SNN vs ANN energy" in md


def test_efficiency_files_agree_with_the_run(tiny_run: Path):
    rows = compute_run_metrics(tiny_run, progress=False)
    by_model = {r["model"]: r for r in rows}
    for model, expect in (("snn", "effective_acs"), ("mlp", "effective_macs")):
        seed_dir = tiny_run / "digits" / model / "seed0"
        eff = json.loads((seed_dir / "metrics_efficiency.json").read_text())
        final = json.loads((seed_dir / "final.json").read_text())
        # same model, same test noise stream as the trainer's evaluation -> same accuracy
        assert eff["workload"]["accuracy"] == pytest.approx(final["test_accuracy"])
        assert eff["workload"]["samples"] == len(final["extra"]["labels"])
        assert eff["static"]["parameter_count"] == final["params"]
        ops = eff["workload"]["synaptic_operations"]
        assert by_model[model][expect] == pytest.approx(ops[expect]) and ops[expect] > 0
        e = eff["workload"]["energy"]
        assert e["synaptic_pj"] == pytest.approx(0.9 * ops["effective_acs"] + 4.6 * ops["effective_macs"])
    # dense ops of the MLP: 64 -> 8 -> 10 per sample; of the SNN: 4 steps x (64 x 16 + 16 x 10)
    assert by_model["mlp"]["synops_dense"] == 64 * 8 + 8 * 10
    assert by_model["snn"]["synops_dense"] == 4 * (64 * 16 + 16 * 10)
    snn_rates = json.loads((tiny_run / "digits/snn/seed0/final.json").read_text())["extra"]["spike_rates"]
    eff = json.loads((tiny_run / "digits/snn/seed0/metrics_efficiency.json").read_text())
    assert eff["workload"]["spike_rate"]["fc1"] == pytest.approx(snn_rates["fc1"])
    results = json.loads((tiny_run / "results.json").read_text())
    assert all("energy_pj" in r for r in results["rows"])


def _seed_run(model: str, kind: str, acc: float, energy_pj: float) -> SeedRun:
    eff = {"workload": {"energy": {"synaptic_pj": energy_pj, "total_pj": energy_pj}, "synaptic_operations": {
        "dense": 10.0, "effective_macs": 0.0 if kind.startswith("snn") else energy_pj / 4.6,
        "effective_acs": energy_pj / 0.9 if kind.startswith("snn") else 0.0}}}
    return SeedRun("t", model, kind, 0, Path("."), {"test_accuracy": acc, "params": 5, "train_seconds": 1.0}, eff, [])


def test_summary_and_comparison_by_hand():
    info = RunInfo(Path("."), "r", "surrogate", {}, runs=[
        _seed_run("s", "snn_ff", 0.9, 900.0), _seed_run("a", "mlp", 0.95, 4600.0),
        _seed_run("a2", "mlp", 0.5, 10.0),
    ])
    rows = summary_rows(info)
    assert [r["accuracy_mean"] for r in rows] == pytest.approx([90.0, 95.0, 50.0])
    (comp,) = energy_comparison(rows)
    assert comp["ann"]["model"] == "a"  # the most accurate ANN, not the cheapest
    assert comp["ratio"] == pytest.approx(4600.0 / 900.0)


def _stdp_run(tmp_path: Path) -> Path:
    from safetensors.torch import save_file

    run = tmp_path / "stdp"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "stdp-grid", "kind": "stdp", "stdp": {"epochs": 1}}))
    g = torch.Generator().manual_seed(0)
    for i, (enc, nrn, acc) in enumerate([("poisson", "lif", 0.8), ("bernoulli", "lif", 0.4), ("poisson", "if", 0.1)]):
        cell = run / f"cell{i}"
        cell.mkdir()
        (cell / "config.json").write_text(json.dumps({"encoding": enc, "neuron": nrn, "rule": "stdp", "n_neurons": 4}))
        (cell / "metrics.json").write_text(json.dumps({"test_accuracy": acc, "train_samples_per_s": [1200.0]}))
        save_file({"weights": torch.rand(4, 16, generator=g)}, str(cell / "weights.safetensors"))
    return run


def test_stdp_section_without_stdp_plots(tmp_path: Path):
    run = _stdp_run(tmp_path)
    out = write_report([run], tmp_path / "stdp.html", progress=False)
    c = check_html(out.read_text())
    alts = [i.get("alt") for i in c.images]
    assert alts.count("receptive fields") == 3 and "grid heatmap" in alts
    decode_images(c)
    md = out.with_suffix(".md").read_text()
    assert "| cell0 | poisson | lif | stdp | 4 | 80.0 |" in md


def test_stdp_pngs_are_embedded_as_given(tmp_path: Path):
    import matplotlib.pyplot as plt

    run = _stdp_run(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    fig.savefig(run / "cell0" / "receptive_fields.png")
    fig.savefig(run / "grid_heatmap.png")
    plt.close(fig)
    out = write_report([run], tmp_path / "stdp.html", progress=False)
    c = check_html(out.read_text())
    alts = [i.get("alt") for i in c.images]
    # the helper's plots replace ours: its receptive fields for cell0, its grid heatmap
    assert alts.count("receptive fields") == 2 and "receptive_fields" in alts and "grid_heatmap" in alts
    assert "grid heatmap" not in alts
    decode_images(c)


def test_bad_arguments(tmp_path: Path):
    with pytest.raises(ValueError, match="run_dirs"):
        write_report([], tmp_path / "r.html")
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        write_report([tmp_path], tmp_path / "r.html", compute_metrics=False)


def test_raster_plot_handles_a_non_spiking_readout_layer():
    """Membrane-readout SNNs end in a leaky integrator without spikes: its panel must draw."""
    import numpy as np

    from snnbench.report import plots

    rng = np.random.default_rng(0)
    layers = [("fc1", (rng.random((20, 6)) < 0.2).astype(float), rng.random((20, 6))),
              ("out", None, rng.random((20, 3)))]
    fig = plots.raster_and_membrane(layers, "1 ms", "one sample")
    assert len(fig.axes) == 4
    assert plots.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_claim_for_a_model_at_or_below_the_majority_class():
    # ArrowHead-like: the GRU's 36.6 % is under the 39.4 % majority class
    from snnbench.report.html import comparison_lines, results_table_md

    def run(model, kind, acc, energy):
        r = _seed_run(model, kind, acc, energy)
        r.final["extra"] = {"majority_accuracy": 0.394}
        return r

    info = RunInfo(Path("."), "r", "surrogate", {}, runs=[run("snn", "snn_ff", 0.51, 900.0),
                                                          run("gru", "gru", 0.366, 32400.0)])
    rows = summary_rows(info)
    assert [r["below_majority"] for r in rows] == [False, True]
    assert energy_comparison(rows) == []  # no energy or accuracy claim against the flagged model
    lines = comparison_lines(rows)
    assert len(lines) == 1 and "gru scores 36.6%, at or below the majority class (39.4%)" in lines[0]
    assert "less" not in " ".join(lines) and "higher accuracy" not in " ".join(lines)
    assert "at or below majority class (39.4)" in results_table_md(rows)


def test_tiny_report_has_floors_and_a_verdict(tiny_run: Path, tiny_report: Path):
    final = json.loads((tiny_run / "digits/mlp/seed0/final.json").read_text())
    assert final["extra"]["chance_accuracy"] == pytest.approx(0.1)
    assert 0.09 < final["extra"]["majority_accuracy"] < 0.12  # digits is nearly balanced
    md = tiny_report.with_suffix(".md").read_text()
    assert "## Verdicts" in md and "snn vs mlp:" in md


def test_energy_sentence_follows_the_verdict():
    # a 0.8-point gap the verdict calls noise is not reported as "higher accuracy"
    from snnbench.metrics.verdict import NO_DIFFERENCE, SNN_BETTER, Verdict
    from snnbench.report.html import comparison_lines

    info = RunInfo(Path("."), "r", "surrogate", {}, runs=[_seed_run("snn", "snn_ff", 0.973, 900.0),
                                                          _seed_run("mlp", "mlp", 0.965, 32400.0)])
    rows = summary_rows(info)
    task = rows[0]["task"]

    def verdict(word: str) -> Verdict:
        return Verdict("snn", "mlp", 3, 0.8, -0.4, 2.0, 1.5, 0.12, word, experiment=task)

    tie = comparison_lines(rows, {(task, "snn", "mlp"): verdict(NO_DIFFERENCE)})[0]
    assert "within the noise (no difference at 95 %)" in tie and "higher accuracy" not in tie
    better = comparison_lines(rows, {(task, "snn", "mlp"): verdict(SNN_BETTER)})[0]
    assert "0.8 points higher accuracy (SNN better)" in better
    assert "no verdict" in comparison_lines(rows)[0]
