"""snnbench.load / predict / the predict CLI against what the run itself reported."""

import json

import numpy as np
import pytest
import torch

from snnbench.cli import main
from snnbench.experiments.config import DataConfig, validate_suite
from snnbench.experiments.runner import prepare_run_dir, run_suite
from snnbench.experiments.trained import fit_preprocessing, load, raw_test_split


def _suite():
    return {
        "name": "tiny", "seeds": [0],
        "experiments": [
            {"name": "digits", "data": {"name": "digits"},
             "models": [{"name": "snn", "type": "snn_ff", "hidden": [24],
                         "kwargs": {"encoder": "bernoulli", "num_steps": 6, "readout": "spike_count"}},
                        {"name": "mlp", "type": "mlp", "match": "snn"}],
             "train": {"epochs": 1, "batch_size": 64, "lr": 5e-3, "eval_batch_size": 100}},
            {"name": "basicmotions", "data": {"name": "basicmotions"},
             "models": [{"name": "snn", "type": "snn_ff", "hidden": [12],
                         "kwargs": {"encoder": "direct", "readout": "mean_membrane"}}],
             "train": {"epochs": 1, "batch_size": 8, "lr": 1e-2}},
        ],
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    suite = validate_suite(_suite())
    run = prepare_run_dir(suite, tmp_path_factory.mktemp("runs") / "tiny")
    run_suite(suite, run, progress=False)
    return run


@pytest.mark.parametrize("experiment,model", [("digits", "snn"), ("digits", "mlp"), ("basicmotions", "snn")])
def test_predict_on_raw_test_split_reproduces_the_run(run_dir, experiment, model):
    final = json.loads((run_dir / experiment / model / "seed0" / "final.json").read_text())
    m = load(run_dir, experiment=experiment, model=model)
    x, y = raw_test_split(run_dir, experiment=experiment)
    pred = m.predict(x)
    assert pred.tolist() == final["extra"]["predictions"]  # stochastic encoder included
    assert float((pred == y).mean()) == final["test_accuracy"]
    proba = m.predict_proba(x[:5])
    assert proba.shape == (5, m.num_classes) and np.allclose(proba.sum(1), 1.0)
    assert (proba.argmax(1) == m.predict(x[:5])).all()  # same noise for the same batch


def test_predict_activity_counts_spikes_of_every_layer(run_dir):
    m = load(run_dir / "digits" / "snn" / "seed0")  # a seed folder names everything
    x, _ = raw_test_split(run_dir, experiment="digits")
    p = m.predict(x[:7], return_activity=True)
    assert list(p.spike_counts) == ["fc1", "out"]
    assert p.spike_counts["fc1"].shape == (7, 24)
    # spike_count readout: the scores are the output layer's spike counts
    assert np.array_equal(p.output_spike_counts, p.scores)
    T = 6
    assert np.allclose(p.spike_rates["fc1"], p.spike_counts["fc1"].sum(1) / (24 * T))


def test_preprocessing_reproduces_finalize_for_every_kind():
    for name in ("iris", "basicmotions", "digits"):
        prep, splits = fit_preprocessing(DataConfig(name=name, val_fraction=0.1), seed=3)
        from snnbench.data.registry import _entry_for

        raw = _entry_for(name)[0].loader()
        x, lengths = prep.apply(raw.test_x)
        ref = splits.test.x
        assert torch.equal(x[:, : ref.shape[1]] if x.ndim == 3 else x, ref), name
        if lengths is not None:
            assert torch.equal(lengths, splits.test.lengths)


def test_wrong_inputs_get_one_line_errors(run_dir):
    m = load(run_dir, experiment="basicmotions")
    with pytest.raises(ValueError, match=r"expects \[N, L, 6\]"):
        m.predict(np.zeros((2, 100, 5)))
    d = load(run_dir, experiment="digits", model="snn")
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\]"):
        d.predict(np.full((1, 64), 16.0))
    with pytest.raises(ValueError, match="several experiments"):
        load(run_dir)
    with pytest.raises(FileNotFoundError):
        load(run_dir / "nope")


def test_cli_predict_writes_csv_with_the_runs_accuracy(run_dir, tmp_path, capsys):
    x, y = raw_test_split(run_dir, experiment="digits")
    np.savez(tmp_path / "test.npz", x=x, y=y)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run_dir), str(tmp_path / "test.npz"), "--experiment", "digits",
                 "--model", "snn", "--out", str(out)]) == 0
    final = json.loads((run_dir / "digits" / "snn" / "seed0" / "final.json").read_text())
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + len(y)
    pred = np.array([int(r.split(",")[1]) for r in rows[1:]])
    assert float((pred == y).mean()) == final["test_accuracy"]
    assert f"accuracy {final['test_accuracy']:.6f}" in capsys.readouterr().err
    # a CSV of flattened rows with a label column gives the same predictions
    csv = tmp_path / "test.csv"
    flat = x.reshape(len(x), -1)
    csv.write_text("label," + ",".join(f"p{i}" for i in range(64)) + "\n"
                   + "".join(f"{yy}," + ",".join(map(str, r)) + "\n" for yy, r in zip(y, flat)))
    assert main(["predict", str(run_dir / "digits" / "snn" / "seed0"), str(csv)]) == 0
    assert f"accuracy {final['test_accuracy']:.6f}" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros((3, 7)))
    assert main(["predict", str(run_dir / "digits" / "snn" / "seed0"), str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "expects [N, 1, 8, 8]" in err


def test_cli_export_writes_a_nir_graph_that_runs_like_the_model(run_dir, tmp_path, capsys):
    pytest.importorskip("nir", reason="needs the 'nir' package (the interop extra)")
    import snnbench

    seed = run_dir / "digits" / "snn" / "seed0"
    out = tmp_path / "m.nir"
    assert main(["export", str(seed), str(out)]) == 2  # the preset's soft reset: refused by name
    assert "reset='soft'" in capsys.readouterr().err
    assert main(["export", str(seed), str(out), "--soft-reset-metadata"]) == 0
    net = snnbench.nir.load(out)
    m = snnbench.load(seed)
    seq, _ = m.network.encode(m._splits.test.x[:20], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(net(seq.flatten(2)), m.network.run(seq))
