"""Real EEG artefacts to mix into clean EEG: ocular (EOG) and muscle (EMG).

EEGdenoiseNet's own artefact epochs could not be obtained, so its protocol is rebuilt
from two real sources (say so next to any result):

- EOG: the ``EOG1``/``EOG2`` channels of the EEGLAB tutorial recording (128 Hz, 238 s,
  µV), band-passed 0.3–10 Hz as EEGdenoiseNet did for its EOG;
- EMG: NSTDB's muscle-artefact record ``ma`` (360 Hz, mV), high-passed above 20 Hz.

Each source is split by time *before* any filtering or resampling, so no test sample
influences a training sample:

=========  =================================  =======================================
split      EOG (both channels)                EMG (NSTDB ``ma``, see ``nstdb_split``)
=========  =================================  =======================================
``train``  ``[0, ⌊0.7·N⌋)``                   channel 0, ``[0, ⌊0.7·N⌋)``
``val``    ``[⌊0.7·N⌋, ⌊0.8·N⌋)``             channel 1, ``[⌊0.7·N⌋, ⌊0.8·N⌋)``
``test``   ``[⌊0.8·N⌋, N)``                   channel 1, ``[⌊0.8·N⌋, N)``
=========  =================================  =======================================

The last 20% of each source is never used for training or validation.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

from .._errors import InputError
from ._common import (
    RNGLike,
    as_generator,
    check_choice,
    positive_rate,
    random_slice,
    readonly,
    resample,
    resolve_data_dir,
    segment_length,
)
from ._nstdb import NSTDB_SAMPLING_RATE, _read_cached, _record_key, nstdb_split_bounds

__all__ = [
    "ARTIFACT_SPLITS",
    "EOG_CHANNELS",
    "artifact_split_bounds",
    "eog_from_eeglab",
    "eog_segment",
    "emg_from_nstdb_ma",
    "emg_segment",
]

#: Valid ``split`` names of the EOG and EMG sources.
ARTIFACT_SPLITS = ("train", "val", "test")
#: The ocular channels taken from the EEGLAB recording, in this order.
EOG_CHANNELS = ("EOG1", "EOG2")

_EEGLAB_SUBDIR = ("eeg", "eeglab")
_EEGLAB_SET = "eeglab_data.set"
_FILTER_ORDER = 4


def artifact_split_bounds(split: str, *, n_samples: int) -> tuple[int, int]:
    """Sample range ``[start, stop)`` of an EOG split (fractions 0–0.7–0.8–1 of the record).

    Parameters
    ----------
    split : {"train", "val", "test"}
        Split name.
    n_samples : int
        Length of the source recording at its native rate.

    Returns
    -------
    start, stop : int

    Examples
    --------
    >>> artifact_split_bounds("test", n_samples=30504)
    (24403, 30504)
    """
    check_choice(split, ARTIFACT_SPLITS, "artefact split")
    n = int(n_samples)
    return {"train": (0, n * 7 // 10), "val": (n * 7 // 10, n * 8 // 10), "test": (n * 8 // 10, n)}[split]


def _stamp(path: os.PathLike[str] | str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=4)
def _read_eeglab_eog(set_path: str, stamp: tuple[int, int]) -> tuple[np.ndarray, float]:
    """EOG1/EOG2 of an EEGLAB .set/.fdt pair: ``(data (n_samples, 2) µV, srate)``."""
    from ..io import read_eeglab

    data, srate, labels = read_eeglab(set_path, required=EOG_CHANNELS)
    eog = data[:, [labels.index(c) for c in EOG_CHANNELS]]
    if not np.all(np.isfinite(eog)):
        raise InputError(f"the EOG channels of {set_path!r} hold NaN or infinite samples")
    return readonly(np.ascontiguousarray(eog)), srate


def _eeglab_set(data_dir: str | os.PathLike[str] | None) -> str:
    folder = resolve_data_dir(data_dir, "the EEGLAB EOG recording").joinpath(*_EEGLAB_SUBDIR)
    path = folder / _EEGLAB_SET
    if not path.is_file():
        raise InputError(
            f"EEGLAB tutorial dataset not found: {str(path)!r}",
            "point data_dir/BIODAE_DATA at the data folder holding eeg/eeglab/eeglab_data.set and .fdt",
        )
    return str(path.resolve())


def _check_band(band: Sequence[float], nyquist: float) -> tuple[float, float]:
    try:
        lo, hi = (float(b) for b in band)
    except (TypeError, ValueError):
        raise InputError(f"band must be (low, high) in Hz, got {band!r}") from None
    if not (0 < lo < hi < nyquist):
        raise InputError(f"band must satisfy 0 < low < high < {nyquist:g} Hz (Nyquist), got {band!r}")
    return lo, hi


@functools.lru_cache(maxsize=16)
def _eog_cached(
    set_path: str, stamp: tuple[int, int], split: str, rate: float, band: tuple[float, float]
) -> np.ndarray:
    from scipy import signal as _signal

    data, fs = _read_eeglab_eog(set_path, stamp)
    lo, hi = _check_band(band, fs / 2)
    start, stop = artifact_split_bounds(split, n_samples=data.shape[0])
    sos = _signal.butter(_FILTER_ORDER, [lo, hi], btype="bandpass", fs=fs, output="sos")
    part = _signal.sosfiltfilt(sos, data[start:stop], axis=0)  # this split's samples only
    return readonly(resample(part, fs, rate, axis=0))


def eog_from_eeglab(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    sampling_rate: float,
    split: str,
    band: Sequence[float] = (0.3, 10.0),
) -> np.ndarray:
    """Real ocular artefacts: the EOG channels of the EEGLAB tutorial recording.

    The split's samples are cut from the 128 Hz recording, band-passed (zero-phase
    Butterworth, order 4 per edge) and resampled to ``sampling_rate``.

    Parameters
    ----------
    data_dir : path-like, optional
        Data folder holding ``eeg/eeglab/eeglab_data.set`` and ``.fdt``; defaults to
        ``$BIODAE_DATA``.
    sampling_rate : float
        Output rate in Hz (e.g. 256 for the EEGdenoiseNet protocol).
    split : {"train", "val", "test"}
        Time range, see the module table (the last 20% is ``test``).
    band : (float, float), optional
        Band-pass edges in Hz (default 0.3–10 Hz, EEGdenoiseNet's EOG band).

    Returns
    -------
    ndarray of float64, shape (n_samples, 2)
        ``EOG1`` and ``EOG2`` (:data:`EOG_CHANNELS`) in µV at ``sampling_rate``.

    References
    ----------
    .. [1] A. Delorme, S. Makeig, "EEGLAB: an open source toolbox for analysis of
       single-trial EEG dynamics", J. Neurosci. Methods 134(1):9-21, 2004 (tutorial data).
    .. [2] H. Zhang et al., "EEGdenoiseNet: a benchmark dataset for deep learning
       solutions of EEG denoising", J. Neural Eng. 18:056057, 2021.
    """
    return np.array(_eog_readonly(data_dir, sampling_rate, split, band), copy=True)


def _eog_readonly(
    data_dir: str | os.PathLike[str] | None, sampling_rate: float, split: str, band: Sequence[float]
) -> np.ndarray:
    check_choice(split, ARTIFACT_SPLITS, "artefact split")
    rate = positive_rate(sampling_rate)
    lo_hi = _check_band(band, np.inf)
    path = _eeglab_set(data_dir)
    return _eog_cached(path, _stamp(path), split, rate, lo_hi)


def eog_segment(
    split: str,
    *,
    length: int,
    sampling_rate: float,
    rng: RNGLike,
    data_dir: str | os.PathLike[str] | None = None,
    channel: int | None = None,
    band: Sequence[float] = (0.3, 10.0),
) -> np.ndarray:
    """A random EOG segment from one split (random channel, then random start).

    Parameters
    ----------
    split : {"train", "val", "test"}
        Time range the segment comes from.
    length : int
        Segment length in samples at ``sampling_rate``.
    sampling_rate : float
        Output rate in Hz.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).
    data_dir : path-like, optional
        Data folder (default ``$BIODAE_DATA``).
    channel : {0, 1}, optional
        Fix the channel (0 = EOG1, 1 = EOG2) instead of drawing it.
    band : (float, float), optional
        Band-pass edges in Hz, see :func:`eog_from_eeglab`.

    Returns
    -------
    ndarray of float64, shape (length,)
        EOG in µV.

    References
    ----------
    .. [1] H. Zhang et al., J. Neural Eng. 18:056057, 2021.
    """
    n = segment_length(length)
    gen = as_generator(rng)
    part = _eog_readonly(data_dir, sampling_rate, split, band)
    if channel is None:
        ch = int(gen.integers(0, part.shape[1]))
    elif channel in (0, 1):
        ch = int(channel)
    else:
        raise InputError(f"channel must be 0 (EOG1), 1 (EOG2) or None, got {channel!r}")
    return random_slice(part[:, ch], n, gen, f"EOG split {split!r}")


@functools.lru_cache(maxsize=16)
def _emg_cached(
    record: str, stamp: tuple[int, int, int, int], split: str, rate: float, highpass: float
) -> np.ndarray:
    from scipy import signal as _signal

    data = _read_cached(record, stamp)
    channel, start, stop = nstdb_split_bounds(split, n_samples=data.shape[0])
    sos = _signal.butter(_FILTER_ORDER, highpass, btype="highpass", fs=NSTDB_SAMPLING_RATE, output="sos")
    part = _signal.sosfiltfilt(sos, data[start:stop, channel])  # this split's samples only
    return readonly(resample(part, NSTDB_SAMPLING_RATE, rate))


def _emg_readonly(
    split: str, sampling_rate: float, highpass: float, data_dir: str | os.PathLike[str] | None
) -> np.ndarray:
    check_choice(split, ARTIFACT_SPLITS, "artefact split")
    rate = positive_rate(sampling_rate)
    fc = positive_rate(highpass, "highpass")
    if fc >= min(NSTDB_SAMPLING_RATE, rate) / 2:
        raise InputError(
            f"highpass {fc:g} Hz leaves nothing below the Nyquist frequency "
            f"{min(NSTDB_SAMPLING_RATE, rate) / 2:g} Hz",
            "lower highpass or raise sampling_rate",
        )
    return _emg_cached(*_record_key("ma", data_dir), split, rate, fc)


def emg_from_nstdb_ma(
    split: str,
    *,
    sampling_rate: float,
    data_dir: str | os.PathLike[str] | None = None,
    highpass: float = 20.0,
) -> np.ndarray:
    """Real muscle artefact: NSTDB ``ma``, high-passed and resampled, for EEG mixing.

    The split's samples (channel and time as in :func:`nstdb_split`) are high-passed
    (zero-phase Butterworth, order 4) at 360 Hz and then resampled to ``sampling_rate``
    (which also low-passes them below the new Nyquist frequency).

    Parameters
    ----------
    split : {"train", "val", "test"}
        NSTDB split, see :func:`nstdb_split_bounds`.
    sampling_rate : float
        Output rate in Hz.
    data_dir : path-like, optional
        Data folder holding ``ecg/nstdb/ma.*`` (default ``$BIODAE_DATA``).
    highpass : float, optional
        Cut-off in Hz (default 20 Hz: surface EMG lies above it; the motion and
        baseline content of ``ma`` lies below).

    Returns
    -------
    ndarray of float64, shape (n,)
        EMG-like noise in mV (rescale it with :func:`mix_at_snr`).

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, Computers in Cardiology 11:381-384, 1984.
    .. [2] C. J. De Luca et al., "Filtering the surface EMG signal: movement artifact and
       baseline noise contamination", J. Biomech. 43(8):1573-1579, 2010.
    """
    return np.array(_emg_readonly(split, sampling_rate, highpass, data_dir), copy=True)


def emg_segment(
    split: str,
    *,
    length: int,
    sampling_rate: float,
    rng: RNGLike,
    data_dir: str | os.PathLike[str] | None = None,
    highpass: float = 20.0,
) -> np.ndarray:
    """A random EMG segment from one split of :func:`emg_from_nstdb_ma`.

    Parameters
    ----------
    split : {"train", "val", "test"}
        Split the segment comes from.
    length : int
        Segment length in samples at ``sampling_rate``.
    sampling_rate : float
        Output rate in Hz.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).
    data_dir : path-like, optional
        Data folder (default ``$BIODAE_DATA``).
    highpass : float, optional
        Cut-off in Hz, see :func:`emg_from_nstdb_ma`.

    Returns
    -------
    ndarray of float64, shape (length,)
        EMG-like noise in mV.

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, Computers in Cardiology 11:381-384, 1984.
    """
    n = segment_length(length)
    gen = as_generator(rng)
    part = _emg_readonly(split, sampling_rate, highpass, data_dir)
    return random_slice(part, n, gen, f"EMG split {split!r}")
