"""Run a suite: every experiment x model x seed, each in its own folder, resumable.

Layout of a run folder::

    RUN/config.yaml                      resolved suite config
    RUN/results.json, RUN/results.md     one row per (experiment, model), mean +- std over seeds
    RUN/log.txt
    RUN/<experiment>/<model>/seed<k>/
        metrics.jsonl                    one line per epoch
        checkpoint.safetensors           model, best model, optimizer, scheduler, history
        final.json                       test metrics of the finished run
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from ..data import load_dataset
from ..learning.trainer import build_optimizer, build_scheduler, evaluate, train_one_epoch
from ..metrics.verdict import at_or_below_floor, chance_accuracy, majority_accuracy
from ..models import build_model, count_parameters
from ..synapses.delays import DelayedLinear, anneal_all, round_all_delays
from .checkpoint import atomic_write_json, atomic_write_text, load_checkpoint, save_checkpoint
from .config import ConfigError, ExperimentConfig, ModelConfig, SuiteConfig, validate_suite

log = logging.getLogger("snnbench")

CONFIG_FILE = "config.yaml"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but no CUDA device is available; use device=cpu or auto")
    return torch.device(name)


def _model_spec(m: ModelConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": m.type, **m.kwargs}
    if m.hidden is not None:
        spec["hidden"] = m.hidden if m.type not in ("gru", "lstm") or len(m.hidden) != 1 else m.hidden[0]
    return spec


def build_experiment_model(exp: ExperimentConfig, m: ModelConfig, info: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build one model of an experiment; a baseline with ``match`` is sized to its SNN."""
    if m.match is None:
        model = build_model(_model_spec(m), info)
        return model, {"params": count_parameters(model)}
    target = next(o for o in exp.models if o.name == m.match)
    spec = {"type": m.type, "match": _model_spec(target), "tolerance": m.match_tolerance, **m.kwargs}
    model = build_model(spec, info)
    return model, {"params": count_parameters(model), "matched_to": m.match, **model.match_info}


@dataclass
class RunResult:
    experiment: str
    dataset: str
    model: str
    model_type: str
    seed: int
    params: int
    test_accuracy: float
    train_seconds: float
    mean_spike_rate: float | None
    epochs_run: int
    extra: dict[str, Any] = field(default_factory=dict)


def _load_split_cached(cache: dict, exp: ExperimentConfig, seed: int):
    key = (exp.data.name, exp.data.root, exp.data.val_fraction, json.dumps(exp.data.options, sort_keys=True), seed)
    if key not in cache:
        cache[key] = load_dataset(
            exp.data.name, root=exp.data.root, val_fraction=exp.data.val_fraction, seed=seed, **exp.data.options
        )
    return cache[key]


def train_model_seed(
    exp: ExperimentConfig,
    m: ModelConfig,
    seed: int,
    data: Any,
    folder: Path,
    device: torch.device,
    *,
    progress: bool = True,
    stop_after_epochs: int | None = None,
) -> RunResult:
    """Train one model with one seed into ``folder``; continue from its checkpoint if present.

    ``stop_after_epochs`` ends the call early after that many epochs in total (used to test
    interruption and resume); the checkpoint then holds everything to continue.
    """
    folder.mkdir(parents=True, exist_ok=True)
    final_path = folder / "final.json"
    if final_path.is_file():
        done = json.loads(final_path.read_text())
        return RunResult(**done)

    torch.manual_seed(seed)
    model, param_info = build_experiment_model(exp, m, data.info)
    model.to(device)
    cfg = exp.train if m.lr is None else exp.train.model_copy(update={"lr": m.lr})
    if m.train:  # this model's own settings (validated against TrainConfig with the config)
        cfg = cfg.model_copy(update=m.train)
    steps_per_epoch = max(1, -(-len(data.train) // cfg.batch_size))
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)

    ckpt = folder / "checkpoint.safetensors"
    history: list[dict[str, Any]] = []
    best_val, best_epoch, best_state, train_seconds = -1.0, -1, None, 0.0
    if ckpt.is_file():
        meta, best_state = load_checkpoint(ckpt, model, optimizer, scheduler)
        history = meta["history"]
        best_val, best_epoch, train_seconds = meta["best_val"], meta["best_epoch"], meta["train_seconds"]
        log.info("%s/%s seed %d: resuming after epoch %d", exp.name, m.name, seed, len(history))

    has_val = len(data.val) > 0
    while len(history) < cfg.epochs:
        epoch = len(history)
        if stop_after_epochs is not None and epoch >= stop_after_epochs:
            return RunResult(exp.name, data.info.name, m.name, m.type, seed, param_info["params"], float("nan"),
                             train_seconds, None, epoch, {"interrupted": True})
        anneal_all(model, epoch, cfg.epochs)  # Gaussian delay kernels narrow over training
        res = train_one_epoch(
            model, data.train, cfg, optimizer, scheduler, seed=seed, epoch=epoch, device=device,
            progress=progress, desc=f"{exp.name}/{m.name} s{seed} ep {epoch + 1}/{cfg.epochs}",
        )
        train_seconds += res.seconds
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": res.loss, "train_accuracy": res.accuracy,
                               "seconds": res.seconds, "lr": optimizer.param_groups[0]["lr"]}
        if has_val:
            val = evaluate(model, data.val, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                           trim=cfg.trim_padding)
            row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
            if val["accuracy"] > best_val:
                best_val, best_epoch = val["accuracy"], epoch + 1
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(row)
        log.info("%s/%s seed %d epoch %d: %s", exp.name, m.name, seed, epoch + 1,
                 ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        meta = {"history": history, "best_val": best_val, "best_epoch": best_epoch,
                "train_seconds": train_seconds, "seed": seed, "model": m.name}
        save_checkpoint(ckpt, model, optimizer, scheduler, meta, best_state if cfg.early_stopping else None)
        atomic_write_text(folder / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        if cfg.early_stopping and has_val and epoch + 1 - best_epoch >= cfg.early_stopping:
            log.info("%s/%s seed %d: early stop at epoch %d (best %d)", exp.name, m.name, seed, epoch + 1, best_epoch)
            break

    if cfg.early_stopping and best_state is not None:
        model.load_state_dict(best_state)
    has_delays = any(isinstance(mod, DelayedLinear) for mod in model.modules())
    if has_delays:  # report accuracy with Gaussian kernels, then with exact integer delays
        before = evaluate(model, data.test, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                          trim=cfg.trim_padding)
        round_all_delays(model)
    test = evaluate(model, data.test, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                    trim=cfg.trim_padding, record_activity=True)
    extra: dict[str, Any] = {k: v for k, v in param_info.items() if k != "params"}
    if has_delays:
        extra["test_accuracy_before_rounding"] = before["accuracy"]
    if "spike_rates" in test:
        extra["spike_rates"] = test["spike_rates"]
    extra["test_loss"] = test["loss"]
    extra["predictions"] = test["predictions"].tolist()
    extra["labels"] = data.test.y.tolist()
    extra["majority_accuracy"] = majority_accuracy(data.train.y.numpy(), data.test.y.numpy())
    extra["chance_accuracy"] = chance_accuracy(data.info.num_classes)
    result = RunResult(
        experiment=exp.name, dataset=data.info.name, model=m.name, model_type=m.type, seed=seed,
        params=param_info["params"], test_accuracy=test["accuracy"], train_seconds=train_seconds,
        mean_spike_rate=test.get("mean_spike_rate"), epochs_run=len(history), extra=extra,
    )
    atomic_write_json(final_path, result.__dict__)
    return result


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (std 0 for one seed, nan for none)."""
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per (experiment, model): accuracy mean/std over seeds and the rest."""
    rows: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        rows.setdefault((r.experiment, r.model), []).append(r)
    out = []
    for (exp, model), rs in rows.items():
        acc_m, acc_s = mean_std([100 * r.test_accuracy for r in rs])
        rates = [r.mean_spike_rate for r in rs if r.mean_spike_rate is not None]
        out.append({
            "task": exp, "dataset": rs[0].dataset, "model": model, "type": rs[0].model_type,
            "params": rs[0].params, "seeds": len(rs),
            "accuracy_mean": acc_m, "accuracy_std": acc_s,
            "train_seconds_mean": statistics.fmean(r.train_seconds for r in rs),
            "mean_spike_rate": statistics.fmean(rates) if rates else None,
            "epochs": rs[0].epochs_run,
        })
        majority = rs[0].extra.get("majority_accuracy")
        if majority is not None:  # runs written before the floors were recorded have none
            out[-1]["majority_accuracy"] = 100 * majority
            out[-1]["chance_accuracy"] = 100 * rs[0].extra["chance_accuracy"]
            out[-1]["below_majority"] = at_or_below_floor(acc_m / 100, majority)
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: task, model, params, test accuracy mean +- std, time, spike rate."""
    head = "| task | model | params | test acc. (%) | seeds | train time (s) | mean spike rate |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        rate = "-" if r["mean_spike_rate"] is None else f"{r['mean_spike_rate']:.3f}"
        flag = f" (at or below the majority class, {r['majority_accuracy']:.1f})" if r.get("below_majority") else ""
        lines.append(
            f"| {r['task']} | {r['model']} ({r['type']}) | {r['params']:,} | "
            f"{r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f}{flag} | {r['seeds']} | "
            f"{r['train_seconds_mean']:.1f} | {rate} |"
        )
    return "\n".join(lines)


def _attach_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def prepare_run_dir(suite: SuiteConfig, out: Path | None, base: Path = Path("runs")) -> Path:
    """A new, empty run folder with the resolved config written into it."""
    if out is None:
        out = base / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"run folder {str(out)!r} exists and is not empty; pick another --out or use --resume {out}")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG_FILE, yaml.safe_dump(suite.model_dump(mode="json"), sort_keys=False))
    return out


def load_run_config(run_dir: Path) -> SuiteConfig:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a snnbench run folder (no {CONFIG_FILE}); nothing to resume")
    return validate_suite(yaml.safe_load(path.read_text()))


def run_suite(
    suite: SuiteConfig,
    run_dir: Path,
    *,
    progress: bool = True,
    on_result: Callable[[RunResult], None] | None = None,
    stop_after_epochs: int | None = None,
) -> list[dict[str, Any]]:
    """Train every (experiment, model, seed) of a surrogate-gradient suite into ``run_dir``;
    runs already finished there are read back, interrupted ones resume from their checkpoint."""
    device = resolve_device(suite.device)
    handler = _attach_log(run_dir)
    results: list[RunResult] = []
    cache: dict = {}
    try:
        for exp in suite.experiments:
            for m in exp.models:
                for seed in suite.seeds:
                    data = _load_split_cached(cache, exp, seed)
                    folder = run_dir / exp.name / m.name / f"seed{seed}"
                    r = train_model_seed(exp, m, seed, data, folder, device, progress=progress,
                                         stop_after_epochs=stop_after_epochs)
                    if r.extra.get("interrupted"):
                        return []
                    results.append(r)
                    if on_result is not None:
                        on_result(r)
        rows = summarise(results)
        for r in rows:
            if r.get("below_majority"):
                log.warning("%s/%s: test accuracy %.1f %% is at or below the majority class (%.1f %%): "
                            "it has learnt nothing usable; no claim is made for it",
                            r["task"], r["model"], r["accuracy_mean"], r["majority_accuracy"])
        atomic_write_json(run_dir / "results.json", {"suite": suite.name, "rows": rows})
        atomic_write_text(run_dir / "results.md", f"# {suite.name}\n\n{format_table(rows)}\n")
        return rows
    finally:
        log.removeHandler(handler)
        handler.close()


def load_trained_model(run_dir: Path, experiment: str, model: str, seed: int) -> tuple[torch.nn.Module, Any]:
    """Rebuild a trained model of a run folder from its config and checkpoint (the final
    weights, or the best ones when early stopping was on), with its dataset splits."""
    suite = load_run_config(run_dir)
    exp = next((e for e in suite.experiments if e.name == experiment), None)
    if exp is None:
        raise ConfigError(f"run {str(run_dir)!r} has no experiment {experiment!r}")
    m = next((o for o in exp.models if o.name == model), None)
    if m is None:
        raise ConfigError(f"experiment {experiment!r} has no model {model!r}")
    data = _load_split_cached({}, exp, seed)
    torch.manual_seed(seed)
    net, _ = build_experiment_model(exp, m, data.info)
    _, best = load_checkpoint(run_dir / exp.name / m.name / f"seed{seed}" / "checkpoint.safetensors", net)
    if exp.train.early_stopping and best is not None:
        net.load_state_dict(best)
    round_all_delays(net)  # the reported test accuracy is the one with exact integer delays
    net.eval()
    return net, data
