"""Self-supervised denoising of one scan: Patch2Self (numpy) and Noise2Self blind-spot adaptation (torch)."""

from __future__ import annotations

import numpy as np
import pytest

import biodae
from biodae import DependencyError, InputError
from biodae._self_supervised import denoise_self_supervised, patch2self
from biodae.io import Image, Signal


def _series(seed: int = 0, shape=(16, 14, 6), volumes: int = 12, sigma: float = 10.0):
    """A low-rank 4-D series (a shared anatomy times per-volume weights) and white noise, independent
    between volumes."""
    rng = np.random.default_rng(seed)
    base = np.zeros(shape)
    base[3:13, 3:11, 1:5] = 100.0
    comps = rng.random((3, *shape)) * 50.0
    w = rng.random((volumes, 3))
    clean = np.stack([base + np.tensordot(w[t], comps, 1) for t in range(volumes)], axis=3) + 20.0
    return clean, clean + rng.normal(0.0, sigma, clean.shape)


def _rmse(a, b, where=None):
    d = np.asarray(a, dtype=np.float64) - b
    return float(np.sqrt(np.mean(d[where] ** 2 if where is not None else d ** 2)))


# ----------------------------------------------------------------------------- Patch2Self


def test_patch2self_reduces_error_of_independent_noise():
    clean, noisy = _series()
    out = patch2self(noisy)
    assert out.shape == noisy.shape and out.dtype == np.float32
    before, after = _rmse(noisy, clean), _rmse(out, clean)
    assert before == pytest.approx(10.0, rel=0.05)
    assert after < 0.6 * before  # measured 0.51 of it
    with_patches = patch2self(noisy, patch_radius=1)
    assert _rmse(with_patches, clean) < 0.75 * before


def test_patch2self_is_the_least_squares_fit_of_each_volume_on_the_others():
    from sklearn.linear_model import LinearRegression

    _, noisy = _series(seed=1, volumes=6)
    out = patch2self(noisy)
    for t in (0, 4):
        others = np.delete(noisy, t, axis=3).reshape(-1, 5)
        fit = LinearRegression().fit(others, noisy[..., t].reshape(-1))
        np.testing.assert_allclose(out[..., t].reshape(-1), fit.predict(others), rtol=0, atol=1e-3)
    # ridge shrinks the coefficients: a different, smoother answer
    assert np.abs(patch2self(noisy, model="ridge", alpha=1e7) - out).max() > 1.0


def test_patch2self_groups_by_bvalue_and_masks():
    from sklearn.linear_model import LinearRegression

    _, noisy = _series(seed=2, volumes=8)
    bvals = np.array([0, 1000, 1000, 5, 1000, 1000, 1000, 1000])
    out = patch2self(noisy, bvals=bvals)
    # two b0s: each regressed on the other only
    b0 = LinearRegression().fit(noisy[..., 3].reshape(-1, 1), noisy[..., 0].reshape(-1))
    np.testing.assert_allclose(out[..., 0].reshape(-1), b0.predict(noisy[..., 3].reshape(-1, 1)), atol=1e-3)
    dwi = out[..., bvals > 50]
    x = noisy[..., bvals > 50].reshape(-1, 6)
    fit = LinearRegression().fit(np.delete(x, 2, axis=1), x[:, 2])
    np.testing.assert_allclose(dwi[..., 2].reshape(-1), fit.predict(np.delete(x, 2, axis=1)), atol=1e-3)
    # one b0: copied as it is
    one = patch2self(noisy, bvals=np.r_[0, np.full(7, 1000)])
    np.testing.assert_array_equal(one[..., 0], noisy[..., 0].astype(np.float32))
    mask = np.zeros(noisy.shape[:3], dtype=bool)
    mask[2:10, 2:10, :] = True
    m = patch2self(noisy, mask=mask)
    np.testing.assert_array_equal(m[~mask], noisy[~mask].astype(np.float32))
    assert not np.allclose(m[mask], noisy[mask])


def test_patch2self_errors():
    _, noisy = _series(volumes=2)
    with pytest.raises(InputError, match="at least 3 volumes"):
        patch2self(noisy)
    with pytest.raises(InputError, match="4-D series"):
        patch2self(noisy[..., 0])
    with pytest.raises(InputError, match="model="):
        patch2self(_series()[1], model="lasso")
    with pytest.raises(InputError, match="b-values"):
        patch2self(_series()[1], bvals=[0, 1000])


def test_patch2self_against_dipy_when_installed():
    dipy_p2s = pytest.importorskip("dipy.denoise.patch2self")
    _, noisy = _series(seed=3, volumes=12)
    # DIPY 1.12's version 1 fits sklearn's Ridge with copy_X=False, which centres the design matrix in
    # place, and then predicts from the centred matrix: its outputs lack each volume's mean (about -34 where
    # the data are 55 here). On volumes of mean exactly 0 (and no patch padding) that centring changes
    # nothing, and the two must agree.
    centred = noisy - noisy.mean(axis=(0, 1, 2), keepdims=True)
    ours = patch2self(centred)
    theirs = dipy_p2s.patch2self(centred, np.full(12, 1000.0), patch_radius=0, model="ols", version=1,
                                  clip_negative_vals=False, shift_intensity=False, b0_denoising=True)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * float(np.abs(noisy).max()))


def test_denoise_self_supervised_patch2self_on_an_image():
    clean, noisy = _series(seed=4)
    img = Image(data=noisy.astype(np.float32), spacing=(2.0, 2.0, 2.0), format="nifti", modality="mri")
    out, rep = denoise_self_supervised(img, "patch2self")
    assert out.data.shape == noisy.shape and out.data.dtype == np.float32
    assert out.data.min() >= noisy.min() and out.data.max() <= noisy.max()  # within the input's range
    assert _rmse(out.data, clean) < 0.6 * _rmse(noisy, clean)
    assert rep["model"].startswith("patch2self (OLS") and rep["method"] == "patch2self"
    np.testing.assert_allclose(rep["noise"], noisy.astype(np.float32) - out.data)
    with pytest.raises(InputError, match="needs a 4-D series"):
        denoise_self_supervised(img.replace(data=img.data[..., 0]), "patch2self")
    with pytest.raises(InputError, match="not known"):
        denoise_self_supervised(img, "bm3d")


def test_denoise_self_supervised_refuses_signals_and_series_for_noise2self():
    sig = Signal(data=np.zeros((1000, 1)), sampling_rate=250.0, channel_names=["II"], units=["mV"], format="wfdb")
    with pytest.raises(InputError, match="not signal records"):
        denoise_self_supervised(sig, "noise2self")
    _, noisy = _series()
    img = Image(data=noisy.astype(np.float32), spacing=(2.0, 2.0, 2.0), format="nifti", modality="mri")
    with pytest.raises(InputError, match="use patch2self"):
        denoise_self_supervised(img, "noise2self")


def test_noise2self_without_torch_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "biodae.nn.adapt", None)  # as if torch (and so biodae.nn) were missing
    img = Image(data=np.ones((32, 32), np.float32), spacing=(1.0, 1.0), format="png", modality="mri")
    with pytest.raises(DependencyError, match="needs torch.*biodae\\[train\\]"):
        denoise_self_supervised(img, "noise2self")


def test_public_api():
    assert biodae.denoise_self_supervised is denoise_self_supervised and biodae.patch2self is patch2self
