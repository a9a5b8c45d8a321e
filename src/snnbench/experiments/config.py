"""Typed experiment configuration (pydantic), loaded from YAML/TOML or a named preset.

A *suite* is what one ``snnbench run`` executes: one or more experiments, each one dataset
with several models (an SNN and the baselines matched to it) trained with the same budget,
over several seeds. Everything is validated before any work starts; an invalid value gets
an error naming the field, the value and what is allowed.
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer,
    model_validator,
)

from .._files import check_path_name

from .errors import ConfigError

from .tune_config import TuneSettings

ModelType = Literal["snn_ff", "snn_conv", "snn_rec", "snn_delay", "mlp", "cnn", "gru", "lstm",
                    "cnn1d", "snn_vgg", "snn_resnet", "vgg", "resnet", "snn_mlp", "snn_delay_mlp"]
SNN_TYPES = ("snn_ff", "snn_conv", "snn_rec", "snn_delay", "snn_vgg", "snn_resnet", "snn_mlp", "snn_delay_mlp")




def _path_name(v: str) -> str:
    return check_path_name("name", v)


# experiment, model and suite names become folder names of the run folder
PathName = Annotated[str, AfterValidator(_path_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(_Strict):
    """Which dataset and split; see ``snnbench list`` for names and the README's "Your own
    data" for sources (``sklearn:``, ``ucr:``, ``file:``, ``tonic:``)."""

    name: str = "digits"
    root: str | None = Field(None, description="data folder for file-based sets (fsdd, wisdm, mnist, ...)")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9)
    options: dict[str, Any] = Field(default_factory=dict, description="extra loader options")
    kind: Literal["tabular", "series", "image"] | None = Field(
        None, description="the kind of data this config is for; a dataset of another kind is refused, "
        "and a file's 3-D arrays are read as images with 'image'"
    )
    label: str | None = Field(None, description="label column of a .csv/.parquet file (default 'label')")
    series_id: str | None = Field(None, description="series column of a long-format table")
    time: str | None = Field(None, description="time column of a long-format table")
    download: bool = Field(False, description="fetch a downloadable set into the data folder when missing")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        from ..data import list_datasets

        names = list_datasets()
        prefixes = ("ucr:", "sklearn:", "file:", "tonic:")
        if v.lower() not in names and not v.lower().startswith(prefixes):
            hint = f" (did you mean 'sklearn:{v.lower()}'?)" if v.lower() in ("wine", "breast_cancer") else ""
            raise ValueError(
                f"unknown dataset {v!r}{hint}; allowed: {sorted(names)} or a source 'sklearn:<name>', "
                "'ucr:<UEA/UCR name>', 'file:<path>', 'tonic:<Name>'"
            )
        if v.lower().startswith("file:") and v[5:].strip():
            # absolute, so that --resume from another folder reads the same file
            v = "file:" + str(Path(v[5:].strip()).expanduser().resolve())
        return v

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`snnbench.data.load_dataset` besides name and seed."""
        kw: dict[str, Any] = {"root": self.root, "val_fraction": self.val_fraction, **self.options}
        for key in ("label", "series_id", "time"):
            if getattr(self, key) is not None:
                kw[key] = getattr(self, key)
        if self.kind is not None:
            kw["kind"] = self.kind
        if self.download:
            kw["download"] = True
        return kw


class ModelConfig(_Strict):
    """One model of an experiment. ``match`` names an SNN of the same experiment whose
    trainable-parameter count this baseline is sized to (within ``match_tolerance``)."""

    name: PathName
    type: ModelType
    hidden: list[int] | None = Field(None, description="layer widths (GRU/LSTM: units per layer)")
    match: str | None = None
    match_tolerance: float = Field(0.05, gt=0, lt=1)
    kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to the model builder")
    lr: float | None = Field(
        None, gt=0, description="learning rate of this model (default: the experiment's train.lr), "
        "so that an SNN and its baseline can each be tuned"
    )
    train: dict[str, Any] = Field(
        default_factory=dict, description="this model's overrides of the experiment's train settings "
        "(e.g. batch_size, weight_decay), as chosen by 'snnbench tune'"
    )

    @field_validator("hidden")
    @classmethod
    def _positive(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(h <= 0 for h in v):
            raise ValueError(f"every hidden size must be >= 1, got {v}")
        return v

    @field_validator("train")
    @classmethod
    def _train_overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        TrainConfig(**v)  # unknown keys and bad values fail here, by name
        return v

    @property
    def is_snn(self) -> bool:
        return self.type in SNN_TYPES


class AugmentConfig(_Strict):
    """Image augmentation of training batches (training split only, seeded per epoch)."""

    crop_padding: int = Field(0, ge=0, description="random crop after padding this many zeros")
    flip: bool = Field(False, description="horizontal flip with probability 1/2")
    cutout: int = Field(0, ge=0, description="side of a zeroed square at a random position")


class TrainConfig(_Strict):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    delay_lr: float | None = Field(None, gt=0, description="learning rate of delay positions")
    weight_decay: float = Field(0.0, ge=0)
    optimizer: Literal["adam", "adamw"] = "adam"
    schedule: Literal["none", "cosine", "onecycle"] = "cosine"
    early_stopping: int | None = Field(None, ge=1, description="patience in epochs on validation accuracy")
    grad_clip: float | None = Field(None, gt=0)
    eval_batch_size: int = Field(256, ge=1)
    augment: AugmentConfig | None = Field(None, description="image augmentation of training batches")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="bf16: training forward passes under torch.autocast to bfloat16 (matmuls and "
        "convolutions in bf16; weights, optimizer state and evaluation in float32); on CUDA "
        "mixed precision, on the CPU bf16 autocast",
    )

    @model_serializer(mode="wrap")
    def _drop_unset_augment(self, handler: Any) -> dict[str, Any]:
        # without augmentation (and in full precision) the dump, and so the config identity
        # of run folders written before these fields existed, stays as it was
        out = handler(self)
        if out.get("augment") is None:
            out.pop("augment", None)
        if out.get("precision") == "fp32":
            out.pop("precision", None)
        return out
    trim_padding: bool = Field(
        False,
        description="cut each batch of padded series to its longest series (fewer time steps; "
        "results equal the untrimmed run up to float rounding, except that stochastic series "
        "encoders draw different noise)",
    )


class ExperimentConfig(_Strict):
    name: PathName
    data: DataConfig = Field(default_factory=DataConfig)
    models: list[ModelConfig]
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _check_models(self) -> ExperimentConfig:
        names = [m.name for m in self.models]
        if self.train.augment is not None and self.data.kind not in (None, "image"):
            raise ValueError(f"train.augment applies to images, but data.kind is {self.data.kind!r}")
        if not names:
            raise ValueError("an experiment needs at least one model")
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"model names must be unique within an experiment, repeated: {sorted(dup)}")
        for m in self.models:
            if m.match is None:
                continue
            target = next((o for o in self.models if o.name == m.match), None)
            if target is None:
                raise ValueError(f"model {m.name!r}: match={m.match!r} names no model; allowed: {names}")
            if not target.is_snn or m.is_snn:
                raise ValueError(f"model {m.name!r}: only a baseline can match an SNN, not {target.type} -> {m.type}")
        return self


class ResourcesConfig(_Strict):
    """What one trial of a sweep (``snnbench sweep``, ``run --ray``) asks Ray for; the trial
    trains with ``int(cpus)`` threads. ``gpus`` None: 1 when ``device`` is cuda, else 0."""

    cpus: float = Field(1.0, ge=1)
    gpus: float | None = Field(None, ge=0)


class SuiteConfig(_Strict):
    name: PathName
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0])
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    kind: Literal["surrogate", "stdp"] = "surrogate"
    experiments: list[ExperimentConfig] = Field(default_factory=list)
    stdp: dict[str, Any] | None = Field(None, description="STDP suite settings (kind='stdp')")
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    tune: TuneSettings | None = Field(None, description="hyper-parameter search budget ('snnbench tune')")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or any(s < 0 for s in v) or len(set(v)) != len(v):
            raise ValueError(f"seeds must be a non-empty list of distinct integers >= 0, got {v}")
        return v

    @model_validator(mode="after")
    def _has_work(self) -> SuiteConfig:
        if self.kind == "surrogate" and not self.experiments:
            raise ValueError("a surrogate-gradient suite needs at least one entry in 'experiments'")
        if self.kind == "stdp":
            if self.stdp is None:
                raise ValueError("kind='stdp' needs an 'stdp' section")
            from .diehl_cook_config import build_stdp_configs

            build_stdp_configs(self.stdp, self.seeds)  # every cell validated before any work
        return self


# ----------------------------------------------------------------------------- loading

PRESET_DIR = Path(__file__).with_name("presets")


def list_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text()) or {}
        out[path.stem] = str(raw.get("description", "")).strip().splitlines()[0] if raw.get("description") else ""
    return out


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml", ".json"):
            raw = yaml.safe_load(text)
        else:
            raise ConfigError(f"config file {str(path)!r}: use a .yaml, .yml, .json or .toml file")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as err:
        detail = " ".join(str(err).split())  # one line: YAML errors span several
        raise ConfigError(f"config file {str(path)!r} is not valid ({detail}); fix the file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
    return raw


def load_raw(spec: str) -> dict[str, Any]:
    """A preset name or a path to a YAML/TOML file -> the raw (unvalidated) mapping."""
    preset = PRESET_DIR / f"{spec}.yaml"
    if preset.is_file():
        return _read_file(preset)
    path = Path(spec)
    if path.suffix or path.exists():
        return _read_file(path)
    raise ConfigError(f"{spec!r} is neither a preset ({', '.join(sorted(list_presets()))}) nor a config file")


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars/lists: ``5``, ``1e-3``, ``true``, ``[64, 64]``, ``lif``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _assign(tree: Any, keys: list[str], value: Any, full_key: str) -> None:
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(tree, list):
            if not key.isdigit() or int(key) >= len(tree):
                raise ConfigError(f"--set {full_key}: {key!r} is not an index of a list of {len(tree)}")
            if last:
                tree[int(key)] = value
            else:
                tree = tree[int(key)]
        elif isinstance(tree, dict):
            if last:
                tree[key] = value
            else:
                tree = tree.setdefault(key, {})
        else:
            raise ConfigError(f"--set {full_key}: cannot descend into {key!r} (not a mapping)")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides. Keys under ``train``, ``data`` and ``models`` apply
    to every experiment of the suite (``models.0.hidden`` to the first model of each); other
    keys (``seeds``, ``device``, ``experiments.1.train.epochs``, ``stdp.epochs``) to the suite."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        keys = key.strip().split(".")
        value = _parse_value(text)
        if keys[0] in ("train", "data", "models"):
            for exp in raw.get("experiments", []):
                _assign(exp, keys, value, key)
        else:
            _assign(raw, keys, value, key)
    return raw


def _format_validation_error(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "literal_error":
            msg = f"{msg} (got {e.get('input')!r})"
        elif e["type"] == "value_error" and "error" in e.get("ctx", {}):
            msg = str(e["ctx"]["error"])
        elif e["type"] == "extra_forbidden":
            msg = "unknown field; check the spelling against the preset files"
        lines.append(f"{loc}: {msg}")
    return "invalid configuration: " + "; ".join(lines)  # one line, every field named


def _non_finite(tree: Any, loc: str = "") -> str | None:
    """The dotted location of the first inf/nan anywhere in a raw config (model kwargs and
    the STDP section included, which the typed fields alone would not cover)."""
    if isinstance(tree, float) and not math.isfinite(tree):
        return loc or "(top level)"
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        found = _non_finite(value, f"{loc}.{key}" if loc else str(key))
        if found:
            return found
    return None


def validate_suite(raw: dict[str, Any]) -> SuiteConfig:
    bad = _non_finite(raw)
    if bad is not None:
        raise ConfigError(f"invalid configuration: {bad} is not a finite number; give a finite value")
    try:
        return SuiteConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err)) from None


def load_suite(spec: str, overrides: list[str] | None = None, seeds: int | None = None) -> SuiteConfig:
    """Resolve a preset name or file, apply ``--set`` overrides and ``--seeds N``, validate."""
    raw = apply_overrides(load_raw(spec), overrides or [])
    if seeds is not None:
        if seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {seeds}")
        raw["seeds"] = list(range(seeds))
    return validate_suite(raw)
