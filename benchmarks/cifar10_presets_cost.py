"""Expected cost of the full-size CIFAR-10 presets (``cifar10-vgg``, ``cifar10-resnet``,
``cifar10-flat``, ``cifar10-repeat``, ``cifar10-line``) on one GPU, estimated from
floating-point operations: nothing here is a measurement of a GPU. Writes its section of
docs/cifar10_presets.md.

    python benchmarks/cifar10_presets_cost.py                  # default: 30 TFLOP/s effective
    python benchmarks/cifar10_presets_cost.py --tflops 15 60   # other assumptions side by side

Per model, the FLOPs of one training step (forward and backward) and of one forward pass
are counted by PyTorch's own ``torch.utils.flop_counter.FlopCounterMode`` on the preset's
model as built, on a batch of 2 random CIFAR-shaped images, and divided by 2: it counts the
matrix products and convolutions (the delays' conv1d and the GRU included) at the model's
real shapes, so the T time steps of an SNN are in it. An epoch trains on the training split
less the preset's validation carve and evaluates that carve and the 10,000 test images once.
Neurons, batch norm, pooling, dropout and the data augmentation add element-wise work that
is not counted, nor is data loading: hence a range of effective throughputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_cost_estimate import (  # noqa: E402
    HEADING, cost_row, generated_by, main as cost_main, minutes_columns, split_sizes,
)

from snnbench.data.splits import DatasetInfo  # noqa: E402
from snnbench.experiments.config import load_suite  # noqa: E402
from snnbench.experiments.runner import build_experiment_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cifar10_presets.md"
SECTION = "cifar10-presets-cost"
COMMAND = "python benchmarks/cifar10_presets_cost.py"
PRESETS = ["cifar10-vgg", "cifar10-resnet", "cifar10-flat", "cifar10-repeat", "cifar10-line"]
TRAIN, TEST = 50_000, 10_000  # CIFAR-10's published splits (Krizhevsky 2009)
INFO = DatasetInfo("cifar10", "image", (3, 32, 32), 10, tuple(str(c) for c in range(10)))


def step_flops(model: torch.nn.Module) -> tuple[float, float]:
    """(training step, forward) FLOPs per sample, counted on a batch of 2 in train mode."""
    torch.manual_seed(0)
    model.train()
    x, y = torch.rand(2, *INFO.input_shape), torch.tensor([1, 2])
    with FlopCounterMode(display=False) as fwd:
        out = model(x)
    logits = out if out.dim() == 2 else out.mean(0)  # a time-first output is read out over T
    loss = F.cross_entropy(logits, y)
    with FlopCounterMode(display=False) as bwd:
        loss.backward()
    f, b = fwd.get_total_flops() / 2, bwd.get_total_flops() / 2
    if f <= 0:
        raise RuntimeError(f"{type(model).__name__}: FlopCounterMode counted no FLOPs")
    return f + b, f


def render(tflops: list[float]) -> str:
    lines = [
        HEADING,
        "",
        f"{generated_by(COMMAND, tflops)}: "
        "FLOPs of each preset's models counted by PyTorch's `FlopCounterMode` (training step and forward "
        "pass, per sample, at the preset's T), times CIFAR-10's 50,000 training and 10,000 test images, "
        "divided by an assumed effective throughput. No GPU was available to measure. Neuron updates, "
        "batch norm, pooling and augmentation are element-wise work outside the count, and the small "
        "models (the flat MLP, the GRU) are bound by kernel launches rather than FLOPs: expect them "
        "to take longer than their figure, though still minutes. Per seed; every preset runs 3 seeds "
        "of each model.",
        "",
        "| preset | model | params | T | GFLOP / sample (train step) | PFLOP / epoch | epochs | "
        + minutes_columns(tflops) + " |",
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(tflops),
    ]
    for preset in PRESETS:
        exp = load_suite(preset).experiments[0]
        n_train, n_eval = split_sizes(TRAIN, TEST, exp.data.val_fraction)
        for m in exp.models:
            model, info = build_experiment_model(exp, m, INFO)
            train_step, forward = step_flops(model)
            epoch = train_step * n_train + forward * n_eval
            # T: an SNN's time steps; cifar10-line reads every model's image as 32 rows
            steps = m.kwargs.get("num_steps") or (32 if preset == "cifar10-line" else "-")
            cells = [preset, f"{m.name} ({m.type})", f"{info['params']:,}", str(steps),
                     f"{train_step / 1e9:.2f}"]
            lines.append(cost_row(cells, epoch, exp.train.epochs, tflops))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return cost_main(argv, description=__doc__.split("\n\n")[0], render=render, doc=DOC, section=SECTION,
                     title="CIFAR-10 presets")


if __name__ == "__main__":
    sys.exit(main())
