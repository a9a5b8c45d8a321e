"""The SHD, SSC and GSC delay presets (Hammouamri et al. 2023) end to end in CI size: small
files written in the real formats (SHD/SSC HDF5, Speech Commands wavs and lists), tiny
widths through --set overrides, two epochs (the sigma schedule moves), delays rounded."""

import json
import wave

import numpy as np
import pytest

from snnbench.data.events import write_hsd_h5
from snnbench.data.gsc import GSC_WORDS
from snnbench.experiments.config import load_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def _hsd_files(folder, name, n_classes, splits):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for split, n in splits.items():
        times, units = [], []
        for _ in range(n):
            k = int(rng.integers(5, 40))
            times.append(np.sort(rng.uniform(0.0, 0.3, k)))  # s: up to 30 frames of 10 ms
            units.append(rng.integers(0, 700, k))
        write_hsd_h5(folder / f"{name}_{split}.h5", times, units, rng.integers(0, n_classes, n))


def _gsc_folder(root):
    rng = np.random.default_rng(1)
    for w in GSC_WORDS:
        (root / w).mkdir(parents=True)
    test = []
    for i, w in enumerate(GSC_WORDS[:4]):
        for j in range(3):
            pcm = (rng.normal(0, 0.1, 8000 + 2000 * j) * 32767).astype("<i2")
            with wave.open(str(root / w / f"s{j}_nohash_0.wav"), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(16000)
                f.writeframes(pcm.tobytes())
            if j == 0:
                test.append(f"{w}/s{j}_nohash_0.wav")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "validation_list.txt").write_text("")


@pytest.mark.parametrize("preset", ["shd-delays", "ssc-delays", "gsc-delays"])
def test_delay_preset_runs_end_to_end(tmp_path, preset):
    data = tmp_path / "data"
    if preset == "shd-delays":
        _hsd_files(data, "shd", 20, {"train": 24, "test": 8})
    elif preset == "ssc-delays":
        _hsd_files(data, "ssc", 35, {"train": 24, "valid": 4, "test": 8})
    else:
        _gsc_folder(data)
    depth = 2 if preset == "shd-delays" else 3
    tiny = "[" + ", ".join(["6"] * depth) + "]"
    suite = load_suite(preset, [f"data.root={data}", "data.val_fraction=0", "train.epochs=2",
                                "train.batch_size=8", f"models.0.hidden={tiny}", f"models.1.hidden={tiny}"],
                       seeds=1)
    snn = suite.experiments[0].models[0]
    assert snn.type == "snn_delay_mlp" and snn.kwargs["max_delay"] == (25 if preset == "shd-delays" else 31)
    run_dir = prepare_run_dir(suite, tmp_path / "run")
    rows = run_suite(suite, run_dir, progress=False)
    by = {r["model"]: r for r in rows}
    assert set(by) == {"snn_delay", "snn", "gru"}
    assert abs(by["gru"]["params"] / by["snn_delay"]["params"] - 1) <= 0.05
    assert by["snn"]["params"] < by["snn_delay"]["params"]  # no delay positions
    for name in by:
        final = json.loads((run_dir / preset / name / "seed0" / "final.json").read_text())
        assert 0.0 <= final["test_accuracy"] <= 1.0
        # the delay network is tested after its delays were rounded to whole steps
        assert ("test_accuracy_before_rounding" in json.dumps(final)) == (name == "snn_delay")
