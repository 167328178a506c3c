"""Read and write EDF, EDF+ and BDF (BDF+) files with edfio, keeping the header and annotations.

The file format itself (header fields, data records, 16/24-bit samples, EDF+/BDF+
annotation channels) is handled by `edfio <https://github.com/the-siesta-group/edfio>`_.
pyEDFlib is not used because it cannot give these files back faithfully: it refuses
BDF files whose header leaves the number of data records at -1 (as BioSemi ActiView
writes them, e.g. EEGLAB's ``test.bdf``), and its writer rewrites the free-text
patient and recording fields of plain EDF files. This module adds what edfio leaves
to its caller: one-line :class:`~biodae.InputError` messages naming the file (a few
size and number checks of the fixed header run before edfio, so that a truncated or
damaged file is named as such), the policies below, and atomic writing.

Policies
--------
Signal channels only
    ``Signal.data`` holds the signal channels. EDF+/BDF+ annotation channels are
    decoded into ``meta["annotations"]`` and written back as one annotation channel
    (laid out by edfio: its size and header may differ from the original's).
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
    contiguous (edfio's ``is_continuous``), and refused otherwise. It is written
    back as EDF+C/BDF+C, which is what its contiguous records are.
Physical range on write
    Samples are stored with each channel's header (physical and digital min/max),
    so unchanged data come back within rounding. New data beyond a channel's
    physical range widen that range (logged as a warning on ``"biodae.io"``).
edfio's warnings
    edfio's warnings while reading (e.g. ``BDF header indicates -1 data records``)
    are caught and logged on ``"biodae.io"`` (the -1 record count at INFO level).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import edfio
import numpy as np

from .._errors import InputError
from ._atomic import atomic_path
from ._rates import to_common_rate, to_own_rate
from ._containers import Signal

__all__ = ["read_edf", "write_edf"]

logger = logging.getLogger("biodae.io")

_EDF_VERSION = b"0       "
_BDF_VERSION = b"\xffBIOSEMI"
_STATUS_LABEL = "Status"
# Digital range and sample dtype of each format (edfio's defaults and storage types).
_DIGITAL = {"EDF": ((-(2**15), 2**15 - 1), np.int16), "BDF": ((-(2**23), 2**23 - 1), np.int32)}
# Offset (per signal, in bytes) of the "samples per data record" field in the signal
# headers: label 16, transducer 80, dimension 8, physical and digital min/max 4 x 8,
# prefiltering 80.
_SPR_OFFSET = 16 + 80 + 8 + 4 * 8 + 80
_DAMAGED = "the header is damaged or the file is not EDF: copy it again from its source"


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
        (samples per data record / record duration; channels stored at lower rates are
        resampled to the highest, and ``meta["native_data"]`` keeps their samples as
        stored so that :func:`write_edf` writes unchanged ones back exactly), ``format``
        ``"edf"`` or ``"bdf"``. ``meta`` holds ``file_type`` (``"EDF"``, ``"EDF+C"``,
        ``"EDF+D"``, ``"BDF"``, ``"BDF+C"``, ``"BDF+D"``), the header fields
        ``patient``, ``recording`` (the free-text fields as stored, trailing
        blanks removed), ``startdate``, ``starttime`` (the header's
        ``dd.mm.yy``/``hh.mm.ss`` text), ``reserved``, ``start_datetime`` (time of
        the first sample as edfio gives it, with the EDF+ sub-second offset;
        ``datetime`` or None when the date is anonymised or unreadable),
        ``record_duration`` (s), ``n_records``, ``channels`` (per signal channel:
        ``label``, ``transducer``, ``dimension``, ``physical_min``,
        ``physical_max``, ``digital_min``, ``digital_max``, ``prefilter``,
        ``samples_per_record``, ``reserved``), ``annotations`` (list of
        ``{"onset": s from the first sample, "duration": s or None,
        "description": str}``) and ``status`` (the Status channel: its header
        fields plus ``digital``, int32 array; None when absent).

    Raises
    ------
    InputError
        If the file is missing, empty, not EDF/BDF, truncated, has an unreadable
        header, or is a discontinuous EDF+D file with gaps.
    """
    p = Path(path)
    layout = _check_layout(p)
    kind = layout["kind"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            source: Path | memoryview = p
            if layout["trim"]:  # hand edfio exactly the records the header declares
                source = memoryview(p.read_bytes())[: layout["end"]]
            if layout["bdf"]:
                edf = edfio.read_bdf(source, header_encoding="latin-1")
            else:
                edf = edfio.read_edf(source, lazy_load_data=False, header_encoding="latin-1")
            signals = list(edf.signals)
            headers = [_channel_header(s) for s in signals]
            annotations = [
                {"onset": float(a.onset), "duration": None if a.duration is None else float(a.duration),
                 "description": a.text}
                for a in edf.annotations
            ]
            reserved = edf.reserved
            plus = reserved[:4] in ("EDF+", "BDF+")
            if plus and reserved[4:5] == "D" and not edf.is_continuous:
                raise InputError(
                    f"{kind} file {p.name} is a discontinuous {reserved[:5]} recording: its data records "
                    "do not follow each other in time (there are gaps)",
                    "split it into continuous parts (e.g. with EDFbrowser) and read each part",
                )
            start = _edfio_start(edf)
            patient, recording = edf.local_patient_identification, edf.local_recording_identification
    except InputError:
        raise
    except Exception as exc:  # edfio's ValueError, UnicodeDecodeError...: name the file, one line
        raise InputError(f"{kind} file {p.name} could not be read (edfio: {_one_line(exc)})",
                         "the file is damaged or not EDF/BDF: copy it again from its source") from None
    for w in caught:
        level = logging.INFO if "data records, but file contains" in str(w.message) else logging.WARNING
        logger.log(level, "%s file %s: edfio: %s", kind, p.name, w.message)

    labels = [h["label"] for h in headers]
    status_idx = [i for i, lab in enumerate(labels) if lab == _STATUS_LABEL]
    sig_idx = [i for i in range(len(signals)) if i not in status_idx]
    if not sig_idx:
        raise InputError(f"{kind} file {p.name} holds no signal channels (only annotations/status)",
                         "there are no samples to read")
    spr = [h["samples_per_record"] for h in headers]
    if any(spr[i] == 0 for i in sig_idx):
        raise InputError(f"{kind} file {p.name}: signal channel(s) "
                         f"{', '.join(repr(labels[i]) for i in sig_idx if spr[i] == 0)} hold 0 samples per record",
                         "the header is damaged: copy the file again from its source")
    duration = layout["duration"]
    top = max(spr[i] for i in sig_idx)
    slower = [i for i in sig_idx if spr[i] != top]
    if slower:  # polysomnography and the like: resp, SpO2... at lower rates than EEG/ECG
        listed = ", ".join(f"{labels[i]} ({spr[i] / duration:g} Hz)" for i in slower[:6])
        logger.info("%s file %s: channel(s) %s%s are resampled to %g Hz, the file's highest rate, while in "
                    "memory; biodae writes them back at their own rates (unchanged ones exactly)", kind, p.name,
                    listed, " ..." if len(slower) > 6 else "", top / duration)
    bad = [labels[i] for i in sig_idx + status_idx
           if headers[i]["digital_max"] <= headers[i]["digital_min"]
           or headers[i]["physical_max"] == headers[i]["physical_min"]]
    if bad:
        raise InputError(f"{kind} file {p.name}: channel(s) {', '.join(map(repr, bad))} have an empty "
                         "physical or digital range in the header",
                         "the header is damaged: copy the file again from its source")

    data = np.empty((layout["n_records"] * top, len(sig_idx)), dtype=np.float64)
    native: list[np.ndarray | None] = []
    for k, i in enumerate(sig_idx):
        x = np.asarray(signals[i].data, dtype=np.float64)
        native.append(x.copy() if spr[i] != top else None)
        data[:, k] = x if spr[i] == top else to_common_rate(x, spr[i], top, len(data))
    status = None
    if status_idx:
        i = status_idx[0]
        status = dict(headers[i])
        status["digital"] = np.asarray(signals[i].digital, dtype=np.int32).copy()

    text = layout["text"]
    meta: dict[str, Any] = {
        "file_type": reserved[:5] if plus else kind,
        "patient": patient,
        "recording": recording,
        "startdate": text[168:176].strip(),
        "starttime": text[176:184].strip(),
        "start_datetime": start,
        "reserved": reserved,
        "record_duration": duration,
        "n_records": layout["n_records"],
        "channels": [headers[i] for i in sig_idx],
        # channels stored at a lower rate than ``sampling_rate``: their samples as stored (None for the others)
        "native_data": native if slower else None,
        "annotations": annotations,
        "status": status,
    }
    return Signal(
        data=data,
        sampling_rate=float(top / duration),
        channel_names=[labels[i] for i in sig_idx],
        units=[headers[i]["dimension"] for i in sig_idx],
        format="bdf" if layout["bdf"] else "edf",
        meta=meta,
        source=p,
    )


def _check_layout(p: Path) -> dict[str, Any]:
    """Check the file against its fixed header (sizes and numbers) before edfio reads it.

    edfio reads a file whose data are shorter than its header declares without an
    error (it drops the missing records, with a warning), and reports a damaged number
    without naming the field; these checks give the user the reason instead.
    """
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
        declared = _int_field(text[236:244], "number of data records", p)
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
    if not duration > 0:
        raise InputError(f"{kind} file {p.name}: data record duration {duration:g} s is not positive",
                         "the header is damaged, or the file holds annotations only (no samples to read)")
    fields = rest[_SPR_OFFSET * ns:(_SPR_OFFSET + 8) * ns].decode("latin-1")
    spr = [_int_field(fields[8 * i:8 * i + 8], f"samples per data record of signal {i + 1}", p) for i in range(ns)]
    if min(spr) < 0:
        i = int(np.argmin(spr))
        raise InputError(f"{kind} file {p.name}: signal {i + 1} declares {spr[i]} samples per data record",
                         "the header is damaged: copy the file again from its source")
    record_bytes = sum(spr) * (3 if bdf else 2)
    if record_bytes <= 0:
        raise InputError(f"{kind} file {p.name}: the header declares 0 samples per data record",
                         "the header is damaged: copy the file again from its source")
    data_bytes = size - header_bytes
    whole = data_bytes // record_bytes
    if declared < 0:  # -1: not written when the recording stopped (BioSemi) -> from the file size
        n_records = whole
        if data_bytes % record_bytes:
            logger.warning("%s file %s: the header leaves the number of data records open; "
                           "ignoring %d bytes of a trailing incomplete record",
                           kind, p.name, data_bytes % record_bytes)
    elif data_bytes < declared * record_bytes:
        raise InputError(
            f"{kind} file {p.name} holds {data_bytes} bytes of data but the header declares "
            f"{declared} data records × {record_bytes} bytes ({declared * record_bytes} bytes)",
            "the file is truncated: copy it again from its source",
        )
    else:
        n_records = declared
        if data_bytes > declared * record_bytes:
            logger.warning("%s file %s: ignoring %d bytes after the %d data records the header declares",
                           kind, p.name, data_bytes - declared * record_bytes, declared)
    if n_records == 0:
        raise InputError(f"{kind} file {p.name} holds no data records", "the file has no samples to read")
    end = header_bytes + n_records * record_bytes
    return {"kind": kind, "bdf": bdf, "text": text, "duration": duration, "n_records": int(n_records),
            "end": end, "trim": end < size}


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
                         _DAMAGED) from None


def _float_field(text: str, what: str, path: Path) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"EDF file {path.name}: header field '{what}' is {text.strip()!r}, not a number",
                         _DAMAGED)
    return value


def _channel_header(s: edfio.EdfSignal | edfio.BdfSignal) -> dict[str, Any]:
    """The header fields of one edfio signal, under this module's (unchanged) key names."""
    return {
        "label": s.label.strip(),
        "transducer": s.transducer_type.strip(),
        "dimension": s.physical_dimension.strip(),
        "physical_min": float(s.physical_min),
        "physical_max": float(s.physical_max),
        "digital_min": int(s.digital_min),
        "digital_max": int(s.digital_max),
        "prefilter": s.prefiltering.strip(),
        "samples_per_record": int(s.samples_per_data_record),
        "reserved": s.reserved.strip(),
    }


def _edfio_start(edf: edfio.Edf | edfio.Bdf) -> _dt.datetime | None:
    """Start of the first sample (edfio: EDF+ recording date, sub-second offset), or None."""
    try:
        return _dt.datetime.combine(edf.startdate, edf.starttime)
    except (ValueError, IndexError):  # anonymised EDF+ date (AnonymizedDateError), unreadable date/time
        return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# ----------------------------------------------------------------------------- writing


def write_edf(signal: Signal, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a signal as EDF/EDF+ (16-bit) or BDF/BDF+ (24-bit) with edfio.

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
    ``signal.units``. Digital samples are ``round(x / gain - offset)`` with the
    channel's header (the inverse of the reading), so unchanged data are written
    back exactly; data beyond a channel's physical range widen it (logged). A
    length that is not a whole number of data records is padded with the last
    sample (logged). The start date and time written are ``meta["start_datetime"]``
    (else the ``startdate``/``starttime`` text); the patient and recording fields
    are written as stored (printable ASCII, as EDF requires). Written atomically.
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
    edf_class, signal_class = (edfio.Bdf, edfio.BdfSignal) if bdf else (edfio.Edf, edfio.EdfSignal)
    file_type = str(meta.get("file_type") or f"{kind}+C")
    plus = file_type[3:4] == "+"
    (dmin_default, dmax_default), dtype = _DIGITAL[kind]

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
    # channels read at lower rates than the signal's keep them, if the signal's rate and record layout are the file's
    native_rates = known is not None and float(meta.get("record_duration") or 0) == duration and spr == max(
        int(ch.get("samples_per_record", 0)) for ch in known)
    parts = []  # (samples, fs, header, physical?) per channel written
    for i in range(c):
        ch = dict(known[i]) if known is not None else {
            "transducer": "", "prefilter": "", "reserved": "",
            "digital_min": dmin_default, "digital_max": dmax_default,
        }
        ch["label"] = str(signal.channel_names[i])
        ch["dimension"] = str(signal.units[i])
        if not (dmin_default <= int(ch["digital_min"]) < int(ch["digital_max"]) <= dmax_default):
            ch["digital_min"], ch["digital_max"] = dmin_default, dmax_default
        if known is not None:  # the numbers used below must fit the 8-character header fields
            ch["physical_min"] = float(_format_number(float(ch["physical_min"]), "floor"))
            ch["physical_max"] = float(_format_number(float(ch["physical_max"]), "ceil"))
        x, own = data[:, i], int(ch.get("samples_per_record", spr)) if native_rates else spr
        if own != spr:  # a channel read at a lower rate goes back to it; exactly as stored if unchanged
            x = to_own_rate(x, (meta.get("native_data") or [None] * c)[i], own, spr)
        _fit_physical_range(ch, x, known is not None, out)
        parts.append((x, own / duration, ch, True))

    status = meta.get("status")
    if status:
        s_spr = int(status["samples_per_record"])
        s_dig = np.asarray(status["digital"])
        if s_dig.size == n_records * s_spr:
            parts.append((s_dig, s_spr / duration, status, False))
        else:
            logger.warning("EDF output %s: the Status channel (%d samples) does not match the new length "
                           "(%d data records); it is not written", out.name, s_dig.size, n_records)

    annotations = None
    if plus:
        annotations = []
        for a in meta.get("annotations") or []:
            dur = a.get("duration")
            dur = float(dur) if dur is not None and float(dur) >= 0 else None
            text = re.sub(r"[\x00\x14\x15]", " ", str(a.get("description", "")))
            annotations.append(edfio.EdfAnnotation(float(a["onset"]), dur, text))
    elif meta.get("annotations"):
        logger.warning("EDF output %s: %d annotations are not written (plain %s has no annotation channel)",
                       out.name, len(meta["annotations"]), kind)

    start = meta.get("start_datetime")
    if not isinstance(start, _dt.datetime):
        start = _parse_start(meta.get("startdate"), meta.get("starttime"))
    if start is None:
        start = _dt.datetime(1985, 1, 1)  # EDF's "no date" (edfio's default too)
    if not plus:
        start = start.replace(microsecond=0)  # a sub-second start needs EDF+
    patient, recording = meta.get("patient"), meta.get("recording")
    if plus:
        if not patient:
            patient = "X X X X"
        if not recording or not str(recording).startswith("Startdate"):
            recording = "Startdate X X X X"

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            signals = [_make_signal(signal_class, dtype, x, fs, ch, out, physical=physical)
                       for x, fs, ch, physical in parts]
            edf = edf_class(signals, starttime=start.time(), data_record_duration=duration,
                            annotations=annotations)
            try:
                edf.startdate = start.date()
            except ValueError as exc:  # edfio: EDF only allows dates from 1985 to 2084
                logger.warning("EDF output %s: start date %s not written (%s); writing 01.01.85",
                               out.name, start.date(), exc)
            # after the date: edfio's date setter rewrites the EDF+ "Startdate" subfield
            edf.local_patient_identification = _ascii(patient or "", 80, "patient field", out)
            edf.local_recording_identification = _ascii(recording or "", 80, "recording field", out)
            if bdf and not plus:
                _set_reserved(edf, "24BIT")  # BioSemi's reserved field of a BDF file
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"{kind} output {out.name}: edfio cannot build the file: {_one_line(exc)}",
                         "check the channel names, units and header fields in meta") from None
    for w in caught:
        logger.warning("EDF output %s: edfio: %s", out.name, w.message)
    with atomic_path(out, force=force) as tmp:
        edf.write(tmp)
    return out


def _make_signal(signal_class: type, dtype: type, x: np.ndarray, fs: float, ch: dict[str, Any], out: Path, *,
                 physical: bool) -> edfio.EdfSignal | edfio.BdfSignal:
    """An edfio signal with the header fields of ``ch`` holding ``x``.

    ``physical``: ``x`` is in physical units and is quantised with the channel's
    header (the inverse of edfio's calibration on reading, clipped to the digital
    range); else ``x`` holds digital samples, stored unchanged (the Status channel).
    """
    dmin, dmax = int(ch["digital_min"]), int(ch["digital_max"])
    label = _ascii(ch.get("label", ""), 16, "channel label", out)
    what = f"channel '{label}'"
    kwargs = dict(
        label=label,
        transducer_type=_ascii(ch.get("transducer", ""), 80, f"transducer of {what}", out),
        physical_dimension=_ascii(ch.get("dimension", ""), 8, f"unit of {what}", out),
        physical_range=(float(ch["physical_min"]), float(ch["physical_max"])),
        digital_range=(dmin, dmax),
        prefiltering=_ascii(ch.get("prefilter", ""), 80, f"prefiltering of {what}", out),
    )
    if physical:
        digital = _to_digital(x, *kwargs["physical_range"], dmin, dmax).astype(dtype)
    else:
        digital = np.asarray(x).astype(dtype)
    sig = signal_class.from_digital(digital, fs, **kwargs)
    if physical and (sig.physical_min, sig.physical_max) != kwargs["physical_range"]:
        # edfio widened a range number in its last digit when fitting it to 8 characters:
        # quantise with the range the header now holds (edfio lets ``digital`` be modified)
        logger.info("EDF output %s: edfio stores the physical range of %s as %g..%g (asked %g..%g)",
                    out.name, what, sig.physical_min, sig.physical_max, *kwargs["physical_range"])
        sig.digital[:] = _to_digital(x, sig.physical_min, sig.physical_max, dmin, dmax)
    if ch.get("reserved"):
        _set_reserved(sig, _ascii(ch["reserved"], 32, f"reserved field of {what}", out))
    return sig


def _set_reserved(obj: Any, text: str) -> None:
    """Set a reserved header field ("24BIT" of BioSemi BDF files, per-signal text).

    edfio keeps these fields on read and write but has no public setter for new
    files; without its internal one (a future edfio) the field is left blank.
    """
    setter = getattr(obj, "_set_reserved", None)
    if setter is None:
        logger.debug("edfio has no setter for the reserved field; %r not written", text)
        return
    setter(text)


def _to_digital(x: np.ndarray, pmin: float, pmax: float, dmin: int, dmax: int) -> np.ndarray:
    """Physical to digital samples: the inverse of edfio's ``(digital + offset) * gain``."""
    gain = (pmax - pmin) / (dmax - dmin)
    offset = pmax / gain - dmax
    return np.clip(np.round(x / gain - offset), min(dmin, dmax), max(dmin, dmax))


def _record_layout(fs: float, meta: dict[str, Any], out: Path) -> tuple[float, int]:
    """Data-record duration (s) and samples per record for sampling rate ``fs`` (Hz)."""
    candidates = []
    if meta.get("record_duration"):
        candidates.append(float(meta["record_duration"]))
    candidates += [1.0] + [float(k) for k in range(2, 61)]
    for dur in candidates:
        spr = fs * dur
        if spr >= 1 and abs(spr - round(spr)) < 1e-6 and len(_format_number(dur)) <= 8:
            return float(_format_number(dur)), int(round(spr))
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


def _ascii(value: Any, width: int, what: str, out: Path) -> str:
    """``value`` as printable ASCII of at most ``width`` characters (EDF header text), logged if changed."""
    text = str(value)
    fixed = re.sub(r"[^\x20-\x7e]", "?", text.replace("\u00b5", "u").replace("\u03bc", "u"))
    if len(fixed) > width:
        fixed = fixed[:width]
    if fixed != text:
        logger.warning("EDF output %s: %s %r written as %r (EDF headers hold up to %d printable ASCII "
                       "characters)", out.name, what, text, fixed, width)
    return fixed


def _parse_start(date: Any, time: Any) -> _dt.datetime | None:
    """The header's ``dd.mm.yy`` and ``hh.mm.ss`` text as a datetime (EDF's 1985-2084 years), or None."""
    try:
        day, month, yy = (int(v) for v in str(date).strip().split("."))
        hh, mm, ss = (int(v) for v in str(time).strip().split("."))
        return _dt.datetime(1900 + yy if yy >= 85 else 2000 + yy, month, day, hh, mm, ss)
    except ValueError:
        return None
