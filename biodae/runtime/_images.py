"""The intensity scaling of the 2D image models (part of their contract, ``docs/onnx.md``).
Shared by inference (:class:`~biodae.runtime.Model`), training data and the benchmarks, so
all three scale intensities the same way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import InputError

__all__ = ["DEFAULT_PERCENTILES", "intensity_range"]

#: Percentiles of the whole image or volume that the 2D models map to 0 and 1.
DEFAULT_PERCENTILES = (0.5, 99.5)

_MAX_SAMPLE = 2_000_000

def intensity_range(x: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> tuple[float, float]:
    """``(lo, hi)``: the given percentiles of all finite values of ``x``.

    The 2D models take ``(x - lo) / (hi - lo)``. Computed exactly (linear
    interpolation, numpy's default) on at most 2,000,000 values: larger arrays are
    subsampled with a fixed stride ``ceil(size / 2e6)`` over the flattened C-order array,
    so any client can reproduce it. ``hi == lo`` (a constant image) gives ``hi = lo + 1``.
    """
    v = np.asarray(x)
    step = -(-v.size // _MAX_SAMPLE)
    if v.flags.c_contiguous or step == 1:
        v = v.reshape(-1)[::step]
    else:  # the same values, without first copying a Fortran-ordered volume (NIfTI) into C order
        v = v[np.unravel_index(np.arange(0, v.size, step), v.shape)]
    v = v.astype(np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InputError("the image holds no finite value", "check the file")
    lo, hi = (float(p) for p in np.percentile(v, list(percentiles)))
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi
