"""Helpers shared by the noise modules: RNG, data folder, validation, resampling."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._arrays import rational_ratio, resample  # noqa: F401 - the noise modules' resampling
from .._errors import InputError
from ..types import RNGLike

__all__: list[str] = []


#: Environment variable naming the real-data folder (the one holding ``ecg/``, ``eeg/``...).
DATA_ENV = "BIODAE_DATA"

def as_generator(rng: RNGLike) -> np.random.Generator:
    """``np.random.default_rng(rng)``, with a clear error for anything else."""
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise InputError(
            f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}",
            "pass e.g. rng=0 or rng=np.random.default_rng(0)",
        )
    return np.random.default_rng(rng)


def float_dtype(*dtypes: np.dtype) -> np.dtype:
    """The floating dtype results are returned in: float32 stays float32, else float64."""
    return np.result_type(*dtypes, np.float32)


def as_finite_array(x: object, name: str) -> np.ndarray:
    """``np.asarray(x)`` checked to be real, non-empty and finite."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be a real-valued array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise InputError(
            f"{name} holds {n_bad} NaN or infinite value(s)",
            "replace or interpolate them before adding noise or estimating it",
        )
    return arr


def check_choice(value: str, valid: tuple[str, ...], name: str) -> str:
    """Validate a method/kind/split string against its list of valid values."""
    if value not in valid:
        raise InputError(f"unknown {name} {value!r}", f"valid values are: {', '.join(map(repr, valid))}")
    return value


def positive_rate(sampling_rate: object, name: str = "sampling_rate") -> float:
    try:
        fs = float(sampling_rate)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in Hz, got {sampling_rate!r}") from None
    if not (np.isfinite(fs) and fs > 0):
        raise InputError(f"{name} must be a positive number of Hz, got {sampling_rate!r}")
    return fs


def resolve_data_dir(data_dir: str | os.PathLike[str] | None, what: str) -> Path:
    """The real-data root: ``data_dir`` if given, else ``$BIODAE_DATA``."""
    if data_dir is None:
        env = os.environ.get(DATA_ENV)
        if not env:
            raise InputError(
                f"no data folder given to find {what}",
                f"pass data_dir=... or set the environment variable {DATA_ENV} to the data folder "
                "(the one holding ecg/ and eeg/)",
            )
        data_dir = env
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise InputError(f"data folder {str(root)!r} does not exist", f"check data_dir or {DATA_ENV}")
    return root


def readonly(x: np.ndarray) -> np.ndarray:
    x.setflags(write=False)
    return x


def random_slice(x: np.ndarray, length: int, rng: np.random.Generator, what: str) -> np.ndarray:
    """A copy of ``x[start:start + length]`` (along axis 0) with a uniformly random start."""
    n = int(x.shape[0])
    if length > n:
        raise InputError(
            f"segment length {length} is longer than the {what} ({n} samples at this rate)",
            "ask for a shorter segment or another split",
        )
    start = int(rng.integers(0, n - length + 1))
    return np.array(x[start : start + length], copy=True)


def segment_length(length: object) -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise InputError(f"length must be a positive integer number of samples, got {length!r}")
    return int(length)
