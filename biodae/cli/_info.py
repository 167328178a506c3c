"""``biodae info FILE``: what biodae sees in a file."""

from __future__ import annotations

import numpy as np

from .. import io
from .._modality import modality_of, signal_modalities


def add_parser(sub) -> None:
    p = sub.add_parser(
        "info",
        help="show what biodae sees in a file: modality, shape, sampling, dtype, range, noise level",
        description="Print modality, shape, sampling rate or voxel size, dtype, value range and an estimated noise level.",
    )
    p.add_argument("input", metavar="FILE", help="a file or WFDB record (its .hea or its path without extension)")
    p.set_defaults(run=run)


def run(args) -> int:
    obj = io.read(args.input)
    for line in describe(obj):
        print(line)
    return 0


def _fmt_num(x: float) -> str:
    return f"{x:.4g}"


def _fmt_db(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} dB"


def describe(obj: io.Signal | io.Image) -> list[str]:
    """Lines describing ``obj`` for ``biodae info``; figures that are undefined print as "–".

    The noise figures are :func:`biodae.noise.estimate_noise`'s, the ones ``biodae denoise``
    and the batch report print."""
    from ..noise import estimate_noise

    lines = [f"file:        {obj.source}"]
    if isinstance(obj, io.Signal):
        mods = signal_modalities(obj)
        lines.append(f"format:      {obj.format.upper()}")
        lines.append(f"modality:    {modality_of(obj).upper()} ({_count(mods)})")
        lines.append(f"shape:       {obj.n_samples} samples x {obj.n_channels} channels ({obj.duration:.1f} s)")
        # EDF and multi-frequency WFDB: slower channels are kept as stored beside the common rate
        stored = [(name, obj.sampling_rate * len(x) / obj.n_samples)
                  for name, x in zip(obj.channel_names, obj.meta.get("native_data") or []) if x is not None]
        lines.append(f"sampling:    {obj.sampling_rate:g} Hz" + (
            f" (stored at lower rates: {', '.join(f'{n} {r:g} Hz' for n, r in stored)})" if stored else ""))
        lines.append(f"dtype:       {_signal_dtype(obj)} on disk, read as float64 physical units")
        estimates = estimate_noise(obj)
        lines.append("channels:    name  modality  unit  min .. max  noise sigma (est.)  SNR (est.)")
        for c, est in enumerate(estimates):
            col = obj.data[:, c]
            ok = col[np.isfinite(col)]
            if not ok.size:
                lines.append(f"  {obj.channel_names[c]:<8} {mods[c]:<6} {obj.units[c]:<5} all NaN  –  –")
                continue
            sigma = "–" if est.sigma is None else f"{_fmt_num(est.sigma)} {obj.units[c]}"
            lines.append(f"  {obj.channel_names[c]:<8} {mods[c]:<6} {obj.units[c]:<5} {_fmt_num(ok.min())} .. "
                         f"{_fmt_num(ok.max())}  {sigma}  {_fmt_db(est.snr_db)}")
        hows = [f"{e.name}: {e.how}" for e in estimates]
        lines += [("noise (est): " if k == 0 else "             ") + h for k, h in enumerate(hows)]
        return lines
    data = obj.data
    lines.append(f"format:      {obj.format.upper()}")
    lines.append(f"modality:    {obj.modality.upper()}")
    lines.append(f"shape:       {' x '.join(str(s) for s in data.shape)}")
    lines.append(f"voxel size:  {' x '.join(f'{s:g}' for s in obj.spacing)} mm")
    lines.append(f"dtype:       {_image_dtype(obj)} on disk, read as float32")
    finite = np.isfinite(data)
    ok = data[finite]
    bad = data.size - ok.size
    lines.append((f"range:       {_fmt_num(ok.min())} .. {_fmt_num(ok.max())}" if ok.size else "range:       all NaN")
                 + (f" ({bad} NaN or infinite voxel{'s' if bad > 1 else ''} left out)" if bad and ok.size else ""))
    (est,) = estimate_noise(obj)
    lines.append(f"noise (est): sigma {'–' if est.sigma is None else _fmt_num(est.sigma)} ({est.how})")
    return lines


def _count(mods: list[str]) -> str:
    parts = [f"{mods.count(m)} {m.upper() if m != 'other' else 'other'}" for m in ("ecg", "eeg", "other") if m in mods]
    return ", ".join(parts) + " channel" + ("s" if len(mods) > 1 else "")


def _signal_dtype(obj: io.Signal) -> str:
    if obj.format == "wfdb":
        fmts = sorted({str(f) for f in obj.meta.get("fmt", [])})
        return "WFDB format " + "/".join(fmts) if fmts else "WFDB"
    return "24-bit integer" if obj.format == "bdf" else "16-bit integer"


def _image_dtype(obj: io.Image) -> str:
    for key in ("disk_dtype", "dtype", "on_disk_dtype"):
        if key in obj.meta:
            return str(obj.meta[key])
    if "bits_stored" in obj.meta:
        return f"{obj.meta['bits_stored']}-bit"
    return "unknown"
