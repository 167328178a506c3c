"""Channels stored at a lower rate than a record's highest one (EDF data records, WFDB
samples per frame): resampled to the common rate when read, and back to their own rate when
written, exactly as stored when unchanged. Shared by :mod:`biodae.io.edf` and :mod:`biodae.io.wfdb`."""

from __future__ import annotations

import numpy as np

from .._arrays import resample

__all__ = ["to_common_rate", "to_own_rate"]


def to_common_rate(x: np.ndarray, own: int, top: int, n: int) -> np.ndarray:
    """``x``, stored at ``own`` samples per record (or frame), at ``top`` and fitted to ``n`` samples.

    NaN (WFDB invalid samples) stays NaN over the same stretch of time; the gap is bridged
    linearly for the filter, so that it does not ring."""
    x = np.asarray(x, dtype=np.float64)
    gap = ~np.isfinite(x)
    if n == 0 or gap.all():
        return np.full(n, np.nan)
    if gap.any():
        idx = np.arange(len(x))
        x = np.where(gap, np.interp(idx, idx[~gap], x[~gap]), x)
    y = resample(x, own, top)
    y = y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)), mode="edge")
    if gap.any():
        y[gap[np.minimum(np.arange(n) * own // top, len(x) - 1)]] = np.nan
    return y


def to_own_rate(x: np.ndarray, stored: np.ndarray | None, own: int, top: int) -> np.ndarray:
    """A channel at the common rate ``top`` back at its ``own`` rate (``len(x) * own / top`` samples):
    ``stored``, the samples it was read from, when ``x`` is still what they give at ``top``; else ``x``
    resampled."""
    n = len(x)
    if (stored is not None and len(stored) * top == n * own
            and np.array_equal(x, to_common_rate(stored, own, top, n), equal_nan=True)):
        return stored
    return to_common_rate(x, top, own, n * own // top)
