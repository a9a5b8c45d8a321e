"""Diehl & Cook network: compiled simulation vs a torch reference, learning, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from snnbench.learning.stdp import STDPParams, stdp_delta, trace_step
from snnbench.experiments.diehl_cook_config import (
    GRID_CELLS,
    DiehlCookConfig,
    diehl_cook_preset,
    grid_cell_config,
    grid_configs,
)
from snnbench.experiments.stdp_runner import run_diehl_cook
from snnbench.learning.labels import assign_labels, label_shares, predict
from snnbench.models.diehl_cook import (
    DiehlCookState,
    encode_events,
    init_state,
    present,
    respond,
    train_epoch,
)
from snnbench.report.stdp_plots import save_all


def _reference(cfg: DiehlCookConfig, W0, theta0, spikes):
    """Step-by-step torch simulation of one presentation written from the equations, using
    the generic rule of snnbench.learning.stdp ('set' traces). ``spikes`` [T, n_in] counts."""
    W = torch.tensor(W0).clone()  # [in, N]
    theta = torch.tensor(theta0).clone()
    N = W.shape[1]
    p = STDPParams(nu_pre=cfg.nu_pre, nu_post=cfg.nu_post, tau_pre=cfg.tau_pre,
                   tau_post=cfg.tau_post, dt=cfg.dt, wmin=cfg.wmin, wmax=cfg.wmax,
                   rule=cfg.rule, trace_mode=cfg.trace_mode)
    dv = 1.0 if cfg.neuron == "if" else math.exp(-cfg.dt / cfg.tau_mem)
    tp = cfg.theta_plus if cfg.neuron == "adaptive_lif" else 0.0
    refr_steps = int(round(cfg.refrac_ms / cfg.dt))
    v = torch.full((N,), cfg.v_rest, dtype=torch.float64)
    refr = torch.zeros(N, dtype=torch.long)
    x_pre = torch.zeros(W.shape[0], dtype=torch.float64)
    x_post = torch.zeros(N, dtype=torch.float64)
    counts = torch.zeros(N, dtype=torch.long)
    for s_pre in torch.as_tensor(spikes, dtype=torch.float64):
        x_pre = trace_step(x_pre, s_pre, cfg.tau_pre, cfg.dt, cfg.trace_mode)
        v = cfg.v_rest + (v - cfg.v_rest) * dv
        active = refr == 0
        v = torch.where(active, v + cfg.input_gain * (s_pre @ W), v)
        refr = torch.where(active, refr, refr - 1)
        if tp:
            theta = theta * math.exp(-cfg.dt / cfg.tau_theta)  # every step, before the test
        over = v - (cfg.v_thresh + theta)
        s_post = (over >= 0).double()
        if cfg.one_spike and s_post.sum() > 1:
            s_post = torch.zeros(N, dtype=torch.float64)
            s_post[int(torch.argmax(over))] = 1.0
        fired = s_post > 0
        v = torch.where(fired, torch.full_like(v, cfg.v_reset), v)
        refr = torch.where(fired, torch.full_like(refr, refr_steps), refr)
        theta = theta + tp * s_post
        n = s_post.sum()
        v = v - cfg.inhibition_mv * (n - s_post)
        counts += fired.long()
        x_post = trace_step(x_post, s_post, cfg.tau_post, cfg.dt, cfg.trace_mode)
        # within a step: depression on pre spikes (each event in turn, so two spikes of one
        # input depress twice), then potentiation on post spikes
        for k in range(int(s_pre.max())):
            dep = stdp_delta(W.T, (s_pre > k).double(), s_post, x_pre, x_post, p._replace(nu_post=0.0))
            W = (W + dep.T).clamp(cfg.wmin, cfg.wmax)
        pot = stdp_delta(W.T, s_pre, s_post, x_pre, x_post, p._replace(nu_pre=0.0))
        W = (W + pot.T).clamp(cfg.wmin, cfg.wmax)
    theta = theta * math.exp(-cfg.rest_ms / cfg.tau_theta) if tp else theta
    return W.numpy(), theta.numpy(), counts.numpy()


@pytest.mark.parametrize(
    "rule,neuron,one_spike,trace_mode",
    [("stdp", "adaptive_lif", True, "set"), ("hebbian", "lif", False, "set"),
     ("stdp", "if", False, "set"), ("weight_dependent", "adaptive_lif", False, "set"),
     ("stdp", "adaptive_lif", False, "add"), ("weight_dependent", "lif", True, "add")],
)
def test_compiled_presentation_matches_torch_reference(rule, neuron, one_spike, trace_mode):
    cfg = DiehlCookConfig(n_inputs=12, n_neurons=4, presentation_ms=60, dt=0.5, rule=rule,
                          trace_mode=trace_mode,
                          neuron=neuron, one_spike=one_spike, nu_pre=0.01, nu_post=0.02,
                          theta_plus=0.5, tau_theta=200.0, inhibition_mv=3.0, refrac_ms=2.0,
                          v_thresh=-60.0, v_reset=-64.0, weight_norm=None)
    g = np.random.default_rng(0)
    T = cfg.num_steps
    spikes = (g.random((T, cfg.n_inputs)) < 0.15).astype(np.int64)
    spikes[10, 3] = 2  # two spikes of one input in one step count twice
    ptr = np.concatenate([[0], np.cumsum(spikes.sum(1))]).astype(np.int64)
    idx = np.concatenate([np.repeat(np.arange(cfg.n_inputs), spikes[t]) for t in range(T)]).astype(np.int64)
    W0 = g.uniform(0.3, 0.7, (cfg.n_inputs, cfg.n_neurons))
    th0 = g.uniform(0.0, 1.0, cfg.n_neurons)
    st = DiehlCookState(weights=W0.copy(), theta=th0.copy())
    counts, raster = present(cfg, st, ptr, idx, learn=True, record=True)
    W_ref, th_ref, c_ref = _reference(cfg, W0, th0, spikes)
    assert counts.sum() > 3  # the case exercises spikes, resets and inhibition
    np.testing.assert_array_equal(counts, c_ref)
    np.testing.assert_array_equal(raster.sum(0), c_ref)
    np.testing.assert_allclose(st.weights, W_ref, atol=1e-12)
    np.testing.assert_allclose(st.theta, th_ref, atol=1e-12)
    assert not np.allclose(W0, W_ref)


def test_theta_decays_every_step_closed_form():
    """theta after a presentation, from its spike steps t_k (0-based, T steps, decay before
    the threshold test, then the rest period):
    theta = (theta0 e^{-T dt/tau} + sum_k theta_plus e^{-(T-1-t_k) dt/tau}) e^{-rest/tau}."""
    tau, tp, T, rest = 200.0, 0.5, 300, 150.0
    cfg = DiehlCookConfig(n_inputs=1, n_neurons=1, presentation_ms=T, rest_ms=rest,
                          theta_plus=tp, tau_theta=tau, inhibition_mv=0.0, refrac_ms=5.0,
                          nu_pre=0.0, nu_post=0.0, w_init_max=1.0, weight_norm=None, input_gain=4.0)
    ptr = np.arange(T + 1, dtype=np.int64)  # the input fires every step
    idx = np.zeros(T, np.int64)
    th0 = 1.0
    st = DiehlCookState(weights=np.ones((1, 1)), theta=np.array([th0]))
    counts, raster = present(cfg, st, ptr, idx, learn=True, record=True)
    t_k = np.flatnonzero(raster[:, 0])
    assert 10 < len(t_k) < T // 6  # the threshold adapts: far fewer spikes than the drive allows
    want = (th0 * math.exp(-T / tau) + tp * np.exp(-(T - 1 - t_k) / tau).sum()) * math.exp(-rest / tau)
    assert st.theta[0] == pytest.approx(want, rel=1e-12)
    # the spike train follows the per-step dynamics (torch reference written from the equations)
    _, th_ref, c_ref = _reference(cfg, np.ones((1, 1)), np.array([th0]), np.ones((T, 1), np.int64))
    assert counts.tolist() == c_ref.tolist() and st.theta[0] == pytest.approx(th_ref[0], rel=1e-12)


@pytest.mark.parametrize("rule", ["stdp", "weight_dependent"])
def test_triplet_potentiation_hand_case(rule):
    """One input, one IF neuron that fires on each input spike (steps 2 and 7, dt 1 ms),
    depression off. Pair rule: each post spike adds nu_post * x_pre = nu_post (the pre trace
    is set in the same step). Triplet (tau_post2): the first spike finds the slow post trace
    at 0 and adds nothing; the second adds nu_post * exp(-5 / tau_post2)."""
    nu, w0, wmax = 0.1, 10.0, 20.0
    base = dict(n_inputs=1, n_neurons=1, presentation_ms=10, neuron="if", rule=rule,
                v_rest=-65.0, v_reset=-65.0, v_thresh=-60.0, refrac_ms=0.0, inhibition_mv=0.0,
                nu_pre=0.0, nu_post=nu, wmax=wmax, w_init_max=w0, weight_norm=None)
    ptr = np.array([0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2], np.int64)  # input spikes at steps 2, 7
    idx = np.zeros(2, np.int64)

    def grow(**kw):
        st = DiehlCookState(weights=np.full((1, 1), w0), theta=np.zeros(1))
        counts, _ = present(DiehlCookConfig(**base, **kw), st, ptr, idx, learn=True)
        assert counts.tolist() == [2]
        return st.weights[0, 0]

    soft = (lambda w: wmax - w) if rule == "weight_dependent" else (lambda w: 1.0)
    w1 = w0 + nu * soft(w0)
    assert grow() == pytest.approx(w1 + nu * soft(w1), rel=1e-12)
    for tau2 in (40.0, 10.0):
        assert grow(tau_post2=tau2) == pytest.approx(w0 + nu * math.exp(-5.0 / tau2) * soft(w0), rel=1e-12)


def test_learning_off_changes_nothing():
    cfg = DiehlCookConfig(n_inputs=16, n_neurons=5, presentation_ms=50, v_thresh=-62.0, v_reset=-64.0)
    st = init_state(cfg, torch.Generator().manual_seed(0))
    W0, th0 = st.weights.copy(), st.theta.copy()
    ptr, idx = encode_events(cfg, np.ones(16), seed=1)
    counts, _ = present(cfg, st, ptr, idx, learn=False)
    assert counts.sum() > 0
    np.testing.assert_array_equal(st.weights, W0)
    np.testing.assert_array_equal(st.theta, th0)


def test_encoding_statistics():
    x = np.zeros(784)
    x[:200] = 1.0
    x[200:400] = 0.25
    for enc in ("poisson", "bernoulli"):
        cfg = DiehlCookConfig(encoding=enc, presentation_ms=350.0)
        n = [len(encode_events(cfg, x, seed=s)[1]) for s in range(20)]
        expect = (200 + 50) * 63.75 * 0.350  # rate (Hz) x duration (s)
        sd = math.sqrt(expect / 20)
        assert abs(np.mean(n) - expect) < 5 * sd
    cfg = DiehlCookConfig(encoding="rank_order", presentation_ms=100.0)
    xr = np.zeros(784)
    xr[[5, 6, 7]] = [1.0, 0.5, 0.1]
    ptr, idx = encode_events(cfg, xr, seed=0)
    steps = np.repeat(np.arange(cfg.num_steps), np.diff(ptr))
    assert dict(zip(idx.tolist(), steps.tolist())) == {5: 0, 6: 50, 7: 89}
    # the same seed gives the same train
    a = encode_events(DiehlCookConfig(), x, seed=3)
    b = encode_events(DiehlCookConfig(), x, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_poisson_intervals_encoding_statistics():
    """BindsNET's encoder: integer intervals ~ Poisson(mean 1000 / rate ms), zeros raised to
    1, so interval mean ~ variance ~ 10 steps at 100 Hz (an exponential would have s.d. 10)."""
    cfg = DiehlCookConfig(n_inputs=1, encoding="poisson_intervals", max_rate_hz=100.0,
                          presentation_ms=200_000.0)
    ptr, idx = encode_events(cfg, np.ones(1), seed=0)
    steps = np.repeat(np.arange(cfg.num_steps), np.diff(ptr))
    gaps = np.diff(np.concatenate([[-1], steps]))  # the first interval counts from the start
    assert len(gaps) > 19_000 and gaps.min() >= 1
    se = math.sqrt(10.0 / len(gaps))
    assert abs(gaps.mean() - 10.0) < 5 * se
    assert abs(gaps.var() - 10.0) < 0.5


def test_assign_and_predict_hand_case():
    counts = np.array([[5, 0, 1, 0], [4, 1, 0, 0], [0, 3, 0, 0], [1, 6, 2, 0]])
    y = np.array([0, 0, 1, 1])
    labels = assign_labels(counts, y, 3)
    # neuron 0: class means (4.5, 0.5); neuron 1: (0.5, 4.5); neuron 2: (0.5, 1.0); neuron 3 silent
    np.testing.assert_array_equal(labels, [0, 1, 1, -1])
    pred = predict(np.array([[2, 0, 0, 9], [0, 2, 4, 0], [0, 0, 0, 0]]), labels, 3)
    # class 2 has no neurons; class 1 = mean of neurons 1 and 2
    np.testing.assert_array_equal(pred, [0, 1, 0])


def test_proportion_vote_hand_case():
    # class means: neuron 0 (4, 0), neuron 1 (2, 2) -> label 0 (tie: lowest), neuron 2 (0, 1)
    counts = np.array([[4, 2, 0], [0, 2, 1]])
    y = np.array([0, 1])
    labels = assign_labels(counts, y, 2)
    np.testing.assert_array_equal(labels, [0, 0, 1])
    shares = label_shares(counts, y, 2)
    np.testing.assert_allclose(shares, [1.0, 0.5, 1.0])
    test = np.array([[1, 4, 2]])
    # "all": class 0 = (1 + 4) / 2 = 2.5 > class 1 = 2; proportion: (1 + 4 * 0.5) / 2 = 1.5 < 2
    np.testing.assert_array_equal(predict(test, labels, 2), [0])
    np.testing.assert_array_equal(predict(test, labels, 2, shares), [1])
    # silent neurons get weight 0 and label -1; a wrong-length weight vector is refused
    np.testing.assert_allclose(label_shares(np.array([[1, 0]]), np.array([0]), 2), [1.0, 0.0])
    with pytest.raises(ValueError, match=r"weights must be \[n_neurons\]"):
        predict(test, labels, 2, np.ones(2))


def _patterns(n_per=30, seed=0):
    """Three non-overlapping bars of 12 of 36 inputs, with noisy intensities in [0.6, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.zeros(3, 36)
    base[0, :12] = 1
    base[1, 12:24] = 1
    base[2, 24:] = 1
    y = torch.arange(3).repeat(n_per)
    x = (base[y] * (0.6 + 0.4 * torch.rand(len(y), 36, generator=g))).clamp(0, 1)
    return x, y


def test_small_network_separates_three_patterns_without_labels():
    x, y = _patterns()
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=6, presentation_ms=100.0, weight_norm=6.0,
                          max_rate_hz=200.0, inhibition_mv=30.0, theta_plus=0.1, epochs=2,
                          nu_post=0.05, seed=0)
    m = run_diehl_cook(cfg, x, y, x, y, None, progress=False)
    W = m["state"].weights  # [36, 6]
    labels = m["labels"]
    assert set(labels[labels >= 0].tolist()) == {0, 1, 2}
    assert m["test_accuracy"] == 1.0
    # each labelled neuron's weight mass sits on its pattern's inputs (learned, not given)
    for j, c in enumerate(labels):
        if c >= 0:
            own = W[12 * c: 12 * (c + 1), j].sum()
            assert own > 0.8 * W[:, j].sum()


def test_untrained_network_does_not_already_separate():
    """Control for the test above: random weights and no learning do not give 100%."""
    x, y = _patterns()
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=6, presentation_ms=100.0, weight_norm=6.0,
                          max_rate_hz=200.0, inhibition_mv=30.0, theta_plus=0.1, seed=0)
    g = torch.Generator().manual_seed(0)
    st = init_state(cfg, g)
    for j in range(6):
        assert st.weights[:12, j].sum() < 0.6 * st.weights[:, j].sum()


def test_online_assignment_and_eval_options_run():
    x, y = _patterns(6)
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=6, presentation_ms=60.0, weight_norm=6.0,
                          max_rate_hz=200.0, inhibition_mv=30.0, theta_plus=0.1, epochs=2,
                          assign_from="train_online", eval_presentations=2,
                          eval_inhibition_mv=10.0, eval_one_spike=False, nu_decay=0.5)
    m = run_diehl_cook(cfg, x, y, x, y, None, progress=False)
    assert len(m["test_accuracy_per_epoch"]) == 2
    assert m["train_samples_per_s"][0] > 0 and m["eval_samples_per_s"][0] > 0
    # two summed presentations give about twice the spikes of one
    st = m["state"]
    one = respond(cfg.model_copy(update={"eval_presentations": 1}), st, x, torch.Generator().manual_seed(0))
    two = respond(cfg, st, x, torch.Generator().manual_seed(0))
    assert 1.5 < two["counts"].sum() / one["counts"].sum() < 2.5
    # both votes are recorded; the config's vote ("all" by default) is the headline figure
    by_vote = m["test_accuracy_per_epoch_by_vote"]
    assert set(by_vote) == {"all", "proportion"} and m["test_accuracy_per_epoch"] == by_vote["all"]
    mp = run_diehl_cook(cfg.model_copy(update={"vote": "proportion"}), x, y, x, y, None, progress=False)
    assert mp["test_accuracy_per_epoch_by_vote"] == by_vote  # the vote does not change training
    assert mp["test_accuracy_per_epoch"] == by_vote["proportion"]


def test_training_is_deterministic_and_normalises():
    x, _ = _patterns(10)
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=4, presentation_ms=50.0, weight_norm=3.6)
    out = []
    for _ in range(2):
        g = torch.Generator().manual_seed(5)
        st = init_state(cfg, g)
        r = train_epoch(cfg, st, x, g)
        out.append((st.weights.copy(), st.theta.copy(), r["counts"]))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][2], out[1][2])
    np.testing.assert_allclose(out[0][0].sum(0), 3.6, rtol=1e-12)
    # learning-off responses in parallel are deterministic too
    a = respond(cfg, DiehlCookState(weights=out[0][0], theta=out[0][1]), x, torch.Generator().manual_seed(1))
    b = respond(cfg, DiehlCookState(weights=out[0][0], theta=out[0][1]), x, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(a["counts"], b["counts"])


def test_low_activity_repeats_with_higher_rate():
    x = torch.zeros(2, 36)
    x[:, :3] = 0.2  # far too weak to reach 5 spikes
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=3, presentation_ms=50.0, max_repeats=3)
    st = init_state(cfg, torch.Generator().manual_seed(0))
    r = train_epoch(cfg, st, x, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(r["repeats"], [3, 3])


def test_run_writes_files(tmp_path):
    x, y = _patterns(4)
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=4, presentation_ms=40.0, weight_norm=3.6)
    m = run_diehl_cook(cfg, x, y, x, y, tmp_path, progress=False, plot=save_all)
    for name in ("config.json", "metrics.json", "weights.safetensors", "receptive_fields.png",
                 "assignment_histogram.png", "raster.png"):
        assert (tmp_path / name).exists()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy"] == m["test_accuracy"]
    from safetensors.torch import load_file

    w = load_file(tmp_path / "weights.safetensors")
    assert w["weights"].shape == (4, 36)
    np.testing.assert_allclose(w["weights"].numpy(), m["state"].weights.T, rtol=1e-6)
    assert w["theta"].shape == (4,) and w["labels"].shape == (4,)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(nu_pre=-1e-4), "nu_pre"),
        (dict(nu_post=-0.01), "nu_post"),
        (dict(tau_pre=-20.0), "tau_pre"),
        (dict(tau_post=0.0), "tau_post"),
        (dict(tau_post2=-40.0), "tau_post2"),
        (dict(tau_theta=-1.0), "tau_theta"),
        (dict(wmin=1.0, wmax=0.5), "wmin"),
        (dict(encoding="latency"), "encoding"),
        (dict(n_neurons=0), "n_neurons"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValidationError, match=field):
        DiehlCookConfig(**kwargs)


def test_wrong_image_size_is_a_clear_error():
    cfg = DiehlCookConfig(n_neurons=2)
    x = torch.rand(3, 1, 20, 20)
    with pytest.raises(ValueError, match=r"x_train must have 784 values per sample"):
        run_diehl_cook(cfg, x, torch.zeros(3), torch.rand(3, 784), torch.zeros(3), None, progress=False)
    with pytest.raises(ValueError, match=r"x_test must be <= 1"):
        run_diehl_cook(cfg, torch.rand(3, 784), torch.zeros(3), 2 * torch.ones(3, 784), torch.zeros(3),
                       None, progress=False)


def test_grid_has_27_valid_distinct_cells():
    cells = grid_configs(n_neurons=10)
    assert len(cells) == 27
    assert len({(c.encoding, c.neuron, c.rule) for c in cells}) == 27
    assert all(c.n_neurons == 10 for c in cells)
    # every cell records why it has its setting, and the per-cell overrides are applied
    assert all(reason for _, reason in GRID_CELLS.values() if _) and len(GRID_CELLS) == 27
    ro = grid_cell_config("rank_order", "adaptive_lif", "stdp")
    assert ro.presentation_ms == 50.0 and ro.theta_plus == 0.25 and ro.notes
    assert "homeostatic" in GRID_CELLS[("poisson", "lif", "hebbian")][1]
    with pytest.raises(ValueError, match="grid cell"):
        grid_cell_config("latency", "lif", "stdp")


def test_presets_build_valid_configs():
    for n in (100, 400):
        cfg = DiehlCookConfig(**diehl_cook_preset(n))
        assert cfg.n_neurons == n and cfg.epochs == 3
    assert DiehlCookConfig(**diehl_cook_preset(400)).theta_plus == pytest.approx(0.6)
    # triplet potentiation below 400 neurons only (chosen by cross-validation at 100 and 400)
    assert diehl_cook_preset(100)["tau_post2"] == 40.0 and diehl_cook_preset(400)["tau_post2"] is None
    with pytest.raises(ValueError, match="n_neurons"):
        diehl_cook_preset(0)


def test_rstdp_readout_replaces_label_assignment_on_learned_features():
    x, y = _patterns()
    cfg = DiehlCookConfig(n_inputs=36, n_neurons=6, presentation_ms=100.0, weight_norm=6.0,
                          max_rate_hz=200.0, inhibition_mv=30.0, theta_plus=0.1, epochs=2,
                          nu_post=0.05, seed=0, rstdp_readout=True)
    m = run_diehl_cook(cfg, x, y, x, y, None, progress=False)
    ro = m["rstdp_readout"]
    assert ro["test_accuracy"] == 1.0 and ro["train_accuracy"] == 1.0
    assert 1 <= ro["settings"]["epochs"] <= 20 and ro["settings"]["rate"] in (3e-3, 1e-2, 3e-2)
    # the readout does not change the unsupervised run: same labels and accuracy without it
    m0 = run_diehl_cook(cfg.model_copy(update={"rstdp_readout": False}), x, y, x, y, None, progress=False)
    assert "rstdp_readout" not in m0
    assert m0["test_accuracy_per_epoch"] == m["test_accuracy_per_epoch"]
    assert (m0["labels"] == m["labels"]).all()
