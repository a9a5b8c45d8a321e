"""Is the SNN's accuracy difference to a baseline real? Floors and a verdict with uncertainty.

Floors of a task (test split of ``K`` classes, training labels ``y_train``):

- chance accuracy ``1 / K``;
- majority-class accuracy: the test accuracy of always answering the most frequent
  *training* class. A model at or below it has learnt nothing usable, and no energy or
  accuracy claim may be made for it.

Verdict of model A (the SNN) against model B (a baseline), both trained with the same seeds
``s = 1..S`` and tested on the same ``N`` samples; ``c_A[s, i]`` is 1 where A got sample ``i``
right with seed ``s``:

- paired t-test over seeds on the accuracy differences ``d_s = acc_A[s] - acc_B[s]``:
  ``t = mean(d) / (sd(d) / sqrt(S))`` with ``S - 1`` degrees of freedom, two-sided
  (Student; scipy's ``ttest_rel``). Needs ``S >= 2``.
- paired bootstrap over test samples: per sample the difference of the seed-averaged
  correctness ``e_i = mean_s c_A[s, i] - mean_s c_B[s, i]``; resample the ``N`` samples with
  replacement ``n_boot`` times and take the 2.5 and 97.5 percentiles of ``mean(e)`` (in
  accuracy points, percentile interval). This is the test-set noise the seed test misses.

The verdict is "SNN better" (or "ANN better") only when the bootstrap interval excludes
zero on that side **and**, with two or more seeds, the paired test over seeds rejects
equality at ``alpha`` (default 0.05); otherwise "no difference at 95 %". Both noise
sources must agree before a difference is called real.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

SNN_BETTER = "SNN better"
ANN_BETTER = "ANN better"
NO_DIFFERENCE = "no difference at 95 %"


def chance_accuracy(num_classes: int) -> float:
    """``1 / K`` (fraction)."""
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    return 1.0 / int(num_classes)


def majority_accuracy(train_labels: Sequence[int] | np.ndarray, test_labels: Sequence[int] | np.ndarray) -> float:
    """Test accuracy (fraction) of always predicting the most frequent training class
    (ties: the smallest class index, as ``numpy.bincount(...).argmax()``)."""
    tr = np.asarray(train_labels, dtype=np.int64).ravel()
    te = np.asarray(test_labels, dtype=np.int64).ravel()
    if tr.size == 0 or te.size == 0:
        raise ValueError(f"train_labels and test_labels must be non-empty, got {tr.size} and {te.size}")
    if tr.min() < 0 or te.min() < 0:
        raise ValueError("labels must be class indices >= 0")
    return float(np.mean(te == np.bincount(tr).argmax()))


def at_or_below_floor(accuracy: float, majority: float, *, eps: float = 1e-9) -> bool:
    """True when ``accuracy`` (fraction) does not exceed the majority-class accuracy."""
    return bool(accuracy <= majority + eps)


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided paired t-test of ``a`` against ``b`` (same seeds): ``(t, p)``.

    ``t = mean(d) / (sd(d) / sqrt(S))``, ``d = a - b``, ``S - 1`` degrees of freedom. When
    every difference is equal (zero spread) ``t`` is ``+-inf`` with ``p = 0`` (a constant
    nonzero difference) or ``t = 0`` with ``p = 1`` (no difference at all)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1 or len(a) != len(b):
        raise ValueError(f"a and b must be 1-D and of equal length, got {np.shape(a)} and {np.shape(b)}")
    if d.size < 2:
        raise ValueError(f"a paired t-test needs at least 2 seeds, got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ValueError("a and b must be finite (a NaN accuracy means an unfinished run)")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        return (0.0, 1.0) if abs(mean) <= 1e-12 else (math.copysign(math.inf, mean), 0.0)
    t = mean / (sd / math.sqrt(d.size))
    from scipy import stats  # here, not at import: 0.5 s that every tune worker process would pay

    p = float(2.0 * stats.t.sf(abs(t), df=d.size - 1))
    return float(t), p


def _correctness(c: Any, name: str) -> np.ndarray:
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be [seeds, samples] (or [samples]) of 0/1, got shape {np.shape(c)}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0/1 (per-sample correctness)")
    return arr


def bootstrap_difference(
    correct_a: Any,
    correct_b: Any,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    generator: torch.Generator | None = None,
) -> tuple[float, float, float]:
    """Paired bootstrap over test samples of ``acc(A) - acc(B)`` in accuracy points:
    ``(difference, low, high)`` (percentile interval at ``confidence``).

    ``correct_a``/``correct_b``: ``[seeds, N]`` (or ``[N]``) 0/1 correctness on the same
    samples; seeds are averaged per sample before resampling. Resampling indices come from
    ``generator`` (default: seeded with 0, so the interval is reproducible)."""
    a, b = _correctness(correct_a, "correct_a"), _correctness(correct_b, "correct_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"correct_a and correct_b must cover the same test samples, got {a.shape[1]} and {b.shape[1]}")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    if int(n_boot) < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot}")
    e = a.mean(0) - b.mean(0)
    n = e.size
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    idx = torch.randint(n, (int(n_boot), n), generator=gen).numpy()
    means = e[idx].mean(1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return 100.0 * float(e.mean()), 100.0 * float(lo), 100.0 * float(hi)


@dataclass
class Verdict:
    """SNN vs one baseline. Accuracies and differences in points (%), ``p`` of the seed test."""

    snn: str
    baseline: str
    seeds: int
    difference: float
    ci_low: float
    ci_high: float
    t: float | None
    p: float | None
    verdict: str
    experiment: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        seed = f"; paired t over {self.seeds} seeds p={self.p:.3g}" if self.p is not None else f"; {self.seeds} seed"
        return (f"{self.verdict} ({self.snn} - {self.baseline}: {self.difference:+.1f} pp, "
                f"95 % CI [{self.ci_low:+.1f}, {self.ci_high:+.1f}]{seed})")


def compare(
    snn: str,
    baseline: str,
    correct_snn: Any,
    correct_baseline: Any,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    generator: torch.Generator | None = None,
) -> Verdict:
    """Verdict of the SNN against a baseline from per-seed, per-sample correctness
    (``[seeds, N]``, rows in the same seed order): see the module docstring."""
    a, b = _correctness(correct_snn, "correct_snn"), _correctness(correct_baseline, "correct_baseline")
    if a.shape != b.shape:
        raise ValueError(f"the SNN and the baseline need the same seeds and test samples, got {a.shape} and {b.shape}")
    diff, lo, hi = bootstrap_difference(a, b, n_boot=n_boot, confidence=1 - alpha, generator=generator)
    t = p = None
    if a.shape[0] >= 2:
        t, p = paired_t_test(a.mean(1), b.mean(1))
    seeds_agree = p is None or p < alpha
    if lo > 0 and seeds_agree:
        word = SNN_BETTER
    elif hi < 0 and seeds_agree:
        word = ANN_BETTER
    else:
        word = NO_DIFFERENCE
    return Verdict(snn, baseline, int(a.shape[0]), diff, lo, hi, t, p, word)


def correctness_from_final(final: dict[str, Any]) -> np.ndarray:
    """0/1 per test sample from a run's ``final.json`` record (``extra.predictions`` and
    ``extra.labels``, written by the surrogate-gradient runner)."""
    extra = final.get("extra") or {}
    pred, lab = extra.get("predictions"), extra.get("labels")
    if pred is None or lab is None or len(pred) != len(lab):
        raise ValueError("final.json lacks per-sample test predictions/labels; rerun the model with this version")
    return (np.asarray(pred) == np.asarray(lab)).astype(np.float64)


def task_verdicts(finals: Sequence[dict[str, Any]], *, alpha: float = 0.05, n_boot: int = 2000) -> list[Verdict]:
    """Every SNN against every baseline of the same experiment, from ``final.json`` records
    (``experiment``, ``model``, ``model_type``, ``seed``, ``test_accuracy``, ``extra``).
    Only the seeds both models finished are paired; a pair without per-sample predictions
    or a model at or below its majority class gets no verdict (nothing to claim)."""
    groups: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for f in finals:
        groups.setdefault(str(f["experiment"]), {}).setdefault(str(f["model"]), {})[int(f["seed"])] = f
    out: list[Verdict] = []
    for experiment, models in groups.items():
        snns = [m for m, s in models.items() if str(next(iter(s.values()))["model_type"]).startswith("snn")]
        anns = [m for m in models if m not in snns]
        for s_name in snns:
            for b_name in anns:
                seeds = sorted(set(models[s_name]) & set(models[b_name]))
                if not seeds or _flagged(models[s_name], seeds) or _flagged(models[b_name], seeds):
                    continue
                try:
                    a = np.stack([correctness_from_final(models[s_name][k]) for k in seeds])
                    b = np.stack([correctness_from_final(models[b_name][k]) for k in seeds])
                except ValueError:
                    continue
                v = compare(s_name, b_name, a, b, alpha=alpha, n_boot=n_boot)
                v.experiment = experiment
                out.append(v)
    return out


def _flagged(by_seed: dict[int, dict[str, Any]], seeds: list[int]) -> bool:
    acc = float(np.mean([by_seed[k]["test_accuracy"] for k in seeds]))
    majority = (by_seed[seeds[0]].get("extra") or {}).get("majority_accuracy")
    return majority is not None and at_or_below_floor(acc, majority)
