"""Faithful copies of the classical filters of the DeepFilter benchmark.

Source: F. P. Romero et al., DeepFilter (2021), repository ``fperdigon/DeepFilter``,
``digitalFilters/dfilters.py`` (the version whose ``FIR_test_Dataset`` /
``IIR_test_Dataset`` call ``FIRRemoveBL`` + ``FIRRemoveHF`` and ``IIRRemoveBL`` +
``IIRRemoveHF`` with ``Fs = 360``, ``Fc_l = 0.67``, ``Fc_h = 150``, FIR ``factor = 4.5``).
Reimplemented from that description, not copied; every constant and quirk is kept
so that the numbers of the benchmark can be reproduced.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sp_signal

from biodae._errors import InputError
from biodae.filters._common import as_signal, check_sampling_rate, restore_signal

__all__ = ["deepfilter_fir", "deepfilter_iir"]

#: Their FIR transition width, in Hz (``width = 0.07 / nyq_rate`` normalised).
_FIR_WIDTH_HZ = 0.07
#: Their stop-band attenuation before division by ``factor``: ``round(-20 log10(0.001)) + 1`` = 61 dB.
_FIR_RIPPLE_DB = round(-20 * math.log10(0.001)) + 1


def _check_band(low: object, high: object, fs: float) -> tuple[float, float]:
    try:
        lo, hi = float(low), float(high)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"low and high must be frequencies in Hz, got {low!r}, {high!r}") from None
    nyq = fs / 2.0
    if not (0 < lo < hi < nyq):
        raise InputError(
            f"need 0 < low < high < Nyquist ({nyq:g} Hz at sampling_rate={fs:g} Hz), got low={low!r}, high={high!r}",
            "the DeepFilter protocol uses sampling_rate=360, low=0.67, high=150",
        )
    return lo, hi


def fir_design(sampling_rate: float, low: float = 0.67, high: float = 150.0, factor: float = 4.5) -> tuple[np.ndarray, np.ndarray]:
    """The two FIR filters of DeepFilter's ``FIRRemoveBL`` / ``FIRRemoveHF``.

    ``kaiserord(61 / factor dB, 0.07 Hz / Nyquist)`` sets the length and Kaiser
    beta (at 360 Hz: 2009 taps, beta 0, i.e. a rectangular window), then
    ``firwin`` designs a high-pass at ``low`` and a low-pass at ``high``.

    Returns
    -------
    h_high, h_low : ndarray, shape (numtaps,)
        High-pass and low-pass impulse responses.
    """
    fs = check_sampling_rate(sampling_rate)
    lo, hi = _check_band(low, high, fs)
    f = float(factor)
    if not math.isfinite(f) or f <= 0:
        raise InputError(f"factor must be positive, got {factor!r}", "DeepFilter uses factor=4.5")
    nyq = fs / 2.0
    numtaps, beta = sp_signal.kaiserord(_FIR_RIPPLE_DB / f, _FIR_WIDTH_HZ / nyq)
    if numtaps % 2 == 0:
        raise InputError(
            f"DeepFilter's FIR design gives an even length ({numtaps} taps) at sampling_rate={fs:g} Hz, "
            "and an even-length linear-phase FIR cannot be a high-pass (their code fails here too)",
            "the protocol runs at sampling_rate=360 (2009 taps)",
        )
    h_high = sp_signal.firwin(numtaps, lo / nyq, window=("kaiser", beta), pass_zero="highpass")
    h_low = sp_signal.firwin(numtaps, hi / nyq, window=("kaiser", beta), pass_zero="lowpass")
    return h_high, h_low


def iir_design(sampling_rate: float, low: float = 0.67, high: float = 150.0, order: int = 4) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The two Butterworth filters of DeepFilter's ``IIRRemoveBL`` / ``IIRRemoveHF``, as ``(b, a)``."""
    fs = check_sampling_rate(sampling_rate)
    lo, hi = _check_band(low, high, fs)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise InputError(f"order must be a positive integer, got {order!r}", "DeepFilter uses order=4")
    nyq = fs / 2.0
    return (
        sp_signal.butter(int(order), lo / nyq, "highpass", analog=False),
        sp_signal.butter(int(order), hi / nyq, "lowpass", analog=False),
    )


def _causal_fir(h: np.ndarray, x2d: np.ndarray) -> np.ndarray:
    """``lfilter(h, 1, x, zi=lfilter_zi(h, 1) * x[0])`` along axis 0: the past held at ``x[0]``."""
    past = np.repeat(x2d[:1], h.size - 1, axis=0)
    return sp_signal.fftconvolve(np.concatenate([past, x2d], axis=0), h[:, None], mode="valid", axes=0)


def _fir_filtfilt(h: np.ndarray, x2d: np.ndarray) -> np.ndarray:
    """``scipy.signal.filtfilt(h, 1.0, x, axis=0)`` computed by FFT convolution.

    Same odd extension (``3 * len(h)`` samples), same initial conditions, to
    rounding (about 1e-13 relative); some 50 times faster for 2009 taps.
    """
    padlen = 3 * h.size
    if x2d.shape[0] <= padlen:
        raise InputError(f"filtfilt needs more than {padlen} samples, got {x2d.shape[0]}")
    ext = np.concatenate(
        [2 * x2d[:1] - x2d[padlen:0:-1], x2d, 2 * x2d[-1:] - x2d[-2 : -padlen - 2 : -1]], axis=0
    )
    y = _causal_fir(h, ext)
    y = _causal_fir(h, y[::-1])[::-1]
    return y[padlen:-padlen]


def _their_filtfilt(b: np.ndarray, a: np.ndarray | None, x2d: np.ndarray, n_check: int) -> np.ndarray:
    """``filtfilt`` with DeepFilter's extension rule, column by column.

    ``a=None`` marks an FIR (their ``filtfilt(h, 1.0, ...)``). If ``3 * n_check``
    exceeds the length ``L`` (``n_check``: the taps for the FIR, the order for the
    IIR), the signal is extended as ``[reversed(x), x, x[-1] * ones(3 n_check - L)]``,
    filtered with scipy's default odd padding, and the middle ``L`` samples are
    kept; otherwise plain ``filtfilt``.
    """
    def run(z: np.ndarray) -> np.ndarray:
        if a is None:
            return _fir_filtfilt(b, z)
        padlen = 3 * max(a.size, b.size)
        if z.shape[0] <= padlen:
            raise InputError(
                f"a signal of {x2d.shape[0]} samples is too short for DeepFilter's filtfilt "
                f"(needs more than {padlen}, or at most {3 * n_check})",
                "their code fails on such lengths as well",
            )
        return sp_signal.filtfilt(b, a, z, axis=0)

    n = x2d.shape[0]
    if 3 * n_check > n:
        tail = np.repeat(x2d[-1:], 3 * n_check - n, axis=0)
        return run(np.concatenate([x2d[::-1], x2d, tail], axis=0))[n : 2 * n]
    return run(x2d)


def deepfilter_fir(
    x: np.ndarray,
    *,
    sampling_rate: float,
    low: float = 0.67,
    high: float = 150.0,
    factor: float = 4.5,
) -> np.ndarray:
    """DeepFilter's FIR baseline filter (faithful copy): FIR high-pass 0.67 Hz then low-pass 150 Hz.

    Design (``FIRRemoveBL`` and ``FIRRemoveHF`` of ``digitalFilters/dfilters.py``):
    ``numtaps, beta = kaiserord(61 / factor, 0.07 / (fs/2))``, which at the
    protocol's 360 Hz gives **2009 taps** and beta = 0 (a rectangular window, since
    61 / 4.5 = 13.6 dB is under Kaiser's 21 dB limit); ``firwin`` high-pass at
    ``low`` and low-pass at ``high``, cut-offs normalised by Nyquist. Each stage is
    run with ``scipy.signal.filtfilt(h, 1.0, ...)`` (zero phase, amplitude 1/4 at
    each cut-off after both passes; computed here by FFT convolution with the same
    padding and initial conditions, equal to rounding). When ``3 * numtaps`` exceeds the record length
    (always the case for the protocol's 512-sample windows) the record is first
    extended as ``[reversed(x), x, x[-1] repeated]`` and the middle part kept,
    exactly as their code does. Channels are filtered independently.

    Parameters
    ----------
    x : array_like, shape (n_samples,) or (n_samples, n_channels)
        ECG in any unit (mV in the protocol), time on axis 0. Not modified.
    sampling_rate : float
        Sampling rate in Hz (the protocol: 360). Required, no default.
    low, high : float, default 0.67, 150.0
        Cut-offs in Hz (their ``Fc_l``, ``Fc_h``).
    factor : float, default 4.5
        Their divisor of the 61 dB attenuation target.

    Returns
    -------
    ndarray, float64, same shape as ``x``

    Raises
    ------
    biodae._errors.InputError
        For a band outside ``(0, Nyquist)``, or a rate at which their design gives an
        even number of taps (their code fails there too).

    References
    ----------
    .. [1] F. P. Romero, D. C. Pinol, C. R. Vazquez-Seisdedos, "DeepFilter: an ECG
       baseline wander removal filter using deep learning techniques", Biomed. Signal
       Process. Control 70:102992, 2021; code: github.com/fperdigon/DeepFilter.
    .. [2] F. P. Romero et al., "Baseline wander removal methods for ECG signals: a
       comparative study", arXiv:1807.11359, 2018.
    """
    h_high, h_low = fir_design(sampling_rate, low, high, factor)
    x2d, was_1d = as_signal(x)
    y = _their_filtfilt(h_high, None, x2d, h_high.size)
    y = _their_filtfilt(h_low, None, y, h_low.size)
    return restore_signal(y, was_1d)


def deepfilter_iir(
    x: np.ndarray,
    *,
    sampling_rate: float,
    low: float = 0.67,
    high: float = 150.0,
    order: int = 4,
) -> np.ndarray:
    """DeepFilter's IIR baseline filter (faithful copy): Butterworth order 4, 0.67-150 Hz, filtfilt.

    Design (``IIRRemoveBL`` then ``IIRRemoveHF``): ``butter(4, 0.67 / (fs/2),
    'highpass')`` then ``butter(4, 150 / (fs/2), 'lowpass')`` in transfer-function
    form ``(b, a)``, each run with ``scipy.signal.filtfilt`` (default odd padding
    of 15 samples). After both passes the amplitude is 1/2 (-6 dB) at 0.67 Hz and
    150 Hz. Their extension rule (``[reversed(x), x, x[-1] repeated]`` when
    ``3 * order`` exceeds the length) only applies to records of 12 samples or
    fewer; records of 13-15 samples are refused, as their code fails on them.
    Channels are filtered independently.

    Parameters
    ----------
    x : array_like, shape (n_samples,) or (n_samples, n_channels)
        ECG in any unit, time on axis 0. Not modified.
    sampling_rate : float
        Sampling rate in Hz (the protocol: 360). Required, no default.
    low, high : float, default 0.67, 150.0
        Cut-offs in Hz (their ``Fc_l``, ``Fc_h``).
    order : int, default 4
        Butterworth order of each stage (their fixed ``N = 4``).

    Returns
    -------
    ndarray, float64, same shape as ``x``

    Raises
    ------
    biodae._errors.InputError
        For a band outside ``(0, Nyquist)`` or a record of 13-15 samples.

    References
    ----------
    .. [1] F. P. Romero, D. C. Pinol, C. R. Vazquez-Seisdedos, "DeepFilter: an ECG
       baseline wander removal filter using deep learning techniques", Biomed. Signal
       Process. Control 70:102992, 2021; code: github.com/fperdigon/DeepFilter.
    .. [2] S. Butterworth, "On the theory of filter amplifiers", Wireless Engineer
       7:536-541, 1930.
    """
    (b_hp, a_hp), (b_lp, a_lp) = iir_design(sampling_rate, low, high, order)
    x2d, was_1d = as_signal(x)
    y = _their_filtfilt(b_hp, a_hp, x2d, int(order))
    y = _their_filtfilt(b_lp, a_lp, y, int(order))
    return restore_signal(y, was_1d)
