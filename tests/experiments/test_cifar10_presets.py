"""The CIFAR-10 presets end to end in CI size: a CIFAR-10 folder written in the real
python-batch format from random data, one epoch, tiny widths through --set overrides."""

import json

import numpy as np
import pytest

from snnbench.data import write_cifar_batch
from snnbench.experiments.config import ConfigError, load_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite


@pytest.fixture
def cifar_root(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:  # 6 x 40 = 240 images
        write_cifar_batch(folder / name, rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8),
                          rng.integers(0, 10, 40))
    return tmp_path


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module runs with one torch thread (tests/conftest.py)."""


def _run_and_check(suite, tmp_path, preset: str) -> tuple[list[dict], dict]:
    """Run ``suite``; every model has a result, the matched baselines' parameter counts are
    within 5 % of the SNN's, every test accuracy is a fraction. Returns (rows, the SNN's row)."""
    run_dir = prepare_run_dir(suite, tmp_path / "run")
    rows = run_suite(suite, run_dir, progress=False)
    assert {r["model"] for r in rows} == {m.name for m in suite.experiments[0].models}
    snn = next(r for r in rows if r["model"] == "snn")
    matched = {m.name for m in suite.experiments[0].models if m.match == "snn"}
    for r in rows:
        if r["model"] in matched:
            assert abs(r["params"] - snn["params"]) <= 0.05 * snn["params"]
        final = json.loads((run_dir / preset / r["model"] / "seed0" / "final.json").read_text())
        assert 0.0 <= final["test_accuracy"] <= 1.0
    return rows, snn


@pytest.mark.parametrize("preset,overrides", [
    ("cifar10-line", ["models.0.hidden=[16, 16, 16, 16]", "models.0.kwargs.dropout=0.4",
                      "models.1.hidden=[16, 16, 16, 16]"]),
    ("cifar10-vgg", ["models.0.kwargs.width=0.03125", "models.0.kwargs.num_steps=2"]),
])
def test_cifar10_preset_runs_end_to_end(tmp_path, cifar_root, preset, overrides):
    suite = load_suite(preset, [f"data.root={cifar_root}", "train.epochs=1", "train.batch_size=50",
                                *overrides], seeds=1)
    assert suite.experiments[0].train.augment is not None  # augmentation on in the test run
    rows, snn = _run_and_check(suite, tmp_path, preset)
    if preset == "cifar10-line":  # the delayed twin: the same layers plus one position per weight
        assert next(r for r in rows if r["model"] == "snn_delay")["params"] > snn["params"]
    if preset == "cifar10-vgg":
        assert next(r for r in rows if r["model"] == "ann")["params"] == snn["params"]
    assert 0.0 <= snn["mean_spike_rate"] <= 1.0


def test_augment_refused_for_non_image_data():
    with pytest.raises(ConfigError, match="augment applies to images"):
        load_suite("cifar10-line", ["data.kind=series"])


def test_unset_augment_leaves_the_config_identity_as_before():
    train = load_suite("quickstart").experiments[0].train
    assert train.augment is None and "augment" not in train.model_dump(mode="json")
    aug = load_suite("cifar10-vgg").experiments[0].train.model_dump(mode="json")["augment"]
    assert aug == {"crop_padding": 4, "flip": True, "cutout": 16}


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["cifar10-line", "cifar10-vgg"])
def test_cifar10_preset_one_epoch_on_2000_images(tmp_path, preset):
    """The presets at their full size, one epoch on 2,000 random images written as CIFAR-10
    python batches (5 x 340 train, 300 test). Slow (minutes on 2 cores): run by hand with
    ``python -m pytest -m slow tests/experiments/test_cifar10_presets.py``."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, n in [*[(f"data_batch_{i}", 340) for i in range(1, 6)], ("test_batch", 300)]:
        write_cifar_batch(folder / name, rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
                          rng.integers(0, 10, n))
    suite = load_suite(preset, [f"data.root={tmp_path}", "train.epochs=1"], seeds=1)
    _run_and_check(suite, tmp_path, preset)
