"""Rician and Poisson–Gaussian noise, the generalized Anscombe transform and its inverse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from biodae._errors import InputError
from biodae.noise import (
    generalized_anscombe,
    inverse_generalized_anscombe,
    poisson_gaussian,
    rician,
    rician_sigma_from_percent,
)

N = 400_000


def _rician_mean(nu, sigma):
    """Exact mean of a Rician variable: σ·sqrt(π/2)·L_{1/2}(−ν²/2σ²)."""
    t = nu**2 / (4 * sigma**2)
    return sigma * np.sqrt(np.pi / 2) * ((1 + 2 * t) * special.ive(0, t) + 2 * t * special.ive(1, t))


def test_rician_noise_only_is_rayleigh():
    sigma = 3.0
    m = rician(np.zeros(N), sigma, rng=0)
    assert m.min() >= 0
    assert m.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.005)
    assert np.mean(m**2) == pytest.approx(2 * sigma**2, rel=0.01)


@pytest.mark.parametrize("snr", [1.0, 3.0, 20.0])
def test_rician_mean_and_second_moment(snr):
    sigma = 2.0
    nu = snr * sigma
    m = rician(np.full(N, nu), sigma, rng=1)
    assert m.mean() == pytest.approx(_rician_mean(nu, sigma), rel=0.003)
    assert np.mean(m**2) == pytest.approx(nu**2 + 2 * sigma**2, rel=0.005)  # exact identity
    if snr >= 20:
        assert m.mean() == pytest.approx(np.sqrt(nu**2 + sigma**2), rel=0.002)


def test_rician_shape_dtype_determinism():
    img = np.linspace(0, 100, 64 * 64, dtype=np.float32).reshape(64, 64)
    a = rician(img, 5.0, rng=3)
    assert a.shape == img.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, rician(img, 5.0, rng=3))
    assert not np.array_equal(a, rician(img, 5.0, rng=4))
    # a noise map
    smap = np.linspace(0, 5, 64)[None, :]
    b = rician(np.zeros((64, 64)), smap, rng=0)
    assert np.all(b[:, 0] == 0)
    with pytest.raises(InputError, match="sigma"):
        rician(img, -1.0, rng=0)


def test_rician_sigma_from_percent():
    img = np.zeros((10, 10))
    img[2:8, 2:8] = 200.0
    img[0, 0] = 1000.0  # a bright artefact outside the brain
    mask = img == 200.0
    assert rician_sigma_from_percent(img, 5, mask=mask) == pytest.approx(10.0)
    assert rician_sigma_from_percent(img, 5) == pytest.approx(50.0)
    with pytest.raises(InputError, match="empty"):
        rician_sigma_from_percent(img, 5, mask=np.zeros_like(mask))


def test_poisson_gaussian_variance_in_counts_and_image_units():
    levels = np.array([0.05, 0.2, 0.5, 1.0])
    img = np.repeat(levels[None, :], 100_000, axis=0)  # max 1.0
    peak, se = 200.0, 3.0
    z = poisson_gaussian(img, peak=peak, sigma_electronic=se, rng=0)
    counts = z * peak  # back to count units (gain 1)
    lam = levels * peak
    np.testing.assert_allclose(counts.mean(axis=0), lam, rtol=0.01, atol=0.05)
    np.testing.assert_allclose(counts.var(axis=0), lam + se**2, rtol=0.03)
    # image units: var = gain * x + (sigma_e * gain)^2 with gain = max / peak
    gain = 1.0 / peak
    np.testing.assert_allclose(z.var(axis=0), gain * levels + (se * gain) ** 2, rtol=0.03)


def test_poisson_gaussian_determinism_and_validation():
    img = np.random.default_rng(0).random((32, 32))
    a = poisson_gaussian(img, peak=50.0, sigma_electronic=1.0, rng=9)
    np.testing.assert_array_equal(a, poisson_gaussian(img, peak=50.0, sigma_electronic=1.0, rng=9))
    # max_intensity fixes the dose across patches
    b = poisson_gaussian(img[:8, :8], peak=50.0, sigma_electronic=0.0, rng=0, max_intensity=2.0)
    assert np.allclose(b * 25.0, np.round(b * 25.0))  # integer counts at 25 counts per unit
    with pytest.raises(InputError, match="negative"):
        poisson_gaussian(img - 0.5, peak=50.0, sigma_electronic=1.0, rng=0)
    with pytest.raises(InputError, match="peak"):
        poisson_gaussian(img, peak=0.0, sigma_electronic=1.0, rng=0)


def test_gat_formula():
    z = np.array([-5.0, 0.0, 3.0, 40.0])
    a, s, mu = 2.0, 1.5, 0.5
    expected = (2 / a) * np.sqrt(np.maximum(a * z + 3 / 8 * a**2 + s**2 - a * mu, 0))
    np.testing.assert_allclose(generalized_anscombe(z, gain=a, sigma=s, mu=mu), expected, rtol=1e-14)
    # pure Poisson reduces to Anscombe's 2 sqrt(x + 3/8)
    np.testing.assert_allclose(generalized_anscombe(z[1:], gain=1.0, sigma=0.0), 2 * np.sqrt(z[1:] + 0.375))


@pytest.mark.parametrize("lam", [10.0, 30.0, 100.0])
def test_gat_stabilizes_variance_to_one(lam):
    peak, se = 100.0, 2.0  # counts at intensity 1; electronic sigma in counts
    img = np.full(N, lam / peak)
    z = poisson_gaussian(img, peak=peak, sigma_electronic=se, rng=2, max_intensity=1.0)
    gain = 1.0 / peak
    f = generalized_anscombe(z, gain=gain, sigma=se * gain)
    assert f.var() == pytest.approx(1.0, abs=0.03)


def _expected_gat(lam, sigma_counts):
    """E[f(z)] for z = Poisson(lam) + N(0, s^2) (gain 1), by exact summation/quadrature."""
    k = np.arange(0, int(lam + 15 * np.sqrt(lam) + 40))
    pmf = stats.poisson.pmf(k, lam)
    if sigma_counts == 0:
        x, w = np.zeros(1), np.ones(1)
    else:  # a fine grid where f's kink at z = -3/8 - s^2 carries weight; Gauss-Hermite misses it
        x = np.linspace(-10.0, 10.0, 20001 if lam < 10 else 2001)
        w = stats.norm.pdf(x)
        w = w / w.sum()
    z = k[:, None] + sigma_counts * x[None, :]
    return float(np.sum(pmf[:, None] * w[None, :] * generalized_anscombe(z, gain=1.0, sigma=sigma_counts)))


@pytest.mark.parametrize("sigma_counts", [0.0, 1.0, 3.0])
@pytest.mark.parametrize("lam", [1.0, 2.0, 5.0, 20.0, 100.0])
def test_inverse_is_unbiased(lam, sigma_counts):
    gain, mu = 0.01, 0.2  # data units: z = gain * Poisson + N(mu, (gain s)^2)
    d = _expected_gat(lam, sigma_counts)  # f is invariant to the (gain, mu) change of units
    est = inverse_generalized_anscombe(d, gain=gain, sigma=sigma_counts * gain, mu=mu)
    # the closed form is within ~0.035 counts of exact at the lowest counts (Makitalo & Foi)
    assert (est - mu) / gain == pytest.approx(lam, abs=0.04 + 2e-4 * lam)
    # the algebraic inverse is visibly biased at low counts, the unbiased one is not
    if lam <= 2:
        algebraic = (d / 2) ** 2 - 3 / 8 - sigma_counts**2
        assert abs(algebraic - lam) > 0.1


def test_inverse_monte_carlo_round_trip():
    lam, peak, se = 4.0, 50.0, 1.0
    z = poisson_gaussian(np.full(N, lam / peak), peak=peak, sigma_electronic=se, rng=5, max_intensity=1.0)
    gain = 1.0 / peak
    d = generalized_anscombe(z, gain=gain, sigma=se * gain).mean()
    assert inverse_generalized_anscombe(d, gain=gain, sigma=se * gain) == pytest.approx(lam / peak, rel=0.01)


def test_inverse_low_values_and_monotone():
    d = np.linspace(0.0, 10.0, 2001)
    inv = inverse_generalized_anscombe(d, gain=1.0, sigma=0.5, mu=0.0)
    assert np.all(inv[d < 2 * np.sqrt(3 / 8)] == 0.0)
    assert np.all(np.diff(inv) >= 0)
    assert np.all(np.isfinite(inv))
