r"""A cochlea-like audio encoder: waveform -> band-pass filterbank -> envelopes -> spikes.

The recipe the Spiking Heidelberg Digits were made with (a cochlea model feeding spiking
units), in a simple, deterministic form:

1. **Filterbank.** ``C`` gammatone band-pass filters (Patterson et al. 1992) with centre
   frequencies :math:`f_c` equally spaced on the ERB-rate scale (Glasberg & Moore 1990,
   :math:`E(f) = 21.4 \log_{10}(1 + 0.00437 f)`) or on the HTK mel scale, between ``fmin``
   and ``fmax`` (Hz). Impulse response, :math:`t` in s:

   .. math::

       h_c(t) = t^{n-1} e^{-2\pi b\,\mathrm{ERB}(f_c) t} \cos(2\pi f_c t),
       \qquad \mathrm{ERB}(f) = 24.7 (4.37 f / 1000 + 1)\ \mathrm{Hz},

   order :math:`n = 4`, :math:`b = 1.019`, truncated once the envelope has decayed below
   ~1e-3 of its peak and scaled to unit gain at :math:`f_c` (a pure tone of amplitude
   :math:`A` at :math:`f_c` leaves channel ``c`` with amplitude :math:`A`). Applied as a
   causal FIR by FFT convolution.
2. **Hair cells.** Half-wave rectification :math:`r = \max(y, 0)`, then a low-pass
   envelope sampled at the frame rate :math:`1/dt`: the Hann-weighted mean of :math:`r` over
   the ``win_ms`` window that ends with frame :math:`t`,
   :math:`e_t = \sum_{j<W} w_j\, r[(t+1)H - W + j] / \sum_j w_j`, with
   :math:`H = \mathrm{round}(dt \cdot f_s / 1000)` and :math:`W \ge H` samples (causal;
   samples before the start are 0). The window should span at least two periods of the
   lowest centre frequency (20 ms for 100 Hz), otherwise the envelope keeps a ripple at
   :math:`f_c`. A steady tone of amplitude :math:`A` gives :math:`e \approx A/\pi` in its
   own channel.
3. **Compression.** ``"power"``: :math:`c = e^{p}` (default :math:`p = 0.3`, a
   Stevens-like loudness law); ``"log"``: :math:`c = \log(1 + e/e_0)`; ``"none"``:
   :math:`c = e`. With ``normalise=True`` each recording is divided by its largest
   :math:`c`, so loudness does not change the code (``c`` in [0, 1]).
4. **Spiking units**, one per channel and frame:

   - ``"lif"``: :math:`v_t = \beta v_{t-1} + g\,c_t`, spike when :math:`v_t \ge \vartheta`,
     soft reset :math:`v_t \leftarrow v_t - \vartheta`, :math:`\beta = e^{-dt/\tau_{mem}}`
     (``snnbench.neurons.lif``). Output ``[T, B, C]``.
   - ``"delta"``: send-on-change of :math:`c` with threshold :math:`\delta`, at most one
     spike per step (``snnbench.encoding.delta``), up channels then down channels:
     ``[T, B, 2C]``.

Nothing is random: the same waveform always gives the same spikes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._signature import takes_options_of
from .._validation import check_choice, check_int, check_positive
from ..data.audio import hz_to_mel, mel_to_hz
from ..neurons.lif import LIFParams, lif
from ._common import Encoder, as_float
from .delta import delta_encode

__all__ = [
    "CochleaEncoder",
    "centre_frequencies",
    "cochlea_encode",
    "cochleagram",
    "erb",
    "gammatone_filterbank",
]

SCALES = ("erb", "mel")
COMPRESSIONS = ("power", "log", "none")
SPIKINGS = ("lif", "delta")
# the options of cochleagram's envelope and of cochlea_encode's spike generator that the
# encoder module takes as well
_ENVELOPE_OPTIONS = ("fmin", "fmax", "scale", "dt", "win_ms", "compression", "exponent",
                     "log_floor", "normalise")
_SPIKE_OPTIONS = ("spiking", "tau_mem", "gain", "threshold", "delta_threshold")
_GT_ORDER = 4
_GT_B = 1.019


def erb(f: float | np.ndarray) -> np.ndarray:
    """Equivalent rectangular bandwidth (Hz) of the auditory filter at ``f`` Hz
    (Glasberg & Moore 1990): ``24.7 (4.37 f / 1000 + 1)``."""
    return 24.7 * (4.37 * np.asarray(f, dtype=np.float64) / 1000.0 + 1.0)


def _erb_rate(f: np.ndarray) -> np.ndarray:
    return 21.4 * np.log10(1.0 + 0.00437 * f)


def _erb_rate_inv(e: np.ndarray) -> np.ndarray:
    return (10.0 ** (e / 21.4) - 1.0) / 0.00437


def _check_band(fmin: float, fmax: float, sample_rate: float) -> tuple[float, float]:
    fmin = check_positive("fmin", fmin)
    fmax = check_positive("fmax", fmax)
    nyq = sample_rate / 2.0
    if not fmin < fmax < nyq:
        raise ValueError(
            f"need 0 < fmin < fmax < sample_rate / 2 = {nyq} Hz, got fmin={fmin}, fmax={fmax}"
        )
    return fmin, fmax


def centre_frequencies(
    n_channels: int, fmin: float, fmax: float, scale: str = "erb"
) -> torch.Tensor:
    """``n_channels`` centre frequencies (Hz, ascending, float64) from ``fmin`` to ``fmax``
    inclusive, equally spaced on the ERB-rate (``"erb"``) or HTK mel (``"mel"``) scale."""
    n = check_int("n_channels", n_channels, minimum=1)
    check_choice("scale", scale, SCALES)
    fmin = check_positive("fmin", fmin)
    fmax = check_positive("fmax", fmax)
    if fmax <= fmin:
        raise ValueError(f"fmax must be > fmin = {fmin} Hz, got {fmax}")
    if n == 1:
        return torch.tensor([fmin], dtype=torch.float64)
    if scale == "erb":
        pts = np.linspace(_erb_rate(np.float64(fmin)), _erb_rate(np.float64(fmax)), n)
        f = _erb_rate_inv(pts)
    else:
        pts = np.linspace(float(hz_to_mel(fmin)), float(hz_to_mel(fmax)), n)
        f = np.asarray(mel_to_hz(pts))
    f[0], f[-1] = fmin, fmax  # exact ends despite the round trip through the scale
    return torch.as_tensor(f, dtype=torch.float64)


def gammatone_filterbank(centre_freqs: torch.Tensor, sample_rate: float) -> torch.Tensor:
    """FIR gammatone filters ``[C, L]`` (float64), unit gain at each centre frequency.

    ``L`` covers the slowest (lowest) filter until its envelope
    :math:`t^3 e^{-2\\pi b\\,\\mathrm{ERB}\\,t}` falls below ~3e-4 of its peak.
    """
    sr = check_positive("sample_rate", sample_rate)
    cf = np.asarray(torch.as_tensor(centre_freqs, dtype=torch.float64))
    if cf.ndim != 1 or cf.size == 0 or not np.all((cf > 0) & (cf < sr / 2)):
        raise ValueError(
            f"centre_freqs must be a non-empty 1-D tensor in (0, {sr / 2}) Hz, got {cf!r}"
        )
    rate = 2.0 * math.pi * _GT_B * erb(cf)  # envelope decay rates (1/s)
    # t^3 e^{-a t} at a t = 16 is ~3e-4 of its peak (at a t = 3): long enough for all channels.
    length = int(math.ceil(16.0 / rate.min() * sr)) + 1
    t = np.arange(length) / sr
    h = t[None, :] ** (_GT_ORDER - 1) * np.exp(-rate[:, None] * t[None, :])
    h = h * np.cos(2.0 * math.pi * cf[:, None] * t[None, :])
    # Exact unit gain of the truncated FIR at f_c: divide by |H(f_c)| from its DTFT.
    phase = np.exp(-2j * math.pi * cf[:, None] * np.arange(length)[None, :] / sr)
    gain = np.abs((h * phase).sum(axis=1))
    return torch.as_tensor(h / gain[:, None], dtype=torch.float64)


def _fft_filter(
    wave: torch.Tensor, fir: torch.Tensor, chunk: int = 16, cache: dict | None = None
) -> torch.Tensor:
    """Causal FIR filtering of ``wave`` ``[B, S]`` by ``fir`` ``[C, L]`` -> ``[B, C, S]``.

    ``cache`` (a dict) keeps the filters' spectra per FFT size across calls."""
    b, s = wave.shape
    n = 1 << (s + fir.shape[1] - 2).bit_length()  # >= S + L - 1: no circular wrap-around
    key = (n, str(fir.device))
    h_f = None if cache is None else cache.get(key)
    if h_f is None:
        h_f = torch.fft.rfft(fir, n=n)
        if cache is not None:
            cache[key] = h_f
    outs = []
    # Chunks of the batch bound the memory of the [B, C, n] spectra.
    for i in range(0, b, chunk):
        x_f = torch.fft.rfft(wave[i : i + chunk], n=n)
        outs.append(torch.fft.irfft(x_f[:, None, :] * h_f[None], n=n)[..., :s])
    return torch.cat(outs)


def _as_wave(wave: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = wave if isinstance(wave, torch.Tensor) else torch.as_tensor(np.asarray(wave))
    x = as_float("wave", x, ndim=(1, 2))
    if x.shape[-1] == 0:
        raise ValueError(f"wave must contain at least one sample, got shape {tuple(x.shape)}")
    # float32 throughout: envelopes need ~1e-6 relative precision at most, and float32 FFTs
    # and convolutions run several times faster than float64 ones on CPU.
    return (x[None] if x.ndim == 1 else x).to(torch.float32)


def cochleagram(
    wave: torch.Tensor | np.ndarray,
    sample_rate: float,
    *,
    n_channels: int = 64,
    fmin: float = 100.0,
    fmax: float | None = None,
    scale: str = "erb",
    dt: float = 5.0,
    win_ms: float = 20.0,
    compression: str = "power",
    exponent: float = 0.3,
    log_floor: float = 1e-3,
    normalise: bool = True,
    num_steps: int | None = None,
    fir: torch.Tensor | None = None,
    _spectra: dict | None = None,
) -> torch.Tensor:
    """Compressed per-channel envelopes ``[T, B, n_channels]`` (steps 1-3 of the module
    docstring), float32.

    ``wave`` is ``[B, samples]`` or ``[samples]`` at ``sample_rate`` Hz; ``dt`` is the frame
    step and ``win_ms`` the envelope window in ms (at least ``dt``);
    ``T = ceil(samples / H)`` (the last frame zero padded) unless ``num_steps`` crops or
    zero pads to a fixed length. ``fmax`` defaults to ``0.45 * sample_rate``.
    ``fir`` lets a caller reuse filters from :func:`gammatone_filterbank`.
    """
    x = _as_wave(wave)
    sr = check_positive("sample_rate", sample_rate)
    dt = check_positive("dt", dt)
    win_ms = check_positive("win_ms", win_ms)
    check_choice("compression", compression, COMPRESSIONS)
    exponent = check_positive("exponent", exponent)
    log_floor = check_positive("log_floor", log_floor)
    hop = int(round(dt * sr / 1000.0))
    if hop < 1:
        raise ValueError(f"dt must be at least one sample ({1000.0 / sr:.4g} ms), got {dt}")
    if fir is None:
        fmin, fmax = _check_band(fmin, 0.45 * sr if fmax is None else fmax, sr)
        fir = gammatone_filterbank(centre_frequencies(n_channels, fmin, fmax, scale), sr)
    y = _fft_filter(x, fir.to(x.device, torch.float32), cache=_spectra)  # [B, C, S]
    r = y.clamp(min=0.0)
    b, c, s = r.shape
    t_len = -(-s // hop)
    win = max(hop, int(round(win_ms * sr / 1000.0)))
    # Frame t covers samples [(t+1)H - W, (t+1)H): left pad W - H zeros, right pad the tail.
    r = torch.nn.functional.pad(r, (win - hop, t_len * hop - s)).reshape(b * c, 1, -1)
    j = torch.arange(win, dtype=r.dtype, device=r.device)
    w = 0.5 - 0.5 * torch.cos(2.0 * math.pi * (j + 0.5) / win)
    env = torch.nn.functional.conv1d(r, (w / w.sum()).view(1, 1, win), stride=hop)
    env = env.reshape(b, c, t_len)  # [B, C, T]
    if compression == "power":
        env = env.pow(exponent)
    elif compression == "log":
        env = torch.log1p(env / log_floor)
    if normalise:
        peak = env.amax(dim=(1, 2), keepdim=True)
        env = env / torch.where(peak > 0, peak, torch.ones_like(peak))
    if num_steps is not None:
        n = check_int("num_steps", num_steps, minimum=1)
        env = env[..., :n] if n <= t_len else torch.nn.functional.pad(env, (0, n - t_len))
    return env.permute(2, 0, 1).to(torch.float32).contiguous()


def cochlea_encode(
    wave: torch.Tensor | np.ndarray,
    sample_rate: float,
    *,
    spiking: str = "lif",
    tau_mem: float = 10.0,
    gain: float = 1.0,
    threshold: float = 1.0,
    delta_threshold: float = 0.1,
    **cochleagram_kwargs,
) -> torch.Tensor:
    """Waveform ``[B, samples]`` (or ``[samples]``) -> spikes ``[T, B, C]`` (``"lif"``) or
    ``[T, B, 2C]`` (``"delta"``, up then down channels), float 0/1.

    LIF: ``v_t = beta v_{t-1} + gain * c_t``, ``beta = exp(-dt / tau_mem)`` (ms), spike at
    ``v_t >= threshold``, soft reset. Other keywords go to :func:`cochleagram`.
    """
    check_choice("spiking", spiking, SPIKINGS)
    env = cochleagram(wave, sample_rate, **cochleagram_kwargs)
    if spiking == "delta":
        return delta_encode(env.transpose(0, 1), check_positive("delta_threshold", delta_threshold),
                            mode="single")
    dt = float(cochleagram_kwargs.get("dt", 5.0))
    gain = check_positive("gain", gain)
    p = LIFParams.from_tau(check_positive("tau_mem", tau_mem), dt,
                           threshold=check_positive("threshold", threshold), reset="soft")
    with torch.no_grad():
        spikes, _ = lif(gain * env, None, p)
    return spikes


class CochleaEncoder(Encoder):
    """Module form of :func:`cochlea_encode` with the filters built once.

    ``encoder(wave)`` with ``wave`` ``[B, samples]`` or ``[samples]`` at ``sample_rate`` Hz
    returns spikes ``[T, B, channels]`` (``channels = n_channels``, or ``2 n_channels`` for
    ``spiking="delta"``). Deterministic: ``generator`` is accepted and ignored.
    """

    stochastic = False

    @takes_options_of(cochleagram, only=_ENVELOPE_OPTIONS, after="n_channels")
    @takes_options_of(cochlea_encode, only=_SPIKE_OPTIONS, after="n_channels")
    def __init__(
        self,
        sample_rate: float = 8000.0,
        n_channels: int = 64,
        *,
        num_steps: int | None = None,
        **options: Any,
    ) -> None:
        fmin, fmax, scale, dt, win_ms, compression, exponent, log_floor, normalise = (
            options[k] for k in _ENVELOPE_OPTIONS)
        spiking, tau_mem, gain, threshold, delta_threshold = (options[k] for k in _SPIKE_OPTIONS)
        super().__init__()
        self.sample_rate = check_positive("sample_rate", sample_rate)
        self.n_channels = check_int("n_channels", n_channels, minimum=1)
        fmin, fmax = _check_band(fmin, 0.45 * self.sample_rate if fmax is None else fmax,
                                 self.sample_rate)
        self.register_buffer(
            "centre_freqs", centre_frequencies(self.n_channels, fmin, fmax, scale), persistent=False
        )
        self.register_buffer(
            "fir", gammatone_filterbank(self.centre_freqs, self.sample_rate), persistent=False
        )
        self._spectra: dict[tuple[int, str], torch.Tensor] = {}  # filter spectra per FFT size
        self.spiking = check_choice("spiking", spiking, SPIKINGS)
        self.num_steps = None if num_steps is None else check_int("num_steps", num_steps, minimum=1)
        self._env_kwargs = dict(
            dt=check_positive("dt", dt), win_ms=check_positive("win_ms", win_ms),
            compression=check_choice("compression", compression, COMPRESSIONS),
            exponent=check_positive("exponent", exponent), log_floor=check_positive("log_floor", log_floor),
            normalise=bool(normalise),
        )
        self._spike_kwargs = dict(
            spiking=self.spiking, tau_mem=check_positive("tau_mem", tau_mem),
            gain=check_positive("gain", gain), threshold=check_positive("threshold", threshold),
            delta_threshold=check_positive("delta_threshold", delta_threshold),
        )

    @property
    def out_channels(self) -> int:
        return self.n_channels * (2 if self.spiking == "delta" else 1)

    def num_frames(self, n_samples: int) -> int:
        """T for a recording of ``n_samples`` samples (``ceil(n_samples / H)``) when
        ``num_steps`` is not fixed."""
        hop = int(round(self._env_kwargs["dt"] * self.sample_rate / 1000.0))
        return self.num_steps or -(-check_int("n_samples", n_samples) // hop)

    def cochleagram(self, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The compressed envelopes ``[T, B, n_channels]`` the spiking units receive."""
        return cochleagram(wave, self.sample_rate, fir=self.fir, num_steps=self.num_steps,
                           _spectra=self._spectra, **self._env_kwargs)

    def forward(
        self, wave: torch.Tensor | np.ndarray, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return cochlea_encode(wave, self.sample_rate, fir=self.fir, num_steps=self.num_steps,
                              _spectra=self._spectra, **self._env_kwargs, **self._spike_kwargs)

    def encode_list(
        self, waves: Sequence[torch.Tensor | np.ndarray], num_steps: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode recordings of different lengths one by one.

        Returns ``(spikes [N, T, channels] uint8, lengths [N])`` (sample-first for storage,
        as datasets keep it), zero padded or cropped to ``num_steps`` (default: the longest
        recording's T). Each recording is encoded alone, so padding never leaks into the
        per-recording normalisation.
        """
        if len(waves) == 0:
            raise ValueError("waves must contain at least one recording, got an empty sequence")
        coded = [self(w)[:, 0] for w in waves]  # each [T_i, channels]
        lengths = torch.tensor([c.shape[0] for c in coded])
        t_len = int(lengths.max()) if num_steps is None else check_int("num_steps", num_steps)
        out = torch.zeros(len(coded), t_len, self.out_channels, dtype=torch.uint8)
        for i, c in enumerate(coded):
            n = min(t_len, c.shape[0])
            out[i, :n] = c[:n].to(torch.uint8)
        return out, lengths.clamp(max=t_len)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_channels={self.n_channels}, "
            f"band=({float(self.centre_freqs[0]):.0f}, {float(self.centre_freqs[-1]):.0f}) Hz, "
            f"dt={self._env_kwargs['dt']} ms, spiking={self.spiking!r}"
        )
