"""gaussian() and mains(): statistics, spectra, determinism, validation."""

from __future__ import annotations

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.noise import gaussian, mains


def test_gaussian_statistics_and_per_channel_sigma():
    x = gaussian((200_000, 2), [1.0, 0.25], rng=0)
    assert x.shape == (200_000, 2)
    np.testing.assert_allclose(x.std(axis=0), [1.0, 0.25], rtol=0.01)
    assert np.all(np.abs(x.mean(axis=0)) < 0.01)


def test_gaussian_determinism():
    a = gaussian(1000, 2.0, rng=42)
    b = gaussian(1000, 2.0, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, gaussian(1000, 2.0, rng=43))
    # a Generator is advanced: two draws from one generator differ
    g = np.random.default_rng(1)
    assert not np.array_equal(gaussian(10, 1.0, rng=g), gaussian(10, 1.0, rng=g))


def test_gaussian_validation():
    with pytest.raises(InputError, match="sigma"):
        gaussian(10, -1.0, rng=0)
    with pytest.raises(InputError, match="broadcast"):
        gaussian((10, 2), [1.0, 2.0, 3.0], rng=0)
    with pytest.raises(InputError, match="rng"):
        gaussian(10, 1.0, rng="seed")  # type: ignore[arg-type]


def _amplitude_at(x, fs, f):
    spec = np.abs(np.fft.rfft(x)) * 2 / len(x)
    freqs = np.fft.rfftfreq(len(x), 1 / fs)
    return spec[np.argmin(np.abs(freqs - f))]


def test_mains_spectrum_and_amplitude():
    fs, n = 1000.0, 10_000  # 10 s: 50, 100, 150 Hz fall on FFT bins
    m = mains(n, sampling_rate=fs, frequency=50.0, amplitude=0.2, harmonics=(1.0, 0.0, 0.3), rng=0)
    assert m.shape == (n,)
    assert _amplitude_at(m, fs, 50) == pytest.approx(0.2, rel=1e-6)
    assert _amplitude_at(m, fs, 150) == pytest.approx(0.06, rel=1e-6)
    assert _amplitude_at(m, fs, 100) < 1e-9
    pure = mains(n, sampling_rate=fs, frequency=60.0, amplitude=1.0, rng=1)
    assert np.sqrt(np.mean(pure**2)) == pytest.approx(1 / np.sqrt(2), rel=1e-9)
    assert _amplitude_at(pure, fs, 60) == pytest.approx(1.0, rel=1e-6)


def test_mains_drift_modulates_the_envelope():
    fs = 5000.0  # 100 samples per mains period: sampled peaks within 0.05% of the true ones
    m = mains(int(20 * fs), sampling_rate=fs, frequency=50.0, amplitude=1.0, drift=0.5, drift_frequency=0.1, rng=3)
    peaks = np.abs(m).reshape(-1, 100).max(axis=1)  # one mains period per row
    assert peaks.max() == pytest.approx(1.5, abs=0.02)
    assert peaks.min() == pytest.approx(0.5, abs=0.02)


def test_mains_determinism_and_random_phase():
    kw = dict(sampling_rate=360.0, frequency=50.0, amplitude=1.0, harmonics=(1.0, 0.5))
    np.testing.assert_array_equal(mains(1000, rng=5, **kw), mains(1000, rng=5, **kw))
    assert not np.array_equal(mains(1000, rng=5, **kw), mains(1000, rng=6, **kw))


def test_mains_validation():
    with pytest.raises(InputError, match="150 Hz.*Nyquist"):
        mains(100, sampling_rate=250.0, frequency=50.0, amplitude=1.0, harmonics=(1.0, 0.5, 0.2), rng=0)
    with pytest.raises(TypeError):
        mains(100, sampling_rate=250.0, amplitude=1.0, rng=0)  # type: ignore[call-arg]  # no default frequency
    with pytest.raises(InputError, match="drift"):
        mains(100, sampling_rate=250.0, frequency=50.0, amplitude=1.0, drift=1.5, rng=0)
    with pytest.raises(InputError, match="sampling_rate"):
        mains(100, sampling_rate=0.0, frequency=50.0, amplitude=1.0, rng=0)
