"""``snnbench tune``: the same hyper-parameter search budget for every model, choices made on
validation data only, then the chosen settings trained with several seeds and tested once.

For each experiment one Ray Tune search (``ray.tune.Tuner``) runs the trials of all its
models; behind it every model has its own Optuna TPE sampler (``OptunaSearch``) over its own
space (:mod:`snnbench.experiments.search_space`) and its own stopping rule (ASHA or the
median-stopping rule), and gets exactly the suite's number of trials
(:mod:`snnbench.experiments.tune_dispatch`). Every model of a suite gets the same
:class:`~snnbench.experiments.tune_config.TuneSettings`: trials, epochs per trial, scheduler
and grace period. A trial receives a :class:`TrialData` that holds the training split only
(one stratified validation split carved from it, or ``cv_folds`` folds of it): the test
split never leaves the driver process, so no trial can look at it. The chosen settings of
each model are then trained with the suite's seeds into an ordinary run folder
(``RUN/final``) and evaluated on test, once.

Layout of a tune folder::

    RUN/config.yaml                         the suite with its tune block
    RUN/tune/<experiment>/search/           Ray Tune's experiment (restored by --resume);
                                            one folder per trial, named <model>_<trial id>
    RUN/tune/<experiment>/<model>.json      budget, space, every trial (params, validation
                                            curve, status) and the chosen settings
    RUN/final/                              run folder of the chosen settings (all seeds)
    RUN/reference/<experiment>.json         reference classifiers (not parameter-matched)
    RUN/results.json, RUN/results.md        table with budgets, choices, floors and verdicts

The same command runs on a Ray cluster with ``--address``; on one machine it starts a local
Ray instance with ``workers`` CPUs (one trial per CPU, one torch thread per trial). The
trial actors start once per experiment and train every model's trials in turn.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..data import load_dataset
from ..data.splits import ArraySplit, DatasetInfo
from ..learning.trainer import build_optimizer, build_scheduler, evaluate, train_one_epoch
from ..metrics.verdict import task_verdicts
from ..synapses.delays import anneal_all
from .checkpoint import atomic_write_json, atomic_write_text
from .config import ConfigError, ExperimentConfig, ModelConfig, SuiteConfig
from .runner import CONFIG_FILE, build_experiment_model, load_run_config, prepare_run_dir, run_suite
from .search_space import apply_params, model_space, to_ray
from .tune_config import TuneSettings

log = logging.getLogger("snnbench")

METRIC = "val_accuracy"


@dataclass
class TrialData:
    """What a trial may see: ``(train, validation)`` pairs carved from the training split
    (one pair, or one per CV fold) and the dataset's info. There is no test split here."""

    folds: list[tuple[ArraySplit, ArraySplit]]
    info: DatasetInfo


def trial_data(exp: ExperimentConfig, settings: TuneSettings) -> TrialData:
    """Training-split-only data for the trials of ``exp``: a stratified validation split of
    ``settings.val_fraction`` (seeded by ``settings.seed``), or ``settings.cv_folds``
    stratified folds of the whole training split."""
    from sklearn.model_selection import StratifiedKFold

    kw = dict(root=exp.data.root, seed=settings.seed, **exp.data.options)
    if settings.cv_folds is None:
        d = load_dataset(exp.data.name, val_fraction=settings.val_fraction, **kw)
        folds = [(d.train, d.val)]
    else:
        d = load_dataset(exp.data.name, val_fraction=0.0, **kw)
        y = d.train.y.numpy()
        k = settings.cv_folds
        if np.bincount(y).min() < k:
            raise ConfigError(f"tune.cv_folds={k}: the smallest class of {exp.data.name!r} has only "
                              f"{np.bincount(y).min()} training samples; use fewer folds")
        skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=settings.seed)
        folds = [(d.train.subset(torch.as_tensor(tr)), d.train.subset(torch.as_tensor(va)))
                 for tr, va in skf.split(np.zeros(len(y)), y)]
    return TrialData(folds, d.info)  # d.test is dropped here, in the driver


def _model_with(exp: ExperimentConfig, m: ModelConfig) -> ExperimentConfig:
    return exp.model_copy(update={"models": [m if o.name == m.name else o for o in exp.models]})


def run_trial(
    params: dict[str, Any],
    *,
    experiment: dict[str, Any],
    model: str,
    data: TrialData,
    epochs: int,
    seed: int,
    report: Callable[[dict[str, Any]], None],
) -> None:
    """Train model ``model`` of ``experiment`` with the sampled ``params`` on every fold of
    ``data`` for ``epochs`` epochs, reporting the mean validation accuracy after each epoch
    (folds advance together, so a scheduler compares trials at equal epochs)."""
    exp = ExperimentConfig.model_validate(experiment)
    m = apply_params(exp, next(o for o in exp.models if o.name == model), params)
    exp_t = _model_with(exp, m)
    update: dict[str, Any] = {"epochs": epochs, "early_stopping": None, **m.train}
    if m.lr is not None:
        update["lr"] = m.lr
    cfg = exp.train.model_copy(update=update)
    runs = []
    for k, (train, val) in enumerate(data.folds):
        torch.manual_seed(seed + k)
        net, info = build_experiment_model(exp_t, m, data.info)
        opt = build_optimizer(net, cfg)
        sched = build_scheduler(opt, cfg, max(1, -(-len(train) // cfg.batch_size)))
        runs.append((net, opt, sched, train, val, info["params"]))
    device = torch.device("cpu")
    for epoch in range(epochs):
        accs, losses, seconds = [], [], 0.0
        for k, (net, opt, sched, train, val, _) in enumerate(runs):
            anneal_all(net, epoch, cfg.epochs)
            try:
                res = train_one_epoch(net, train, cfg, opt, sched, seed=seed + k, epoch=epoch,
                                      device=device, progress=False)
            except FloatingPointError:  # a diverged trial scores nothing and ends
                report({METRIC: 0.0, "val_loss": float("inf"), "epoch": epoch + 1, "diverged": 1, "model": model})
                return
            seconds += res.seconds
            ev = evaluate(net, val, batch_size=cfg.eval_batch_size, seed=seed + k, device=device,
                          trim=cfg.trim_padding)
            accs.append(ev["accuracy"])
            losses.append(ev["loss"])
        report({METRIC: statistics.fmean(accs), "val_loss": statistics.fmean(losses), "epoch": epoch + 1,
                "fold_accuracies": accs, "train_seconds": seconds, "params": runs[0][5], "diverged": 0,
                "model": model})


def _trainable(config: dict[str, Any], *, experiment, data, epochs, seed, threads) -> None:
    from ray import tune

    from .tune_dispatch import MODEL_KEY

    torch.set_num_threads(threads)
    params = {k: v for k, v in config.items() if k != MODEL_KEY}
    run_trial(params, experiment=experiment, model=config[MODEL_KEY], data=data, epochs=epochs, seed=seed,
              report=tune.report)


# Tests interrupt a search the way Ctrl+C does, after this many finished trials. Read at
# call time in the driver, because Ray pickles the callbacks with the experiment and a
# restored search must not be interrupted again.
_INTERRUPT_AFTER: dict[str, int | None] = {"trials": None}


def _interrupt_callback():
    import os
    import signal

    from ray.tune import Callback

    class _Interrupt(Callback):
        def __init__(self) -> None:
            self.finished = 0

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self.finished += 1
            limit = _INTERRUPT_AFTER["trials"]
            if limit is not None and self.finished >= limit:
                os.kill(os.getpid(), signal.SIGINT)  # Ray Tune saves its state and returns

    return _Interrupt()


def _scheduler(settings: TuneSettings, epochs: int):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, MedianStoppingRule

    grace = settings.grace_epochs(epochs)
    if settings.scheduler == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=epochs, grace_period=grace, reduction_factor=3)
    if settings.scheduler == "median":
        return MedianStoppingRule(time_attr="training_iteration", grace_period=grace, min_samples_required=3)
    return FIFOScheduler()


def budget_of(settings: TuneSettings, exp: ExperimentConfig) -> dict[str, Any]:
    """The search budget every model of ``exp`` gets (written beside each model's trials)."""
    epochs = settings.epochs or exp.train.epochs
    return {"trials": settings.trials, "epochs_per_trial": epochs,
            "scheduler": settings.scheduler, "grace_period": settings.grace_epochs(epochs),
            "cv_folds": settings.cv_folds, "val_fraction": None if settings.cv_folds else settings.val_fraction,
            "sampler": "optuna TPE", "startup_trials": settings.startup_trials(), "seed": settings.seed}


def _trials_of(grid, model: str) -> list[dict[str, Any]]:
    """The trials of ``model`` in a finished ``tuner.fit()``: parameters and validation curve."""
    from .tune_dispatch import MODEL_KEY

    trials = []
    for res in grid:
        if res.config.get(MODEL_KEY) != model:
            continue
        df = res.metrics_dataframe
        curve = [] if df is None else [
            {"epoch": int(r["epoch"]), METRIC: float(r[METRIC]), "val_loss": float(r["val_loss"])}
            for _, r in df.iterrows() if METRIC in r and r[METRIC] == r[METRIC]]
        trials.append({"trial_id": (res.metrics or {}).get("trial_id"),
                       "params": _plain({k: v for k, v in res.config.items() if k != MODEL_KEY}),
                       "curve": curve, "epochs_run": len(curve),
                       "final_val_accuracy": curve[-1][METRIC] if curve else None,
                       "error": None if res.error is None else str(res.error).splitlines()[0]})
    return trials


def _tuner(exp: ExperimentConfig, settings: TuneSettings, data: TrialData, folder: Path, workers: int,
           spaces: dict[str, dict[str, Any]]):
    """A new ``Tuner`` for every model of ``exp`` over its space in ``spaces``, or the one
    saved in ``folder``."""
    import optuna
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from .tune_dispatch import PerModelScheduler, PerModelSearcher, trial_dirname

    epochs = budget_of(settings, exp)["epochs_per_trial"]
    trainable = tune.with_resources(
        tune.with_parameters(_trainable, experiment=exp.model_dump(mode="json"), data=data, epochs=epochs,
                             seed=settings.seed, threads=1),
        {"cpu": 1},
    )
    # Ray registers a trainable under its name, once per cluster
    trainable.__name__ = f"trial_{exp.name}"
    if tune.Tuner.can_restore(str(folder.resolve())):
        log.info("%s: continuing the search in %s", exp.name, folder)
        return tune.Tuner.restore(str(folder.resolve()), trainable, resume_unfinished=True, resume_errored=True)
    searchers, verbosity = {}, optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per study created
    try:
        for m in exp.models:
            searchers[m.name] = OptunaSearch(
                space=OptunaSearch.convert_search_space(to_ray(spaces[m.name])), metric=METRIC, mode="max",
                sampler=optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=settings.startup_trials()))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=METRIC, mode="max", num_samples=settings.trials * len(exp.models),
            search_alg=ConcurrencyLimiter(PerModelSearcher(searchers, settings.trials, metric=METRIC, mode="max"),
                                          max_concurrent=max(1, workers)),
            scheduler=PerModelScheduler({m.name: _scheduler(settings, epochs) for m in exp.models}),
            reuse_actors=True,  # a worker imports torch once, not once per trial
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(name=folder.name, storage_path=str(folder.parent.resolve()), verbose=0,
                                  callbacks=[_interrupt_callback()]),
    )


def search_experiment(
    exp: ExperimentConfig,
    settings: TuneSettings,
    data: TrialData,
    folder: Path,
    *,
    workers: int = 1,
    stop_after_trials: int | None = None,
) -> list[dict[str, Any]] | None:
    """Run (or continue) the search of every model of ``exp``; write and return their records
    in model order (``None`` when ``stop_after_trials`` interrupted the search).

    One Ray Tune search (``folder / "search"``) runs the trials of all models on the same
    ``workers`` actors, which start once; each model gets ``settings.trials`` trials from its
    own Optuna TPE sampler and its own stopping rule (:mod:`.tune_dispatch`), so the budget and
    the choices stay per model."""
    paths = [folder / f"{m.name}.json" for m in exp.models]
    if all(p.is_file() for p in paths):
        return [json.loads(p.read_text()) for p in paths]
    legacy = [m.name for m, p in zip(exp.models, paths)
              if not p.is_file() and (folder / m.name).is_dir() and m.name != "search"]
    if legacy and not (folder / "search").exists():
        raise ConfigError(f"{folder}: unfinished searches of {legacy} in the layout of snnbench before one "
                          f"search per experiment; finish them with that version or start a new tune folder")
    budget = budget_of(settings, exp)
    epochs = budget["epochs_per_trial"]
    spaces = {m.name: model_space(exp, m, tuple(data.info.input_shape), settings.spaces.get(m.name))
              for m in exp.models}
    tuner = _tuner(exp, settings, data, folder / "search", workers, spaces)
    start, started_at = time.perf_counter(), time.time()
    _INTERRUPT_AFTER["trials"] = stop_after_trials
    try:
        grid = tuner.fit()
    finally:
        _INTERRUPT_AFTER["trials"] = None
    wall = time.perf_counter() - start
    records = []
    for m, path in zip(exp.models, paths):
        trials = _trials_of(grid, m.name)
        complete = [t for t in trials if t["final_val_accuracy"] is not None]
        if stop_after_trials is not None and len(trials) < settings.trials:
            return None
        if len(trials) < settings.trials or not complete:
            raise RuntimeError(f"{exp.name}/{m.name}: the search ended with {len(complete)} of {settings.trials} "
                               f"trials finished; continue it with 'snnbench tune --resume'")
        # the trial with the best validation accuracy at its last epoch (full-length trials
        # first: a trial the scheduler stopped early never saw the late epochs the final runs train)
        best = max(complete, key=lambda t: (t["epochs_run"] >= epochs, t["final_val_accuracy"]))
        records.append({"experiment": exp.name, "model": m.name, "type": m.type, "budget": budget,
                        "space": spaces[m.name],
                        "trials": trials, "chosen": {"params": best["params"], "val_accuracy": best["final_val_accuracy"],
                                                     "trial_id": best["trial_id"]},
                        "search_seconds": wall,  # of the experiment's search, which all its models share
                        "search_window": [started_at, started_at + wall]})  # seconds since the epoch
    for path, record in zip(paths, records):
        atomic_write_json(path, record)
    return records


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in d.items()}


def chosen_suite(suite: SuiteConfig, records: dict[tuple[str, str], dict[str, Any]]) -> SuiteConfig:
    """The suite with every model's chosen settings applied (what the final runs train)."""
    exps = []
    for exp in suite.experiments:
        models = [apply_params(exp, m, records[(exp.name, m.name)]["chosen"]["params"]) for m in exp.models]
        exps.append(exp.model_copy(update={"models": models}))
    data = suite.model_dump(mode="json")
    data["experiments"] = [e.model_dump(mode="json") for e in exps]
    data["tune"] = None
    return SuiteConfig.model_validate(data)


def init_ray(address: str | None, workers: int) -> None:
    """Connect to the cluster at ``address``, or start a local Ray instance with
    ``workers`` CPUs (no dashboard; worker logs stay out of the console)."""
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # a new instance of its own ("local"), never a cluster some other process started here
        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)


def prepare_tune_dir(suite: SuiteConfig, out: Path | None) -> Path:
    if suite.kind != "surrogate":
        raise ConfigError("snnbench tune searches surrogate-gradient suites; an STDP suite has no tune block")
    if suite.tune is None:
        suite.tune = TuneSettings()
    return prepare_run_dir(suite, out, base=Path("runs"))


def run_tune(
    run_dir: Path,
    *,
    address: str | None = None,
    workers: int = 1,
    references: bool = True,
    progress: bool = False,
    stop_after_trials: int | None = None,
) -> dict[str, Any] | None:
    """Search, then train the chosen settings of every model with every seed, then the
    reference classifiers; write the results table. Everything finished in ``run_dir`` is
    kept, so calling it again continues an interrupted run."""
    suite = load_run_config(run_dir)
    settings = suite.tune or TuneSettings()
    _check_spaces(suite, settings)
    init_ray(address, workers)
    records: dict[tuple[str, str], dict[str, Any]] = {}
    search_walls: dict[str, float] = {}
    for exp in suite.experiments:
        data = trial_data(exp, settings)
        (run_dir / "tune" / exp.name).mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        recs = search_experiment(exp, settings, data, run_dir / "tune" / exp.name, workers=workers,
                                 stop_after_trials=stop_after_trials)
        search_walls[exp.name] = time.perf_counter() - start
        if recs is None:
            return None
        for m, rec in zip(exp.models, recs):
            log.info("%s/%s: chose %s (validation %.3f)", exp.name, m.name, rec["chosen"]["params"],
                     rec["chosen"]["val_accuracy"])
            records[(exp.name, m.name)] = rec
    final = chosen_suite(suite, records)
    final_dir = run_dir / "final"
    if not (final_dir / CONFIG_FILE).is_file():
        prepare_run_dir(final, final_dir)
    rows = run_suite(final, final_dir, progress=progress)
    refs: dict[str, Any] = {}
    if references:
        from ..models.reference import reference_rows

        for exp in suite.experiments:
            path = run_dir / "reference" / f"{exp.name}.json"
            if path.is_file():
                refs[exp.name] = json.loads(path.read_text())
                continue
            d = load_dataset(exp.data.name, root=exp.data.root, val_fraction=settings.val_fraction,
                             seed=settings.seed, **exp.data.options)
            refs[exp.name] = reference_rows(d, seed=settings.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, refs[exp.name])
    finals = [json.loads(p.read_text()) for p in sorted(final_dir.glob("*/*/seed*/final.json"))]
    for r in rows:
        r["per_seed"] = ", ".join(f"{100 * f['test_accuracy']:.1f}" for f in sorted(finals, key=lambda f: f["seed"])
                                  if f["experiment"] == r["task"] and f["model"] == r["model"])
    verdicts = [v.as_dict() for v in task_verdicts(finals)]
    summary = {"suite": suite.name, "rows": rows, "tuning": {f"{e}/{m}": {"budget": r["budget"], "chosen": r["chosen"]}
                                                             for (e, m), r in records.items()},
               "verdicts": verdicts, "references": refs, "search_wall_seconds": search_walls}
    atomic_write_json(run_dir / "results.json", summary)
    atomic_write_text(run_dir / "results.md", f"# {suite.name} (tuned)\n\n{format_tuned(summary)}\n")
    return summary


def _check_spaces(suite: SuiteConfig, settings: TuneSettings) -> None:
    """Every override names a model, and every space builds, before any work."""
    names = {m.name for e in suite.experiments for m in e.models}
    unknown = sorted(set(settings.spaces) - names)
    if unknown:
        raise ConfigError(f"tune.spaces names no model: {unknown}; models: {sorted(names)}")
    for exp in suite.experiments:
        for m in exp.models:
            for name in settings.spaces.get(m.name, {}):
                model_space(exp, m, (1, 1, 1), {name: settings.spaces[m.name][name]})


def _fmt_params(p: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(p.items()))


def format_tuned(summary: dict[str, Any]) -> str:
    """Markdown: per model its tuned accuracy, budget and chosen settings, the task's floors,
    the verdicts and the reference rows."""
    lines = ["| task | model | params | test acc. (%) | per seed | trials x epochs | chosen (validation) | val acc. |",
             "|---|---|---:|---:|---|---|---|---:|"]
    for r in summary["rows"]:
        t = summary["tuning"].get(f"{r['task']}/{r['model']}", {})
        b, c = t.get("budget", {}), t.get("chosen", {})
        flag = " **at or below majority class**" if r.get("below_majority") else ""
        lines.append(f"| {r['task']} | {r['model']} ({r['type']}) | {r['params']:,} | "
                     f"{r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f}{flag} | {r.get('per_seed', '')} | "
                     f"{b.get('trials')} x {b.get('epochs_per_trial')} ({b.get('scheduler')}) | "
                     f"{_fmt_params(c.get('params', {}))} | {100 * c.get('val_accuracy', float('nan')):.1f} |")
    floors = {r["task"]: r for r in summary["rows"] if "majority_accuracy" in r}
    out = ["\n".join(lines), ""]
    for task, r in floors.items():
        out.append(f"- {task}: majority class {r['majority_accuracy']:.1f} %, chance {r['chance_accuracy']:.1f} %")
    for v in summary["verdicts"]:
        seeds = f"paired t over {v['seeds']} seeds p={v['p']:.3g}" if v["p"] is not None else "1 seed"
        if v["p"] == 0.0:  # a zero spread of the per-seed differences makes t infinite
            seeds += " (the same difference on every seed)"
        out.append(f"- verdict {v['snn']} vs {v['baseline']}: **{v['verdict']}** ({v['difference']:+.1f} pp, "
                   f"95 % CI [{v['ci_low']:+.1f}, {v['ci_high']:+.1f}], {seeds})")
    for task, refs in summary.get("references", {}).items():
        for ref in refs:
            if "skipped" in ref:
                out.append(f"- reference {task} / {ref['name']}: skipped ({ref['skipped']})")
                continue
            out.append(f"- reference (not parameter-matched) {task} / {ref['name']}: {100 * ref['test_accuracy']:.1f} % "
                       f"(chosen {_fmt_params(ref['chosen'])} on validation {100 * ref['val_accuracy']:.1f} %; "
                       f"fit {ref['fit_seconds']:.1f} s)")
    return "\n".join(out)

