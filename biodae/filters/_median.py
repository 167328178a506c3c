"""Median filters: de Chazal ECG baseline removal, short signal medians, image medians."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from biodae._errors import InputError
from biodae.filters._common import (
    as_image,
    as_signal,
    check_axes,
    check_sampling_rate,
    odd_samples,
    reject_params,
    restore_signal,
)

__all__ = ["median"]


def _median_along_time(x2d: np.ndarray, n: int) -> np.ndarray:
    # Column by column: scipy's 1D median path is some 40x faster than a (n, 1) footprint.
    out = np.empty_like(x2d)
    for j in range(x2d.shape[1]):
        out[:, j] = ndimage.median_filter(x2d[:, j], size=n, mode="reflect")
    return out


def median_signal(
    x2d: np.ndarray,
    fs: float,
    *,
    window_s: float | None = None,
    baseline: bool = False,
    baseline_windows_s: Sequence[float] = (0.2, 0.6),
) -> np.ndarray:
    """Median-filter a validated ``(n_samples, n_channels)`` float64 array (internal)."""
    if not isinstance(baseline, (bool, np.bool_)):
        raise InputError(f"baseline must be True or False, got {baseline!r}")
    if not baseline and window_s is None:
        raise InputError(
            "median has nothing to do: neither baseline=True nor window_s was given",
            "pass baseline=True (ECG baseline removal) and/or window_s=<seconds>",
        )
    y = x2d
    if baseline:
        try:
            w1, w2 = baseline_windows_s
        except (TypeError, ValueError):
            raise InputError(
                f"baseline_windows_s must be two durations in seconds, got {baseline_windows_s!r}",
                "the de Chazal values are (0.2, 0.6)",
            ) from None
        n1 = odd_samples(w1, fs, "baseline_windows_s[0]")
        n2 = odd_samples(w2, fs, "baseline_windows_s[1]")
        base = _median_along_time(_median_along_time(x2d, n1), n2)
        y = x2d - base
    if window_s is not None:
        y = _median_along_time(y, odd_samples(window_s, fs, "window_s"))
    return y


def median_image(
    img: np.ndarray,
    *,
    size: int | Sequence[int] | None = None,
    axes: int | Sequence[int] | None = None,
) -> np.ndarray:
    """Median-filter a validated float64 image (internal)."""
    ax = check_axes(axes, img.ndim)
    sizes = (3,) * len(ax) if size is None else size
    if isinstance(sizes, (int, np.integer)):
        sizes = (int(sizes),) * len(ax)
    sizes = tuple(sizes)  # type: ignore[arg-type]
    if len(sizes) != len(ax):
        raise InputError(f"size={size!r} has {len(sizes)} entries for {len(ax)} filtered axes", "give one size per axis in axes")
    for s in sizes:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 or s % 2 == 0:
            raise InputError(f"size={size!r} must hold odd positive integers (pixels)", "use 3 (3x3) or 5 (5x5)")
    footprint = [1] * img.ndim
    for a, s in zip(ax, sizes):
        footprint[a] = int(s)
    return ndimage.median_filter(img, size=tuple(footprint), mode="reflect")


def median(
    x: np.ndarray,
    *,
    sampling_rate: float | None = None,
    window_s: float | None = None,
    size: int | Sequence[int] | None = None,
    baseline: bool = False,
    baseline_windows_s: Sequence[float] = (0.2, 0.6),
    axes: int | Sequence[int] | None = None,
) -> np.ndarray:
    """Median filter for signals (baseline removal and/or smoothing) and images.

    With ``sampling_rate`` the input is a signal; without it, an image or volume.

    For **signals**, ``baseline=True`` estimates the baseline with two cascaded
    median filters of 200 ms and 600 ms (de Chazal et al. 2004) and subtracts it:
    the 200 ms median removes QRS complexes and P waves, the 600 ms median removes
    T waves, and what is left is the wander. ``window_s`` then applies a short
    median against noise. Either or both may be used. Window lengths are rounded to
    an odd number of samples so that the filter is centred (no delay). Edges are
    handled by half-sample symmetric reflection.

    For **images**, a ``size``-pixel median (3 gives 3x3, or 3x3x3 on a volume)
    along ``axes``.

    Parameters
    ----------
    x : array_like, shape (n_samples,) or (n_samples, n_channels), or (rows, cols) or (planes, rows, cols)
        Signal (time on axis 0, channels filtered independently) or image/volume.
        Not modified.
    sampling_rate : float, optional
        Sampling rate in Hz. Given: signal mode. Omitted: image mode.
    window_s : float, optional
        Signals only: length in seconds of a median filter applied after the
        optional baseline removal (e.g. 0.02 s against spikes and noise).
    size : int or sequence of int, optional
        Images only: odd window size in pixels, one value for all filtered axes or
        one per entry of ``axes``. Default 3.
    baseline : bool, default False
        Signals only: subtract the two-pass median baseline estimate.
    baseline_windows_s : (float, float), default (0.2, 0.6)
        Signals only: the two baseline median windows in seconds (de Chazal's values).
    axes : int or sequence of int, optional
        Images only: axes the median spans (default all: a 3D median on a volume).
        ``axes=(1, 2)`` on a ``(planes, rows, cols)`` volume filters slice by slice.

    Returns
    -------
    ndarray
        Same shape as ``x``. float64 for signals; float32 for images (float64 if
        the image was float64).

    Raises
    ------
    biodae.InputError
        Invalid array or parameter; parameters of the other mode (``size`` with a
        signal, ``window_s`` / ``baseline`` with an image); nothing to do.

    References
    ----------
    .. [1] P. de Chazal, M. O'Dwyer, R. B. Reilly, "Automatic classification of
       heartbeats using ECG morphology and heartbeat interval features", IEEE Trans.
       Biomed. Eng. 51(7):1196-1206, 2004 (200 ms + 600 ms median baseline).
    .. [2] R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 4th ed.,
       Pearson, 2018, sec. 3.6 (order-statistic filters).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(3600) / 360.0
    >>> ecg_like = np.exp(-((t % 1.0 - 0.5) / 0.01) ** 2) + 0.5 * np.sin(2 * np.pi * 0.2 * t)
    >>> y = median(ecg_like, sampling_rate=360.0, baseline=True)
    >>> y.shape, y.dtype
    ((3600,), dtype('float64'))
    """
    if sampling_rate is None:
        reject_params("image", window_s=window_s, baseline=baseline)
        img, out_dtype = as_image(x)
        return median_image(img, size=size, axes=axes).astype(out_dtype, copy=False)
    reject_params("signal", size=size, axes=axes)
    fs = check_sampling_rate(sampling_rate)
    x2d, was_1d = as_signal(x)
    y = median_signal(x2d, fs, window_s=window_s, baseline=baseline, baseline_windows_s=baseline_windows_s)
    return restore_signal(y, was_1d)
