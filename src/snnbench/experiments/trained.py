"""A trained model out of its run folder: ``load(run_dir)`` -> :class:`TrainedModel`.

A :class:`TrainedModel` is an ``nn.Module`` holding the trained network (its encoder and
readout included) and the preprocessing the run applied, with a scikit-learn-like surface
on *raw* inputs (the units the dataset's loader produces, before scaling):

- ``predict(x)`` -> class indices ``[N]``; ``predict(x, return_activity=True)`` -> a
  :class:`Prediction` with the scores, the output layer's spike counts and per-layer
  spike counts and rates;
- ``predict_proba(x)`` -> softmax of the scores ``[N, K]``; ``decision_function(x)`` -> scores;
- ``forward(x, lengths, generator)`` is the network on already preprocessed inputs.

Preprocessing (``snnbench.data.splits.finalize``): images in [0, 1] pass unchanged; time
series are standardised per channel with the training split's mean and standard deviation,
``z = (x - mean) / std`` (NaN -> 0); tabular rows get missing values set to the training
median, then ``clip((x - min) / (max - min), 0, 1)`` with training min/max. The statistics
are recomputed from the run's dataset, validation fraction and seed (deterministic), so every
run folder, old or new, loads the same way.

Stochastic encoders (Poisson, Bernoulli) draw from the run's evaluation stream by default
(the generator :func:`snnbench.learning.trainer.evaluate` uses, fresh per call, with the run's
evaluation batch size), so predicting the test split reproduces the run's test predictions
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..data.batching import iterate_batches
from ..data.registry import _entry_for
from ..data.splits import ArraySplit, carve_validation, finalize
from ..learning.trainer import epoch_generator
from ..models.recording import layer_names, record
from ..synapses.delays import round_all_delays
from .checkpoint import load_checkpoint
from .config import ConfigError, DataConfig, SuiteConfig
from .runner import CONFIG_FILE, build_experiment_model, load_run_config

__all__ = ["Preprocessing", "Prediction", "TrainedModel", "fit_preprocessing", "load", "locate_run"]

CHECKPOINT = "checkpoint.safetensors"


@dataclass(frozen=True)
class Preprocessing:
    """The scaling a run applied to raw inputs (see the module docstring)."""

    kind: str
    input_shape: tuple[int, ...]
    mean: np.ndarray | None = None  # timeseries, per channel
    std: np.ndarray | None = None
    median: np.ndarray | None = None  # tabular, per feature
    low: np.ndarray | None = None
    span: np.ndarray | None = None

    @property
    def expected(self) -> str:
        """The raw input shape in words, for error messages."""
        if self.kind == "timeseries":
            return f"[N, L, {self.input_shape[1]}] (series of any length L with {self.input_shape[1]} channels)"
        if self.kind == "image":
            c, h, w = self.input_shape
            return f"[N, {c}, {h}, {w}] (or [N, {c * h * w}] flattened{f', or [N, {h}, {w}]' if c == 1 else ''})"
        return f"[N, {self.input_shape[0]}]"

    def apply(
        self, x: Any, lengths: Any = None
    ) -> tuple[Tensor, Tensor | None]:
        """Raw samples -> the model's input ``[N, ...]`` (and lengths for series)."""
        if self.kind == "timeseries":
            return self._series(x, lengths)
        if lengths is not None:
            raise ValueError(f"lengths only apply to time series; this model takes {self.kind} inputs")
        arr = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
        if self.kind == "image":
            c, h, w = self.input_shape
            if arr.ndim == 2 and arr.shape[1] == c * h * w:
                arr = arr.reshape(-1, c, h, w)
            elif arr.ndim == 3 and c == 1 and arr.shape[1:] == (h, w):
                arr = arr[:, None]
            if arr.ndim != 4 or arr.shape[1:] != (c, h, w):
                raise ValueError(f"input has shape {list(arr.shape)}; this model expects {self.expected}")
            if not np.isfinite(arr).all():
                raise ValueError("image input holds NaN or infinite values; pixels must be finite in [0, 1]")
            if arr.size and (arr.min() < 0 or arr.max() > 1):
                raise ValueError(
                    f"image input lies in [{arr.min():g}, {arr.max():g}]; pixels must lie in [0, 1] "
                    "(divide 8-bit images by 255)"
                )
            return torch.from_numpy(arr.astype(np.float32)), None
        if arr.ndim == 1 and arr.shape[0] == self.input_shape[0]:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] != self.input_shape[0]:
            raise ValueError(f"input has shape {list(arr.shape)}; this model expects {self.expected}")
        if np.isinf(arr).any():
            raise ValueError("tabular input holds infinite values; use NaN for a missing value")
        arr = np.where(np.isnan(arr), self.median, arr)
        out = np.clip((arr - self.low) / self.span, 0.0, 1.0).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(out)), None

    def _series(self, x: Any, lengths: Any) -> tuple[Tensor, Tensor]:
        c = self.input_shape[1]
        if isinstance(x, (list, tuple)):
            if lengths is not None:
                raise ValueError("give lengths only with a padded array [N, L, C], not with a list of series")
            seqs = [np.asarray(s, dtype=np.float64) for s in x]
        else:
            arr = np.asarray(x.detach().cpu() if isinstance(x, Tensor) else x, dtype=np.float64)
            if arr.ndim == 2 and arr.shape[1] == c:
                arr = arr[None]  # one series [L, C]
            if arr.ndim != 3:
                raise ValueError(f"input has shape {list(arr.shape)}; this model expects {self.expected}")
            if lengths is None:
                seqs = list(arr)
            else:
                lens = np.asarray(lengths.cpu() if isinstance(lengths, Tensor) else lengths).astype(np.int64)
                if lens.shape != (arr.shape[0],) or (lens.size and (lens.min() < 1 or lens.max() > arr.shape[1])):
                    raise ValueError(f"lengths must be {arr.shape[0]} ints in [1, {arr.shape[1]}], got {lens.tolist()[:8]}")
                seqs = [a[:n] for a, n in zip(arr, lens)]
        for i, s in enumerate(seqs):
            if s.ndim != 2 or s.shape[1] != c or len(s) == 0:
                raise ValueError(f"series {i} has shape {list(s.shape)}; this model expects {self.expected}")
            if np.isinf(s).any():
                raise ValueError(f"series {i} holds infinite values; use NaN for a missing value")
        # pad to at least the training length: the batches then look like the run's own
        max_len = max([self.input_shape[0], *(len(s) for s in seqs)])
        out = np.zeros((len(seqs), max_len, c), dtype=np.float32)
        lens_out = np.zeros(len(seqs), dtype=np.int64)
        for i, s in enumerate(seqs):
            z = (s - self.mean) / self.std
            out[i, : len(s)] = np.nan_to_num(z, nan=0.0)
            lens_out[i] = len(s)
        return torch.from_numpy(out), torch.from_numpy(lens_out)


def fit_preprocessing(data: DataConfig, seed: int) -> tuple[Preprocessing, Any]:
    """The run's preprocessing statistics and its finalized splits, from the dataset named
    in ``data`` with the validation carve-out of ``seed`` (what ``finalize`` fits)."""
    entry, problem = _entry_for(data.name)
    kwargs = dict(data.options)
    if entry.takes_root:
        kwargs["root"] = data.root
    raw = entry.loader(**kwargs)
    raw.name = f"ucr:{raw.extra.get('problem', problem)}" if problem is not None else entry.name
    y = np.asarray(raw.train_y).astype(np.int64)
    tr_idx, _ = carve_validation(y, data.val_fraction, seed)
    if raw.kind == "timeseries":
        stacked = np.concatenate([np.asarray(raw.train_x[i], dtype=np.float64) for i in tr_idx], axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.nan_to_num(np.nanmean(stacked, axis=0), nan=0.0)
            std = np.nan_to_num(np.nanstd(stacked, axis=0), nan=0.0)
        std = np.where(std > 0, std, 1.0)
        if not raw.extra.get("standardise", True):
            mean, std = np.zeros_like(mean), np.ones_like(std)
        stats: dict[str, Any] = {"mean": mean, "std": std}
    elif raw.kind == "tabular":
        import warnings

        fit = np.asarray(raw.train_x, dtype=np.float64)[tr_idx]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nan_to_num(np.nanmedian(fit, axis=0), nan=0.0)
        fit = np.where(np.isnan(fit), med, fit)
        low = fit.min(axis=0)
        span = fit.max(axis=0) - low
        stats = {"median": med, "low": low, "span": np.where(span > 0, span, np.inf)}
    else:
        stats = {}
    splits = finalize(raw, val_fraction=data.val_fraction, seed=seed)
    return Preprocessing(raw.kind, tuple(int(s) for s in splits.info.input_shape), **stats), splits


@dataclass
class Prediction:
    """What :meth:`TrainedModel.predict` returns when asked for more than the classes.

    ``classes`` ``[N]``; ``scores`` ``[N, K]`` (the readout: spike counts or membrane
    scores); ``spike_counts[layer]`` ``[N, neurons]`` spikes per neuron over each sample's
    valid steps; ``spike_rates[layer]`` ``[N]`` spikes per neuron per step.
    """

    classes: np.ndarray
    scores: np.ndarray
    spike_counts: dict[str, np.ndarray] | None = None
    spike_rates: dict[str, np.ndarray] | None = None

    @property
    def output_spike_counts(self) -> np.ndarray | None:
        """Spike counts of the last spiking layer (the output layer under spike readouts)."""
        if not self.spike_counts:
            return None
        return self.spike_counts[list(self.spike_counts)[-1]]


class TrainedModel(nn.Module):
    """A trained classifier with the preprocessing of its run (see the module docstring)."""

    def __init__(
        self,
        network: nn.Module,
        preprocessing: Preprocessing,
        *,
        class_names: Sequence[str],
        seed: int = 0,
        batch_size: int = 256,
        trim: bool = False,
        source: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.preprocessing = preprocessing
        self.class_names = tuple(class_names)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.trim = bool(trim)
        self.source = dict(source or {})

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def layers(self) -> tuple[str, ...]:
        """Names of the neuron populations (for :func:`snnbench.record` and activity)."""
        return tuple(layer_names(self.network))

    def forward(self, x: Tensor, lengths: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Scores ``[B, K]`` of preprocessed inputs (what the network saw in training)."""
        try:
            return self.network(x, lengths=lengths, generator=generator)
        except TypeError:  # a baseline without a generator argument
            return self.network(x, lengths=lengths)

    def _spiking_layers(self) -> list[str]:
        net = self.network
        names = getattr(net, "spiking_layers", ())
        return [n for n in layer_names(net) if n in names]

    @torch.no_grad()
    def _run(
        self, x: Any, lengths: Any, generator: torch.Generator | None, activity: bool
    ) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        xs, lens = self.preprocessing.apply(x, lengths)
        if xs.shape[0] == 0:
            raise ValueError("input holds no samples")
        split = ArraySplit(xs, torch.zeros(xs.shape[0], dtype=torch.long), lens)
        gen = epoch_generator(self.seed, 10**6, 2) if generator is None else generator
        was_training = self.training
        self.eval()
        dev = next(iter(self.parameters()), torch.empty(0)).device
        layers = self._spiking_layers() if activity else []
        steps_per = int(getattr(self.network, "steps_per_sample", 1))
        scores, counts, rates = [], {n: [] for n in layers}, {n: [] for n in layers}
        try:
            for xb, _, lb in iterate_batches(split, self.batch_size, trim=self.trim and lens is not None):
                xb = xb.to(dev)
                lb = lb.to(dev) if lb is not None else None
                if not layers:
                    scores.append(self(xb, lb, gen).cpu())
                    continue
                with record(self.network, layers, spikes=True) as rec:
                    scores.append(self(xb, lb, gen).cpu())
                for n in layers:
                    s = rec[n].spikes  # [T, B, ...]
                    t = s.shape[0]
                    if lb is not None:  # count the valid steps of each sample only
                        valid = lb.to(s.device) * steps_per + (t - xb.shape[1] * steps_per)
                        mask = (torch.arange(t, device=s.device)[:, None] < valid[None]).to(s.dtype)
                        steps = valid.to(s.dtype)
                    else:
                        mask = torch.ones(t, s.shape[1], dtype=s.dtype, device=s.device)
                        steps = torch.full((s.shape[1],), float(t), device=s.device)
                    c = (s.reshape(t, s.shape[1], -1) * mask[..., None]).sum(0)
                    counts[n].append(c.cpu())
                    rates[n].append((c.sum(1) / (c.shape[1] * steps)).cpu())
        finally:
            self.train(was_training)
        return (
            torch.cat(scores),
            {n: torch.cat(v) for n, v in counts.items()},
            {n: torch.cat(v) for n, v in rates.items()},
        )

    def decision_function(self, x: Any, lengths: Any = None, *, generator: torch.Generator | None = None) -> np.ndarray:
        """Readout scores ``[N, K]`` of raw inputs."""
        return self._run(x, lengths, generator, False)[0].numpy()

    def predict(
        self,
        x: Any,
        lengths: Any = None,
        *,
        return_activity: bool = False,
        generator: torch.Generator | None = None,
    ) -> np.ndarray | Prediction:
        """Class indices ``[N]`` of raw inputs; with ``return_activity`` a :class:`Prediction`
        with the scores and per-layer spike counts and rates."""
        scores, counts, rates = self._run(x, lengths, generator, return_activity)
        classes = scores.argmax(1).numpy()
        if not return_activity:
            return classes
        return Prediction(
            classes=classes, scores=scores.numpy(),
            spike_counts={n: v.numpy() for n, v in counts.items()},
            spike_rates={n: v.numpy() for n, v in rates.items()},
        )

    def predict_proba(self, x: Any, lengths: Any = None, *, generator: torch.Generator | None = None) -> np.ndarray:
        """Softmax of the readout scores, ``[N, K]`` (the training loss's probabilities)."""
        scores = self._run(x, lengths, generator, False)[0]
        return torch.softmax(scores.double(), 1).numpy()


def locate_run(path: str | Path) -> tuple[Path, str | None, str | None, int | None]:
    """``(run_dir, experiment, model, seed)`` from a run folder or one of its seed folders
    (``RUN/<experiment>/<model>/seed<k>``); the parts a run folder leaves open are None."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"run folder {str(p)!r} does not exist")
    if (p / CONFIG_FILE).is_file():
        return p, None, None, None
    if p.name.startswith("seed") and p.name[4:].isdigit() and (p.parents[2] / CONFIG_FILE).is_file():
        return p.parents[2], p.parents[1].name, p.parent.name, int(p.name[4:])
    raise ConfigError(
        f"{str(p)!r} is neither a snnbench run folder (no {CONFIG_FILE}) nor a seed folder "
        "RUN/<experiment>/<model>/seed<k> of one"
    )


def _pick(kind: str, value: Any, options: list[Any], hint: str) -> Any:
    if value is None:
        if len(options) == 1:
            return options[0]
        raise ConfigError(f"the run holds several {kind}s {options}; choose one with {hint}")
    if value not in options:
        raise ConfigError(f"the run has no {kind} {value!r}; choose from {options} ({hint})")
    return value


def load(
    run_dir: str | Path,
    *,
    experiment: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    device: str | torch.device = "cpu",
) -> TrainedModel:
    """The trained model of a run folder, ready to classify raw inputs.

    ``run_dir`` is a run folder or a seed folder ``RUN/<experiment>/<model>/seed<k>``;
    ``experiment``, ``model`` and ``seed`` choose when the run holds several (an error lists
    them otherwise). The weights are the final ones (the best on validation when the run used
    early stopping), delays rounded to integers as in the reported test accuracy.
    """
    run, e0, m0, s0 = locate_run(run_dir)
    experiment, model, seed = experiment or e0, model or m0, seed if seed is not None else s0
    suite: SuiteConfig = load_run_config(run)
    if suite.kind != "surrogate":
        raise ConfigError(f"run {str(run)!r} is a {suite.kind!r} run; load() reads surrogate-gradient runs")
    exp_name = _pick("experiment", experiment, [e.name for e in suite.experiments], "experiment=NAME / --experiment")
    exp = next(e for e in suite.experiments if e.name == exp_name)
    m_name = _pick("model", model, [o.name for o in exp.models], "model=NAME / --model")
    m = next(o for o in exp.models if o.name == m_name)
    folder = run / exp.name / m.name
    seeds = sorted(int(p.name[4:]) for p in folder.glob("seed*") if (p / CHECKPOINT).is_file())
    if not seeds:
        raise FileNotFoundError(f"no {CHECKPOINT} under {str(folder)!r}: has that model trained for an epoch?")
    seed = _pick("seed", seed, seeds, "seed=K / --seed")
    prep, splits = fit_preprocessing(exp.data, seed)
    torch.manual_seed(seed)
    net, _ = build_experiment_model(exp, m, splits.info)
    _, best = load_checkpoint(folder / f"seed{seed}" / CHECKPOINT, net)
    if exp.train.early_stopping and best is not None:
        net.load_state_dict(best)
    round_all_delays(net)
    net.eval().to(device)
    tm = TrainedModel(
        net, prep, class_names=splits.info.class_names, seed=seed, batch_size=exp.train.eval_batch_size,
        trim=exp.train.trim_padding,
        source={"run_dir": str(run), "experiment": exp.name, "model": m.name, "seed": seed,
                "dataset": splits.info.name, "model_type": m.type},
    )
    tm._splits = splits  # the run's splits, for callers that want the test set (not a module)
    return tm.eval()


def raw_test_split(run_dir: str | Path, *, experiment: str, seed: int = 0) -> tuple[Any, np.ndarray]:
    """The run's raw (unscaled) test inputs and labels, from the dataset's loader."""
    suite = load_run_config(Path(run_dir))
    exp = next((e for e in suite.experiments if e.name == experiment), None)
    if exp is None:
        raise ConfigError(f"run {str(run_dir)!r} has no experiment {experiment!r}")
    entry, _ = _entry_for(exp.data.name)
    kwargs = dict(exp.data.options)
    if entry.takes_root:
        kwargs["root"] = exp.data.root
    raw = entry.loader(**kwargs)
    return raw.test_x, np.asarray(raw.test_y).astype(np.int64)
