"""Render a report and open it in headless Chromium; save a screenshot.

    python scripts/check_report_chromium.py [RUN_DIR ...] [--out report.html] \
        [--screenshot docs/report_screenshot.png]

Without RUN_DIRs it first trains a small demo suite (digits: a feed-forward SNN, a
convolutional SNN, an MLP and a CNN, 2 seeds, a few epochs) into a temporary folder. Exits 1
if the page does not load, an image fails to decode or a script error occurs. Needs
``apt-get install -y chromium``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from snnbench.report import write_report
from snnbench.report.browser import check_in_chromium

DEMO = {
    "name": "report-demo",
    "seeds": [0, 1],
    "experiments": [{
        "name": "digits",
        "data": {"name": "digits"},
        "models": [
            {"name": "snn-ff", "type": "snn_ff", "hidden": [64], "kwargs": {"num_steps": 8}},
            {"name": "snn-conv", "type": "snn_conv", "hidden": [32],
             "kwargs": {"channels": [8], "kernel_size": 3, "num_steps": 8}},
            {"name": "mlp", "type": "mlp", "hidden": [64]},
            {"name": "cnn", "type": "cnn", "hidden": [32], "kwargs": {"channels": [8], "kernel_size": 3}},
        ],
        "train": {"epochs": 8, "batch_size": 64, "lr": 0.005},
    }],
}


def demo_run(base: Path) -> Path:
    from snnbench.experiments.config import validate_suite
    from snnbench.experiments.runner import prepare_run_dir, run_suite

    suite = validate_suite(DEMO)
    run_dir = prepare_run_dir(suite, base / "report-demo")
    run_suite(suite, run_dir, progress=True)
    return run_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, help="report path (default: RUN_DIR/report.html of the first run)")
    ap.add_argument("--screenshot", type=Path, default=Path("docs/report_screenshot.png"))
    ap.add_argument("--keep", type=Path, help="train the demo into this folder instead of a temporary one")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.run_dirs or [demo_run(args.keep or Path(tmp))]
        out = args.out or runs[0] / "report.html"
        write_report(runs, out)
        check = check_in_chromium(out, args.screenshot)
        print(f"{out}: {check.images_loaded}/{check.images_total} images decoded, "
              f"{len(check.errors)} script errors; screenshot {check.screenshot}")
        for e in check.errors:
            print("  error:", e)
        print(out.with_suffix(".md").read_text())
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
