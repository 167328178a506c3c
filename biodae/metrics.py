"""Quality metrics for denoised signals and images, as the benchmarks define them.

Every function compares a clean reference with an estimate of the same shape.
Signal metrics take ``axis``: ``None`` (default) pools the whole array into one number;
an int or tuple reduces over those axes and returns one value per remaining index, e.g.
``ssd(y, y_hat, axis=-1)`` on ``(n_beats, 512)`` beats gives ``(n_beats,)`` values —
the per-beat protocol of DeepFilter, whose tables report the mean (std) over beats.

Scalars are returned as Python floats, per-window results as float64 arrays. Shape
mismatches and empty inputs raise :class:`biodae.InputError` (a ``ValueError``).
Definitions follow ``docs/ANCHORS.md``.
"""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from ._errors import InputError

__all__ = [
    "snr_db",
    "snr_improvement_db",
    "rmse",
    "prd",
    "prd_deepfilter",
    "ssd",
    "mad",
    "cosine_similarity",
    "pearson_cc",
    "rrmse_temporal",
    "rrmse_spectral",
    "psnr",
    "ssim",
]

Axis = Union[int, tuple[int, ...], None]


def _arrays(*named: tuple[str, ArrayLike]) -> list[np.ndarray]:
    """float64 arrays, all of the same non-empty shape."""
    out = []
    for name, value in named:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
        out.append(arr.astype(np.float64, copy=False))
    shapes = [a.shape for a in out]
    if any(s != shapes[0] for s in shapes):
        listing = ", ".join(f"{n} {s}" for (n, _), s in zip(named, shapes))
        raise InputError(f"shapes differ: {listing}", "compare arrays of the same shape")
    if out[0].size == 0:
        raise InputError(f"{named[0][0]} is empty (shape {shapes[0]})")
    return out


def _result(value: np.ndarray | np.floating) -> float | np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _check_axis(axis: Axis, ndim: int) -> Axis:
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise InputError(f"axis {axis!r} is out of range for arrays with {ndim} dimension(s)")
    return axis


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


def snr_db(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Signal-to-noise ratio of an estimate, in dB.

    ``SNR = 10·log10(Σ y² / Σ (y − ŷ)²)`` with ``y`` the clean signal and ``ŷ`` the
    estimate (noisy input or denoised output); no mean is removed.

    Parameters
    ----------
    clean : array_like of float
        Clean reference ``y``.
    estimate : array_like of float, same shape
        Noisy or denoised signal ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to sum over; ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64
        SNR in dB; ``+inf`` where ``ŷ == y`` exactly.

    References
    ----------
    .. [1] S. K. Mitra, "Digital Signal Processing: A Computer-Based Approach", 4th ed.,
       McGraw-Hill, 2011 (SNR as an energy ratio).

    Examples
    --------
    >>> snr_db([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])  # 10·log10(14 / 1)
    11.46128035678238
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    ratio = _ratio(np.sum(y**2, axis=ax), np.sum((y - yh) ** 2, axis=ax))
    with np.errstate(divide="ignore"):
        return _result(10.0 * np.log10(ratio))


def snr_improvement_db(
    clean: ArrayLike, noisy: ArrayLike, denoised: ArrayLike, *, axis: Axis = None
) -> float | np.ndarray:
    """SNR improvement of a denoiser, in dB: ``SNR(denoised) − SNR(noisy)``.

    Equals ``10·log10(Σ (y − x)² / Σ (y − ŷ)²)`` with ``x`` the noisy input.

    Parameters
    ----------
    clean : array_like of float
        Clean reference ``y``.
    noisy : array_like of float, same shape
        Denoiser input ``x``.
    denoised : array_like of float, same shape
        Denoiser output ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to sum over; ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64
        Improvement in dB (positive is better).

    References
    ----------
    .. [1] P. Singh, G. Pradhan, "A new ECG denoising framework using generative
       adversarial network", IEEE/ACM Trans. Comput. Biol. Bioinform. 18(2):759-764, 2021.
    """
    y, x, yh = _arrays(("clean", clean), ("noisy", noisy), ("denoised", denoised))
    ax = _check_axis(axis, y.ndim)
    ratio = _ratio(np.sum((y - x) ** 2, axis=ax), np.sum((y - yh) ** 2, axis=ax))
    with np.errstate(divide="ignore"):
        return _result(10.0 * np.log10(ratio))


def rmse(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Root-mean-square error ``sqrt(mean((y − ŷ)²))``, in the signal's units.

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to average over; ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64

    References
    ----------
    .. [1] C. J. Willmott, K. Matsuura, "Advantages of the mean absolute error (MAE) over
       the root mean square error (RMSE)", Climate Research 30:79-82, 2005.

    Examples
    --------
    >>> round(rmse([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) ** 2, 12)  # 1/3
    0.333333333333
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    return _result(np.sqrt(np.mean((y - yh) ** 2, axis=ax)))


def prd(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Standard percentage root-mean-square difference, in %.

    ``PRD = 100·sqrt(Σ (y − ŷ)² / Σ (y − ȳ)²)`` with ``ȳ`` the mean of the clean signal
    over the same ``axis`` (per beat when ``axis=-1``).

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to sum over; ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64
        PRD in %; ``inf`` (or NaN) where the clean signal is constant.

    See Also
    --------
    prd_deepfilter : the non-standard variant DeepFilter's tables report.

    References
    ----------
    .. [1] Y. Zigel, A. Cohen, A. Katz, "The weighted diagnostic distortion (WDD) measure
       for ECG signal compression", IEEE Trans. Biomed. Eng. 47(11):1422-1430, 2000.
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    ybar = np.mean(y, axis=ax, keepdims=True)
    ratio = _ratio(np.sum((y - yh) ** 2, axis=ax), np.sum((y - ybar) ** 2, axis=ax))
    return _result(100.0 * np.sqrt(ratio))


def prd_deepfilter(
    clean: ArrayLike, denoised: ArrayLike, *, mean_all: float, axis: Axis = None
) -> float | np.ndarray:
    """PRD as DeepFilter's code computes it (non-standard), in %.

    ``PRD_DF = 100·sqrt(Σ (ŷ − y)² / Σ (ŷ − mean_all)²)``: the denominator uses the
    *estimate* ``ŷ`` (not the clean ``y``) minus ``mean_all``, the mean of the clean
    signal over the **whole test array**, not per beat. This is not the standard PRD
    (:func:`prd`); use it only to compare with DeepFilter's published tables, and report
    the standard one beside it.

    Parameters
    ----------
    clean : array_like of float
        Clean beats ``y``, e.g. shape ``(n_beats, 512)``.
    denoised : array_like of float, same shape
        Denoised beats ``ŷ``.
    mean_all : float
        Mean of the clean signal over the whole test set, ``float(np.mean(y_test))``
        (pass the same value for every batch of one test set).
    axis : int or tuple of int or None, optional
        Axes to sum over: ``-1`` for DeepFilter's per-beat values; ``None`` (default)
        pools everything.

    Returns
    -------
    float or ndarray of float64
        PRD in %.

    References
    ----------
    .. [1] F. P. Romero, D. C. Piñol, C. R. Vázquez-Seisdedos, "DeepFilter: an ECG
       baseline wander removal filter using deep learning techniques", Biomed. Signal
       Process. Control 70:102992, 2021; code ``fperdigon/DeepFilter``,
       ``utils/metrics.py`` (``PRD``).

    Examples
    --------
    >>> y = np.array([[0.0, 1.0, 0.0, -1.0]]); yh = y + 0.1
    >>> prd_deepfilter(y, yh, mean_all=float(y.mean()), axis=-1).round(3)
    array([14.003])
    """
    y, yh = _arrays(("clean", clean), ("denoised", denoised))
    ax = _check_axis(axis, y.ndim)
    m = float(mean_all)
    if not np.isfinite(m):
        raise InputError(f"mean_all must be finite, got {mean_all!r}")
    ratio = _ratio(np.sum((yh - y) ** 2, axis=ax), np.sum((yh - m) ** 2, axis=ax))
    return _result(100.0 * np.sqrt(ratio))


def ssd(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Sum of squared differences ``Σ (y − ŷ)²`` (units², e.g. mV²).

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to sum over (``-1`` per beat); ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64

    References
    ----------
    .. [1] F. P. Romero et al., Biomed. Signal Process. Control 70:102992, 2021
       (``utils/metrics.py``, ``SSD``).

    Examples
    --------
    >>> ssd([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    1.0
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    return _result(np.sum((y - yh) ** 2, axis=ax))


def mad(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Maximum absolute difference ``max |y − ŷ|`` (DeepFilter's "MAD"; not the median
    absolute deviation), in the signal's units.

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to reduce (``-1`` per beat); ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64

    References
    ----------
    .. [1] F. P. Romero et al., Biomed. Signal Process. Control 70:102992, 2021
       (``utils/metrics.py``, ``MAD``).

    Examples
    --------
    >>> mad([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    1.0
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    return _result(np.max(np.abs(y - yh), axis=ax))


def cosine_similarity(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Cosine similarity ``Σ y·ŷ / (‖y‖·‖ŷ‖)``, without removing the mean.

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes to sum over (``-1`` per beat, as DeepFilter); ``None`` (default) treats the
        whole array as one vector.

    Returns
    -------
    float or ndarray of float64
        In [−1, 1]. Where either vector is all zero the value is 0, as scikit-learn's
        ``cosine_similarity`` (which DeepFilter used) returns.

    References
    ----------
    .. [1] F. P. Romero et al., Biomed. Signal Process. Control 70:102992, 2021.

    Examples
    --------
    >>> cosine_similarity([1.0, 0.0], [0.0, 2.0])
    0.0
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    norms = np.sqrt(np.sum(y**2, axis=ax)) * np.sqrt(np.sum(yh**2, axis=ax))
    dot = np.sum(y * yh, axis=ax)
    return _result(np.where(norms > 0, _ratio(dot, np.where(norms > 0, norms, 1.0)), 0.0))


def pearson_cc(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Pearson correlation coefficient (means removed over ``axis``).

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Reference ``y`` and estimate ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes over which to correlate (``-1`` per epoch, as EEGdenoiseNet); ``None``
        (default) pools everything.

    Returns
    -------
    float or ndarray of float64
        In [−1, 1]; NaN where either input is constant.

    References
    ----------
    .. [1] H. Zhang et al., "EEGdenoiseNet: a benchmark dataset for deep learning
       solutions of EEG denoising", J. Neural Eng. 18:056057, 2021 (CC).
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    dy = y - np.mean(y, axis=ax, keepdims=True)
    dh = yh - np.mean(yh, axis=ax, keepdims=True)
    num = np.sum(dy * dh, axis=ax)
    den = np.sqrt(np.sum(dy**2, axis=ax) * np.sum(dh**2, axis=ax))
    return _result(np.clip(_ratio(num, den), -1.0, 1.0))


def rrmse_temporal(clean: ArrayLike, estimate: ArrayLike, *, axis: Axis = None) -> float | np.ndarray:
    """Relative RMSE in time, ``RRMSE_t = RMS(ŷ − y) / RMS(y)`` (EEGdenoiseNet).

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Clean EEG ``y`` and denoised EEG ``ŷ``.
    axis : int or tuple of int or None, optional
        Axes the RMS is taken over (``-1`` per epoch); ``None`` (default) pools everything.

    Returns
    -------
    float or ndarray of float64
        Dimensionless (0 is perfect).

    References
    ----------
    .. [1] H. Zhang et al., J. Neural Eng. 18:056057, 2021.
    """
    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    ax = _check_axis(axis, y.ndim)
    return _result(np.sqrt(_ratio(np.mean((yh - y) ** 2, axis=ax), np.mean(y**2, axis=ax))))


def rrmse_spectral(
    clean: ArrayLike,
    estimate: ArrayLike,
    *,
    sampling_rate: float,
    axis: int = -1,
    nperseg: int | None = None,
) -> float | np.ndarray:
    """Relative RMSE of the power spectral density, ``RMS(P(ŷ) − P(y)) / RMS(P(y))``.

    PSDs by Welch's method, ``scipy.signal.welch`` with a Hann window, ``nperseg``
    samples per segment (default: one second, ``round(sampling_rate)``, capped at the
    signal length), 50% overlap, mean removed per segment (``detrend="constant"``),
    ``scaling="density"``; the RMS runs over all Welch frequency bins, 0 to Nyquist.

    Parameters
    ----------
    clean, estimate : array_like of float, same shape
        Clean EEG ``y`` and denoised EEG ``ŷ``, time along ``axis``.
    sampling_rate : float
        Sampling rate in Hz (sets the default segment length).
    axis : int, optional
        Time axis (default −1); the result has one value per remaining index, e.g.
        ``(n_epochs,)`` for ``(n_epochs, n_samples)`` input.
    nperseg : int, optional
        Welch segment length in samples.

    Returns
    -------
    float or ndarray of float64
        Dimensionless (0 is perfect).

    References
    ----------
    .. [1] H. Zhang et al., J. Neural Eng. 18:056057, 2021 (RRMSE_s).
    .. [2] P. Welch, "The use of fast Fourier transform for the estimation of power
       spectra", IEEE Trans. Audio Electroacoust. 15(2):70-73, 1967.
    """
    from scipy.signal import welch

    y, yh = _arrays(("clean", clean), ("estimate", estimate))
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise InputError(f"axis must be a single int (the time axis), got {axis!r}")
    _check_axis(axis, y.ndim)
    fs = float(sampling_rate)
    if not (np.isfinite(fs) and fs > 0):
        raise InputError(f"sampling_rate must be a positive number of Hz, got {sampling_rate!r}")
    n = y.shape[axis]
    seg = min(n, max(1, int(round(fs)))) if nperseg is None else int(nperseg)
    if not 1 <= seg <= n:
        raise InputError(f"nperseg must lie in [1, {n}] (the signal length), got {nperseg!r}")
    kwargs = dict(fs=fs, window="hann", nperseg=seg, noverlap=seg // 2, detrend="constant", scaling="density")
    _, p_clean = welch(y, axis=axis, **kwargs)
    _, p_est = welch(yh, axis=axis, **kwargs)
    num = np.sqrt(np.mean((p_est - p_clean) ** 2, axis=axis))
    den = np.sqrt(np.mean(p_clean**2, axis=axis))
    return _result(_ratio(num, den))


def _data_range(data_range: object) -> float:
    try:
        dr = float(data_range)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"data_range must be a number, got {data_range!r}") from None
    if not (np.isfinite(dr) and dr > 0):
        raise InputError(
            f"data_range must be a positive number, got {data_range!r}",
            "state the intensity range, e.g. 1.0 for [0, 1] images or 255 for uint8",
        )
    return dr


def _mask(mask: ArrayLike | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != shape:
        raise InputError(f"mask shape {m.shape} differs from the image shape {shape}")
    m = m.astype(bool)
    if not m.any():
        raise InputError("mask is empty (no True pixel)", "pass a mask that covers the foreground")
    return m


def psnr(reference: ArrayLike, test: ArrayLike, *, data_range: float, mask: ArrayLike | None = None) -> float:
    """Peak signal-to-noise ratio ``10·log10(data_range² / MSE)``, in dB.

    Parameters
    ----------
    reference : array_like of float, any shape
        Clean image.
    test : array_like of float, same shape
        Noisy or denoised image.
    data_range : float
        Intensity range of the images (max − min possible), required: PSNR depends on it
        and a guessed default would change the figure. Report it with the result.
    mask : array_like of bool, same shape, optional
        Compute the MSE inside the mask only (e.g. the brain).

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images.

    References
    ----------
    .. [1] Q. Huynh-Thu, M. Ghanbari, "Scope of validity of PSNR in image/video quality
       assessment", Electronics Letters 44(13):800-801, 2008.

    Examples
    --------
    >>> psnr(np.zeros((4, 4)), np.full((4, 4), 0.1), data_range=1.0)  # MSE 0.01
    20.0
    """
    ref, tst = _arrays(("reference", reference), ("test", test))
    dr = _data_range(data_range)
    m = _mask(mask, ref.shape)
    err = (ref - tst) ** 2
    mse = float(np.mean(err if m is None else err[m]))
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(dr**2 / mse))


def ssim(
    reference: ArrayLike,
    test: ArrayLike,
    *,
    data_range: float,
    mask: ArrayLike | None = None,
    win_size: int | None = None,
    gaussian_weights: bool = False,
) -> float:
    """Structural similarity (SSIM) of a 2-D image or 3-D volume, whole or inside a mask.

    Computed by ``skimage.metrics.structural_similarity(..., full=True)``. Without a
    mask the result is scikit-image's mean SSIM (the SSIM map averaged after cropping
    the ``(win_size − 1) / 2`` border where the windows run off the image). With a mask
    it is the mean of the same SSIM map over the mask's pixels inside that border, so an
    all-True mask gives exactly the unmasked value.

    Parameters
    ----------
    reference : array_like of float, shape (rows, cols) or (x, y, z)
        Clean image; every side must be at least ``win_size``.
    test : array_like of float, same shape
        Noisy or denoised image.
    data_range : float
        Intensity range of the images (max − min possible), required; report it.
    mask : array_like of bool, same shape, optional
        Foreground mask (e.g. the brain).
    win_size : int, optional
        Odd window side; default 7 (uniform window) or 11 (Gaussian window).
    gaussian_weights : bool, optional
        False (default): scikit-image's default uniform 7×7 window with sample
        covariance. True: Wang et al.'s Gaussian window, σ = 1.5, population covariance.

    Returns
    -------
    float
        SSIM, 1 for identical images.

    Raises
    ------
    InputError
        Shapes differ, not 2-D/3-D, empty mask or a mask lying only in the border.

    References
    ----------
    .. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
       assessment: from error visibility to structural similarity", IEEE Trans. Image
       Process. 13(4):600-612, 2004.
    .. [2] S. van der Walt et al., "scikit-image: image processing in Python", PeerJ
       2:e453, 2014.
    """
    from skimage.metrics import structural_similarity

    ref, tst = _arrays(("reference", reference), ("test", test))
    if ref.ndim not in (2, 3):
        raise InputError(f"ssim takes 2-D images or 3-D volumes, got shape {ref.shape}", "compute it per slice")
    dr = _data_range(data_range)
    m = _mask(mask, ref.shape)
    if gaussian_weights:
        kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        win = 2 * int(3.5 * 1.5 + 0.5) + 1 if win_size is None else int(win_size)
    else:
        kwargs = dict(gaussian_weights=False)
        win = 7 if win_size is None else int(win_size)
    if win < 3 or win % 2 == 0 or min(ref.shape) < win:
        raise InputError(
            f"win_size must be odd, >= 3 and at most the smallest side of {ref.shape}, got {win}",
            "pass a smaller odd win_size for small images",
        )
    mssim, smap = structural_similarity(ref, tst, data_range=dr, full=True, win_size=win, **kwargs)
    if m is None:
        return float(mssim)
    pad = (win - 1) // 2
    inner = np.zeros(ref.shape, dtype=bool)
    inner[tuple(slice(pad, n - pad) for n in ref.shape)] = True
    valid = m & inner
    if not valid.any():
        raise InputError(
            f"the mask lies entirely in the {pad}-pixel border where SSIM windows run off the image",
            "use a larger mask or a smaller win_size",
        )
    return float(np.mean(smap[valid]))
