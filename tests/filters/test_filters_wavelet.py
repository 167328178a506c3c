"""Wavelet shrinkage: BayesShrink / VisuShrink, baseline removal, images and volumes."""

from __future__ import annotations

import numpy as np
import pytest
import pywt

from biodae._errors import InputError
from biodae.filters import wavelet
from biodae.filters._wavelet import baseline_level

FS = 360.0


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


@pytest.fixture
def noisy_ecg(ecg_like, rng):
    t = np.arange(4096) / FS
    clean = ecg_like(t)
    return clean, clean + 0.1 * rng.standard_normal(t.size)


@pytest.mark.parametrize(
    "method, mode, factor",
    [("bayes", "soft", 2.5), ("bayes", "hard", 2.0), ("visu", "soft", 1.5), ("visu", "hard", 2.0)],
)
def test_denoises_smooth_signal(noisy_ecg, method, mode, factor):
    clean, noisy = noisy_ecg
    y = wavelet(noisy, sampling_rate=FS, wavelet="sym8", method=method, mode=mode)
    assert _rmse(noisy, clean) / _rmse(y, clean) > factor


def test_bayes_and_visu_differ(noisy_ecg):
    _, noisy = noisy_ecg
    a = wavelet(noisy, sampling_rate=FS, method="bayes")
    b = wavelet(noisy, sampling_rate=FS, method="visu")
    assert np.max(np.abs(a - b)) > 1e-3


def test_visushrink_threshold_is_universal():
    # pure noise: VisuShrink (soft) should zero nearly all thresholded details
    rng = np.random.default_rng(3)
    x = rng.standard_normal(8192)
    y = wavelet(x, sampling_rate=FS, wavelet="db4", method="visu", level=3)
    coeffs = pywt.wavedec(y, "db4", mode="symmetric", level=3)
    for d in coeffs[1:]:
        assert np.mean(np.abs(d) > 1e-9) < 0.05


def test_remove_baseline_removes_slow_wander(ecg_like):
    t = np.arange(int(20 * FS)) / FS
    clean = ecg_like(t)
    wander = 0.5 * np.sin(2 * np.pi * 0.2 * t + 0.5)
    kept = wavelet(clean + wander, sampling_rate=FS, wavelet="sym8")
    removed = wavelet(clean + wander, sampling_rate=FS, wavelet="sym8", remove_baseline=True)
    assert _rmse(kept, clean) > 0.3  # thresholding alone never touches the approximation
    assert _rmse(removed, clean) < 0.1


@pytest.mark.parametrize("fs, level, edge", [(360.0, 8, 0.703), (250.0, 8, 0.488), (1000.0, 10, 0.488), (128.0, 7, 0.5)])
def test_baseline_level_band_edge(fs, level, edge):
    lv = baseline_level(fs, 0.5)
    assert lv == level
    assert fs / 2 ** (lv + 1) == pytest.approx(edge, abs=1e-3)
    assert 0.5 / np.sqrt(2) <= fs / 2 ** (lv + 1) <= 0.5 * np.sqrt(2)


def test_short_record_with_deep_baseline_level():
    # 512 samples at 360 Hz need level 8, beyond pywt.dwt_max_level: allowed, no warning
    x = np.random.default_rng(0).standard_normal(512) + 5.0
    y = wavelet(x, sampling_rate=FS, wavelet="sym8", remove_baseline=True)
    assert y.shape == (512,) and np.all(np.isfinite(y))
    assert abs(float(np.mean(y))) < 0.5  # the 5.0 offset lives in the approximation band


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"wavelet": "db99"}, ["wavelet", "db4"]),
        ({"mode": "garrote"}, ["mode", "'soft'", "'hard'"]),
        ({"method": "sure"}, ["method", "'bayes'", "'visu'"]),
        ({"level": 0}, ["level"]),
        ({"remove_baseline": True, "baseline_cutoff": 200.0}, ["baseline_cutoff"]),
        ({"axes": 0}, ["axes", "images"]),
    ],
)
def test_signal_errors(kw, words):
    with pytest.raises(InputError) as err:
        wavelet(np.zeros(1000), sampling_rate=FS, **kw)
    for w in words:
        assert w in str(err.value)


def test_image_denoising(phantom2d, rng):
    img = phantom2d(128)
    noisy = img + 0.1 * rng.standard_normal(img.shape).astype(np.float32)
    for method in ("bayes", "visu"):
        y = wavelet(noisy, method=method, level=3)
        assert y.dtype == np.float32 and y.shape == img.shape
        assert _rmse(noisy, img) / _rmse(y, img) > 2.0


def test_volume_denoising_and_axes(rng):
    z, yy, xx = np.mgrid[0:40, 0:40, 0:40] / 40.0
    vol = np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2 + (z - 0.5) ** 2) / 0.05)
    noisy = vol + 0.1 * rng.standard_normal(vol.shape)
    y3 = wavelet(noisy, wavelet="db2", level=2)
    assert y3.dtype == np.float64 and y3.shape == vol.shape
    assert _rmse(noisy, vol) / _rmse(y3, vol) > 2.0
    y2 = wavelet(noisy, wavelet="db2", level=2, axes=(1, 2))
    assert _rmse(noisy, vol) / _rmse(y2, vol) > 1.5
    assert not np.allclose(y2, y3)


def test_image_refuses_baseline():
    with pytest.raises(InputError, match="remove_baseline"):
        wavelet(np.zeros((16, 16)), remove_baseline=True)


@pytest.mark.parametrize("method, sk_method", [("bayes", "BayesShrink"), ("visu", "VisuShrink")])
@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_images_match_skimage_denoise_wavelet(method, sk_method, mode, rng):
    denoise_wavelet = pytest.importorskip("skimage.restoration").denoise_wavelet
    yy, xx = np.mgrid[0:64, 0:80] / 64.0
    img = 0.3 + 0.4 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05)
    noisy = np.clip(img + 0.05 * rng.standard_normal(img.shape), 0.01, 0.99)  # inside skimage's clip range
    ours = wavelet(noisy, wavelet="db2", level=2, method=method, mode=mode)
    theirs = denoise_wavelet(noisy, wavelet="db2", wavelet_levels=2, method=sk_method, mode=mode, rescale_sigma=False)
    assert np.allclose(ours, theirs, rtol=0, atol=1e-12)
    vol = np.clip(0.5 + 0.05 * rng.standard_normal((20, 24, 28)), 0.01, 0.99)
    ours = wavelet(vol, wavelet="db1", method=method, mode=mode)
    theirs = denoise_wavelet(vol, wavelet="db1", method=sk_method, mode=mode, rescale_sigma=False)
    assert np.allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method, sk_method", [("bayes", "BayesShrink"), ("visu", "VisuShrink")])
def test_signal_channel_matches_skimage_denoise_wavelet(method, sk_method, rng):
    denoise_wavelet = pytest.importorskip("skimage.restoration").denoise_wavelet
    t = np.arange(3001) / FS
    x = np.clip(0.5 + 0.3 * np.sin(2 * np.pi * 3 * t) + 0.05 * rng.standard_normal(t.size), 0.01, 0.99)
    ours = wavelet(np.stack([x, x[::-1]], axis=1), sampling_rate=FS, wavelet="sym8", method=method)
    for j, xj in enumerate((x, x[::-1])):
        theirs = denoise_wavelet(xj, wavelet="sym8", method=sk_method, rescale_sigma=False)
        assert np.allclose(ours[:, j], theirs, rtol=0, atol=1e-12)
