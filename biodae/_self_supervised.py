"""Self-supervised denoising of one scan, for noise no shipped model fits: Noise2Self and Patch2Self.

Neither needs clean data; each assumes something about the noise, and says so:

- ``"noise2self"`` (:func:`biodae.nn.adapt.noise2self`, torch): fine-tunes the ``mri`` (or another
  image) model on the scan's own slices with a blind-spot mask, then denoises the scan with the adapted
  weights. Assumes the noise is independent beyond the blind-spot radius (measured from the scan by
  default) and that the signal is not.
- ``"patch2self"`` (:func:`patch2self`, numpy): for 4-D series (diffusion, fMRI), each volume is
  regressed from the same patches of all the *other* volumes. Assumes the noise is independent
  between volumes, while the signal is shared.

:func:`denoise_self_supervised` runs either on an :class:`~biodae.io.Image` with biodae's image
conventions (zero fill kept 0, NaN voxels copied, intensities within the input's range, a mask).
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

import numpy as np

from ._errors import DependencyError, InputError
from .io import Image, Signal

log = logging.getLogger("biodae")

__all__ = ["SELF_SUPERVISED_METHODS", "denoise_self_supervised", "patch2self"]

#: The methods of :func:`denoise_self_supervised` (``biodae denoise --self-supervised``).
SELF_SUPERVISED_METHODS = ("noise2self", "patch2self")
_P2S_MODELS = ("ols", "ridge")


def _patch_offsets(radius: int) -> list[tuple[int, int, int]]:
    r = range(-radius, radius + 1)
    return [(i, j, k) for i in r for j in r for k in r]


def _features(padded: np.ndarray, radius: int, xs: slice, shape: tuple[int, int, int]) -> np.ndarray:
    """Patch features of the voxels ``x in xs`` (all y, z): shape (voxels, volumes * patch), volume-major."""
    nx = xs.stop - xs.start
    cols = []
    for t in range(padded.shape[3]):
        for di, dj, dk in _patch_offsets(radius):
            block = padded[xs.start + radius + di : xs.start + radius + di + nx,
                           radius + dj : radius + dj + shape[1], radius + dk : radius + dk + shape[2], t]
            cols.append(block.reshape(-1))
    return np.stack(cols, axis=1)


def patch2self(
    data: np.ndarray,
    *,
    patch_radius: int = 0,
    model: str = "ols",
    alpha: float = 1.0,
    bvals: np.ndarray | None = None,
    b0_threshold: float = 50.0,
    mask: np.ndarray | None = None,
    chunk_voxels: int = 65536,
    progress: bool | None = False,
) -> np.ndarray:
    """Patch2Self: denoise each volume of a 4-D series by regressing it on the other volumes.

    For volume ``t``, the value of every voxel is predicted by a linear model (with intercept) from the
    ``(2r+1)³`` patch around that voxel in every *other* volume (of the same group: b0 and diffusion-
    weighted volumes apart when ``bvals`` are given, as DIPY does); the model is fitted on all voxels
    (or those in ``mask``) and its prediction is the denoised volume. Noise independent between
    volumes cannot be predicted from the other volumes, the signal they share can.

    **Assumes the noise is independent between volumes** (true of separate acquisitions; not of
    volumes interpolated or filtered together in time, nor of a series with fewer volumes than the
    signal has degrees of freedom: with a few volumes little is removed). The solution is exact least
    squares from one Gram matrix over all voxels (as DIPY's ``gram=True``), numpy only.

    Parameters
    ----------
    data : ndarray, shape (x, y, z, t)
        The series; at least 3 volumes in each group denoised.
    patch_radius : int, default 0
        Patch radius in voxels (0: the voxel itself in each other volume; DIPY's default).
    model : {"ols", "ridge"}, default "ols"
        Ordinary least squares (ridge with ``alpha = 1e-10``, as DIPY) or ridge with ``alpha``.
    alpha : float, default 1.0
        Ridge penalty, in squared intensity units times voxels (``model="ridge"``).
    bvals : array_like of shape (t,), optional
        b-values of a diffusion series: volumes with ``b <= b0_threshold`` are denoised among
        themselves (copied when there is only one), the others among themselves.
    b0_threshold : float, default 50
    mask : ndarray of bool, shape (x, y, z), optional
        Fit on these voxels only and denoise them; the others are copied.
    chunk_voxels : int
        Voxels per block when the Gram matrix is accumulated (memory only; the result does not depend on it
        beyond rounding).
    progress : bool or None
        A progress bar over the volumes on stderr (None: only on a terminal).

    Returns
    -------
    ndarray of float32, shape of ``data``
        The predictions (not clipped; :func:`denoise_self_supervised` clips them to the input's range).

    References
    ----------
    .. [1] S. Fadnavis, J. Batson, E. Garyfallidis, "Patch2Self: denoising diffusion MRI with
       self-supervised learning", Advances in Neural Information Processing Systems 33 (NeurIPS 2020),
       16293-16303.
    """
    from scipy import linalg
    from tqdm import tqdm

    x = np.asarray(data)
    if x.ndim != 4:
        raise InputError(f"patch2self needs a 4-D series (x, y, z, volumes), got shape {x.shape}",
                         "use noise2self for a single 2-D image or 3-D volume")
    if not isinstance(patch_radius, (int, np.integer)) or patch_radius < 0:
        raise InputError(f"patch_radius={patch_radius!r} is not a radius", "use 0, 1 or 2 voxels")
    if model not in _P2S_MODELS:
        raise InputError(f"model={model!r} is not a patch2self model", f"choose one of: {', '.join(_P2S_MODELS)}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise InputError(f"alpha={alpha!r} must be a finite number >= 0")
    n_t = x.shape[3]
    groups: list[np.ndarray]
    if bvals is None:
        groups = [np.arange(n_t)]
    else:
        b = np.asarray(bvals, dtype=np.float64).reshape(-1)
        if b.size != n_t:
            raise InputError(f"{b.size} b-values for {n_t} volumes", "pass one b-value per volume")
        groups = [g for g in (np.flatnonzero(b <= b0_threshold), np.flatnonzero(b > b0_threshold)) if g.size]
    todo = [g for g in groups if g.size >= 2]
    if not todo or max(g.size for g in todo) < 3:
        raise InputError(f"patch2self needs at least 3 volumes to regress each from the others, got {n_t}"
                         + (" in each group" if bvals is not None else ""),
                         "use noise2self on each volume instead")
    if any(g.size < 10 for g in todo):
        log.warning("patch2self: %d volumes; with fewer than 10 the regression removes little noise",
                    min(g.size for g in todo))
    shape = x.shape[:3]
    if mask is not None:
        mask = np.asarray(mask) != 0
        if mask.shape != shape:
            raise InputError(f"mask shape {mask.shape} differs from a volume's {shape}",
                             "pass a 3-D mask on the series' voxel grid")
    out = np.array(x, dtype=np.float32, copy=True)
    r = int(patch_radius)
    n_patch = (2 * r + 1) ** 3
    centre = n_patch // 2
    ridge = 1e-10 if model == "ols" else float(alpha)
    step = max(1, int(chunk_voxels) // max(1, shape[1] * shape[2]))
    chunks = [slice(i, min(i + step, shape[0])) for i in range(0, shape[0], step)]
    bar = tqdm(total=sum(g.size for g in todo), desc="patch2self", unit="volume", file=sys.stderr,
               disable=None if progress is None else not progress, leave=False)
    with bar:
        for g in todo:
            padded = np.pad(x[..., g].astype(np.float64), ((r, r),) * 3 + ((0, 0),), mode="constant")
            d = g.size * n_patch
            gram = np.zeros((d, d))
            total = np.zeros(d)
            count = 0
            for xs in chunks:
                f = _features(padded, r, xs, shape)
                if mask is not None:
                    f = f[mask[xs].reshape(-1)]
                gram += f.T @ f
                total += f.sum(axis=0)
                count += f.shape[0]
            if count < 2:
                raise InputError("patch2self: the mask holds fewer than 2 voxels", "pass a larger mask")
            mean = total / count
            gram -= count * np.outer(mean, mean)  # centred: the intercept is fitted too
            coefs = np.zeros((d, g.size))
            intercepts = np.zeros(g.size)
            for j in range(g.size):
                keep = np.ones(d, dtype=bool)
                keep[j * n_patch : (j + 1) * n_patch] = False
                target = j * n_patch + centre
                a = gram[np.ix_(keep, keep)] + ridge * np.eye(int(keep.sum()))
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", linalg.LinAlgWarning)
                        c = linalg.solve(a, gram[keep, target], assume_a="pos")
                except (linalg.LinAlgError, linalg.LinAlgWarning):  # singular (constant or copied volumes)
                    c = linalg.lstsq(a, gram[keep, target])[0]
                coefs[keep, j] = c
                intercepts[j] = mean[target] - mean[keep] @ c
            for xs in chunks:
                f = _features(padded, r, xs, shape)
                pred = (f @ coefs + intercepts).reshape(xs.stop - xs.start, shape[1], shape[2], g.size)
                if mask is None:
                    out[xs][..., g] = pred
                else:
                    part = out[xs]
                    m = mask[xs]
                    for j, t in enumerate(g):
                        part[..., t] = np.where(m, pred[..., j], part[..., t])
            bar.update(g.size)
    return out


def denoise_self_supervised(
    image: Image,
    method: str = "noise2self",
    *,
    model: Any = None,
    axis: int | None = None,
    mask: np.ndarray | None = None,
    radius: int | None = None,
    steps: int = 300,
    seed: int = 0,
    patch_radius: int = 0,
    bvals: np.ndarray | None = None,
    threads: int | None = None,
    progress: bool | None = False,
) -> tuple[Image, Any]:
    """Denoise one scan by a self-supervised method fitted to the scan itself.

    Parameters
    ----------
    image : Image
        ``"noise2self"``: a 2-D image or 3-D volume (NIfTI, DICOM, PNG, TIFF); ``"patch2self"``: a 4-D
        NIfTI series.
    method : {"noise2self", "patch2self"}
        See the module docstring for what each assumes.
    model : str or path, optional
        noise2self: the image model to start from (default: the image's model, ``mri`` for MR).
    axis : {0, 1, 2}, optional
        noise2self: the slicing axis of a NIfTI volume (default: the coarsest voxel size).
    mask : ndarray of bool, optional
        The image's spatial shape: denoise inside, copy outside.
    radius : int, optional
        noise2self: blind-spot radius in pixels (default: from the noise's measured correlation).
    steps, seed : int
        noise2self: training steps and seed (same seed and torch threads: same output).
    patch_radius : int
        patch2self: patch radius in voxels.
    bvals : array_like, optional
        patch2self: the b-values of a diffusion series (b0 and diffusion-weighted volumes apart).
    threads : int, optional
        noise2self: torch threads.
    progress : bool or None
        Progress bars on stderr (None: only on a terminal).

    Returns
    -------
    (Image, DenoiseReport)
        The output (float32, the input's geometry and metadata, intensities within the input's range,
        zero fill kept 0, NaN voxels copied) and a report with ``model`` (the method and its settings, as
        written in the batch report), ``method``, ``axis``, ``sigma_before``, ``sigma_after``, ``noise``
        (input minus output, computed when read) and, for noise2self, ``radius``.
    """
    from ._arrays import nearest_finite, zero_filled
    from ._modality import default_model
    from ._record import DenoiseReport, _noise_sigmas, image_slicing_axis

    if isinstance(image, Signal):
        raise InputError(f"{image.source.name if image.source else 'record'}: self-supervised denoising is for "
                         "images (MRI volumes and series), not signal records",
                         "denoise ECG/EEG records with the shipped models (leave out the self-supervised method)")
    if method not in SELF_SUPERVISED_METHODS:
        raise InputError(f"self-supervised method {method!r} is not known",
                         f"choose one of: {', '.join(SELF_SUPERVISED_METHODS)}")
    name = image.source.name if image.source else "image"
    data = np.asarray(image.data)
    if mask is not None:
        mask = np.asarray(mask) != 0
        if mask.shape not in (data.shape, data.shape[:3]):
            raise InputError(f"mask shape {mask.shape} differs from the image's {data.shape}",
                             "pass a mask on the same voxel grid (same NIfTI dimensions)")
    bad = ~np.isfinite(data) if data.dtype.kind in "fc" else np.zeros(data.shape, dtype=bool)
    if bad.all():
        raise InputError(f"{name}: every value is NaN or infinite", "the file holds no usable data; check its source")
    if bad.any():
        log.warning("%s: %d of %d voxels are NaN or infinite; they are copied to the output as they are",
                    name, int(bad.sum()), bad.size)
    if method == "patch2self":
        if data.ndim != 4:
            raise InputError(f"{name}: patch2self needs a 4-D series (diffusion, fMRI); this image has shape "
                             f"{data.shape}", "use noise2self for a single image or volume")
        if mask is not None and mask.shape == data.shape:
            mask = mask.all(axis=3)
        x = nearest_finite(data) if bad.any() else data
        out = patch2self(x, patch_radius=patch_radius, bvals=bvals, mask=mask, progress=progress)
        out = np.clip(out, np.float32(np.min(x)), np.float32(np.max(x)))
        out[zero_filled(x, (0, 1, 2))] = 0
        label = f"patch2self (OLS, patch radius {patch_radius}, {data.shape[3]} volumes" + (
            ", b0 and DWI apart)" if bvals is not None else ")")
        extra: dict[str, Any] = {"axis": None}
    else:
        try:
            from .nn.adapt import noise2self
        except ImportError as exc:
            raise DependencyError("noise2self needs torch (it fine-tunes the model on the scan)",
                                  "pip install -c constraints.txt 'biodae[train]', or use patch2self on a 4-D "
                                  "series") from exc
        if data.ndim == 4:
            raise InputError(f"{name}: noise2self adapts to one 2-D image or 3-D volume; this is a 4-D series "
                             f"of {data.shape[3]} volumes", "use patch2self for a series (or denoise its volumes "
                             "one by one)")
        axis = image_slicing_axis(image, axis)
        res = noise2self(data.astype(np.float32, copy=False), model=model if model is not None else
                         default_model(image), axis=axis, radius=radius, steps=steps, seed=seed, mask=mask,
                         threads=threads, progress=progress)
        out = res.denoised
        label = (f"noise2self ({res.model} adapted to this scan: blind spot radius {res.radius}, {res.steps} steps, "
                 f"seed {res.seed})")
        extra = {"axis": axis, "radius": res.radius, "losses": res.losses}
    out = out.astype(np.float32, copy=False)
    if mask is not None:
        full = np.broadcast_to(mask[..., None], data.shape) if mask.shape != data.shape else mask
        out = np.where(full, out, data.astype(np.float32))
    if bad.any():
        out = np.where(bad, data.astype(np.float32), out)
    result = image.replace(data=out)
    before, after = _noise_sigmas(image, result)
    x32 = data.astype(np.float32)

    def removed() -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(bad, np.float32(0), x32 - out) if bad.any() else x32 - out

    rep = DenoiseReport(model=label, method=method, sigma_before=before, sigma_after=after,
                        lazy={"noise": removed}, **extra)
    return result, rep
