"""Read and write PhysioNet WFDB records without losing what a user needs back.

:func:`read_wfdb` returns every channel of a record in physical units and keeps in
``Signal.meta`` what :func:`write_wfdb` needs to give back a record that WFDB tools
read the same way: storage format, ADC gain and baseline, ADC resolution and zero,
base date/time, the header comments and the annotation files that sit beside the
record. Writing unchanged data gives back the very same digital samples.

Policies
--------
Overflow on write
    New data are stored with the original format, gain and baseline whenever they
    fit. When they would overflow the format's digital range (a format 212 file
    holds 12-bit samples), the signal file is switched to format 16 with the same
    gain and baseline; when even that overflows, gain and baseline are refitted
    (format 16, 5 % margin at each end). Each change is logged as a warning on the
    ``"biodae.io"`` logger. Formats that cannot be written here (8, 61, 160, 310,
    311 and the FLAC formats) are written as format 16 (24-bit FLAC as format 24),
    and MATLAB ``.mat`` records as ``.dat`` format 16, also with a warning.
Multi-frequency records
    A single-segment record with more than one sample per frame on some channels
    is read at its highest rate (frame rate × most samples per frame); the slower
    channels are resampled to it, and ``meta["native_data"]`` keeps their samples as
    stored. It is written back with the same samples per frame: each channel at its
    own rate, unchanged ones exactly. Annotations keep their frame-based times. A
    multi-segment multi-frequency record is refused.
Multi-segment records
    A fixed-layout multi-segment record is read as one signal (segments joined,
    null segments as NaN) and written back as a single-segment record. A
    variable-layout record is refused.
Missing samples
    WFDB "invalid sample" values are read as NaN and written back as the invalid
    value of the output format.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import logging
import math
import os
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ._atomic import atomic_group
from ._rates import to_common_rate, to_own_rate
from ._containers import Signal

__all__ = ["read_wfdb", "write_wfdb"]

logger = logging.getLogger("biodae.io")

# Digital range of each WFDB storage format (including the "invalid sample" value,
# which is the most negative value except for the first-difference format 8).
_RANGE = {
    "8": (-(2**31), 2**31 - 1),
    "80": (-(2**7), 2**7 - 1),
    "508": (-(2**7), 2**7 - 1),
    "310": (-(2**9), 2**9 - 1),
    "311": (-(2**9), 2**9 - 1),
    "212": (-(2**11), 2**11 - 1),
    "16": (-(2**15), 2**15 - 1),
    "61": (-(2**15), 2**15 - 1),
    "160": (-(2**15), 2**15 - 1),
    "516": (-(2**15), 2**15 - 1),
    "24": (-(2**23), 2**23 - 1),
    "524": (-(2**23), 2**23 - 1),
    "32": (-(2**31), 2**31 - 1),
}
_INVALID = {fmt: lo for fmt, (lo, _) in _RANGE.items() if fmt != "8"}
# Formats whose digital samples wfdb returns in int16 without loss (return_res=16).
_INT16_FORMATS = {"16", "212", "80", "310", "311", "61"}
# Storage width in bits, to order formats from narrow to wide.
_BITS = {"8": 8, "80": 8, "508": 8, "310": 10, "311": 10, "212": 12, "16": 16, "61": 16,
         "160": 16, "516": 16, "24": 24, "524": 24, "32": 32}
# Formats wfdb-python writes without extra dependencies, and what the others become.
_WRITABLE = {"80", "212", "16", "24", "32"}
_WRITE_AS = {"8": "16", "508": "16", "310": "16", "311": "16", "61": "16", "160": "16",
             "516": "16", "524": "24"}
_FLAC = {"508", "516", "524"}
_RECORD_NAME = re.compile(r"[-\w]+", re.ASCII)
_MARGIN = 0.05  # refitted gains leave this fraction of the digital range free at each end


# ----------------------------------------------------------------------------- reading


def read_wfdb(path: str | os.PathLike) -> Signal:
    """Read a WFDB record (all channels, physical units).

    Parameters
    ----------
    path : str or path-like
        The record: its ``.hea`` file, the record path without extension, or one of
        its signal files (``.dat``, ``.mat``).

    Returns
    -------
    Signal
        ``data`` of shape ``(n_samples, n_channels)`` in physical units
        (``units[i]``, float64; WFDB invalid samples are NaN), ``sampling_rate`` in
        Hz, ``format="wfdb"``, ``source`` the record path without extension.
        ``meta`` holds ``record_name``, per-channel ``fmt``, ``adc_gain`` (adu per
        unit), ``baseline``, ``adc_res``, ``adc_zero`` and ``file_name``,
        ``signal_files`` (distinct signal file names), ``comments``,
        ``base_date``/``base_time`` (``datetime.date``/``datetime.time`` or None),
        ``counter_freq``/``base_counter``, ``annotation_files`` (full paths of the
        ``<record>.<ext>`` files beside the record that ``wfdb.rdann`` reads) and,
        for a multi-segment record, ``multi_segment``.

    Raises
    ------
    InputError
        If the record is missing, its header cannot be parsed or does not match
        its signal files (missing or truncated), it has several samples per frame
        or a variable layout, or no channel holds a valid sample (one that holds none is
        kept, all NaN, with a warning).
    """
    record = _record_from_path(path)
    name = record.name
    header = _read_header(record)

    wfdb = _wfdb()
    multi = None
    if isinstance(header, wfdb.MultiRecord):
        multi = _check_multi_segment(record, header)
    else:
        _check_single(record, header, what=f"record '{name}'")

    spf = [int(s or 1) for s in header.samps_per_frame] if multi is None else [1] * int(header.n_sig)
    native: list[np.ndarray | None] | None = None
    try:
        with _quiet_wfdb():
            if max(spf) > 1:  # each channel at its own rate; the slower ones resampled to the fastest
                rec = wfdb.rdrecord(str(record), physical=False, smooth_frames=False, return_res=64)
                expanded = [np.asarray(d, dtype=np.int64) for d in rec.e_d_signal]
                data, native = _frames_to_common_rate(expanded, spf, rec)
                digital = None
                _check_checksums(name, expanded, header.checksum, rec.sig_name)
            elif multi is None or multi["same_scaling"]:
                # formats of at most 16 bits come back as int16: a quarter of int64's memory (24 h of 2 leads:
                # 125 MB rather than 500) and no conversion, 0.19 s rather than 0.46 s for that record
                fmts = [str(f) for f in (getattr(header, "fmt", None) or [])] if multi is None else []
                narrow = bool(fmts) and all(f in _INT16_FORMATS for f in fmts)
                rec = wfdb.rdrecord(str(record), physical=False, m2s=True, return_res=16 if narrow else 64)
                digital = np.asarray(rec.d_signal, dtype=np.int16 if narrow else np.int64)
                data = _to_physical(digital, rec.fmt, rec.adc_gain, rec.baseline)
            else:
                rec = wfdb.rdrecord(str(record), physical=True, m2s=True, return_res=64)
                digital = None
                data = np.asarray(rec.p_signal, dtype=np.float64)
    except InputError:
        raise
    except Exception as exc:  # wfdb raises bare Exception/ValueError/IndexError on bad files
        raise InputError(
            f"record '{name}': wfdb cannot read its samples ({type(exc).__name__}: {exc})",
            "the header or a signal file is damaged: copy the record again from its source",
        ) from exc

    n_sig = len(rec.sig_name)
    if data.ndim != 2 or data.shape != (int(rec.sig_len) * max(spf), n_sig):
        raise InputError(
            f"record '{name}': read {data.shape[0] if data.ndim else 0} samples × "
            f"{data.shape[1] if data.ndim == 2 else 0} channels but the header declares "
            f"{int(rec.sig_len) * max(spf)} × {n_sig}",
            "the record is damaged: copy it again from its source",
        )
    empty = [rec.sig_name[i] for i in range(n_sig) if not np.isfinite(data[:, i]).any()]
    if empty and len(empty) == n_sig and data.shape[0] > 0:
        raise InputError(f"record '{name}': no channel holds a valid sample (all are WFDB invalid values)",
                         "check the record's signal file; copy the record again from its source")
    if empty and data.shape[0] > 0:  # a lead off for the whole record: kept as it is, like any gap
        logger.warning("record '%s': channel(s) %s hold no valid sample (all NaN); they are kept as they are",
                       name, ", ".join(map(repr, empty)))
    if multi is None and digital is not None:
        _check_checksums(name, list(digital.T), header.checksum, rec.sig_name)

    signal_files = multi["signal_files"] if multi else _unique(header.file_name)
    meta: dict[str, Any] = {
        "record_name": name,
        "fmt": [str(f) for f in rec.fmt],
        "adc_gain": [float(g) for g in rec.adc_gain],
        "baseline": [int(b) for b in rec.baseline],
        "adc_res": [int(r) if r is not None else 0 for r in _listify(rec.adc_res, n_sig)],
        "adc_zero": [int(z) if z is not None else 0 for z in _listify(rec.adc_zero, n_sig)],
        "file_name": list(multi["file_name"] if multi else header.file_name),
        "signal_files": list(signal_files),
        "comments": [str(c) for c in (rec.comments or [])],
        "base_date": rec.base_date,
        "base_time": rec.base_time,
        "counter_freq": rec.counter_freq,
        "base_counter": rec.base_counter,
        "annotation_files": _annotation_files(record, signal_files),
    }
    if native is not None:
        meta["samps_per_frame"] = spf
        meta["native_data"] = native
    if multi is not None:
        meta["multi_segment"] = {
            "layout": "fixed",
            "seg_name": list(header.seg_name),
            "seg_len": [int(s) for s in header.seg_len],
        }
    return Signal(
        data=data,
        sampling_rate=float(rec.fs) * max(spf),
        channel_names=[str(s) for s in rec.sig_name],
        units=[str(u) if u else "mV" for u in _listify(rec.units, n_sig)],
        format="wfdb",
        meta=meta,
        source=record,
    )


def _record_from_path(path: str | os.PathLike) -> Path:
    """The record path (without extension) that ``path`` names."""
    p = Path(path)
    if p.suffix.lower() in (".hea", ".dat", ".mat"):
        record = p.with_suffix("")
    elif Path(f"{p}.hea").is_file():
        record = p
    elif p.suffix and p.with_suffix(".hea").is_file():  # another signal file, e.g. .xyz
        record = p.with_suffix("")
    else:
        record = p
    if not Path(f"{record}.hea").is_file():
        raise InputError(
            f"record '{record.name}': header file {record}.hea not found",
            "check the path; a WFDB record is given as its .hea file or the record path without extension",
        )
    return record


@contextlib.contextmanager
def _quiet_wfdb() -> Iterator[None]:
    """Keep wfdb's (and pandas') internal warnings out of the caller's warning filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        logger.debug("wfdb: %s: %s", w.category.__name__, w.message)


def _wfdb() -> Any:
    """The wfdb module, imported without its (and pandas') import-time warnings escaping."""
    with _quiet_wfdb():
        import wfdb
    return wfdb


@functools.lru_cache(maxsize=None)
def _record_class() -> Any:
    """``wfdb.Record`` with a vectorised pre-write range check and format-16 writer.

    wfdb checks that every sample fits its format with Python's ``min``/``max`` over each
    channel (about 6 s for 24 h of 2-lead 360 Hz ECG); this does the same checks with numpy.
    Expanded (multi-frequency) signals keep wfdb's own code,
    as do formats other than 16 (tests read every format back with wfdb and compare bytes).
    """
    wfdb = _wfdb()
    from wfdb.io._signal import _digi_bounds

    class _Record(wfdb.Record):
        def check_sig_cohesion(self, write_fields: Any, expanded: bool) -> None:
            if expanded or write_fields:  # wr_dats passes no fields; anything else goes to wfdb
                return super().check_sig_cohesion(write_fields, expanded)
            if (self.sig_len, self.n_sig) != self.d_signal.shape:
                raise ValueError("sig_len and n_sig do not match shape of d_signal")
            for ch in range(self.n_sig):  # column by column: min(axis=0) of (n, 2) is ten times slower
                dmin, dmax = _digi_bounds(self.fmt[ch])
                column = self.d_signal[:, ch]
                if column.min() < dmin or column.max() > dmax:
                    raise IndexError(f"Channel {ch} contain values outside allowed range [{dmin}, {dmax}] "
                                     f"for fmt {self.fmt[ch]}")

        def wr_dat_files(self, expanded: bool = False, write_dir: str = "") -> None:
            # format 16 is interleaved little-endian int16: one numpy write, instead of wfdb's
            # byte-by-byte assembly through int64 masks (5 s for 24 h of 2 leads)
            offsets = [o for o in (self.byte_offset or []) if o]
            if expanded or set(self.fmt) != {"16"} or offsets:
                return super().wr_dat_files(expanded=expanded, write_dir=write_dir)
            for fn in dict.fromkeys(self.file_name):
                channels = [ch for ch, f in enumerate(self.file_name) if f == fn]
                whole = channels == list(range(self.d_signal.shape[1]))  # no fancy-index copy
                digital = self.d_signal if whole else self.d_signal[:, channels]
                digital.astype("<i2", copy=False).tofile(os.path.join(write_dir, fn))

    return _Record


def _read_header(record: Path) -> Any:
    wfdb = _wfdb()
    hea = Path(f"{record}.hea")
    if hea.stat().st_size == 0:
        raise InputError(f"record '{record.name}': header file {hea.name} is empty",
                         "copy the record again from its source")
    _check_sampling_field(record, hea)
    try:
        with _quiet_wfdb():
            header = wfdb.rdheader(str(record), rd_segments=False)
    except Exception as exc:
        raise InputError(
            f"record '{record.name}': cannot parse header {hea.name} ({type(exc).__name__}: {exc})",
            "the header is damaged or not a WFDB header: copy the record again from its source",
        ) from exc
    return header


def _check_sampling_field(record: Path, hea: Path) -> None:
    """Refuse a record line whose sampling frequency is not a positive number.

    wfdb reads a field it cannot match (``-500``) as the default 250 Hz and a ``0`` as 0 Hz;
    both would give every later step a wrong time axis."""
    try:
        lines = [ln.split() for ln in hea.read_text(encoding="latin-1").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError:
        return  # rdheader says what is wrong with the file
    if not lines or len(lines[0]) < 3 or not lines[0][1].isdigit():
        return  # no sampling field (WFDB's documented default, 250 Hz, applies), or not a record line at all
    text = lines[0][2].split("/")[0]
    try:
        fs = float(text)
    except ValueError:
        fs = float("nan")
    if not (math.isfinite(fs) and fs > 0):
        raise InputError(
            f"record '{record.name}': header {hea.name} gives the sampling frequency as {text!r}, "
            "not a positive number of Hz",
            "correct the header's record line (name, number of signals, sampling frequency in Hz, samples)",
        )


def _check_single(record: Path, header: Any, *, what: str, segment: bool = False) -> None:
    """Check a single-segment header against its signal files before wfdb reads them."""
    n_sig = int(header.n_sig or 0)
    if n_sig <= 0:
        raise InputError(f"{what}: header {record.name}.hea declares no signals",
                         "this record holds no samples to read")
    fields = ("file_name", "fmt", "samps_per_frame", "adc_gain")
    bad = [f for f in fields if len(getattr(header, f) or []) != n_sig]
    if bad:
        raise InputError(
            f"{what}: header {record.name}.hea declares {n_sig} signals but describes "
            f"{len(header.file_name or [])}",
            "the header is damaged: copy the record again from its source",
        )
    spf = [int(s or 1) for s in header.samps_per_frame]
    if segment and max(spf) > 1:
        listed = ", ".join(f"'{header.sig_name[i]}' ({s} samples per frame)" for i, s in enumerate(spf) if s > 1)
        raise InputError(
            f"{what}: a multi-segment record whose segments are multi-frequency: channel(s) {listed} are "
            f"sampled faster than the frame rate {float(header.fs):g} Hz",
            "join the segments into one record with WFDB tools (e.g. `wfdb.rdrecord(..., m2s=True, "
            "smooth_frames=True)` then `wrsamp`) and read that",
        )
    unknown = sorted({str(f) for f in header.fmt} - set(_RANGE))
    if unknown:
        raise InputError(f"{what}: unsupported WFDB storage format(s) {', '.join(unknown)}",
                         "the header is damaged or not WFDB: copy the record again from its source")
    sig_len = header.sig_len
    offsets = header.byte_offset or [None] * n_sig
    for fname in _unique(header.file_name):
        chans = [i for i in range(n_sig) if header.file_name[i] == fname]
        fpath = record.parent / fname
        if fname == "~":
            continue
        if not fpath.is_file():
            raise InputError(f"{what}: signal file {fname} not found beside {record.name}.hea",
                             "copy the whole record (.hea and its signal files) again from its source")
        fmt = str(header.fmt[chans[0]])
        size = fpath.stat().st_size
        offset = int(offsets[chans[0]] or 0)
        if fmt in _FLAC or sig_len is None:
            if size <= offset:
                raise InputError(f"{what}: signal file {fname} holds no samples ({size} bytes)",
                                 "copy it again from its source")
            continue
        n_samp = int(sig_len) * sum(spf[i] for i in chans)
        need = offset + _bytes_needed(fmt, n_samp)
        if size < need:
            extra = f" after a {offset}-byte prefix" if offset else ""
            raise InputError(
                f"{what}: signal file {fname} holds {size} bytes but the header declares "
                f"{len(chans)} signals × {sig_len} samples in format {fmt} ({need} bytes{extra})",
                "the file is truncated or the header is wrong: copy the record again from its source",
            )


def _bytes_needed(fmt: str, n_samp: int) -> int:
    """Bytes a signal file needs for ``n_samp`` samples (as WFDB reads them)."""
    if fmt == "212":
        return math.ceil(n_samp * 1.5)
    if fmt in ("310", "311"):
        return math.ceil(n_samp * 4 / 3)
    return n_samp * {"8": 1, "80": 1, "16": 2, "61": 2, "160": 2, "24": 3, "32": 4}[fmt]


def _check_multi_segment(record: Path, header: Any) -> dict[str, Any]:
    """Validate a multi-segment record; return what the reader needs to know."""
    name = record.name
    seg_names = list(header.seg_name or [])
    seg_lens = [int(s) for s in (header.seg_len or [])]
    if not seg_names or len(seg_names) != len(seg_lens):
        raise InputError(f"record '{name}': multi-segment header {name}.hea lists no usable segments",
                         "the header is damaged: copy the record again from its source")
    if seg_lens[0] == 0:
        raise InputError(
            f"record '{name}': variable-layout multi-segment record (segments carry different signals); "
            "only fixed-layout multi-segment records are read",
            "convert it to a single-segment record first (WFDB: `xform`; wfdb-python: "
            "`wfdb.rdrecord(rec, m2s=True)` then `wrsamp`) and read that",
        )
    if header.sig_len is not None and sum(seg_lens) != int(header.sig_len):
        raise InputError(
            f"record '{name}': segment lengths add up to {sum(seg_lens)} samples but the header "
            f"declares {header.sig_len}",
            "the header is damaged: copy the record again from its source",
        )
    scalings = set()
    file_name: list[str] | None = None
    files: list[str] = []
    for seg, seg_len in zip(seg_names, seg_lens):
        if seg == "~":
            continue
        seg_record = record.parent / seg
        what = f"record '{name}', segment '{seg}'"
        if not Path(f"{seg_record}.hea").is_file():
            raise InputError(f"{what}: segment header {seg}.hea not found beside {name}.hea",
                             "copy the whole multi-segment record (all segment files) again from its source")
        sub = _read_header(seg_record)
        if not hasattr(sub, "file_name") or getattr(sub, "seg_name", None):
            raise InputError(f"{what}: a segment must be a single-segment record",
                             "the record is damaged: copy it again from its source")
        if sub.sig_len is not None and int(sub.sig_len) != seg_len:
            raise InputError(
                f"{what}: the segment header declares {sub.sig_len} samples but {name}.hea says {seg_len}",
                "the record is damaged: copy it again from its source",
            )
        _check_single(seg_record, sub, what=what, segment=True)
        if int(sub.n_sig) != int(header.n_sig):
            raise InputError(
                f"{what}: {sub.n_sig} signals where the record declares {header.n_sig} (fixed layout)",
                "the record is damaged: copy it again from its source",
            )
        scalings.add((tuple(map(str, sub.fmt)), tuple(sub.adc_gain), tuple(sub.baseline)))
        files += [f for f in sub.file_name if f not in files]
        if file_name is None:
            file_name = list(sub.file_name)
    if file_name is None:
        raise InputError(f"record '{name}': all segments are null ('~')", "this record holds no samples")
    return {"same_scaling": len(scalings) == 1, "signal_files": files, "file_name": file_name}


def _to_physical(digital: np.ndarray, fmt: list, gain: list, baseline: list) -> np.ndarray:
    """Physical values ``(d - baseline) / gain``, NaN where ``d`` is the invalid sample value."""
    # whole-array, in place: the same arithmetic as column by column, about 3x faster on int64 samples
    g = np.array([float(x) if x else 200.0 for x in gain])  # WFDB: gain 0 means uncalibrated, 200 adu/unit
    data = digital.astype(np.float64)
    data -= np.array([float(b) for b in baseline])
    data /= g
    for i in range(digital.shape[1]):
        invalid = _INVALID.get(str(fmt[i]))
        # the invalid value is the format's most negative: only a column that reaches it can hold one
        if invalid is not None and digital.shape[0] and digital[:, i].min() <= invalid:
            data[digital[:, i] == invalid, i] = np.nan
    return data


def _frames_to_common_rate(expanded: list[np.ndarray], spf: list[int], rec: Any) -> tuple[np.ndarray, list]:
    """Physical samples of a multi-frequency record at its highest rate, and each slower
    channel's own samples (None for the channels already at that rate).

    A slower channel is resampled (:func:`~biodae.io._rates.to_common_rate`)."""
    top = max(spf)
    n = int(rec.sig_len) * top
    data = np.empty((n, len(spf)), dtype=np.float64)
    native: list[np.ndarray | None] = []
    for i, d in enumerate(expanded):
        x = _to_physical(d[:, None], [rec.fmt[i]], [rec.adc_gain[i]], [rec.baseline[i]])[:, 0]
        if spf[i] == top:
            native.append(None)
            data[:, i] = x
            continue
        native.append(x)
        data[:, i] = to_common_rate(x, spf[i], top, n)
    return data, native


def _checksums(channels: list[np.ndarray]) -> list[int]:
    """WFDB's 16-bit checksum of each channel's digital samples (signed)."""
    return [(int(np.sum(d, dtype=np.int64)) + 32768) % 65536 - 32768 for d in channels]


def _check_checksums(name: str, channels: list[np.ndarray], checksums: list | None, sig_name: list) -> None:
    if not checksums or not len(channels[0]):
        return
    sums = _checksums(channels)
    bad = [sig_name[i] for i, c in enumerate(checksums)
           if c is not None and (int(sums[i]) - int(c)) % 65536 != 0]
    if bad:
        logger.warning("record '%s': checksum mismatch on channel(s) %s; the signal file may be damaged",
                       name, ", ".join(map(repr, bad)))


def _annotation_files(record: Path, signal_files: list[str]) -> list[str]:
    """Full paths of the ``<record>.<ext>`` files beside ``record`` that wfdb.rdann reads."""
    wfdb = _wfdb()
    skip = {"hea", "dat", "mat", "xyz"}
    found = []
    prefix = record.name + "."
    for p in sorted(Path(record.parent).glob(glob.escape(prefix) + "*")):
        ext = p.name[len(prefix):]
        if not ext or ext.lower() in skip or p.name in signal_files or not p.is_file():
            continue
        if not re.fullmatch(r"[-\w]+", ext):
            continue
        try:
            with _quiet_wfdb():
                wfdb.rdann(str(record), ext)
        except Exception:  # not an annotation file
            continue
        found.append(str(p))
    return found


def _unique(items: list) -> list:
    return list(dict.fromkeys(items))


def _listify(value: Any, n: int) -> list:
    if value is None:
        return [None] * n
    return list(value)


# ----------------------------------------------------------------------------- writing


def write_wfdb(signal: Signal, path: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write a signal as a WFDB record (``.hea``, signal file(s), annotation copies).

    Parameters
    ----------
    signal : Signal
        ``data`` of shape ``(n_samples, n_channels)`` in physical units (NaN marks a
        missing sample); ``meta`` as :func:`read_wfdb` fills it keeps the storage
        format, gains, baselines, comments, base date/time and annotation files.
        A signal without WFDB ``meta`` is written in format 16 with gains fitted to
        the data.
    path : str or path-like
        Output record path without extension (a ``.hea`` suffix is tolerated). The
        record name is its last component (letters, digits, ``-`` and ``_``).
    force : bool, optional
        Overwrite existing output files.

    Returns
    -------
    list of Path
        The files written: signal file(s), annotation files, then the ``.hea``.

    Raises
    ------
    InputError
        If the data hold infinite values, the record name or channel names are not
        valid WFDB, or meta is inconsistent.
    OutputExistsError
        If an output file exists and ``force`` is False.

    Notes
    -----
    Digital samples are ``round(physical * gain + baseline)``: unchanged data are
    written back exactly. See the module docstring for the overflow policy; every
    format or gain change is logged as a warning on the ``"biodae.io"`` logger.
    Annotation files in ``meta["annotation_files"]`` are byte-copied to
    ``<record>.<ext>``. All files are written atomically, the ``.hea`` last.
    """
    out = Path(path)
    if out.suffix.lower() == ".hea":
        out = out.with_suffix("")
    name = out.name
    if not _RECORD_NAME.fullmatch(name):
        raise InputError(f"invalid WFDB record name '{name}' (from {path})",
                         "use only letters, digits, '-' and '_' in the output record name")
    data = np.asarray(signal.data, dtype=np.float64)
    n, c = data.shape
    if n == 0:
        raise InputError(f"record '{name}': the signal has no samples", "nothing to write")
    if np.isinf(data).any():
        bad = [signal.channel_names[i] for i in range(c) if np.isinf(data[:, i]).any()]
        raise InputError(f"record '{name}': channel(s) {', '.join(map(repr, bad))} hold infinite values",
                         "WFDB stores finite values (or NaN for missing samples): clip or fix them first")
    names = [str(s).strip() for s in signal.channel_names]
    dups = sorted({s for s in names if names.count(s) > 1})
    if dups:
        raise InputError(f"record '{name}': duplicate channel name(s) {', '.join(map(repr, dups))}",
                         "WFDB needs distinct signal names: rename the channels")
    bad_names = [s for s in names if re.search(r"[\x00-\x1f\x7f-\x9f]", s)]
    if bad_names:
        raise InputError(f"record '{name}': channel name(s) {bad_names!r} contain control characters",
                         "rename the channels")
    units = []
    for u in signal.units:
        u2 = re.sub(r"\s+", "_", str(u).strip()) or "NU"
        if u2 != str(u):
            logger.warning("record '%s': unit %r written as %r (WFDB units have no spaces)", name, u, u2)
        units.append(u2)

    meta = (signal.meta or {}) if signal.format == "wfdb" else {}  # another format's meta says nothing here
    plan = _plan_channels(meta, n_channels=c, record=name)
    spf = [int(s) for s in meta.get("samps_per_frame") or [1] * c]
    if len(spf) == c and max(spf) > 1:  # a multi-frequency record: each channel back at its own rate
        own = _own_rate_channels(data, spf, meta.get("native_data"), record=name)
        top = max(spf)  # the overflow policy sees what is written: each channel's own samples, repeated
        _choose_storage(np.column_stack([x[np.arange(n) * s // top] for x, s in zip(own, spf)]), plan, names, units,
                        record=name)
        channels = [_digitize(x, plan["fmt"][i], plan["adc_gain"][i], plan["baseline"][i],
                              f"record '{name}': channel '{names[i]}'") for i, x in enumerate(own)]
        d_signal = None
    else:
        spf = [1] * c
        d_signal = _apply_overflow_policy(data, plan, names, units, record=name)
        channels = list(d_signal.T)  # views

    # Signal files: keep the original grouping (e.g. PTB .dat + .xyz) under the new name.
    file_name = plan["file_name"]
    signal_files = _unique(file_name)
    ann_src = []
    for src in meta.get("annotation_files") or []:
        src = Path(src)
        old = str(meta.get("record_name") or "")
        ext = src.name[len(old) + 1:] if old and src.name.startswith(old + ".") else src.suffix.lstrip(".")
        if not src.is_file():
            logger.warning("record '%s': annotation file %s no longer exists; not copied", name, src)
            continue
        if not ext:
            continue
        ann_src.append((src, f"{name}.{ext}"))
    outputs = [out.parent / f for f in signal_files] + [out.parent / a for _, a in ann_src]
    outputs.append(out.parent / f"{name}.hea")
    if len(set(outputs)) != len(outputs):
        raise InputError(f"record '{name}': two outputs would share a file name",
                         "check meta['file_name'] and meta['annotation_files']")

    comments = [line for cmt in (meta.get("comments") or []) for line in str(cmt).splitlines()]
    fs, n = float(signal.sampling_rate) / max(spf), n // max(spf)  # the frame rate, frames
    counter_freq = meta.get("counter_freq")
    checksum = _checksums(channels)
    init_value = [int(d[0]) for d in channels]
    rec = _record_class()(
        record_name=name,
        n_sig=c,
        fs=int(fs) if fs.is_integer() else fs,
        counter_freq=counter_freq,
        base_counter=meta.get("base_counter") if counter_freq else None,
        sig_len=n,
        base_time=meta.get("base_time"),
        base_date=meta.get("base_date") if meta.get("base_time") is not None else None,
        comments=comments,
        sig_name=names,
        d_signal=d_signal,
        e_d_signal=channels if d_signal is None else None,
        samps_per_frame=spf,
        file_name=file_name,
        fmt=plan["fmt"],
        adc_gain=plan["adc_gain"],
        baseline=plan["baseline"],
        units=units,
        adc_res=plan["adc_res"],
        adc_zero=plan["adc_zero"],
        init_value=init_value,
        checksum=checksum,
        block_size=[0] * c,
    )
    with atomic_group(outputs, force=force) as tmps:
        tmpdir = tmps[0].parent
        try:
            with _quiet_wfdb():
                rec.wrsamp(expanded=d_signal is None, write_dir=str(tmpdir))
        except Exception as exc:
            raise InputError(
                f"record '{name}': wfdb refused to write it ({type(exc).__name__}: {exc})",
                "check the channel names, units and sampling rate",
            ) from exc
        for (src, _), tmp in zip(ann_src, tmps[len(signal_files):-1]):
            shutil.copyfile(src, tmp)
    return outputs


def _own_rate_channels(data: np.ndarray, spf: list[int], native: list | None, *, record: str) -> list[np.ndarray]:
    """Each channel of a multi-frequency record at its own rate, in physical units.

    ``data`` is at the highest rate (whole frames). A slower channel whose samples are
    unchanged since reading (``native``, resampled, equals its column) is written from its
    stored samples, exactly; a changed one is resampled back to its own rate."""
    n, top = len(data), max(spf)
    if n % top:
        raise InputError(f"record '{record}': {n} samples are not whole frames of {top} samples",
                         "keep the length a multiple of the most samples per frame (do not crop part of a frame)")
    stored = native or [None] * len(spf)
    return [data[:, i] if s == top else to_own_rate(data[:, i], stored[i], s, top) for i, s in enumerate(spf)]


def _plan_channels(meta: dict[str, Any], *, n_channels: int, record: str) -> dict[str, list]:
    """Per-channel storage parameters from meta (or defaults), file names under ``record``."""
    keys = ("fmt", "adc_gain", "baseline")
    have = all(isinstance(meta.get(k), (list, tuple)) for k in keys)
    if have and all(len(meta[k]) == n_channels for k in keys):
        fmt = [str(f) for f in meta["fmt"]]
        gain = [float(g) for g in meta["adc_gain"]]
        baseline = [int(b) for b in meta["baseline"]]
        adc_res = list(meta.get("adc_res") or [0] * n_channels)
        adc_zero = list(meta.get("adc_zero") or [0] * n_channels)
        old_files = list(meta.get("file_name") or [])
        known = [True] * n_channels
    else:
        if have:
            logger.warning(
                "record '%s': meta describes %d channels but the signal has %d; writing format 16 "
                "with gains fitted to the data", record, len(meta["fmt"]), n_channels)
        fmt, gain, baseline = ["16"] * n_channels, [0.0] * n_channels, [0] * n_channels
        adc_res, adc_zero, old_files = [16] * n_channels, [0] * n_channels, []
        known = [False] * n_channels
    if len(adc_res) != n_channels or len(adc_zero) != n_channels:
        adc_res, adc_zero = [0] * n_channels, [0] * n_channels
    if len(old_files) != n_channels:
        old_files = [f"{meta.get('record_name') or record}.dat"] * n_channels
    for i in range(n_channels):  # unknown formats and unusable gains: format 16, gain fitted later
        if fmt[i] not in _RANGE:
            fmt[i], gain[i], known[i] = "16", 0.0, False
        elif not (gain[i] > 0 and math.isfinite(gain[i])):
            gain[i] = 0.0

    # Map the original signal files onto the new record name, keeping the grouping.
    old_record = str(meta.get("record_name") or "")
    new_files: dict[str, str] = {}
    for f in _unique(old_files):
        if f.lower().endswith(".mat"):
            new = f"{record}.dat"
            logger.warning("record '%s': %s is a MATLAB (.mat) WFDB signal file; writing it as the WFDB "
                           "signal file %s instead", record, f, new)
        elif old_record and f.startswith(old_record) and re.fullmatch(r"\.?[-\w]*\.\w+", f[len(old_record):]):
            new = record + f[len(old_record):]
        else:
            new = f"{record}.dat" if not new_files else f"{record}_{len(new_files)}.dat"
        while new in new_files.values() or new == f"{record}.hea":
            new = f"{record}_{len(new_files)}.dat"
        new_files[f] = new
    file_name = [new_files[f] for f in old_files]
    # Signals sharing a file must be consecutive (wfdb); otherwise write them all to one file.
    seen: list[str] = []
    for i, f in enumerate(file_name):
        if f in seen and file_name[i - 1] != f:
            file_name = [f"{record}.dat"] * n_channels
            break
        if f not in seen:
            seen.append(f)
    return {"fmt": fmt, "adc_gain": gain, "baseline": baseline, "adc_res": [int(r or 0) for r in adc_res],
            "adc_zero": [int(z or 0) for z in adc_zero], "file_name": file_name, "known": known}


def _valid_range(fmt: str) -> tuple[int, int]:
    """Digital values a sample may take in ``fmt`` (the invalid-sample value excluded)."""
    lo, hi = _RANGE[fmt]
    return (lo + 1, hi) if fmt in _INVALID else (lo, hi)


def _finite_min_max(x: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest finite values of ``x`` (None if none is finite); one pass when all are."""
    mn, mx = float(x.min()), float(x.max())
    if not (math.isfinite(mn) and math.isfinite(mx)):
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            return None
        mn, mx = float(finite.min()), float(finite.max())
    return mn, mx


def _digital_extent(ext: tuple[float, float] | None, gain: float, baseline: int) -> tuple[float, float] | None:
    """The digital values that a channel's finite extremes ``ext`` (:func:`_finite_min_max`) take."""
    if ext is None:
        return None
    return float(np.round(ext[0] * gain + baseline)), float(np.round(ext[1] * gain + baseline))


def _fits(extent: tuple[float, float] | None, fmt: str) -> bool:
    if extent is None:
        return True
    lo, hi = _valid_range(fmt)
    return lo <= extent[0] and extent[1] <= hi


def _refit(x: np.ndarray, fmt: str) -> tuple[float, int]:
    """Gain and baseline that map the data of ``x`` into ``fmt`` with a margin."""
    finite = x[np.isfinite(x)]
    lo, hi = _valid_range(fmt)
    usable = (hi - lo) * (1 - 2 * _MARGIN)
    mn, mx = float(finite.min()), float(finite.max())
    mid = 0.5 * (mn + mx)
    span = mx - mn
    if span <= 0:  # constant channel: any gain represents it; keep the value near zero
        span = max(abs(mid), 1e-12)
    gain = usable / span
    # four significant digits keep the header readable; round down so the data still fit
    exp = math.floor(math.log10(gain)) - 3
    gain = math.floor(gain / 10**exp) * 10**exp
    gain = float(f"{gain:.4g}")
    baseline = int(round(0.5 * (lo + hi) - mid * gain))
    return gain, baseline


def _apply_overflow_policy(data: np.ndarray, plan: dict[str, list], names: list[str], units: list[str],
                           *, record: str) -> np.ndarray:
    """Choose the final fmt/gain/baseline per channel (in ``plan``) and return the digital samples."""
    _choose_storage(data, plan, names, units, record=record)
    # format 16 only (the fast writer of _record_class): int16 samples, a quarter of int64's memory
    digital = np.empty(data.shape, dtype=np.int16 if set(plan["fmt"]) == {"16"} else np.int64)
    for i in range(data.shape[1]):
        _digitize(data[:, i], plan["fmt"][i], plan["adc_gain"][i], plan["baseline"][i],
                  f"record '{record}': channel '{names[i]}'", out=digital[:, i])
    return digital


def _choose_storage(data: np.ndarray, plan: dict[str, list], names: list[str], units: list[str], *,
                    record: str) -> None:
    """The overflow policy: the final fmt/gain/baseline per channel, set in ``plan``, for ``data``."""
    n, c = data.shape
    fmt, gain, baseline = plan["fmt"], plan["adc_gain"], plan["baseline"]
    extremes: dict[int, tuple[float, float] | None] = {}  # each channel's finite min and max, once

    def extent(i: int) -> tuple[float, float] | None:
        if i not in extremes:
            extremes[i] = _finite_min_max(data[:, i])
        return _digital_extent(extremes[i], gain[i], baseline[i])

    # Formats wfdb-python cannot write become format 16 (or 24) with the same gain/baseline.
    for i in range(c):
        if fmt[i] not in _WRITABLE:
            new = _WRITE_AS.get(fmt[i], "16")
            if plan["known"][i]:
                logger.warning("record '%s': channel '%s' was stored in WFDB format %s, which is not "
                               "written here; writing format %s with the same gain and baseline",
                               record, names[i], fmt[i], new)
            fmt[i] = new
            plan["adc_res"][i] = _BITS[new]
    # Channels without a usable gain (no meta, gain 0) get one fitted to the data.
    for i in range(c):
        if not gain[i] > 0:
            if np.isfinite(data[:, i]).any():
                gain[i], baseline[i] = _refit(data[:, i], fmt[i])
            else:
                gain[i], baseline[i] = 200.0, 0
            plan["adc_zero"][i] = 0
            plan["adc_res"][i] = _BITS[fmt[i]]
    # Overflow: widen the file's format to 16 bits keeping gain/baseline, else refit.
    for f in _unique(plan["file_name"]):
        chans = [i for i in range(c) if plan["file_name"][i] == f]
        over = [i for i in chans if not _fits(extent(i), fmt[i])]
        if not over:
            continue
        narrow = [i for i in chans if _BITS[fmt[i]] < 16]
        if narrow:
            widened = all(_fits(extent(i), "16") for i in over)
            old = sorted({fmt[i] for i in narrow})
            for i in narrow:
                fmt[i] = "16"
                plan["adc_res"][i] = 16
            for i in over:
                ext = extent(i)
                logger.warning(
                    "record '%s': channel '%s' needs digital values %d..%d at gain %g adu/%s and baseline %d, "
                    "beyond format %s; signal file %s is written in format 16%s",
                    record, names[i], ext[0], ext[1], gain[i], units[i], baseline[i], "/".join(old), f,
                    " with the same gain and baseline" if widened else "",
                )
        for i in chans:
            ext = extent(i)
            if _fits(ext, fmt[i]):
                continue
            old_gain, old_base = gain[i], baseline[i]
            gain[i], baseline[i] = _refit(data[:, i], fmt[i])
            plan["adc_zero"][i] = 0
            logger.warning(
                "record '%s': channel '%s' spans %g..%g %s, beyond format %s at gain %g adu/%s and baseline %d; "
                "gain refitted to %g adu/%s and baseline to %d (format %s)",
                record, names[i], np.nanmin(data[:, i]), np.nanmax(data[:, i]), units[i], fmt[i], old_gain,
                units[i], old_base, gain[i], units[i], baseline[i], fmt[i],
            )
    # Signals sharing a file must share its format: widen the whole file to its widest one.
    for f in _unique(plan["file_name"]):
        chans = [i for i in range(c) if plan["file_name"][i] == f]
        widest = max((fmt[i] for i in chans), key=lambda x: _BITS[x])
        for i in chans:
            if fmt[i] != widest:
                fmt[i] = widest
                plan["adc_res"][i] = max(plan["adc_res"][i], _BITS[widest])


_DIGITIZE_BLOCK = 1 << 18  # samples per step of _digitize (2 MB of float64)


def _digitize(x: np.ndarray, fmt: str, gain: float, baseline: int, what: str,
              out: np.ndarray | None = None) -> np.ndarray:
    """Digital samples ``round(x * gain + baseline)`` within the format's range; NaN as its invalid value.

    Into ``out`` (any integer type wide enough for the format; a new int64 array if None),
    block by block: no float temporary as long as the record (24 h of ECG, seconds saved)."""
    finite = np.isfinite(x)
    whole = bool(finite.all())
    invalid = _INVALID.get(fmt)
    if not whole and invalid is None:
        raise InputError(f"{what} has NaN samples, which format {fmt} cannot store", "fill the missing samples first")
    lo, hi = _valid_range(fmt)
    d = np.empty(x.shape, dtype=np.int64) if out is None else out
    for a in range(0, x.size, _DIGITIZE_BLOCK):
        part = x[a : a + _DIGITIZE_BLOCK]
        y = part * gain if whole else np.where(finite[a : a + _DIGITIZE_BLOCK], part, 0.0) * gain
        y += baseline
        np.round(y, out=y)
        np.clip(y, lo, hi, out=y)
        d[a : a + _DIGITIZE_BLOCK] = y  # whole numbers within the format's range: exact in any wide enough type
    if not whole:
        d[~finite] = invalid
    return d
