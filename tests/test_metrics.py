"""biodae.metrics: hand-computed values, per-window axes, the DeepFilter PRD, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch
from skimage.metrics import structural_similarity

from biodae import metrics as M

Y = np.array([1.0, 2.0, 3.0])
YH = np.array([1.0, 2.0, 4.0])


# --- known values, by hand ---------------------------------------------------------------


def test_hand_computed_values():
    assert M.ssd(Y, YH) == 1.0
    assert M.mad(Y, YH) == 1.0
    assert M.rmse(Y, YH) == pytest.approx(np.sqrt(1 / 3), rel=1e-15)
    assert M.snr_db(Y, YH) == pytest.approx(10 * np.log10(14.0), rel=1e-15)
    # standard PRD: sum (y - ybar)^2 = 2
    assert M.prd(Y, YH) == pytest.approx(100 * np.sqrt(1 / 2), rel=1e-15)
    # DeepFilter PRD with mean_all = 2: sum (yh - 2)^2 = 1 + 0 + 4 = 5
    assert M.prd_deepfilter(Y, YH, mean_all=2.0) == pytest.approx(100 * np.sqrt(1 / 5), rel=1e-15)
    assert M.cosine_similarity(Y, YH) == pytest.approx(17 / np.sqrt(14 * 21), rel=1e-15)
    # deviations (-1, 0, 1) and (-4/3, -1/3, 5/3): 3 / sqrt(2 * 42/9)
    assert M.pearson_cc(Y, YH) == pytest.approx(3 / np.sqrt(2 * 42 / 9), rel=1e-14)
    assert M.rrmse_temporal(Y, YH) == pytest.approx(np.sqrt(1 / 14), rel=1e-15)


def test_snr_improvement_by_hand():
    noisy = Y + np.array([0.0, 0.0, 2.0])  # error energy 4
    assert M.snr_improvement_db(Y, noisy, YH) == pytest.approx(10 * np.log10(4.0), rel=1e-15)
    assert M.snr_improvement_db(Y, noisy, YH) == pytest.approx(M.snr_db(Y, YH) - M.snr_db(Y, noisy), abs=1e-12)


def test_scalars_are_python_floats_and_perfect_scores():
    assert isinstance(M.ssd(Y, YH), float)
    assert M.snr_db(Y, Y) == np.inf
    assert M.rmse(Y, Y) == 0.0
    assert M.prd(Y, Y) == 0.0
    assert M.pearson_cc(Y, 3 * Y + 2) == pytest.approx(1.0, abs=1e-15)
    assert M.pearson_cc(Y, -Y) == pytest.approx(-1.0, abs=1e-15)


def test_cosine_similarity_cases():
    assert M.cosine_similarity([1.0, 0.0], [0.0, 5.0]) == 0.0  # orthogonal
    assert M.cosine_similarity([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0, abs=1e-15)
    assert M.cosine_similarity([1.0, 2.0], [-1.0, -2.0]) == pytest.approx(-1.0, abs=1e-15)
    # no mean removal: an offset changes it (Pearson would not)
    assert M.cosine_similarity([1.0, 2.0], [11.0, 12.0]) < 0.99
    # an all-zero vector gives 0, as scikit-learn (used by DeepFilter) does
    assert M.cosine_similarity([0.0, 0.0], [1.0, 2.0]) == 0.0


# --- per-window axis ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beats():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((20, 512)).cumsum(axis=1) * 0.05
    yh = y + 0.1 * rng.standard_normal(y.shape)
    return y, yh


@pytest.mark.parametrize(
    "name", ["snr_db", "rmse", "prd", "ssd", "mad", "cosine_similarity", "pearson_cc", "rrmse_temporal"]
)
def test_axis_gives_one_value_per_beat(beats, name):
    y, yh = beats
    f = getattr(M, name)
    per_beat = f(y, yh, axis=-1)
    assert isinstance(per_beat, np.ndarray) and per_beat.shape == (20,)
    np.testing.assert_allclose(per_beat, [f(a, b) for a, b in zip(y, yh)], rtol=1e-12)
    # axis=1 on (n, 512, 1) arrays (the DeepFilter layout) gives the same per-beat values
    np.testing.assert_allclose(f(y[..., None], yh[..., None], axis=(1, 2)), per_beat, rtol=1e-12)


def test_axis_none_pools_everything(beats):
    y, yh = beats
    assert M.ssd(y, yh) == pytest.approx(np.sum((y - yh) ** 2), rel=1e-12)
    assert M.rmse(y, yh) == pytest.approx(np.sqrt(np.mean((y - yh) ** 2)), rel=1e-12)


def test_prd_deepfilter_matches_their_code_and_differs_from_standard(beats):
    y, yh = beats
    # fperdigon/DeepFilter utils/metrics.py PRD(y, y_pred), written out
    n = np.sum(np.square(yh - y), axis=1)
    d = np.sum(np.square(yh - np.mean(y)), axis=1)
    expected = np.sqrt(n / d) * 100
    got = M.prd_deepfilter(y, yh, mean_all=float(np.mean(y)), axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert not np.allclose(got, M.prd(y, yh, axis=-1), rtol=1e-3)


def test_prd_uses_per_window_mean(beats):
    y, yh = beats
    got = M.prd(y, yh, axis=-1)
    ybar = y.mean(axis=1, keepdims=True)
    expected = 100 * np.sqrt(np.sum((y - yh) ** 2, axis=1) / np.sum((y - ybar) ** 2, axis=1))
    np.testing.assert_allclose(got, expected, rtol=1e-13)


# --- spectral RRMSE -------------------------------------------------------------------------


def test_rrmse_spectral_known_values():
    fs = 256.0
    rng = np.random.default_rng(0)
    y = rng.standard_normal((5, 512))
    assert np.all(M.rrmse_spectral(y, y, sampling_rate=fs) == 0.0)
    # doubling the signal multiplies every PSD bin by 4: RMS(3 P) / RMS(P) = 3
    np.testing.assert_allclose(M.rrmse_spectral(y, 2 * y, sampling_rate=fs), 3.0, rtol=1e-12)
    # the stated Welch parameters: Hann, nperseg = fs (1 s), 50% overlap
    yh = y + 0.3 * rng.standard_normal(y.shape)
    _, p = welch(y, fs=fs, window="hann", nperseg=256, noverlap=128, axis=-1)
    _, ph = welch(yh, fs=fs, window="hann", nperseg=256, noverlap=128, axis=-1)
    expected = np.sqrt(np.mean((ph - p) ** 2, axis=-1)) / np.sqrt(np.mean(p**2, axis=-1))
    got = M.rrmse_spectral(y, yh, sampling_rate=fs)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # time along axis 0
    np.testing.assert_allclose(M.rrmse_spectral(y.T, yh.T, sampling_rate=fs, axis=0), expected, rtol=1e-12)


# --- images ---------------------------------------------------------------------------------


def test_psnr_known_mse_and_mask():
    ref = np.zeros((8, 8))
    test = np.full((8, 8), 0.1)
    assert M.psnr(ref, test, data_range=1.0) == pytest.approx(20.0, abs=1e-12)
    assert M.psnr(ref, test, data_range=255.0) == pytest.approx(10 * np.log10(255.0**2 / 0.01), abs=1e-12)
    test[:4] = 0.2  # MSE 0.04 in the top half, 0.01 in the bottom half
    mask = np.zeros((8, 8), bool)
    mask[:4] = True
    assert M.psnr(ref, test, data_range=1.0, mask=mask) == pytest.approx(10 * np.log10(1 / 0.04), abs=1e-12)
    assert M.psnr(ref, ref, data_range=1.0) == np.inf


def test_data_range_is_required():
    a = np.zeros((8, 8))
    with pytest.raises(TypeError):
        M.psnr(a, a)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        M.ssim(a, a)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="data_range"):
        M.psnr(a, a, data_range=0.0)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:48]
    ref = np.exp(-((yy - 24) ** 2 + (xx - 20) ** 2) / 200.0)
    noisy = ref + 0.05 * rng.standard_normal(ref.shape)
    return ref, noisy


def test_ssim_identical_is_one_2d_and_3d(images):
    ref, _ = images
    assert M.ssim(ref, ref, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    vol = np.stack([ref] * 9, axis=-1)
    assert M.ssim(vol, vol, data_range=1.0) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_skimage(images):
    ref, noisy = images
    expected = structural_similarity(ref, noisy, data_range=1.0)
    assert M.ssim(ref, noisy, data_range=1.0) == pytest.approx(expected, rel=1e-12)
    assert 0.2 < expected < 0.95  # a real, non-trivial case
    wang = structural_similarity(
        ref, noisy, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert M.ssim(ref, noisy, data_range=1.0, gaussian_weights=True) == pytest.approx(wang, rel=1e-12)


def test_ssim_masked_is_mean_of_map_inside_mask(images):
    ref, noisy = images
    _, smap = structural_similarity(ref, noisy, data_range=1.0, full=True)
    mask = np.zeros(ref.shape, bool)
    mask[10:30, 12:40] = True
    assert M.ssim(ref, noisy, data_range=1.0, mask=mask) == pytest.approx(smap[mask].mean(), rel=1e-12)
    # an all-True mask gives the unmasked (border-cropped) value
    full = np.ones(ref.shape, bool)
    assert M.ssim(ref, noisy, data_range=1.0, mask=full) == pytest.approx(
        M.ssim(ref, noisy, data_range=1.0), rel=1e-12
    )


def test_ssim_3d_masked_vs_skimage():
    rng = np.random.default_rng(2)
    vol = rng.random((12, 14, 10))
    noisy = vol + 0.1 * rng.standard_normal(vol.shape)
    _, smap = structural_similarity(vol, noisy, data_range=1.0, full=True)
    mask = np.zeros(vol.shape, bool)
    mask[4:8, 4:9, 3:7] = True
    assert M.ssim(vol, noisy, data_range=1.0, mask=mask) == pytest.approx(smap[mask].mean(), rel=1e-12)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["snr_db", "rmse", "prd", "ssd", "mad", "cosine_similarity", "pearson_cc"])
def test_shape_mismatch_names_the_shapes(name):
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        getattr(M, name)(np.zeros(3), np.zeros(4))


def test_other_validation():
    with pytest.raises(ValueError, match="empty"):
        M.rmse([], [])
    with pytest.raises(ValueError, match=r"\(8, 8\).*\(8, 9\)"):
        M.psnr(np.zeros((8, 8)), np.zeros((8, 9)), data_range=1.0)
    a = np.zeros((16, 16))
    with pytest.raises(ValueError, match="empty"):
        M.psnr(a, a, data_range=1.0, mask=np.zeros((16, 16), bool))
    with pytest.raises(ValueError, match="empty"):
        M.ssim(a, a, data_range=1.0, mask=np.zeros((16, 16), bool))
    with pytest.raises(ValueError, match="mask shape"):
        M.ssim(a, a, data_range=1.0, mask=np.ones((16, 15), bool))
    with pytest.raises(ValueError, match="2-D images or 3-D"):
        M.ssim(np.zeros(16), np.zeros(16), data_range=1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        M.snr_improvement_db(np.zeros(3), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="mean_all"):
        M.prd_deepfilter(Y, YH, mean_all=float("nan"))
