"""Real ECG noise from the MIT-BIH Noise Stress Test Database (NSTDB), with leak-free splits.

NSTDB holds three 30-minute, 2-channel noise records taken from ECG electrodes placed
where the ECG is barely visible: ``bw`` (baseline wander), ``em`` (electrode motion)
and ``ma`` (muscle artefact), at 360 Hz in mV.

Splits are defined on sample indices of the original 360 Hz record and separate
training from evaluation noise by channel *and* by time (the two channels were recorded
at the same time, so a channel split alone would leak the same events):

=========================  =========  ==========================================
split                      channel    samples (N = record length, 650000)
=========================  =========  ==========================================
``train``                  0 (noise1) ``[0, ⌊0.7·N⌋)``
``val``                    1 (noise2) ``[⌊0.7·N⌋, ⌊0.8·N⌋)``
``test``                   1 (noise2) ``[⌊0.8·N⌋, N)``
``deepfilter_v1_train``    0 (noise1) ``[0, ⌊N/2⌋)``
``deepfilter_v1_test``     1 (noise2) ``[⌊N/2⌋, N − 1)``
``deepfilter_v2_train``    1 (noise2) ``[0, ⌊N/2⌋)``
``deepfilter_v2_test``     0 (noise1) ``[⌊N/2⌋, N − 1)``
=========================  =========  ==========================================

The DeepFilter splits copy that repository's ``Data_Preparation`` exactly, including
its ``[half:-1]`` slice that drops the last sample.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from pathlib import Path

import numpy as np

from .._errors import BiodaeError, InputError
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

__all__ = [
    "NSTDB_KINDS",
    "NSTDB_SPLITS",
    "NSTDB_SAMPLING_RATE",
    "load_nstdb",
    "download_nstdb",
    "nstdb_split_bounds",
    "nstdb_split",
    "nstdb_segment",
]

#: The three NSTDB noise records.
NSTDB_KINDS = ("bw", "em", "ma")
#: Valid ``split`` names (see the module docstring for their channels and ranges).
NSTDB_SPLITS = (
    "train",
    "val",
    "test",
    "deepfilter_v1_train",
    "deepfilter_v1_test",
    "deepfilter_v2_train",
    "deepfilter_v2_test",
)
#: The rate NSTDB was recorded at (a fact of the database, checked on load), in Hz.
NSTDB_SAMPLING_RATE = 360.0

_SUBDIR = ("ecg", "nstdb")


def _nstdb_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return resolve_data_dir(data_dir, "the NSTDB noise records").joinpath(*_SUBDIR)


def nstdb_split_bounds(split: str, *, n_samples: int) -> tuple[int, int, int]:
    """Channel and sample range of an NSTDB split.

    Parameters
    ----------
    split : str
        One of :data:`NSTDB_SPLITS`.
    n_samples : int
        Length of the record in samples at its native 360 Hz (650000 for NSTDB).

    Returns
    -------
    channel, start, stop : int
        The split is ``record[start:stop, channel]``.

    Examples
    --------
    >>> nstdb_split_bounds("test", n_samples=650000)
    (1, 520000, 650000)
    """
    check_choice(split, NSTDB_SPLITS, "NSTDB split")
    n = int(n_samples)
    if n < 10:
        raise InputError(f"n_samples must be at least 10, got {n_samples!r}")
    half = n // 2
    table = {
        "train": (0, 0, n * 7 // 10),
        "val": (1, n * 7 // 10, n * 8 // 10),
        "test": (1, n * 8 // 10, n),
        "deepfilter_v1_train": (0, 0, half),
        "deepfilter_v1_test": (1, half, n - 1),
        "deepfilter_v2_train": (1, 0, half),
        "deepfilter_v2_test": (0, half, n - 1),
    }
    return table[split]


@functools.lru_cache(maxsize=8)
def _read_cached(record: str, stamp: tuple[int, int, int, int]) -> np.ndarray:
    import wfdb

    try:
        rec = wfdb.rdrecord(record)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read the WFDB record {record!r}: {exc}", "check the files or download them again"
        ) from exc
    if rec.p_signal is None or rec.p_signal.ndim != 2 or rec.p_signal.shape[1] != 2:
        raise InputError(f"{record!r} is not a 2-channel NSTDB noise record")
    if float(rec.fs) != NSTDB_SAMPLING_RATE:
        raise InputError(f"{record!r} is sampled at {rec.fs} Hz, NSTDB noise records are {NSTDB_SAMPLING_RATE:g} Hz")
    data = np.asarray(rec.p_signal, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise InputError(f"{record!r} holds NaN samples (invalid digital values)")
    return readonly(np.ascontiguousarray(data))


def _record_key(kind: str, data_dir: str | os.PathLike[str] | None) -> tuple[str, tuple[int, int, int, int]]:
    """The record path and a stamp of its files (so a changed file is read again)."""
    check_choice(kind, NSTDB_KINDS, "NSTDB record")
    folder = _nstdb_dir(data_dir)
    hea, dat = folder / f"{kind}.hea", folder / f"{kind}.dat"
    if not (hea.is_file() and dat.is_file()):
        raise InputError(
            f"NSTDB record {kind!r} not found in {str(folder)!r} (need {kind}.hea and {kind}.dat)",
            "call biodae.noise.download_nstdb(data_dir) once, or point data_dir/BIODAE_DATA at the data folder",
        )
    s_h, s_d = hea.stat(), dat.stat()
    stamp = (s_h.st_mtime_ns, s_h.st_size, s_d.st_mtime_ns, s_d.st_size)
    return str(folder.resolve() / kind), stamp


def load_nstdb(kind: str, *, data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Read a whole NSTDB noise record.

    Parameters
    ----------
    kind : {"bw", "em", "ma"}
        Baseline wander, electrode motion or muscle artefact.
    data_dir : path-like, optional
        The data folder holding ``ecg/nstdb/<kind>.hea|.dat``. Defaults to the
        environment variable ``BIODAE_DATA``.

    Returns
    -------
    ndarray of float64, shape (n_samples, 2)
        Both channels (``noise1``, ``noise2``) in mV at 360 Hz
        (:data:`NSTDB_SAMPLING_RATE`); 650000 samples for the real database.
        A fresh copy: records are cached read-only inside the module.

    Raises
    ------
    InputError
        Unknown ``kind``, no data folder, missing or unreadable files, not 360 Hz.

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, "A noise stress test for arrhythmia
       detectors", Computers in Cardiology 11:381-384, 1984.
    .. [2] A. L. Goldberger et al., "PhysioBank, PhysioToolkit, and PhysioNet",
       Circulation 101(23):e215-e220, 2000 (data under ODC-By 1.0).
    """
    return np.array(_read_cached(*_record_key(kind, data_dir)), copy=True)


def download_nstdb(dest_dir: str | os.PathLike[str]) -> Path:
    """Download the NSTDB noise records ``bw``, ``em``, ``ma`` from PhysioNet.

    Files go to ``<dest_dir>/ecg/nstdb/``, the layout :func:`load_nstdb` reads, so
    afterwards ``load_nstdb(kind, data_dir=dest_dir)`` works. Uses
    ``wfdb.dl_database("nstdb", ...)`` (network access needed; wfdb's progress messages
    are suppressed). Existing complete files are not downloaded again.

    Parameters
    ----------
    dest_dir : path-like
        Data folder to download into (created if needed).

    Returns
    -------
    Path
        The folder holding the records, ``<dest_dir>/ecg/nstdb``.

    Raises
    ------
    BiodaeError
        The download failed, or did not produce the expected files.

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, Computers in Cardiology 11:381-384, 1984.
    """
    import wfdb

    folder = Path(dest_dir).expanduser().joinpath(*_SUBDIR)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            wfdb.dl_database("nstdb", dl_dir=str(folder), records=list(NSTDB_KINDS), annotators=None)
    except Exception as exc:  # network, HTTP and file errors all mean the same to the user
        raise BiodaeError(
            f"downloading NSTDB from PhysioNet into {str(folder)!r} failed: {exc}",
            "check the network connection, or copy bw/em/ma .hea/.dat there by hand",
        ) from exc
    missing = [f"{k}{ext}" for k in NSTDB_KINDS for ext in (".hea", ".dat") if not (folder / f"{k}{ext}").is_file()]
    if missing:
        raise BiodaeError(
            f"after downloading NSTDB, {', '.join(missing)} missing in {str(folder)!r}",
            "try again, or copy the files by hand",
        )
    return folder


@functools.lru_cache(maxsize=32)
def _split_cached(record: str, stamp: tuple[int, int, int, int], split: str, rate: float) -> np.ndarray:
    data = _read_cached(record, stamp)
    channel, start, stop = nstdb_split_bounds(split, n_samples=data.shape[0])
    # Only this split's samples are resampled: nothing from a neighbouring split leaks in.
    return readonly(resample(data[start:stop, channel], NSTDB_SAMPLING_RATE, rate))


def _split_readonly(
    kind: str, split: str, sampling_rate: float | None, data_dir: str | os.PathLike[str] | None
) -> np.ndarray:
    check_choice(split, NSTDB_SPLITS, "NSTDB split")
    rate = NSTDB_SAMPLING_RATE if sampling_rate is None else positive_rate(sampling_rate)
    return _split_cached(*_record_key(kind, data_dir), split, rate)


def nstdb_split(
    kind: str,
    split: str,
    *,
    sampling_rate: float | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """The whole noise signal of one NSTDB split, optionally resampled.

    Parameters
    ----------
    kind : {"bw", "em", "ma"}
        NSTDB noise record.
    split : str
        One of :data:`NSTDB_SPLITS`; channels and ranges in :func:`nstdb_split_bounds`.
    sampling_rate : float, optional
        Output rate in Hz. ``None`` keeps NSTDB's native 360 Hz. Otherwise the split
        alone (never its neighbours) is resampled with ``scipy.signal.resample_poly`` by
        the rational approximation of ``sampling_rate / 360`` (denominator <= 1000).
    data_dir : path-like, optional
        Data folder (default: ``$BIODAE_DATA``), see :func:`load_nstdb`.

    Returns
    -------
    ndarray of float64, shape (n,)
        Noise in mV.

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, Computers in Cardiology 11:381-384, 1984.
    .. [2] F. P. Romero et al., "DeepFilter: an ECG baseline wander removal filter using
       deep learning techniques", Biomed. Signal Process. Control 70:102992, 2021
       (the ``deepfilter_v*`` splits).
    """
    return np.array(_split_readonly(kind, split, sampling_rate, data_dir), copy=True)


def nstdb_segment(
    kind: str,
    split: str,
    *,
    length: int,
    rng: RNGLike,
    sampling_rate: float | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """A random contiguous noise segment from one NSTDB split.

    The start is drawn uniformly over the (resampled) split, so every sample comes from
    that split's channel and time range only.

    Parameters
    ----------
    kind : {"bw", "em", "ma"}
        NSTDB noise record.
    split : str
        One of :data:`NSTDB_SPLITS`.
    length : int
        Segment length in samples at ``sampling_rate``.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).
    sampling_rate : float, optional
        Output rate in Hz; ``None`` keeps the native 360 Hz. See :func:`nstdb_split`.
    data_dir : path-like, optional
        Data folder (default: ``$BIODAE_DATA``).

    Returns
    -------
    ndarray of float64, shape (length,)
        Noise in mV.

    Raises
    ------
    InputError
        ``length`` longer than the split, or any error of :func:`nstdb_split`.

    References
    ----------
    .. [1] G. B. Moody, W. E. Muldrow, R. G. Mark, Computers in Cardiology 11:381-384, 1984.
    """
    n = segment_length(length)
    gen = as_generator(rng)
    part = _split_readonly(kind, split, sampling_rate, data_dir)
    return random_slice(part, n, gen, f"NSTDB {kind!r} split {split!r}")
