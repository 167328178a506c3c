"""``biodae.denoise``: run a shipped (or any biodae ONNX) model on arrays, records and images."""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from ._errors import InputError
from ._modality import signal_modalities
from .io._containers import Image, Signal

__all__ = ["denoise", "denoise_record", "DenoiseReport"]

log = logging.getLogger("biodae")
_CACHE: dict[tuple[str, str, int | None], Any] = {}


def _model(model: Any, device: str, threads: int | None):
    from .runtime import Model, load_model

    if isinstance(model, Model):
        return model
    key = (os.fspath(model), device, threads)
    if key not in _CACHE:
        _CACHE[key] = load_model(model, device=device, threads=threads)
    return _CACHE[key]


class DenoiseReport(dict):
    """What :func:`denoise_record` did: models used per channel, channels copied."""


def denoise(
    x: np.ndarray | Signal | Image,
    model: Any = "ecg",
    *,
    sampling_rate: float | None = None,
    units: str | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> np.ndarray | Signal | Image:
    """Denoise a signal array, a :class:`~biodae.io.Signal` or an :class:`~biodae.io.Image`.

    Parameters
    ----------
    x : ndarray of shape (n_samples,) or (n_samples, n_channels), or Signal, or Image
        Arrays are in the model's units (mV for ``"ecg"``, µV for ``"eeg"``) unless
        ``units`` says otherwise; channels are denoised one by one.
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

    Returns
    -------
    Same type and shape as ``x``.

    Examples
    --------
    >>> clean = biodae.denoise(ecg_mv, model="ecg", sampling_rate=500)  # doctest: +SKIP
    """
    if isinstance(x, (Signal, Image)):
        return denoise_record(x, model, device=device, threads=threads)[0]
    if sampling_rate is None:
        raise InputError("sampling_rate is required to denoise an array", "pass sampling_rate=<Hz>")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise InputError(f"expected an array (n_samples,) or (n_samples, n_channels), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("the array holds NaN or infinite values", "interpolate or remove them first")
    m = _model(model, device, threads)
    if arr.ndim == 1:
        return m.denoise_signal(arr, sampling_rate=float(sampling_rate), units=units)
    return np.stack(
        [m.denoise_signal(arr[:, c], sampling_rate=float(sampling_rate), units=units) for c in range(arr.shape[1])],
        axis=1,
    )


def denoise_record(
    obj: Signal | Image, model: Any = None, *, device: str = "cpu", threads: int | None = None
) -> tuple[Signal | Image, DenoiseReport]:
    """Denoise a whole record; return a copy with the same metadata and a report.

    Without ``model``, each ECG channel gets the ``"ecg"`` model and each EEG channel
    the ``"eeg"`` model (from channel names and units); other channels (PPG,
    respiration, annotations...) are copied unchanged. With ``model``, every channel
    is denoised with it.
    """
    from ._pipeline import check_finite

    check_finite(obj)
    if isinstance(obj, Image):
        raise InputError(
            f"{obj.source.name if obj.source else 'image'}: image denoising models are not shipped yet",
            "use 'biodae filter' for images for now",
        )
    mods = signal_modalities(obj)
    out = np.array(obj.data, dtype=np.float64, copy=True)
    used: dict[str, list[str]] = {}
    copied: list[str] = []
    for c, cm in enumerate(mods):
        name = obj.channel_names[c]
        chosen = model if model is not None else (cm if cm in ("ecg", "eeg") else None)
        if chosen is None:
            copied.append(name)
            continue
        m = _model(chosen, device, threads)
        if model is not None and cm in ("ecg", "eeg") and m.modality and cm != m.modality:
            log.warning("channel %s looks like %s but the %s model %r was asked for", name, cm.upper(),
                        m.modality.upper(), m.name)
        out[:, c] = m.denoise_signal(obj.data[:, c], sampling_rate=obj.sampling_rate, units=obj.units[c])
        used.setdefault(f"{m.name} {m.version}".strip(), []).append(name)
    if not used:
        raise InputError(
            f"{obj.source.name if obj.source else 'record'}: no channel looks like ECG or EEG "
            f"(channels: {', '.join(obj.channel_names)})",
            "name the model to use with --model ecg|eeg|PATH",
        )
    return obj.replace(data=out), DenoiseReport(models=used, copied=copied)
