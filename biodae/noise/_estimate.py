"""Estimating the noise level of a recording or an image (for reports and ``biodae info``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pywt
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import as_finite_array, check_choice, positive_rate

__all__ = [
    "estimate_sigma",
    "estimate_sigma_rician",
    "estimate_snr_db",
    "RICIAN_SIGMA_METHODS",
    "NoiseEstimate",
    "estimate_noise",
]

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
#: Air holds at least this fraction of its voxels under σ/2 (a Rayleigh: 11.9% below 3σ).
_MIN_LOW_TAIL = 0.01


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
    # Air reaches down to zero: a Rayleigh puts 12% of its mass under σ/2. Dark tissue with a
    # floor well above zero (no air in the field of view) can pass the spread test; it puts
    # (almost) nothing there. On integer data the cut is at least one step.
    cut = max(0.5 * sigma, 1.0) if np.all(bg == np.round(bg)) else 0.5 * sigma
    if np.count_nonzero(bg <= cut) < _MIN_LOW_TAIL * bg.size:
        return None
    return sigma


def estimate_sigma_rician(volume: ArrayLike, *, method: str = "auto") -> float:
    """σ of Rician noise in a magnitude MR image, from the background (air) when present.

    In air the magnitude is Rayleigh distributed, with mean ``σ·sqrt(π/2)`` (σ = mean /
    1.2533). The background is found robustly: Otsu's threshold on the log-intensities
    gives a first set of low voxels and σ from their median; then σ is refined to the
    fixed point of "mean of the voxels below 3σ, divided by the mean of a Rayleigh
    truncated at 3σ (1.2303)", which no longer depends on where the threshold fell.
    The background is accepted when it holds at least 1% of the non-zero voxels, its
    coefficient of variation is close to a Rayleigh's (0.50), and at least 1% of it lies
    under σ/2 (air reaches down to zero: a Rayleigh puts 12% there; dark tissue seen
    without air around it does not); otherwise there is no usable air.

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


def _haar_blocks(arr: np.ndarray, *, skip: str = "zero") -> tuple[np.ndarray, np.ndarray]:
    """``(|d|, keep)``: the finest n-D Haar details of ``arr`` and which of them to use.

    With Haar on even-sized data each coefficient sees exactly one 2×2(×2) block.
    ``skip="zero"`` leaves out blocks holding an exact zero (masked, skull-stripped);
    ``skip="flat"`` leaves out blocks whose values are all equal (padding outside a CT
    field of view, saturated or clipped regions), which would otherwise pull the
    median to zero. Blocks holding a NaN or infinite value are always left out.
    """
    axes = [i for i, n in enumerate(arr.shape) if n >= 2]
    if not axes:
        raise InputError(f"cannot estimate noise from an array of shape {arr.shape}")
    a = arr[tuple(slice(0, n - n % 2) if i in axes else slice(None) for i, n in enumerate(arr.shape))]
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, 0.0)
    detail = np.abs(pywt.dwtn(a, "haar", axes=axes)["d" * len(axes)])

    def blocks(mask: np.ndarray, op) -> np.ndarray:
        for ax in axes:
            mask = op(np.take(mask, np.arange(0, a.shape[ax], 2), axis=ax),
                      np.take(mask, np.arange(1, a.shape[ax], 2), axis=ax))
        return mask

    if skip == "zero":
        keep = blocks(a != 0, np.logical_and)
    else:
        keep = blocks(a, np.maximum) > blocks(a, np.minimum)
    if not finite.all():
        keep &= blocks(finite, np.logical_and)
    return detail, keep


def _wavelet_sigma_nonzero(arr: np.ndarray, *, skip: str = "zero") -> float:
    """Donoho's MAD on the finest n-D Haar details, skipping blocks that carry no noise
    (see :func:`_haar_blocks`); 0.0 when every block is skipped."""
    detail, keep = _haar_blocks(arr, skip=skip)
    values = detail[keep]
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


# --------------------------------------------------------------------------- ECG: beat template

#: Beat detection: Pan–Tompkins-style band (Hz), energy integration window (s), refractory
#: period (s, 240 bpm at most) and the threshold, a fraction of the median of the 2-s maxima.
_QRS_BAND = (5.0, 25.0)
_QRS_INTEGRATE_S = 0.10
_QRS_REFRACTORY_S = 0.25
_QRS_THRESHOLD = 0.3
#: A beat window starts this long before the R peak (at most 0.3 RR) and lasts at most
#: 1.3 RR (2 s), ending early where the next beat's window starts.
_BEAT_PRE_S, _BEAT_PRE_RR = 0.25, 0.3
_BEAT_LEN_RR, _BEAT_LEN_MAX_S = 1.3, 2.0
#: Beats are aligned on the QRS (−60…+80 ms of the template) within ±40 ms, to a fraction of
#: a sample; a beat whose QRS (−80…+120 ms) correlates under 0.8 with every template so far
#: starts another template (at most 4), when at least 5 beats and 5% of them do.
_ALIGN_S, _ALIGN_QRS_S = 0.04, (0.06, 0.08)
_CLASS_QRS_S, _CLASS_CORR, _MAX_TEMPLATES = (0.08, 0.12), 0.8, 4
_MIN_BEATS, _MIN_CLASS_SHARE = 5, 0.05
#: Each beat's template is scaled to it by least squares, within these bounds.
_SCALE_RANGE = (0.5, 2.0)
#: Plausible heart rates for an ECG channel (bpm) and the beat-to-template QRS correlation
#: (median over beats) that makes an unnamed channel "look like ECG".
_ECG_RATE_BPM = (30.0, 220.0)
_ECG_LIKE_CORR = 0.95
#: Slowest rate the beat-template estimate (and ECG recognition from content) needs, in Hz.
ECG_MIN_RATE = 100.0


class _Beats(NamedTuple):
    """What :func:`_beat_model` found: the beat positions (fractional samples), the beat model
    on the sample grid, how many templates it used, each beat's QRS correlation with the main
    template, and the median RR interval in seconds."""

    positions: np.ndarray
    model: np.ndarray
    n_templates: int
    qrs_corr: np.ndarray
    rr_s: float


def _qrs_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak candidates (sample indices): band-pass 5–25 Hz, squared slope integrated over
    100 ms (Pan & Tompkins), peaks above 0.3 × the median of the 2-s maxima, 250 ms apart,
    each moved to the largest band-passed deflection within ±75 ms."""
    from scipy import signal as _signal

    sos = _signal.butter(2, _QRS_BAND, btype="bandpass", fs=fs, output="sos")
    bp = _signal.sosfiltfilt(sos, x)
    w = max(1, int(round(_QRS_INTEGRATE_S * fs)))
    env = np.convolve(np.gradient(bp) ** 2, np.ones(w) / w, mode="same")
    seg = int(2 * fs)
    nseg = env.size // seg
    ref = float(np.median(env[: nseg * seg].reshape(nseg, seg).max(axis=1))) if nseg else float(env.max())
    if not ref > 0:
        return np.zeros(0, dtype=int)
    peaks, _ = _signal.find_peaks(env, height=_QRS_THRESHOLD * ref, distance=max(1, int(_QRS_REFRACTORY_S * fs)))
    h = int(0.075 * fs)
    r = [max(0, p - h) + int(np.argmax(np.abs(bp[max(0, p - h) : p + h + 1]))) for p in peaks]
    return np.unique(np.asarray(r, dtype=int))


def _windows(x0: np.ndarray, pos: np.ndarray, lags: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``x0`` at ``pos + lags`` (linear interpolation), NaN outside the record or past each beat's end."""
    t = pos[:, None] + lags[None, :]
    ok = (t >= 0) & (t <= x0.size - 1) & (t < ends[:, None])
    out = np.full(t.shape, np.nan)
    out[ok] = np.interp(t[ok], np.arange(x0.size), x0)
    return out


def _nanmedian(rows: np.ndarray) -> np.ndarray:
    """Median over beats, lag by lag; NaN where fewer than 3 beats reach."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN lags
        t = np.nanmedian(rows, axis=0)
    t[np.sum(np.isfinite(rows), axis=0) < 3] = np.nan
    return t


def _corr_rows(rows: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row with ``t`` over their common finite lags."""
    ok = np.isfinite(rows) & np.isfinite(t)[None, :]
    n = ok.sum(axis=1)
    a = np.where(ok, rows, 0.0)
    b = np.where(ok, t[None, :], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(ok, a - a.sum(axis=1, keepdims=True) / np.maximum(n, 1)[:, None], 0.0)
        b = np.where(ok, b - b.sum(axis=1, keepdims=True) / np.maximum(n, 1)[:, None], 0.0)
        c = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where((n >= 5) & np.isfinite(c), c, -1.0)


def _beat_model(x: np.ndarray, fs: float) -> _Beats | None:
    """Beat-synchronous model of an ECG stretch: None where fewer than 5 beats are found.

    Beats are detected (:func:`_qrs_peaks`), aligned to their median beat on the QRS to a
    fraction of a sample, and grouped by morphology (a beat unlike every template so far,
    e.g. a run of ventricular ectopics, starts another); each beat is then modelled by the
    template that fits it best, scaled to it. Between beats (a pause longer than the
    template) the model holds the median of the modelled samples.
    """
    n = x.size
    if fs < ECG_MIN_RATE or n < _MIN_BEATS * _QRS_REFRACTORY_S * fs:  # too slow for a QRS; no room for 5 beats
        return None
    x0 = x - x.mean()
    r = _qrs_peaks(x, fs)
    if r.size < _MIN_BEATS:
        return None
    rr = float(np.median(np.diff(r)))
    pre = int(round(min(_BEAT_PRE_RR * rr, _BEAT_PRE_S * fs)))
    length = int(round(min(_BEAT_LEN_RR * rr, _BEAT_LEN_MAX_S * fs)))
    if length - pre < 2 or pre < 1:
        return None
    lags = np.arange(-pre, length - pre, dtype=float)

    def ends(p: np.ndarray) -> np.ndarray:
        return np.r_[p[1:] - pre, n].astype(float)

    def lag_slice(before_s: float, after_s: float) -> slice:
        return slice(max(0, pre - int(before_s * fs)), min(length, pre + int(after_s * fs)))

    pos = r.astype(float)
    t0 = _nanmedian(_windows(x0, pos, lags, ends(pos)))
    # align on the QRS: cross-correlation over ±40 ms, refined by a parabola through its peak
    q = lag_slice(*_ALIGN_QRS_S)
    qt = t0[q] - np.nanmean(t0[q])
    if not np.all(np.isfinite(qt)):
        return None
    m = int(_ALIGN_S * fs)
    shifts = np.arange(-m, m + 1)
    starts = r[:, None] + shifts[None, :] - pre + q.start
    valid = (starts >= 0) & (starts + qt.size <= n)
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x0, qt.size)
    seg = win[np.clip(starts, 0, win.shape[0] - 1)]
    cs = np.where(valid, ((seg - seg.mean(axis=2, keepdims=True)) * qt).sum(axis=2), -np.inf)
    j = np.argmax(cs, axis=1)
    inner = (j > 0) & (j < 2 * m)
    jj = np.clip(j, 1, max(1, 2 * m - 1))
    c0, c1, c2 = (cs[np.arange(r.size), jj + d] for d in (-1, 0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        den = c0 - 2 * c1 + c2
        step = np.where(inner & np.isfinite(den) & (den < 0), 0.5 * (c0 - c2) / den, 0.0)
    frac = np.clip(np.nan_to_num(step), -0.5, 0.5)
    pos = np.sort(r + shifts[j] + frac)
    pos = pos[np.r_[True, np.diff(pos) > _QRS_REFRACTORY_S * fs * 0.8]]
    e = ends(pos)
    rows = _windows(x0, pos, lags, e)
    # morphology classes
    cq = lag_slice(*_CLASS_QRS_S)
    templates = [_nanmedian(rows)]
    best_corr = _corr_rows(rows[:, cq], templates[0][cq])
    while len(templates) < _MAX_TEMPLATES:
        unlike = best_corr < _CLASS_CORR
        if unlike.sum() < max(_MIN_BEATS, _MIN_CLASS_SHARE * pos.size):
            break
        t = _nanmedian(rows[unlike])
        if not np.isfinite(t[cq]).all():
            break
        templates.append(t)
        best_corr = np.maximum(best_corr, _corr_rows(rows[:, cq], t[cq]))
    # each beat: the best-fitting template, scaled to it; back onto the sample grid
    model = np.full(n, np.nan)
    for i, p in enumerate(pos):
        row = rows[i]
        fit, err = None, np.inf
        for t in templates:
            ok = np.isfinite(row) & np.isfinite(t)
            if ok.sum() < 5:
                continue
            mu = t[ok].mean()
            tc, xc = t[ok] - mu, row[ok] - row[ok].mean()
            a = float(np.clip(np.dot(xc, tc) / max(np.dot(tc, tc), 1e-300), *_SCALE_RANGE))
            f = a * (t - mu) + mu
            ef = float(np.mean((row[ok] - f[ok]) ** 2))
            if ef < err:
                fit, err = f, ef
        if fit is None:
            continue
        lo = max(int(np.ceil(p - pre)), 0)
        hi = min(int(np.floor(p - pre + length - 1)), int(np.ceil(e[i])) - 1, n - 1)
        if hi < lo:
            continue
        ti = np.arange(lo, hi + 1)
        ti = ti[ti < e[i]]
        ok = np.isfinite(fit)
        vals = np.interp(ti - p, lags[ok], fit[ok], left=np.nan, right=np.nan)
        model[ti] = np.where(np.isfinite(vals), vals, model[ti])
    covered = np.isfinite(model)
    if not covered.any():
        return None
    model[~covered] = np.median(model[covered])
    return _Beats(positions=pos, model=model, n_templates=len(templates),
                  qrs_corr=_corr_rows(rows[:, cq], templates[0][cq]), rr_s=rr / fs)


def _ecg_noise(x: np.ndarray, fs: float) -> tuple[float, float, int] | None:
    """``(σ, SNR dB, beats)`` of one ECG stretch from its beat model, or None (too few beats).

    Signal power is the variance of the beat model, noise power the variance of the
    residual ``x − model``: everything that does not repeat from beat to beat (white noise,
    muscle artefact, electrode motion, baseline wander) counts as noise."""
    beats = _beat_model(x, fs)
    if beats is None:
        return None
    res = (x - x.mean()) - beats.model
    p_noise, p_signal = float(np.var(res)), float(np.var(beats.model))
    with np.errstate(divide="ignore"):
        snr = 10.0 * np.log10(p_signal / p_noise) if p_noise > 0 else math.inf
    return math.sqrt(p_noise), float(snr), int(beats.positions.size)


def looks_like_ecg(x: ArrayLike, *, sampling_rate: float) -> bool:
    """Whether a channel's content looks like an ECG: regular QRS-like beats.

    True when at least 5 beats are found (:func:`_qrs_peaks`) at a median rate of
    30–220 bpm and the median correlation of their QRS complexes with the median beat is
    0.95 or more. Checked on up to three 60-s stretches (start, middle, end of the longest
    gap-free stretch); one is enough. A channel sampled under 100 Hz never looks like ECG.

    Parameters
    ----------
    x : array_like of float, shape (n_samples,)
    sampling_rate : float
        In Hz.
    """
    fs = positive_rate(sampling_rate)
    if fs < ECG_MIN_RATE:
        return False
    arr = _longest_finite(np.asarray(x, dtype=np.float64))
    seg = int(_STRETCH_S * fs)
    starts = [0] if arr.size <= seg else sorted({0, (arr.size - seg) // 2, arr.size - seg})
    for s in starts:
        part = arr[s : s + seg]
        if part.size < 5 * fs or np.ptp(part) == 0:
            continue
        beats = _beat_model(part, fs)
        if beats is None:
            continue
        rate = 60.0 / beats.rr_s
        if _ECG_RATE_BPM[0] <= rate <= _ECG_RATE_BPM[1] and float(np.median(beats.qrs_corr)) >= _ECG_LIKE_CORR:
            return True
    return False


def _longest_finite(x: np.ndarray) -> np.ndarray:
    """The longest run of finite samples of a 1-D array (the array itself when it has no gap)."""
    ok = np.isfinite(x)
    if ok.all():
        return x
    if not ok.any():
        return x[:0]
    edges = np.flatnonzero(np.diff(np.r_[0, ok.view(np.int8), 0]))
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return x[starts[k] : stops[k]]


# --------------------------------------------------------------------------- one estimate per file

#: A long record is estimated on this many stretches of ``_STRETCH_S`` seconds spread evenly
#: over it (the median of their figures): a 24-h Holter costs ten minutes' worth.
_STRETCHES, _STRETCH_S = 10, 60.0

#: MR images: an image of more voxels is measured on a regular subsample (every 2nd, 4th...
#: voxel along its longest axes) of at most this many voxels: 1.3-1.7 s for 256x256x160.
_MRI_MAX_VOXELS = 2**21
#: The object is found on the image smoothed by a Gaussian of this width (voxels), grown by
#: _AIR_MARGIN voxels (its blurred edge, ringing); so are zero-filled regions (exact zeros) and
#: the faces of axes of at least _AIR_FACE_MIN voxels.
_AIR_SMOOTH, _AIR_MARGIN, _AIR_FACE_MIN = 1.5, 2, 64
#: The air must fit a χ distribution: an effective number of coils of at most _MAX_COILS (dark
#: tissue with Gaussian noise fits χ with many "coils"), and a Kolmogorov–Smirnov distance of its
#: locally normalised magnitudes from that χ of at most _KS_TOLERANCE + _KS_SAMPLING / sqrt(n).
_MAX_COILS = 16.0
_KS_TOLERANCE, _KS_SAMPLING = 0.07, 1.63
#: ``like=`` compares spreads in the air at least _AIR_MARGIN voxels further from the object,
#: where that keeps at least this fraction of it.
_CORE_FRACTION = 0.1


@dataclass(frozen=True)
class NoiseEstimate:
    """The estimated noise of one channel of a record, or of one image (:func:`estimate_noise`).

    Attributes
    ----------
    name : str
        The channel's name, or ``"image"``.
    sigma : float or None
        Standard deviation of the noise in ``unit`` (images: intensity units); None where
        it is undefined (no valid sample, an image too small to measure).
    snr_db : float or None
        Signal-to-noise ratio in dB (signals only); ``inf`` where no noise is found, None
        where it is undefined (images, a constant channel, too few samples).
    how : str
        One line saying how the figures were obtained.
    unit : str
        The channel's unit (``""`` for images).
    method : str
        ``"ecg-beats"``, ``"wavelet"``, ``"chi-background"`` (MRI: the non-central χ noise
        of the air), ``"rician-wavelet"`` (MRI without usable air), ``"gaussian-wavelet"``,
        or ``"none"`` where nothing could be measured.
    """

    name: str
    sigma: float | None
    snr_db: float | None
    how: str
    unit: str = ""
    method: str = "none"
    #: What ``like=`` needs to measure another version of the same data in the same places.
    _where: Any = field(default=None, repr=False, compare=False)
    #: The χ fit of the air (MRI, ``"chi-background"``): what :func:`noise_floor` needs.
    _fit: Any = field(default=None, repr=False, compare=False)


def estimate_noise(
    obj: Any, *, channels: Sequence[int] | None = None, like: Sequence[NoiseEstimate] | None = None
) -> list[NoiseEstimate]:
    """Estimate the noise of a record (per channel) or an image: the one estimate biodae prints.

    ``biodae info``, ``biodae denoise`` ("noise sigma (est.) A -> B") and the batch report
    ("SNR in", "SNR out") all print what this function returns.

    **ECG channels** (by name, unit and content, :func:`biodae.channel_modality`) at
    100 Hz or more: beats are detected (band-pass 5–25 Hz, squared slope integrated over
    100 ms, Pan & Tompkins), aligned to a fraction of a sample and averaged into median
    beat templates (one per beat morphology seen at least 5 times and in 5% of the beats);
    each beat is modelled by its template, scaled to it. Signal power is the power of this
    beat model, noise the power of the residual: everything that does not repeat from beat
    to beat, white or not (muscle artefact, electrode motion, baseline wander). Beat-to-beat
    changes of the ECG itself (rare ectopic beats, T-wave alternans) count as noise, so a
    clean record reads 10–20 dB rather than infinite. Where fewer than 5 beats are found, and
    for **other channels** (EEG...), the white-noise level of the finest wavelet details
    (:func:`estimate_sigma`, :func:`estimate_snr_db`), which sees only broadband noise.

    A record with gaps is estimated on its longest gap-free stretch; one longer than ten
    minutes on ten 1-minute stretches spread evenly over it (the median of their figures).

    **Images**: MRI (NIfTI, MR DICOM), its first volume: the noise of the air around the
    object, as multi-coil scanners make it (non-central χ with 2N degrees of freedom; Rician
    for N = 1, as SENSE or a single coil give; spatially correlated or not, its level varying
    in space or not). The object is found on the image smoothed over 1.5 voxels (Otsu's
    threshold on the log-intensities, holes filled in 3-D and in every 2-D slice, grown by 2
    voxels, as are zero-filled regions and the faces of axes of 64 voxels or more, where a
    filter may roll off); what lies outside is the candidate air, on which
    :func:`estimate_sigma_mri` fits σ, its local level and N, the effective number of coils
    (estimated, not assumed: for correlated coils σ and N are the effective values of
    Aja-Fernández and Tristán-Vega, σ²·N being the noise power the air fixes). σ is the median
    local level over the air, the σ of each Gaussian channel behind the magnitude (the noise
    of the magnitude in bright tissue). The air is refused, and the finest wavelet details
    skipping zero-filled voxels used instead, where there is none, where it fits no χ, where
    the fit needs more than 16 coils (dark tissue with Gaussian noise looks like χ with many
    coils), or where its locally normalised magnitudes stray from the fitted χ by a
    Kolmogorov–Smirnov distance over 0.07 + 1.63/sqrt(n) (a smooth dark background, ghosts);
    ``how`` says which. An image over 2²¹ voxels is measured on a regular subsample (every
    2nd, 4th... voxel along its longest axes). With negative values, not a magnitude image:
    as other images. Other images (CT, X-ray, PNG, TIFF): the Gaussian σ of the finest
    wavelet details outside flat regions (:func:`estimate_sigma_image`), of the middle frame
    of a stack. NaN and infinite voxels are left out.

    Parameters
    ----------
    obj : Signal or Image
        What :func:`biodae.io.read` returned.
    channels : sequence of int, optional
        Signals: the channels to estimate (default: all).
    like : list of NoiseEstimate, optional
        The estimates of another version of ``obj`` (the input of a denoiser or a filter,
        of the same shape): measure ``obj`` by the same method and, for images, in the
        same voxels, so that before and after compare. An image whose air was measured is
        then given σ_before × (spread of its air / spread of the input's air), in air voxels
        the input's σ came from, 2 voxels further from the object where enough remain (the
        object's faint edge lies within the noise and counts as air): a denoised image's air
        is no longer χ distributed, and its mean does not fall with the noise.

    Returns
    -------
    list of NoiseEstimate
        One per channel asked for (signals), or one (images).

    References
    ----------
    .. [1] J. Pan, W. J. Tompkins, "A real-time QRS detection algorithm", IEEE Trans.
       Biomed. Eng. 32(3):230-236, 1985.
    .. [2] G. D. Clifford, F. Azuaje, P. E. McSharry (eds.), *Advanced Methods and Tools for
       ECG Data Analysis*, Artech House, 2006, ch. 3 and 6 (beat-synchronous averaging,
       ECG signal quality).
    .. [3] D. L. Donoho, I. M. Johnstone, Biometrika 81(3):425-455, 1994.
    .. [4] H. Gudbjartsson, S. Patz, Magn. Reson. Med. 34(6):910-914, 1995.
    .. [5] C. D. Constantinides, E. Atalar, E. R. McVeigh, Magn. Reson. Med. 38(5):852-857, 1997.
    .. [6] S. Aja-Fernández, A. Tristán-Vega, "Influence of noise correlation in multiple-coil
       statistical models with sum of squares reconstruction", Magn. Reson. Med.
       67(2):580-585, 2012.
    .. [7] C. G. Koay, E. Özarslan, P. J. Basser, J. Magn. Reson. 197(2):108-119, 2009 (PIESNO).
    """
    from ..io import Image, Signal

    if isinstance(obj, Signal):
        picked = list(range(obj.n_channels)) if channels is None else [int(c) for c in channels]
        if like is not None and len(like) != len(picked):
            raise InputError(f"like= holds {len(like)} estimates for {len(picked)} channels")
        if like is None:
            from .._modality import signal_modalities

            mods = signal_modalities(obj)
            methods = ["ecg-beats" if mods[c] == "ecg" else "wavelet" for c in picked]
        else:
            methods = [e.method for e in like]
        return [_signal_noise(obj.data[:, c], obj.sampling_rate, obj.channel_names[c], obj.units[c], m)
                for c, m in zip(picked, methods)]
    if isinstance(obj, Image):
        if like is not None and len(like) != 1:
            raise InputError(f"like= holds {len(like)} estimates; an image has one")
        return [_image_noise(obj, None if like is None else like[0])]
    raise InputError(f"cannot estimate the noise of a {type(obj).__name__}", "pass what biodae.io.read returned")


def _signal_noise(x: np.ndarray, fs: float, name: str, unit: str, method: str) -> NoiseEstimate:
    """One channel: the beat-template or wavelet estimate on the stretches of :func:`estimate_noise`."""
    x = np.asarray(x, dtype=np.float64)
    run = _longest_finite(x)
    where = ""
    if run.size < x.size:
        where = f"; on the longest gap-free stretch ({run.size / fs:.3g} s)"
    if run.size < 2:
        what = "no valid sample" if run.size == 0 else "a single valid sample"
        return NoiseEstimate(name, None, None, f"{what}: nothing to estimate", unit, "none")
    seg = int(round(_STRETCH_S * fs))
    if run.size <= _STRETCHES * seg:
        pieces = [run]
    else:
        pieces = [run[s : s + seg] for s in np.linspace(0, run.size - seg, _STRETCHES).astype(int)]
        where += f"; median of {_STRETCHES} {_STRETCH_S:g}-s stretches"
    if method == "ecg-beats" and fs >= ECG_MIN_RATE:
        found = [r for r in (_ecg_noise(p, fs) for p in pieces) if r is not None]
        if found:
            sigma = float(np.median([r[0] for r in found]))
            snr = float(np.median([r[1] for r in found]))
            beats = sum(r[2] for r in found)
            return NoiseEstimate(name, sigma, snr, f"ECG beat template ({beats} beats): noise is what does not "
                                 f"repeat from beat to beat{where}", unit, "ecg-beats")
        where += "; no regular beats found"
    elif method == "ecg-beats":
        where += f"; {fs:g} Hz is too slow for the beat template"
    sig = [float(estimate_sigma(p)) for p in pieces]
    snrs = []
    for p in pieces:
        try:
            snrs.append(float(estimate_snr_db(p, sampling_rate=fs)))
        except InputError:  # too short for the drift high-pass
            pass
    snrs = [v for v in snrs if not math.isnan(v)]  # NaN: a constant stretch
    return NoiseEstimate(name, float(np.median(sig)), float(np.median(snrs)) if snrs else None,
                         f"finest wavelet details (broadband noise only){where}", unit, "wavelet")


def _subsample(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Strides that bring an image of ``shape`` to at most ``_MRI_MAX_VOXELS`` voxels, halving
    its longest strided axis at a time."""
    steps = [1] * len(shape)

    def size() -> int:
        return math.prod(-(-n // k) for n, k in zip(shape, steps))

    while size() > _MRI_MAX_VOXELS:
        ax = max(range(len(shape)), key=lambda i: -(-shape[i] // steps[i]))
        steps[ax] *= 2
    return tuple(slice(None, None, k) for k in steps)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Holes filled in n-D and, for a volume, in every 2-D slice along each axis (a dark
    region inside the object that reaches a face of the volume is enclosed in its slices).

    What ``ndimage.binary_fill_holes`` gives in n-D and slice by slice, from one labelling per
    axis rather than a flood fill per slice (0.17 s -> 0.04 s on 128 x 128 x 80)."""
    if mask.size == 0:
        return mask.copy()
    out = ~_open_background(mask, range(mask.ndim))
    if mask.ndim == 3:
        for ax in range(3):
            if mask.shape[ax] >= 3:
                out |= ~_open_background(mask, [a for a in range(3) if a != ax])
    return out


def _open_background(mask: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """The voxels outside ``mask`` that reach a face along ``axes`` through such voxels, stepping
    along ``axes`` only (face neighbours): with one axis left out, slice by slice along it."""
    from scipy import ndimage

    structure = np.zeros((3,) * mask.ndim, dtype=bool)
    for a in axes:
        structure[tuple(slice(None) if b == a else 1 for b in range(mask.ndim))] = True
    labels, n = ndimage.label(~mask, structure=structure)
    open_ = np.zeros(n + 1, dtype=bool)
    for a in axes:
        open_[labels.take(0, axis=a)] = True
        open_[labels.take(-1, axis=a)] = True
    open_[0] = False
    return open_[labels]


def _air_candidates(arr: np.ndarray) -> np.ndarray:
    """The voxels outside the object (see :func:`estimate_noise`): non-zero, away from the
    object's edge and from zero-filled regions."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    pos = arr > 0
    if np.count_nonzero(pos) < 2:
        return np.zeros(arr.shape, dtype=bool)
    weight = ndimage.gaussian_filter(pos.astype(np.float32), _AIR_SMOOTH)
    smooth = ndimage.gaussian_filter(np.where(pos, arr, 0.0).astype(np.float32), _AIR_SMOOTH)
    smooth = np.where(pos, smooth / np.maximum(weight, 1e-6), 0.0)  # zeros do not pull it down
    logs = np.log(smooth[pos & (smooth > 0)])
    if logs.size < 2 or logs.min() == logs.max():
        return np.zeros(arr.shape, dtype=bool)
    obj = _fill_holes(smooth > math.exp(threshold_otsu(logs)))
    obj |= weight < 0.5  # zero-filled regions (an isolated zero in noisy air is not one)
    obj = ndimage.binary_dilation(obj, iterations=_AIR_MARGIN)
    for ax, n in enumerate(arr.shape):  # the faces of the field of view: a filter's roll-off
        if n >= _AIR_FACE_MIN:
            obj[(slice(None),) * ax + (slice(0, _AIR_MARGIN),)] = True
            obj[(slice(None),) * ax + (slice(n - _AIR_MARGIN, n),)] = True
    return pos & ~obj


def _chi_ks(values: np.ndarray, level: np.ndarray, coils: float) -> float:
    """Kolmogorov–Smirnov distance of ``values / level`` from the unit χ with 2·coils degrees
    of freedom truncated at its 99% quantile (as :func:`estimate_sigma_mri` keeps the air);
    integer data by the randomised probability integral transform (seeded)."""
    from scipy import special

    from ._mri import _BG_QUANTILE, _TruncatedChi

    dist = _TruncatedChi(coils)

    def cdf(x: np.ndarray) -> np.ndarray:
        return np.minimum(special.gammainc(dist.n, 0.5 * np.maximum(x, 0.0) ** 2) / _BG_QUANTILE, 1.0)

    if np.all(values == np.round(values)):  # quantised: anywhere in the step is as likely
        lo, hi = cdf((values - 0.5) / level), cdf((values + 0.5) / level)
        u = lo + np.random.default_rng(0).random(values.size) * (hi - lo)
    else:
        u = cdf(values / level)
    u = np.sort(u)
    k = np.arange(1, u.size + 1) / u.size
    return float(max(np.max(k - u), np.max(u - (k - 1.0 / u.size))))


class _AirFit(NamedTuple):
    """The χ noise of the air of an MR image (:func:`_mri_air_noise`)."""

    sigma: float
    coils: float
    background: np.ndarray  # bool, the shape of the subsample: the voxels σ comes from
    core: np.ndarray  # the same, away from the object: where ``like=`` compares spreads
    where: tuple[slice, ...]  # the subsample
    sigma_map: np.ndarray  # the local level on the subsample (estimate_sigma_mri's map)
    air: np.ndarray  # bool, the subsample's voxels outside the object


def _air_subsample(arr: np.ndarray, where: tuple[slice, ...]) -> np.ndarray:
    """The voxels of ``arr`` the MRI air fit reads (float64; non-finite ones as 0)."""
    sub = arr[where].astype(np.float64)
    sub[~np.isfinite(sub)] = 0.0
    return sub


def _mri_air_noise(arr: np.ndarray) -> tuple[_AirFit | None, str]:
    """``(fit, "")``, or ``(None, why there is no usable air)``: the MRI rule of :func:`estimate_noise`."""
    from scipy import ndimage

    from ._mri import estimate_sigma_mri

    if sum(n > 1 for n in arr.shape) < 2:
        return None, "not an image"
    where = _subsample(arr.shape)
    sub = _air_subsample(arr, where)
    air = _air_candidates(sub)
    if np.count_nonzero(air) < max(_MIN_BACKGROUND, _MIN_BACKGROUND_FRACTION * np.count_nonzero(sub > 0)):
        return None, "none around the object"
    try:
        fit = estimate_sigma_mri(sub, mask=air)
    except InputError:
        return None, "the darkest voxels are not χ distributed"
    if fit.coils > _MAX_COILS:
        return None, f"the darkest voxels fit χ only with N≈{fit.coils:.0f} coils: dark tissue"
    bg = fit.background
    ks = _chi_ks(sub[bg], fit.sigma_map[bg], fit.coils)
    if ks > _KS_TOLERANCE + _KS_SAMPLING / math.sqrt(np.count_nonzero(bg)):
        return None, f"the air does not look like χ noise, KS distance {ks:.2f}"
    # The object's faint edge lies within the noise and counts as air: an output is compared
    # with the input further out, where a perfect denoiser leaves nothing.
    core = bg & ndimage.binary_erosion(air, iterations=_AIR_MARGIN)
    if np.count_nonzero(core) < max(_MIN_BACKGROUND, _CORE_FRACTION * np.count_nonzero(bg)):
        core = bg
    return _AirFit(fit.sigma, fit.coils, bg, core, where, fit.sigma_map, air), ""


def _image_noise(image: Any, like: NoiseEstimate | None) -> NoiseEstimate:
    """The image rule of :func:`estimate_noise`."""
    data = np.asarray(image.data)
    mri = image.modality == "mri"
    if mri:  # the first volume of a series
        arr = data[..., 0] if data.ndim == 4 else data
        part = ", first volume" if data.ndim == 4 else ""
    else:  # the middle frame of a stack
        arr = data[data.shape[0] // 2] if data.ndim >= 3 else data
        part = ", middle frame" if data.ndim >= 3 else ""
    # float64 only where the arithmetic happens (the air's subsample, the wavelet details): a
    # float64 copy of a whole volume costs more than the estimate (0.2 s for 256 x 256 x 160)
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.any():
        return NoiseEstimate("image", None, None, "no finite voxel: nothing to estimate", "", "none")
    if all(n < 2 for n in arr.shape):
        return NoiseEstimate("image", None, None, f"an image of {' x '.join(map(str, arr.shape))} "
                             "is too small to estimate noise from", "", "none")
    method, fit, why = (like.method, None, "") if like is not None else (None, None, "")
    if method is None:
        if mri and float(np.min(arr, where=finite, initial=np.inf)) >= 0:
            fit, why = _mri_air_noise(arr)
            method = "chi-background" if fit is not None else "rician-wavelet"
        else:
            method = "gaussian-wavelet"
    if method == "chi-background":
        if fit is not None:
            step = [sl.step for sl in fit.where]
            sampled = "" if max(step) == 1 else f", sampled every {' x '.join(map(str, step))} voxels"
            return NoiseEstimate("image", fit.sigma, None, f"non-central chi, N≈{fit.coils:.1f} coils, from "
                                 f"{np.count_nonzero(fit.background):,} air voxels{sampled}{part}", "", method,
                                 (fit.where, fit.core, float(np.std(arr[fit.where][fit.core].astype(np.float64)))),
                                 fit)
        where, core, spread = like._where  # no fit: the method came from like=
        values = arr[where][core].astype(np.float64)
        values = values[np.isfinite(values)]
        ratio = float(np.std(values)) / spread if spread > 0 and values.size else math.nan
        return NoiseEstimate("image", like.sigma * ratio, None, f"{like.how}, scaled by the spread of the "
                             "input's air voxels", "", method, like._where)
    if method in ("rician-wavelet", "gaussian-wavelet"):
        skip = "zero" if method == "rician-wavelet" else "flat"
        detail, keep = _haar_blocks(arr.astype(np.float64, copy=False), skip=skip)
        if like is not None:
            keep = like._where
        values = detail[keep]
        sigma = float(np.median(values) / _MAD_TO_SIGMA) if values.size else 0.0
        if like is not None:
            how = like.how
        elif skip == "zero":
            how = f"no usable air ({why}): finest wavelet details, zero-filled voxels skipped{part}"
        else:
            how = f"Gaussian, wavelet MAD outside flat regions{part}"
        return NoiseEstimate("image", sigma, None, how, "", method, keep)
    return NoiseEstimate("image", None, None, "nothing to estimate", "", "none")


#: Below this N the noise floor of the other coils is too small to remove (2(N - 1)σ² < 0.1σ²).
_FLOOR_MIN_COILS = 1.05


def noise_floor(estimate: NoiseEstimate, data: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(N, level, air)`` for :func:`biodae.noise.remove_noise_floor` on the MR image ``data``
    that ``estimate`` measured (a 2-D image, a 3-D volume, or a 4-D series: its first volume),
    or None when there is nothing to remove: no χ fit of the air, or N below 1.05.

    The level is :func:`biodae.noise.level_in_object` on the estimate's subsample (the air's
    map, and the level measured in the object's bright tissue where it is higher), brought
    to the full grid by linear interpolation (it is smooth); float32, the shape of one volume.
    ``air`` is the subsample's air (outside the object), brought to the full grid by nearest
    neighbour.
    """
    from scipy import ndimage

    from ._mri import level_in_object

    fit = estimate._fit
    if fit is None or fit.coils < _FLOOR_MIN_COILS:
        return None
    arr = data[..., 0] if data.ndim == 4 else data  # what _image_noise measured
    level = level_in_object(_air_subsample(arr, fit.where), fit.sigma_map, fit.air)
    full = arr.shape
    air = fit.air
    if level.shape != full:
        zoom = [n / m for n, m in zip(full, level.shape)]
        level = ndimage.zoom(level, zoom, order=1, mode="nearest", grid_mode=True)
        air = ndimage.zoom(air, zoom, order=0, mode="nearest", grid_mode=True)
    return float(fit.coils), level.astype(np.float32), air
