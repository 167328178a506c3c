"""Multi-coil magnitude MRI noise (coil sensitivities, k-space filtering, RSS and SENSE
combination) and the background noise estimator, checked against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage, special, stats

from biodae._errors import InputError
from biodae.noise import (
    MRI_COMBINES,
    MRI_KSPACE_FILTERS,
    coil_sensitivities,
    estimate_sigma_mri,
    mri_coil_noise,
    rician,
)

HAMMING_A, HAMMING_B = 0.54, 0.46


def _uniform_coils(n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Constant sensitivities with distinct phases and RSS = 1: noise is stationary."""
    phases = np.exp(1j * np.linspace(0.0, 5.0, n))
    return np.broadcast_to(phases.reshape((n,) + (1,) * len(shape)) / math.sqrt(n), (n,) + shape).copy()


def _phantom(n: int = 128) -> np.ndarray:
    """A smooth head-like phantom: an ellipse at 100 with a darker disc, air around it."""
    yy, xx = np.mgrid[:n, :n] * (128.0 / n)
    img = ((xx - 64) ** 2 / 50**2 + (yy - 64) ** 2 / 40**2 <= 1) * 100.0
    img[(xx - 50) ** 2 + (yy - 60) ** 2 < 15**2] = 60.0
    return ndimage.gaussian_filter(img, 2.0 * n / 128)


def _lag1_corr(a: np.ndarray, axis: int) -> float:
    a = a - a.mean()
    n = a.shape[axis]
    x = np.take(a, np.arange(n - 1), axis=axis).ravel()
    y = np.take(a, np.arange(1, n), axis=axis).ravel()
    return float(np.corrcoef(x, y)[0, 1])


def _nc_chi_mean(amplitude: float, sigma: float, n: int) -> float:
    """E[M] of a non-central χ with 2N degrees of freedom (generalised Laguerre form)."""
    return sigma * math.sqrt(math.pi / 2) * special.eval_genlaguerre(0.5, n - 1, -(amplitude**2) / (2 * sigma**2))


# --------------------------------------------------------------------------- sensitivities


def test_sensitivities_are_biot_savart_loops_on_axis():
    # One coil at azimuth 0: along the x axis through the image centre the point is on the
    # loop's axis, where a regular 16-gon of circumradius a carrying a unit current gives
    # B = 16 · 2ℓh / (ρ² · sqrt(ρ² + ℓ²)), ℓ = a·sin(π/16), h = a·cos(π/16), ρ² = h² + d².
    n, a, radius = 63, 0.6, 1.5  # odd n: a voxel row on the axis; n <= 64: no interpolation
    s = coil_sensitivities((n, n), coils=1, radius=radius, loop_radius=a)
    u = (np.arange(n) - (n - 1) / 2) / (n / 2)
    d = radius - u
    half, apothem = a * math.sin(math.pi / 16), a * math.cos(math.pi / 16)
    rho2 = apothem**2 + d**2
    polygon = 16 * 2 * half * apothem / (rho2 * np.sqrt(rho2 + half**2))
    ratio = np.abs(s[0, :, (n - 1) // 2]) / polygon
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    # on the axis the field is along the loop's normal (x): constant phase
    phase = np.angle(s[0, :, (n - 1) // 2])
    np.testing.assert_allclose(phase, phase[0], atol=1e-10)


@pytest.mark.parametrize("shape", [(96, 80), (40, 36, 20)])
def test_sensitivities_normalisation_and_smoothness(shape):
    s = coil_sensitivities(shape, coils=8)
    assert s.shape == (8,) + shape and s.dtype == np.complex128
    rss = np.sqrt((np.abs(s) ** 2).sum(axis=0))
    grids = [(np.arange(n) - (n - 1) / 2) / (n / 2) for n in shape]
    inside = np.add.outer(grids[0] ** 2, grids[1] ** 2) <= 1
    inside = np.broadcast_to(inside.reshape(inside.shape + (1,) * (len(shape) - 2)), shape)
    assert np.median(rss[inside]) == pytest.approx(1.0, rel=1e-12)
    # a real array's shading: brighter near the coils than at the centre
    centre = rss[tuple(n // 2 for n in shape)]
    assert rss[inside].max() / centre > 2.0
    # smooth inside the object: small first and second differences (complex: magnitude
    # and phase) between neighbouring voxels
    top = np.abs(s).max()
    for ax in range(len(shape)):
        for order, bound in [(1, 0.1), (2, 0.03)]:
            step = np.abs(np.diff(s, order, axis=ax + 1))
            where = np.take(inside, np.arange(shape[ax] - order), axis=ax)
            assert step[:, where].max() < bound * top
    flat = coil_sensitivities(shape, coils=8, normalize="voxel")
    np.testing.assert_allclose(np.sqrt((np.abs(flat) ** 2).sum(axis=0)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(flat * rss, s, rtol=1e-10, atol=1e-12)


def test_sensitivities_spline_matches_direct_field(monkeypatch):
    # Above 64 voxels per axis the field is interpolated from 64 points per axis: compare
    # with the field computed at every voxel.
    import biodae.noise._mri as mri

    shape = (160, 144)
    fast = coil_sensitivities(shape, coils=8)
    monkeypatch.setattr(mri, "_SENSITIVITY_GRID", 1000)
    direct = coil_sensitivities(shape, coils=8)
    err = np.abs(fast - direct)
    assert err.max() < 0.01 * np.abs(direct).max()
    assert np.median(err / np.abs(direct)) < 1e-3


def test_sensitivities_reject_bad_geometry():
    with pytest.raises(InputError, match="radius"):
        coil_sensitivities((32, 32), radius=1.2)
    with pytest.raises(InputError, match="shape"):
        coil_sensitivities((32, 32, 4, 4))
    with pytest.raises(InputError, match="normalize"):
        coil_sensitivities((32, 32), normalize="max")


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("n_coils", [1, 4, 8])
@pytest.mark.parametrize("snr", [0.0, 1.0, 3.0])
def test_rss_noncentral_chi_moments(n_coils, snr):
    sigma, shape = 2.0, (384, 384)
    amplitude = snr * sigma
    res = mri_coil_noise(np.full(shape, amplitude), sigma, sensitivities=_uniform_coils(n_coils, shape), rng=11)
    m = res.noisy
    assert res.coils_effective == n_coils
    np.testing.assert_allclose(res.sigma_map, sigma)
    np.testing.assert_allclose(res.clean, amplitude, atol=1e-9)
    # E[M²] = A² + 2Nσ² (exact); E[M] from the generalised Laguerre polynomial
    se_m2 = np.std(m**2) / math.sqrt(m.size)
    assert abs(np.mean(m**2) - (amplitude**2 + 2 * n_coils * sigma**2)) < 4 * se_m2
    se_m = np.std(m) / math.sqrt(m.size)
    assert abs(np.mean(m) - _nc_chi_mean(amplitude, sigma, n_coils)) < 4 * se_m
    # and the formula itself is not the Gaussian or Rician one
    if n_coils > 1:
        assert abs(_nc_chi_mean(amplitude, sigma, n_coils) - _nc_chi_mean(amplitude, sigma, 1)) > 20 * se_m


def test_one_coil_is_rician():
    shape, sigma = (256, 256), 3.0
    img = np.full(shape, 2.0 * sigma)
    ours = mri_coil_noise(img, sigma, sensitivities=np.ones((1,) + shape), rng=1).noisy
    ref = rician(img, sigma, rng=2)
    assert stats.ks_2samp(ours.ravel(), ref.ravel()).pvalue > 0.01
    assert ours.mean() == pytest.approx(ref.mean(), rel=0.01)
    assert np.mean(ours**2) == pytest.approx(np.mean(ref**2), rel=0.01)
    # a Rician of another sigma is told apart
    assert stats.ks_2samp(ours.ravel(), rician(img, 1.1 * sigma, rng=2).ravel()).pvalue < 1e-6


@pytest.mark.parametrize("n_coils", [2, 8])
def test_background_is_chi_with_2n_dof(n_coils):
    shape, sigma = (200, 200), 1.5
    m = mri_coil_noise(np.zeros(shape), sigma, sensitivities=_uniform_coils(n_coils, shape), rng=5).noisy
    assert stats.kstest(m.ravel(), stats.chi(2 * n_coils, scale=sigma).cdf).pvalue > 0.01
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(m, q) == pytest.approx(stats.chi.ppf(q, 2 * n_coils, scale=sigma), rel=0.01)
    # fewer degrees of freedom with the same mean square is rejected
    other = stats.chi(2 * n_coils - 2, scale=sigma * math.sqrt(n_coils / (n_coils - 1)))
    assert stats.kstest(m.ravel(), other.cdf).pvalue < 1e-6


# --------------------------------------------------------------------------- k-space


def test_hamming_correlation_closed_form_and_measured():
    shape, sigma, n_coils = (256, 256), 1.0, 8
    sens = _uniform_coils(n_coils, shape)
    res = mri_coil_noise(np.zeros(shape), sigma, sensitivities=sens, kspace_filter="hamming", rng=3)
    # Σ w² e^{2πifd/n} for w = a + b·cos(2πf/n): lag 1 = ab / (a² + b²/2), lag 2 = (b²/4) / (a² + b²/2)
    r1 = HAMMING_A * HAMMING_B / (HAMMING_A**2 + HAMMING_B**2 / 2)
    r2 = HAMMING_B**2 / 4 / (HAMMING_A**2 + HAMMING_B**2 / 2)
    corr = res.noise_correlation
    assert corr[0, 0] == pytest.approx(1.0)
    for lag, expected in [((0, 1), r1), ((1, 0), r1), ((0, 2), r2), ((1, 1), r1 * r1), ((0, 3), 0.0)]:
        assert corr[lag] == pytest.approx(expected, abs=1e-12)
    assert res.noise_power_spectrum.mean() == pytest.approx(1.0)
    # the level after the filter is σ (the definition): E[M²] = 2Nσ² in the background
    m2 = res.noisy.astype(np.float64) ** 2
    assert m2.mean() == pytest.approx(2 * n_coils * sigma**2, rel=0.02)
    # background: squared magnitudes of a Gaussian sum of squares correlate as |ρ|²
    for ax in (0, 1):
        assert _lag1_corr(m2, ax) == pytest.approx(r1**2, abs=0.02)
    # high SNR: the magnitude's noise is the in-phase Gaussian channel, correlation ρ
    hi = mri_coil_noise(
        np.full(shape, 100.0), sigma, sensitivities=sens, combine="sense", kspace_filter="hamming", rng=4
    ).noisy
    for ax in (0, 1):
        assert _lag1_corr(hi, ax) == pytest.approx(r1, abs=0.02)
    # white noise is not correlated
    white = mri_coil_noise(np.full(shape, 100.0), sigma, sensitivities=sens, combine="sense", rng=4).noisy
    assert abs(_lag1_corr(white, 0)) < 0.02


def test_hann_and_tukey_windows():
    shape = (64, 64)
    hann = mri_coil_noise(np.zeros(shape), 1.0, coils=2, kspace_filter="hann", rng=0)
    # w = ½ + ½cos: lag 1 = (¼) / (¼ + ⅛) = 2/3, lag 2 = (1/16) / (3/8) = 1/6
    assert hann.noise_correlation[0, 1] == pytest.approx(2 / 3, abs=1e-12)
    assert hann.noise_correlation[2, 0] == pytest.approx(1 / 6, abs=1e-12)
    tukey = mri_coil_noise(np.zeros(shape), 1.0, coils=2, kspace_filter="tukey", rng=0)
    assert 0.0 < tukey.noise_correlation[0, 1].real < 2 / 3  # flat centre: milder than Hann
    spectrum = np.fft.fftshift(tukey.noise_power_spectrum[:, 0])
    assert np.all(spectrum[24:41] == spectrum[32])  # flat over the central half


def test_zero_fill_correlation_is_dirichlet_kernel():
    n = 128
    res = mri_coil_noise(np.zeros((n, n)), 1.0, sensitivities=_uniform_coils(4, (n, n)), zero_fill=2, rng=0)
    m = n // 2  # acquired lines per axis: a box of m frequencies
    expected = 1.0 / (m * math.sin(math.pi / n))  # |Σ_f e^{2πif/n}| / m
    assert abs(res.noise_correlation[0, 1]) == pytest.approx(expected, rel=1e-12)
    assert np.count_nonzero(res.noise_power_spectrum) == m * m
    m2 = res.noisy**2
    assert m2.mean() == pytest.approx(2 * 4, rel=0.03)  # σ = 1 after zero filling too
    assert _lag1_corr(m2, 1) == pytest.approx(expected**2, abs=0.03)


@pytest.mark.parametrize(
    "kwargs",
    [dict(partial_fourier=0.625), dict(zero_fill=2), dict(partial_fourier=0.75, zero_fill=2, kspace_filter="hamming")],
)
@pytest.mark.parametrize("combine", MRI_COMBINES)
def test_partial_fourier_and_zero_fill_keep_shape_and_signal(kwargs, combine):
    img = _phantom(128)
    sigma = 2.0
    res = mri_coil_noise(img, sigma, combine=combine, rng=0, **kwargs)
    assert res.noisy.shape == img.shape and res.clean.shape == img.shape
    rel = np.sqrt(np.mean((res.clean - img) ** 2) / np.mean(img**2))
    assert rel < 0.05
    # the filter and the missing lines do lose detail: a sharp-edged square is changed
    square = np.zeros_like(img)
    square[40:90, 30:100] = 100.0
    sharp = mri_coil_noise(square, 0.0, combine=combine, rng=0, **kwargs).clean
    assert np.sqrt(np.mean((sharp - square) ** 2) / np.mean(square**2)) > 0.02
    # σ keeps its meaning: in the air the magnitude is σ·χ with 2N degrees of freedom at
    # the returned level (N = 8 for RSS, 1 for SENSE), so E[(M/σ)²] = 2N
    air = img < 1e-6
    z2 = (res.noisy[air] / res.sigma_map[air]) ** 2
    assert res.coils_effective == (8.0 if combine == "rss" else 1.0)
    assert z2.mean() == pytest.approx(2 * res.coils_effective, rel=0.05)


def test_partial_fourier_spectrum_and_asymmetric_correlation():
    n = 128
    sens = _uniform_coils(4, (n, n))
    res = mri_coil_noise(np.zeros((n, n)), 1.0, sensitivities=sens, partial_fourier=0.625, rng=0)
    lines = np.count_nonzero(res.noise_power_spectrum[:, 0])
    assert lines == 80  # 5/8 of 128 phase-encoding lines
    assert np.count_nonzero(res.noise_power_spectrum[0, :]) == n  # read-out untouched
    # along the phase axis the correlation is complex, its magnitude from the 80-line box
    r = res.noise_correlation[1, 0]
    assert abs(r) == pytest.approx(abs(np.sin(math.pi * lines / n) / (lines * np.sin(math.pi / n))), rel=1e-12)
    assert abs(r.imag) > 0.1
    assert abs(res.noise_correlation[0, 1]) < 1e-12
    m2 = res.noisy**2
    assert _lag1_corr(m2, 0) == pytest.approx(abs(r) ** 2, abs=0.03)


def test_stack_of_slices_has_independent_slices():
    shape = (48, 48, 24)
    sens = _uniform_coils(4, shape)
    res = mri_coil_noise(
        np.full(shape, 200.0), 1.0, sensitivities=sens, combine="sense", kspace_filter="hamming",
        kspace_axes=(0, 1), rng=0,
    )
    assert res.noise_power_spectrum.shape == (48, 48, 1)
    assert _lag1_corr(res.noisy, 0) == pytest.approx(0.625, abs=0.03)
    assert abs(_lag1_corr(res.noisy, 2)) < 0.03
    full = mri_coil_noise(
        np.full(shape, 200.0), 1.0, sensitivities=sens, combine="sense", kspace_filter="hamming", rng=0
    )
    assert _lag1_corr(full.noisy, 2) == pytest.approx(0.625, abs=0.03)


# --------------------------------------------------------------------------- non-stationary


def _empirical_vs_map(results, block: int = 8) -> np.ndarray:
    noisy = np.stack([r.noisy for r in results])
    var = noisy.var(axis=0, ddof=1)
    smap = results[0].sigma_map
    n0, n1 = smap.shape
    shape4 = (n0 // block, block, n1 // block, block)
    return np.sqrt(var.reshape(shape4).mean(axis=(1, 3))) / np.sqrt((smap**2).reshape(shape4).mean(axis=(1, 3)))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(combine="sense"),
        dict(combine="sense", acceleration=2, kspace_filter="hamming"),
        dict(combine="sense", acceleration=3, coil_covariance=0.2),
        dict(combine="rss"),
    ],
)
def test_level_map_matches_empirical_std(kwargs):
    shape = (48, 48)
    img = np.full(shape, 300.0)  # high SNR: the magnitude's std is the Gaussian channel's
    sens = coil_sensitivities(shape, coils=8)
    results = [mri_coil_noise(img, 1.0, sensitivities=sens, rng=seed, **kwargs) for seed in range(40)]
    smap = results[0].sigma_map
    assert smap.max() / smap.min() > 1.5  # the level does vary in space
    ratio = _empirical_vs_map(results)
    # 64 voxels × 40 draws per block: standard error of the std ≈ 1/sqrt(2·2560) ≈ 1.4%
    # for white noise, ≈ 2.6% with Hamming (neighbours correlated): 4 standard errors per
    # block, and the blocks' mean within 1%
    assert abs(ratio.mean() - 1.0) < 0.01
    np.testing.assert_allclose(ratio, 1.0, atol=0.11 if "kspace_filter" in kwargs else 0.06)
    if "kspace_filter" not in kwargs:  # (a filter blurs the coil images across the FOV's edge)
        np.testing.assert_allclose(results[0].clean, 300.0, rtol=1e-9)


def test_rss_and_sense_level_formulas():
    shape = (40, 44)
    sens = coil_sensitivities(shape, coils=6)
    rss_s = np.sqrt((np.abs(sens) ** 2).sum(axis=0))
    img = np.full(shape, 10.0)
    rss = mri_coil_noise(img, 2.0, sensitivities=sens, rng=0)
    np.testing.assert_allclose(rss.sigma_map, 2.0 / rss_s)
    shaded = mri_coil_noise(img, 2.0, sensitivities=sens, intensity_correction=False, rng=0)
    np.testing.assert_allclose(shaded.sigma_map, 2.0)
    np.testing.assert_allclose(shaded.clean, 10.0 * rss_s, rtol=1e-10)
    np.testing.assert_allclose(shaded.noisy / rss_s, rss.noisy, rtol=1e-10)  # same draw, corrected
    # SENSE R = 1 with independent coils: σ / sqrt(Σ|S|²), the same map
    sense = mri_coil_noise(img, 2.0, sensitivities=sens, combine="sense", rng=0)
    np.testing.assert_allclose(sense.sigma_map, 2.0 / rss_s, rtol=1e-10)
    # with coil correlation Ψ: σ / sqrt(Sᴴ Ψ⁻¹ S)
    cov = np.full((6, 6), 0.3) + 0.7 * np.eye(6)
    corr = mri_coil_noise(img, 2.0, sensitivities=sens, combine="sense", coil_covariance=cov, rng=0)
    s_vec = sens.reshape(6, -1)
    g = np.einsum("jv,jk,kv->v", s_vec.conj(), np.linalg.inv(cov), s_vec).real.reshape(shape)
    np.testing.assert_allclose(corr.sigma_map, 2.0 / np.sqrt(g), rtol=1e-10)
    # a user level map multiplies the noise and the map
    level = np.linspace(0.5, 2.0, shape[1])[None, :]
    scaled = mri_coil_noise(img, 2.0, sensitivities=sens, level_map=level, rng=0)
    np.testing.assert_allclose(scaled.sigma_map, rss.sigma_map * level)


def test_correlated_coils_rss_moments():
    shape, sigma, n = (256, 256), 1.0, 8
    rho = 0.3
    cov = np.full((n, n), rho) + (1 - rho) * np.eye(n)
    res = mri_coil_noise(np.zeros(shape), sigma, sensitivities=_uniform_coils(n, shape), coil_covariance=rho, rng=0)
    tr, tr2 = np.trace(cov), np.sum(cov**2)
    assert res.coils_effective == pytest.approx(tr**2 / tr2)
    np.testing.assert_allclose(res.sigma_map, sigma * math.sqrt(tr2 / tr))
    m2 = res.noisy**2
    # M² = Σ λ_k |z_k|²: mean 2 tr Ψ σ², variance 4 tr(Ψ²) σ⁴
    assert m2.mean() == pytest.approx(2 * tr * sigma**2, rel=0.015)
    assert m2.var() == pytest.approx(4 * tr2 * sigma**4, rel=0.04)
    # the same moments as the effective non-central χ (background)
    n_eff, s_eff = res.coils_effective, res.sigma_map[0, 0]
    assert m2.var() == pytest.approx(4 * n_eff * s_eff**4, rel=0.04)


# --------------------------------------------------------------------------- determinism, dtype, errors


def test_seed_reproducibility_and_dtype():
    img = _phantom(64).astype(np.float32)
    kw = dict(kspace_filter="hamming", partial_fourier=0.75, coils=4)
    a = mri_coil_noise(img, 3.0, rng=7, **kw)
    b = mri_coil_noise(img, 3.0, rng=np.random.default_rng(7), **kw)
    np.testing.assert_array_equal(a.noisy, b.noisy)
    assert a.noisy.dtype == np.float32 and a.clean.dtype == np.float32 and a.sigma_map.dtype == np.float64
    assert not np.array_equal(a.noisy, mri_coil_noise(img, 3.0, rng=8, **kw).noisy)
    s1 = mri_coil_noise(img, 3.0, rng=7, combine="sense", acceleration=2, coils=4)
    s2 = mri_coil_noise(img, 3.0, rng=7, combine="sense", acceleration=2, coils=4)
    np.testing.assert_array_equal(s1.noisy, s2.noisy)
    assert a.params["coils"] == 4 and a.params["partial_fourier"] == 0.75 and a.params["sigma"] == 3.0
    assert mri_coil_noise(img.astype(np.float64), 3.0, rng=7, **kw).noisy.dtype == np.float64
    # σ = 0: the clean reconstruction
    np.testing.assert_array_equal(mri_coil_noise(img, 0.0, rng=1, **kw).noisy, a.clean)


def test_3d_volume():
    shape = (32, 28, 16)
    img = np.zeros(shape)
    img[8:24, 6:22, 4:12] = 50.0
    res = mri_coil_noise(img, 1.0, coils=8, kspace_filter="hann", rng=0)
    assert res.noisy.shape == shape and res.sensitivities.shape == (8,) + shape
    assert res.noise_correlation.shape == shape
    assert res.noise_correlation[0, 0, 1] == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(combine="roemer"), "combine"),
        (dict(kspace_filter="kaiser"), "kspace_filter"),
        (dict(partial_fourier=0.5), "partial_fourier"),
        (dict(partial_fourier=1.2), "partial_fourier"),
        (dict(zero_fill=0), "zero_fill"),
        (dict(zero_fill=16), "zero_fill"),
        (dict(acceleration=2), "root-sum-of-squares"),
        (dict(combine="sense", acceleration=3), "divide"),
        (dict(combine="sense", acceleration=16, coils=8), "exceeds"),
        (dict(coils=4, sensitivities=np.ones((3, 32, 32))), "coils=4"),
        (dict(sensitivities=np.ones((3, 32, 30))), "sensitivities"),
        (dict(level_map=np.ones((3, 32))), "level_map"),
        (dict(level_map=-np.ones((32, 32))), "level_map"),
        (dict(coil_covariance=-0.5), "correlation"),
        (dict(coil_covariance=np.eye(8) - 0.9), "positive definite|Hermitian"),
        (dict(phase_axis=1, kspace_axes=(0,)), "phase_axis"),
        (dict(rng="seed"), "rng"),
    ],
)
def test_invalid_arguments(kwargs, match):
    kwargs.setdefault("rng", 0)
    with pytest.raises(InputError, match=match):
        mri_coil_noise(np.ones((32, 32)), 1.0, **kwargs)


def test_invalid_images():
    with pytest.raises(InputError, match="negative"):
        mri_coil_noise(-np.ones((16, 16)), 1.0, rng=0)
    with pytest.raises(InputError, match="4-D|2-D"):
        mri_coil_noise(np.ones((8, 8, 8, 2)), 1.0, rng=0)
    with pytest.raises(InputError, match="NaN"):
        mri_coil_noise(np.full((16, 16), np.nan), 1.0, rng=0)
    with pytest.raises(InputError, match="sigma"):
        mri_coil_noise(np.ones((16, 16)), -1.0, rng=0)
    assert set(MRI_KSPACE_FILTERS) == {"hamming", "hann", "tukey"}


# --------------------------------------------------------------------------- estimation


@pytest.mark.parametrize("kspace_filter", [None, "hamming"])
def test_estimate_sigma_mri_rss_white_and_correlated(kspace_filter):
    img = _phantom(128)
    sigma = 3.0
    res = mri_coil_noise(img, sigma, coils=8, kspace_filter=kspace_filter, intensity_correction=False, rng=0)
    est = estimate_sigma_mri(res.noisy, coils=8)
    assert est.coils == 8.0
    assert est.sigma == pytest.approx(sigma, rel=0.05)
    # the background it found is air (and the dark edge of the blurred phantom)
    assert np.mean(img[est.background] < 1.0) > 0.75
    assert np.mean(est.background[img < 1e-6]) > 0.95
    np.testing.assert_allclose(np.median(est.sigma_map[img < 1e-6]), sigma, rtol=0.05)
    # N unknown: found near 8, σ within the 20 %
    free = estimate_sigma_mri(res.noisy)
    assert 6.0 < free.coils < 10.0
    assert free.sigma == pytest.approx(sigma, rel=0.2)
    # the wrong N is refused rather than answered
    with pytest.raises(InputError, match="1 coil"):
        estimate_sigma_mri(res.noisy, coils=1)


def test_estimate_sigma_mri_correlated_coils_effective_values():
    img = _phantom(128)
    res = mri_coil_noise(img, 3.0, coils=8, coil_covariance=0.3, intensity_correction=False, rng=1)
    free = estimate_sigma_mri(res.noisy)
    assert free.coils == pytest.approx(res.coils_effective, rel=0.2)
    assert free.sigma == pytest.approx(res.sigma_map[0, 0], rel=0.2)


@pytest.mark.parametrize(
    "kwargs", [dict(combine="sense"), dict(combine="rss"), dict(combine="sense", kspace_filter="hann")]
)
def test_estimate_sigma_mri_non_stationary(kwargs):
    img = _phantom(128)
    res = mri_coil_noise(img, 3.0, coils=8, rng=2, **kwargs)
    n = 1 if kwargs["combine"] == "sense" else 8
    est = estimate_sigma_mri(res.noisy, coils=n)
    truth = res.sigma_map
    air = img < 1e-6
    assert truth[air].max() / truth[air].min() > 2.0  # the level varies across the air
    assert est.sigma == pytest.approx(np.median(truth[est.background]), rel=0.2)
    # locally, in the air, the map follows the truth
    assert np.median(np.abs(est.sigma_map[air] / truth[air] - 1)) < 0.15
    # a single global level cannot: it misses by more than 20 % on a quarter of the air
    assert np.mean(np.abs(est.sigma / truth[air] - 1) > 0.2) > 0.25


def test_estimate_sigma_mri_needs_air():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="air"):
        estimate_sigma_mri(100.0 + rng.normal(0, 1, (64, 64)))
    with pytest.raises(InputError, match="air"):
        estimate_sigma_mri(np.zeros((64, 64)))
    with pytest.raises(InputError, match="negative"):
        estimate_sigma_mri(-np.ones((64, 64)))
    # exact zeros (a zero-filled border) are ignored
    img = _phantom(128)
    noisy = mri_coil_noise(img, 3.0, coils=4, intensity_correction=False, rng=3).noisy
    padded = np.pad(noisy, 20)
    unpadded = estimate_sigma_mri(noisy, coils=4).sigma
    assert estimate_sigma_mri(padded, coils=4).sigma == pytest.approx(unpadded, rel=0.01)


@pytest.mark.data
def test_estimate_sigma_mri_on_test_piesno(biodae_data):
    nib = pytest.importorskip("nibabel")
    path = biodae_data / "mri" / "dipy" / "test_piesno.nii.gz"
    assert path.exists(), f"the data folder (BIODAE_DATA) lacks {path}: see ../shared/data/README.md"
    data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float64)
    est = estimate_sigma_mri(data, coils=8)
    noise_estimate = pytest.importorskip("dipy.denoise.noise_estimate")
    reference = float(noise_estimate.piesno(data, N=8))
    assert est.sigma == pytest.approx(reference, rel=0.05)
    # N unknown: an effective N below the 8 coils, with about the same σ²·N (noise power)
    free = estimate_sigma_mri(data)
    assert 2.0 < free.coils < 8.0
    assert free.sigma**2 * free.coils == pytest.approx(reference**2 * 8, rel=0.2)


def test_remove_noise_floor_leaves_the_second_moment_of_rician_noise():
    """E[M²] = A² + 2Nσ² for N coils; after removing the floor of N - 1 of them, A² + 2σ²."""
    from biodae.noise import remove_noise_floor

    a, sigma = 50.0, 5.0
    res = mri_coil_noise(np.full((256, 256), a), sigma, sensitivities=_uniform_coils(8, (256, 256)), rng=3)
    m2 = float(np.mean(res.noisy.astype(np.float64) ** 2))
    assert m2 == pytest.approx(a**2 + 2 * 8 * sigma**2, rel=0.01)
    before = res.noisy.copy()
    out = remove_noise_floor(res.noisy, sigma, 8)
    np.testing.assert_array_equal(res.noisy, before)  # the input is not modified
    assert out.dtype == np.float32 and out.shape == before.shape
    assert float(np.mean(out.astype(np.float64) ** 2)) == pytest.approx(a**2 + 2 * sigma**2, rel=0.01)
    one = remove_noise_floor(res.noisy, sigma, 1)
    np.testing.assert_array_equal(one, res.noisy.astype(np.float32))
    assert one is not res.noisy
    low = remove_noise_floor(np.array([[0.0, 1.0], [np.nan, np.inf]]), 5.0, 8)
    # below the floor: the smallest positive float32, never an exact 0 (zero fill to the models) nor NaN; the
    # input's own zeros and non-finite voxels stay
    assert low[0, 0] == 0 and low[0, 1] == np.finfo(np.float32).tiny
    assert np.isnan(low[1, 0]) and low[1, 1] == np.inf
    with pytest.raises(InputError, match="coils"):
        remove_noise_floor(res.noisy, sigma, 0.5)


def test_level_in_object_sees_the_level_rise_towards_the_centre():
    """An intensity-normalised RSS of 8 coils has its highest noise in the middle, where the air
    cannot show it: the map measured in the object is near the truth there, the air's is low."""
    from biodae.noise import level_in_object
    from biodae.noise._estimate import _air_candidates

    clean = _phantom(256)
    res = mri_coil_noise(clean, 2.0, coils=8, rng=5)
    air = _air_candidates(res.noisy.astype(np.float64))
    est = estimate_sigma_mri(res.noisy, mask=air)
    level = level_in_object(res.noisy, est.sigma_map, air)
    bright = clean > 90  # tissue well above the noise
    truth = res.sigma_map[bright]
    air_ratio = float(np.median(est.sigma_map[bright] / truth))
    ratio = float(np.median(level[bright] / truth))
    assert air_ratio < 0.85  # the air's map misses the rise
    assert abs(ratio - 1.0) < 0.1 and abs(ratio - 1.0) < abs(air_ratio - 1.0)
    assert np.all(level >= est.sigma_map - 1e-12)
    np.testing.assert_array_equal(level[air], est.sigma_map[air])
    with pytest.raises(InputError, match="one shape"):
        level_in_object(res.noisy, est.sigma_map[:10], air)


def test_remove_noise_floor_leaves_no_zeros_in_dark_tissue():
    """Tissue at A = 2σ under 6 coils: the subtraction alone sets 17 % of the voxels to 0 (a spike
    no Rician image has) and lowers the mean; the larger of it and the A = 0 mapping keeps the
    Rician mean and makes no zeros, and is closer to the Rician distribution."""
    from biodae.noise import remove_noise_floor

    sigma = 5.0
    res = mri_coil_noise(np.full((256, 256), 2 * sigma), sigma, sensitivities=_uniform_coils(6, (256, 256)),
                         intensity_correction=False, rng=5)
    m = res.noisy.astype(np.float64)
    sub = np.sqrt(np.maximum(m ** 2 - 2 * 5 * sigma ** 2, 0.0))
    out = remove_noise_floor(res.noisy, sigma, 6)
    rician = stats.rice(2.0, scale=sigma)
    assert np.mean(sub == 0) > 0.15 and abs(sub.mean() - rician.mean()) > 0.1 * sigma  # 0.167, -0.13 σ
    assert out.min() > 0 and abs(out.mean() - rician.mean()) < 0.02 * sigma  # 2.276 σ against 2.272 σ
    assert stats.kstest(out.ravel(), rician.cdf).statistic < stats.kstest(sub.ravel(), rician.cdf).statistic
    bright = m > 6 * sigma  # well above the crossing (about 1.2 σ after the subtraction): the subtraction
    np.testing.assert_allclose(out[bright], sub[bright], rtol=1e-5)


def test_remove_noise_floor_turns_the_air_into_rayleigh_noise():
    """Given the air, its χ with 16 degrees of freedom is mapped quantile for quantile to the
    Rayleigh distribution of the same σ (Rician air), not to half zeros and half spikes."""
    from biodae.noise import remove_noise_floor

    sigma = 5.0
    res = mri_coil_noise(np.zeros((256, 256)), sigma, sensitivities=_uniform_coils(8, (256, 256)), rng=4)
    air = np.ones(res.noisy.shape, bool)
    out = remove_noise_floor(res.noisy, sigma, 8, air=air)
    ks = stats.kstest(out.ravel() / sigma, stats.rayleigh.cdf)
    assert ks.statistic < 0.01
    bare = remove_noise_floor(res.noisy, sigma, 8)  # no air given: every voxel treated as the object's
    floor = np.finfo(np.float32).tiny
    assert bare.min() > floor  # the larger of the subtraction and the A = 0 mapping: no zeros (min 0.0056 σ)
    assert stats.kstest(bare.ravel() / sigma, stats.rayleigh.cdf).statistic > 0.1  # but not Rayleigh (0.19)
    assert np.mean(out == floor) < 1e-3 and not np.any(out == 0)
    inf_air = res.noisy.copy()
    inf_air[5, 5] = np.inf
    assert remove_noise_floor(inf_air, sigma, 8, air=air)[5, 5] == np.inf  # not NaN
