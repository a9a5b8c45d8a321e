import pytest

from snnbench.experiments.config import (
    ConfigError,
    apply_overrides,
    list_presets,
    load_raw,
    load_suite,
    validate_suite,
)


def _suite(**over):
    raw = {
        "name": "t",
        "seeds": [0],
        "experiments": [
            {
                "name": "digits",
                "data": {"name": "digits"},
                "models": [
                    {"name": "snn", "type": "snn_ff", "hidden": [32]},
                    {"name": "mlp", "type": "mlp", "match": "snn"},
                ],
                "train": {"epochs": 1},
            }
        ],
    }
    raw.update(over)
    return raw


def test_every_preset_validates():
    presets = list_presets()
    assert "quickstart" in presets
    for name in presets:
        load_suite(name)


def test_overrides_reach_every_experiment_and_parse_yaml_values():
    raw = apply_overrides(_suite(), ["train.epochs=5", "train.lr=2e-3", "models.0.hidden=[16, 8]", "seeds=[1,2]"])
    suite = validate_suite(raw)
    exp = suite.experiments[0]
    assert exp.train.epochs == 5 and exp.train.lr == pytest.approx(2e-3)
    assert exp.models[0].hidden == [16, 8] and suite.seeds == [1, 2]


@pytest.mark.parametrize(
    "override, field",
    [
        ("train.epochs=0", "experiments.0.train.epochs"),
        ("train.optimizer=sgdx", "experiments.0.train.optimizer"),
        ("train.lr=-1", "experiments.0.train.lr"),
        ("train.epochz=3", "experiments.0.train.epochz"),
        ("data.name=nosuchset", "experiments.0.data.name"),
        ("models.0.type=transformer", "experiments.0.models.0.type"),
        ("models.0.hidden=[0]", "experiments.0.models.0.hidden"),
        ("seeds=[]", "seeds"),
        ("device=tpu", "device"),
    ],
)
def test_invalid_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        validate_suite(apply_overrides(_suite(), [override]))
    assert field in str(err.value)


def test_match_must_name_an_snn():
    raw = _suite()
    raw["experiments"][0]["models"][1]["match"] = "nope"
    with pytest.raises(ConfigError, match="match='nope' names no model"):
        validate_suite(raw)


def test_bad_override_syntax_and_unknown_spec(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(_suite(), ["train.epochs"])
    with pytest.raises(ConfigError, match="neither a preset"):
        load_raw("no-such-preset")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid"):
        load_raw(str(bad))


def test_toml_config_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "t"\nseeds = [0, 1]\n[[experiments]]\nname = "d"\n[experiments.data]\nname = "digits"\n'
        '[[experiments.models]]\nname = "m"\ntype = "mlp"\nhidden = [8]\n'
    )
    suite = load_suite(str(path), seeds=3)
    assert suite.seeds == [0, 1, 2] and suite.experiments[0].models[0].type == "mlp"


def test_every_preset_builds_its_models_with_matched_baselines():
    """Each surrogate-gradient preset on a dataset that pip ships builds every model, and
    every matched baseline lands within its tolerance of the SNN's parameter count."""
    from snnbench.data import load_dataset
    from snnbench.experiments.runner import build_experiment_model

    shipped = {"digits", "mnist5k", "basicmotions", "japanesevowels", "gunpoint", "iris"}
    infos = {}
    built = 0
    for name in list_presets():
        suite = load_suite(name)
        for exp in suite.experiments:
            if exp.data.name not in shipped:
                continue
            if exp.data.name not in infos:
                infos[exp.data.name] = load_dataset(exp.data.name, val_fraction=0.0).info
            counts = {}
            for m in exp.models:
                _, info = build_experiment_model(exp, m, infos[exp.data.name])
                counts[m.name] = info["params"]
                built += 1
                if m.match is not None:
                    assert abs(info["params"] / counts[m.match] - 1) <= m.match_tolerance, (name, m.name)
    assert built >= 10
