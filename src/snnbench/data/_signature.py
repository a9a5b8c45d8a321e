"""One keyword list for a public function and the wrappers that pass it on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def keywords_of(source: Callable) -> Callable[[F], F]:
    """Give the decorated ``f(..., **options)`` the parameters and defaults of ``source``
    (keeping ``f``'s return annotation), so that ``help()``, ``inspect.signature`` and the
    dataset registry see the options written once, in ``source``."""

    def decorate(f: F) -> F:
        ret = inspect.signature(f).return_annotation
        f.__signature__ = inspect.signature(source).replace(return_annotation=ret)  # type: ignore[attr-defined]
        return f

    return decorate


def bound_options(source: Callable, *args, **kwargs) -> dict:
    """The arguments ``source(*args, **kwargs)`` would see, defaults filled in."""
    bound = inspect.signature(source).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments
