"""Generic array helpers shared by the filters, the noise models, the datasets, I/O and the runtime.

Nothing here knows about files, models or modalities; everything takes and returns numpy
arrays. (The runtime's own windowing and tiling stay in :mod:`biodae.runtime`.)
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._errors import InputError

__all__ = ["rational_ratio", "resample"]

#: Largest denominator of the rational approximation of a resampling ratio.
MAX_DENOMINATOR = 1000
#: Largest relative error of that approximation before resampling is refused.
MAX_RATE_ERROR = 1e-4


def rational_ratio(source_rate: float, target_rate: float) -> tuple[int, int]:
    """``(up, down)`` with ``up/down`` approximating ``target_rate/source_rate``.

    Raises
    ------
    InputError
        When no ratio with a denominator up to :data:`MAX_DENOMINATOR` is within
        :data:`MAX_RATE_ERROR` (relative) of the wanted one.
    """
    ratio = Fraction(target_rate / source_rate).limit_denominator(MAX_DENOMINATOR)
    if ratio <= 0 or abs(float(ratio) * source_rate - target_rate) > MAX_RATE_ERROR * target_rate:
        raise InputError(
            f"cannot resample {source_rate:g} Hz to {target_rate:g} Hz with a ratio of small integers",
            f"choose a target rate whose ratio to {source_rate:g} Hz has a denominator <= {MAX_DENOMINATOR}",
        )
    return ratio.numerator, ratio.denominator


def resample(
    x: np.ndarray,
    source_rate: float,
    target_rate: float,
    *,
    axis: int = 0,
    padtype: str = "line",
    center: bool = True,
) -> np.ndarray:
    """Polyphase resampling (:func:`scipy.signal.resample_poly`) by the closest rational factor.

    Parameters
    ----------
    x : ndarray
        Samples along ``axis``; computed in float64.
    source_rate, target_rate : float
        Sampling rates in Hz; the output rate is ``source_rate * up / down`` with ``up/down``
        from :func:`rational_ratio`.
    axis : int, default 0
    padtype : {"line", "constant", ...}, default "line"
        Edge padding of ``resample_poly``: ``"line"`` extends the linear trend through the end
        samples (no step at the edges); ``"constant"`` pads with zeros (after centring: the mean).
    center : bool, default True
        Resample ``x - mean`` and add the mean back: the polyphase filter's per-phase DC gains
        differ by ~1e-4, which would otherwise ripple a large offset into the output.

    Returns
    -------
    ndarray of float64
        A new array (a copy when the rates are equal).

    References
    ----------
    .. [1] P. P. Vaidyanathan, "Multirate Systems and Filter Banks", Prentice Hall, 1993.
    """
    up, down = rational_ratio(source_rate, target_rate)
    arr = np.asarray(x, dtype=np.float64)
    if up == down:
        return arr.copy()
    from scipy.signal import resample_poly  # imported here: scipy.signal is slow to import

    if not center:
        return resample_poly(arr, up, down, axis=axis, padtype=padtype)
    mean = arr.mean(axis=axis, keepdims=True)
    return resample_poly(arr - mean, up, down, axis=axis, padtype=padtype) + mean
