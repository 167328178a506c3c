"""Image noise models: Rician (magnitude MRI) and Poisson–Gaussian (X-ray, CT projections),
with the generalized Anscombe variance-stabilizing transform and its exact unbiased inverse."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import RNGLike, as_finite_array, as_generator, float_dtype

__all__ = [
    "rician",
    "rician_sigma_from_percent",
    "poisson_gaussian",
    "generalized_anscombe",
    "inverse_generalized_anscombe",
]


def _nonneg_scalar(value: object, name: str, *, strict: bool = False) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (strict and v == 0):
        raise InputError(f"{name} must be finite and {'> 0' if strict else '>= 0'}, got {value!r}")
    return v


def rician(image: ArrayLike, sigma: ArrayLike, *, rng: RNGLike) -> np.ndarray:
    """Add Rician noise, as in magnitude MRI: ``|x + n1 + i·n2|``.

    ``n1`` and ``n2`` are independent Gaussian with standard deviation ``sigma`` (the
    noise of each of the real and imaginary channels before the magnitude is taken).

    Parameters
    ----------
    image : array_like of float, any shape (2D slice, 3D or 4D volume)
        Noise-free magnitude image, in its intensity units.
    sigma : float or array_like
        σ in the image's intensity units (an array broadcasting to the image is a noise
        map). See :func:`rician_sigma_from_percent` for the usual "% of the brain maximum".
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).

    Returns
    -------
    ndarray of float, same shape as ``image``
        Non-negative noisy magnitude; float32 for float32 input, else float64. Where
        ``image`` is 0 the result is Rayleigh distributed with mean ``σ·sqrt(π/2)``.

    References
    ----------
    .. [1] H. Gudbjartsson, S. Patz, "The Rician distribution of noisy MRI data",
       Magn. Reson. Med. 34(6):910-914, 1995.
    """
    x = as_finite_array(image, "image")
    sig = np.asarray(sigma, dtype=np.float64)
    if not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise InputError(f"sigma must be finite and >= 0, got {sigma!r}")
    try:
        fits = np.broadcast_shapes(sig.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise InputError(f"sigma of shape {sig.shape} does not broadcast to the image shape {x.shape}")
    gen = as_generator(rng)
    n1 = gen.standard_normal(x.shape)
    n2 = gen.standard_normal(x.shape)
    out = np.hypot(x.astype(np.float64) + sig * n1, sig * n2)
    return out.astype(float_dtype(x.dtype), copy=False)


def rician_sigma_from_percent(image: ArrayLike, percent: float, *, mask: ArrayLike | None = None) -> float:
    """σ for :func:`rician` given as a percentage of the foreground maximum.

    The MRI denoising literature states Rician noise levels as "σ = p% of the maximum
    intensity of the brain" (3, 5, 7, 9%).

    Parameters
    ----------
    image : array_like of float
        Clean image.
    percent : float
        Noise level in percent (5 means 5%).
    mask : array_like of bool, same shape as ``image``, optional
        Foreground (brain) mask; the maximum is taken inside it. Without a mask the
        maximum of the whole image is used.

    Returns
    -------
    float
        ``percent / 100 * max(image[mask])``, in the image's units.

    Raises
    ------
    InputError
        Empty mask, mask shape differing from the image, negative percent.

    References
    ----------
    .. [1] J. V. Manjón et al., "Adaptive non-local means denoising of MR images with
       spatially varying noise levels", J. Magn. Reson. Imaging 31(1):192-203, 2010.
    """
    x = as_finite_array(image, "image")
    p = _nonneg_scalar(percent, "percent")
    if mask is None:
        values = x
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != x.shape:
            raise InputError(f"mask shape {m.shape} differs from image shape {x.shape}")
        if not m.any():
            raise InputError("mask is empty (no foreground voxel)", "pass a mask with at least one True voxel")
        values = x[m]
    return p / 100.0 * float(np.max(values))


def poisson_gaussian(
    image: ArrayLike,
    *,
    peak: float,
    sigma_electronic: float,
    rng: RNGLike,
    max_intensity: float | None = None,
) -> np.ndarray:
    """Add Poisson–Gaussian noise (quantum + electronic), returned in the input's scale.

    The image is scaled to photon counts so that ``max_intensity`` becomes ``peak``
    counts, ``c = x · peak / max_intensity``; then ``z = Poisson(c) + N(0, σ_e²)`` and
    ``z`` is scaled back by ``max_intensity / peak``.

    In image units the noise is therefore ``gain · Poisson(x / gain) + N(0, σ²)`` with
    ``gain = max_intensity / peak`` and ``σ = sigma_electronic · gain``: pass those two
    to :func:`generalized_anscombe`.

    Parameters
    ----------
    image : array_like of float, any shape
        Clean, non-negative intensities (e.g. a radiograph scaled to [0, 1]).
    peak : float
        Photon count at ``max_intensity`` (the dose: lower is noisier), > 0.
    sigma_electronic : float
        Standard deviation of the electronic (Gaussian) noise in *count* units, >= 0.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).
    max_intensity : float, optional
        Intensity mapped to ``peak`` counts. Defaults to the image maximum; fix it when
        noising patches of one image so they share a dose.

    Returns
    -------
    ndarray of float, same shape as ``image``
        Noisy image in the input's intensity scale (float32 for float32 input, else
        float64); it can be negative where the image is near 0 (electronic noise).

    Raises
    ------
    InputError
        Negative or non-finite intensities, non-positive ``peak`` or ``max_intensity``.

    References
    ----------
    .. [1] A. Foi, M. Trimeche, V. Katkovnik, K. Egiazarian, "Practical Poissonian-Gaussian
       noise modeling and fitting for single-image raw-data", IEEE Trans. Image Process.
       17(10):1737-1754, 2008.
    """
    x = as_finite_array(image, "image")
    if np.any(x < 0):
        raise InputError(
            "image has negative intensities; photon counts cannot be negative",
            "shift/scale it to non-negative intensities (e.g. [0, 1]) first",
        )
    pk = _nonneg_scalar(peak, "peak", strict=True)
    se = _nonneg_scalar(sigma_electronic, "sigma_electronic")
    top = float(np.max(x)) if max_intensity is None else _nonneg_scalar(max_intensity, "max_intensity", strict=True)
    if top <= 0:
        raise InputError("the image is all zero: there is no intensity to map to photon counts", "pass max_intensity")
    scale = pk / top
    gen = as_generator(rng)
    counts = gen.poisson(x.astype(np.float64) * scale).astype(np.float64)
    counts += se * gen.standard_normal(x.shape)
    return (counts / scale).astype(float_dtype(x.dtype), copy=False)


def _anscombe_params(gain: float, sigma: float, mu: float) -> tuple[float, float, float]:
    """``(gain, sigma, mu)`` of the generalized Anscombe transform, checked: gain > 0, sigma >= 0, mu finite."""
    a = _nonneg_scalar(gain, "gain", strict=True)
    s = _nonneg_scalar(sigma, "sigma")
    m = float(mu)
    if not np.isfinite(m):
        raise InputError(f"mu must be finite, got {mu!r}")
    return a, s, m


def generalized_anscombe(x: ArrayLike, *, gain: float, sigma: float, mu: float = 0.0) -> np.ndarray:
    """Generalized Anscombe transform: Poisson–Gaussian noise to ~unit-variance Gaussian.

    For ``z = gain · Poisson(λ) + N(mu, sigma²)``,

        f(z) = (2 / gain) · sqrt(max(gain·z + 3/8·gain² + sigma² − gain·mu, 0))

    has a variance close to 1 (accurate once ``λ`` exceeds a few counts).

    Parameters
    ----------
    x : array_like of float
        Noisy data ``z``.
    gain : float
        Poisson gain α (> 0), in data units per count (1 for raw counts; for
        :func:`poisson_gaussian` output, ``max_intensity / peak``).
    sigma : float
        Standard deviation of the Gaussian part, in data units (>= 0).
    mu : float, optional
        Mean of the Gaussian part, in data units (default 0).

    Returns
    -------
    ndarray of float64, same shape as ``x``
        Stabilized data.

    References
    ----------
    .. [1] J.-L. Starck, F. Murtagh, A. Bijaoui, "Image Processing and Data Analysis:
       the Multiscale Approach", Cambridge University Press, 1998.
    .. [2] M. Mäkitalo, A. Foi, "Optimal inversion of the generalized Anscombe
       transformation for Poisson-Gaussian noise", IEEE Trans. Image Process.
       22(1):91-103, 2013.
    """
    z = as_finite_array(x, "x").astype(np.float64)
    a, s, m = _anscombe_params(gain, sigma, mu)
    # Normalized form (Mäkitalo & Foi): z' = (z - mu)/a, s' = s/a, f = 2 sqrt(z' + 3/8 + s'^2).
    zn = (z - m) / a
    return 2.0 * np.sqrt(np.maximum(zn + 0.375 + (s / a) ** 2, 0.0))


#: The closed-form inverse below is valid from f(0) = 2·sqrt(3/8) up; under it the
#: unbiased inverse is 0 (and the polynomial would turn up again as D -> 0).
_D_MIN = 2.0 * np.sqrt(0.375)


def inverse_generalized_anscombe(d: ArrayLike, *, gain: float, sigma: float, mu: float = 0.0) -> np.ndarray:
    """Exact unbiased inverse of the generalized Anscombe transform (closed form).

    Mäkitalo & Foi's closed-form approximation of the exact unbiased inverse, which maps
    the *expected value* of the stabilized data back to the Poisson mean (an algebraic
    inverse would be biased at low counts):

        I(D) = D²/4 + sqrt(3/2)/(4D) − 11/(8D²) + 5·sqrt(3/2)/(8D³) − 1/8 − (sigma/gain)²

    returned as ``gain · max(I(D), 0) + mu``; ``D < 2·sqrt(3/8)`` gives ``mu``.

    Parameters
    ----------
    d : array_like of float
        Denoised stabilized data (an estimate of E[f(z)]).
    gain, sigma, mu : float
        The parameters given to :func:`generalized_anscombe`.

    Returns
    -------
    ndarray of float64, same shape as ``d``
        Estimate of ``gain · λ + mu`` in data units.

    References
    ----------
    .. [1] M. Mäkitalo, A. Foi, "Optimal inversion of the generalized Anscombe
       transformation for Poisson-Gaussian noise", IEEE Trans. Image Process.
       22(1):91-103, 2013.
    .. [2] M. Mäkitalo, A. Foi, "A closed-form approximation of the exact unbiased inverse
       of the Anscombe variance-stabilizing transformation", IEEE Trans. Image Process.
       20(9):2697-2698, 2011.
    """
    dd = as_finite_array(d, "d").astype(np.float64)
    a, s, m = _anscombe_params(gain, sigma, mu)
    r = np.sqrt(1.5)
    D = np.maximum(dd, _D_MIN)
    inv = D**2 / 4.0 + r / (4.0 * D) - 11.0 / (8.0 * D**2) + 5.0 * r / (8.0 * D**3) - 0.125 - (s / a) ** 2
    inv = np.where(dd < _D_MIN, 0.0, np.maximum(inv, 0.0))
    return a * inv + m
