"""Apply a processing step to a whole :class:`Signal` or :class:`Image`.

This is where file-level policy lives, so every command (``filter`` now, ``denoise``
later) treats records the same way: which channels are processed, how volumes are
split, and that image intensities stay within the input's range.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from . import filters
from ._errors import InputError
from ._modality import choose_channels
from .io._containers import Image, Signal

log = logging.getLogger("biodae")

__all__ = ["check_finite", "filter_record", "FilterReport"]


def check_finite(obj: Signal | Image) -> None:
    """Refuse data that hold no finite value, with a clear message (NaN gaps and holes are handled)."""
    if not np.isfinite(obj.data).any():
        name = obj.source.name if obj.source is not None else "input"
        raise InputError(f"{name}: every value is NaN or infinite", "the file holds no usable data; check its source")


def warn_gaps(name: str, label: str, x: np.ndarray, done: int, copied: int, verb: str) -> None:
    """Say that a channel with gaps was processed stretch by stretch (nothing when it has no gap, or no valid
    sample at all: the reader said so)."""
    from .runtime import MIN_STRETCH_S

    n_bad = int(x.size - np.count_nonzero(np.isfinite(x)))
    if not n_bad or n_bad == x.size:
        return
    log.warning("%s: channel %s has %d NaN or infinite samples (gaps); the %d finite stretch(es) between them are "
                "%s one by one%s, and the gaps kept", name, label, n_bad, done, verb,
                f" ({copied} shorter than {MIN_STRETCH_S:g} s copied as they are)" if copied else "")


def _filter_channel(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, fs: float, name: str, label: str
                    ) -> np.ndarray:
    """``fn`` on one channel; with gaps (NaN or inf), on each finite stretch as the models do."""
    if np.isfinite(x).all():
        return fn(x)
    from .runtime import per_finite_stretch

    out, done, copied = per_finite_stretch(fn, x, fs)
    warn_gaps(name, label, x, done, copied, "filtered")
    return out


class FilterReport(dict):
    """What :func:`filter_record` did: method, parameters, channels processed/skipped."""


def _apply_image(data: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], fmt: str) -> np.ndarray:
    """Apply an image function to 2D images, 3D volumes, or each volume of a 4D series.

    A NIfTI volume thinner than 3 voxels along an axis (one or two slices) is filtered slice by
    slice along that axis; a 2D image needs at least 3 x 3 pixels."""
    if data.ndim == 2:
        if min(data.shape) < 3:
            raise InputError(f"an image of {data.shape[0]} x {data.shape[1]} pixels is too small to filter",
                             "a filter needs at least 3 x 3 pixels; copy such an image as it is")
        return fn(data)
    if fmt == "nifti":
        if data.ndim == 3 and min(data.shape) < 3:  # one or two slices: filter each as a 2D image
            ax = int(np.argmin(data.shape))
            return np.stack([_apply_image(np.take(data, k, axis=ax), fn, fmt) for k in range(data.shape[ax])], axis=ax)
        if data.ndim == 3:
            return fn(data)
        if data.ndim == 4:
            return np.stack([_apply_image(data[..., t], fn, fmt) for t in range(data.shape[3])], axis=3)
    elif data.ndim == 3:  # multi-frame DICOM / multi-page TIFF: frames are separate images
        return np.stack([_apply_image(frame, fn, fmt) for frame in data], axis=0)
    raise InputError(f"cannot filter an image of shape {data.shape}", "expected 2D, 3D or 4D (NIfTI) data")


def filter_record(
    obj: Signal | Image, method: str, params: dict[str, Any] | None = None, *, modality: str | None = None
) -> tuple[Signal | Image, FilterReport]:
    """Filter a whole record or image with a classical filter.

    Parameters
    ----------
    obj : Signal or Image
        What a reader in :mod:`biodae.io` returned.
    method : {"median", "butterworth", "wavelet"}
    params : dict, optional
        Filter parameters; missing ones come from :func:`biodae.filters.defaults` for
        the data's modality.
    modality : str, optional
        Override the detected modality (``"ecg"``, ``"eeg"``, ``"mri"``, ``"xray"``, ``"ct"``).

    Returns
    -------
    out : Signal or Image
        A copy with filtered data and the same metadata. For signals, only channels
        recognised as ECG/EEG by name, unit and content (:func:`biodae._modality.choose_channels`;
        all, when ``modality`` is given) are filtered; others (PPG, respiration...) are
        copied unchanged, with a logged warning saying why. Image intensities are
        clipped to the input's range.
    report : FilterReport
        ``filtered``: the names of the channels filtered; ``copied``: those copied, each as
        ``"NAME (not ECG/EEG: why)"``.
    """
    check_finite(obj)
    if isinstance(obj, Signal):
        choice = choose_channels(obj, every=modality is not None)
        mod = modality or choice.modality
        if mod == "signal":
            raise InputError(
                f"{obj.source.name if obj.source else 'signal'}: no channel looks like ECG or EEG "
                f"(channels: {', '.join(obj.channel_names)})",
                "say which it is with --modality ecg|eeg",
            )
        out = np.array(obj.data, dtype=np.float64, copy=True)
        done = []
        used: dict[str, Any] = {}
        for c, cm in choice.clean:
            cm = modality or cm
            p = {**filters.defaults(cm, method), **(params or {})}
            out[:, c] = _filter_channel(lambda x, p=p: filters.apply(method, x, sampling_rate=obj.sampling_rate, **p),
                                        obj.data[:, c], obj.sampling_rate,
                                        obj.source.name if obj.source else "signal", obj.channel_names[c])
            done.append(obj.channel_names[c])
            used = p
        report = FilterReport(method=method, params=used, modality=mod, filtered=done, copied=choice.copied)
        return obj.replace(data=out), report
    mod = modality or obj.modality
    p = {**filters.defaults(mod if mod in ("mri", "xray", "ct") else "xray", method), **(params or {})}
    data, bad = obj.data, ~np.isfinite(obj.data)
    if bad.any():  # holes: the filter sees the nearest finite voxel; the output keeps the NaN/inf
        from .runtime import nearest_finite

        log.warning("%s: %d of %d voxels are NaN or infinite; they are copied to the output as they are",
                    obj.source.name if obj.source else "image", int(bad.sum()), bad.size)
        data = nearest_finite(np.asarray(data))
    lo, hi = float(np.min(data)), float(np.max(data))
    res = _apply_image(data, lambda a: filters.apply(method, a, **p), obj.format)
    res = np.clip(res, lo, hi).astype(np.float32, copy=False)
    # zero-filled regions stay exactly 0, as with the models (a 4D series: in each volume)
    from .runtime import zero_filled

    res[zero_filled(obj.data, (0, 1, 2)[: obj.data.ndim])] = 0
    if bad.any():
        res = np.where(bad, np.asarray(obj.data, dtype=np.float32), res)
    return obj.replace(data=res), FilterReport(method=method, params=p, modality=mod)
