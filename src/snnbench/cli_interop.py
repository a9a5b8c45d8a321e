"""``snnbench predict`` and ``snnbench export``: a trained model out of its run folder.

``snnbench predict RUN_DIR INPUT [--out preds.csv]`` classifies raw samples with the run's
preprocessing: ``.npy`` (an array of samples), ``.npz`` (``x``, optional ``lengths`` and
``y``), ``.csv`` (one flattened sample per row; a header column ``label`` or ``y`` holds
labels) or, for FSDD runs, a folder of ``.wav`` files. It writes one CSV row per sample:
``index, predicted, class, p_<class>...`` (and ``label`` when given), and prints the
accuracy when labels are known.

``snnbench export RUN_DIR --format nir OUT.nir`` writes the network as a NIR graph
(:mod:`snnbench.interop.nir`).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _read_input(path: Path, model: Any) -> tuple[Any, Any, np.ndarray | None, list[str]]:
    """``(x, lengths, labels, names)`` of an input file or wav folder."""
    if not path.exists():
        raise FileNotFoundError(f"input {str(path)!r} does not exist")
    if path.is_dir():
        return _read_wavs(path, model)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = np.load(path, allow_pickle=False)
        return x, None, None, [str(i) for i in range(len(x))]
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            key = "x" if "x" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise ValueError(f"{str(path)!r} holds arrays {keys}; name the samples 'x' (and labels 'y')")
            x = z[key]
            lengths = z["lengths"] if "lengths" in keys else None
            y = z["y"].astype(np.int64) if "y" in keys else None
        return x, lengths, y, [str(i) for i in range(len(x))]
    if suffix == ".csv":
        text = path.read_text()
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            raise ValueError(f"{str(path)!r} is empty")
        header = None
        try:
            [float(v) for v in rows[0] if v.strip()]
        except ValueError:
            header, rows = rows[0], rows[1:]
        label_col = None
        if header is not None:
            for name in ("label", "y"):
                if name in header:
                    label_col = header.index(name)
        try:
            data = np.array([[float(v) if v.strip() else np.nan for v in r] for r in rows if r], dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"{str(path)!r} holds a value that is not a number ({err})") from None
        y = None
        if label_col is not None:
            y = data[:, label_col].astype(np.int64)
            data = np.delete(data, label_col, axis=1)
        prep = model.preprocessing
        if prep.kind == "timeseries":  # one flattened [L * C] series per row
            c = prep.input_shape[1]
            if data.shape[1] % c:
                raise ValueError(f"CSV rows have {data.shape[1]} values, not a multiple of the {c} channels; "
                                 f"this model expects {prep.expected}")
            x = data.reshape(len(data), -1, c)
        else:
            x = data
        return x, None, y, [str(i) for i in range(len(x))]
    raise ValueError(f"input {str(path)!r}: use .npy, .npz, .csv or a folder of .wav files")


def _read_wavs(folder: Path, model: Any) -> tuple[list[np.ndarray], None, np.ndarray | None, list[str]]:
    """Log-mel features of every ``.wav`` in ``folder`` with the run's FSDD options."""
    from .data.audio import log_mel_spectrogram, read_wav
    from .experiments.runner import load_run_config

    src = model.source
    if src.get("dataset") != "fsdd":
        raise ValueError(f"a folder of wav files fits FSDD log-mel runs; this model was trained on {src.get('dataset')!r}")
    exp = next(e for e in load_run_config(Path(src["run_dir"])).experiments if e.name == src["experiment"])
    opts = dict(exp.data.options)
    if opts.get("features", "logmel") != "logmel":
        raise ValueError(f"wav input needs features='logmel'; this run used {opts.get('features')!r}")
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no .wav files in {str(folder)!r}")
    feats, labels = [], []
    for f in files:
        samples, rate = read_wav(f)
        feats.append(log_mel_spectrogram(samples, rate, int(opts.get("n_mels", 40)), win_ms=float(opts.get("win_ms", 25.0)),
                                         hop_ms=float(opts.get("hop_ms", 10.0))).numpy())
        head = f.name.split("_")[0]
        labels.append(int(head) if head.isdigit() else -1)
    y = np.array(labels) if all(v >= 0 for v in labels) else None
    return feats, None, y, [f.name for f in files]


def _cmd_predict(args: argparse.Namespace) -> int:
    from .experiments.trained import load

    model = load(args.run_dir, experiment=args.experiment, model=args.model, seed=args.seed)
    x, lengths, y, names = _read_input(Path(args.input), model)
    pred = model.predict(x, lengths, return_activity=False)
    proba = model.predict_proba(x, lengths)
    cls = model.class_names
    if y is not None and len(y) != len(pred):
        raise ValueError(f"{len(y)} labels for {len(pred)} samples")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["sample", "predicted", "class", *(f"p_{c}" for c in cls), *(["label"] if y is not None else [])])
    for i, (n, p) in enumerate(zip(names, pred)):
        w.writerow([n, int(p), cls[int(p)], *(f"{v:.6g}" for v in proba[i]), *([int(y[i])] if y is not None else [])])
    if args.out:
        from ._files import atomic_write_text

        atomic_write_text(Path(args.out), out.getvalue())
    else:
        sys.stdout.write(out.getvalue())
    msg = f"{len(pred)} samples"
    if y is not None:
        msg += f", accuracy {float((pred == y).mean()):.6f} ({int((pred == y).sum())}/{len(y)})"
    print(msg + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .experiments.trained import load

    if args.format != "nir":
        raise ValueError(f"--format {args.format!r} is not supported; use nir")
    out = Path(args.out)
    if out.suffix.lower() != ".nir":
        raise ValueError(f"output {str(out)!r} should end in .nir")
    from .interop import nir as snn_nir

    model = load(args.run_dir, experiment=args.experiment, model=args.model, seed=args.seed)
    graph = snn_nir.export(model, soft_reset="metadata" if args.soft_reset_metadata else "error")
    out.parent.mkdir(parents=True, exist_ok=True)
    snn_nir.write(out, graph)
    print(f"NIR graph with {len(graph.nodes)} nodes -> {out}")
    return 0


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder (or its RUN/<experiment>/<model>/seed<k> folder)")
    p.add_argument("--experiment", help="experiment of the run (when it has several)")
    p.add_argument("--model", help="model of the experiment (when it has several)")
    p.add_argument("--seed", type=int, help="seed (when the run has several)")


def register(sub: Any) -> None:
    """Add the ``predict`` and ``export`` subcommands to the CLI's subparsers."""
    p = sub.add_parser("predict", help="classify raw samples (.npy/.npz/.csv, or wavs) with a trained model")
    _selection(p)
    p.add_argument("input", metavar="INPUT", help=".npy, .npz (x, lengths, y), .csv, or a folder of .wav files")
    p.add_argument("--out", help="CSV file for the predictions (default: standard output)")
    p.set_defaults(func=_cmd_predict)

    e = sub.add_parser("export", help="write a trained model's network as a NIR graph")
    _selection(e)
    e.add_argument("--format", default="nir", help="nir (the only format for now)")
    e.add_argument("out", metavar="OUT", help="output file, e.g. model.nir")
    e.add_argument("--soft-reset-metadata", action="store_true",
                   help="export subtractive resets as LIF nodes marked {'reset': 'subtract'} (read by snnbench only)")
    e.set_defaults(func=_cmd_export)
