"""Write a list of options once and share it with the functions and classes that take it.

Several public classes take the same long list of named options (every LIF-type neuron the
membrane options, every SNN builder the encoder/neuron/readout options). Their signatures
stay explicit for users and for the model builder, which checks config keys against
``inspect.signature``; the decorator :func:`takes_options_of` writes the shared list once:

.. code-block:: python

    @takes_options_of(LIF.__init__, drop=("beta",))
    def __init__(self, shape=None, *, extra: float = 0.0, **lif_options): ...

``inspect.signature`` of the decorated function names every parameter (its own and the
shared ones, with their defaults and annotations); a forwarder with that signature written
out (generated, as :mod:`dataclasses` writes ``__init__``) binds each call, so a wrong call
fails with Python's own message, and hands the function the shared options as keywords,
every default filled in. :func:`keywords_of` is the lighter form for a wrapper that passes
every option on unchanged. A private helper of every stage, so it imports nothing from the
package.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["takes_options_of", "keywords_of", "bound_options"]

F = TypeVar("F", bound=Callable)

_P = inspect.Parameter


def takes_options_of(
    source: Callable,
    *,
    only: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    after: str | None = None,
    positional: bool = False,
    defaults: Mapping[str, Any] | None = None,
    rest: str | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator: ``**options`` of the decorated function stands for ``source``'s parameters.

    The shared parameters are those of ``source`` (``only`` them when given, less ``drop``,
    ``self`` and those the function names itself), with ``defaults`` replacing theirs. They
    stand after the function's parameter ``after`` (default: at the end, or before the
    first keyword-only one when positional), keyword-only, or positional-or-keyword with
    ``positional=True``, so the combined signature reads as if written out. ``rest`` names
    an own keyword-only parameter that receives, as a dict, the keywords no parameter names:
    it stands in the signature as ``**rest``. Decorators stack: each adds the options of its
    source to those of the decorators below it, and the function receives them all.
    """

    def decorate(fn: Callable) -> Callable:
        inner, params, shared_names, rest_param = getattr(fn, "_options_of", (fn, None, (), None))
        if params is None:  # the first decorator: the function's own parameters
            own = inspect.signature(fn).parameters.values()
            if sum(p.kind is _P.VAR_KEYWORD for p in own) != 1:
                raise TypeError(f"{fn.__qualname__} must take **options to receive the shared ones")
            params = [p for p in own if p.kind is not _P.VAR_KEYWORD]
            if rest is not None:
                (rest_param,) = [p for p in params if p.name == rest]
                params.remove(rest_param)
        names = [p.name for p in params]
        src = inspect.signature(source).parameters
        wanted = list(src) if only is None else list(only)
        shared = [src[n] for n in wanted if n not in names and n not in drop and n != "self"]
        kind = _P.POSITIONAL_OR_KEYWORD if positional else _P.KEYWORD_ONLY
        if after is not None:
            at = names.index(after) + 1
        else:
            kinds = [p.kind for p in params]
            at = kinds.index(_P.KEYWORD_ONLY) if positional and _P.KEYWORD_ONLY in kinds else len(params)
        new_defaults = dict(defaults or {})
        shared = [p.replace(kind=kind, default=new_defaults.pop(p.name, p.default)) for p in shared]
        if new_defaults:
            raise TypeError(f"defaults for options {sorted(new_defaults)} that are not shared")
        params = [*params[:at], *shared, *params[at:]]
        shared_names = (*shared_names, *(p.name for p in shared))
        tail = [] if rest_param is None else [rest_param.replace(kind=_P.VAR_KEYWORD, default=_P.empty)]
        merged = inspect.signature(inner).replace(parameters=params + tail)
        wrapper = _forwarder(inner, merged, shared_names)
        functools.update_wrapper(wrapper, inner)
        wrapper.__signature__ = merged
        wrapper._options_of = (inner, params, shared_names, rest_param)
        return wrapper

    return decorate


def _forwarder(fn: Callable, merged: inspect.Signature, shared: Sequence[str]) -> Callable:
    """A function written with the combined signature that calls ``fn`` (generated as
    :mod:`dataclasses` writes ``__init__``), so that Python binds the call and words any
    error as for a hand-written signature."""
    head, defaults, seen_kw_only = [], {}, False
    for p in merged.parameters.values():
        if p.kind is _P.VAR_KEYWORD:
            head.append(f"**{p.name}")
            continue
        if p.kind is _P.KEYWORD_ONLY and not seen_kw_only:
            head.append("*")
            seen_kw_only = True
        if p.default is _P.empty:
            head.append(p.name)
        else:
            defaults[f"_d_{p.name}"] = p.default
            head.append(f"{p.name}=_d_{p.name}")
    own = [p for p in inspect.signature(fn).parameters.values() if p.kind is not _P.VAR_KEYWORD]
    pos = [p.name for p in own if p.kind is not _P.KEYWORD_ONLY]
    kw = [f"{n}={n}" for n in [p.name for p in own if p.kind is _P.KEYWORD_ONLY] + list(shared)]
    src = f"def _forward({', '.join(head)}):\n    return _fn({', '.join(pos + kw)})\n"
    namespace = {"_fn": fn, **defaults}
    exec(src, namespace)  # noqa: S102 - the names are those of real signatures
    out = namespace["_forward"]
    # error messages name the code object: Class.method (co_qualname, Python >= 3.11)
    code = out.__code__.replace(co_name=fn.__name__)
    if hasattr(code, "co_qualname"):
        code = code.replace(co_qualname=fn.__qualname__)
    out.__code__ = code
    return out


def keywords_of(source: Callable) -> Callable[[F], F]:
    """Give the decorated ``f(..., **options)`` the parameters and defaults of ``source``
    (keeping ``f``'s return annotation), so that ``help()``, ``inspect.signature`` and the
    dataset registry see the options written once, in ``source``; ``f`` passes its options
    on to ``source``, which binds them."""

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
