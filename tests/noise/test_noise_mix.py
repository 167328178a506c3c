"""mix_at_snr: exact SNR under both definitions, axes, validation, nominal/true dB."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.noise import mix_at_snr, nominal_to_true_db, true_to_nominal_db


def _db(p_clean, p_noise):
    return 10 * np.log10(p_clean / p_noise)


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    t = np.arange(2000) / 360.0
    clean = np.stack([np.sin(2 * np.pi * 1.2 * t), 0.3 * np.cos(2 * np.pi * 5 * t) + 0.1], axis=1)
    noise = rng.standard_normal((2000, 2)) * [1.0, 4.0] + [0.5, -2.0]
    return clean, noise


@pytest.mark.parametrize("snr", [-6.0, 0.0, 6.0, 12.0, 18.0, 24.0, -14.3])
def test_standard_hits_target_exactly(pair, snr):
    clean, noise = pair
    noisy, added, lam = mix_at_snr(clean, noise, snr)
    assert abs(_db(np.mean(clean**2), np.mean(added**2)) - snr) < 1e-9
    np.testing.assert_allclose(noisy - clean, added, atol=1e-12)
    np.testing.assert_allclose(added, lam * noise, rtol=1e-15)
    assert lam.shape == (1, 1)


def test_per_channel_and_per_epoch(pair):
    clean, noise = pair
    out = mix_at_snr(clean, noise, [3.0, -5.0], axis=0)
    got = _db(np.mean(clean**2, axis=0), np.mean(out.noise**2, axis=0))
    assert np.max(np.abs(got - [3.0, -5.0])) < 1e-9
    assert out.scale.shape == (1, 2)
    # epochs along axis 0, time along axis -1, one SNR per epoch
    epochs, nz = clean.T, noise.T
    out = mix_at_snr(epochs, nz, np.array([1.0, 2.0]), axis=-1)
    got = _db(np.mean(epochs**2, axis=1), np.mean(out.noise**2, axis=1))
    assert np.max(np.abs(got - [1.0, 2.0])) < 1e-9


def test_whole_array_uses_one_scale(pair):
    clean, noise = pair
    out = mix_at_snr(clean, noise, 0.0)
    np.testing.assert_allclose(out.noise / noise, out.scale.item(), rtol=1e-14)
    # per channel the SNRs then differ, only the pooled one is exact
    per_channel = _db(np.mean(clean**2, axis=0), np.mean(out.noise**2, axis=0))
    assert abs(per_channel[0] - per_channel[1]) > 1.0


@pytest.mark.parametrize("nominal", [-7.0, -3.5, 0.0, 2.0])
def test_eegdenoisenet_definition(pair, nominal):
    clean, noise = pair
    x, n = clean[:512, 0], noise[:512, 0]
    out = mix_at_snr(x, n, nominal, definition="eegdenoisenet")
    rms = lambda a: math.sqrt(np.mean(a**2))  # noqa: E731
    assert rms(x) / rms(out.noise) == pytest.approx(10 ** (nominal / 10), rel=1e-12)
    # their "dB" is half the true dB
    assert abs(_db(np.mean(x**2), np.mean(out.noise**2)) - nominal_to_true_db(nominal)) < 1e-9
    # and it equals their recipe: coe = get_rms(eeg) / (get_rms(noise) * 10**(0.1*snr))
    coe = rms(x) / (rms(n) * 10 ** (0.1 * nominal))
    np.testing.assert_allclose(out.noisy, x + n * coe, rtol=1e-13, atol=1e-13)


def test_nominal_true_conversion():
    assert nominal_to_true_db(-7) == -14.0
    assert nominal_to_true_db(2) == 4.0
    assert true_to_nominal_db(-14.0) == -7.0
    grid = np.linspace(-7, 2, 10)
    np.testing.assert_array_equal(true_to_nominal_db(nominal_to_true_db(grid)), grid)
    assert isinstance(nominal_to_true_db(1.0), float)


def test_nominal_minus7_equals_true_minus14(pair):
    clean, noise = pair
    a = mix_at_snr(clean, noise, -7.0, definition="eegdenoisenet")
    b = mix_at_snr(clean, noise, -14.0, definition="standard")
    np.testing.assert_allclose(a.noisy, b.noisy, rtol=1e-12, atol=1e-12)


def test_remove_mean_measures_variances(pair):
    clean, noise = pair
    out = mix_at_snr(clean, noise, 5.0, axis=0, remove_mean=True)
    got = _db(np.var(clean, axis=0), np.var(out.noise, axis=0))
    assert np.max(np.abs(got - 5.0)) < 1e-9
    # the noise is still added with its mean
    np.testing.assert_allclose(out.noise.mean(axis=0), out.scale[0] * noise.mean(axis=0), rtol=1e-12)


def test_dtypes():
    x = np.linspace(1, 2, 100, dtype=np.float32)
    n = np.cos(np.arange(100)).astype(np.float32)
    assert mix_at_snr(x, n, 0.0).noisy.dtype == np.float32
    assert mix_at_snr(x.astype(np.int16), n.astype(np.float64), 0.0).noisy.dtype == np.float64


def test_validation(pair):
    clean, noise = pair
    with pytest.raises(InputError, match=r"\(2000, 2\) vs \(1999, 2\)"):
        mix_at_snr(clean, noise[:-1], 0.0)
    with pytest.raises(InputError, match="zero power"):
        mix_at_snr(clean, np.zeros_like(clean), 0.0)
    with pytest.raises(InputError, match="zero power"):
        mix_at_snr(clean, np.column_stack([noise[:, 0], np.zeros(2000)]), 0.0, axis=0)
    bad = clean.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        mix_at_snr(bad, noise, 0.0)
    with pytest.raises(InputError, match="NaN"):
        mix_at_snr(clean, noise, float("nan"))
    with pytest.raises(InputError, match="'standard', 'eegdenoisenet'"):
        mix_at_snr(clean, noise, 0.0, definition="eeg")
    with pytest.raises(InputError, match="broadcast"):
        mix_at_snr(clean, noise, [1.0, 2.0, 3.0], axis=0)
    with pytest.raises(InputError, match="axis"):
        mix_at_snr(clean, noise, 0.0, axis=2)
    with pytest.raises(InputError, match="clean signal has zero power"):
        mix_at_snr(np.zeros(10), np.ones(10), 0.0)
    assert isinstance(InputError("x"), ValueError)
