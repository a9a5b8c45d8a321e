"""The report opens in headless Chromium with every image decoded (skipped without Chromium)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pytest

from snnbench.report.browser import check_in_chromium, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")


def test_report_loads_in_chromium(tiny_report: Path, tmp_path: Path):
    check = check_in_chromium(tiny_report, tmp_path / "shot.png", window=(1000, 800))
    assert check.ok, check
    assert check.images_total >= 6
    shot = mpimg.imread(check.screenshot)
    assert shot.shape[:2] == (800, 1000) and shot[..., :3].std() > 0.01


def test_broken_page_is_reported(tmp_path: Path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><img alt='x' src='data:image/png;base64,AAAA'>"
                   "<script>undefined_function()</script></body></html>")
    check = check_in_chromium(bad)
    assert not check.ok and check.images_loaded == 0 and check.images_total == 1
    assert check.errors and "undefined_function" in check.errors[0]
