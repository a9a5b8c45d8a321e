"""Expected cost of the full-size delay presets (``shd-delays``, ``ssc-delays``,
``gsc-delays``) on one GPU, estimated from floating-point operations: nothing here is a
measurement. Writes its section of docs/delay_presets.md.

    python benchmarks/delay_presets_cost.py                  # default: 30 TFLOP/s effective
    python benchmarks/delay_presets_cost.py --tflops 15 60   # other assumptions side by side

Per model and sample, forward FLOPs (multiply + add = 2):

- delayed layer (``snn_delay_mlp``): one dense conv1d over time, ``2 T' in out K``, with
  ``T'`` = frames + the model's trailing zero frames and ``K`` = max delay;
- the same layer without delays: ``2 T in out``;
- GRU: ``2 T 3 (in h + h h)`` (three gates), plus the output layer.

Training counts forward + backward as 3x the forward; every epoch also evaluates the
validation carve and the test split once (1x). Neurons, batch norm, dropout and the
kernel construction of the delays add element-wise work of order ``T B H`` per layer,
small next to the products, and are left out; so are data loading and Python overhead,
which is why a range of effective throughputs is shown. The parameter counts come from
building each preset's models.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_cost_estimate import (  # noqa: E402
    HEADING, cost_row, generated_by, main as cost_main, minutes_columns, split_sizes,
)

from snnbench.experiments.config import load_suite  # noqa: E402
from snnbench.experiments.runner import build_experiment_model  # noqa: E402
from snnbench.models.delay_mlp import DelaySpikingMLP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "delay_presets.md"
SECTION = "delay-presets-cost"
COMMAND = "python benchmarks/delay_presets_cost.py"

# Published split sizes (Cramer et al. 2020 for SHD/SSC; Warden 2018 lists for GSC v0.02)
# and the frames per sample at 10 ms: SHD/SSC recordings last about 1 s (~100 frames; each
# batch is cut to its longest recording), GSC clips are cut to 1 s (101 centred frames).
TASKS = {
    "shd-delays": {"train": 8156, "test": 2264, "frames": 100, "inputs": 140, "classes": 20},
    "ssc-delays": {"train": 75466, "test": 20382, "frames": 100, "inputs": 140, "classes": 35},
    "gsc-delays": {"train": 84843, "test": 11005, "frames": 101, "inputs": 140, "classes": 35},
}


def forward_flops(model, frames: int) -> float:
    """Forward FLOPs of one sample (see the module docstring)."""
    if isinstance(model, DelaySpikingMLP):
        t = frames + model.extra_steps
        k = model.max_delay if model.delays else 1
        sizes = [model.fcs[0].in_features, *model.hidden, model.num_classes]
        return float(sum(2 * t * a * b * k for a, b in zip(sizes, sizes[1:])))
    gru = getattr(model, "rnn", None) or next(m for m in model.modules() if hasattr(m, "hidden_size"))
    h, i = gru.hidden_size, gru.input_size
    out = next(m for m in reversed(list(model.modules())) if hasattr(m, "out_features"))
    return float(frames * 2 * 3 * (i * h + h * h) * gru.num_layers + 2 * h * out.out_features)


def render(tflops: list[float]) -> str:
    lines = [
        HEADING,
        "",
        f"{generated_by(COMMAND, tflops)}: "
        "FLOPs per epoch from each preset's models and the published split sizes, divided by an assumed "
        "effective throughput. No GPU was available to measure; an H100's dense TF32 tensor-core peak is "
        "several hundred TFLOP/s and its float32 peak about 67, and conv1d layers of these shapes reach a "
        "fraction of that, hence the range. Per seed; a preset runs 3 seeds of each model. The small "
        "models (no delays, GRU) are bound by kernel launches and the GRU's 100 sequential steps rather "
        "than by FLOPs: expect them to take longer than their figure, though still minutes.",
        "",
        "| preset | model | params | GFLOP / sample (train step) | PFLOP / epoch | epochs | "
        + minutes_columns(tflops) + " |",
        "|---|---|---:|---:|---:|---:|" + "---:|" * len(tflops),
    ]
    for preset, d in TASKS.items():
        suite = load_suite(preset)
        exp = suite.experiments[0]
        info = SimpleNamespace(name=preset, kind="timeseries", input_shape=(d["frames"], d["inputs"]),
                               num_classes=d["classes"])
        n_train, n_eval = split_sizes(d["train"], d["test"], exp.data.val_fraction)
        for m in exp.models:
            model, minfo = build_experiment_model(exp, m, info)
            fwd = forward_flops(model, d["frames"])
            epoch = 3 * fwd * n_train + fwd * n_eval
            cells = [preset, f"{m.name} ({m.type})", f"{minfo['params']:,}", f"{3 * fwd / 1e9:.2f}"]
            lines.append(cost_row(cells, epoch, exp.train.epochs, tflops))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cost_main(argv, description=__doc__.split("\n\n")[0], render=render, doc=DOC, section=SECTION,
                     title="Delay presets (Hammouamri et al. 2023)")


if __name__ == "__main__":
    sys.exit(main())
