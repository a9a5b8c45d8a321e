"""Ray for snnbench: start or join a cluster, what a trial asks for, where it writes, and
the one function every trial runs (a resumable run folder through the ordinary runner).

Kept small and free of sweep logic so that other searches (a Ray Tune ``Tuner`` with an
Optuna searcher, say) reuse it: ``init_ray``, ``trial_resources`` (the dict
``ray.remote``/``tune.with_resources`` take), ``trial_folder`` and ``run_trial``.

Ray is an optional extra (``pip install "snnbench[scale]"``); everything here imports it
lazily and says how to install it when it is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError, SuiteConfig

# A trial's run folder is SWEEP/<cell>/seed<k>/, itself an ordinary run folder.
RESULTS_FILE = "results.json"


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed; pip install \"snnbench[scale]\" (or run the sweep with --serial)") from None
    return ray


def init_ray(address: str | None = None, *, num_cpus: float | None = None, num_gpus: float | None = None) -> Any:
    """Join the cluster at ``address`` (``ray start --head`` printed it; ``auto`` finds a
    running one), or start a new local instance with ``num_cpus``/``num_gpus`` (default:
    what the machine has). Does nothing when this process is already connected."""
    ray = require_ray()
    if not ray.is_initialized():
        common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **common)
        else:
            kw: dict[str, Any] = {}
            if num_cpus is not None:
                kw["num_cpus"] = int(num_cpus)
            if num_gpus is not None:
                kw["num_gpus"] = int(num_gpus)
            ray.init(address="local", **kw, **common)
    return ray


def trial_resources(suite: SuiteConfig) -> dict[str, float]:
    """``{"num_cpus": .., "num_gpus": ..}`` for one trial of ``suite`` (``resources`` in its
    config; one GPU by default when ``device`` is cuda)."""
    gpus = suite.resources.gpus
    if gpus is None:
        gpus = 1.0 if suite.device == "cuda" else 0.0
    return {"num_cpus": float(suite.resources.cpus), "num_gpus": float(gpus)}


def trial_folder(sweep_dir: Path, cell: str, seed: int) -> Path:
    return Path(sweep_dir) / cell / f"seed{seed}"


def read_trial(folder: Path) -> list[dict[str, Any]] | None:
    """The result rows of a finished trial folder, None while unfinished."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())["rows"]


def run_trial(raw: dict[str, Any], folder: str, threads: int = 1, stop_after_epochs: int | None = None
              ) -> list[dict[str, Any]] | None:
    """Train one trial: the validated config ``raw`` into the run folder ``folder``, which
    is started, or resumed from its checkpoints when it exists (a retried or resumed trial
    continues where it stopped; a finished one is read back). Returns its result rows
    (None when ``stop_after_epochs`` interrupted it)."""
    import torch

    from .runner import load_run_config, prepare_run_dir
    from .suite import execute_suite
    from .config import validate_suite

    torch.set_num_threads(max(1, int(threads)))
    path = Path(folder)
    done = read_trial(path)
    if done is not None:
        return done
    if (path / "config.yaml").is_file():
        suite = load_run_config(path)
    else:
        suite = validate_suite(raw)
        prepare_run_dir(suite, path)
    if stop_after_epochs is not None and suite.kind == "surrogate":
        from .runner import run_suite

        rows = run_suite(suite, path, progress=False, stop_after_epochs=stop_after_epochs)
        return rows or None
    execute_suite(suite, path, progress=False)
    return read_trial(path)


@dataclass(frozen=True)
class Trial:
    """One cell x seed: its name, seed, validated config (as a mapping) and folder."""

    cell: str
    seed: int
    raw: dict[str, Any]
    folder: Path


def run_trials_ray(trials: list[Trial], resources: dict[str, float], *, stop_after_epochs: int | None = None,
                   max_retries: int = 3) -> Iterator[tuple[Trial, list[dict[str, Any]] | str | None]]:
    """Run ``trials`` as Ray tasks (each with ``resources``; Ray schedules them on the free
    CPUs/GPUs of the cluster and reruns a task whose worker died, up to ``max_retries``
    times: the rerun resumes the trial's folder). Yields ``(trial, rows)`` as they end; a trial
    that failed yields ``(trial, error text)`` and the others go on."""
    ray = require_ray()
    task = ray.remote(run_trial).options(max_retries=max_retries, retry_exceptions=False, **resources)
    threads = max(1, int(resources["num_cpus"]))
    pending = {task.remote(t.raw, str(t.folder), threads, stop_after_epochs): t for t in trials}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            trial = pending.pop(ref)
            try:
                rows = ray.get(ref)
            except Exception as err:  # the trial's own error, or its worker died too often
                text = str(err).strip()
                rows = f"{type(err).__name__}: {text.splitlines()[-1] if text else ''}"
            yield trial, rows


def run_trials_serial(trials: list[Trial], resources: dict[str, float], *, stop_after_epochs: int | None = None
                      ) -> Iterator[tuple[Trial, list[dict[str, Any]] | None]]:
    """The same trials one after another in this process (no Ray), with the same threads."""
    import torch

    before = torch.get_num_threads()
    try:
        for t in trials:
            yield t, run_trial(t.raw, str(t.folder), max(1, int(resources["num_cpus"])), stop_after_epochs)
    finally:
        torch.set_num_threads(before)
