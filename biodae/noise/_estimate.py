"""Estimating the noise level of a recording or an image (for reports and ``biodae info``)."""

from __future__ import annotations

import math

import numpy as np
import pywt
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import as_finite_array, check_choice, positive_rate

__all__ = ["estimate_sigma", "estimate_sigma_rician", "estimate_snr_db", "RICIAN_SIGMA_METHODS"]

#: Valid values of ``estimate_sigma_rician(method=...)``.
RICIAN_SIGMA_METHODS = ("auto", "background", "wavelet")

#: Φ⁻¹(3/4) ≈ 0.6745: the MAD of a standard normal variable.
_MAD_TO_SIGMA = 0.6744897501960817

#: Background voxels are those below ``_TRUNC · σ`` (Rayleigh mass below 3σ: 98.9%).
_TRUNC = 3.0
_TRUNC_MASS = 1.0 - np.exp(-_TRUNC**2 / 2.0)
#: Mean and coefficient of variation of a unit Rayleigh variable truncated at ``_TRUNC``.
_TRUNC_MEAN = float(
    (-_TRUNC * np.exp(-_TRUNC**2 / 2.0) + np.sqrt(np.pi / 2.0) * math.erf(_TRUNC / math.sqrt(2.0))) / _TRUNC_MASS
)
_TRUNC_M2 = float((2.0 - (_TRUNC**2 + 2.0) * np.exp(-_TRUNC**2 / 2.0)) / _TRUNC_MASS)
_TRUNC_CV = float(np.sqrt(_TRUNC_M2 - _TRUNC_MEAN**2) / _TRUNC_MEAN)
#: Accept a background whose coefficient of variation is within this factor of Rayleigh's.
_CV_TOLERANCE = 1.3
#: A background needs at least this many voxels and this fraction of the non-zero voxels.
_MIN_BACKGROUND = 64
_MIN_BACKGROUND_FRACTION = 0.01


def estimate_sigma(x: ArrayLike, *, axis: int | None = 0, wavelet: str = "db2") -> np.ndarray | float:
    """Gaussian noise standard deviation from the finest wavelet details (Donoho's MAD).

    ``σ = median(|d|) / 0.6745`` where ``d`` are the finest-scale detail coefficients
    of a one-level discrete wavelet transform (0.6745 = Φ⁻¹(3/4)). Robust to the
    signal as long as it is smooth at the finest scale; assumes white noise.

    Parameters
    ----------
    x : array_like of float
        A signal, ``(n_samples,)`` or ``(n_samples, n_channels)``, or an image.
    axis : int or None, optional
        An int (default 0, biodae's time axis): ``x`` holds independent 1-D signals
        along ``axis``, one σ per signal (``(n_channels,)`` for a 2-D signal, a float for
        a 1-D one). ``None``: ``x`` is one n-D image; an n-D transform is taken and its
        all-detail band (``"dd…d"``) used: one σ. **Pass ``axis=None`` for images.**
    wavelet : str, optional
        PyWavelets wavelet name (default ``"db2"``).

    Returns
    -------
    float or ndarray of float64
        σ in the units of ``x``: the shape of ``x`` without ``axis`` (a float for a 1-D
        signal or for ``axis=None``).

    References
    ----------
    .. [1] D. L. Donoho, I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage",
       Biometrika 81(3):425-455, 1994.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sig = np.sin(np.linspace(0, 10, 4000))[:, None] + rng.normal(0, [0.1, 0.5], (4000, 2))
    >>> estimate_sigma(sig).round(1)  # (n_samples, n_channels): one sigma per channel
    array([0.1, 0.5])
    """
    arr = as_finite_array(x, "x").astype(np.float64, copy=False)
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise InputError(f"unknown discrete wavelet {wavelet!r}", "see pywt.wavelist(kind='discrete'), e.g. 'db2'")
    if axis is None:
        axes = [i for i, n in enumerate(arr.shape) if n >= 2]
        if not axes:
            raise InputError(f"cannot estimate noise from an array of shape {arr.shape}")
        detail = pywt.dwtn(arr, wavelet, axes=axes)["d" * len(axes)]
        return float(np.median(np.abs(detail)) / _MAD_TO_SIGMA)
    if not -arr.ndim <= axis < arr.ndim:
        raise InputError(f"axis {axis} is out of range for an array of shape {arr.shape}")
    if arr.shape[axis] < 2:
        raise InputError(f"need at least 2 samples along axis {axis}, shape is {arr.shape}")
    _, detail = pywt.dwt(arr, wavelet, axis=axis)
    sigma = np.median(np.abs(detail), axis=axis) / _MAD_TO_SIGMA
    return float(sigma) if sigma.ndim == 0 else sigma


def _background_sigma(values: np.ndarray) -> float | None:
    """Rayleigh σ from the air around the object, or None when there is no usable air."""
    from skimage.filters import threshold_otsu

    v = values[values > 0]  # exact zeros: zero-filled / masked voxels, not measurements
    if v.size < _MIN_BACKGROUND or np.all(v == v[0]):
        return None
    logv = np.log(v)
    t = threshold_otsu(logv)
    low = v[logv <= t]
    if low.size < _MIN_BACKGROUND:
        return None
    sigma = float(np.median(low)) / np.sqrt(2.0 * np.log(2.0))  # Rayleigh median = σ·sqrt(2 ln 2)
    # Refine: mean of the voxels under 3σ, corrected for the truncation, to a fixed point.
    cap = 4.0 * _TRUNC * sigma
    pool = v[v < cap]  # the iteration only looks at low values: search a small pool first
    for _ in range(100):
        src = pool if _TRUNC * sigma < cap else v
        bg = src[src < _TRUNC * sigma]
        if bg.size < _MIN_BACKGROUND:
            return None
        new = float(bg.mean()) / _TRUNC_MEAN
        done = abs(new - sigma) <= 1e-7 * sigma
        sigma = new
        if done:
            break
    bg = v[v < _TRUNC * sigma]
    if bg.size < max(_MIN_BACKGROUND, _MIN_BACKGROUND_FRACTION * v.size):
        return None
    cv = float(bg.std() / bg.mean())
    if not (_TRUNC_CV / _CV_TOLERANCE <= cv <= _TRUNC_CV * _CV_TOLERANCE):
        return None  # not Rayleigh-shaped: no air, or no noise in it
    return sigma


def estimate_sigma_rician(volume: ArrayLike, *, method: str = "auto") -> float:
    """σ of Rician noise in a magnitude MR image, from the background (air) when present.

    In air the magnitude is Rayleigh distributed, with mean ``σ·sqrt(π/2)`` (σ = mean /
    1.2533). The background is found robustly: Otsu's threshold on the log-intensities
    gives a first set of low voxels and σ from their median; then σ is refined to the
    fixed point of "mean of the voxels below 3σ, divided by the mean of a Rayleigh
    truncated at 3σ (1.2303)", which no longer depends on where the threshold fell.
    The background is accepted when it holds at least 1% of the non-zero voxels and its
    coefficient of variation is close to a Rayleigh's (0.50); otherwise there is no
    usable air.

    Parameters
    ----------
    volume : array_like of float
        Magnitude image (2-D slice, 3-D or 4-D volume). Exact zeros are treated as
        zero-filled or masked voxels and ignored.
    method : {"auto", "background", "wavelet"}, optional
        ``"background"``: the air-based estimate, raising when there is no usable air.
        ``"wavelet"``: Donoho's MAD of the finest n-D Haar details, skipping the
        2×2(×2) blocks that hold an exact zero (so zero-filled regions do not count);
        fine where the object fills the image at high SNR, but biased low (by about 25%
        on a head with air) because Rician noise is not Gaussian in the dark.
        ``"auto"`` (default): background, falling back to wavelet when there is no
        usable air.

    Returns
    -------
    float
        σ in the image's intensity units (the σ of each of the real and imaginary
        Gaussian channels, as :func:`rician` takes it).

    Raises
    ------
    InputError
        ``method="background"`` with no usable air; unknown ``method``; NaN input.

    Notes
    -----
    Multi-coil (sum-of-squares) reconstructions are noncentral-χ, not Rician: the
    background estimate is then biased; and data already denoised or masked outside the
    head have no noisy air to measure.

    References
    ----------
    .. [1] H. Gudbjartsson, S. Patz, "The Rician distribution of noisy MRI data",
       Magn. Reson. Med. 34(6):910-914, 1995.
    .. [2] J. Sijbers, A. J. den Dekker, "Maximum likelihood estimation of signal amplitude
       and noise variance from MR data", Magn. Reson. Med. 51(3):586-594, 2004.
    .. [3] N. Otsu, "A threshold selection method from gray-level histograms",
       IEEE Trans. Syst. Man Cybern. 9(1):62-66, 1979.
    """
    check_choice(method, RICIAN_SIGMA_METHODS, "method")
    arr = as_finite_array(volume, "volume").astype(np.float64, copy=False)
    if np.any(arr < 0):
        raise InputError("a magnitude image cannot have negative values", "pass the magnitude image")
    if method != "wavelet":
        sigma = _background_sigma(arr.ravel())
        if sigma is not None:
            return sigma
        if method == "background":
            raise InputError(
                "no usable air background to estimate Rician sigma from",
                "use method='wavelet' or 'auto', or measure sigma on a noise-only scan",
            )
    return _wavelet_sigma_nonzero(arr)


def _wavelet_sigma_nonzero(arr: np.ndarray, *, skip: str = "zero") -> float:
    """Donoho's MAD on the finest n-D Haar details, skipping blocks that carry no noise.

    With Haar on even-sized data each coefficient sees exactly one 2×2(×2) block.
    ``skip="zero"`` leaves out blocks holding an exact zero (masked, skull-stripped);
    ``skip="flat"`` leaves out blocks whose values are all equal (padding outside a CT
    field of view, saturated or clipped regions), which would otherwise pull the
    median to zero.
    """
    axes = [i for i, n in enumerate(arr.shape) if n >= 2]
    if not axes:
        raise InputError(f"cannot estimate noise from an array of shape {arr.shape}")
    a = arr[tuple(slice(0, n - n % 2) if i in axes else slice(None) for i, n in enumerate(arr.shape))]
    detail = np.abs(pywt.dwtn(a, "haar", axes=axes)["d" * len(axes)])
    if skip == "zero":
        full = a != 0
        for ax in axes:
            full = np.take(full, np.arange(0, a.shape[ax], 2), axis=ax) & np.take(
                full, np.arange(1, a.shape[ax], 2), axis=ax
            )
    else:
        lo, hi = a, a
        for ax in axes:
            even, odd = np.arange(0, a.shape[ax], 2), np.arange(1, a.shape[ax], 2)
            lo = np.minimum(np.take(lo, even, axis=ax), np.take(lo, odd, axis=ax))
            hi = np.maximum(np.take(hi, even, axis=ax), np.take(hi, odd, axis=ax))
        full = hi > lo
    values = detail[full]
    return float(np.median(values) / _MAD_TO_SIGMA) if values.size else 0.0


def estimate_sigma_image(image: ArrayLike) -> float:
    """Gaussian noise σ of a 2-D image or 3-D volume, ignoring flat regions.

    Donoho's MAD of the finest Haar details, leaving out the 2×2(×2) blocks whose
    values are all equal: the padding outside a CT field of view (e.g. −3024 HU), black
    borders and saturated areas hold no noise and would otherwise bias σ towards zero.

    Parameters
    ----------
    image : array_like of float, shape (rows, cols) or (x, y, z)

    Returns
    -------
    float
        σ in the image's intensity units; 0.0 for an image with no textured block.

    References
    ----------
    .. [1] D. L. Donoho, I. M. Johnstone, Biometrika 81(3):425-455, 1994.
    """
    arr = as_finite_array(image, "image").astype(np.float64, copy=False)
    return _wavelet_sigma_nonzero(arr, skip="flat")


def estimate_snr_db(
    x: ArrayLike, *, sampling_rate: float, axis: int = 0, highpass: float | None = 0.5
) -> np.ndarray | float:
    """Estimated SNR of a noisy signal, per channel, in dB.

    ``10·log10(max(var(x_hp) − σ̂², 0) / σ̂²)`` with σ̂ from :func:`estimate_sigma`
    (white-noise level at the finest wavelet scale, i.e. the band fs/4…fs/2) and
    ``x_hp`` the signal with drift below ``highpass`` Hz removed (zero-phase Butterworth,
    order 2), so that baseline wander counts neither as signal nor as noise.

    This is an *estimate*, for reports: it sees only broadband (white-like) noise, and
    a signal with real content near Nyquist (e.g. EEG gamma at a low rate) reads noisier
    than it is.

    Parameters
    ----------
    x : array_like of float, shape (n_samples,) or (n_samples, n_channels)
        Signal in physical units (time along ``axis``).
    sampling_rate : float
        Sampling rate in Hz.
    axis : int, optional
        Time axis (default 0, biodae's ``(n_samples, n_channels)`` layout).
    highpass : float or None, optional
        Cut-off in Hz of the drift removed before measuring the variance (default 0.5);
        ``None`` only removes the mean.

    Returns
    -------
    float or ndarray of float64
        SNR in dB per channel (the shape of ``x`` without ``axis``); ``-inf`` where the
        estimated noise explains all the variance, ``+inf`` where no noise is found,
        NaN for a constant channel.

    References
    ----------
    .. [1] D. L. Donoho, I. M. Johnstone, Biometrika 81(3):425-455, 1994.
    """
    from scipy import signal as _signal

    fs = positive_rate(sampling_rate)
    arr = as_finite_array(x, "x").astype(np.float64, copy=False)
    if not -arr.ndim <= axis < arr.ndim:
        raise InputError(f"axis {axis} is out of range for an array of shape {arr.shape}")
    sigma = np.asarray(estimate_sigma(arr, axis=axis))
    if highpass is None:
        hp = arr
    else:
        fc = positive_rate(highpass, "highpass")
        if fc >= fs / 2:
            raise InputError(f"highpass {fc:g} Hz is not below the Nyquist frequency {fs / 2:g} Hz")
        sos = _signal.butter(2, fc, btype="highpass", fs=fs, output="sos")
        if arr.shape[axis] <= 3 * (2 * len(sos) + 1):
            raise InputError(
                f"signal too short ({arr.shape[axis]} samples) for the {fc:g} Hz high-pass",
                "pass highpass=None",
            )
        hp = _signal.sosfiltfilt(sos, arr, axis=axis)
    p_signal = np.maximum(np.var(hp, axis=axis) - sigma**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10.0 * np.log10(p_signal / sigma**2)
    return float(snr) if snr.ndim == 0 else snr
