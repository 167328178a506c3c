"""DeepFilter's FIR and IIR filters: design facts and equality with their procedure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sp_signal

from biodae._errors import InputError
from biodae.filters import deepfilter_fir, deepfilter_iir
from biodae.filters._deepfilter import fir_design, iir_design

FS = 360.0


def _theirs(b, a, x):
    """DeepFilter's FIRRemoveBL/IIRRemoveBL body for one 1D record, written out plainly."""
    n_check = len(b) if np.size(a) == 1 else 4
    n = len(x)
    if n_check * 3 > n:
        ext = list(reversed(list(x))) + list(x) + list(x[-1] * np.ones(n_check * 3 - n))
        return sp_signal.filtfilt(b, a, ext)[n : 2 * n]
    return sp_signal.filtfilt(b, a, x)


def test_fir_design_is_2009_tap_rectangular():
    h_high, h_low = fir_design(FS)
    assert h_high.size == h_low.size == 2009
    numtaps, beta = sp_signal.kaiserord((round(-20 * np.log10(0.001)) + 1) / 4.5, 0.07 / (FS / 2))
    assert (numtaps, beta) == (2009, 0.0)
    assert np.allclose(h_high, h_high[::-1]) and np.allclose(h_low, h_low[::-1])  # linear phase
    _, hh = sp_signal.freqz(h_high, worN=[0.67, 10.0], fs=FS)
    _, hl = sp_signal.freqz(h_low, worN=[10.0, 150.0], fs=FS)
    assert abs(hh[0]) == pytest.approx(0.5, abs=0.01)  # windowed sinc: 1/2 at the cut-off
    assert abs(hl[1]) == pytest.approx(0.5, abs=0.01)
    assert abs(hh[1]) == pytest.approx(1.0, abs=0.01) and abs(hl[0]) == pytest.approx(1.0, abs=0.01)


def test_iir_design_is_order_4_butterworth():
    (b_hp, a_hp), (b_lp, a_lp) = iir_design(FS)
    assert len(a_hp) == len(a_lp) == 5
    _, h = sp_signal.freqz(b_hp, a_hp, worN=[0.67, 10.0], fs=FS)
    assert abs(h[0]) == pytest.approx(2**-0.5, abs=1e-4)  # -3 dB per pass
    assert abs(h[1]) == pytest.approx(1.0, abs=1e-4)


def test_iir_is_minus_6db_at_0_67hz_and_flat_at_10hz():
    t = np.arange(int(30 * FS)) / FS
    inner = slice(int(8 * FS), -int(8 * FS))
    for f, gain in ((0.67, 0.5), (10.0, 1.0), (150.0, 0.5)):
        x = np.sin(2 * np.pi * f * t)
        y = deepfilter_iir(x, sampling_rate=FS)
        assert np.std(y[inner]) / np.std(x[inner]) == pytest.approx(gain, abs=0.01)


def test_fir_gains_after_both_passes():
    t = np.arange(int(30 * FS)) / FS
    inner = slice(int(8 * FS), -int(8 * FS))
    for f, gain in ((0.67, 0.25), (10.0, 1.0)):
        x = np.sin(2 * np.pi * f * t)
        y = deepfilter_fir(x, sampling_rate=FS)
        assert np.std(y[inner]) / np.std(x[inner]) == pytest.approx(gain, abs=0.01)


def test_equal_to_their_procedure_on_a_512_window(ecg_like, rng):
    beat = np.zeros(512)
    beat[16:400] = ecg_like(np.arange(384) / FS, 0.1) + 0.3 * np.sin(np.arange(384) / 60.0)
    x = beat + 0.01 * rng.standard_normal(512)
    h_high, h_low = fir_design(FS)
    want_fir = _theirs(h_low, 1.0, _theirs(h_high, 1.0, x))
    assert np.allclose(deepfilter_fir(x, sampling_rate=FS), want_fir, rtol=0, atol=1e-10)
    (b_hp, a_hp), (b_lp, a_lp) = iir_design(FS)
    want_iir = _theirs(b_lp, a_lp, _theirs(b_hp, a_hp, x))
    assert np.allclose(deepfilter_iir(x, sampling_rate=FS), want_iir, rtol=0, atol=1e-12)


def test_equal_to_their_procedure_on_a_long_record(rng):
    x = np.cumsum(rng.standard_normal(6101)) * 0.01  # longer than 3 x 2009: plain filtfilt
    h_high, h_low = fir_design(FS)
    want = _theirs(h_low, 1.0, _theirs(h_high, 1.0, x))
    assert np.allclose(deepfilter_fir(x, sampling_rate=FS), want, rtol=0, atol=1e-10)


def test_multichannel_is_per_channel(rng):
    x = rng.standard_normal((600, 3))
    for f in (deepfilter_fir, deepfilter_iir):
        y = f(x, sampling_rate=FS)
        loop = np.stack([f(x[:, j], sampling_rate=FS) for j in range(3)], axis=1)
        assert np.allclose(y, loop, rtol=0, atol=1e-12)


def test_errors():
    with pytest.raises(InputError, match="Nyquist"):
        deepfilter_iir(np.zeros(600), sampling_rate=250.0)  # 150 Hz is above 125 Hz
    with pytest.raises(InputError, match="even"):
        deepfilter_fir(np.zeros(600), sampling_rate=500.0)  # kaiserord gives 2790 taps there
    with pytest.raises(InputError, match="too short"):
        deepfilter_iir(np.zeros(14), sampling_rate=FS)
    with pytest.raises(TypeError):
        deepfilter_iir(np.zeros(600))  # sampling_rate is required, no silent 360 Hz
