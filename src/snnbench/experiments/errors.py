"""The error every configuration check raises (its own module, so that every config
module can raise it without importing the others)."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the field and the fix."""
