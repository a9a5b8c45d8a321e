"""Tests for the cochlea encoder: shapes, tone selectivity, closed-form envelopes, LIF."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbench.data.audio import hz_to_mel
from snnbench.encoding.cochlea import (
    CochleaEncoder,
    centre_frequencies,
    cochlea_encode,
    cochleagram,
    erb,
    gammatone_filterbank,
)

SR = 8000
# the development copy of the data, passed explicitly: $SNNBENCH_DATA, else ../shared/data
# beside the repository (snnbench itself never looks there); tests skip when absent
DEV_DATA = Path(os.environ.get("SNNBENCH_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FSDD = DEV_DATA / "fsdd" / "recordings"


def _tone(freq: float, seconds: float = 0.4, amp: float = 0.5) -> torch.Tensor:
    t = np.arange(int(seconds * SR)) / SR
    return torch.tensor(amp * np.sin(2 * math.pi * freq * t))


@pytest.fixture(scope="module")
def enc() -> CochleaEncoder:
    return CochleaEncoder(SR, 32, fmin=100.0, fmax=3500.0)


def test_output_shape_batch_and_single(enc):
    waves = torch.randn(3, 1001, generator=torch.Generator().manual_seed(0)) * 0.1
    s = enc(waves)
    hop = 40  # 5 ms at 8 kHz
    assert s.shape == (math.ceil(1001 / hop), 3, 32) == (enc.num_frames(1001), 3, 32)
    assert enc(waves[0]).shape == (26, 1, 32)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    fixed = CochleaEncoder(SR, 32, fmax=3500.0, num_steps=10)
    assert fixed(waves).shape == (10, 3, 32)
    assert CochleaEncoder(SR, 32, fmax=3500.0, num_steps=40)(waves).shape == (40, 3, 32)


@pytest.mark.parametrize("channel", [0, 7, 16, 31])
def test_pure_tone_at_centre_excites_its_channel_most(enc, channel):
    cf = float(enc.centre_freqs[channel])
    counts = enc(_tone(cf)).sum(dim=(0, 1))
    assert int(counts.argmax()) == channel
    others = torch.cat([counts[:channel], counts[channel + 1 :]])
    assert counts[channel] > others.max()  # a strict winner, no tie


@pytest.mark.parametrize("channel", [3, 20])
def test_tone_between_channels_goes_to_the_nearest(enc, channel):
    lo, hi = (float(enc.centre_freqs[channel + i]) for i in (0, 1))
    for f, want in ((lo + 0.3 * (hi - lo), channel), (lo + 0.7 * (hi - lo), channel + 1)):
        env = enc.cochleagram(_tone(f))[10:, 0].mean(0)
        assert int(env.argmax()) == want
        assert int(enc(_tone(f)).sum(dim=(0, 1)).argmax()) == want


def test_steady_tone_envelope_is_amplitude_over_pi(enc):
    # Unit gain at the centre frequency, half-wave rectified sine averages A/pi.
    amp = 0.3
    cf = float(enc.centre_freqs[12])
    env = cochleagram(_tone(cf, 0.5, amp), SR, fir=enc.fir, compression="none", normalise=False)
    steady = env[40:, 0, 12]  # after the filter's ~50 ms build-up
    assert float(steady.mean()) == pytest.approx(amp / math.pi, rel=0.01)
    assert float(steady.std()) < 0.01 * amp


def test_filter_gains_match_gammatone_closed_form():
    cf = centre_frequencies(16, 200.0, 3000.0)
    fir = gammatone_filterbank(cf, SR).numpy()
    k = np.arange(fir.shape[1])

    def gain(ch: int, f: float) -> float:
        return float(abs((fir[ch] * np.exp(-2j * math.pi * f * k / SR)).sum()))

    for ch in (2, 9):
        assert gain(ch, float(cf[ch])) == pytest.approx(1.0, abs=1e-9)
        # 4th-order gammatone: |H(f)| ~ (1 + ((f - fc) / (1.019 ERB))^2)^-2 near fc.
        f = float(cf[ch + 1])
        delta = (f - float(cf[ch])) / (1.019 * float(erb(float(cf[ch]))))
        assert gain(ch, f) == pytest.approx((1 + delta**2) ** -2, rel=0.03)


def test_centre_frequencies_equally_spaced_on_the_scale():
    f = centre_frequencies(20, 100.0, 3800.0, "erb").numpy()
    e = 21.4 * np.log10(1 + 0.00437 * f)
    assert f[0] == 100.0 and f[-1] == 3800.0
    np.testing.assert_allclose(np.diff(e), np.full(19, np.diff(e).mean()), rtol=1e-9)
    m = hz_to_mel(centre_frequencies(20, 100.0, 3800.0, "mel").numpy())
    np.testing.assert_allclose(np.diff(m), np.full(19, np.diff(m).mean()), rtol=1e-9)


def test_lif_units_follow_the_closed_form_recursion(enc):
    w = _tone(600.0, 0.3) + _tone(1700.0, 0.3, 0.2)
    c = enc.cochleagram(w).double().numpy()[:, 0]
    beta, gain, thr = math.exp(-5.0 / 10.0), 1.3, 0.9
    s = cochlea_encode(w, SR, fir=enc.fir, tau_mem=10.0, gain=gain, threshold=thr)[:, 0].numpy()
    v = np.zeros(c.shape[1])
    ref = np.zeros_like(c)
    for t in range(c.shape[0]):
        v = beta * v + gain * c[t]
        ref[t] = v >= thr
        v = v - thr * ref[t]
    np.testing.assert_array_equal(s, ref)


def test_deterministic_batched_equals_single_and_loudness_invariant(enc):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(2, 1200, generator=g) * 0.2
    both = enc(w)
    assert torch.equal(both, enc(w))
    assert torch.equal(both[:, 1], enc(w[1])[:, 0])
    assert torch.equal(enc(0.1 * w), both)  # per-recording normalisation
    assert enc(torch.zeros(800)).sum() == 0  # silence stays silent


def test_delta_mode_doubles_channels_and_marks_onsets():
    d = CochleaEncoder(SR, 16, fmax=3500.0, spiking="delta", delta_threshold=0.2)
    cf = float(d.centre_freqs[5])
    w = torch.cat([torch.zeros(800), _tone(cf, 0.3)])
    s = d(w)
    assert s.shape == (d.num_frames(w.numel()), 1, 32) and d.out_channels == 32
    assert s[:20].sum() == 0  # silence: no change, no spike
    up = s[:, 0, :16].sum(0)
    assert int(up.argmax()) == 5
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_encode_list_pads_and_reports_lengths(enc):
    waves = [_tone(500.0, 0.1), _tone(900.0, 0.25)]
    x, lengths = enc.encode_list(waves)
    assert x.dtype == torch.uint8 and x.shape == (2, 50, 32)
    assert lengths.tolist() == [20, 50]
    assert x[0, 20:].sum() == 0
    assert torch.equal(x[1].float(), enc(waves[1])[:, 0])
    x2, l2 = enc.encode_list(waves, num_steps=30)
    assert x2.shape == (2, 30, 32) and l2.tolist() == [20, 30]


def test_validation_errors():
    with pytest.raises(ValueError, match="fmax"):
        CochleaEncoder(SR, 16, fmax=4000.0)
    with pytest.raises(ValueError, match="scale"):
        CochleaEncoder(SR, 16, scale="bark")
    with pytest.raises(ValueError, match="spiking"):
        CochleaEncoder(SR, 16, spiking="poisson")
    with pytest.raises(ValueError, match="n_channels"):
        CochleaEncoder(SR, 0)
    enc = CochleaEncoder(SR, 8)
    with pytest.raises(ValueError, match="wave"):
        enc(torch.zeros(2, 3, 100))
    with pytest.raises(ValueError, match="wave"):
        enc(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="dt"):
        cochleagram(torch.zeros(100), SR, dt=0.01)
    with pytest.raises(ValueError, match="compression"):
        cochleagram(torch.zeros(100), SR, compression="cube")


@pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD recordings not present (../shared/data/fsdd)")
def test_real_fsdd_recording():
    from snnbench.data.audio import read_wav

    wave, rate = read_wav(FSDD / "3_george_7.wav")
    enc = CochleaEncoder(rate, 64)
    s = enc(torch.as_tensor(wave))
    assert rate == 8000 and s.shape == (enc.num_frames(len(wave)), 1, 64)
    rate_per_step = float(s.mean())
    assert 0.01 < rate_per_step < 0.5  # sparse but not silent
    assert (s.sum(dim=(0, 1)) > 0).sum() > 32  # speech spreads over many channels
