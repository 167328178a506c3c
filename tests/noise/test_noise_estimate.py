"""Noise estimation: wavelet MAD, Rician background estimate with fallback, signal SNR."""

from __future__ import annotations

import numpy as np
import pytest

from biodae._errors import InputError
from biodae.noise import estimate_sigma, estimate_sigma_rician, estimate_snr_db, rician


def test_estimate_sigma_per_channel_on_smooth_signal():
    fs = 360.0
    t = np.arange(7200) / fs
    smooth = np.sin(2 * np.pi * 1.0 * t) + 0.5 * np.sin(2 * np.pi * 7.0 * t)
    sigmas = np.array([0.02, 0.1, 0.5])
    x = smooth[:, None] + np.random.default_rng(0).standard_normal((t.size, 3)) * sigmas
    est = estimate_sigma(x)  # default axis=0: biodae's (n_samples, n_channels) layout
    assert isinstance(est, np.ndarray) and est.shape == (3,)
    np.testing.assert_allclose(est, sigmas, rtol=0.10)
    np.testing.assert_array_equal(estimate_sigma(x, axis=0), est)
    one = estimate_sigma(x[:, 1])
    assert isinstance(one, float) and one == pytest.approx(est[1], rel=1e-12)
    # time along the last axis gives the same numbers
    np.testing.assert_allclose(estimate_sigma(x.T, axis=-1), est, rtol=1e-12)


def test_estimate_sigma_image():
    yy, xx = np.mgrid[0:256, 0:256]
    img = 100 * np.sin(yy / 40.0) * np.cos(xx / 55.0)
    noisy = img + 4.0 * np.random.default_rng(1).standard_normal(img.shape)
    est = estimate_sigma(noisy, axis=None)  # one n-D image
    assert isinstance(est, float)
    assert est == pytest.approx(4.0, rel=0.10)


def test_estimate_sigma_validation():
    with pytest.raises(InputError, match="wavelet"):
        estimate_sigma(np.zeros(100), wavelet="nope")
    with pytest.raises(InputError, match="axis"):
        estimate_sigma(np.zeros((10, 2)), axis=2)
    with pytest.raises(InputError, match="NaN"):
        estimate_sigma(np.array([1.0, np.nan, 2.0]))


def _phantom(shape=(64, 64, 40)):
    """A textured ellipsoid (intensities ~70-210) in air (0): 27% foreground."""
    g = np.indices(shape).astype(float)
    r = sum(((g[i] - (n - 1) / 2) / (0.4 * n)) ** 2 for i, n in enumerate(shape))
    texture = 140 + 50 * np.sin(g[0] / 6) * np.cos(g[1] / 9) + 20 * np.cos(g[2] / 5)
    return np.where(r < 1, texture, 0.0)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 12.0])
def test_estimate_sigma_rician_with_air(sigma):
    vol = rician(_phantom(), sigma, rng=int(sigma))
    assert estimate_sigma_rician(vol) == pytest.approx(sigma, rel=0.10)
    assert estimate_sigma_rician(vol, method="background") == pytest.approx(sigma, rel=0.10)
    # a 2-D slice works too
    assert estimate_sigma_rician(vol[:, :, 20]) == pytest.approx(sigma, rel=0.10)


def test_estimate_sigma_rician_integer_data():
    vol = np.round(rician(_phantom(), 5.0, rng=0)).astype(np.uint16)
    assert estimate_sigma_rician(vol) == pytest.approx(5.0, rel=0.10)


def test_estimate_sigma_rician_without_air_falls_back():
    shape = (48, 48, 24)
    obj = 100 + 10 * np.sin(np.indices(shape)[0] / 7.0)  # fills the whole field of view
    vol = rician(obj, 4.0, rng=2)
    with pytest.raises(InputError, match="no usable air"):
        estimate_sigma_rician(vol, method="background")
    assert estimate_sigma_rician(vol) == pytest.approx(4.0, rel=0.10)  # wavelet fallback
    assert estimate_sigma_rician(vol, method="wavelet") == pytest.approx(4.0, rel=0.10)


def test_estimate_sigma_rician_zero_filled_background():
    ph = _phantom()
    vol = rician(ph, 3.0, rng=4)
    vol[ph == 0] = 0.0  # masked/skull-stripped: the air holds no measurement
    with pytest.raises(InputError, match="no usable air"):
        estimate_sigma_rician(vol, method="background")
    assert estimate_sigma_rician(vol) == pytest.approx(3.0, rel=0.10)


def test_estimate_sigma_rician_validation():
    with pytest.raises(InputError, match="'auto', 'background', 'wavelet'"):
        estimate_sigma_rician(np.ones((8, 8)), method="otsu")
    with pytest.raises(InputError, match="negative"):
        estimate_sigma_rician(-np.ones((8, 8)))


def test_estimate_snr_db():
    fs = 360.0
    t = np.arange(3600) / fs
    sig = np.sqrt(2) * np.sin(2 * np.pi * 10.0 * t)  # power 1
    noise = np.random.default_rng(3).standard_normal((t.size, 2)) * [0.1, 0.316]  # 20 dB, 10 dB
    snr = estimate_snr_db(sig[:, None] + noise, sampling_rate=fs)
    assert snr.shape == (2,)
    np.testing.assert_allclose(snr, [20.0, 10.0], atol=1.0)
    # a slow drift counts neither as signal nor as noise
    drifting = sig + noise[:, 0] + 3 * np.sin(2 * np.pi * 0.1 * t)
    assert estimate_snr_db(drifting, sampling_rate=fs) == pytest.approx(20.0, abs=1.0)
    assert estimate_snr_db(drifting, sampling_rate=fs, highpass=None) > 25.0
    with pytest.raises(InputError, match="sampling_rate"):
        estimate_snr_db(sig, sampling_rate=-1.0)


def test_estimate_sigma_image_ignores_flat_padding():
    """A CT-like image: noisy disc inside -3024 padding. Plain MAD is pulled to ~0 by the
    padding; the flat-block-aware estimate finds the true sigma."""
    from biodae.noise import estimate_sigma, estimate_sigma_image

    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:256, :256]
    inside = (yy - 128) ** 2 + (xx - 128) ** 2 < 70**2
    img = np.full((256, 256), -3024.0)
    img[inside] = 40.0 + rng.normal(0, 12.0, inside.sum())
    assert estimate_sigma(img, axis=None) < 6.0  # the bias this function exists to avoid
    assert abs(estimate_sigma_image(img) - 12.0) < 0.1 * 12.0
    assert estimate_sigma_image(np.full((16, 16), 7.0)) == 0.0
