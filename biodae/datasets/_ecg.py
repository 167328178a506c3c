"""Continuous ECG for training and evaluating the general ``ecg`` model.

Clean signal: the QT Database (105 records, 250 Hz) and the MIT-BIH Arrhythmia DS1
records (20 records, 360 Hz), both leads, resampled to 360 Hz. Records are split by
**patient**, never by window: the QT records taken from MIT-BIH (``sel100``...``sel233``)
belong to the same patient as the MIT-BIH record of that number (201 and 202 are one
patient), so a patient is in exactly one of train / val / test.

The clean target is each record high-passed at 0.5 Hz (zero-phase Butterworth,
order 2): the recordings carry baseline wander of their own, and a model cannot tell
the wander that was there from the wander we add. The tuned classical filters are
scored against the same target.

Noise is real (NSTDB ``bw``, ``em``, ``ma``; the splits of :mod:`biodae.noise`, which
keep training, validation and test noise apart by channel and time) or synthetic
(white Gaussian, 50/60 Hz mains with harmonics), mixed at an exact SNR over each window.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as _signal

from .._arrays import resample
from .._errors import InputError
from ._deepfilter import DEEPFILTER_TEST_RECORDS
from ._paths import cache_root, data_root

__all__ = [
    "ECG_SAMPLING_RATE",
    "ECG_SPLITS",
    "NOISE_KINDS",
    "ECGRecord",
    "patient_of",
    "split_of",
    "load_ecg_records",
    "ECGNoiseMixer",
]

ECG_SAMPLING_RATE = 360
ECG_SPLITS = ("train", "val", "test")
#: Noise kinds the mixer draws from; "mix" adds two or three of the others.
NOISE_KINDS = ("bw", "em", "ma", "gaussian", "mains", "mix")
#: The real noise kinds: NSTDB records.
_REAL_KINDS = ("bw", "em", "ma")
_HIGHPASS_HZ = 0.5

# Patient-level split. Test: the DeepFilter protocol's 14 QT test records (two per source
# database) and three MIT-BIH DS1 patients; validation: one or two per source.
_TEST_RECORDS = (*(("qtdb", r) for r in DEEPFILTER_TEST_RECORDS), ("mitdb", "106"), ("mitdb", "208"), ("mitdb", "220"))
_VAL_PATIENTS = {
    "mitdb:102", "qt:sel306", "qt:sel808", "qt:sel16273", "qt:sele0110", "qt:sel36", "qt:sel14157",
    "mitdb:109", "mitdb:215",
}


def patient_of(source: str, record: str) -> str:
    """Patient identifier of a record, so that one patient never spans two splits.

    >>> patient_of("qtdb", "sel116"), patient_of("mitdb", "116"), patient_of("mitdb", "202")
    ('mitdb:116', 'mitdb:116', 'mitdb:201')
    """
    if source == "qtdb":
        num = record[3:]
        if num.isdigit() and 100 <= int(num) <= 234:  # QT excerpts of MIT-BIH Arrhythmia records
            return patient_of("mitdb", num)
        return f"qt:{record}"
    if source == "mitdb":
        return "mitdb:201" if record in ("201", "202") else f"mitdb:{record}"
    raise ValueError(f"unknown source {source!r}; expected 'qtdb' or 'mitdb'")


def split_of(patient: str) -> str:
    """``"test"``, ``"val"`` or ``"train"`` for a patient identifier."""
    if patient in {patient_of(s, r) for s, r in _TEST_RECORDS}:
        return "test"
    if patient in _VAL_PATIENTS:
        return "val"
    return "train"


@dataclass
class ECGRecord:
    """One clean record at 360 Hz: ``data`` float32 ``(n_samples, 2)`` in mV."""

    name: str
    source: str
    patient: str
    data: np.ndarray


def mitdb_ds1_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the MIT-BIH Arrhythmia DS1 records (unpacked once into ``BIODAE_CACHE`` from
    ``ecg/mitdb-ds1.tar.xz`` when the data folder holds the archive).

    Raises
    ------
    InputError
        No data folder, or no DS1 records in it.
    """
    root = data_root(data_dir, "ecg", "ecg/mitdb-ds1.tar.xz")
    d = _mitdb_dir(root, cache_root())
    if d is None:
        raise InputError(f"no MIT-BIH DS1 records under {root}", "point BIODAE_DATA (data_dir=) at the shared data folder")
    return d


def _mitdb_dir(ecg_root: Path, cache: Path) -> Path | None:
    """The unpacked MIT-BIH DS1 folder: ``ecg/mitdb`` if present, else unpacked once into the cache."""
    if (ecg_root / "mitdb").is_dir():
        return ecg_root / "mitdb"
    archive = ecg_root / "mitdb-ds1.tar.xz"
    if not archive.is_file():
        return None
    dest = cache / "mitdb"
    if (dest / "101.hea").is_file():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mitdb.", dir=cache))
    try:
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(tmp, filter="data")
        src = tmp / "mitdb"
        if not src.is_dir():
            raise InputError(f"{archive}: no mitdb/ folder inside", "check the archive")
        if not dest.exists():
            os.replace(src, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _clean(x: np.ndarray, fs: float) -> np.ndarray:
    """Resample to 360 Hz and remove the record's own baseline (0.5 Hz zero-phase high-pass)."""
    if fs != ECG_SAMPLING_RATE:
        x = resample(x, fs, ECG_SAMPLING_RATE, padtype="constant")
    sos = _signal.butter(2, _HIGHPASS_HZ, btype="highpass", fs=ECG_SAMPLING_RATE, output="sos")
    return _signal.sosfiltfilt(sos, x, axis=0).astype(np.float32)


def _list_sources(ecg_root: Path, cache: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    qt = ecg_root / "qtdb"
    if qt.is_dir():
        out += [("qtdb", p.with_suffix("")) for p in sorted(qt.glob("*.hea"))]
    mit = _mitdb_dir(ecg_root, cache)
    if mit is not None:
        out += [("mitdb", p.with_suffix("")) for p in sorted(mit.glob("*.hea"))]
    if not out:
        raise InputError(f"no QT or MIT-BIH records under {ecg_root}", "point BIODAE_DATA at the shared data folder")
    return out


def load_ecg_records(
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    sources: tuple[str, ...] = ("qtdb", "mitdb"),
) -> list[ECGRecord]:
    """Clean records of one patient split, resampled to 360 Hz and baseline-free.

    Parameters
    ----------
    split : {"train", "val", "test"}
    data_dir : path-like, optional
        The data folder (default ``$BIODAE_DATA``).
    cache_dir : path-like, optional
        Where the preprocessed arrays (and the unpacked MIT-BIH archive) are kept
        (default ``$BIODAE_CACHE`` or ``~/.cache/biodae``).
    sources : tuple of {"qtdb", "mitdb"}

    Returns
    -------
    list of ECGRecord
    """
    if split not in ECG_SPLITS:
        raise InputError(f"unknown split {split!r}", f"choose one of {', '.join(ECG_SPLITS)}")
    root = data_root(data_dir, "ecg", "ecg/qtdb and ecg/mitdb-ds1.tar.xz")
    cache = cache_root(cache_dir)
    chosen = [(s, p) for s, p in _list_sources(root, cache) if s in sources and split_of(patient_of(s, p.name)) == split]
    key = hashlib.sha256(repr((split, sorted(str(p) for _, p in chosen), _HIGHPASS_HZ, 1)).encode()).hexdigest()[:16]
    path = cache / f"ecg_{split}_{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            names = list(z["names"])
            return [
                ECGRecord(n, str(z["sources"][i]), patient_of(str(z["sources"][i]), n), z[f"x{i}"])
                for i, n in enumerate(names)
            ]
    import wfdb

    records = []
    for source, p in chosen:
        rec = wfdb.rdrecord(str(p), channels=[0, 1])
        records.append(ECGRecord(p.name, source, patient_of(source, p.name), _clean(rec.p_signal, rec.fs)))
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".npz")
    os.close(fd)
    np.savez(
        tmp,
        names=np.array([r.name for r in records]),
        sources=np.array([r.source for r in records]),
        **{f"x{i}": r.data for i, r in enumerate(records)},
    )
    os.replace(tmp, path)
    return records


class ECGNoiseMixer:
    """Draws (noisy, clean) ECG windows at 360 Hz with real or synthetic noise.

    Parameters
    ----------
    records : list of ECGRecord
        Clean records (from one patient split).
    noise_split : str
        NSTDB split the real noise comes from (``"train"``, ``"val"`` or ``"test"``).
    length : int
        Window length in samples.
    snr_range : (float, float)
        Input SNR in dB, drawn uniformly per window (standard definition, over the window).
    kinds : tuple of str
        Noise kinds to draw from (:data:`NOISE_KINDS`).
    amplitude_range : (float, float)
        The clean window is scaled by a log-uniform factor in this range and its
        polarity flipped at random, so the model sees amplitudes it has not memorised.
    noise_augment : tuple of str, default ()
        Real NSTDB noise kinds to vary (for training): each segment's polarity and
        direction are flipped at random, and with probability 1/2 its balance of slow
        and in-band content is changed (:meth:`_reweight`). NSTDB has one recording per
        noise kind, and its splits differ in that balance (above 1 Hz, ``bw``'s
        validation and test splits carry 2-5 times the share of power of its training
        split, ``em``'s far less): a model that knows one balance meets another at test
        time.
    data_dir : path-like, optional
        Data folder for NSTDB (default ``$BIODAE_DATA``).
    """

    def __init__(
        self,
        records: list[ECGRecord],
        *,
        noise_split: str,
        length: int,
        snr_range: tuple[float, float] = (-6.0, 24.0),
        kinds: tuple[str, ...] = NOISE_KINDS,
        amplitude_range: tuple[float, float] = (0.5, 2.0),
        noise_augment: tuple[str, ...] = (),
        data_dir: str | os.PathLike | None = None,
    ) -> None:
        from .. import noise

        bad = [k for k in kinds if k not in NOISE_KINDS]
        if bad:
            raise InputError(f"unknown noise kinds {bad}", f"choose from {', '.join(NOISE_KINDS)}")
        if not records:
            raise InputError("no records to draw windows from")
        self.records = records
        self.length = int(length)
        self.snr_range = snr_range
        self.kinds = tuple(kinds)
        self.amplitude_range = amplitude_range
        bad = [k for k in noise_augment if k not in _REAL_KINDS]
        if bad:
            raise InputError(f"noise_augment names {bad}", "choose from the real noise kinds bw, em, ma")
        self.noise_augment = tuple(noise_augment)
        self._noise = {
            k: noise.nstdb_split(k, noise_split, data_dir=data_dir).astype(np.float64) for k in _REAL_KINDS
        }
        lengths = np.array([r.data.shape[0] - self.length for r in records], dtype=np.float64)
        if np.any(lengths <= 0):
            raise InputError(f"a record is shorter than the window ({self.length} samples)")
        self._p = lengths / lengths.sum()

    def _noise_window(self, kind: str, rng: np.random.Generator) -> np.ndarray:
        n = self.length
        if kind in _REAL_KINDS:
            src = self._noise[kind]
            s = int(rng.integers(0, src.size - n))
            seg = src[s : s + n]  # a view: the result below is a new array
            if kind in self.noise_augment:
                if rng.random() < 0.5:
                    seg = self._reweight(src, s, rng)
                if rng.random() < 0.5:
                    seg = seg[::-1]
                seg = seg * (1 if rng.random() < 0.5 else -1)
            return seg - seg.mean()
        if kind == "gaussian":
            return rng.standard_normal(n)
        if kind == "mains":
            t = np.arange(n) / ECG_SAMPLING_RATE
            f0 = float(rng.choice([50.0, 60.0])) + rng.uniform(-0.3, 0.3)
            out = np.zeros(n)
            for h in (1, 2, 3):
                if h * f0 < ECG_SAMPLING_RATE / 2:
                    amp = 1.0 if h == 1 else rng.uniform(0, 0.3)
                    out += amp * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi))
            return out * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t))
        # "mix": two or three real/synthetic kinds with random weights
        parts = rng.choice(["bw", "em", "ma", "gaussian", "mains"], size=int(rng.integers(2, 4)), replace=False)
        total = np.zeros(n)
        for k in parts:
            w = self._noise_window(str(k), rng)
            total += rng.uniform(0.3, 1.0) * w / (np.sqrt(np.mean(w**2)) + 1e-12)
        return total

    def _reweight(self, src: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        """``src[start:start + length]`` with its content above a random corner (0.3-2 Hz,
        log-uniform) scaled by a log-uniform factor in 1/4-4 against the content below.

        The split is a zero-phase order-2 Butterworth low-pass, run over the segment and
        up to 2 s on each side, so that the filter's edge transients fall outside it.
        """
        n, pad = self.length, 2 * ECG_SAMPLING_RATE
        lo, hi = max(0, start - pad), min(src.size, start + n + pad)
        corner = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0))))
        gain = float(np.exp(rng.uniform(np.log(0.25), np.log(4.0))))
        sos = _signal.butter(2, corner, btype="lowpass", fs=ECG_SAMPLING_RATE, output="sos")
        ext = src[lo:hi]
        slow = _signal.sosfiltfilt(sos, ext)
        out = slow + gain * (ext - slow)
        return out[start - lo : start - lo + n]

    def window(self, rng: np.random.Generator, *, kind: str | None = None, snr_db: float | None = None):
        """One ``(noisy, clean)`` pair of float32 arrays of ``length`` samples."""
        i = int(rng.choice(len(self.records), p=self._p))
        rec = self.records[i]
        lead = int(rng.integers(0, rec.data.shape[1]))
        s = int(rng.integers(0, rec.data.shape[0] - self.length))
        clean = rec.data[s : s + self.length, lead].astype(np.float64)
        lo, hi = self.amplitude_range
        clean = clean * np.exp(rng.uniform(np.log(lo), np.log(hi))) * (1 if rng.random() < 0.5 else -1)
        kind = kind or str(rng.choice(self.kinds))
        snr = float(rng.uniform(*self.snr_range)) if snr_db is None else float(snr_db)
        nz = self._noise_window(kind, rng)
        p_clean = np.mean(clean**2)
        p_noise = np.mean(nz**2)
        if p_clean <= 0 or p_noise <= 0:
            return clean.astype(np.float32), clean.astype(np.float32)
        nz *= np.sqrt(p_clean / (p_noise * 10 ** (snr / 10)))
        return (clean + nz).astype(np.float32), clean.astype(np.float32)

    def batch(self, n: int, rng: np.random.Generator, **kw) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs stacked as float32 ``(n, 1, length)`` arrays ``(noisy, clean)``."""
        pairs = [self.window(rng, **kw) for _ in range(n)]
        noisy = np.stack([p[0] for p in pairs])[:, None, :]
        clean = np.stack([p[1] for p in pairs])[:, None, :]
        return noisy, clean
