"""Butterworth: notch, high-pass, zero phase, Nyquist checks, image transfer function."""

from __future__ import annotations

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.filters import butterworth

FS = 360.0


def _db(residual: np.ndarray, reference: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(reference**2))))


def test_notch_removes_50hz_and_passes_10hz():
    t = np.arange(int(10 * FS)) / FS
    s10 = np.sin(2 * np.pi * 10 * t)
    s50 = np.sin(2 * np.pi * 50 * t + 0.7)
    y = butterworth(s10 + s50, sampling_rate=FS, notch=50.0)
    inner = slice(int(FS), -int(FS))  # leave 1 s for the notch to settle at each edge
    assert _db((y - s10)[inner], s50[inner]) < -40.0
    y10 = butterworth(s10, sampling_rate=FS, notch=50.0)
    assert np.std(y10[inner]) / np.std(s10[inner]) == pytest.approx(1.0, abs=0.01)


def test_notch_harmonics_remove_100hz():
    t = np.arange(int(10 * FS)) / FS
    s10 = np.sin(2 * np.pi * 10 * t)
    s100 = 0.5 * np.sin(2 * np.pi * 100 * t)
    inner = slice(int(FS), -int(FS))
    y1 = butterworth(s10 + s100, sampling_rate=FS, notch=50.0)
    y2 = butterworth(s10 + s100, sampling_rate=FS, notch=50.0, notch_harmonics=2)
    assert _db((y1 - s10)[inner], s100[inner]) > -1.0  # fundamental-only notch leaves 100 Hz
    assert _db((y2 - s10)[inner], s100[inner]) < -40.0
    # harmonics at or above Nyquist (150, 200 Hz ... at 360 Hz: 150 kept, 200 dropped) are fine
    butterworth(s10, sampling_rate=FS, notch=50.0, notch_harmonics=10)


def test_highpass_removes_slow_drift_keeps_10hz():
    t = np.arange(int(10 * FS)) / FS
    s10 = np.sin(2 * np.pi * 10 * t)
    drift = np.sin(2 * np.pi * 0.1 * t + 0.3)
    y = butterworth(drift + s10, sampling_rate=FS, low=0.5)
    assert _db(y - s10, drift) < -20.0  # whole record, edges included
    inner = slice(int(2 * FS), -int(2 * FS))
    assert _db((y - s10)[inner], drift[inner]) < -40.0
    y10 = butterworth(s10, sampling_rate=FS, low=0.5)
    assert np.std(y10[inner]) / np.std(s10[inner]) == pytest.approx(1.0, abs=0.01)


def test_cutoff_is_minus_6db_after_two_passes():
    t = np.arange(int(20 * FS)) / FS
    x = np.sin(2 * np.pi * 40 * t)
    y = butterworth(x, sampling_rate=FS, high=40.0, order=4)
    inner = slice(int(2 * FS), -int(2 * FS))
    assert np.std(y[inner]) / np.std(x[inner]) == pytest.approx(0.5, abs=0.005)


@pytest.mark.parametrize("kw", [{"low": 0.5, "high": 40.0}, {"high": 20.0}, {"low": 5.0}, {"low": 1.0, "notch": 60.0}])
def test_zero_phase_keeps_pulse_peak(kw):
    t = np.arange(3601) / FS
    x = np.exp(-0.5 * ((t - 5.0) / 0.02) ** 2)
    y = butterworth(x, sampling_rate=FS, **kw)
    assert np.argmax(y) == np.argmax(x)
    # and the pulse stays symmetric about its peak (no phase distortion)
    k = int(np.argmax(x))
    assert np.allclose(y[k - 50 : k], y[k + 50 : k : -1], atol=1e-3)


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"high": 200.0}, ["high=200", "Nyquist", "180"]),
        ({"low": 180.0}, ["low=180", "Nyquist"]),
        ({"notch": 250.0}, ["notch=250", "Nyquist"]),
        ({"low": 40.0, "high": 30.0}, ["low=40", "below high=30"]),
        ({}, ["nothing to do"]),
        ({"low": -1.0}, ["positive"]),
        ({"low": 1.0, "order": 0}, ["order"]),
    ],
)
def test_signal_parameter_errors(kw, words):
    with pytest.raises(InputError) as err:
        butterworth(np.zeros(1000), sampling_rate=FS, **kw)
    for w in words:
        assert w in str(err.value)


def test_short_signal_is_filtered():
    y = butterworth(np.arange(10.0), sampling_rate=FS, low=0.5)
    assert y.shape == (10,) and np.all(np.isfinite(y))


def _dct_cosine(n: int, k: int) -> np.ndarray:
    return np.cos(np.pi * k * (np.arange(n) + 0.5) / n)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_image_transfer_at_cutoff(order):
    n, k = 128, 32  # frequency k / (2 n) = 0.125 cycles/pixel = 0.25 x Nyquist
    img = np.tile(_dct_cosine(n, k), (64, 1))
    proj = lambda y: float(np.sum(y * img) / np.sum(img * img))  # noqa: E731
    # Gonzalez & Woods' H = 1 / (1 + (D/D0)^(2n)): 1/2 at D = D0 ...
    assert proj(butterworth(img, cutoff=k / n, order=order)) == pytest.approx(0.5, abs=1e-5)
    # ... and its square root, the Butterworth amplitude: 1/sqrt(2) at D = D0
    assert proj(butterworth(img, cutoff=k / n, order=order, squared=False)) == pytest.approx(2**-0.5, abs=1e-5)
    # one octave below the cutoff: 1 / (1 + 2^(-2n))
    img2 = np.tile(_dct_cosine(n, k // 2), (64, 1))
    y2 = butterworth(img2, cutoff=k / n, order=order)
    assert float(np.sum(y2 * img2) / np.sum(img2 * img2)) == pytest.approx(1 / (1 + 2.0 ** (-2 * order)), abs=1e-5)


def test_image_transfer_is_radial_and_uses_spacing():
    n, k = 96, 16
    c = _dct_cosine(n, k)
    diag = np.outer(c, c)  # D = sqrt(2) k / (2 n)
    y = butterworth(diag, cutoff=np.sqrt(2) * k / n, order=2)
    assert float(np.sum(y * diag) / np.sum(diag * diag)) == pytest.approx(0.5, abs=1e-5)
    # columns twice as far apart: the same cosine is half the physical frequency
    img = np.tile(c, (32, 1))
    y = butterworth(img, cutoff=k / (2 * n), order=2, spacing=(1.0, 2.0))
    assert float(np.sum(y * img) / np.sum(img * img)) == pytest.approx(0.5, abs=1e-5)


def test_image_no_wraparound_at_edges():
    ramp = np.tile(np.linspace(0.0, 1.0, 100), (50, 1)).astype(np.float32)
    y = butterworth(ramp, cutoff=0.3, order=2)
    # a periodic FFT would pull both edges towards 0.5; the reflect extension keeps them
    assert abs(float(y[:, 0].mean())) < 0.02 and abs(float(y[:, -1].mean()) - 1.0) < 0.02
    assert y.dtype == np.float32


def test_image_volume_and_axes():
    rng = np.random.default_rng(0)
    vol = rng.standard_normal((6, 20, 24)).astype(np.float32)
    full = butterworth(vol, cutoff=0.4, order=2)
    per_slice = butterworth(vol, cutoff=0.4, order=2, axes=(1, 2))
    loop = np.stack([butterworth(s, cutoff=0.4, order=2) for s in vol])
    assert np.allclose(per_slice, loop, atol=1e-6)
    assert not np.allclose(full, per_slice, atol=1e-3)
    assert full.shape == vol.shape and full.dtype == np.float32


@pytest.mark.parametrize(
    "kw, words",
    [
        ({}, ["cutoff"]),
        ({"cutoff": 1.5}, ["cutoff", "(0, 1]"]),
        ({"cutoff": 0.5, "spacing": (1.0,)}, ["spacing"]),
        ({"low": 0.5}, ["low", "sampling_rate"]),
    ],
)
def test_image_parameter_errors(kw, words):
    with pytest.raises(InputError) as err:
        butterworth(np.zeros((16, 16)), **kw)
    for w in words:
        assert w in str(err.value)


def test_cutoff_with_signal_is_refused():
    with pytest.raises(InputError, match="cutoff"):
        butterworth(np.zeros(100), sampling_rate=FS, cutoff=0.5)
