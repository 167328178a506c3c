"""Before/after pictures of a cleaned file: input, output and the removed component.

``biodae denoise FILE --plot FILE.png`` and ``biodae filter ... --plot`` draw them. A
signal is shown as a stretch of about ten seconds around the middle of the record, three
panels per cleaned channel (input, output, input minus output); an image as its middle
slice along the slicing axis, in three panels side by side. matplotlib (the ``plot``
extra) is imported on first use and drawn with the Agg renderer: nothing opens a window,
and pyplot's global state is left alone.

>>> from biodae import io, plot                                        # doctest: +SKIP
>>> plot.save_before_after(io.read("rec.hea"), io.read("rec_denoised.hea"), "rec.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import BiodaeError, DependencyError, InputError, OutputError
from .io import Image, Signal

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["before_after_figure", "save_before_after", "require_matplotlib", "same_file", "signal_stretch",
           "image_plane", "slicing_axis", "STRETCH_S", "MAX_CHANNELS"]

#: length of the signal stretch drawn, in seconds (centred on the middle of the record)
STRETCH_S = 10.0
#: at most this many cleaned channels are drawn (the title says how many there were)
MAX_CHANNELS = 8
_DPI = 100


def require_matplotlib() -> None:
    """Raise :class:`~biodae.DependencyError` if matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise DependencyError("drawing a picture needs matplotlib", "pip install 'biodae[plot]'") from exc


def signal_stretch(n_samples: int, sampling_rate: float, seconds: float = STRETCH_S) -> slice:
    """The samples of a stretch of ``seconds`` around the middle of a record (all of a shorter one)."""
    n = min(int(n_samples), max(1, int(round(seconds * float(sampling_rate)))))
    start = max(0, (int(n_samples) - n) // 2)
    return slice(start, start + n)


def image_plane(data: np.ndarray, axis: int | None = None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The 2D plane drawn for an image: the image itself, or the middle slice along ``axis``
    of a volume (of the first volume of a 4D series). Returns the plane and the two axes of
    the volume it spans (None for a 2D image)."""
    data = np.asarray(data)
    if data.ndim == 2:
        return data, None
    vol = data[..., 0] if data.ndim == 4 else data
    if vol.ndim != 3:
        raise InputError(f"cannot draw an image of shape {data.shape}",
                         "expected a 2D image, a 3D volume or a 4D series")
    axis = 2 if axis is None else int(axis)
    kept = tuple(a for a in range(3) if a != axis)
    return np.take(vol, vol.shape[axis] // 2, axis=axis), (kept[0], kept[1])


def slicing_axis(image: Image, axis: int | None = None) -> int | None:
    """The axis a volume is sliced along, as ``biodae denoise`` slices it: ``axis`` if
    given, else the one with the coarsest voxel size of a NIfTI volume, the frames (0) of a
    multi-frame DICOM or TIFF; None for a 2D image."""
    if image.data.ndim < 3:
        return None
    if axis is not None:
        return int(axis)
    if image.format == "nifti":
        from ._arrays import slice_axis

        return slice_axis(image.spacing, image.data.shape[:3])
    return 0


def _figure(width: float, height: float) -> Figure:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _changed_channels(before: Signal, after: Signal) -> list[int]:
    return [c for c in range(before.n_channels)
            if not np.array_equal(before.data[:, c], after.data[:, c], equal_nan=True)]


def _fmt(v: float | None, unit: str = "") -> str:
    """``12.3 dB`` (an SNR) or ``4.567`` (a sigma); empty when there is no estimate."""
    if v is None or not np.isfinite(v):
        return ""
    return f"{v:.1f} dB" if unit == "dB" else f"{v:.4g}"


def _sigma_text(s: float | None) -> str:
    return f", noise sigma (est.) {_fmt(s)}" if _fmt(s) else ""


def _same_scale(panels: list[tuple[Any, np.ndarray]]) -> None:
    """Give the panels one vertical scale (the same span in the signal's units), each centred on
    its own values: a model that also removes the offset (the ECG and EEG models do) does not
    squeeze the waveforms into a corner, and amplitudes still compare at their true size."""
    ranges = []
    for _, v in panels:
        ok = v[np.isfinite(v)]
        ranges.append((float(ok.min()), float(ok.max())) if ok.size else None)
    spans = [r[1] - r[0] for r in ranges if r]
    if not spans:
        return
    half = 0.55 * (max(spans) or 1.0)
    for (ax, _), r in zip(panels, ranges):
        if r:
            mid = 0.5 * (r[0] + r[1])
            ax.set_ylim(mid - half, mid + half)


def _signal_figure(before: Signal, after: Signal, title: str, snr: dict[str, tuple[float | None, float | None]],
                   seconds: float) -> Figure:
    if before.data.shape != after.data.shape:
        raise InputError(f"input and output differ in shape ({before.data.shape} vs {after.data.shape})",
                         "draw an output written from this input")
    changed = _changed_channels(before, after)
    note = ""
    if not changed:
        note = " (no channel was changed)"
        changed = list(range(before.n_channels))
    if len(changed) > MAX_CHANNELS:
        note = f" (first {MAX_CHANNELS} of {len(changed)} cleaned channels)"
        changed = changed[:MAX_CHANNELS]
    fs = float(before.sampling_rate)
    sl = signal_stretch(before.n_samples, fs, seconds)
    t = np.arange(sl.start, sl.stop) / fs
    fig = _figure(12.0, 0.6 + (1.45 if len(changed) <= 2 else 1.05) * 3 * len(changed))
    axes = fig.subplots(3 * len(changed), 1, sharex=True, squeeze=False)[:, 0]
    for k, c in enumerate(changed):
        x, y = before.data[sl, c], after.data[sl, c]
        with np.errstate(invalid="ignore"):
            removed = x - y
        name, unit = before.channel_names[c], before.units[c]
        s_in, s_out = snr.get(name, (None, None))
        a_in, a_out, a_rm = axes[3 * k : 3 * k + 3]
        a_in.plot(t, x, lw=0.7, color="0.25")
        a_out.plot(t, y, lw=0.7, color="tab:blue")
        a_rm.plot(t, removed, lw=0.7, color="tab:red")
        _same_scale([(a_in, x), (a_out, y)])
        label = f"{name} ({unit})" if unit else name
        for ax, what, s in ((a_in, "input", s_in), (a_out, "output", s_out), (a_rm, "removed (input - output)", None)):
            text = f"{label}: {what}" + (f", SNR (est.) {_fmt(s, 'dB')}" if _fmt(s, "dB") else "")
            ax.set_title(text, loc="left", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(True, lw=0.3, alpha=0.5)
    axes[-1].set_xlabel("time (s)")
    span = f"{t[0]:.1f}-{t[-1] + 1 / fs:.1f} s of {before.duration:.1f} s" if t.size else ""
    fig.suptitle(f"{title}\n{span}{note}".strip(), fontsize=10)
    return fig


def _image_figure(before: Image, after: Image, title: str, axis: int | None,
                  noise: tuple[float | None, float | None]) -> Figure:
    if before.data.shape != after.data.shape:
        raise InputError(f"input and output differ in shape ({before.data.shape} vs {after.data.shape})",
                         "draw an output written from this input")
    axis = slicing_axis(before, axis)
    x, kept = image_plane(np.asarray(before.data, dtype=np.float64), axis)
    y, _ = image_plane(np.asarray(after.data, dtype=np.float64), axis)
    with np.errstate(invalid="ignore"):
        removed = x - y
    sp = list(before.spacing) + [1.0] * 3
    nifti = before.format == "nifti"
    if nifti:  # nibabel's (x, y, ...) order: show the first kept axis across, the second upwards
        x, y, removed = x.T, y.T, removed.T
        rows, cols = (kept[1], kept[0]) if kept else (1, 0)
    else:
        rows, cols = kept if kept else (0, 1)
    aspect = float(sp[rows]) / float(sp[cols]) if sp[cols] > 0 else 1.0
    ok = x[np.isfinite(x)]
    vmin, vmax = (float(v) for v in np.percentile(ok, [0.5, 99.5])) if ok.size else (0.0, 1.0)
    if vmax <= vmin:
        vmax = vmin + 1.0
    r = removed[np.isfinite(removed)]
    lim = float(np.percentile(np.abs(r), 99.5)) if r.size else 0.0
    lim = lim if lim > 0 else 1.0
    h, w = x.shape
    ratio = h * aspect / max(w, 1)
    fig = _figure(13.5, min(12.0, max(3.5, 4.2 * ratio + 0.9)))
    axes = fig.subplots(1, 3, squeeze=False)[0]
    origin = "lower" if nifti else "upper"
    s_in, s_out = noise
    panels = (
        (x, "input" + _sigma_text(s_in), "gray", vmin, vmax),
        (y, "output as written" + _sigma_text(s_out), "gray", vmin, vmax),
        (removed, "removed (input - output)", "RdBu_r", -lim, lim),
    )
    for ax, (img, what, cmap, lo, hi) in zip(axes, panels):
        im = ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, origin=origin, aspect=aspect, interpolation="nearest")
        ax.set_title(what, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    where = ""
    if kept is not None:
        full = before.data.shape
        where = f"middle slice {full[axis] // 2} of {full[axis]} along axis {axis}" + (
            ", first volume" if before.data.ndim == 4 else "")
    fig.suptitle(f"{title}\n{where}".strip(), fontsize=10)
    return fig


def before_after_figure(
    before: Signal | Image,
    after: Signal | Image,
    *,
    title: str = "",
    axis: int | None = None,
    seconds: float = STRETCH_S,
    snr_db: dict[str, tuple[float | None, float | None]] | None = None,
    noise_sigma: tuple[float | None, float | None] | None = None,
) -> Figure:
    """A matplotlib figure of ``before``, ``after`` and the removed component ``before - after``.

    Parameters
    ----------
    before, after : Signal or Image
        The input and the cleaned output, same shape (a file and its output read back).
    title : str
        The figure's title (e.g. the file and the model or filter).
    axis : {0, 1, 2}, optional
        Images: the slicing axis of a volume (default: as ``biodae denoise`` slices it,
        the axis with the coarsest voxel size of a NIfTI, frames of a DICOM or TIFF).
    seconds : float
        Signals: length of the stretch drawn, around the middle of the record.
    snr_db : dict, optional
        Signals: ``{channel name: (SNR before, SNR after)}`` in dB, shown in the panel titles.
    noise_sigma : (float, float), optional
        Images: the estimated noise sigma before and after, shown in the panel titles.

    Returns
    -------
    matplotlib.figure.Figure
        Signals: three axes per cleaned channel (input, output, removed), at most
        :data:`MAX_CHANNELS` channels; images: three image axes and a colour bar.
    """
    if isinstance(before, Signal) and isinstance(after, Signal):
        return _signal_figure(before, after, title, snr_db or {}, seconds)
    if isinstance(before, Image) and isinstance(after, Image):
        return _image_figure(before, after, title, axis, noise_sigma or (None, None))
    raise InputError("input and output are not both signals or both images", "draw a file with its own output")


def save_before_after(
    before: Signal | Image,
    after: Signal | Image,
    path: str | os.PathLike,
    *,
    force: bool = False,
    protect: Sequence[str | os.PathLike] = (),
    **kwargs: Any,
) -> Path:
    """Draw :func:`before_after_figure` and write it as a PNG, atomically (temporary file, then rename).

    Parameters
    ----------
    path : path-like
        The picture (``.png``).
    force : bool
        Overwrite an existing file; without it an existing ``path`` raises
        :class:`~biodae.OutputExistsError`.
    protect : sequence of path-like
        Files the picture must never replace (the inputs and outputs of the run);
        ``path`` resolving to one of them raises :class:`~biodae.InputError`, with or without ``force``.
    **kwargs
        Passed to :func:`before_after_figure`.
    """
    from .io import atomic_path

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"{path}: the picture is written as PNG", "give it a .png name")
    for p in protect:
        if same_file(path, p):
            raise InputError(f"{path} is {p}, a file of this run", "write the picture to another file")
    fig = before_after_figure(before, after, **kwargs)
    try:
        with atomic_path(path, force=force) as tmp:
            fig.savefig(tmp, format="png", dpi=_DPI)
    except OSError as exc:
        if isinstance(exc, BiodaeError):  # OutputExistsError: already one line
            raise
        raise OutputError(f"cannot write the picture {path}: {exc.strerror or exc}",
                          "check that its folder exists and is writable") from exc
    return path


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (after resolving links, or the same inode)."""
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    try:
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False
