"""Read and write EDF, EDF+ and BDF (BDF+) files, keeping the header and annotations.

The reader and writer here are a small numpy implementation of the EDF/EDF+ and
BioSemi BDF specifications rather than calls into pyEDFlib, because pyEDFlib
cannot give those files back faithfully: it refuses BDF files whose header leaves
the number of data records at -1 (as BioSemi ActiView writes them, e.g. EEGLAB's
``test.bdf``), and its writer rewrites the free-text patient and recording fields
of plain EDF files. The tests check both functions against pyEDFlib where it reads
the file.

Policies
--------
Signal channels only
    ``Signal.data`` holds the signal channels. EDF+/BDF+ annotation channels are
    decoded into ``meta["annotations"]`` and written back as one annotation
    channel.
BDF/EDF "Status" channel
    A channel labelled ``Status`` (BioSemi's trigger and status bits) is **not**
    kept in ``data``: it holds event codes, not a biosignal, and filtering or
    denoising it would destroy them. Its header and raw digital samples are kept
    in ``meta["status"]`` and written back unchanged when the signal keeps its
    length (otherwise it is dropped, with a warning).
One sampling rate
    Signal channels recorded at different rates are refused with an
    :class:`~biodae.InputError` listing the rates.
EDF+D
    A discontinuous file (EDF+D/BDF+D) is read when its data records are in fact
    contiguous, and refused otherwise.
Physical range on write
    Samples are stored with each channel's header (physical and digital min/max),
    so unchanged data come back within rounding. New data beyond a channel's
    physical range widen that range (logged as a warning on ``"biodae.io"``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from ._atomic import atomic_path
from ._containers import Signal

__all__ = ["read_edf", "write_edf"]

logger = logging.getLogger("biodae.io")

_EDF_VERSION = b"0       "
_BDF_VERSION = b"\xffBIOSEMI"
_ANNOTATION_LABELS = {"EDF Annotations", "BDF Annotations"}
_STATUS_LABEL = "Status"
# Per-signal header fields: name and width in bytes, in file order.
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


# ----------------------------------------------------------------------------- reading


def read_edf(path: str | os.PathLike) -> Signal:
    """Read an EDF, EDF+ or BDF file (signal channels, physical units).

    Parameters
    ----------
    path : str or path-like
        The ``.edf`` or ``.bdf`` file.

    Returns
    -------
    Signal
        ``data`` of shape ``(n_samples, n_channels)`` in physical units (float64,
        ``units[i]`` from the header's physical dimension), ``sampling_rate`` in Hz
        (samples per data record / record duration), ``format`` ``"edf"`` or
        ``"bdf"``. ``meta`` holds ``file_type`` (``"EDF"``, ``"EDF+C"``,
        ``"EDF+D"``, ``"BDF"``, ``"BDF+C"``, ``"BDF+D"``), the header fields
        ``patient``, ``recording``, ``startdate``, ``starttime``, ``reserved``,
        ``start_datetime`` (``datetime`` or None), ``record_duration`` (s),
        ``n_records``, ``channels`` (per signal channel: ``label``,
        ``transducer``, ``dimension``, ``physical_min``, ``physical_max``,
        ``digital_min``, ``digital_max``, ``prefilter``, ``samples_per_record``,
        ``reserved``), ``annotations`` (list of ``{"onset": s, "duration": s or
        None, "description": str}``), ``annotation_channel`` (the header of the
        EDF+ annotation channel; None in plain EDF/BDF), ``record_onset`` (s,
        start of the first data record in EDF+) and ``status`` (the Status
        channel: its header fields plus ``digital``, int32 array; None when
        absent).

    Raises
    ------
    InputError
        If the file is missing, empty, not EDF/BDF, truncated, has an unreadable
        header, channels at different sampling rates, or is a discontinuous EDF+D
        file with gaps.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"EDF file {p} not found", "check the path")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"EDF file {p.name} is empty (0 bytes)", "copy it again from its source")
    with open(p, "rb") as fh:
        head = fh.read(256)
        if len(head) < 256:
            raise InputError(f"EDF file {p.name} holds {size} bytes, less than the 256-byte EDF header",
                             "the file is truncated or not EDF: copy it again from its source")
        version = head[:8]
        if version not in (_EDF_VERSION, _BDF_VERSION):
            raise InputError(f"{p.name} is not an EDF or BDF file (version field {version!r})",
                             "give an EDF/EDF+ (.edf) or BioSemi BDF (.bdf) file")
        bdf = version == _BDF_VERSION
        kind = "BDF" if bdf else "EDF"
        text = head.decode("latin-1")
        header_bytes = _int_field(text[184:192], "header size", p)
        n_records = _int_field(text[236:244], "number of data records", p)
        duration = _float_field(text[244:252], "data record duration", p)
        ns = _int_field(text[252:256], "number of signals", p)
        if ns <= 0:
            raise InputError(f"{kind} file {p.name}: the header declares {ns} signals",
                             "the header is damaged: copy the file again from its source")
        if header_bytes != 256 * (ns + 1):
            raise InputError(
                f"{kind} file {p.name}: the header declares {ns} signals, which need a "
                f"{256 * (ns + 1)}-byte header, but its size field says {header_bytes}",
                "the header is damaged: copy the file again from its source",
            )
        rest = fh.read(256 * ns)
    if len(rest) < 256 * ns:
        raise InputError(f"{kind} file {p.name} holds {size} bytes, less than its {header_bytes}-byte header",
                         "the file is truncated: copy it again from its source")
    channels = _parse_signal_headers(rest.decode("latin-1"), ns, p)

    bps = 3 if bdf else 2
    spr = [ch["samples_per_record"] for ch in channels]
    record_bytes = sum(spr) * bps
    if record_bytes <= 0:
        raise InputError(f"{kind} file {p.name}: the header declares 0 samples per data record",
                         "the header is damaged: copy the file again from its source")
    data_bytes = size - header_bytes
    if n_records < 0:  # -1: not written when the recording stopped (BioSemi) -> from the file size
        n_records = data_bytes // record_bytes
        if data_bytes % record_bytes:
            logger.warning("%s file %s: the header leaves the number of data records open; "
                           "ignoring %d bytes of a trailing incomplete record",
                           kind, p.name, data_bytes % record_bytes)
    elif data_bytes < n_records * record_bytes:
        raise InputError(
            f"{kind} file {p.name} holds {data_bytes} bytes of data but the header declares "
            f"{n_records} data records × {record_bytes} bytes ({n_records * record_bytes} bytes)",
            "the file is truncated: copy it again from its source",
        )
    if n_records == 0:
        raise InputError(f"{kind} file {p.name} holds no data records", "the file has no samples to read")

    reserved = text[192:236].rstrip()
    plus = reserved[:4] in ("EDF+", "BDF+")
    file_type = reserved[:5] if plus else kind
    labels = [ch["label"] for ch in channels]
    ann_idx = [i for i, lab in enumerate(labels) if lab in _ANNOTATION_LABELS]
    status_idx = [i for i, lab in enumerate(labels) if lab == _STATUS_LABEL]
    sig_idx = [i for i in range(ns) if i not in ann_idx and i not in status_idx]
    if not sig_idx:
        raise InputError(f"{kind} file {p.name} holds no signal channels (only annotations/status)",
                         "there are no samples to read")
    if not duration > 0:
        raise InputError(f"{kind} file {p.name}: data record duration {duration} s is not positive",
                         "the header is damaged: copy the file again from its source")
    if any(spr[i] == 0 for i in sig_idx):
        raise InputError(f"{kind} file {p.name}: signal channel(s) "
                         f"{', '.join(repr(labels[i]) for i in sig_idx if spr[i] == 0)} hold 0 samples per record",
                         "the header is damaged: copy the file again from its source")
    rates = {i: spr[i] / duration for i in sig_idx}
    if len(set(spr[i] for i in sig_idx)) > 1:
        by_rate: dict[float, list[str]] = {}
        for i in sig_idx:
            by_rate.setdefault(rates[i], []).append(labels[i])
        listed = "; ".join(f"{r:g} Hz: {', '.join(v[:6])}{' ...' if len(v) > 6 else ''}"
                           for r, v in sorted(by_rate.items()))
        raise InputError(
            f"{kind} file {p.name}: signal channels have different sampling rates ({listed})",
            "select channels sharing one rate (or resample them to one rate) before reading it here, "
            "e.g. with EDFbrowser or MNE",
        )
    bad = [labels[i] for i in sig_idx + status_idx
           if channels[i]["digital_max"] <= channels[i]["digital_min"]
           or channels[i]["physical_max"] == channels[i]["physical_min"]]
    if bad:
        raise InputError(f"{kind} file {p.name}: channel(s) {', '.join(map(repr, bad))} have an empty "
                         "physical or digital range in the header",
                         "the header is damaged: copy the file again from its source")

    raw = np.fromfile(p, dtype=np.uint8, count=n_records * record_bytes, offset=header_bytes)
    raw = raw.reshape(n_records, record_bytes)
    if bdf:
        b = raw.reshape(n_records, -1, 3).astype(np.int32)
        samples = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
        samples = np.where(samples >= 1 << 23, samples - (1 << 24), samples)
    else:
        samples = raw.view("<i2").astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(spr)])

    def digital(i: int) -> np.ndarray:
        return np.ascontiguousarray(samples[:, starts[i]:starts[i + 1]]).reshape(-1)

    data = np.empty((n_records * spr[sig_idx[0]], len(sig_idx)), dtype=np.float64)
    for k, i in enumerate(sig_idx):
        data[:, k] = _to_physical(digital(i), channels[i])

    annotations: list[dict[str, Any]] = []
    record_onsets: list[float] = []
    for i in ann_idx:
        chunk = raw[:, starts[i] * bps:starts[i + 1] * bps]
        onsets, anns = _parse_annotations(chunk, first_channel=(i == ann_idx[0]), path=p)
        annotations += anns
        if i == ann_idx[0]:
            record_onsets = onsets
    record_onset = float(record_onsets[0]) if record_onsets else 0.0
    if plus and reserved[4:5] == "D" and record_onsets:
        expected = record_onset + duration * np.arange(n_records)
        gaps = np.flatnonzero(np.abs(np.asarray(record_onsets) - expected) > 1e-6)
        if gaps.size:
            k = int(gaps[0])
            raise InputError(
                f"{kind} file {p.name} is a discontinuous {file_type} recording: data record {k} starts at "
                f"{record_onsets[k]:g} s, not {expected[k]:g} s",
                "split it into continuous parts (e.g. with EDFbrowser) and read each part",
            )

    status = None
    if status_idx:
        i = status_idx[0]
        status = dict(channels[i])
        status["digital"] = digital(i).astype(np.int32)
    meta: dict[str, Any] = {
        "file_type": file_type,
        "patient": text[8:88].rstrip(),
        "recording": text[88:168].rstrip(),
        "startdate": text[168:176].strip(),
        "starttime": text[176:184].strip(),
        "start_datetime": _start_datetime(text[168:176], text[176:184], text[88:168]),
        "reserved": reserved,
        "record_duration": duration,
        "n_records": int(n_records),
        "channels": [channels[i] for i in sig_idx],
        "annotations": annotations,
        "annotation_channel": dict(channels[ann_idx[0]]) if ann_idx else None,
        "record_onset": record_onset,
        "status": status,
    }
    return Signal(
        data=data,
        sampling_rate=float(rates[sig_idx[0]]),
        channel_names=[labels[i] for i in sig_idx],
        units=[channels[i]["dimension"] for i in sig_idx],
        format="bdf" if bdf else "edf",
        meta=meta,
        source=p,
    )


def _int_field(text: str, what: str, path: Path) -> int:
    try:
        return int(text.strip())
    except ValueError:
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if value.is_integer():
            return int(value)
        raise InputError(f"EDF file {path.name}: header field '{what}' is {text.strip()!r}, not an integer",
                         "the header is damaged or the file is not EDF: copy it again from its source") from None


def _float_field(text: str, what: str, path: Path) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"EDF file {path.name}: header field '{what}' is {text.strip()!r}, not a number",
                         "the header is damaged or the file is not EDF: copy it again from its source")
    return value


def _parse_signal_headers(text: str, ns: int, path: Path) -> list[dict[str, Any]]:
    channels: list[dict[str, Any]] = [{} for _ in range(ns)]
    pos = 0
    for name, width in _SIGNAL_FIELDS:
        for i in range(ns):
            raw = text[pos + i * width: pos + (i + 1) * width]
            what = f"{name} of signal {i + 1}"
            if name in ("physical_min", "physical_max"):
                channels[i][name] = _float_field(raw, what, path)
            elif name in ("digital_min", "digital_max", "samples_per_record"):
                channels[i][name] = _int_field(raw, what, path)
            else:
                channels[i][name] = raw.strip()
        pos += ns * width
    for i, ch in enumerate(channels):
        if ch["samples_per_record"] < 0:
            raise InputError(f"EDF file {path.name}: signal {i + 1} ({ch['label']!r}) declares "
                             f"{ch['samples_per_record']} samples per data record",
                             "the header is damaged: copy the file again from its source")
    return channels


def _to_physical(d: np.ndarray, ch: dict[str, Any]) -> np.ndarray:
    """EDF digital -> physical: linear map of [digital_min, digital_max] onto [physical_min, physical_max]."""
    gain = (ch["physical_max"] - ch["physical_min"]) / (ch["digital_max"] - ch["digital_min"])
    return (d - float(ch["digital_min"])) * gain + ch["physical_min"]


def _to_digital(x: np.ndarray, ch: dict[str, Any]) -> np.ndarray:
    gain = (ch["physical_max"] - ch["physical_min"]) / (ch["digital_max"] - ch["digital_min"])
    d = np.round((x - ch["physical_min"]) / gain + ch["digital_min"])
    return np.clip(d, ch["digital_min"], ch["digital_max"]).astype(np.int32)


def _parse_annotations(chunk: np.ndarray, *, first_channel: bool,
                       path: Path) -> tuple[list[float], list[dict[str, Any]]]:
    """Decode the TALs of one annotation channel (``chunk``: records × bytes).

    Returns the time-keeping onset of each data record and the annotations.
    """
    onsets: list[float] = []
    anns: list[dict[str, Any]] = []
    for k, rec in enumerate(chunk):
        tals = [t for t in bytes(rec).split(b"\x00") if t]
        for j, tal in enumerate(tals):
            parts = tal.split(b"\x14")
            if len(parts) < 2:
                continue  # padding or a damaged TAL
            times = parts[0].split(b"\x15")
            try:
                onset = float(times[0])
                duration = float(times[1]) if len(times) > 1 and times[1] else None
            except ValueError:
                raise InputError(f"EDF+ file {path.name}: data record {k} holds an unreadable annotation "
                                 f"{tal[:40]!r}", "the annotation channel is damaged: copy the file again") from None
            texts = parts[1:-1] if parts[-1] == b"" else parts[1:]
            if j == 0 and first_channel and texts and texts[0] == b"":
                onsets.append(onset)  # time-keeping TAL
                texts = texts[1:]
            for t in texts:
                anns.append({"onset": onset, "duration": duration,
                             "description": t.decode("utf-8", errors="replace")})
    return onsets, anns


def _start_datetime(date: str, time: str, recording: str) -> _dt.datetime | None:
    try:
        day, month, yy = (int(v) for v in date.strip().split("."))
        hh, mm, ss = (int(v) for v in time.strip().split("."))
        year = 1900 + yy if yy >= 85 else 2000 + yy
        m = re.match(r"Startdate (\d\d)-([A-Z]{3})-(\d{4})", recording)
        if m and m.group(2) in _MONTHS:  # EDF+ gives the 4-digit year here
            year = int(m.group(3))
        return _dt.datetime(year, month, day, hh, mm, ss)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- writing


def write_edf(signal: Signal, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a signal as EDF/EDF+ (16-bit) or BDF/BDF+ (24-bit).

    Parameters
    ----------
    signal : Signal
        ``data`` of shape ``(n_samples, n_channels)`` in physical units
        (``units[i]``), finite. ``format`` ``"bdf"`` writes BDF, anything else EDF
        (a ``.bdf`` suffix selects BDF for a signal read from another format).
        ``meta`` as :func:`read_edf` fills it keeps the file type, header fields,
        per-channel headers, annotations and the Status channel.
    path : str or path-like
        Output file.
    force : bool, optional
        Overwrite an existing file.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        If the data hold NaN or infinite values, or the sampling rate cannot be
        expressed as whole samples per data record of at most 60 s.
    OutputExistsError
        If the output exists and ``force`` is False.

    Notes
    -----
    Channel labels and units come from ``signal.channel_names`` and
    ``signal.units``. Digital samples are
    ``round((x - physical_min) / step + digital_min)``, so unchanged data are
    written back exactly; data beyond a channel's physical range widen it (logged).
    A length that is not a whole number of data records is padded with the last
    sample (logged). Written atomically.
    """
    out = Path(path)
    fmt = signal.format if signal.format in ("edf", "bdf") else ("bdf" if out.suffix.lower() == ".bdf" else "edf")
    bdf = fmt == "bdf"
    meta = signal.meta if signal.format in ("edf", "bdf") and signal.meta else {}
    data = np.asarray(signal.data, dtype=np.float64)
    n, c = data.shape
    if n == 0:
        raise InputError(f"EDF output {out.name}: the signal has no samples", "nothing to write")
    if not np.isfinite(data).all():
        bad = [signal.channel_names[i] for i in range(c) if not np.isfinite(data[:, i]).all()]
        raise InputError(f"EDF output {out.name}: channel(s) {', '.join(map(repr, bad))} hold NaN or "
                         "infinite values, which EDF cannot store",
                         "fill or interpolate the missing samples first")

    kind = "BDF" if bdf else "EDF"
    file_type = str(meta.get("file_type") or f"{kind}+C")
    file_type = kind + file_type[3:]  # an EDF header written as BDF keeps its +C/+D
    plus = file_type[3:4] == "+"
    if plus and file_type[4:5] not in ("C", "D"):
        file_type = kind + "+C"
    dmin_default, dmax_default = (-(2**23), 2**23 - 1) if bdf else (-(2**15), 2**15 - 1)

    duration, spr = _record_layout(float(signal.sampling_rate), meta, out)
    n_records = -(-n // spr)
    if n_records * spr != n:
        pad = n_records * spr - n
        logger.warning("EDF output %s: %d samples are not a whole number of %g-s data records; "
                       "padding the last record with %d copies of the last sample", out.name, n, duration, pad)
        data = np.concatenate([data, np.repeat(data[-1:], pad, axis=0)])

    # Channel headers: from meta when they describe these channels, else fitted to the data.
    known = meta.get("channels") if isinstance(meta.get("channels"), list) else None
    if known is not None and len(known) != c:
        logger.warning("EDF output %s: meta describes %d channels but the signal has %d; "
                       "fitting channel headers to the data", out.name, len(known), c)
        known = None
    channels = []
    digital = np.empty((n_records, c * spr), dtype=np.int32)
    for i in range(c):
        ch = dict(known[i]) if known is not None else {
            "transducer": "", "prefilter": "", "reserved": "",
            "digital_min": dmin_default, "digital_max": dmax_default,
        }
        ch["label"] = str(signal.channel_names[i])
        ch["dimension"] = str(signal.units[i])
        ch["samples_per_record"] = spr
        if not (dmin_default <= int(ch["digital_min"]) < int(ch["digital_max"]) <= dmax_default):
            ch["digital_min"], ch["digital_max"] = dmin_default, dmax_default
        if known is not None:  # the numbers used below must be the ones the header holds
            ch["physical_min"] = float(_format_number(float(ch["physical_min"]), "floor"))
            ch["physical_max"] = float(_format_number(float(ch["physical_max"]), "ceil"))
        _fit_physical_range(ch, data[:, i], known is not None, out)
        channels.append(ch)
        digital[:, i * spr:(i + 1) * spr] = _to_digital(data[:, i], ch).reshape(n_records, spr)

    status = meta.get("status")
    extra_channels: list[dict[str, Any]] = []
    extra_digital: list[np.ndarray] = []
    if status:
        s_spr = int(status["samples_per_record"])
        s_dig = np.asarray(status["digital"], dtype=np.int32)
        if s_dig.size == n_records * s_spr:
            extra_channels.append({k: v for k, v in status.items() if k != "digital"})
            extra_digital.append(s_dig.reshape(n_records, s_spr))
        else:
            logger.warning("EDF output %s: the Status channel (%d samples) does not match the new length "
                           "(%d data records); it is not written", out.name, s_dig.size, n_records)

    bps = 3 if bdf else 2
    annotations = list(meta.get("annotations") or [])
    ann_bytes = None
    if plus:
        ann_channel = {
            "transducer": "", "dimension": "", "physical_min": -1.0, "physical_max": 1.0,
            "digital_min": dmin_default, "digital_max": dmax_default, "prefilter": "",
            "samples_per_record": 0, "reserved": "",
        }
        if isinstance(meta.get("annotation_channel"), dict):
            ann_channel.update(meta["annotation_channel"])
        ann_bytes = _annotation_records(annotations, n_records=n_records, duration=duration,
                                        record_onset=float(meta.get("record_onset") or 0.0),
                                        min_samples=int(ann_channel["samples_per_record"]), bps=bps)
        ann_channel["label"] = f"{kind} Annotations"
        ann_channel["samples_per_record"] = ann_bytes.shape[1] // bps
        extra_channels.append(ann_channel)
    elif annotations:
        logger.warning("EDF output %s: %d annotations are not written (plain %s has no annotation channel)",
                       out.name, len(annotations), kind)

    all_channels = channels + extra_channels
    header = _build_header(meta, all_channels, bdf=bdf, file_type=file_type if plus else kind,
                           n_records=n_records, duration=duration, out=out)
    blocks = [_encode(digital, bdf)] + [_encode(d, bdf) for d in extra_digital]
    if ann_bytes is not None:
        blocks.append(ann_bytes)
    body = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    with atomic_path(out, force=force) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header)
            fh.write(np.ascontiguousarray(body).tobytes())
    return out


def _record_layout(fs: float, meta: dict[str, Any], out: Path) -> tuple[float, int]:
    """Data-record duration (s) and samples per record for sampling rate ``fs`` (Hz)."""
    candidates = []
    if meta.get("record_duration"):
        candidates.append(float(meta["record_duration"]))
    candidates += [1.0] + [float(k) for k in range(2, 61)]
    for dur in candidates:
        spr = fs * dur
        if spr >= 1 and abs(spr - round(spr)) < 1e-6 and len(_format_number(dur)) <= 8:
            return dur, int(round(spr))
    raise InputError(f"EDF output {out.name}: sampling rate {fs:g} Hz gives no whole number of samples in any "
                     "data record of at most 60 s", "resample the signal to a rate EDF can store (e.g. an integer)")


def _fit_physical_range(ch: dict[str, Any], x: np.ndarray, from_meta: bool, out: Path) -> None:
    """Set (or widen) ``physical_min``/``physical_max`` so that they hold ``x``; 8-character numbers."""
    lo, hi = float(x.min()), float(x.max())
    if not from_meta:
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
        ch["physical_min"] = float(_format_number(lo, "floor"))
        ch["physical_max"] = float(_format_number(hi, "ceil"))
        return
    pmin, pmax = float(ch["physical_min"]), float(ch["physical_max"])
    inverted = pmin > pmax
    low, high = (pmax, pmin) if inverted else (pmin, pmax)
    # tolerate values that round into the range (a read-back sample may exceed it by an ulp)
    step = abs(pmax - pmin) / (int(ch["digital_max"]) - int(ch["digital_min"]))
    if lo >= low - step / 2 and hi <= high + step / 2:
        return
    new_low = float(_format_number(min(low, lo), "floor"))
    new_high = float(_format_number(max(high, hi), "ceil"))
    if inverted:
        ch["physical_min"], ch["physical_max"] = new_high, new_low
    else:
        ch["physical_min"], ch["physical_max"] = new_low, new_high
    logger.warning("EDF output %s: channel '%s' spans %g..%g %s, beyond its physical range %g..%g; "
                   "range widened to %g..%g", out.name, ch["label"], lo, hi, ch["dimension"], pmin, pmax,
                   ch["physical_min"], ch["physical_max"])


def _format_number(x: float, rounding: str = "nearest") -> str:
    """``x`` as at most 8 ASCII characters (EDF header numbers), rounded as asked."""
    s = np.format_float_positional(float(x), trim="-")
    if len(s) <= 8 and "e" not in s:
        return "0" if s == "-0" else s
    for decimals in range(7, -1, -1):
        q = 10.0**decimals
        v = {"floor": math.floor, "ceil": math.ceil}.get(rounding, round)(x * q) / q
        s = f"{v:.{decimals}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        if s == "-0":
            s = "0"
        if len(s) <= 8:
            return s
    raise InputError(f"value {x:g} does not fit the 8-character EDF header field",
                     "rescale the signal (e.g. change its unit) before writing EDF")


def _text(value: Any, width: int, what: str, out: Path) -> bytes:
    raw = str(value).encode("latin-1", errors="replace")
    if len(raw) > width:
        logger.warning("EDF output %s: %s %r cut to %d characters", out.name, what, str(value), width)
        raw = raw[:width]
    return raw.ljust(width, b" ")


def _build_header(meta: dict[str, Any], channels: list[dict[str, Any]], *, bdf: bool, file_type: str,
                  n_records: int, duration: float, out: Path) -> bytes:
    ns = len(channels)
    plus = "+" in file_type
    start = meta.get("start_datetime")
    startdate, starttime = meta.get("startdate"), meta.get("starttime")
    if not (startdate and starttime):
        start = start if isinstance(start, _dt.datetime) else _dt.datetime(1985, 1, 1)
        startdate, starttime = start.strftime("%d.%m.%y"), start.strftime("%H.%M.%S")
    patient = meta.get("patient")
    recording = meta.get("recording")
    if plus:
        if not patient:
            patient = "X X X X"
        if not recording or not str(recording).startswith("Startdate"):
            recording = "Startdate X X X X"
    if bdf and not plus:
        reserved = "24BIT"
    elif plus:
        reserved = file_type
    else:
        reserved = ""
    head = b"".join([
        _BDF_VERSION if bdf else _EDF_VERSION,
        _text(patient or "", 80, "patient field", out),
        _text(recording or "", 80, "recording field", out),
        _text(startdate, 8, "start date", out),
        _text(starttime, 8, "start time", out),
        _text(256 * (ns + 1), 8, "header size", out),
        _text(reserved, 44, "reserved field", out),
        _text(n_records, 8, "number of records", out),
        _text(_format_number(duration), 8, "record duration", out),
        _text(ns, 4, "number of signals", out),
    ])
    fields = []
    for name, width in _SIGNAL_FIELDS:
        for ch in channels:
            value = ch.get(name, "")
            if name in ("physical_min", "physical_max"):
                value = _format_number(float(value))
            elif name in ("digital_min", "digital_max", "samples_per_record"):
                value = str(int(value))
            fields.append(_text(value, width, f"{name} of channel {ch.get('label', '')!r}", out))
    return head + b"".join(fields)


def _encode(digital: np.ndarray, bdf: bool) -> np.ndarray:
    """Digital samples (records × samples, int32) as little-endian bytes (records × bytes)."""
    if bdf:
        b = np.ascontiguousarray(digital.astype("<i4")).view(np.uint8).reshape(digital.shape[0], -1, 4)
        return b[..., :3].reshape(digital.shape[0], -1)
    return np.ascontiguousarray(digital.astype("<i2")).view(np.uint8).reshape(digital.shape[0], -1)


def _tal_time(t: float) -> str:
    s = np.format_float_positional(round(float(t), 7), trim="-")
    return s if s.startswith("-") else "+" + s


def _annotation_records(annotations: list[dict[str, Any]], *, n_records: int, duration: float,
                        record_onset: float, min_samples: int, bps: int) -> np.ndarray:
    """Pack time-keeping TALs and annotations into an annotation channel (records × bytes)."""
    keeping = [f"{_tal_time(record_onset + k * duration)}\x14\x14\x00".encode() for k in range(n_records)]
    items = []
    for a in sorted(annotations, key=lambda a: float(a["onset"])):
        text = re.sub(r"[\x00\x14\x15]", " ", str(a.get("description", "")))
        dur = a.get("duration")
        tal = _tal_time(a["onset"])
        if dur is not None and float(dur) >= 0:
            tal += "\x15" + np.format_float_positional(round(float(dur), 7), trim="-")
        tal += "\x14" + text + "\x14\x00"
        target = int(math.floor((float(a["onset"]) - record_onset) / duration)) if duration > 0 else 0
        items.append((min(max(target, 0), n_records - 1), tal.encode("utf-8")))
    need = max(len(t) for t in keeping) + max((len(t) for _, t in items), default=0)
    samples = max(min_samples, -(-need // bps))
    while True:
        cap = samples * bps
        buf = [bytearray(t) for t in keeping]
        k = 0
        ok = True
        for target, tal in items:
            k = max(k, target)
            while k < n_records and len(buf[k]) + len(tal) > cap:
                k += 1
            if k == n_records:
                ok = False
                break
            buf[k] += tal
        if ok:
            break
        samples = int(samples * 1.5) + 1
    out = np.zeros((n_records, samples * bps), dtype=np.uint8)
    for k, b in enumerate(buf):
        out[k, :len(b)] = np.frombuffer(bytes(b), dtype=np.uint8)
    return out
