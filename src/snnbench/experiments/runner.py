"""Run a suite: every experiment x model x seed, each in its own folder, resumable.

Layout of a run folder::

    RUN/config.yaml                      resolved suite config
    RUN/results.json, RUN/results.md     one row per (experiment, model), mean +- std over seeds
    RUN/log.txt
    RUN/<experiment>/<model>/seed<k>/
        metrics.jsonl                    one line per epoch
        checkpoint.safetensors           model, best model, optimizer, scheduler, history
        final.json                       test metrics of the finished run
    RUN/.lock                            pid of the process training the folder

Checkpoints and ``final.json`` record the config section that produced them
(:mod:`.identity`); run-folder rules (names, lock, failed starts) are in :mod:`.run_folder`.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..data import load_dataset
from ..learning import hooks
from ..learning.distributed import World, broadcast_object, wrap_model
from ..learning.trainer import build_optimizer, build_scheduler, evaluate, train_one_epoch
from ..metrics.verdict import at_or_below_floor, chance_accuracy, majority_accuracy
from ..models import build_model, count_parameters
from .checkpoint import atomic_write_json, atomic_write_text, load_checkpoint, save_checkpoint
from .config import ConfigError, ExperimentConfig, ModelConfig, SuiteConfig
from .identity import check_identity, config_section, identity, rebase_schedule
from .stats import mean_std  # noqa: F401  (re-exported for the result scripts)
from .run_folder import (  # noqa: F401  (prepare_run_dir, load_run_config: re-exported)
    CONFIG_FILE, check_run_folder, load_run_config, prepare_run_dir, read_final, seed_folder, validate_run_meta,
)
from .distributed import load_checkpoint_everywhere

log = logging.getLogger("snnbench")


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
    kwargs = exp.data.load_kwargs()
    key = (exp.data.name, json.dumps(kwargs, sort_keys=True, default=str), seed)
    if key not in cache:
        cache[key] = load_dataset(exp.data.name, seed=seed, **kwargs)
    return cache[key]


def _default_section(exp: ExperimentConfig, m: ModelConfig, seed: int, device: torch.device) -> dict[str, Any]:
    """The config identity of one model and seed when the caller gives none."""
    return {"data": exp.data.model_dump(mode="json"), "train": exp.train.model_dump(mode="json"),
            "model": m.model_dump(mode="json"), "seed": seed, "device": str(device)}


def _train_config(exp: ExperimentConfig, m: ModelConfig) -> Any:
    """The experiment's training settings with this model's own ``lr`` and ``train`` overrides
    (validated against TrainConfig with the config)."""
    cfg = exp.train if m.lr is None else exp.train.model_copy(update={"lr": m.lr})
    return cfg.model_copy(update=m.train) if m.train else cfg


@dataclass
class _Progress:
    """What a checkpoint carries between epochs of one model and seed."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None
    train_seconds: float = 0.0
    config_changes: list[dict[str, Any]] = field(default_factory=list)

    def meta(self, seed: int, model: str, ident: dict[str, Any]) -> dict[str, Any]:
        return {"history": self.history, "best_val": self.best_val, "best_epoch": self.best_epoch,
                "train_seconds": self.train_seconds, "seed": seed, "model": model,
                "config": ident, "config_changes": self.config_changes}


def _finished(final_path: Path, section: dict[str, Any], allow_config_change: Sequence[str], where: str,
              run_dir: str, world: World) -> RunResult | None:
    """The recorded result of a finished run (read by rank 0, handed to every process), or
    None when there is none or an allowed config change asks to continue it."""
    done = broadcast_object(read_final(final_path) if world.is_writer and final_path.is_file() else None, world)
    if done is None:
        return None
    if check_identity(done.get("config") or {}, section, allow_config_change, where, run_dir):
        log.info("%s: config changed since it finished (allowed); continuing from its checkpoint", where)
        return None
    try:
        return RunResult(**{k: done[k] for k in RunResult.__dataclass_fields__})
    except KeyError as err:
        raise ConfigError(f"{str(final_path)!r} lacks {err}; delete it to evaluate that run again") from None


def _restore(ckpt: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, cfg: Any, steps_per_epoch: int,
             *, m: ModelConfig, seed: int, section: dict[str, Any], ident: dict[str, Any],
             allow_config_change: Sequence[str], where: str, run_dir: str, world: World) -> tuple[_Progress, Any]:
    """Continue from ``ckpt`` when it exists: model, optimizer and scheduler state restored,
    the config identity checked (an allowed change is recorded and the learning-rate
    schedule rebased). Returns the progress so far and the scheduler to use."""
    restored = load_checkpoint_everywhere(ckpt, model, optimizer, scheduler, world)
    if restored is None:
        return _Progress(), scheduler
    meta, best_state = restored
    meta = validate_run_meta(meta, ckpt, m.name, seed)
    prog = _Progress(meta["history"], meta["best_val"], meta["best_epoch"], best_state, meta["train_seconds"],
                     meta["config_changes"])
    log.info("%s: resuming after epoch %d", where, len(prog.history))
    if world.is_writer:  # the checkpoint is the record: a kill between its write and the metrics' leaves them behind
        atomic_write_text(ckpt.parent / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in prog.history))
    if meta["config"].get("version") != ident["version"]:
        log.warning("%s: checkpoint written by snnbench %s, resumed by %s", where,
                    meta["config"].get("version"), ident["version"])
    changed = check_identity(meta["config"], section, allow_config_change, where, run_dir)
    if changed:
        prog.config_changes.append({"fields": changed, "after_epoch": len(prog.history),
                                    "from": meta["config"]["hash"], "to": ident["hash"]})
        log.warning("%s: allowed config change after epoch %d: %s", where, len(prog.history), ", ".join(changed))
        steps = [int(s["step"]) for s in optimizer.state.values() if "step" in s]
        scheduler = rebase_schedule(model, optimizer, cfg, steps_per_epoch, max(steps, default=0))
    return prog, scheduler


def _test_result(model: torch.nn.Module, exp: ExperimentConfig, m: ModelConfig, seed: int, data: Any, cfg: Any,
                 device: torch.device, param_info: dict[str, Any], prog: _Progress) -> RunResult:
    """Evaluate the finished model on the test split once and assemble its result."""
    if cfg.early_stopping and prog.best_state is not None:
        model.load_state_dict(prog.best_state)
    test, before = _final_test(model, data, cfg, seed, device)
    extra: dict[str, Any] = {k: v for k, v in param_info.items() if k != "params"}
    extra.update(before)
    if "spike_rates" in test:
        extra["spike_rates"] = test["spike_rates"]
    extra["test_loss"] = test["loss"]
    extra["dataset_source"] = getattr(data.info, "source", "")
    extra["predictions"] = test["predictions"].tolist()
    extra["labels"] = data.test.y.tolist()
    if prog.config_changes:
        extra["config_changes"] = prog.config_changes
    extra["majority_accuracy"] = majority_accuracy(data.train.y.numpy(), data.test.y.numpy())
    extra["chance_accuracy"] = chance_accuracy(data.info.num_classes)
    return RunResult(
        experiment=exp.name, dataset=data.info.name, model=m.name, model_type=m.type, seed=seed,
        params=param_info["params"], test_accuracy=test["accuracy"], train_seconds=prog.train_seconds,
        mean_spike_rate=test.get("mean_spike_rate"), epochs_run=len(prog.history), extra=extra,
    )


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
    section: dict[str, Any] | None = None,
    allow_config_change: Sequence[str] = (),
) -> RunResult:
    """Train one model with one seed into ``folder``; continue from its checkpoint if present.

    ``stop_after_epochs`` ends the call after that many epochs in total (tests of resume).
    ``section`` is the config identity recorded with the results; a checkpoint or result of
    another config is refused unless ``allow_config_change`` names every changed field. Under
    torchrun every process trains its share (DDP) and only rank 0 reads and writes ``folder``.
    """
    section = section if section is not None else _default_section(exp, m, seed, device)
    ident = identity(section)
    where, run_dir = f"{exp.name}/{m.name}/seed{seed}", str(folder.parent.parent.parent)
    world = World.current()
    if world.is_writer:
        folder.mkdir(parents=True, exist_ok=True)
    final_path = folder / "final.json"
    done = _finished(final_path, section, allow_config_change, where, run_dir, world)
    if done is not None:
        return done
    torch.manual_seed(seed)
    model, param_info = build_experiment_model(exp, m, data.info)
    model.to(device)
    cfg = _train_config(exp, m)
    steps_per_epoch = max(1, -(-len(data.train) // cfg.batch_size))
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
    ckpt = folder / "checkpoint.safetensors"
    prog, scheduler = _restore(ckpt, model, optimizer, scheduler, cfg, steps_per_epoch, m=m, seed=seed,
                               section=section, ident=ident, allow_config_change=allow_config_change,
                               where=where, run_dir=run_dir, world=world)
    net = wrap_model(model, device, world)  # DDP with several processes, else the model
    has_val = len(data.val) > 0
    while len(prog.history) < cfg.epochs:
        epoch = len(prog.history)
        if stop_after_epochs is not None and epoch >= stop_after_epochs:
            return RunResult(exp.name, data.info.name, m.name, m.type, seed, param_info["params"], float("nan"),
                             prog.train_seconds, None, epoch, {"interrupted": True})
        hooks.on_epoch_start(model, epoch, cfg.epochs)  # e.g. delay kernels narrow over training
        res = train_one_epoch(
            net, data.train, cfg, optimizer, scheduler, seed=seed, epoch=epoch, device=device,
            progress=progress, desc=f"{exp.name}/{m.name} s{seed} ep {epoch + 1}/{cfg.epochs}",
        )
        hooks.on_epoch_end(model, epoch, cfg.epochs)
        prog.train_seconds += res.seconds
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": res.loss, "train_accuracy": res.accuracy,
                               "seconds": res.seconds, "lr": optimizer.param_groups[0]["lr"]}
        if has_val:
            val = evaluate(model, data.val, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                           trim=cfg.trim_padding)
            row.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
            if val["accuracy"] > prog.best_val:
                prog.best_val, prog.best_epoch = val["accuracy"], epoch + 1
                prog.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        prog.history.append(row)
        log.info("%s epoch %d: %s", where, epoch + 1,
                 ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
        if world.is_writer:
            save_checkpoint(ckpt, model, optimizer, scheduler, prog.meta(seed, m.name, ident),
                            prog.best_state if cfg.early_stopping else None)
            atomic_write_text(folder / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in prog.history))
        if cfg.early_stopping and has_val and epoch + 1 - prog.best_epoch >= cfg.early_stopping:
            log.info("%s: early stop at epoch %d (best %d)", where, epoch + 1, prog.best_epoch)
            break

    result = _test_result(model, exp, m, seed, data, cfg, device, param_info, prog)
    if world.is_writer:
        atomic_write_json(final_path, {**result.__dict__, "config": ident})
    return result


def _final_test(model: torch.nn.Module, data: Any, cfg: Any, seed: int,
                device: torch.device) -> tuple[dict[str, Any], dict[str, float]]:
    """Test of the trained model in the final form its layers take (``finalize`` hooks, e.g.
    exact integer delays); returns it and ``{"test_accuracy_before_<change>": acc}``."""
    before: dict[str, float] = {}
    if hooks.has_hook(model, "finalize"):  # test before and after the layers' final form
        acc = evaluate(model, data.test, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                       trim=cfg.trim_padding)["accuracy"]
        before = {f"test_accuracy_before_{change}": acc for change in hooks.finalize(model)}
    test = evaluate(model, data.test, batch_size=cfg.eval_batch_size, seed=seed, device=device,
                    trim=cfg.trim_padding, record_activity=True)
    return test, before


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
            "task": exp, "dataset": rs[0].dataset, "dataset_source": rs[0].extra.get("dataset_source", ""),
            "model": model, "type": rs[0].model_type,
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
    """A Markdown table: task, dataset, model, params, test accuracy mean +- std, time, spike rate."""
    head = "| task | dataset | model | params | test acc. (%) | seeds | train time (s) | mean spike rate |"
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        rate = "-" if r["mean_spike_rate"] is None else f"{r['mean_spike_rate']:.3f}"
        flag = f" (at or below the majority class, {r['majority_accuracy']:.1f})" if r.get("below_majority") else ""
        lines.append(
            f"| {r['task']} | {r.get('dataset', '')} | {r['model']} ({r['type']}) | {r['params']:,} | "
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


def run_suite(
    suite: SuiteConfig,
    run_dir: Path,
    *,
    progress: bool = True,
    on_result: Callable[[RunResult], None] | None = None,
    stop_after_epochs: int | None = None,
    allow_config_change: Sequence[str] = (),
    cache: dict | None = None,
) -> list[dict[str, Any]]:
    """Train every (experiment, model, seed) of a surrogate-gradient suite into ``run_dir``;
    runs already finished there are read back, interrupted ones resume from their checkpoint.
    Every trained model of the folder is checked against ``suite`` before any work
    (:func:`.run_folder.check_run_folder`); ``cache`` holds data splits already loaded."""
    device = resolve_device(suite.device)
    writer = World.current().is_writer  # under torchrun only rank 0 reads and writes the run folder
    changes = check_run_folder(suite, run_dir, allow_config_change) if writer else {}
    handler = _attach_log(run_dir) if writer else logging.NullHandler()
    for where, fields in changes.items():
        log.warning("%s: config changed and allowed by --allow-config-change: %s", where, ", ".join(fields))
    results: list[RunResult] = []
    cache = {} if cache is None else cache
    try:
        for exp in suite.experiments:
            for m in exp.models:
                for seed in suite.seeds:
                    data = _load_split_cached(cache, exp, seed)
                    folder = seed_folder(run_dir, exp.name, m.name, seed)
                    r = train_model_seed(exp, m, seed, data, folder, device, progress=progress,
                                         stop_after_epochs=stop_after_epochs,
                                         section=config_section(suite, exp, m, seed),
                                         allow_config_change=allow_config_change)
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
        record: dict[str, Any] = {"suite": suite.name, "rows": rows}
        changed = [{"experiment": r.experiment, "model": r.model, "seed": r.seed, "changes": r.extra["config_changes"]}
                   for r in results if r.extra.get("config_changes")]
        if changed:
            record["config_changes"] = changed
        if writer:
            atomic_write_json(run_dir / "results.json", record)
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
    _, best = load_checkpoint(seed_folder(run_dir, exp.name, m.name, seed) / "checkpoint.safetensors", net)
    if exp.train.early_stopping and best is not None:
        net.load_state_dict(best)
    hooks.finalize(net)  # the reported test accuracy is the one of the final form
    net.eval()
    return net, data
