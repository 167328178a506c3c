"""What a 2D image model needs around its graph: intensity scaling, the slicing plane,
foreground masks. Shared by inference (:class:`~biodae.runtime.Model`), training data
and the benchmarks, so all three scale intensities the same way (``docs/onnx.md``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import InputError

__all__ = ["DEFAULT_PERCENTILES", "intensity_range", "slice_axis", "foreground_mask", "nearest_finite", "zero_filled"]

#: Percentiles of the whole image or volume that the 2D models map to 0 and 1.
DEFAULT_PERCENTILES = (0.5, 99.5)

_MAX_SAMPLE = 2_000_000

#: Fewest connected exact zeros that :func:`zero_filled` takes for a zero-filled region.
ZERO_FILL_MIN = 9


def intensity_range(x: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> tuple[float, float]:
    """``(lo, hi)``: the given percentiles of all finite values of ``x``.

    The 2D models take ``(x - lo) / (hi - lo)``. Computed exactly (linear
    interpolation, numpy's default) on at most 2,000,000 values: larger arrays are
    subsampled with a fixed stride ``ceil(size / 2e6)`` over the flattened C-order array,
    so any client can reproduce it. ``hi == lo`` (a constant image) gives ``hi = lo + 1``.
    """
    v = np.asarray(x).reshape(-1)
    step = -(-v.size // _MAX_SAMPLE)
    v = v[::step].astype(np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InputError("the image holds no finite value", "check the file")
    lo, hi = (float(p) for p in np.percentile(v, list(percentiles)))
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


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
    if not zero.any():
        return zero
    axes = range(x.ndim) if axes is None else [a % x.ndim for a in axes]
    structure = np.zeros([3] * x.ndim, dtype=bool)  # neighbours along ``axes`` only
    structure[tuple(slice(None) if a in axes else 1 for a in range(x.ndim))] = True
    labels, _ = ndimage.label(zero, structure=structure)
    big = np.bincount(labels.ravel()) >= min_size
    big[0] = False
    return big[labels]
