"""The package version, in a module every stage may import."""

__version__ = "0.1.0"
