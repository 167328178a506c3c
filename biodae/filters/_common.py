"""Input rules shared by the classical filters.

The one rule that decides what an array is:

* ``sampling_rate`` given (Hz)  -> a **signal**: shape ``(n_samples,)`` or
  ``(n_samples, n_channels)``, time on axis 0, filtered channel by channel,
  returned as float64 in the input's shape.
* ``sampling_rate`` omitted     -> an **image**: shape ``(rows, cols)`` or a
  3D volume, returned as float32 (float64 input stays float64).

Anything that fits neither (a 1D array without ``sampling_rate``, a 3D array
with one, an image axis shorter than 3 pixels, time apparently on axis 1) is
refused with an :class:`~biodae._errors.InputError` that says which rule failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from biodae._errors import InputError

__all__: list[str] = []

#: Fewest samples a signal may have.
MIN_SAMPLES = 3
#: Fewest pixels along every axis of an image.
MIN_PIXELS = 3


def check_sampling_rate(sampling_rate: object) -> float:
    """Return ``sampling_rate`` as a positive finite float, or raise."""
    try:
        fs = float(sampling_rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"sampling_rate must be a number in Hz, got {sampling_rate!r}",
            "pass e.g. sampling_rate=360.0",
        ) from None
    if not math.isfinite(fs) or fs <= 0:
        raise InputError(f"sampling_rate must be positive and finite, got {sampling_rate!r}",
                         "pass the recording's sampling rate in Hz")
    return fs


def _as_real_array(x: object) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"expected a numeric array, got dtype {arr.dtype}", "convert the data to float first")
    if np.iscomplexobj(arr):
        raise InputError("complex input is not supported", "filter the magnitude or the real and imaginary parts separately")
    return arr


def _check_finite(arr: np.ndarray) -> None:
    if arr.size and not np.all(np.isfinite(arr)):
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"input holds {n_bad} NaN or infinite value(s)", "interpolate or drop them before filtering")


def as_signal(x: object) -> tuple[np.ndarray, bool]:
    """Validate a signal and return it as a new float64 ``(n_samples, n_channels)`` array.

    Returns
    -------
    x2d : ndarray, shape (n_samples, n_channels), float64
        Always a fresh array, so callers may work on it in place.
    was_1d : bool
        Whether the input was 1D (use :func:`restore_signal` to give it back that shape).
    """
    arr = _as_real_array(x)
    if arr.ndim not in (1, 2):
        raise InputError(
            f"a signal must have shape (n_samples,) or (n_samples, n_channels), got shape {arr.shape}",
            "images and volumes are filtered without sampling_rate",
        )
    was_1d = arr.ndim == 1
    x2d = np.array(arr, dtype=np.float64, copy=True).reshape(arr.shape[0], -1)
    if x2d.shape[0] < MIN_SAMPLES:
        raise InputError(f"a signal needs at least {MIN_SAMPLES} samples, got {x2d.shape[0]}")
    if x2d.shape[1] > x2d.shape[0]:
        raise InputError(
            f"signal of shape {arr.shape} has more channels ({x2d.shape[1]}) than samples ({x2d.shape[0]})",
            "time must be on axis 0: pass x.T",
        )
    _check_finite(x2d)
    return x2d, was_1d


def restore_signal(y2d: np.ndarray, was_1d: bool) -> np.ndarray:
    """Give a filtered ``(n_samples, n_channels)`` array back the input's shape."""
    return y2d[:, 0] if was_1d else y2d


def image_dtype(arr: np.ndarray) -> np.dtype:
    """Output dtype of an image filter: float32, or float64 when the input is float64."""
    return np.dtype(np.float64) if arr.dtype == np.float64 else np.dtype(np.float32)


def as_image(x: object) -> tuple[np.ndarray, np.dtype]:
    """Validate an image (2D) or volume (3D); return a fresh float64 copy and the output dtype."""
    arr = _as_real_array(x)
    if arr.ndim == 1:
        raise InputError(
            "a 1D array was given without sampling_rate, which selects image mode",
            "for a signal pass sampling_rate=<Hz>; images must be 2D or 3D",
        )
    if arr.ndim not in (2, 3):
        raise InputError(
            f"an image must be 2D (rows, cols) or 3D (a volume), got shape {arr.shape}",
            "filter a 4D series volume by volume, or pass sampling_rate for a signal",
        )
    if min(arr.shape) < MIN_PIXELS:
        raise InputError(
            f"image of shape {arr.shape} has an axis shorter than {MIN_PIXELS} pixels",
            "if this is a (n_samples, n_channels) signal, pass sampling_rate=<Hz>",
        )
    out_dtype = image_dtype(arr)
    img = np.array(arr, dtype=np.float64, copy=True)
    _check_finite(img)
    return img, out_dtype


def check_axes(axes: object, ndim: int) -> tuple[int, ...]:
    """Normalise the image ``axes`` option (``None`` = all axes) to sorted non-negative ints."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    if not isinstance(axes, Sequence) or isinstance(axes, str):
        raise InputError(f"axes must be None, an int or a sequence of ints, got {axes!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise InputError(f"axes={tuple(axes)!r} is invalid for a {ndim}D image", f"use axes in range(-{ndim}, {ndim})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise InputError(f"axes={tuple(axes)!r} repeats an axis")
    if len(out) < 1:
        raise InputError("axes must name at least one axis")
    return tuple(sorted(out))


def odd_samples(seconds: float, sampling_rate: float, name: str) -> int:
    """Number of samples in a window of ``seconds``, rounded and made odd (centred window)."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a duration in seconds, got {seconds!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise InputError(f"{name} must be a positive duration in seconds, got {seconds!r}")
    n = int(round(s * sampling_rate))
    if n % 2 == 0:
        n += 1
    if n < 3:
        raise InputError(
            f"{name}={s} s is only {max(int(round(s * sampling_rate)), 0)} sample(s) at {sampling_rate:g} Hz",
            f"use at least {3 / sampling_rate:.4g} s (3 samples)",
        )
    return n


def reject_params(mode: str, **given: object) -> None:
    """Raise when parameters of the other mode (signal vs image) were given."""
    bad = sorted(k for k, v in given.items() if v is not None and v is not False)
    if not bad:
        return
    if mode == "image":
        raise InputError(
            f"{', '.join(bad)} appl{'ies' if len(bad) == 1 else 'y'} to signals, but no sampling_rate was given (image mode)",
            "pass sampling_rate=<Hz> to filter a signal",
        )
    raise InputError(
        f"{', '.join(bad)} appl{'ies' if len(bad) == 1 else 'y'} to images, but sampling_rate was given (signal mode)",
        "omit sampling_rate to filter an image",
    )


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Validate a string option against its allowed values."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name}={value!r} is not valid", f"choose one of {', '.join(repr(c) for c in choices)}")
    return value
