"""One line per dataset of a suite, from the data :func:`~.preflight.preflight` already
loaded: a bad set (regression targets, one class, NaN, ragged arrays, too few samples per
class, a missing file) has stopped ``snnbench run`` with its one-line error by then, before
a run folder exists; a good one is described (kind, shape, classes, sizes, source)."""

from __future__ import annotations

from .config import SuiteConfig
from .runner import _load_split_cached


def check_suite_data(suite: SuiteConfig, cache: dict | None = None) -> list[str]:
    """Describe each distinct dataset of a surrogate-gradient suite (first seed).

    ``cache`` is preflight's data cache (the sets are loaded into it when absent); raises
    the loader's ValueError unchanged. STDP suites read their fixed sets and are skipped.
    """
    if suite.kind != "surrogate":
        return []
    cache = {} if cache is None else cache
    seen: dict[str, str] = {}
    for exp in suite.experiments:
        d = _load_split_cached(cache, exp, suite.seeds[0])
        info = d.info
        key = repr((exp.data.name, sorted(exp.data.load_kwargs().items(), key=lambda kv: kv[0])))
        if key in seen:
            continue
        kind = "series" if info.kind == "timeseries" else info.kind
        if info.modality and info.modality != kind:
            kind = f"{info.modality} as {kind}"
        seen[key] = (
            f"{info.name}: {kind} {list(info.input_shape)}, {info.num_classes} classes, "
            f"train/val/test {len(d.train)}/{len(d.val)}/{len(d.test)}"
            + (f" ({info.source})" if info.source else "")
        )
    return list(seen.values())
