"""The DeepFilter benchmark data protocol (QT Database + NSTDB baseline wander), in numpy.

A faithful re-implementation of the data preparation of Romero et al., "DeepFilter"
(Biomed. Signal Process. Control 70:102992, 2021; repository ``fperdigon/DeepFilter``,
``Data_Preparation/``). See ``docs/ANCHORS.md`` ("ECG: the DeepFilter benchmark").

Steps, as in the reference code:

1. For every QT record (``*.dat`` in the ``qtdb`` folder, processed in **sorted**
   order), read the signal with ``wfdb.rdsamp`` and the ``.pu1`` annotations with
   ``wfdb.rdann``. For each P peak (``'p'``) take the last ``'('`` (wave onset)
   annotation before it as the P onset, and move it 40 ms earlier
   (``int(0.04 * fs)`` samples). Beats run from one P start to the next, first
   channel only; a window holding two or more ``'N'`` (R peak) annotations strictly
   inside it is dropped.
2. Each beat is resampled 250 -> 360 Hz with ``scipy.signal.resample_poly`` after
   mirror padding (``reversed(b) + b + reversed(b)``), keeping
   ``res[L - 1 : 2 * L - 1]`` with ``L = ceil(len(b) * 360 / fs)``.
3. ``(b[0] + b[-1]) / 2`` is subtracted and the beat is placed at offset 16 of a
   512-sample zero vector; beats longer than 496 samples are dropped.
4. The 14 test records (:data:`DEEPFILTER_TEST_RECORDS`) form the test set, all the
   others the training set.
5. Noise: NSTDB ``bw`` (``wfdb.rdsamp``), split at ``h = int(n / 2)``: half ``a`` is
   ``[0:h]``, half ``b`` is ``[h:-1]`` (the reference drops the very last sample).
   Version 1: train on channel 1 (index 0) half ``a``, test on channel 2 (index 1)
   half ``b``; version 2: train on channel 2 half ``a``, test on channel 1 half ``b``.
6. Amplitude: with ``np.random.seed(seed)``, one ``np.random.randint(20, 200) / 100``
   per beat, training beats first, then test beats. Noise is taken in consecutive
   512-sample chunks (the index restarts at 0 once it exceeds ``len(noise) - 512``;
   the test index starts at 0), and ``alpha = r / (ptp(noise) / ptp(beat))``,
   ``noisy = beat + alpha * noise``: the peak-to-peak of the added noise is ``r``
   times the beat's.

Everything is computed in float64 like the reference and cast to float32 at the end.
On all 105 records, both versions, the arrays equal (bit for bit, after the float32
cast) those of a line-by-line transcription of the reference run in the same record
order.

Counts on all 105 records: 74,448 training and 13,362 test beats before the
496-sample limit (exactly the reference's "before" figures), 72,002 and 13,316 after
it. The reference's "after" comment (71,893 / 13,306) was computed on its earlier
MATLAB preparation, whose inclusive cut ``x(Pstart(i):Pstart(i+1))`` and
``BeatRe(L:2*L)`` make every beat 2-3 samples longer; applying that length rule to
the same beats gives exactly 71,893 / 13,306.

Deviations from the reference, all documented in ``info``:

* **Record order.** The reference iterates ``glob.glob('*.dat')``, whose order depends
  on the file system; the order decides which ``r`` and which noise chunk each beat
  gets. We use sorted record names. Beat membership and counts do not depend on it.
* **Random numbers.** The reference seeds the *global* legacy generator. We draw the
  same stream from ``np.random.RandomState(seed).randint(20, 200, size=n)`` (which
  equals the per-beat ``np.random.randint(low=20, high=200, size=1)`` calls after
  ``np.random.seed(seed)``) and leave the caller's global state untouched.
* **Annotation edge cases** (none occurs in the 105 QT records, where the reference
  runs without error): a P peak with no ``'('`` before it is skipped (the reference
  raises ``IndexError``); a window starting before sample 0 after the 40 ms shift,
  ending past the end of the signal, or of zero length is dropped (the reference
  would wrap a negative index or crash on an empty beat). They are counted as
  ``edge`` drops.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DependencyError, InputError
from ._paths import cache_root

__all__ = [
    "DEEPFILTER_TEST_RECORDS",
    "DeepFilterData",
    "deepfilter_protocol",
    "qt_beats",
    "validation_split",
]

#: The 14 QT records of the DeepFilter test set (two per source database).
DEEPFILTER_TEST_RECORDS: tuple[str, ...] = (
    "sel123", "sel233",        # MIT-BIH Arrhythmia
    "sel302", "sel307",        # MIT-BIH ST Change
    "sel820", "sel853",        # MIT-BIH Supraventricular Arrhythmia
    "sel16420", "sel16795",    # MIT-BIH Normal Sinus Rhythm
    "sele0106", "sele0121",    # European ST-T
    "sel32", "sel49",          # BIH sudden death
    "sel14046", "sel15814",    # MIT-BIH Long-Term
)

FS_OUT = 360          # beats are resampled to the NSTDB rate
N_SAMPLES = 512       # window length
INIT_PADDING = 16     # beat offset in the window
MAX_BEAT_LEN = N_SAMPLES - INIT_PADDING  # 496
R_LOW, R_HIGH = 20, 200  # r = randint(R_LOW, R_HIGH) / 100, i.e. 0.20 ... 1.99

# Bump when anything that changes the produced arrays changes (invalidates caches).
_PROTOCOL_REVISION = 1

_EDGE_POLICY = (
    "P peaks with no '(' before them are skipped; windows starting before sample 0 "
    "(after the 40 ms shift), ending past the signal, or of zero length are dropped "
    "and counted as 'edge' (the reference would crash or wrap a negative index)"
)
_RNG_NOTE = (
    "np.random.RandomState(seed).randint(20, 200, size=n) / 100, train beats then test "
    "beats: the same stream as the reference's np.random.seed(seed) followed by "
    "per-beat np.random.randint(low=20, high=200, size=1) / 100; the global numpy RNG "
    "state is not touched"
)
_COUNTS_NOTE = (
    "the reference's comment 'train: 71893 test: 13306' (74448 / 13362 before the "
    "496-sample limit) comes from its earlier MATLAB preparation, which cut "
    "x(Pstart(i):Pstart(i+1)) inclusive and kept BeatRe(L:2*L), so its beats are 2-3 "
    "samples longer and more exceed 496; the Python preparation reproduced here keeps "
    "72002 / 13316 of the same 74448 / 13362 beats on all 105 records"
)
_ORDER_NOTE = (
    "records processed in sorted name order (the reference uses glob order, which is "
    "file-system dependent); beats kept in time order within a record"
)


@dataclass
class DeepFilterData:
    """Arrays of the DeepFilter benchmark for one noise version.

    Attributes
    ----------
    x_train, y_train : numpy.ndarray
        Noisy and clean training beats, float32, shape ``(n_train, 512)``.
    x_test, y_test : numpy.ndarray
        Noisy and clean test beats, float32, shape ``(n_test, 512)``.
    r_train, r_test : numpy.ndarray
        Noise amplitude ratio per beat (``ptp(noise) / ptp(beat)``), float64, in
        ``[0.20, 1.99]``; ``r_test`` gives the r-bucket table (0.2-0.6, 0.6-1.0,
        1.0-1.5, 1.5-2.0).
    record_train, record_test : numpy.ndarray
        QT record name of every beat (unicode strings).
    len_train, len_test : numpy.ndarray
        Length of every beat at 360 Hz (int32, at most 496); the beat occupies
        samples ``16 : 16 + len`` of its window, the rest is zero padding.
    info : dict
        Provenance and counts: ``beats_per_record``, ``per_record`` (P waves,
        windows, drops by reason, kept), ``dropped`` (``too_long``,
        ``two_or_more_r``, ``edge``, each split train/test), ``totals``, ``noise``
        (channel and sample range of each split), the notes on record order, random
        numbers and edge cases, and ``cache_file`` / ``from_cache``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    r_train: np.ndarray
    r_test: np.ndarray
    record_train: np.ndarray
    record_test: np.ndarray
    len_train: np.ndarray
    len_test: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        """Number of training beats."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test beats."""
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"DeepFilterData(version={self.info.get('version')}, seed={self.info.get('seed')}, "
            f"n_train={self.n_train}, n_test={self.n_test}, window={N_SAMPLES})"
        )


# --------------------------------------------------------------------------- paths


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> tuple[Path, Path]:
    """Return ``(qtdb_dir, bw_record)``; ``bw_record`` is the path without extension."""
    if data_dir is None:
        env = os.environ.get("BIODAE_DATA")
        if not env:
            raise InputError(
                "no data folder given for the DeepFilter protocol",
                "pass data_dir= or set the environment variable BIODAE_DATA to the folder "
                "holding ecg/qtdb and ecg/nstdb (e.g. BIODAE_DATA=../shared/data)",
            )
        data_dir = env
    root = Path(data_dir).expanduser()
    for base in (root / "ecg", root):
        qtdb, nstdb = base / "qtdb", base / "nstdb"
        if qtdb.is_dir() and (nstdb / "bw.hea").is_file():
            return qtdb.resolve(), (nstdb / "bw").resolve()
    raise InputError(
        f"no QT Database and NSTDB 'bw' record found under {root}",
        "expected ecg/qtdb/*.dat (+ .hea, .pu1) and ecg/nstdb/bw.hea (+ bw.dat) there; "
        "point data_dir / BIODAE_DATA at the shared data folder",
    )


def _list_records(qtdb_dir: Path, records: list[str] | tuple[str, ...] | None) -> list[str]:
    available = sorted(Path(p).name[: -len(".dat")] for p in glob.glob(str(qtdb_dir / "*.dat")))
    if not available:
        raise InputError(f"no *.dat records in {qtdb_dir}", "check the QT Database folder")
    if records is None:
        return available
    if isinstance(records, str):
        records = [records]
    wanted = [str(r) for r in records]
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise InputError(
            f"QT records not found in {qtdb_dir}: {', '.join(missing)}",
            "use record names such as 'sel100' (see the RECORDS file)",
        )
    if not wanted:
        raise InputError("records= is empty", "give at least one QT record name, or None for all")
    keep = set(wanted)
    return [r for r in available if r in keep]  # sorted, duplicates removed


# --------------------------------------------------------------------------- beats


def _resample_filter(fs_in: int, fs_out: int) -> np.ndarray:
    """The FIR filter ``resample_poly(x, fs_out, fs_in)`` designs with its defaults.

    Passing it as ``window=`` gives bit-identical results and skips re-designing it
    for every beat.
    """
    from scipy.signal import firwin

    g = math.gcd(fs_out, fs_in)
    max_rate = max(fs_out // g, fs_in // g)
    return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def qt_beats(record: str | os.PathLike, *, fs_out: int = FS_OUT) -> tuple[list[np.ndarray], dict[str, int]]:
    """Cut and resample the beats of one QT record as DeepFilter does.

    Parameters
    ----------
    record : str or path-like
        Record path without extension (``.../qtdb/sel100``); needs ``.hea``, ``.dat``
        and ``.pu1``.
    fs_out : int, optional
        Output sampling rate (360 Hz in the protocol).

    Returns
    -------
    beats : list of numpy.ndarray
        Resampled float64 beats of the first channel, in time order, before the
        offset removal and the 496-sample length limit.
    counts : dict
        ``p_waves``, ``p_without_onset``, ``windows`` (consecutive P-start pairs),
        ``dropped_edge``, ``dropped_two_or_more_r``, ``beats`` and ``fs`` (input
        sampling rate).
    """
    import wfdb
    from scipy.signal import resample_poly

    record = str(record)
    try:
        signal, fields = wfdb.rdsamp(record, channels=[0])
        ann = wfdb.rdann(record, "pu1")
    except FileNotFoundError as exc:
        raise InputError(f"cannot read QT record {record}: {exc}", "each record needs .hea, .dat and .pu1") from exc
    fs = int(fields["fs"])
    x = np.asarray(signal[:, 0], dtype=np.float64)
    sym = np.asarray(ann.symbol)
    samples = np.asarray(ann.sample, dtype=np.int64)
    p_idx = samples[sym == "p"]
    s_idx = samples[sym == "("]
    r_idx = np.sort(samples[sym == "N"])

    # ind[j] = last index i with p_idx[j] > s_idx[i] (the reference's np.where(...)[0][-1])
    before = p_idx[:, None] > s_idx[None, :]
    has_onset = before.any(axis=1) if s_idx.size else np.zeros(p_idx.size, dtype=bool)
    if s_idx.size:
        last = s_idx.size - 1 - np.argmax(before[:, ::-1], axis=1)
        p_start = s_idx[last[has_onset]]
    else:
        p_start = np.zeros(0, dtype=np.int64)
    p_start = p_start - int(0.04 * fields["fs"])

    counts = {
        "fs": fs,
        "p_waves": int(p_idx.size),
        "p_without_onset": int(np.sum(~has_onset)),
        "windows": max(int(p_start.size) - 1, 0),
        "dropped_edge": 0,
        "dropped_two_or_more_r": 0,
        "beats": 0,
    }
    h = _resample_filter(fs, fs_out)
    beats: list[np.ndarray] = []
    for k in range(p_start.size - 1):
        a, b = int(p_start[k]), int(p_start[k + 1])
        if a < 0 or b > x.size or b <= a:
            counts["dropped_edge"] += 1
            continue
        # number of R peaks strictly inside (a, b)
        n_r = np.searchsorted(r_idx, b, side="left") - np.searchsorted(r_idx, a, side="right")
        if n_r >= 2:
            counts["dropped_two_or_more_r"] += 1
            continue
        beat = x[a:b]
        n_out = math.ceil(len(beat) * fs_out / fs)
        padded = np.concatenate((beat[::-1], beat, beat[::-1]))
        res = resample_poly(padded, fs_out, fs, window=h)
        beats.append(np.asarray(res[n_out - 1 : 2 * n_out - 1], dtype=np.float64))
    counts["beats"] = len(beats)
    return beats, counts


# --------------------------------------------------------------------------- noise


def _noise_split(version: int, bw: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n = bw.shape[0]
    h = int(n / 2)
    if version == 1:
        (ch_tr, ch_te) = (0, 1)
    elif version == 2:
        (ch_tr, ch_te) = (1, 0)
    else:  # pragma: no cover - checked by the caller
        raise InputError(f"version must be 1 or 2, not {version!r}")
    train = bw[0:h, ch_tr]
    test = bw[h:-1, ch_te]
    spec = {
        "record": "nstdb/bw",
        "fs": FS_OUT,
        "n_samples": int(n),
        "train": {"channel": ch_tr, "start": 0, "stop": h},
        "test": {"channel": ch_te, "start": h, "stop": n - 1},
    }
    return train, test, spec


def _chunk_starts(n_beats: int, noise_len: int) -> np.ndarray:
    """Start index of the noise chunk of each beat (the reference's wrap-around rule)."""
    if noise_len < N_SAMPLES:
        raise InputError(f"noise segment of {noise_len} samples is shorter than {N_SAMPLES}")
    starts = np.empty(n_beats, dtype=np.int64)
    idx = 0
    for i in range(n_beats):
        starts[i] = idx
        idx += N_SAMPLES
        if idx > noise_len - N_SAMPLES:
            idx = 0
    return starts


def _place(beats: list[np.ndarray]) -> np.ndarray:
    """Float64 ``(n, 512)`` windows: beat minus the endpoint mean at offset 16."""
    out = np.zeros((len(beats), N_SAMPLES), dtype=np.float64)
    for i, b in enumerate(beats):
        out[i, INIT_PADDING : INIT_PADDING + b.shape[0]] = b - (b[0] + b[-1]) / 2
    return out


def _contaminate(
    beats: list[np.ndarray], noise: np.ndarray, r: np.ndarray, block: int = 4096
) -> tuple[np.ndarray, np.ndarray, int]:
    """Return float32 ``(x, y)`` and the number of flat (ptp 0) beats."""
    n = len(beats)
    x = np.empty((n, N_SAMPLES), dtype=np.float32)
    y = np.empty((n, N_SAMPLES), dtype=np.float32)
    starts = _chunk_starts(n, noise.shape[0])
    offs = np.arange(N_SAMPLES)
    n_flat = 0
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        y64 = _place(beats[lo:hi])
        nz = noise[starts[lo:hi, None] + offs]
        beat_ptp = np.max(y64, axis=1) - np.min(y64, axis=1)
        noise_ptp = np.max(nz, axis=1) - np.min(nz, axis=1)
        n_flat += int(np.sum(beat_ptp == 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ase = noise_ptp / beat_ptp  # a flat beat gives inf -> alpha 0, as in the reference
            alpha = r[lo:hi] / ase
        x[lo:hi] = y64 + alpha[:, None] * nz
        y[lo:hi] = y64
    return x, y, n_flat


# --------------------------------------------------------------------------- cache


def _cache_key(params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_ARRAYS = (
    "x_train", "y_train", "x_test", "y_test", "r_train", "r_test",
    "record_train", "record_test", "len_train", "len_test",
)


def _save_npz(path: Path, data: DeepFilterData, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                **{k: getattr(data, k) for k in _ARRAYS},
                info=np.array(json.dumps(data.info)),
                cache_key=np.array(key),
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_npz(path: Path, key: str) -> DeepFilterData | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["cache_key"][()]) != key:
                return None
            arrays = {k: z[k] for k in _ARRAYS}
            info = json.loads(str(z["info"][()]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
        return None  # unreadable or stale: rebuild
    return DeepFilterData(**arrays, info=info)


# --------------------------------------------------------------------------- public


def deepfilter_protocol(
    data_dir: str | os.PathLike | None = None,
    *,
    version: int = 1,
    seed: int = 1234,
    cache_dir: str | os.PathLike | None = None,
    records: list[str] | tuple[str, ...] | None = None,
    cache: bool = True,
    progress: bool = False,
) -> DeepFilterData:
    """Build (or load from cache) the DeepFilter benchmark arrays.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Folder holding ``ecg/qtdb`` and ``ecg/nstdb`` (or directly ``qtdb`` and
        ``nstdb``). Defaults to the environment variable ``BIODAE_DATA``.
    version : {1, 2}, optional
        Noise version. 1: train noise = NSTDB ``bw`` channel 1 first half, test noise
        = channel 2 second half. 2: channel 2 first half / channel 1 second half.
    seed : int, optional
        Seed of the legacy numpy generator for the amplitude ratios (1234 in the
        reference).
    cache_dir : str or path-like, optional
        Where the ``.npz`` cache lives. Defaults to ``BIODAE_CACHE`` or
        ``~/.cache/biodae``. The file name holds a hash of the parameters (version,
        seed, records, input folders, protocol revision); delete it to force a rebuild.
        The full build is about 356 MB per version (uncompressed ``.npz``, so it
        loads in about a second); it is written to a temporary file and renamed.
    records : sequence of str, optional
        Use only these QT records (e.g. ``["sel100", "sel123"]``, for quick tests).
        Records are always processed in sorted order. Default: all records.
    cache : bool, optional
        Read and write the cache (default True). False always rebuilds and writes
        nothing.
    progress : bool, optional
        Show a tqdm progress bar over the records.

    Returns
    -------
    DeepFilterData
        ``x_*`` noisy and ``y_*`` clean float32 ``(n, 512)`` windows, ``r_*`` the
        amplitude ratio per beat, ``record_*`` the record name per beat, ``info``.

    Raises
    ------
    biodae.InputError
        No data folder given (``BIODAE_DATA`` unset), the files are missing, an
        unknown record is asked for, or ``version`` is not 1 or 2.

    Notes
    -----
    Deviations from the reference code (record order, random state handling,
    annotation edge cases) are listed in the module documentation and in
    ``info["notes"]``. The test set has beats only when ``records`` includes test
    records; the training set only when it includes others.
    """
    if version not in (1, 2) or isinstance(version, bool):
        raise InputError(f"version must be 1 or 2, not {version!r}", "see docs/ANCHORS.md for the two noise versions")
    seed = int(seed)
    qtdb_dir, bw_record = _resolve_data_dir(data_dir)
    names = _list_records(qtdb_dir, records)

    params = {
        "protocol": "deepfilter-qtdb-nstdb-bw",
        "revision": _PROTOCOL_REVISION,
        "version": version,
        "seed": seed,
        "records": names,
        "qtdb": str(qtdb_dir),
        "bw": str(bw_record),
    }
    key = _cache_key(params)
    cache_file = cache_root(cache_dir)
    cache_file = cache_file / f"deepfilter_v{version}_seed{seed}_{key}.npz"
    if cache and cache_file.is_file():
        loaded = _load_npz(cache_file, key)
        if loaded is not None:
            loaded.info["cache_file"] = str(cache_file)
            loaded.info["from_cache"] = True
            return loaded

    t0 = time.perf_counter()
    data = _build(qtdb_dir, bw_record, names, version=version, seed=seed, progress=progress)
    data.info["build_seconds"] = round(time.perf_counter() - t0, 2)
    data.info["cache_file"] = str(cache_file) if cache else None
    data.info["from_cache"] = False
    if cache:
        _save_npz(cache_file, data, key)
    return data


def _build(
    qtdb_dir: Path, bw_record: Path, names: list[str], *, version: int, seed: int, progress: bool
) -> DeepFilterData:
    import wfdb

    iterator: Any = names
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:  # pragma: no cover - tqdm is a dependency
            raise DependencyError("progress=True needs tqdm", "pip install tqdm") from exc
        iterator = tqdm(names, desc=f"DeepFilter v{version}: QT records", unit="rec")

    test_set = set(DEEPFILTER_TEST_RECORDS)
    beats_train: list[np.ndarray] = []
    beats_test: list[np.ndarray] = []
    rec_train: list[str] = []
    rec_test: list[str] = []
    per_record: dict[str, dict[str, int]] = {}
    for name in iterator:
        beats, counts = qt_beats(qtdb_dir / name)
        kept = [b for b in beats if b.shape[0] <= MAX_BEAT_LEN]
        counts["dropped_too_long"] = len(beats) - len(kept)
        counts["kept"] = len(kept)
        counts["split"] = "test" if name in test_set else "train"
        per_record[name] = counts
        if name in test_set:
            beats_test.extend(kept)
            rec_test.extend([name] * len(kept))
        else:
            beats_train.extend(kept)
            rec_train.extend([name] * len(kept))

    bw, _ = wfdb.rdsamp(str(bw_record))
    bw = np.asarray(bw, dtype=np.float64)
    if bw.ndim != 2 or bw.shape[1] < 2:
        raise InputError(f"NSTDB record {bw_record} must have 2 channels", "use the original 'bw' record")
    noise_train, noise_test, noise_spec = _noise_split(version, bw)

    rs = np.random.RandomState(seed)
    r_train = rs.randint(low=R_LOW, high=R_HIGH, size=len(beats_train)) / 100
    r_test = rs.randint(low=R_LOW, high=R_HIGH, size=len(beats_test)) / 100

    x_train, y_train, flat_train = _contaminate(beats_train, noise_train, r_train)
    x_test, y_test, flat_test = _contaminate(beats_test, noise_test, r_test)
    for split, noise, n in (("train", noise_train, len(beats_train)), ("test", noise_test, len(beats_test))):
        n_chunks = (noise.shape[0] - N_SAMPLES) // N_SAMPLES + 1
        noise_spec[split].update(n_chunks_before_wrap=int(n_chunks), n_beats=int(n))

    def _split_sum(key: str) -> dict[str, int]:
        out = {"train": 0, "test": 0}
        for c in per_record.values():
            out[str(c["split"])] += int(c[key])
        out["total"] = out["train"] + out["test"]
        return out

    info: dict[str, Any] = {
        "protocol": "DeepFilter (Romero et al. 2021): QT Database beats + NSTDB bw noise",
        "version": version,
        "seed": seed,
        "records": names,
        "test_records": [r for r in names if r in test_set],
        "fs_in": sorted({int(c["fs"]) for c in per_record.values()}),
        "fs_out": FS_OUT,
        "n_samples": N_SAMPLES,
        "init_padding": INIT_PADDING,
        "max_beat_len": MAX_BEAT_LEN,
        "beats_per_record": {k: int(v["kept"]) for k, v in per_record.items()},
        "per_record": per_record,
        "dropped": {
            "too_long": _split_sum("dropped_too_long"),
            "two_or_more_r": _split_sum("dropped_two_or_more_r"),
            "edge": _split_sum("dropped_edge"),
            "p_without_onset": _split_sum("p_without_onset"),
        },
        "totals": {
            "train": len(beats_train),
            "test": len(beats_test),
            "total": len(beats_train) + len(beats_test),
            "before_length_limit": _split_sum("beats"),
        },
        "flat_beats": {"train": flat_train, "test": flat_test},
        "noise": noise_spec,
        "notes": {
            "record_order": _ORDER_NOTE,
            "rng": _RNG_NOTE,
            "edge_cases": _EDGE_POLICY,
            "reference_counts": _COUNTS_NOTE,
        },
    }

    return DeepFilterData(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        r_train=np.asarray(r_train, dtype=np.float64),
        r_test=np.asarray(r_test, dtype=np.float64),
        record_train=np.asarray(rec_train, dtype="<U16"),
        record_test=np.asarray(rec_test, dtype="<U16"),
        len_train=np.asarray([b.shape[0] for b in beats_train], dtype=np.int32),
        len_test=np.asarray([b.shape[0] for b in beats_test], dtype=np.int32),
        info=info,
    )


def validation_split(
    data: DeepFilterData | int | np.ndarray,
    fraction: float = 0.3,
    *,
    method: str = "last",
    seed: int | None = 1234,
) -> tuple[np.ndarray, np.ndarray]:
    """Split the training beats into training and validation indices.

    Parameters
    ----------
    data : DeepFilterData, int or array
        The dataset (its training set is split), a number of beats, or an array whose
        first axis is split.
    fraction : float, optional
        Validation fraction, in ``(0, 1)``; DeepFilter used 0.3.
    method : {"last", "random"}, optional
        ``"last"`` (default, faithful): the last ``fraction`` of the beats, as Keras'
        ``fit(validation_split=...)`` does (``split_at = int(n * (1 - fraction))``,
        validation = ``[split_at:]``); with beats in record order this is close to a
        split by record. ``"random"``: the same number of beats drawn at random.
    seed : int or None, optional
        Seed of ``numpy.random.default_rng`` for ``method="random"``.

    Returns
    -------
    train_idx, val_idx : numpy.ndarray
        Sorted int64 indices into the training arrays.
    """
    if isinstance(data, DeepFilterData):
        n = data.n_train
    elif isinstance(data, (int, np.integer)):
        n = int(data)
    else:
        n = len(data)
    if not 0.0 < float(fraction) < 1.0:
        raise InputError(f"fraction must be in (0, 1), not {fraction!r}")
    split_at = int(n * (1.0 - float(fraction)))
    if method == "last":
        return np.arange(split_at, dtype=np.int64), np.arange(split_at, n, dtype=np.int64)
    if method == "random":
        perm = np.random.default_rng(seed).permutation(n)
        return np.sort(perm[: split_at]).astype(np.int64), np.sort(perm[split_at:]).astype(np.int64)
    raise InputError(f"unknown method {method!r}", "use 'last' (Keras validation_split) or 'random'")
