"""What NIR export and import share: the error for a layer or node with no counterpart,
and the lazily imported ``nir`` package (an optional extra)."""

from __future__ import annotations


class UnsupportedNode(ValueError):
    """A layer or node that has no counterpart on the other side; the message names it."""


def _nir():
    try:
        import nir
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "NIR export/import needs the 'nir' package: pip install 'snnbench[interop]'"
        ) from None
    return nir
