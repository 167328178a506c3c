"""Median: de Chazal baseline removal, short medians, image medians."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from biodae._errors import InputError
from biodae.filters import median

FS = 360.0


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


def _baseline(t):
    return 0.4 * np.sin(2 * np.pi * 0.15 * t + 1) + 0.2 * np.sin(2 * np.pi * 0.33 * t) + 0.1 * np.sin(2 * np.pi * 0.05 * t + 2)


def test_de_chazal_removes_baseline(ecg_like):
    t = np.arange(int(10 * FS)) / FS
    clean = ecg_like(t)
    noisy = clean + _baseline(t)
    assert _rmse(noisy, clean) > 0.3
    y = median(noisy, sampling_rate=FS, baseline=True)
    assert _rmse(y, clean) < 0.06  # baseline down by a factor > 5; QRS, P and T kept
    k = int(np.argmax(clean))
    assert abs(y[k] - clean[k]) < 0.05


def test_baseline_then_short_median_against_spikes(ecg_like, rng):
    t = np.arange(int(10 * FS)) / FS
    clean = ecg_like(t)
    noisy = clean + _baseline(t)
    spikes = rng.random(t.size) < 0.02
    noisy[spikes] += rng.choice([-1.0, 1.0], spikes.sum())
    only_baseline = median(noisy, sampling_rate=FS, baseline=True)
    both = median(noisy, sampling_rate=FS, baseline=True, window_s=0.02)
    assert _rmse(both, clean) < 0.5 * _rmse(only_baseline, clean)
    assert _rmse(both, clean) < 0.08


def test_windows_are_odd_samples():
    x = np.random.default_rng(1).standard_normal(500)
    # 0.04 s at 100 Hz is 4 samples -> 5
    assert np.array_equal(median(x, sampling_rate=100.0, window_s=0.04), ndimage.median_filter(x, size=5, mode="reflect"))
    # de Chazal at 360 Hz: 72 -> 73 and 216 -> 217 samples
    base = ndimage.median_filter(ndimage.median_filter(x, size=73, mode="reflect"), size=217, mode="reflect")
    assert np.allclose(median(x, sampling_rate=360.0, baseline=True), x - base)


def test_window_longer_than_signal():
    y = median(np.arange(50.0), sampling_rate=FS, baseline=True)
    assert y.shape == (50,) and np.all(np.isfinite(y))


@pytest.mark.parametrize(
    "kw, words",
    [
        ({}, ["nothing to do"]),
        ({"window_s": 0.001}, ["window_s", "3 samples"]),
        ({"window_s": -1.0}, ["window_s", "positive"]),
        ({"baseline": True, "baseline_windows_s": (0.2,)}, ["baseline_windows_s"]),
        ({"size": 3}, ["size", "images"]),
    ],
)
def test_signal_errors(kw, words):
    with pytest.raises(InputError) as err:
        median(np.zeros(1000), sampling_rate=FS, **kw)
    for w in words:
        assert w in str(err.value)


def test_salt_and_pepper_removed_by_3x3(phantom2d, rng):
    img = phantom2d(128)
    noisy = img.copy()
    u = rng.random(img.shape)
    noisy[u < 0.03] = 0.0
    noisy[u > 0.97] = 1.5
    y = median(noisy, size=3)
    assert y.dtype == np.float32 and y.shape == img.shape
    assert _rmse(noisy, img) > 0.2
    assert _rmse(y, img) < 0.03
    assert median(noisy).tolist() == y.tolist()  # size defaults to 3


def test_image_volume_and_axes(rng):
    vol = rng.standard_normal((5, 17, 19)).astype(np.float32)
    per_slice = median(vol, size=3, axes=(1, 2))
    assert np.array_equal(per_slice, np.stack([median(s, size=3) for s in vol]))
    full = median(vol, size=3)
    assert np.array_equal(full, ndimage.median_filter(vol, size=3, mode="reflect"))
    aniso = median(vol, size=(1, 3, 5))
    assert np.array_equal(aniso, ndimage.median_filter(vol, size=(1, 3, 5), mode="reflect"))


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"size": 4}, ["size", "odd"]),
        ({"size": (3, 3, 3)}, ["size", "entries"]),
        ({"window_s": 0.02}, ["window_s", "sampling_rate"]),
        ({"baseline": True}, ["baseline", "sampling_rate"]),
        ({"axes": (0, 0)}, ["axes"]),
    ],
)
def test_image_errors(kw, words):
    with pytest.raises(InputError) as err:
        median(np.zeros((16, 16)), **kw)
    for w in words:
        assert w in str(err.value)
