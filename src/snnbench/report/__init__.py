"""Report: plots and the self-contained HTML report of run folders (``write_report``)."""

from .html import write_report

__all__ = ["write_report"]
