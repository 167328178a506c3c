"""Generic array helpers shared by the filters, the noise models, the datasets, I/O and the runtime.

Nothing here knows about files, models or modalities; everything takes and returns numpy
arrays. (The runtime's own windowing and tiling stay in :mod:`biodae.runtime`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from ._errors import InputError

__all__ = [
    "rational_ratio", "resample",
    "MIN_STRETCH_S", "finite_stretches", "per_finite_stretch",
    "nearest_finite", "zero_filled", "ZERO_FILL_MIN", "foreground_mask", "slice_axis",
]

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
    from scipy.signal import (
        resample_poly,  # imported here: scipy.signal is slow to import
    )

    if not center:
        return resample_poly(arr, up, down, axis=axis, padtype=padtype)
    mean = arr.mean(axis=axis, keepdims=True)
    return resample_poly(arr - mean, up, down, axis=axis, padtype=padtype) + mean


# ----------------------------------------------------------------------------- signals with gaps

MIN_STRETCH_S = 1.0
"""Finite stretches of a signal between gaps (NaN or inf) shorter than this are copied, not denoised."""


def finite_stretches(finite: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in a 1-D boolean array (the finite stretches of a signal)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def per_finite_stretch(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, sampling_rate: float
                       ) -> tuple[np.ndarray, int, int]:
    """``fn`` on each finite stretch of ``x`` of at least :data:`MIN_STRETCH_S` seconds, gaps (NaN, inf) and
    shorter stretches kept as they are; returns ``(output, stretches done, stretches copied)``."""
    out = np.array(x, dtype=np.float64, copy=True)
    runs = finite_stretches(np.isfinite(x))
    done = [(a, b) for a, b in runs if b - a >= MIN_STRETCH_S * sampling_rate]
    for a, b in done:
        out[a:b] = fn(x[a:b])
    return out, len(done), len(runs) - len(done)


# ----------------------------------------------------------------------------- images and volumes

#: Fewest connected exact zeros that :func:`zero_filled` takes for a zero-filled region.
ZERO_FILL_MIN = 9


def slice_axis(spacing: Sequence[float], shape: Sequence[int]) -> int:
    """The axis to slice a volume along: the one with the coarsest voxel size (slices then
    have the finest in-plane resolution); ties go to the last spatial axis (axial in
    RAS-ordered NIfTI). ``shape`` gives the number of spatial axes (3)."""
    sp = [float(s) for s in list(spacing)[:3]] + [1.0] * max(0, 3 - len(spacing))
    sp = sp[: min(3, len(shape))]
    best = max(sp)
    return max(i for i, s in enumerate(sp) if np.isclose(s, best, rtol=1e-3))


def foreground_mask(image: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
    """Foreground (head, body) of a 2D image or 3D volume: above Otsu's threshold (or
    ``threshold``), holes filled, the largest connected component kept, then dilated by
    one voxel. Used for masked PSNR/SSIM in the benchmarks and for the ``clean scan``
    checks; it is not an anatomical segmentation."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    x = np.asarray(image, dtype=np.float64)
    t = threshold_otsu(x) if threshold is None else float(threshold)
    m = x > t
    if not m.any():
        return m
    labels, n = ndimage.label(m)
    if n > 1:
        sizes = ndimage.sum(m, labels, index=np.arange(1, n + 1))
        m = labels == (1 + int(np.argmax(sizes)))
    if m.ndim == 3:  # fill holes slice by slice as well as in 3D (open ventricles on a slice)
        m = ndimage.binary_fill_holes(m)
        for a in range(3):
            m = np.stack([ndimage.binary_fill_holes(s) for s in np.moveaxis(m, a, 0)], axis=a)
    else:
        m = ndimage.binary_fill_holes(m)
    return ndimage.binary_dilation(m)


def nearest_finite(x: np.ndarray) -> np.ndarray:
    """``x`` with each NaN or infinite element replaced by its nearest finite one (any dimensionality).

    What a convolution should see at a hole: a NaN would spread over the whole image.
    """
    from scipy import ndimage

    near = ndimage.distance_transform_edt(~np.isfinite(x), return_distances=False, return_indices=True)
    return x[tuple(near)]


def zero_filled(x: np.ndarray, axes: Sequence[int] | None = None, *, min_size: int = ZERO_FILL_MIN) -> np.ndarray:
    """Where ``x`` is exactly 0 in a region of at least ``min_size`` connected exact zeros.

    Such regions hold no measurement: the zero fill of a skull-stripped or masked volume, or
    the background a scanner or a tool set to 0. There is no noise to remove, and the zeros
    carry meaning (``> 0`` is a brain mask to many tools), so the denoisers leave them exactly 0,
    up to their edge. A zero here and there in noisy data (integer CT values of 0 HU in water,
    quantised dark air) is an ordinary measurement and is not affected.

    Parameters
    ----------
    x : ndarray
    axes : sequence of int, optional
        Axes along which zeros connect (8-connectivity in a plane, 26 in a volume; default:
        every axis). The three spatial axes of a 4D series make each volume's regions its own.
    min_size : int, default 9
        Fewest voxels of a region.

    Returns
    -------
    ndarray of bool, the shape of ``x``
    """
    from scipy import ndimage

    x = np.asarray(x)
    zero = x == 0  # NaN is not zero
    n_zero = np.count_nonzero(zero)
    if n_zero < max(1, min_size):  # too few zeros for any region (a noisy scan's stray zeros)
        return np.zeros_like(zero)
    axes = range(x.ndim) if axes is None else sorted({a % x.ndim for a in axes})
    if n_zero <= zero.size // _SPARSE_ZEROS:
        return _sparse_zero_regions(zero, axes, min_size)
    structure = np.zeros([3] * x.ndim, dtype=bool)  # neighbours along ``axes`` only
    structure[tuple(slice(None) if a in axes else 1 for a in range(x.ndim))] = True
    labels, _ = ndimage.label(zero, structure=structure)
    big = np.bincount(labels[zero]) >= min_size
    big[0] = False
    return big[labels]


#: :func:`zero_filled` links the zeros themselves, not the whole grid, when at most one voxel
#: in this many is 0 (a noisy scan's stray zeros: 21 in a 256 x 256 x 160 volume take 3 ms
#: rather than the 0.6 s of labelling every voxel).
_SPARSE_ZEROS = 256


def _sparse_zero_regions(zero: np.ndarray, axes: Sequence[int], min_size: int) -> np.ndarray:
    """:func:`zero_filled` for few zeros: the same regions, found by linking each zero to its
    zero neighbours along ``axes`` (connected components of that graph)."""
    from itertools import product

    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if zero.flags.f_contiguous and not zero.flags.c_contiguous:  # NIfTI data: search in memory order
        return _sparse_zero_regions(zero.T, [zero.ndim - 1 - a for a in axes], min_size).T
    flat = np.flatnonzero(zero)  # sorted
    if flat.size == 0:
        return np.zeros(zero.shape, dtype=bool)
    coords = np.unravel_index(flat, zero.shape)
    strides = np.array([int(np.prod(zero.shape[a + 1 :])) for a in range(zero.ndim)])
    rows, cols = [np.arange(flat.size)], [np.arange(flat.size)]
    for step in product((-1, 0, 1), repeat=len(axes)):
        if not any(step):
            continue
        inside = np.ones(flat.size, dtype=bool)
        offset = 0
        for a, d in zip(axes, step):
            inside &= (coords[a] + d >= 0) & (coords[a] + d < zero.shape[a])
            offset += d * int(strides[a])
        target = flat + offset
        pos = np.minimum(np.searchsorted(flat, target), flat.size - 1)
        link = inside & (flat[pos] == target)
        rows.append(np.flatnonzero(link))
        cols.append(pos[link])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(flat.size, flat.size))
    _, label = connected_components(graph, directed=False)
    out = np.zeros(zero.shape, dtype=bool)
    out.reshape(-1)[flat[np.bincount(label)[label] >= min_size]] = True
    return out
