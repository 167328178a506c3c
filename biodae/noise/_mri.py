"""Magnitude MRI noise as scanners make it: receive-coil arrays, k-space filtering and
coil combination (root-sum-of-squares or SENSE), and a background-based noise estimator
for the non-central χ noise that results.

The model, step by step (what :func:`mri_coil_noise` simulates):

1. Coil images ``S_j · x`` from the clean magnitude ``x`` and smooth complex receive
   sensitivities ``S_j`` (:func:`coil_sensitivities`: Biot–Savart fields of loop coils
   around the field of view).
2. Complex white Gaussian noise added in k-space, optionally correlated between coils.
3. The reconstruction's k-space processing, applied to signal and noise together: the
   part of k-space that was acquired (zero filling, partial Fourier, zero-filled with a
   magnitude reconstruction) and an apodisation window (Hamming, Hann, Tukey).
4. Coil combination: root-sum-of-squares (non-central χ with 2N degrees of freedom) or
   SENSE (unit-gain, noise-weighted; Rician with a noise level that varies in space,
   optionally with R-fold undersampling and its g-factor).

**What σ means.** ``sigma`` is the standard deviation of the Gaussian noise in each of the
real and imaginary channels of every coil image *as reconstructed* (after the k-space
filter), for a coil of unit noise variance. The combined magnitude is described per voxel
by ``sigma_map`` (the same kind of σ: of the Gaussian channels behind the magnitude) and
``coils_effective`` (the N of the non-central χ; 1 is Rician): a noise estimator is right
when, told N, it returns ``sigma_map`` where it measures.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import RNGLike, as_finite_array, as_generator, check_choice, float_dtype
from ._estimate import _MAD_TO_SIGMA

__all__ = [
    "MRI_COMBINES",
    "MRI_KSPACE_FILTERS",
    "MRI_SENSITIVITY_NORMALIZATIONS",
    "MRINoise",
    "MRISigmaEstimate",
    "coil_sensitivities",
    "mri_coil_noise",
    "estimate_sigma_mri",
    "level_in_object",
    "remove_noise_floor",
]

#: Valid values of ``mri_coil_noise(combine=...)``.
MRI_COMBINES = ("rss", "sense")
#: Valid values of ``mri_coil_noise(kspace_filter=...)`` (besides None).
MRI_KSPACE_FILTERS = ("hamming", "hann", "tukey")
#: Valid values of ``coil_sensitivities(normalize=...)``.
MRI_SENSITIVITY_NORMALIZATIONS = ("object", "voxel")

#: Fraction of the Tukey window given to the cosine tapers (0.5: the outer half of k-space).
_TUKEY_ALPHA = 0.5
#: Hamming window coefficients, w = a + b·cos(2πk/n).
_HAMMING = (0.54, 0.46)
#: Straight segments per loop coil, and most points per axis the field is computed on.
_LOOP_SEGMENTS = 16
_SENSITIVITY_GRID = 64
#: Fewest k-space lines an axis may keep after zero filling.
_MIN_LINES = 4

#: The background estimator keeps voxels under the 99% quantile of the χ distribution.
_BG_QUANTILE = 0.99
#: A background needs at least this many voxels and this fraction of the non-zero voxels.
_MIN_BACKGROUND = 64
_MIN_BACKGROUND_FRACTION = 0.01
#: Accept a background whose spread is within this factor of the χ distribution's.
_SPREAD_TOLERANCE = 1.3
#: The local level is measured with a Gaussian of width 1/_LOCAL_WIDTH of each axis, where
#: at least _NEAR_BACKGROUND of that neighbourhood is background, in at most
#: _LOCAL_PASSES passes (fewer once under _SETTLED of the background voxels change).
_LOCAL_WIDTH = 24.0
_NEAR_BACKGROUND = 0.1
_SETTLED = 1e-3
_LOCAL_PASSES = 3
#: Unknown N: the candidates of the global fit; the local re-fit is used when it moves N
#: by more than _COILS_SETTLED.
_COILS_GRID = np.geomspace(1.0, 64.0, 37)
_COILS_SETTLED = 0.02
_KS_POINTS = 20000
#: Range searched for an unknown number of coils.
_COILS_RANGE = (0.5, 256.0)


# --------------------------------------------------------------------------- validation


def _int_at_least(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _float_in(value: object, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (np.isfinite(v) and (v > low if open_low else v >= low) and v <= high):
        lo = "(" if open_low else "["
        raise InputError(f"{name} must be in {lo}{low:g}, {high:g}], got {value!r}")
    return v


def _image_shape(shape: object) -> tuple[int, ...]:
    try:
        dims = tuple(int(n) for n in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"shape must be a tuple of 2 or 3 integers, got {shape!r}") from None
    if len(dims) not in (2, 3) or min(dims) < 2:
        raise InputError(
            f"shape must be a 2-D slice or a 3-D volume of at least 2 voxels per axis, got {shape!r}",
            "add noise to a 4-D series volume by volume",
        )
    return dims


def _axes(value: object, ndim: int, name: str) -> tuple[int, ...]:
    if value is None:
        return tuple(range(ndim))
    raw = (value,) if isinstance(value, (int, np.integer)) else tuple(value)  # type: ignore[arg-type]
    out = []
    for a in raw:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise InputError(f"{name} {value!r} is out of range for an image with {ndim} axes")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out) or not out:
        raise InputError(f"{name} {value!r} must name distinct axes")
    return tuple(sorted(out))


# --------------------------------------------------------------------------- sensitivities


def _loop_field(
    coords: list[np.ndarray], centre: np.ndarray, e1: np.ndarray, e2: np.ndarray, size: float
) -> np.ndarray:
    """``Bx − i·By`` of a circular loop (a polygon of straight segments, Biot–Savart)."""
    t = np.linspace(0.0, 2.0 * math.pi, _LOOP_SEGMENTS + 1)
    pts = centre[None] + size * (np.cos(t)[:, None] * e1[None] + np.sin(t)[:, None] * e2[None])
    bx: np.ndarray | float = 0.0
    by: np.ndarray | float = 0.0
    for p1, p2 in zip(pts[:-1], pts[1:]):
        a = p2 - p1
        r1 = [c - p for c, p in zip(coords, p1)]
        n1 = np.sqrt(r1[0] ** 2 + r1[1] ** 2 + r1[2] ** 2)
        n2 = np.sqrt((r1[0] - a[0]) ** 2 + (r1[1] - a[1]) ** 2 + (r1[2] - a[2]) ** 2)
        cx = a[1] * r1[2] - a[2] * r1[1]
        cy = a[2] * r1[0] - a[0] * r1[2]
        cz = a[0] * r1[1] - a[1] * r1[0]
        a_r1 = a[0] * r1[0] + a[1] * r1[1] + a[2] * r1[2]
        # B = (a × r1) · (a·r1/|r1| − a·r2/|r2|) / |a × r1|², with r2 = r1 − a
        f = (a_r1 / n1 - (a_r1 - float(a @ a)) / n2) / (cx**2 + cy**2 + cz**2)
        bx = bx + cx * f
        by = by + cy * f
    return np.asarray(bx - 1j * by)


def _spline_matrix(coarse: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """(len(fine), len(coarse)) matrix of cubic-spline interpolation from coarse to fine."""
    from scipy.interpolate import CubicSpline

    return CubicSpline(coarse, np.eye(coarse.size))(fine)


def coil_sensitivities(
    shape: tuple[int, ...],
    *,
    coils: int = 8,
    radius: float = 1.5,
    loop_radius: float = 0.6,
    rotation: float = 0.0,
    normalize: str = "object",
) -> np.ndarray:
    """Smooth complex receive sensitivities of an array of loop coils around the field of view.

    Each coil is a circular loop (a polygon of 16 straight conductors) standing on a
    cylinder around the image, its normal pointing to the axis, like the elements of a
    head array; its receive sensitivity is the Biot–Savart field of a unit current in the
    loop, as the complex number ``Bx − i·By`` (the transverse field, B0 along the last
    axis; reciprocity), times a constant phase per coil (cable delays). In 2-D the image is
    the central slice through one ring of loops; in 3-D, with 8 coils or more (an even
    number) the loops form two rings, at a quarter and three quarters of the last axis
    (otherwise one ring, in the middle).
    Geometry is in units of the half field of view along each axis (voxel sizes are not
    used). The maps are smooth: the near coil's field falls off about as the cube of the
    distance, so the root-sum-of-squares is about 3 times higher at the object's edge than
    at its centre (8 coils, default geometry), as in real head arrays.

    Parameters
    ----------
    shape : tuple of int, (rows, cols) or (x, y, z)
        Image shape.
    coils : int, optional
        Number of coils N (default 8).
    radius : float, optional
        Radius of the cylinder carrying the loops' centres, in half fields of view (default
        1.5); it must exceed ``sqrt(2)`` so that every voxel, corners included, lies
        inside the array.
    loop_radius : float, optional
        Radius of each loop, in half fields of view (default 0.6): smaller loops see less
        deep (a stronger centre-to-edge contrast).
    rotation : float, optional
        Azimuth of the first coil in radians (default 0), e.g. to vary the array between
        training samples.
    normalize : {"object", "voxel"}, optional
        ``"object"`` (default): one scale for all coils so that the root-sum-of-squares of
        the magnitudes, ``RSS(S) = sqrt(Σ|S_j|²)``, has median 1 inside the cylinder
        inscribed in the field of view (where the object usually is); it still varies in
        space, as a real array's does. ``"voxel"``: ``RSS(S) = 1`` at every voxel (each
        map divided by the RSS).

    Returns
    -------
    ndarray of complex128, shape (coils, \\*shape)
        The sensitivity maps. Along axes longer than 64 voxels the field is computed on 64
        points and interpolated by cubic splines (it is smooth at that scale).

    References
    ----------
    .. [1] P. B. Roemer, W. A. Edelstein, C. E. Hayes, S. P. Souza, O. M. Mueller,
       "The NMR phased array", Magn. Reson. Med. 16(2):192-225, 1990.
    .. [2] D. I. Hoult, "The principle of reciprocity in signal strength calculations —
       a mathematical guide", Concepts Magn. Reson. 12(4):173-187, 2000.

    Examples
    --------
    >>> s = coil_sensitivities((64, 64), coils=4, normalize="voxel")
    >>> s.shape, bool(np.allclose(np.sqrt((np.abs(s) ** 2).sum(axis=0)), 1.0))
    ((4, 64, 64), True)
    """
    dims = _image_shape(shape)
    n_coils = _int_at_least(coils, "coils", 1)
    rad = _float_in(radius, "radius", math.sqrt(2.0), 100.0, open_low=True)
    size = _float_in(loop_radius, "loop_radius", 0.0, rad, open_low=True)
    try:
        rot = float(rotation)
    except (TypeError, ValueError):
        raise InputError(f"rotation must be a number of radians, got {rotation!r}") from None
    if not np.isfinite(rot):
        raise InputError(f"rotation must be finite, got {rotation!r}")
    check_choice(normalize, MRI_SENSITIVITY_NORMALIZATIONS, "normalize")

    # Normalised coordinates of the voxel centres (-1..1 across each axis); the field is
    # evaluated on at most _SENSITIVITY_GRID points per axis and interpolated.
    fine = [(np.arange(n) - (n - 1) / 2.0) / (n / 2.0) for n in dims]
    coarse = [g if g.size <= _SENSITIVITY_GRID else np.linspace(g[0], g[-1], _SENSITIVITY_GRID) for g in fine]
    nd = len(dims)
    coords = [c.reshape(tuple(-1 if i == ax else 1 for i in range(nd))) for ax, c in enumerate(coarse)]
    if nd == 2:
        coords.append(np.zeros((1, 1)))
    rings = 2 if nd == 3 and n_coils >= 8 and n_coils % 2 == 0 else 1
    per_ring = n_coils // rings
    golden = math.pi * (3.0 - math.sqrt(5.0))  # constant coil phases, spread without pattern
    out = np.empty((n_coils,) + dims, dtype=np.complex128)
    mats = [None if c is f else _spline_matrix(c, f) for c, f in zip(coarse, fine)]
    for j in range(n_coils):
        ring, k = divmod(j, per_ring)
        theta = rot + 2.0 * math.pi * (k + 0.5 * ring) / per_ring
        z = 0.0 if rings == 1 else (-0.5 if ring == 0 else 0.5)
        centre = np.array([rad * math.cos(theta), rad * math.sin(theta), z])
        tangent = np.array([-math.sin(theta), math.cos(theta), 0.0])
        field = _loop_field(coords, centre, tangent, np.array([0.0, 0.0, 1.0]), size)
        field = np.broadcast_to(field, tuple(c.size for c in coarse)) * np.exp(1j * golden * j)
        for ax, m in enumerate(mats):
            if m is not None:
                field = np.moveaxis(np.tensordot(m, field, axes=(1, ax)), 0, ax)
        out[j] = field
    rss = np.sqrt(np.sum(np.abs(out) ** 2, axis=0))
    if normalize == "voxel":
        out /= rss
    else:
        inside = fine[0].reshape(-1, *(1,) * (nd - 1)) ** 2 + fine[1].reshape(1, -1, *(1,) * (nd - 2)) ** 2 <= 1.0
        out /= float(np.median(rss[np.broadcast_to(inside, dims)]))
    return out


# --------------------------------------------------------------------------- k-space


def _window_1d(n: int, *, kind: str | None, zero_fill: int, partial: float | None) -> np.ndarray:
    """k-space weights along one axis (numpy FFT order): window × acquired-lines mask."""
    f = np.rint(np.fft.fftfreq(n) * n)  # integer frequencies (d=1/n rounds off: n=98 lost -49)
    m = n // zero_fill  # lines acquired before zero filling
    lo = -(m // 2)
    hi = lo + m if partial is None else lo + int(math.ceil(partial * m - 1e-9))
    mask = (f >= lo) & (f < hi)
    t = f / m
    if kind is None:
        w = np.ones(n)
    elif kind == "hamming":
        w = _HAMMING[0] + _HAMMING[1] * np.cos(2.0 * np.pi * t)
    elif kind == "hann":
        w = 0.5 + 0.5 * np.cos(2.0 * np.pi * t)
    else:  # tukey: flat centre, cosine taper over the outer alpha of the acquired extent
        edge = (1.0 - _TUKEY_ALPHA) / 2.0
        a = np.abs(t)
        w = np.where(a <= edge, 1.0, 0.5 * (1.0 + np.cos(np.pi * (a - edge) / (_TUKEY_ALPHA / 2.0))))
    return np.where(mask, w, 0.0)


def _kspace_response(
    shape: tuple[int, ...],
    kaxes: tuple[int, ...],
    phase_axis: int,
    *,
    kind: str | None,
    zero_fill: int,
    partial: float | None,
) -> np.ndarray:
    """Separable k-space response H, shape of the image with 1 along non-k-space axes."""
    h = np.ones((1,) * len(shape))
    for ax in kaxes:
        w = _window_1d(shape[ax], kind=kind, zero_fill=zero_fill, partial=partial if ax == phase_axis else None)
        h = h * w.reshape(tuple(-1 if i == ax else 1 for i in range(len(shape))))
    return h


def _fold(a: np.ndarray, axis: int, r: int) -> np.ndarray:
    """Alias an image R-fold along ``axis``: the image of every R-th k-space line."""
    if r == 1:
        return a
    n = a.shape[axis]
    new = a.shape[:axis] + (r, n // r) + a.shape[axis + 1 :]
    return a.reshape(new).sum(axis=axis)


# --------------------------------------------------------------------------- the model


class MRINoise(NamedTuple):
    """What :func:`mri_coil_noise` returns (a named tuple; read the fields by name).

    Attributes
    ----------
    noisy : ndarray of float, shape of the image
        The noisy magnitude image (float32 for float32 input, else float64).
    clean : ndarray of float, shape of the image
        The same reconstruction without noise (k-space filter, partial Fourier, zero
        filling, coil combination): the target a denoiser should return. It differs
        from the input image where the k-space filter blurs it, and for
        ``intensity_correction=False`` by the coils' shading.
    sigma_map : ndarray of float64, shape of the image
        Per voxel, the σ of the Gaussian channels behind the combined magnitude (in the
        image's intensity units): the noisy value is non-central χ with
        ``2 · coils_effective`` degrees of freedom, this σ and the clean value as its
        non-centrality (Rician for ``coils_effective = 1``). Exact for white coils; for
        correlated coils (RSS) it is the moment-matched effective σ, exact in the
        background for the first two moments of the squared magnitude.
    coils_effective : float
        N of that non-central χ: the number of coils for RSS with independent coils,
        ``(tr Ψ)² / tr(Ψ²)`` for RSS with a coil noise covariance Ψ, 1 for SENSE.
    noise_power_spectrum : ndarray of float64
        ``|H|²`` of the k-space filter, normalised to mean 1, in numpy FFT order along the
        k-space axes (size 1 along the others): the noise power spectrum of each coil
        image (and of the combined image where the signal is high), in units of σ².
    noise_correlation : ndarray of complex128, same shape
        Its inverse FFT: the correlation of the coil noise between a voxel and the voxel
        at each lag (lag 0 at index 0 and equal to 1, negative lags wrapped, as numpy's
        FFT orders them; ``np.fft.fftshift`` centres it). Real for symmetric filters,
        complex with partial Fourier. Where the signal is high the magnitude's noise has
        about this correlation (its real part); in the background the squared
        magnitudes' noise has correlation ``|noise_correlation|²`` exactly.
    sensitivities : ndarray of complex128, shape (coils, \\*image.shape)
        The coil sensitivities used.
    params : dict
        The settings, resolved (``sigma``, ``coils``, ``combine``, ``kspace_filter``,
        ``partial_fourier``, ``zero_fill``, ``acceleration``, ``kspace_axes``,
        ``phase_axis``, ``intensity_correction``, ``coil_covariance``).
    """

    noisy: np.ndarray
    clean: np.ndarray
    sigma_map: np.ndarray
    coils_effective: float
    noise_power_spectrum: np.ndarray
    noise_correlation: np.ndarray
    sensitivities: np.ndarray
    params: dict[str, Any]


def _coil_covariance(value: object, n: int) -> np.ndarray | None:
    """The coils' noise covariance in units of σ², or None for independent unit-variance coils."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim == 0:
        rho = _float_in(value, "coil_covariance (a correlation)", -1.0, 1.0, open_low=True)
        if n > 1 and not (-1.0 / (n - 1) < rho < 1.0):
            raise InputError(
                f"a correlation of {rho:g} between every pair of {n} coils is not a valid covariance",
                f"use a value in ({-1.0 / (n - 1):.3g}, 1)",
            )
        cov = np.full((n, n), rho, dtype=np.complex128)
        np.fill_diagonal(cov, 1.0)
        return cov
    if arr.shape != (n, n) or arr.dtype.kind not in "biufc" or not np.all(np.isfinite(arr)):
        raise InputError(f"coil_covariance must be a number or a finite ({n}, {n}) matrix, got shape {arr.shape}")
    cov = arr.astype(np.complex128)
    if not np.allclose(cov, cov.conj().T, rtol=1e-10, atol=1e-12 * float(np.abs(cov).max())):
        raise InputError("coil_covariance is not Hermitian (symmetric)", "pass Ψ with Ψ[j, k] = conj(Ψ[k, j])")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise InputError("coil_covariance is not positive definite", "pass a valid covariance matrix")
    return cov


def mri_coil_noise(
    image: ArrayLike,
    sigma: float,
    *,
    rng: RNGLike,
    coils: int | None = None,
    combine: str = "rss",
    sensitivities: ArrayLike | None = None,
    coil_covariance: float | ArrayLike | None = None,
    kspace_filter: str | None = None,
    partial_fourier: float | None = None,
    zero_fill: int | None = None,
    acceleration: int = 1,
    level_map: ArrayLike | None = None,
    kspace_axes: int | tuple[int, ...] | None = None,
    phase_axis: int | None = None,
    intensity_correction: bool = True,
) -> MRINoise:
    """Simulate a multi-coil magnitude MR image from a clean one, as a scanner makes it.

    The clean magnitude ``x`` is weighted by each coil's complex sensitivity, Fourier
    transformed, given complex white Gaussian noise (optionally correlated between
    coils), filtered as the reconstruction does (acquired lines, partial Fourier,
    apodisation window, zero filling), transformed back and combined:

    - ``"rss"``: ``sqrt(Σ_j |c_j|²)``, divided by ``RSS(S)`` when
      ``intensity_correction`` (the scanner's uniformity normalisation): non-central χ
      with 2N degrees of freedom and ``sigma_map = σ / RSS(S)``.
    - ``"sense"``: the unit-gain noise-weighted combination ``(SᴴΨ⁻¹c) / (SᴴΨ⁻¹S)``
      (SENSE; with ``acceleration`` R > 1, the unfolding of R-fold undersampled k-space):
      Rician with ``sigma_map = σ·sqrt(R·[(EᴴΨ⁻¹E)⁻¹]ₘₘ)``, ``σ / sqrt(SᴴΨ⁻¹S)`` for R = 1,
      which varies in space (the g-factor for R > 1).

    Both are then magnitude images whose signal is ``x`` (up to the filter's blur).

    Parameters
    ----------
    image : array_like of float, shape (rows, cols) or (x, y, z)
        Clean, non-negative magnitude image, in its intensity units. 4-D series: call
        once per volume.
    sigma : float
        σ in the image's intensity units: the standard deviation of the Gaussian noise in
        each of the real and imaginary channels of every coil image as reconstructed (after
        the k-space filter), for a coil of unit noise variance in ``coil_covariance``. See
        :func:`rician_sigma_from_percent` for the usual "% of the brain maximum". The
        combined image's σ per voxel is returned as ``sigma_map``.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).
    coils : int, optional
        Number of coils N (default 8); taken from ``sensitivities`` when those are given.
    combine : {"rss", "sense"}, optional
        Coil combination (default ``"rss"``).
    sensitivities : array_like of complex, shape (coils, \\*image.shape), optional
        Coil sensitivity maps; default :func:`coil_sensitivities` with ``coils`` coils
        (``normalize="object"``). Constant maps (e.g. ``np.full((N, *shape), N**-0.5)``)
        give spatially constant noise.
    coil_covariance : float or array_like of shape (coils, coils), optional
        Noise covariance Ψ between coils, in units of σ²: a number ρ is unit variances
        with correlation ρ between every pair; a Hermitian positive-definite matrix is
        used as it is. Default: independent coils, Ψ = I.
    kspace_filter : {None, "hamming", "hann", "tukey"}, optional
        Apodisation window over the acquired extent of k-space along each k-space axis
        (separable); ``"tukey"`` tapers the outer half. It blurs the signal and correlates
        neighbouring voxels' noise (Hamming: correlation 0.625 at lag 1 per axis).
    partial_fourier : float, optional
        Fraction of the k-space lines acquired along ``phase_axis``, in (0.5, 1] (e.g.
        0.625 = 5/8); the rest is zero-filled and each coil image's complex
        reconstruction is used (no homodyne or POCS).
    zero_fill : int, optional
        Zero-filled interpolation factor: only the central ``n // zero_fill`` lines of each
        k-space axis were acquired, the image keeps its shape (default 1: none).
    acceleration : int, optional
        SENSE undersampling factor R along ``phase_axis`` (default 1); needs
        ``combine="sense"``, R <= coils, and a phase axis whose length R divides.
    level_map : array_like of float, optional
        Non-negative factor broadcasting to the image, multiplying the noise of the
        reconstructed images voxel by voxel (the coil images' for RSS, the combined
        image's for SENSE: the same for R = 1), e.g. a smooth map of a scanner's noise
        inhomogeneity. It multiplies ``sigma_map``.
    kspace_axes : int or tuple of int, optional
        Axes that are Fourier encoded (default: all, a 2-D slice or a 3-D acquisition);
        e.g. ``(0, 1)`` for a stack of 2-D slices along axis 2, whose noise is then
        independent from slice to slice.
    phase_axis : int, optional
        The phase-encoding axis, along which partial Fourier and acceleration act
        (default: the first k-space axis).
    intensity_correction : bool, optional
        For RSS, divide by ``RSS(S)`` so the signal is the input image (default True); False
        keeps the receive-field shading and a stationary noise level.

    Returns
    -------
    MRINoise
        ``noisy``, ``clean``, ``sigma_map``, ``coils_effective``, ``noise_power_spectrum``,
        ``noise_correlation``, ``sensitivities``, ``params``: compare a denoiser's output
        with ``clean``, and a noise estimate with ``sigma_map``.

    Raises
    ------
    InputError
        Negative, non-finite or non 2-D/3-D image; negative sigma; unknown ``combine`` or
        ``kspace_filter``; parameters out of range; sensitivities of the wrong shape or
        that cannot unfold the requested acceleration.

    Notes
    -----
    The noise is white in each coil's k-space and the k-space filter is normalised out of
    its level (σ is the level after filtering): with a filter the noise's power spectrum
    is ``σ²·noise_power_spectrum``. For RSS with correlated coils the magnitude is only
    approximately non-central χ; ``sigma_map`` and ``coils_effective`` are then the
    effective values of Aja-Fernández and Tristán-Vega [3]_. The noise of SENSE with
    R > 1 is also correlated between voxels one reduced field of view apart. Memory: about
    ``16 · (2 · coils + 6)`` bytes per voxel for RSS, ``16 · (5 · coils + 6)`` for SENSE
    (pass ``sensitivities`` computed once when noising many images of one shape).

    References
    ----------
    .. [1] C. D. Constantinides, E. Atalar, E. R. McVeigh, "Signal-to-noise measurements
       in magnitude images from NMR phased arrays", Magn. Reson. Med. 38(5):852-857, 1997.
    .. [2] K. P. Pruessmann, M. Weiger, M. B. Scheidegger, P. Boesiger, "SENSE:
       sensitivity encoding for fast MRI", Magn. Reson. Med. 42(5):952-962, 1999.
    .. [3] S. Aja-Fernández, A. Tristán-Vega, "Influence of noise correlation in
       multiple-coil statistical models with sum of squares reconstruction",
       Magn. Reson. Med. 67(2):580-585, 2012.
    .. [4] F. J. Harris, "On the use of windows for harmonic analysis with the discrete
       Fourier transform", Proc. IEEE 66(1):51-83, 1978.
    .. [5] D. C. Noll, D. G. Nishimura, A. Macovski, "Homodyne detection in magnetic
       resonance imaging", IEEE Trans. Med. Imaging 10(2):154-163, 1991.

    Examples
    --------
    >>> x = np.zeros((64, 64)); x[16:48, 16:48] = 100.0
    >>> res = mri_coil_noise(x, 5.0, coils=8, kspace_filter="hamming", rng=0)
    >>> res.noisy.shape, res.coils_effective
    ((64, 64), 8.0)
    """
    x_in = as_finite_array(image, "image")
    if x_in.ndim not in (2, 3):
        raise InputError(
            f"image must be a 2-D slice or a 3-D volume, got shape {x_in.shape}",
            "add noise to a 4-D series volume by volume",
        )
    _image_shape(x_in.shape)
    if np.any(x_in < 0):
        raise InputError("a magnitude image cannot have negative values", "pass the clean magnitude image")
    x = x_in.astype(np.float64, copy=False)
    shape = x.shape
    sig = _float_in(sigma, "sigma", 0.0, math.inf)
    check_choice(combine, MRI_COMBINES, "combine")
    if kspace_filter is not None:
        check_choice(kspace_filter, MRI_KSPACE_FILTERS, "kspace_filter")
    pf = None if partial_fourier is None else _float_in(partial_fourier, "partial_fourier", 0.5, 1.0, open_low=True)
    zf = 1 if zero_fill is None else _int_at_least(zero_fill, "zero_fill", 1)
    r = _int_at_least(acceleration, "acceleration", 1)
    kaxes = _axes(kspace_axes, x.ndim, "kspace_axes")
    pax = kaxes[0] if phase_axis is None else _axes(phase_axis, x.ndim, "phase_axis")[0]
    if pax not in kaxes:
        raise InputError(f"phase_axis {phase_axis} is not one of the k-space axes {kaxes}")
    for ax in kaxes:
        if shape[ax] // zf < _MIN_LINES:
            raise InputError(
                f"zero_fill {zf} leaves fewer than {_MIN_LINES} acquired lines along axis {ax} ({shape[ax]} voxels)"
            )

    # Coil sensitivities.
    if sensitivities is None:
        n_coils = 8 if coils is None else _int_at_least(coils, "coils", 1)
        sens = coil_sensitivities(shape, coils=n_coils)
    else:
        sens = np.asarray(sensitivities)
        if sens.dtype.kind not in "biufc" or sens.ndim != x.ndim + 1 or sens.shape[1:] != shape:
            raise InputError(
                f"sensitivities must have shape (coils, {', '.join(map(str, shape))}), got {sens.shape}"
            )
        sens = sens.astype(np.complex128, copy=False)
        if not np.all(np.isfinite(sens)):
            raise InputError("sensitivities hold NaN or infinite values")
        n_coils = sens.shape[0]
        if coils is not None and _int_at_least(coils, "coils", 1) != n_coils:
            raise InputError(f"coils={coils} but the sensitivities hold {n_coils} coils", "pass one or the other")
    rss_s = np.sqrt(np.sum(np.abs(sens) ** 2, axis=0))
    if np.any(rss_s <= 0):
        raise InputError("the sensitivities are all zero at some voxels", "every voxel must be seen by a coil")
    cov = _coil_covariance(coil_covariance, n_coils)
    if r > 1:
        if combine != "sense":
            raise InputError(
                "root-sum-of-squares cannot unfold an accelerated acquisition", "use combine='sense' or acceleration=1"
            )
        if r > n_coils:
            raise InputError(f"acceleration {r} exceeds the number of coils ({n_coils})", "use acceleration <= coils")
        if shape[pax] % r:
            raise InputError(
                f"acceleration {r} does not divide the phase axis ({shape[pax]} voxels along axis {pax})",
                "crop or pad the image, or choose another acceleration",
            )
    if level_map is None:
        level = None
    else:
        level = as_finite_array(level_map, "level_map").astype(np.float64)
        if np.any(level < 0):
            raise InputError("level_map must be non-negative")
        try:
            if np.broadcast_shapes(level.shape, shape) != shape:
                raise ValueError
        except ValueError:
            raise InputError(
                f"level_map of shape {level.shape} does not broadcast to the image shape {shape}"
            ) from None
    gen = as_generator(rng)
    from scipy import fft as sfft

    # k-space response and the noise's level after it.
    h = _kspace_response(shape, kaxes, pax, kind=kspace_filter, zero_fill=zf, partial=pf)
    power = np.abs(h) ** 2
    nps = power / power.mean()
    ncorr = np.fft.ifftn(nps, axes=kaxes)
    h_acq = h[tuple(slice(None, None, r) if i == pax else slice(None) for i in range(x.ndim))]
    # Per-channel std of white k-space noise that gives σ·sqrt(R) after filtering (the
    # folded images of R-fold undersampled data carry sqrt(R) times the noise).
    k_std = sig * math.sqrt(r) / math.sqrt(float(np.mean(np.abs(h_acq) ** 2)))
    fshape = tuple(n // r if i == pax else n for i, n in enumerate(shape))

    identity = r == 1 and bool(np.all(h == 1.0))  # no k-space processing: skip the FFTs

    def coil_noises() -> np.ndarray:
        """(coils, *folded shape) complex white noise, filtered: per-channel std σ·sqrt(R)."""
        w = np.empty((n_coils,) + fshape, dtype=np.complex128)
        gen.standard_normal(out=w.view(np.float64))  # real and imaginary parts interleaved
        w *= k_std
        if not identity:
            for j in range(n_coils):
                w[j] = sfft.ifftn(w[j] * h_acq, axes=kaxes, norm="ortho", overwrite_x=True)
        return w

    def coil_signal(j: int) -> np.ndarray:
        if identity:
            return sens[j] * x
        return _fold(sfft.ifftn(h * sfft.fftn(sens[j] * x, axes=kaxes), axes=kaxes), pax, r)

    chol = None if cov is None else np.linalg.cholesky(cov)
    if combine == "rss":
        noise = coil_noises()
        if chol is not None:  # correlate in place: n_j <- Σ_{k<=j} L_jk w_k, from the last coil down
            for j in range(n_coils - 1, -1, -1):
                noise[j] = np.tensordot(chol[j, : j + 1], noise[: j + 1], axes=1)
        sum_clean = np.zeros(shape)
        sum_noisy = np.zeros(shape)
        for j in range(n_coils):
            s = coil_signal(j)
            c = s + (noise[j] if level is None else level * noise[j])
            sum_clean += s.real**2 + s.imag**2
            sum_noisy += c.real**2 + c.imag**2
        del noise
        clean = np.sqrt(sum_clean)
        noisy = np.sqrt(sum_noisy)
        if cov is None:
            n_eff, s_eff = float(n_coils), 1.0
        else:
            tr, tr2 = float(np.trace(cov).real), float(np.sum(np.abs(cov) ** 2))
            n_eff, s_eff = tr * tr / tr2, math.sqrt(tr2 / tr)
        smap = np.full(shape, sig * s_eff)
        if intensity_correction:
            clean /= rss_s
            noisy /= rss_s
            smap /= rss_s
    else:
        # Prewhiten: with Ψ = L Lᴴ, L⁻¹·coil noise is white, so the whitened noise is drawn
        # directly; the signal and the sensitivities are whitened by L⁻¹.
        n_eff = 1.0
        white = coil_noises()
        folded = np.stack([coil_signal(j) for j in range(n_coils)])
        sens_w = sens
        if chol is not None:
            from scipy.linalg import solve_triangular

            folded = solve_triangular(chol, folded.reshape(n_coils, -1), lower=True).reshape(folded.shape)
            sens_w = solve_triangular(chol, sens.reshape(n_coils, -1), lower=True).reshape(sens.shape)

        # Per folded voxel: E (coils × R) = whitened sensitivities at the R aliased voxels.
        e = np.moveaxis(sens_w, 1 + pax, 1)  # (N, n, rest...)
        rest = e.shape[2:]
        e = e.reshape((n_coils, r, fshape[pax], -1))  # (N, R, n_f, V_rest)
        e = np.transpose(e, (2, 3, 0, 1)).reshape(-1, n_coils, r)  # (V_f, N, R)
        gram = np.einsum("vnr,vns->vrs", e.conj(), e)  # EᴴΨ⁻¹E
        try:
            ginv = np.linalg.inv(gram)
        except np.linalg.LinAlgError:
            raise InputError(
                f"the sensitivities cannot unfold acceleration {r} at some voxels",
                "use a lower acceleration or more distinct coil sensitivities",
            ) from None

        def unfold(a: np.ndarray) -> np.ndarray:
            rows = np.moveaxis(a, 1 + pax, 1).reshape(n_coils, fshape[pax], -1)  # (N, n_f, V_rest)
            rows = np.transpose(rows, (1, 2, 0)).reshape(-1, n_coils)  # (V_f, N)
            rho = np.einsum("vrs,vns,vn->vr", ginv, e.conj(), rows)  # (V_f, R)
            rho = rho.reshape((fshape[pax],) + rest + (r,))
            rho = np.moveaxis(rho, -1, 0).reshape((shape[pax],) + rest)  # voxel m·n_f + y'
            return np.moveaxis(rho, 0, pax)

        var = np.real(np.diagonal(ginv, axis1=1, axis2=2)).reshape((fshape[pax],) + rest + (r,))
        var = np.moveaxis(np.moveaxis(var, -1, 0).reshape((shape[pax],) + rest), 0, pax)
        smap = sig * np.sqrt(r * np.maximum(var, 0.0))
        sig_c = unfold(folded)
        noise_c = unfold(white)
        del white, folded
        clean = np.abs(sig_c)
        noisy = np.abs(sig_c + (noise_c if level is None else level * noise_c))
    if level is not None:
        smap = smap * level
    dtype = float_dtype(x_in.dtype)
    params = {
        "sigma": sig,
        "coils": n_coils,
        "combine": combine,
        "kspace_filter": kspace_filter,
        "partial_fourier": pf,
        "zero_fill": zf,
        "acceleration": r,
        "kspace_axes": kaxes,
        "phase_axis": pax,
        "intensity_correction": bool(intensity_correction) if combine == "rss" else None,
        "coil_covariance": None if cov is None else cov.copy(),
    }
    return MRINoise(
        noisy=noisy.astype(dtype, copy=False),
        clean=clean.astype(dtype, copy=False),
        sigma_map=np.broadcast_to(smap, shape).astype(np.float64),
        coils_effective=n_eff,
        noise_power_spectrum=nps,
        noise_correlation=ncorr,
        sensitivities=sens,
        params=params,
    )


# --------------------------------------------------------------------------- estimation


class MRISigmaEstimate(NamedTuple):
    """What :func:`estimate_sigma_mri` returns (a named tuple: ``sigma, coils, sigma_map, background``).

    Attributes
    ----------
    sigma : float
        σ of the Gaussian channels behind the magnitude, in the image's intensity units
        (as :func:`mri_coil_noise`'s ``sigma_map`` and :func:`rician`'s ``sigma``): the
        median over the background of the local level ``sigma_map``.
    coils : float
        N of the χ distribution with 2N degrees of freedom used: the one given, or the one
        estimated (an effective, possibly non-integer, number of coils).
    sigma_map : ndarray of float64, shape of the image
        The local noise level: measured in and near the background, interpolated smoothly
        from the surrounding air inside the object (where it cannot see a rise of the
        noise towards the centre, as SENSE's g-factor or an intensity normalisation make).
    background : ndarray of bool, shape of the image
        The voxels taken as pure noise.
    """

    sigma: float
    coils: float
    sigma_map: np.ndarray
    background: np.ndarray


class _TruncatedChi:
    """σ = 1 χ distribution with 2n degrees of freedom, truncated at its 99% quantile."""

    def __init__(self, n: float) -> None:
        from scipy import special

        self.n = n
        g = float(special.gammaincinv(n, _BG_QUANTILE))
        self.cut = math.sqrt(2.0 * g)
        log_ratio = special.gammaln(n + 0.5) - special.gammaln(n)
        self.mean = math.sqrt(2.0) * math.exp(log_ratio) * float(special.gammainc(n + 0.5, g)) / _BG_QUANTILE
        self.m2 = 2.0 * n * float(special.gammainc(n + 1.0, g)) / _BG_QUANTILE
        self.median = math.sqrt(2.0 * float(special.gammaincinv(n, 0.5)))
        q25, q50, q75 = (math.sqrt(2.0 * float(special.gammaincinv(n, p * _BG_QUANTILE))) for p in (0.25, 0.5, 0.75))
        #: (q75 − q25) / q50 of the truncated distribution: decreases with n.
        self.spread = (q75 - q25) / q50


def _spread(values: np.ndarray) -> float:
    q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    return float((q75 - q25) / q50) if q50 > 0 else math.inf


def _coils_from_spread(spread: float) -> float | None:
    """N whose truncated χ has this spread, or None if no N in range has it."""
    from scipy.optimize import brentq

    if not (0.0 < spread < math.inf):
        return None
    lo, hi = (math.log(c) for c in _COILS_RANGE)

    def f(log_n: float) -> float:
        return math.log(_TruncatedChi(math.exp(log_n)).spread / spread)

    if f(lo) < 0 or f(hi) > 0:
        return None
    return math.exp(brentq(f, lo, hi, xtol=1e-6))


def _global_sigma(v: np.ndarray, csum: np.ndarray, dist: _TruncatedChi, sigma: float) -> float:
    """σ with mean(v < cut·σ) = mean_truncated·σ (fixed point from ``sigma``; v sorted, csum
    its cumulative sum)."""
    for _ in range(200):
        k = int(np.searchsorted(v, dist.cut * sigma, side="left"))
        if k < _MIN_BACKGROUND:
            break
        new = float(csum[k - 1]) / k / dist.mean
        done = abs(new - sigma) <= 1e-9 * sigma
        sigma = new
        if done:
            break
    return sigma


def _ks_distance(v: np.ndarray, dist: _TruncatedChi, sigma: float) -> float:
    """Kolmogorov–Smirnov distance of sorted v from the truncated χ scaled by σ (on at most
    _KS_POINTS evenly spaced order statistics)."""
    from scipy import special

    v = v[:: max(1, v.size // _KS_POINTS)]
    k = v.size
    cdf = special.gammainc(dist.n, 0.5 * (v / sigma) ** 2) / _BG_QUANTILE
    i = np.arange(1, k + 1) / k
    return float(max(np.max(i - cdf), np.max(cdf - (i - 1.0 / k))))


def _linear_upsample_matrix(n: int, m: int, f: int) -> np.ndarray:
    """(n, m) matrix interpolating linearly from m blocks of f voxels to the n voxel centres."""
    c = np.clip((np.arange(n) + 0.5) / f - 0.5, 0.0, m - 1.0)
    lo = np.floor(c).astype(int)
    hi = np.minimum(lo + 1, m - 1)
    out = np.zeros((n, m))
    np.add.at(out, (np.arange(n), lo), 1.0 - (c - lo))
    np.add.at(out, (np.arange(n), hi), c - lo)
    return out


def _smooth(a: np.ndarray, width: list[float]) -> np.ndarray:
    """Gaussian filter of the given widths (voxels, edges extended), computed on blocks of
    about width/2 voxels and interpolated back when the widths are large (fast in 3-D)."""
    from scipy.ndimage import gaussian_filter

    f = [max(1, int(w // 2)) for w in width]
    if all(fi == 1 for fi in f):
        return gaussian_filter(a, width, mode="nearest")
    pad = [(0, (-n) % fi) for n, fi in zip(a.shape, f)]
    ap = np.pad(a, pad, mode="edge")
    split = [x for n, fi in zip(ap.shape, f) for x in (n // fi, fi)]
    coarse = ap.reshape(split).mean(axis=tuple(range(1, 2 * a.ndim, 2)))
    coarse = gaussian_filter(coarse, [w / fi for w, fi in zip(width, f)], mode="nearest")
    for ax, (n, fi) in enumerate(zip(a.shape, f)):
        if fi > 1:
            mat = _linear_upsample_matrix(n, coarse.shape[ax], fi)
            coarse = np.moveaxis(np.tensordot(mat, coarse, axes=(1, ax)), 0, ax)
    return coarse


def _self_weight(width: list[float]) -> float:
    """The weight :func:`_smooth` gives a voxel in its own smoothed value: exact where it
    filters directly (widths under 4 voxels), that of its block otherwise."""
    weight = 1.0
    for w in width:
        f = max(1, int(w // 2))
        wc = w / f
        r = int(4.0 * wc + 0.5)  # scipy's gaussian_filter radius (truncate=4)
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / wc) ** 2) if wc > 0 else np.ones(1)
        weight *= float(k[r] / k.sum()) / f
    return weight


def _local_level(
    arr: np.ndarray, pos: np.ndarray, background: np.ndarray, dist: _TruncatedChi
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Iterate the background and the local level σ² for a given N.

    Returns the background, the local σ² (NaN away from the background), the local
    fraction of background voxels and where that fraction is enough to measure.
    """
    width = [n / _LOCAL_WIDTH for n in arr.shape]
    own = _self_weight(width)
    arr2 = arr**2
    for _ in range(_LOCAL_PASSES):
        weight = _smooth(background.astype(np.float64), width)
        mass = _smooth(np.where(background, arr2, 0.0), width)
        near = weight >= _NEAR_BACKGROUND
        # Each voxel's level without the voxel itself: in a small window it would weigh
        # enough to narrow the normalised spread (N 10 % high for Rician noise, 32x32x20).
        w_out = weight - own * background
        m_out = mass - own * np.where(background, arr2, 0.0)
        ok = near & (w_out > 0.5 * weight)
        local2 = np.where(ok, m_out / np.where(ok, w_out, 1.0) / dist.m2, np.nan)
        near = ok
        with np.errstate(invalid="ignore"):
            new = pos & near & (arr2 < dist.cut**2 * local2)
        changed = np.count_nonzero(new != background)
        background = new
        if changed <= _SETTLED * np.count_nonzero(background):
            break
    return background, local2, weight, near


def estimate_sigma_mri(
    image: ArrayLike, *, coils: float | None = None, mask: ArrayLike | None = None
) -> MRISigmaEstimate:
    """σ, its map and the number of coils of multi-coil magnitude MR noise, from the air.

    In air a root-sum-of-squares image of N coils is ``σ·χ`` with 2N degrees of freedom
    (Rayleigh for N = 1, as for SENSE); spatial correlation (k-space filtering) does not
    change this distribution, so a background estimate sees correlated noise as it sees
    white noise. The estimate has two stages, after PIESNO's idea of identifying the
    noise-only voxels by their χ distribution:

    1. Global: Otsu's threshold on the log-intensities gives a first set of low voxels
       and σ from their median (with ``mask``: the median of the masked voxels); σ is
       refined to the fixed point of "mean of the voxels under the χ's 99% quantile
       (times σ), divided by the mean of that truncated χ".
       With N unknown, this is done for N on a grid from 1 to 64 and the N whose
       truncated χ fits those voxels best (Kolmogorov–Smirnov distance) is kept.
    2. Local, for noise whose level varies in space: the background is the voxels under
       the 99% quantile of the *local* level and near other background voxels; the local
       level is the Gaussian-weighted mean of the background's squared magnitudes (width
       1/24 of each axis; each voxel's own value left out), divided by the truncated χ's second moment;
       three passes.
       With N unknown, N is then re-fitted once, as the N whose truncated χ has the
       interquartile spread ``(q75 − q25) / q50`` of the background's magnitudes divided
       by their local level, and the local passes are repeated with it.

    Parameters
    ----------
    image : array_like of float
        Magnitude image (2-D slice, 3-D or 4-D volume; a 4-D series is pooled). Exact
        zeros are treated as zero-filled or masked voxels and ignored.
    coils : float, optional
        N, the number of coils of a root-sum-of-squares (GRAPPA) reconstruction (1 for
        SENSE or single-coil data, which are Rician). Estimated when not given; for
        correlated coils the estimate is the effective N, and σ the effective σ, of
        Aja-Fernández and Tristán-Vega.
    mask : array_like of bool, shape of the image, optional
        The voxels that may be background, e.g. the air found outside the object
        (:func:`biodae.noise.estimate_noise` passes it): the others are ignored, like exact
        zeros. The first estimate then starts from the median of the masked voxels, which
        should be mostly air, rather than from Otsu's low class (which, on air alone, can
        split off a small cluster of low values, such as a filter's roll-off at the edge
        of the field of view).

    Returns
    -------
    MRISigmaEstimate
        ``sigma`` (the median local level over the background, in the image's units),
        ``coils`` (given or estimated), ``sigma_map`` and ``background``.

    Raises
    ------
    InputError
        No usable air background (too few low voxels, or their spread unlike any χ's);
        negative or NaN values; ``coils`` out of range; ``mask`` of another shape.

    Notes
    -----
    Inside the object the map is interpolated from the air around it, so it misses a
    level that rises towards the centre (SENSE's g-factor, intensity-normalised RSS).
    Data denoised, masked or clipped outside the object have no noisy air to measure.
    With N estimated, σ carries about half N's relative error (σ²·N is what the
    background fixes best).

    References
    ----------
    .. [1] C. G. Koay, E. Özarslan, P. J. Basser, "A signal transformational framework
       for breaking the noise floor and its applications in MRI", J. Magn. Reson.
       197(2):108-119, 2009 (PIESNO).
    .. [2] C. D. Constantinides, E. Atalar, E. R. McVeigh, "Signal-to-noise measurements
       in magnitude images from NMR phased arrays", Magn. Reson. Med. 38(5):852-857, 1997.
    .. [3] S. Aja-Fernández, A. Tristán-Vega, C. Alberola-López, "Noise estimation in
       single- and multiple-coil magnetic resonance data based on statistical models",
       Magn. Reson. Imaging 27(10):1397-1409, 2009.
    .. [4] N. Otsu, "A threshold selection method from gray-level histograms",
       IEEE Trans. Syst. Man Cybern. 9(1):62-66, 1979.

    Examples
    --------
    >>> x = np.zeros((128, 128)); x[32:96, 32:96] = 100.0
    >>> res = mri_coil_noise(x, 4.0, coils=8, intensity_correction=False, rng=0)
    >>> est = estimate_sigma_mri(res.noisy, coils=8)
    >>> bool(abs(est.sigma / 4.0 - 1) < 0.05)
    True
    """
    from skimage.filters import threshold_otsu

    arr = as_finite_array(image, "image").astype(np.float64, copy=False)
    if np.any(arr < 0):
        raise InputError("a magnitude image cannot have negative values", "pass the magnitude image")
    given = None if coils is None else _float_in(coils, "coils", _COILS_RANGE[0], _COILS_RANGE[1])
    no_air = InputError(
        "no usable air background to estimate the noise from",
        "pass an image with noisy air around the object, or measure sigma on a noise-only scan",
    )
    pos = arr > 0
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != arr.shape:
            raise InputError(f"mask shape {m.shape} differs from the image shape {arr.shape}")
        pos &= m.astype(bool)
    v = np.sort(arr[pos], axis=None)
    if v.size < _MIN_BACKGROUND or v[0] == v[-1]:
        raise no_air
    csum = np.cumsum(v)
    if mask is None:
        logv = np.log(v)
        k0 = int(np.searchsorted(logv, threshold_otsu(logv), side="right"))
        if k0 < _MIN_BACKGROUND:
            raise no_air
    else:
        k0 = v.size

    min_count = max(_MIN_BACKGROUND, _MIN_BACKGROUND_FRACTION * v.size)

    # 1. Global level (and N) from the low voxels.
    start = float(np.median(v[:k0]))
    if given is not None:
        dist = _TruncatedChi(given)
        sigma = _global_sigma(v, csum, dist, start / dist.median)
    else:
        fits = []
        for n in _COILS_GRID:
            d = _TruncatedChi(float(n))
            s = _global_sigma(v, csum, d, start / d.median)
            k = int(np.searchsorted(v, d.cut * s, side="left"))
            if k >= min_count:
                fits.append((_ks_distance(v[:k], d, s), d, s))
        if not fits:
            raise no_air
        _, dist, sigma = min(fits, key=lambda f: f[0])

    # 2. Local level and background (a few passes: more would let low-signal tissue next
    # to the air raise the level it is compared with, and grow without end); with N
    # unknown, N re-fitted once on the locally normalised background.
    background = pos & (arr < dist.cut * sigma)
    background, local2, weight, near = _local_level(arr, pos, background, dist)
    if given is None and np.count_nonzero(background) >= min_count:
        n_local = _coils_from_spread(_spread(arr[background] / np.sqrt(local2[background])))
        if n_local is None:
            raise no_air
        if abs(n_local / dist.n - 1.0) > _COILS_SETTLED:
            dist = _TruncatedChi(n_local)
            background, local2, weight, near = _local_level(arr, pos, background, dist)
    if np.count_nonzero(background) < min_count:
        raise no_air
    local = np.sqrt(local2)
    ratio = arr[background] / local[background]
    spread = _spread(ratio)
    if not (dist.spread / _SPREAD_TOLERANCE <= spread <= dist.spread * _SPREAD_TOLERANCE):
        if given is None:
            raise no_air  # not χ-shaped: no air, or no noise in it
        raise InputError(
            f"the darkest voxels do not look like the noise of {given:g} coil(s) "
            f"(spread {spread:.3g}, expected {dist.spread:.3g}): there is no air, or N is wrong",
            "pass the right number of coils, or coils=None to estimate it",
        )
    sigma = float(np.median(local[background]))

    # The map: the local level near the background, blended into a wider interpolation
    # (and the median where even that sees no air).
    wide = [4.0 * n_ax / _LOCAL_WIDTH for n_ax in arr.shape]
    w_wide = _smooth(background.astype(np.float64), wide)
    m_wide = _smooth(np.where(background, local2, 0.0), wide)
    fill2 = np.where(w_wide > 1e-6, m_wide / np.maximum(w_wide, 1e-6), sigma**2)
    blend = np.clip(weight / (2.0 * _NEAR_BACKGROUND), 0.0, 1.0)
    sigma_map = np.sqrt(np.where(near, blend * np.nan_to_num(local2) + (1.0 - blend) * fill2, fill2))
    return MRISigmaEstimate(sigma=sigma, coils=float(dist.n), sigma_map=sigma_map, background=background)


#: Block edge (voxels of the estimation grid) over which the level inside the object is measured.
_LEVEL_BLOCK = 16
#: Fewest object voxels a block needs for its own measurement.
_LEVEL_MIN_VOXELS = 64


def level_in_object(image: ArrayLike, sigma_map: ArrayLike, air: ArrayLike, *, block: int = _LEVEL_BLOCK) -> np.ndarray:
    """A noise-level map that also sees the level inside the object, not only in the air.

    The map of :func:`estimate_sigma_mri` is interpolated from the air around the object, so
    it misses a level that rises towards the centre, as the intensity-normalised
    root-sum-of-squares of a coil array makes it (the coils are far from the middle). Inside
    the object this measures the level on the image itself: in bright tissue the magnitude
    is the signal plus nearly Gaussian noise of the channels' σ, so the median absolute
    finest diagonal Haar detail over the two longest axes,
    ``(x[i, j] − x[i+1, j] − x[i, j+1] + x[i+1, j+1]) / 2``, divided by 0.6745 (Donoho and
    Johnstone's MAD rule), estimates σ per block of ``block`` voxels. Noise correlated
    between neighbouring voxels by a k-space window (Hamming, Hann) has weaker finest
    details; two voxels apart it is nearly independent, so the block values are scaled by
    one factor for the image, the median over the blocks of the same detail of voxels two
    apart over the finest (at least 1: about 1.4 with Hamming apodisation, 1.0-1.05 for
    white noise, where anatomy's edges raise the wider detail a little). The block values
    are smoothed (normalised Gaussian, ``block / 2`` voxels wide), which also fills blocks
    with fewer than 64 object voxels from measured blocks nearby; the result never goes
    below the air's map, which is all there is where no block was measured.

    Parameters
    ----------
    image : array_like of float
        Magnitude image (2-D or 3-D).
    sigma_map : array_like of float
        The air-based map (:attr:`MRISigmaEstimate.sigma_map`), the shape of ``image``.
    air : array_like of bool
        The voxels outside the object (the ``mask`` given to :func:`estimate_sigma_mri`).
    block : int, default 16

    Returns
    -------
    ndarray of float64, the shape of ``image``
    """
    x = as_finite_array(image, "image").astype(np.float64, copy=False)
    smap = np.asarray(sigma_map, dtype=np.float64)
    outside = np.asarray(air, dtype=bool)
    if smap.shape != x.shape or outside.shape != x.shape:
        raise InputError(f"image {x.shape}, sigma_map {smap.shape} and air {outside.shape} must have one shape")
    block = _int_at_least(block, "block", 2)
    axes = sorted(sorted(range(x.ndim), key=lambda a: -x.shape[a])[:2])
    if x.ndim < 2 or min(x.shape[a] for a in axes) <= 2:
        return smap.copy()
    inside = ~outside & (x > 0)
    fine, steps = _block_levels(x, inside, axes, 1, block)
    wide, _ = _block_levels(x, inside, axes, 2, block)
    both = np.isfinite(fine) & np.isfinite(wide) & (fine > 0)
    if not both.any():
        return smap.copy()
    # one factor for the whole image: a k-space window correlates the noise alike everywhere
    factor = max(1.0, float(np.median(wide[both] / fine[both])))
    level = np.where(np.isfinite(fine), fine * factor, 0.0)
    valid = np.isfinite(fine).astype(np.float64)
    width = [s / 2.0 for s in steps]
    den = _smooth(valid, width)
    num = _smooth(level * valid, width)
    measured = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0)
    return np.where(outside, smap, np.maximum(smap, measured))


def _block_levels(x: np.ndarray, inside: np.ndarray, axes: list[int], lag: int,
                  block: int) -> tuple[np.ndarray, list[int]]:
    """σ per block (NaN where too few object voxels), on the image's grid, from the diagonal Haar
    details of voxels ``lag`` apart over ``axes`` (:func:`level_in_object`), and the block sizes."""
    def shifted(a: np.ndarray, offsets: tuple[int, int]) -> np.ndarray:
        sl = [slice(None)] * a.ndim
        for ax, o in zip(axes, offsets):
            sl[ax] = slice(o, a.shape[ax] - lag + o)
        return a[tuple(sl)]

    corners = [(0, 0), (lag, 0), (0, lag), (lag, lag)]
    detail = np.abs(sum(sign * shifted(x, c) for sign, c in zip((1, -1, -1, 1), corners))) / 2.0
    ok = np.logical_and.reduce([shifted(inside, c) for c in corners])  # all four voxels in the object
    # a detail stands for the voxel in the middle of its four: back on the image's grid
    pad = [(lag // 2, lag - lag // 2) if a in axes else (0, 0) for a in range(x.ndim)]
    detail, ok = np.pad(detail, pad, mode="edge"), np.pad(ok, pad, constant_values=False)
    steps = [min(block, n) for n in x.shape]
    level = np.full(x.shape, np.nan)
    for corner in np.ndindex(*(-(-n // st) for n, st in zip(x.shape, steps))):
        sl = tuple(slice(c * st, (c + 1) * st) for c, st in zip(corner, steps))
        values = detail[sl][ok[sl]]
        if values.size >= _LEVEL_MIN_VOXELS:
            level[sl] = float(np.median(values)) / _MAD_TO_SIGMA
    return level, steps


#: ``remove_noise_floor``: voxels whose subtraction is below √3 σ also get the A = 0 mapping if it is larger
#: (beyond, the subtraction is the larger: the two cross at 1.18-1.21 σ for N from 1.05 to 64).
_FLOOR_DARK = 3.0


def _rayleigh_of_chi(m: np.ndarray, s2: np.ndarray, n: float) -> np.ndarray:
    """``σ √(−2 ln Q(N, M² / 2σ²))``: magnitudes of σ·χ with 2N degrees of freedom mapped quantile for
    quantile to the Rayleigh distribution of σ (infinite far in the tail, where Q underflows)."""
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        upper = special.gammaincc(np.float32(n), np.square(m) / (2.0 * np.maximum(s2, np.float32(1e-30))))
        return np.sqrt(2.0 * s2 * np.abs(np.log(upper)))  # |ln Q| = -ln Q, and +0 (not -0) where Q = 1


def remove_noise_floor(image: ArrayLike, sigma: ArrayLike, coils: float, *, air: ArrayLike | None = None) -> np.ndarray:
    """Remove the noise floor that all but one of N coils add to a root-sum-of-squares magnitude.

    A root-sum-of-squares magnitude of N coils with channel noise σ has
    ``E[M²] = A² + 2Nσ²`` (non-central χ with 2N degrees of freedom); Rician noise (N = 1)
    has ``A² + 2σ²``. ``√max(M² − 2(N − 1)σ², 0)`` brings the first to the second moment of
    the second, the power-image bias correction of Gudbjartsson and Patz [1]_ and
    McGibney and Smith [2]_ stopped one coil short, so that a denoiser trained on Rician
    noise sees the floor it knows instead of a brighter one it cannot tell from anatomy
    (at N = 8 and σ = 5 % of the tissue maximum, tissue at half the maximum is raised by
    about 7 %). In the ``air`` (A = 0) the magnitude is instead mapped quantile for quantile
    from σ·χ with 2N degrees of freedom to the Rayleigh distribution of σ, Rician air,
    ``σ √(−2 ln Q(N, M² / 2σ²))`` (Q the regularised upper incomplete gamma function),
    blended into the object over about one voxel: the subtraction would leave the air half
    zeros and half sparse spikes, unlike any air the model was trained on. In the object a
    voxel gets the larger of the subtraction and that mapping (the mapping is larger only
    below about 1.2 σ): the subtraction alone sets dark tissue's low draws to 0 (at N = 6 and
    A = 2σ, 17 % of them), a spike no Rician image has; the larger of the two keeps the mean
    (2.27σ there, as Rician) and no zeros, and leaves voxels above about 1.2 σ as the
    subtraction makes them. Where the result is still 0 in a voxel that was above 0 it is the smallest positive
    float32 instead, so that the only exact zeros are the input's own (a run of exact zeros
    is zero fill to the models: it would stay 0). Non-finite voxels stay as they are. N = 1
    returns the magnitude unchanged (as float32).

    Parameters
    ----------
    image : array_like of float
        Magnitude image or volume (non-negative).
    sigma : float or array_like of float
        σ of the Gaussian channels (:func:`estimate_sigma_mri`'s ``sigma_map``, or
        :func:`level_in_object`), broadcastable to ``image``.
    coils : float
        N (effective; at least 1).
    air : array_like of bool, optional
        The voxels outside the object, broadcastable to ``image``.

    Returns
    -------
    ndarray of float32, the shape of ``image``

    References
    ----------
    .. [1] H. Gudbjartsson, S. Patz, "The Rician distribution of noisy MRI data", Magn.
       Reson. Med. 34(6):910-914, 1995.
    .. [2] G. McGibney, M. R. Smith, "An unbiased signal-to-noise ratio measure for
       magnetic resonance images", Med. Phys. 20(4):1077-1078, 1993.

    Examples
    --------
    >>> x = np.full((64, 64), 100.0)
    >>> res = mri_coil_noise(x, 5.0, coils=8, intensity_correction=False, rng=0)
    >>> bool(abs(np.mean(res.noisy) - 100) > 2 and abs(np.mean(remove_noise_floor(res.noisy, 5.0, 8)) - 100) < 1)
    True
    """
    from scipy import ndimage

    n = _float_in(coils, "coils", 1.0, _COILS_RANGE[1])
    m = np.asarray(image, dtype=np.float32)
    if n == 1.0:
        return m.copy()
    s2 = np.square(np.asarray(sigma, dtype=np.float32))
    with np.errstate(invalid="ignore"):  # inf - inf where a voxel is infinite: it is put back below
        out = np.square(m)
        out -= (2.0 * (n - 1.0)) * s2
        np.maximum(out, 0.0, out=out)
        np.sqrt(out, out=out)
    finite = np.isfinite(m)
    # dark voxels: at least what the magnitude maps to when A = 0 (Rayleigh quantile of the χ quantile)
    s2_full = np.broadcast_to(s2, m.shape)
    with np.errstate(invalid="ignore"):
        dark = finite & (np.square(out) < _FLOOR_DARK * s2_full)
    if dark.any():
        out[dark] = np.maximum(out[dark], _rayleigh_of_chi(m[dark], s2_full[dark], n))
    out[(out == 0) & (m > 0)] = np.finfo(np.float32).tiny
    if not finite.all():
        out[~finite] = m[~finite]
    if air is None:
        return out
    outside = np.asarray(air, dtype=bool)
    if not outside.any():
        return out
    # blend weight on the air's own grid (a series' one volume), then over the image
    weight = np.broadcast_to(ndimage.gaussian_filter(outside.astype(np.float32), 1.0, mode="nearest"), m.shape)
    near = (weight > 1e-3) & finite
    m_near = m[near]
    rayleigh = _rayleigh_of_chi(m_near, s2_full[near], n)
    sub = out[near]
    rayleigh = np.where(np.isfinite(rayleigh), rayleigh, sub)  # far in the tail: the subtraction
    w = weight[near]
    mixed = w * rayleigh + (1.0 - w) * sub
    mixed[(mixed <= 0) & (m_near > 0)] = np.finfo(np.float32).tiny
    out[near] = mixed
    return out
