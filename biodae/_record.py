"""The record layer: apply a filter or a model to a whole record or image.

Every command and :mod:`biodae._batch` step goes through here, so records are treated one
way whatever cleans them:

- which channels of a record are cleaned, and why the others are copied
  (:func:`biodae._modality.choose_channels`), and which model or filter defaults a
  modality gets (the table :data:`biodae._modality.MODALITIES`);
- gaps (NaN) in signals: each finite stretch is cleaned on its own, short ones copied;
- images: volumes slice by slice, 4D series volume by volume, NaN voxels copied, the zero
  fill of masked volumes kept exactly 0, intensities within the input's range;
- the provenance note a cleaned file carries (:func:`note_provenance`).

Functions: :func:`filter_record` (classical filters), :func:`denoise_record`,
:func:`denoise_image` and :func:`denoise` (the ONNX models).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ._errors import InputError
from ._modality import MODALITIES, choose_channels, default_model
from .io import Image, Signal

log = logging.getLogger("biodae")

__all__ = [
    "filter_record", "FilterReport", "denoise", "denoise_record", "denoise_image", "DenoiseReport",
    "note_provenance", "check_finite",
]


# ----------------------------------------------------------------------------- shared policy


def note_provenance(out: Signal | Image, text: str) -> None:
    """Record in ``out`` what made it, where its format has room: a WFDB header comment, an EDF+/BDF+
    annotation at the start (EDF+ has no comment field). Images carry it in their own way (DICOM:
    the derivation description the writer sets)."""
    if not isinstance(out, Signal):
        return
    if out.format == "wfdb":
        out.meta["comments"] = list(out.meta.get("comments") or []) + [text]
    elif str(out.meta.get("reserved", ""))[:4] in ("EDF+", "BDF+"):
        out.meta["annotations"] = list(out.meta.get("annotations") or []) + [
            {"onset": 0.0, "duration": None, "description": text}]


# ----------------------------------------------------------------------------- gaps and holes


def check_finite(obj: Signal | Image) -> None:
    """Refuse data that hold no finite value, with a clear message (NaN gaps and holes are handled)."""
    if not np.isfinite(obj.data).any():
        name = obj.source.name if obj.source is not None else "input"
        raise InputError(f"{name}: every value is NaN or infinite", "the file holds no usable data; check its source")


def warn_gaps(name: str, label: str, x: np.ndarray, done: int, copied: int, verb: str) -> None:
    """Say that a channel with gaps was processed stretch by stretch (nothing when it has no gap, or no valid
    sample at all: the reader said so)."""
    from ._arrays import MIN_STRETCH_S

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
    from ._arrays import per_finite_stretch

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
    from . import filters  # here, not at the top: it imports scipy.signal (about a second), which
    #                        `biodae denoise` on an image never needs

    check_finite(obj)
    if isinstance(obj, Signal):
        if modality is not None and MODALITIES.get(modality, MODALITIES["image"]).kind != "signal":
            raise InputError(f"modality={modality} is an image modality, and this file is a signal record",
                             "leave out modality=, or name a signal modality (ecg, eeg)")
        choice = choose_channels(obj, every=modality is not None)
        mod = modality or choice.modality
        if mod == "signal":
            raise InputError(
                f"{obj.source.name if obj.source else 'signal'}: no channel looks like ECG or EEG "
                f"(channels: {', '.join(obj.channel_names)})",
                "say which it is with modality='ecg' or 'eeg'",
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
    info = MODALITIES.get(mod, MODALITIES["image"])
    if info.kind != "image":  # a signal modality named for an image: the image defaults, as for any image
        info = MODALITIES["image"]
    p = {**filters.defaults(info.filter_defaults, method), **(params or {})}
    data, bad = obj.data, ~np.isfinite(obj.data)
    if bad.any():  # holes: the filter sees the nearest finite voxel; the output keeps the NaN/inf
        from ._arrays import nearest_finite

        log.warning("%s: %d of %d voxels are NaN or infinite; they are copied to the output as they are",
                    obj.source.name if obj.source else "image", int(bad.sum()), bad.size)
        data = nearest_finite(np.asarray(data))
    lo, hi = float(np.min(data)), float(np.max(data))
    res = _apply_image(data, lambda a: filters.apply(method, a, **p), obj.format)
    res = np.clip(res, lo, hi).astype(np.float32, copy=False)
    # zero-filled regions stay exactly 0, as with the models (a 4D series: in each volume)
    from ._arrays import zero_filled

    res[zero_filled(obj.data, (0, 1, 2)[: obj.data.ndim])] = 0
    if bad.any():
        res = np.where(bad, np.asarray(obj.data, dtype=np.float32), res)
    return obj.replace(data=res), FilterReport(method=method, params=p, modality=mod)


# ----------------------------------------------------------------------------- models

_CACHE: dict[tuple[str, str, int | None, str], Any] = {}


def _model(model: Any, device: str, threads: int | None, precision: str = "fp32"):
    from .runtime import Model, load_model

    if isinstance(model, Model):
        return model
    key = (os.fspath(model), device, threads, precision)
    if key not in _CACHE:
        _CACHE[key] = load_model(model, device=device, threads=threads, precision=precision)
    return _CACHE[key]


def _check_precision(precision: str) -> None:
    from .runtime import PRECISIONS

    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r} is not known", f"choose one of {', '.join(PRECISIONS)}")


def _side_by_side(device: str, threads: int | None) -> int | None:
    """The threads that channels share, running side by side on one-thread sessions
    (:func:`_denoise_channels`); None where they run one after another."""
    from .runtime import default_threads

    budget = int(threads) if threads else default_threads()
    return budget if device == "cpu" and budget >= 2 else None


def _channel_threads(device: str, threads: int | None) -> int | None:
    """The onnxruntime threads of each signal model session, so that the session read for a
    model's metadata is the one that runs."""
    return threads if _side_by_side(device, threads) is None else 1


def _denoise_channels(jobs: list[tuple[Any, np.ndarray, float, str | None]], device: str,
                      threads: int | None, precision: str = "fp32") -> list[np.ndarray]:
    """Denoise ``(model, channel, sampling_rate, units)`` jobs; return the channels in order.

    On the CPU with two or more threads, the work runs as one-thread onnxruntime calls
    from several Python threads at once: onnxruntime's intra-op threads synchronise after
    every layer, and on short windows that costs more than it gains (24 h of 2-lead ECG:
    1.86 M samples/s with two one-thread runs against 1.48 M with one two-thread run).
    Channels run side by side; when there are fewer channels than threads, each channel
    also keeps several batches of its windows in flight (a single-lead record uses every
    core too). The output is the same either way.
    """
    from .runtime import Model

    budget = _side_by_side(device, threads)
    if budget is None or any(isinstance(j[0], Model) for j in jobs):
        return [_model(spec, device, threads, precision).denoise_signal(x, sampling_rate=fs, units=u)
                for spec, x, fs, u in jobs]
    k = min(len(jobs), budget)
    streams = budget // k
    stop = threading.Event()

    def check(_done: int) -> None:
        if stop.is_set():
            raise _Stopped

    def one(spec: Any, x: np.ndarray, fs: float, u: str | None) -> np.ndarray:
        return _model(spec, device, 1, precision).denoise_signal(x, sampling_rate=fs, units=u, streams=streams,
                                                                 progress=check)

    if k == 1:
        return [one(*job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=k, thread_name_prefix="biodae-channel") as pool:
        futures = [pool.submit(one, *job) for job in jobs]
        try:
            return [f.result() for f in futures]
        except BaseException:  # Ctrl-C (or a failing channel): the other channels stop at their next batch,
            stop.set()         # rather than run to their end while the pool waits for them
            for f in futures:
                f.cancel()
            raise


class _Stopped(Exception):
    """Raised in a channel thread of :func:`_denoise_channels` once the main thread has given up."""


def _warn_gaps(name: str, jobs: list[tuple[Any, np.ndarray, float, str | None]], labels: list[str]) -> None:
    """Say which channels hold gaps (NaN or inf), which :meth:`Model.denoise_signal` keeps."""
    from ._arrays import MIN_STRETCH_S, finite_stretches

    for (_, x, fs, _), label in zip(jobs, labels):
        runs = finite_stretches(np.isfinite(x))
        short = sum(b - a < MIN_STRETCH_S * fs for a, b in runs)
        warn_gaps(name, label, x, len(runs) - short, short, "denoised")


class DenoiseReport(dict):
    """What :func:`denoise_record` did: models used per channel, channels copied.

    Costly entries (an image's ``"noise"``, a copy of the whole volume) are computed when first read."""

    def __init__(self, *args: Any, lazy: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy or {})

    def __missing__(self, key: str) -> Any:
        make = self._lazy.pop(key, None)
        if make is None:
            raise KeyError(key)
        self[key] = value = make()
        return value


def denoise(
    x: np.ndarray | Signal | Image,
    model: Any = "ecg",
    *,
    sampling_rate: float | None = None,
    units: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
    precision: str = "fp32",
) -> np.ndarray | Signal | Image:
    """Denoise a signal array, a :class:`~biodae.io.Signal` or an :class:`~biodae.io.Image`.

    Parameters
    ----------
    x : ndarray of shape (n_samples,) or (n_samples, n_channels), or Signal, or Image
        Arrays are in the model's units (mV for ``"ecg"``, µV for ``"eeg"``) unless
        ``units`` says otherwise; channels are denoised one by one. NaN or infinite samples
        are gaps: they stay, and the stretches between them are denoised one by one
        (those under :data:`biodae._arrays.MIN_STRETCH_S` are copied), with a warning. Image voxels that are
        NaN or infinite are copied too.
    model : str, path or Model, default "ecg"
        A shipped model name (:func:`biodae.runtime.available_models`), an ``.onnx``
        path, or a loaded :class:`~biodae.runtime.Model`. For a Signal, ``None``
        picks the model per channel from its name and unit.
    sampling_rate : float
        Required for arrays: the rate in Hz (resampled to the model's and back).
    units : str, optional
        The array's units (``"mV"``, ``"uV"``, ``"V"``).
    device : {"cpu", "cuda", "tensorrt"}
    threads : int, optional
        onnxruntime intra-op threads.
    precision : {"fp32", "int8", "auto"}, default "fp32"
        ``"int8"``: the model's int8 variant (an error for a model without one); ``"auto"``: the int8 variant
        where it was measured within its quality limit and faster and the CPU has int8 dot-product
        instructions, float32 otherwise (:func:`biodae.runtime.resolve_precision`). Ignored for a loaded Model.

    Returns
    -------
    Same type and shape as ``x``.

    Examples
    --------
    >>> clean = biodae.denoise(ecg_mv, model="ecg", sampling_rate=500)  # doctest: +SKIP
    """
    _check_precision(precision)
    if isinstance(x, (Signal, Image)):
        return denoise_record(x, model, device=device, threads=threads, precision=precision)[0]
    if sampling_rate is None:
        raise InputError("sampling_rate is required to denoise an array", "pass sampling_rate=<Hz>")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise InputError(f"expected an array (n_samples,) or (n_samples, n_channels), got shape {arr.shape}")
    if not np.isfinite(arr).any():
        raise InputError("every value of the array is NaN or infinite", "pass the signal itself")
    channels = arr[:, None] if arr.ndim == 1 else arr
    jobs = [(model, channels[:, c], float(sampling_rate), units) for c in range(channels.shape[1])]
    _warn_gaps("array", jobs, [str(c) for c in range(len(jobs))])
    out = np.stack(_denoise_channels(jobs, device, threads, precision), axis=1)
    return out[:, 0] if arr.ndim == 1 else out


def denoise_record(
    obj: Signal | Image, model: Any = None, *, device: str = "cpu", threads: int | None = None,
    precision: str = "fp32",
) -> tuple[Signal | Image, DenoiseReport]:
    """Denoise a whole record; return a copy with the same metadata and a report.

    Without ``model``, each ECG channel gets the ``"ecg"`` model and each EEG channel
    the ``"eeg"`` model (from channel names, units and content,
    :func:`biodae._modality.choose_channels`); other channels (PPG, respiration,
    annotations...) are copied unchanged, with a logged warning saying why. With ``model``,
    every channel is denoised with it. The report has ``models`` (model -> channel names)
    and ``copied`` (each channel left as it is, as ``"NAME (not ECG/EEG: why)"``). ``precision`` as in
    :func:`denoise`; a model that ran in another precision than float32 is named with it (``"ecg 1.4.0 int8"``).
    """
    _check_precision(precision)
    check_finite(obj)  # only all-NaN input is refused: gaps and holes are kept
    if isinstance(obj, Image):
        return denoise_image(obj, model, device=device, threads=threads, precision=precision)
    choice = choose_channels(obj, every=model is not None)
    out = np.array(obj.data, dtype=np.float64, copy=True)
    used: dict[str, list[str]] = {}
    jobs: list[tuple[int, Any]] = []
    for c, cm in choice.clean:
        name = obj.channel_names[c]
        chosen = model if model is not None else cm
        m = _model(chosen, device, _channel_threads(device, threads), precision)
        if m.spatial_dims != 1:
            raise InputError(
                f"{obj.source.name if obj.source else 'record'}: model {m.name!r} is an {m.modality.upper()} image "
                "model and cannot denoise signals",
                "leave out model= to pick the ECG/EEG model per channel, or name a signal model (ecg, eeg)",
            )
        if model is not None and cm in ("ecg", "eeg") and m.modality and cm != m.modality:
            log.warning("channel %s looks like %s but the %s model %r was asked for", name, cm.upper(),
                        m.modality.upper(), m.name)
        jobs.append((c, chosen))
        used.setdefault(m.label, []).append(name)
    if not used:
        raise InputError(
            f"{obj.source.name if obj.source else 'record'}: no channel looks like ECG or EEG "
            f"(channels: {', '.join(obj.channel_names)})",
            "name the model to use with model= (ecg, eeg or an .onnx file)",
        )
    todo = [(spec, obj.data[:, c], obj.sampling_rate, obj.units[c]) for c, spec in jobs]
    _warn_gaps(obj.source.name if obj.source else "record", todo, [obj.channel_names[c] for c, _ in jobs])
    done = _denoise_channels(todo, device, threads, precision)
    for (c, _), y in zip(jobs, done):
        out[:, c] = y
    return obj.replace(data=out), DenoiseReport(models=used, copied=choice.copied)


def _noise_sigmas(before: Image, after: Image, estimate: Any = None) -> tuple[float | None, float | None]:
    """Estimated noise σ of an image before and after denoising: the input's is what
    ``biodae info`` prints (:func:`biodae.noise.estimate_noise`, or ``estimate``, its result
    already at hand), the output's is measured by the same method in the same voxels
    (``like=``), so the two compare."""
    from .noise import estimate_noise

    try:
        est = estimate if estimate is not None else estimate_noise(before)[0]
        if est.sigma is None:
            return None, None
        (out,) = estimate_noise(after, like=[est])
    except Exception:  # an estimate is informative only; never fail the denoising for it
        return None, None
    return est.sigma, out.sigma


def _input_noise(image: Image) -> Any:
    """:func:`biodae.noise.estimate_noise` of an image, or None where it fails (it is informative only)."""
    from .noise import estimate_noise

    try:
        return estimate_noise(image)[0]
    except Exception:
        return None


def image_slicing_axis(image: Image, axis: int | None) -> int | None:
    """The axis an image model slices ``image`` along: None for a 2-D image, 0 (frames) for DICOM
    and TIFF series, ``axis`` or the coarsest voxel axis (:func:`biodae._arrays.slice_axis`) for NIfTI."""
    from ._arrays import slice_axis

    shape = image.data.shape
    if len(shape) < 3:
        return None
    if image.format != "nifti":
        if axis not in (None, 0):
            raise InputError(f"axis={axis}: a {image.format.upper()} series is denoised frame by frame",
                             "leave out axis= for DICOM and TIFF inputs")
        return 0
    if axis is None:
        return slice_axis(image.spacing, shape[:3])
    if axis not in (0, 1, 2):
        raise InputError(f"axis= must be 0, 1 or 2 for a volume, got {axis}")
    return axis


def denoise_image(
    image: Image, model: Any = None, *, axis: int | None = None, mask: np.ndarray | None = None,
    device: str = "cpu", threads: int | None = None, progress: bool | None = False, precision: str = "fp32",
    noise_floor: bool = True,
) -> tuple[Image, DenoiseReport]:
    """Denoise an :class:`~biodae.io.Image` (2D, 3D or 4D) with an image model.

    Volumes are denoised slice by slice along ``axis`` (default: the axis with the
    coarsest voxel size, :func:`biodae._arrays.slice_axis`); multi-frame DICOM and
    multi-page TIFF frame by frame. The output keeps the input's geometry and metadata,
    float32 intensities clipped to the input's range.

    MR images whose air fits the noise of N > 1 coils (root-sum-of-squares, the noise
    estimate :func:`biodae.noise.estimate_noise` prints) first lose the noise floor of all
    but one coil (:func:`biodae.noise.remove_noise_floor`, with the level measured in the air
    and in the object, :func:`biodae.noise.level_in_object`): the Rician-trained model then
    sees the floor it knows. The report's ``noise_floor`` holds that N (None: not done).

    Parameters
    ----------
    image : Image
    model : str, path or Model, optional
        Default: the image's modality's model (:func:`biodae._modality.default_model`).
    axis : {0, 1, 2}, optional
        Slicing axis of a NIfTI volume.
    mask : ndarray of bool, optional
        Same spatial shape: denoise inside, copy the input outside.
    progress : bool or None
        A progress bar over slices (None: only on a terminal).
    precision : {"fp32", "int8", "auto"}, default "fp32"
        As in :func:`denoise`.
    noise_floor : bool, default True
        Remove the noise floor of N > 1 coils before the model (MRI; see above). False: the
        model sees the magnitude as it is (``biodae denoise --keep-noise-floor``).

    Returns
    -------
    (Image, DenoiseReport)
        The report has ``model``, ``axis``, ``sigma_before``, ``sigma_after``,
        ``noise_floor`` (the N whose floor was removed, or None) and ``noise`` (input minus
        output, float32; 0 where the input is not finite),
        computed when ``report["noise"]`` is first read.
    """
    _check_precision(precision)
    name = model if model is not None else default_model(image)
    m = _model(name, device, threads, precision)
    if m.spatial_dims != 2:
        raise InputError(
            f"{image.source.name if image.source else 'image'}: model {m.name!r} is a {m.modality.upper()} signal "
            f"model and cannot denoise an image",
            "leave out model= to use the image model for this file (mri or xray), or name one",
        )
    data = np.asarray(image.data, dtype=np.float32)
    axis = image_slicing_axis(image, axis)
    if mask is not None:
        mask = np.asarray(mask) != 0
        if mask.shape not in (data.shape, data.shape[:3]):
            raise InputError(f"mask shape {mask.shape} differs from the image's {data.shape}",
                             "pass a mask on the same voxel grid (same NIfTI dimensions)")
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        log.warning("%s: %d of %d voxels are NaN or infinite; they are copied to the output as they are",
                    image.source.name if image.source else "image", bad, data.size)
    n_slices = 1 if data.ndim == 2 else data.shape[axis] * (data.shape[3] if data.ndim == 4 else 1)
    from tqdm import tqdm

    est = _input_noise(image)
    model_in, floor = _without_noise_floor(data, est, m.modality) if noise_floor else (data, None)
    with tqdm(total=n_slices, desc=f"biodae {m.name}", unit="slice", disable=None if progress is None else not progress,
              leave=False) as bar:
        out = m.denoise_image(model_in, axis=axis, mask=mask, progress=bar.update)
    del model_in
    if floor is not None and mask is not None:  # outside the mask the input, not its floor-free version
        np.copyto(out, data, where=~np.broadcast_to(mask if mask.shape == data.shape else mask[..., None], data.shape))
    before, after = _noise_sigmas(image, image.replace(data=out), est)

    def removed() -> np.ndarray:
        with np.errstate(invalid="ignore"):  # inf - inf where the input is infinite: nothing was removed there
            return np.where(np.isfinite(data), data - out, np.float32(0)) if bad else data - out

    rep = DenoiseReport(model=m.label, axis=axis, sigma_before=before, sigma_after=after,
                        noise_floor=floor, lazy={"noise": removed})
    return image.replace(data=out), rep


def _without_noise_floor(data: np.ndarray, est: Any, modality: str) -> tuple[np.ndarray, float | None]:
    """What an MRI model is given: ``data`` with the noise floor of all but one of its coils
    removed where the air fits a χ of N > 1 coils (:func:`biodae.noise.remove_noise_floor`
    with the level of :func:`biodae.noise._estimate.noise_floor`), so the Rician-trained
    model sees the floor it knows; else ``data`` itself. The second item is that N, or None."""
    from .noise import remove_noise_floor
    from .noise._estimate import noise_floor

    if modality != "mri" or est is None:
        return data, None
    try:
        found = noise_floor(est, data)
    except Exception as exc:  # the correction helps; failing to measure it must not stop the denoising
        log.warning("noise floor not removed: %s", exc)
        return data, None
    if found is None:
        return data, None
    coils, level, air = found
    log.info("removing the noise floor of N≈%.1f coils before the model (sigma %.4g in the air)", coils, est.sigma)
    if data.ndim == 4:
        level, air = level[..., None], air[..., None]
    return remove_noise_floor(data, level, coils, air=air), coils
