"""Write one generated section of a Markdown document, leaving the others untouched.

Several benchmark scripts share ``docs/results.md``; each owns the text between
``<!-- BEGIN name -->`` and ``<!-- END name -->`` and rewrites only that.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def replace_section(path: str | Path, name: str, body: str, *, title: str | None = None) -> None:
    """Replace (or append) section ``name`` of ``path`` with ``body``; atomic rename."""
    path = Path(path)
    text = path.read_text() if path.exists() else f"# {title or path.stem}\n"
    block = f"<!-- BEGIN {name} -->\n{body.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
