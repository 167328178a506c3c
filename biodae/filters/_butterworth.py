"""Butterworth filters: zero-phase IIR for signals, frequency-domain low-pass for images."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import fft as sp_fft
from scipy import signal as sp_signal

from biodae._errors import InputError
from biodae.filters._common import (
    as_image,
    as_signal,
    check_axes,
    check_sampling_rate,
    reject_params,
    restore_signal,
)

__all__ = ["butterworth"]


def _positive(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return v


def _check_order(order: object, *, integer: bool) -> int | float:
    if isinstance(order, bool):
        raise InputError(f"order must be a positive number, got {order!r}")
    if integer:
        if not isinstance(order, (int, np.integer)) or order < 1:
            raise InputError(f"order must be a positive integer, got {order!r}", "ECG/EEG practice is 2 to 5")
        if order > 20:
            raise InputError(f"order={order} is not a sensible Butterworth order", "use 1 to 20 (typically 2 to 5)")
        return int(order)
    return _positive("order", order)


def _below_nyquist(name: str, value: object, fs: float) -> float:
    f = _positive(f"{name} (Hz)", value)
    nyq = fs / 2.0
    if f >= nyq:
        raise InputError(
            f"{name}={f:g} Hz is at or above the Nyquist frequency {nyq:g} Hz (sampling_rate={fs:g} Hz)",
            f"choose {name} below {nyq:g} Hz, or check sampling_rate",
        )
    return f


def signal_sos(
    fs: float,
    *,
    low: float | None,
    high: float | None,
    order: int,
    notch: float | None,
    notch_q: float,
    notch_harmonics: int,
) -> tuple[np.ndarray, int]:
    """Design the cascade (second-order sections) and the edge padding length in samples."""
    order = int(_check_order(order, integer=True))
    if low is None and high is None and notch is None:
        raise InputError(
            "butterworth has nothing to do: give low (high-pass), high (low-pass), both (band-pass) and/or notch",
            "e.g. low=0.5, high=40 for ECG",
        )
    lo = None if low is None else _below_nyquist("low", low, fs)
    hi = None if high is None else _below_nyquist("high", high, fs)
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"low={lo:g} Hz must be below high={hi:g} Hz", "low is the high-pass edge, high the low-pass edge")
    sections = []
    # odd-symmetric extension of 3 periods of the lowest edge / 3 Q periods of a notch
    pad = 0
    if lo is not None and hi is not None:
        sections.append(sp_signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"))
    elif lo is not None:
        sections.append(sp_signal.butter(order, lo, btype="highpass", fs=fs, output="sos"))
    elif hi is not None:
        sections.append(sp_signal.butter(order, hi, btype="lowpass", fs=fs, output="sos"))
    for f in (lo, hi):
        if f is not None:
            pad = max(pad, math.ceil(3.0 * fs / f))
    if notch is not None:
        f0 = _below_nyquist("notch", notch, fs)
        q = _positive("notch_q", notch_q)
        if isinstance(notch_harmonics, bool) or not isinstance(notch_harmonics, (int, np.integer)) or notch_harmonics < 1:
            raise InputError(f"notch_harmonics must be a positive integer, got {notch_harmonics!r}", "1 notches the fundamental only")
        for k in range(1, int(notch_harmonics) + 1):
            fk = k * f0
            if fk >= fs / 2.0:
                break  # harmonics at or above Nyquist do not exist in the signal
            b, a = sp_signal.iirnotch(fk, q, fs=fs)
            sections.append(sp_signal.tf2sos(b, a))
            pad = max(pad, math.ceil(3.0 * fs * q / fk))  # ~9 time constants fs Q / (pi fk)
    sos = np.concatenate(sections, axis=0)
    n_zero = min(int(np.sum(sos[:, 2] == 0)), int(np.sum(sos[:, 5] == 0)))
    scipy_default = 3 * (2 * len(sos) + 1 - n_zero)
    return sos, max(pad, scipy_default)


def butterworth_signal(
    x2d: np.ndarray,
    fs: float,
    *,
    low: float | None = None,
    high: float | None = None,
    order: int = 4,
    notch: float | None = None,
    notch_q: float = 30.0,
    notch_harmonics: int = 1,
) -> np.ndarray:
    """Zero-phase Butterworth (+ notch) on a validated ``(n_samples, n_channels)`` array (internal)."""
    sos, pad = signal_sos(fs, low=low, high=high, order=order, notch=notch, notch_q=notch_q, notch_harmonics=notch_harmonics)
    padlen = min(pad, x2d.shape[0] - 1)
    return sp_signal.sosfiltfilt(sos, x2d, axis=0, padtype="odd", padlen=padlen)


def image_transfer(
    shape: Sequence[int],
    axes: Sequence[int],
    *,
    cutoff: float,
    order: float,
    spacing: Sequence[float] | None,
    squared: bool,
) -> np.ndarray:
    """Butterworth low-pass sampled at the DCT-II frequencies of ``shape`` along ``axes``.

    DCT index ``k`` on an axis of ``n`` samples with spacing ``s`` is the frequency
    ``k / (2 n s)``; ``cutoff`` is a fraction of the Nyquist frequency ``1 / (2 min s)``
    of the finest filtered axis. Returns an array broadcastable to ``shape``.
    """
    d0 = _positive("cutoff", cutoff)
    if d0 > 1.0:
        raise InputError(f"cutoff={cutoff!r} is a fraction of the Nyquist frequency and must be in (0, 1]", "e.g. cutoff=0.5")
    n = _check_order(order, integer=False)
    ndim = len(shape)
    if spacing is None:
        sp = [1.0] * ndim
    else:
        if isinstance(spacing, (int, float, np.number)):
            spacing = [float(spacing)] * ndim
        sp = [_positive("spacing", s) for s in spacing]
        if len(sp) != ndim:
            raise InputError(f"spacing has {len(sp)} entries for a {ndim}D image", "give one voxel size per axis")
    nyq = 1.0 / (2.0 * min(sp[a] for a in axes))
    d2: np.ndarray | float = 0.0
    for a in axes:
        f = np.arange(shape[a]) / (2.0 * shape[a] * sp[a])
        view = [1] * ndim
        view[a] = shape[a]
        d2 = d2 + (f.reshape(view) / (d0 * nyq)) ** 2
    h = 1.0 / (1.0 + np.asarray(d2) ** n)
    return h if squared else np.sqrt(h)


def butterworth_image(
    img: np.ndarray,
    *,
    cutoff: float | None = None,
    order: float = 4,
    spacing: Sequence[float] | None = None,
    axes: int | Sequence[int] | None = None,
    squared: bool = True,
) -> np.ndarray:
    """Frequency-domain Butterworth low-pass of a validated float64 image (internal)."""
    if cutoff is None:
        raise InputError(
            "an image Butterworth needs cutoff (a fraction of the Nyquist frequency, in (0, 1])",
            "e.g. cutoff=0.5, or use biodae.filters.defaults('mri', 'butterworth')",
        )
    if not isinstance(squared, (bool, np.bool_)):
        raise InputError(f"squared must be True or False, got {squared!r}")
    ax = check_axes(axes, img.ndim)
    h = image_transfer(img.shape, ax, cutoff=cutoff, order=order, spacing=spacing, squared=bool(squared))
    # The orthonormal DCT-II is the FFT of the half-sample symmetric (reflect)
    # extension of the image: filtering its coefficients with a real, even H is
    # circular filtering of that mirrored, seamless extension, so nothing wraps
    # around from the opposite edge.
    coeffs = sp_fft.dctn(img, type=2, axes=ax, norm="ortho")
    coeffs *= h
    return sp_fft.idctn(coeffs, type=2, axes=ax, norm="ortho")


def butterworth(
    x: np.ndarray,
    *,
    sampling_rate: float | None = None,
    low: float | None = None,
    high: float | None = None,
    order: int = 4,
    notch: float | None = None,
    notch_q: float = 30.0,
    notch_harmonics: int = 1,
    cutoff: float | None = None,
    spacing: Sequence[float] | None = None,
    axes: int | Sequence[int] | None = None,
    squared: bool = True,
) -> np.ndarray:
    """Butterworth filter: zero-phase IIR for signals, frequency-domain low-pass for images.

    With ``sampling_rate`` the input is a signal; without it, an image or volume.

    **Signals.** A Butterworth of ``order`` is designed as second-order sections
    (band-pass with ``low`` and ``high``, high-pass with ``low`` only, low-pass with
    ``high`` only) and run forwards and backwards (``scipy.signal.sosfiltfilt``): no
    phase shift and a squared magnitude ``|H|^2 = 1 / (1 + (f/fc)^(2 order))``, i.e.
    -6 dB (amplitude 1/2) at each edge. An optional notch (``scipy.signal.iirnotch``,
    quality ``notch_q``, also zero-phase) removes mains at ``notch`` Hz and, with
    ``notch_harmonics=k``, its multiples up to ``k * notch`` that lie below Nyquist.
    Edges use an odd-symmetric extension (``2 x[0] - x[k]``) of three periods of
    the lowest edge, or ``3 notch_q`` periods of the notch, at most
    ``n_samples - 1`` samples (scipy's default of a few samples leaves start-up
    transients inside the record). Content that the extension does not continue
    (a sinusoid cut at an arbitrary phase) still rings for a few time constants at
    each end.

    **Images.** The low-pass ``H(D) = 1 / (1 + (D/D0)^(2 order))`` of Gonzalez &
    Woods, with ``D`` the radial spatial frequency and ``D0 = cutoff`` times the
    Nyquist frequency. It is applied to the DCT-II coefficients, which is exactly
    filtering the FFT of the image's half-sample symmetric (reflect) extension: no
    wrap-around artefacts. This ``H`` equals the squared Butterworth magnitude, so
    the amplitude at ``D = D0`` is 1/2, as for ``sosfiltfilt`` on signals; pass
    ``squared=False`` for ``1 / sqrt(1 + (D/D0)^(2 order))`` (1/sqrt(2) at ``D0``,
    ``skimage.filters.butterworth(..., squared_butterworth=False)``).

    Parameters
    ----------
    x : array_like, shape (n_samples,) or (n_samples, n_channels), or (rows, cols) or (planes, rows, cols)
        Signal (time on axis 0) or image/volume. Not modified.
    sampling_rate : float, optional
        Sampling rate in Hz. Given: signal mode. Omitted: image mode.
    low : float, optional
        Signals: high-pass edge in Hz (removes baseline wander), ``0 < low < sampling_rate/2``.
    high : float, optional
        Signals: low-pass edge in Hz, ``low < high < sampling_rate/2``.
    order : int or float, default 4
        Butterworth order (signals: integer, per direction; images: ``n`` in ``H``).
    notch : float, optional
        Signals: mains frequency to notch out, in Hz (50 or 60).
    notch_q : float, default 30
        Signals: notch quality factor; the -3 dB notch width is ``notch / notch_q`` Hz.
    notch_harmonics : int, default 1
        Signals: number of harmonics notched (1 = fundamental only).
    cutoff : float
        Images (required): ``D0`` as a fraction of the Nyquist frequency, in (0, 1].
    spacing : float or sequence of float, optional
        Images: voxel size per axis (e.g. mm). Frequencies are then physical and
        the Nyquist frequency is that of the finest filtered axis, so anisotropic
        voxels are smoothed isotropically in space. Default: 1 for every axis.
    axes : int or sequence of int, optional
        Images: axes filtered (default all; ``(1, 2)`` filters a volume slice by slice).
    squared : bool, default True
        Images: ``True`` for ``H`` as above (1/2 at ``D0``), ``False`` for its square root.

    Returns
    -------
    ndarray
        Same shape as ``x``. float64 for signals; float32 for images (float64 if
        the image was float64).

    Raises
    ------
    biodae._errors.InputError
        (a ``ValueError``) for an edge at or above Nyquist, ``low >= high``, nothing
        to do, a missing image ``cutoff``, or parameters of the other mode.

    References
    ----------
    .. [1] S. Butterworth, "On the theory of filter amplifiers", Wireless Engineer
       7:536-541, 1930.
    .. [2] R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 4th ed., Pearson,
       2018, sec. 4.8 (Butterworth lowpass filters in the frequency domain).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(3600) / 360.0
    >>> x = np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 50 * t)
    >>> y = butterworth(x, sampling_rate=360.0, low=0.5, high=40.0, notch=50.0)
    >>> y.shape
    (3600,)
    """
    if sampling_rate is None:
        reject_params("image", low=low, high=high, notch=notch)
        img, out_dtype = as_image(x)
        y = butterworth_image(img, cutoff=cutoff, order=order, spacing=spacing, axes=axes, squared=squared)
        return y.astype(out_dtype, copy=False)
    reject_params("signal", cutoff=cutoff, spacing=spacing, axes=axes)
    fs = check_sampling_rate(sampling_rate)
    x2d, was_1d = as_signal(x)
    y = butterworth_signal(x2d, fs, low=low, high=high, order=order, notch=notch, notch_q=notch_q, notch_harmonics=notch_harmonics)
    return restore_signal(y, was_1d)
