"""Open a report in headless Chromium: does it load, and does every image decode there?

The report itself has no script. For the check, a copy gets a small script that, after the
page's ``load`` event, writes into the DOM how many ``<img>`` decoded (``naturalWidth > 0``)
and any script errors (the probe is the first script of the page, so it sees every later one);
Chromium's ``--dump-dom`` then prints that. A second run takes a
screenshot. Needs Debian's ``chromium`` package (``apt-get install -y chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
)

_PROBE = (
    "<script>(function(){var errs=[];window.addEventListener('error',function(e){errs.push(String(e.message));});"
    "window.addEventListener('load',function(){var im=Array.prototype.slice.call(document.images);"
    "var ok=im.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;"
    "var d=document.createElement('pre');d.id='snnbench-check';"
    "d.textContent='images '+ok+'/'+im.length+' errors '+errs.length+(errs.length?': '+errs.join(' | '):'');"
    "document.body.appendChild(d);});})();</script>"
)


@dataclass
class BrowserCheck:
    images_loaded: int
    images_total: int
    errors: list[str]
    screenshot: Path | None

    @property
    def ok(self) -> bool:
        return self.images_total > 0 and self.images_loaded == self.images_total and not self.errors


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_in_chromium(
    html_path: str | Path,
    screenshot: str | Path | None = None,
    *,
    chromium: str | None = None,
    window: tuple[int, int] = (1280, 2400),
    timeout_s: float = 120.0,
) -> BrowserCheck:
    """Load ``html_path`` headless; count decoded images and script errors; optionally save a
    PNG screenshot of the top ``window`` pixels. Raises FileNotFoundError without Chromium."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"report {str(html_path)!r} does not exist")
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium binary found; install Debian's package: apt-get install -y chromium")
    text = html_path.read_text()
    # the probe goes first in <head> (else <body>) so it sees errors of every later script
    anchor = re.search(r"<head[^>]*>", text, re.I) or re.search(r"<body[^>]*>", text, re.I)
    if anchor is None or "</body>" not in text.lower():
        raise ValueError(f"{str(html_path)!r} has no <head>/<body> and </body>; not a complete HTML document")
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(text[: anchor.end()] + _PROBE + text[anchor.end():])
        profile = ["--user-data-dir=" + str(Path(tmp) / "profile")]
        res = subprocess.run(
            [exe, *FLAGS, *profile, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=timeout_s,
        )
        m = re.search(r'id="snnbench-check">images (\d+)/(\d+) errors (\d+)([^<]*)', res.stdout)
        if m is None:
            raise RuntimeError(
                f"chromium did not finish loading {html_path} (exit {res.returncode}); stderr tail: {res.stderr[-800:]}"
            )
        errors = [e for e in m.group(4).lstrip(": ").split(" | ") if e] if int(m.group(3)) else []
        shot = None
        if screenshot is not None:
            shot = Path(screenshot).resolve()
            shot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [exe, *FLAGS, *profile, f"--window-size={window[0]},{window[1]}", f"--screenshot={shot}",
                 html_path.as_uri()],
                capture_output=True, text=True, timeout=timeout_s, check=False,
            )
            if not shot.is_file():
                raise RuntimeError(f"chromium wrote no screenshot to {shot}")
    return BrowserCheck(int(m.group(1)), int(m.group(2)), errors, shot)
