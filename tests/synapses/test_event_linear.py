"""Event-driven linear synapse against torch's dense product (an independent reference)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snnbench import _native
from snnbench.synapses import event_linear as el
from snnbench.synapses import native_events
from snnbench.synapses.event_linear import EventLinear, event_linear, events_from_dense


@pytest.fixture(params=["c", "numba"], autouse=True)
def kernels(request, monkeypatch):
    """Every test runs on the compiled C kernels and on the numba ones."""
    if request.param == "c":
        if not native_events.available():
            pytest.skip("the C event kernels were not built")
        monkeypatch.setattr(_native, "MIN_WORK_PER_THREAD", 1)  # threads even for tiny inputs
    else:
        if not el._HAVE_NUMBA:
            pytest.skip("numba is not installed")
        monkeypatch.setattr(native_events, "available", lambda: False)
    return request.param


@pytest.fixture(autouse=True)
def small_layers(monkeypatch):
    """Let the tiny test layers take the event path (the product default is 256 outputs)."""
    monkeypatch.setattr(el, "MIN_OUT_FEATURES", 1)


def _spikes(shape, p, seed, dtype=torch.float64, graded=False):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g) < p).to(dtype)
    if graded:
        x = x * torch.rand(shape, generator=g, dtype=dtype) * 3
    return x


def _both(x, w, b):
    """(values, grads) of the event and the dense product on the same input."""
    out = []
    for fn in (lambda x_: event_linear(x_, w, b, max_density=1.0), lambda x_: F.linear(x_, w, b)):
        xr = x.clone().requires_grad_()
        y = fn(xr)
        gy = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
        params = [xr, w] + ([b] if b is not None else [])
        out.append((y.detach(), torch.autograd.grad(y, params, gy)))
    return out


@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_dense_product(graded, bias):
    x = _spikes((7, 5, 33), 0.2, seed=1, graded=graded)  # [T, B, K]
    g = torch.Generator().manual_seed(2)
    w = torch.randn(19, 33, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(19, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    (ye, ge), (yd, gd) = _both(x, w, b)
    assert ye.shape == (7, 5, 19)
    torch.testing.assert_close(ye, yd, rtol=0, atol=1e-12)
    for a, d in zip(ge, gd):
        torch.testing.assert_close(a, d, rtol=0, atol=1e-12)


def test_gradcheck_float64():
    x = _spikes((4, 3, 11), 0.3, seed=3, graded=True).requires_grad_()
    g = torch.Generator().manual_seed(4)
    w = torch.randn(6, 11, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    # gradcheck perturbs zeros into nonzeros, so the event set changes between evaluations:
    # the product is linear in x either way.
    assert torch.autograd.gradcheck(lambda x_, w_, b_: event_linear(x_, w_, b_, max_density=1.0),
                                    (x, w, b))


def test_events_of_a_known_matrix():
    x = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    ptr, idx, val = events_from_dense(x)
    assert ptr.tolist() == [0, 1, 3, 3, 4]
    assert idx.tolist() == [1, 0, 2, 2]
    assert val.tolist() == [2.0, 1.0, 3.0, 5.0]
    spikes = (x > 0).float()
    ptr_s, idx_s, val_s = events_from_dense(spikes)
    assert torch.equal(ptr_s, ptr) and torch.equal(idx_s, idx)
    assert val_s.numel() == 0  # all ones: values are not stored


def test_events_match_nonzero_across_thread_boundaries():
    # Many rows ending in zeros: a fill that wrote past a row's end would corrupt the first
    # event of the next row, which another thread owns.
    x = _spikes((257, 40), 0.15, seed=5, dtype=torch.float32)
    x[:, -3:] = 0
    ptr, idx, val = events_from_dense(x)
    nz = torch.nonzero(x)
    assert int(ptr[-1]) == nz.shape[0]
    assert torch.equal(idx.long(), nz[:, 1])
    assert torch.equal(torch.repeat_interleave(torch.diff(ptr)), nz[:, 0])
    assert val.numel() == 0  # spikes: values implied
    graded = x * 0.5
    assert torch.equal(events_from_dense(graded)[2], graded[nz[:, 0], nz[:, 1]])


def test_weight_gradient_over_many_row_chunks(monkeypatch):
    monkeypatch.setattr(el, "_CHUNK_BYTES", 64)  # 16-row chunks: dozens of accumulations
    x = _spikes((300, 24), 0.25, seed=6)
    g = torch.Generator().manual_seed(7)
    w = torch.randn(10, 24, generator=g, dtype=torch.float64, requires_grad=True)
    (_, ge), (_, gd) = _both(x, w, None)
    torch.testing.assert_close(ge[1], gd[1], rtol=0, atol=1e-12)


def test_result_does_not_depend_on_thread_count(kernels):
    x = _spikes((64, 50), 0.2, seed=8, dtype=torch.float32)
    w = torch.randn(37, 50, generator=torch.Generator().manual_seed(9), requires_grad=True)
    if kernels == "c":  # the C kernels take torch's thread count
        get, set_, most = torch.get_num_threads, torch.set_num_threads, 3
    else:
        import numba

        get, set_, most = numba.get_num_threads, numba.set_num_threads, numba.config.NUMBA_NUM_THREADS
    before = get()
    runs = []
    try:
        for n in sorted({1, most}):
            set_(n)
            y = event_linear(x, w, None, max_density=1.0)
            runs.append((y.detach(), torch.autograd.grad(y.square().sum(), w)[0]))
    finally:
        set_(before)
    for y, gw in runs[1:]:
        assert torch.equal(y, runs[0][0]) and torch.equal(gw, runs[0][1])


def test_dense_inputs_and_narrow_layers_use_the_dense_product(monkeypatch):
    x = _spikes((6, 20), 0.8, seed=10, graded=True)
    w = torch.randn(9, 20, dtype=torch.float64)
    dense = F.linear(x, w)
    assert torch.equal(event_linear(x, w, max_density=0.5), dense)  # too dense
    assert torch.equal(event_linear(x, w, max_density=0.0), dense)  # events off
    monkeypatch.setattr(el, "MIN_OUT_FEATURES", 10)
    assert torch.equal(event_linear(_spikes((6, 20), 0.1, 11), w, max_density=1.0),
                       F.linear(_spikes((6, 20), 0.1, 11), w))  # 9 outputs < 10


def test_nan_input_propagates_like_the_dense_product():
    x = _spikes((3, 8), 0.3, seed=12)
    x[1, 2] = float("nan")
    y = event_linear(x, torch.ones(4, 8, dtype=torch.float64), max_density=1.0)
    assert torch.isnan(y[1]).all() and not torch.isnan(y[[0, 2]]).any()


def test_bad_input_names_the_problem():
    w = torch.randn(4, 8)
    with pytest.raises(ValueError, match="8 features"):
        event_linear(torch.zeros(3, 7), w)
    with pytest.raises(ValueError, match="max_density"):
        event_linear(torch.zeros(3, 8), w, max_density=1.5)
    with pytest.raises(ValueError, match="max_density"):
        EventLinear(8, 4, max_density=-0.1)


def test_module_is_a_drop_in_linear():
    torch.manual_seed(0)
    dense = nn.Linear(30, 12).double()
    ev = EventLinear(30, 12, max_density=1.0).double()
    assert set(ev.state_dict()) == set(dense.state_dict())
    ev.load_state_dict(dense.state_dict())
    x = _spikes((5, 4, 30), 0.2, seed=13)
    torch.testing.assert_close(ev(x), dense(x), rtol=0, atol=1e-12)


def test_feedforward_snn_with_event_synapses_matches_dense():
    from snnbench.models.snn import FeedForwardSNN

    kw = dict(input_shape=(30,), hidden=[16], num_classes=3, num_steps=6, encoder="bernoulli")
    dense = FeedForwardSNN(**kw).double()
    ev = FeedForwardSNN(**kw, event_synapses=True).double()
    assert isinstance(ev.fcs[0], EventLinear) and isinstance(ev.out, EventLinear)
    ev.load_state_dict(dense.state_dict())
    x = torch.rand(8, 30, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    outs = [m(x, generator=torch.Generator().manual_seed(15)) for m in (dense, ev)]
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-9)


@pytest.mark.parametrize("graded", [False, True])
def test_c_kernels_bit_identical_to_numba(kernels, graded, monkeypatch):
    """The C kernels repeat the numba kernels' summation order: forward values and the
    weight gradient (over several row chunks) equal to the last bit in float32."""
    if kernels == "numba" or not el._HAVE_NUMBA:
        pytest.skip("compares the C kernels with numba")
    monkeypatch.setattr(el, "_CHUNK_BYTES", 4096)
    x = _spikes((40, 30, 70), 0.2, seed=21, dtype=torch.float32, graded=graded)
    g = torch.Generator().manual_seed(22)
    w = torch.randn(300, 70, generator=g, requires_grad=True)
    b = torch.randn(300, generator=g, requires_grad=True)
    runs = []
    for use_c in (True, False):
        monkeypatch.setattr(native_events, "available", lambda use_c=use_c: use_c)
        y = event_linear(x, w, b, max_density=1.0)
        runs.append((y.detach(), *torch.autograd.grad(y.square().sum(), (w, b))))
    for a, d in zip(*runs):
        assert torch.equal(a, d)


def test_spike_events_kept_as_a_bitmask(monkeypatch):
    """The counting pass sets bit k % 8 of byte k // 8 exactly where x is nonzero (K not a
    multiple of 8, an empty row), and spike events filled from the bits equal those of a
    graded input's path; the weight gradient from the bitmask equals the one from the event
    list to the last bit (several row chunks); a spike layer saves the bitmask, a graded
    one its events."""
    import numpy as np

    monkeypatch.setattr(el, "_CHUNK_BYTES", 256)
    x = _spikes((70, 37), 0.2, seed=41, dtype=torch.float32)
    x[5] = 0
    ptr, idx, val, bits = el._events(x, 1.0)
    assert val.numel() == 0
    p2, i2, v2 = events_from_dense(x * 0.5)  # graded: filled from x, with values
    assert torch.equal(p2, ptr) and torch.equal(i2, idx) and torch.equal(v2, x[x != 0] * 0.5)
    assert bits.shape == (70, 5) and bits.dtype == torch.uint8
    dense = np.unpackbits(bits.numpy(), axis=1, count=37, bitorder="little")
    assert np.array_equal(dense, (x != 0).numpy())
    g = torch.randn(70, 300, generator=torch.Generator().manual_seed(42))
    assert torch.equal(el._weight_grad(ptr, bits, val, g, 37, packed=True),
                       el._weight_grad(ptr, idx, val, g, 37))
    w = torch.randn(12, 37, requires_grad=True)
    y = event_linear(x, w, max_density=1.0)  # kept alive: its node holds the saved tensors
    saved = y.grad_fn.next_functions[0][0].saved_tensors
    assert any(t.dtype == torch.uint8 and t.shape == (70, 5) for t in saved)
    assert not any(t.dtype == torch.int32 for t in saved)
    yg = event_linear(x * 0.5, w, max_density=1.0)
    assert any(t.dtype == torch.int32 for t in yg.grad_fn.next_functions[0][0].saved_tensors)


def test_large_input_matches_dense_product():
    """An input big enough for many thread slices and row chunks in every kernel, and for
    event lists in their own memory mappings (1 MiB and more)."""
    assert el._mapped_empty(300_000, torch.int32).shape == (300_000,)
    x = _spikes((2000, 700), 0.25, seed=51, dtype=torch.float32)  # ~350k events
    w = torch.randn(300, 700, generator=torch.Generator().manual_seed(52), requires_grad=True)
    y = event_linear(x, w, max_density=1.0)
    torch.testing.assert_close(y, F.linear(x, w), rtol=1e-5, atol=1e-4)
    gw = torch.autograd.grad(y.sum(), w)[0]
    torch.testing.assert_close(gw, x.sum(0).expand(300, 700), rtol=1e-5, atol=1e-3)


def test_torch_keeps_its_thread_count():
    """numba's OpenMP layer sets the OpenMP thread count when it starts; torch, which reads
    that count, must keep the one it was given (1 here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = _spikes((6, 40), 0.3, 0).requires_grad_()
        w = torch.randn(5, 40, dtype=torch.float64, requires_grad=True)
        event_linear(x, w, None, max_density=1.0).sum().backward()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
