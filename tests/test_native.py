"""snnbench._native.keep_freed_memory: freed large buffers stay with the process."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

CHILD = """
import sys, torch
from snnbench._native import keep_freed_memory
ok = keep_freed_memory() if sys.argv[1] == "keep" else True
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
x = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched: above glibc's mmap threshold
before = rss_mib()
del x
print(ok, before - rss_mib())
"""


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc",
                    reason="mallopt settings are glibc's")
def test_freed_buffers_stay_with_the_process_only_when_asked():
    released = {}
    for mode in ("keep", "default"):
        out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
        ok, drop = out.stdout.split()
        assert ok == "True"
        released[mode] = float(drop)
    assert released["default"] > 48  # glibc returned the 64 MiB block at once (an mmap)
    assert released["keep"] < 16  # kept for the next step's buffers
