"""Run folders: creation, reading back, the paths inside them, and what a failed start leaves.

Guarantees (tested in ``tests/experiments/test_run_folder.py`` and ``test_fault_injection.py``):

- names that become folder names are ``[A-Za-z0-9_.-]`` (config schema) and every folder a
  run writes is checked to lie inside the run folder (:func:`seed_folder`);
- a new run folder is created and locked (:mod:`.lock`) only after the whole config has been
  validated; if the run then fails or is interrupted before anything was trained, what it
  created is removed (:func:`discard_if_untrained`);
- ``config.yaml`` that cannot be read gets a one-line error naming the file and the fix;
- on resume, temporary files that killed writes left behind are removed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._files import TEMP_NAME, atomic_write_text, path_inside, remove_temp_files
from .config import ConfigError, SuiteConfig, _read_file, validate_suite
from .lock import LOCK_FILE, RunLock

CONFIG_FILE = "config.yaml"
LOG_FILE = "log.txt"
# what a run writes before its first epoch finishes: removing these loses no work
_START_FILES = {CONFIG_FILE, LOG_FILE, LOCK_FILE}


def seed_folder(run_dir: Path, experiment: str, model: str, seed: int) -> Path:
    """``RUN/<experiment>/<model>/seed<k>``, refused if it would lie outside ``RUN``."""
    try:
        return path_inside(run_dir, experiment, model, f"seed{int(seed)}")
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file, not a folder; name a new folder for the run")
    # a lock and the temporary files of a start killed while writing config.yaml are no work
    if out.is_dir() and any(p.name != LOCK_FILE and not TEMP_NAME.fullmatch(p.name) for p in out.iterdir()):
        raise ConfigError(f"run folder {str(out)!r} exists and is not empty; pick another --out or use --resume {out}")


def prepare_run_dir(suite: SuiteConfig, out: Path | None, base: Path = Path("runs")) -> Path:
    """A new, empty run folder with the resolved config written into it (no lock taken:
    see :func:`start_run_dir`)."""
    if out is None:
        out = base / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    write_run_config(suite, out)
    return out


def write_run_config(suite: SuiteConfig, run_dir: Path) -> None:
    atomic_write_text(run_dir / CONFIG_FILE, yaml.safe_dump(suite.model_dump(mode="json"), sort_keys=False))


def start_run_dir(suite: SuiteConfig, out: Path | None, base: Path = Path("runs")) -> tuple[Path, RunLock, bool]:
    """Create and lock a new run folder: ``(run_dir, held lock, whether the folder was
    created here)``. The folder is locked before it is checked for emptiness, so two
    processes started on one ``--out`` cannot both start."""
    if out is None:
        out = base / f"{suite.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file, not a folder; name a new folder for the run")
    created = not out.exists()
    lock = RunLock(out).acquire()
    try:
        _check_out(out)
        remove_temp_files(out)
        write_run_config(suite, out)
    except BaseException:
        lock.release()
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return out, lock, created


def trained_anything(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds any file beyond what a run writes before its first epoch."""
    for p in run_dir.rglob("*"):
        if p.is_file() and not (p.parent == run_dir and p.name in _START_FILES) and not p.name.endswith(".tmp"):
            return True
    return False


def discard_if_untrained(run_dir: Path, created: bool) -> bool:
    """After a failed start: remove what the run created if nothing was trained (the whole
    folder if this run created it, else its contents). Return whether it was removed."""
    if not run_dir.is_dir() or trained_anything(run_dir):
        return False
    if created:
        shutil.rmtree(run_dir)
    else:
        for p in run_dir.iterdir():
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    return True


def read_run_config_raw(run_dir: Path) -> dict[str, Any]:
    """The raw mapping of ``RUN/config.yaml``; one-line errors for a missing folder or file,
    a file that is not UTF-8 or does not parse."""
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {str(run_dir)!r} does not exist or is not a folder; name a snnbench run folder")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a snnbench run folder (no {CONFIG_FILE}); nothing to resume")
    return _read_file(path)


def load_run_config(run_dir: Path) -> SuiteConfig:
    """The validated suite config of a run folder."""
    try:
        return validate_suite(read_run_config_raw(run_dir))
    except ConfigError as err:
        if str(err).startswith("invalid configuration"):
            raise ConfigError(f"{run_dir / CONFIG_FILE}: {err}") from None
        raise


def read_final(path: Path) -> dict[str, Any]:
    """A ``final.json``, with a one-line error if it cannot be read back."""
    try:
        done = json.loads(path.read_text())
        if not isinstance(done, dict):
            raise ValueError("not a mapping")
        return done
    except (ValueError, OSError) as err:
        raise ConfigError(
            f"{str(path)!r} is corrupt ({type(err).__name__}: {err}); delete it to evaluate that run again"
        ) from None


class _History(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=True)
    epoch: int = Field(ge=1)


class _RunMeta(BaseModel):
    """Schema of the run-specific metadata of ``checkpoint.safetensors``."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=True)
    history: list[_History]
    best_val: float
    best_epoch: int
    train_seconds: float = Field(ge=0)
    seed: int
    model: str
    config: dict[str, Any]
    config_changes: list[dict[str, Any]] = Field(default_factory=list)


def validate_run_meta(meta: dict[str, Any], path: Path, model: str, seed: int) -> dict[str, Any]:
    """Check a run checkpoint's metadata against its schema and against the folder it is in."""
    try:
        _RunMeta.model_validate(meta)
    except ValidationError as err:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(
            f"checkpoint {str(path)!r} is corrupt or not a snnbench checkpoint (metadata off its schema: {where}); "
            "delete it to restart that run from scratch"
        ) from None
    if meta["model"] != model or meta["seed"] != seed:
        raise ConfigError(
            f"checkpoint {str(path)!r} belongs to model {meta['model']!r} seed {meta['seed']}, not {model!r} seed {seed}; "
            "delete it to restart that run from scratch"
        )
    if [r["epoch"] for r in meta["history"]] != list(range(1, len(meta["history"]) + 1)):
        raise ConfigError(f"checkpoint {str(path)!r} is corrupt (its epoch history is out of order); delete it to restart")
    return meta


def recorded_identity(folder: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """The config identity recorded in a seed folder (``final.json`` first, then the
    checkpoint's header) and the file it came from; ``(None, None)`` when nothing is recorded."""
    from .checkpoint import read_metadata

    for name in ("final.json", "checkpoint.safetensors"):
        path = folder / name
        if path.is_file():
            record = read_final(path) if name == "final.json" else read_metadata(path)
            ident = record.get("config")
            if not isinstance(ident, dict) or "hash" not in ident:
                raise ConfigError(
                    f"{str(path)!r} records no config identity (written by an older snnbench or edited); "
                    "delete it to restart that run, or start a new run folder"
                )
            return ident, path
    return None, None


def check_run_folder(suite: SuiteConfig, run_dir: Path, allow: Sequence[str] = ()) -> dict[str, list[str]]:
    """Compare every trained (experiment, model, seed) of ``run_dir`` with ``suite`` before any
    work: raise naming the changed fields unless ``allow`` covers them; return the allowed
    changes by ``experiment/model/seed<k>``. Models with nothing recorded take any config."""
    from .identity import check_identity, config_section

    out: dict[str, list[str]] = {}
    errors = []
    for exp in suite.experiments if suite.kind == "surrogate" else []:
        for m in exp.models:
            for seed in suite.seeds:
                folder = seed_folder(run_dir, exp.name, m.name, seed)
                ident, _ = recorded_identity(folder)
                if ident is None:
                    continue
                where = f"{exp.name}/{m.name}/seed{seed}"
                try:
                    changed = check_identity(ident, config_section(suite, exp, m, seed), allow, where, str(run_dir))
                except ConfigError as err:
                    errors.append(str(err))
                    continue
                if changed:
                    out[where] = changed
    if suite.kind == "stdp":
        errors += _check_stdp_cells(suite, run_dir, allow, out)
    if errors:
        more = f" (and {len(errors) - 1} more model(s) alike)" if len(errors) > 1 else ""
        raise ConfigError(errors[0] + more)
    return out


def _check_stdp_cells(suite: SuiteConfig, run_dir: Path, allow: Sequence[str], out: dict[str, list[str]]) -> list[str]:
    """STDP cells: a finished cell (``metrics.json``) is read back on resume, so its recorded
    ``config.json`` must match the cell the config resolves to now (fields named ``stdp.*``).
    An allowed change keeps the finished cell's results as they are (cells are not retrained)."""
    from .identity import check_identity, section_hash
    from .stdp_runner import build_stdp_configs

    errors = []
    for name, cfg in build_stdp_configs(dict(suite.stdp or {}), suite.seeds):
        try:
            folder = path_inside(run_dir, name, f"seed{cfg.seed}")
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if not (folder / "metrics.json").is_file() or not (folder / "config.json").is_file():
            continue  # unfinished cells run again from their start with the current config
        old = {"stdp": read_final(folder / "config.json")}
        new = {"stdp": json.loads(json.dumps(cfg.model_dump(mode="json")))}
        where = f"{name}/seed{cfg.seed}"
        try:
            changed = check_identity({"hash": section_hash(old), "section": old}, new, allow, where, str(run_dir))
        except ConfigError as err:
            errors.append(str(err))
            continue
        if changed:
            out[where] = changed
    return errors
