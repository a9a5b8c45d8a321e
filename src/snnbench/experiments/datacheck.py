"""Load every dataset of a suite once before anything is written, so that a bad set
(regression targets, one class, NaN, ragged arrays, too few samples per class, a missing
file) stops ``snnbench run`` with its one-line error before a run folder exists."""

from __future__ import annotations

from ..data import load_dataset
from .config import SuiteConfig


def check_suite_data(suite: SuiteConfig) -> list[str]:
    """Load each distinct dataset of a surrogate-gradient suite with its first seed.

    Returns one line per dataset (name, kind, sizes, source); raises the loader's
    ValueError unchanged otherwise. STDP suites read their fixed sets and are skipped.
    """
    if suite.kind != "surrogate":
        return []
    seen: dict[str, str] = {}
    for exp in suite.experiments:
        kwargs = exp.data.load_kwargs()
        key = repr((exp.data.name, sorted(kwargs.items(), key=lambda kv: kv[0])))
        if key in seen:
            continue
        d = load_dataset(exp.data.name, seed=suite.seeds[0], **kwargs)
        info = d.info
        kind = "series" if info.kind == "timeseries" else info.kind
        if info.modality and info.modality != kind:
            kind = f"{info.modality} as {kind}"
        seen[key] = (
            f"{info.name}: {kind} {list(info.input_shape)}, {info.num_classes} classes, "
            f"train/val/test {len(d.train)}/{len(d.val)}/{len(d.test)}"
            + (f" ({info.source})" if info.source else "")
        )
    return list(seen.values())
