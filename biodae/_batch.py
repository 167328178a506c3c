"""Cleaning many files: inputs, plan, the per-file step, executors and the run report.

This is the engine behind ``biodae denoise`` and ``biodae filter`` when they are given a
folder, several records, a PhysioNet ``RECORDS`` file or a glob, and behind
:func:`denoise_files`. It is built in layers that each do one thing:

:func:`expand_inputs`
    Turns what the user named into a list of :class:`Source` files: a folder (searched
    recursively, its layout mirrored under ``out_dir``), a WFDB record or any file biodae
    reads, a ``RECORDS`` file (one record or folder per line, relative to its folder), or
    a glob pattern (``'data/**/*.hea'``). Segment headers of a multi-segment WFDB record
    are not separate inputs: the record is read as a whole.
:func:`plan`
    Gives each source its output path, refuses two sources that would write the same
    output, and marks those whose outputs exist (skipped unless ``force``).
:func:`clean_file`
    The per-file step: read, apply a *step* (``step(obj) -> (new, detail)`` or
    ``(new, detail, [(extra_obj, suffix), ...])``), estimate the SNR before and after,
    write every output atomically (extras first, the main output last; all or nothing).
    It never raises for a bad file (the error is in the :class:`FileResult`), it only
    takes and returns small picklable objects (paths, not arrays), and it has no state
    but the per-process model cache: the same function runs in this process, in a
    process pool (``backend="processes"``) and on a Dask cluster (``backend="dask"``),
    with the same outputs, byte for byte.
:func:`run`
    Runs the tasks on a backend with a progress bar and returns a :class:`BatchReport`
    (table, JSON, exit status). An interrupt (Ctrl-C) stops handing out files, lets the
    files in progress finish (a second Ctrl-C aborts them; their temporary files are
    removed), writes the report and raises :class:`KeyboardInterrupt`: no output is ever
    half written.

Steps for the two commands are :class:`Denoise` and :class:`Filter`. A step given to a
parallel backend must be picklable: an instance of a module-level class (like these two)
or a module-level function, not a closure. A step with a ``threads`` attribute that is
``None`` gets the number of onnxruntime threads its worker may use, so that the workers
of a run share the cores instead of oversubscribing them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import json
import logging
import math
import os
import pickle
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import io
from ._errors import BiodaeError, DependencyError, InputError, OutputExistsError
from ._version import __version__

__all__ = [
    "BACKENDS",
    "Source",
    "Task",
    "FileResult",
    "BatchReport",
    "Denoise",
    "Filter",
    "expand_inputs",
    "plan",
    "guard_inputs",
    "read_report",
    "clean_file",
    "run",
    "denoise_files",
]

log = logging.getLogger("biodae")

#: Where files are cleaned: this process, a pool of worker processes, or a Dask cluster.
BACKENDS = ("serial", "processes", "dask")
#: Tags biodae adds to outputs written beside their input; such files are not inputs.
_OUTPUT_TAGS = ("_denoised", "_filtered")
_BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Denoise:
    """The ``biodae denoise`` step: ECG/EEG models per channel (or ``model``) over onnxruntime.

    Parameters
    ----------
    model : str or path, optional
        A shipped model name or an ``.onnx`` path; ``None`` picks per channel.
    device : {"cpu", "cuda", "tensorrt"}
    threads : int, optional
        onnxruntime intra-op threads; ``None`` lets the batch engine choose.
    """

    model: str | None = None
    device: str = "cpu"
    threads: int | None = None
    #: images only: slicing axis of a NIfTI volume, a mask file (denoise inside), and
    #: whether to write the removed component as ``<name>_noise`` (NIfTI, float32)
    axis: int | None = None
    mask: str | None = None
    save_noise: bool = False

    def __call__(self, obj: io.Signal | io.Image) -> tuple:
        from ._denoise import denoise_record

        if isinstance(obj, io.Image):
            return self._image(obj)
        for flag, value in (("--axis", self.axis), ("--mask", self.mask), ("--save-noise", self.save_noise)):
            if value not in (None, False):
                raise InputError(f"{flag} applies to images (NIfTI, DICOM, PNG, TIFF), not to {obj.format.upper()} "
                                 "signals", f"drop {flag} for signal records")
        out, rep = denoise_record(obj, self.model, device=self.device, threads=self.threads)
        if rep.get("models"):  # signals: the model used on each channel
            models = "; ".join(f"{m} on {', '.join(ch)}" for m, ch in rep["models"].items())
        else:
            models = str(rep.get("model", ""))
        if obj.format == "wfdb":
            out.meta["comments"] = list(out.meta.get("comments", [])) + [f"biodae denoise: {models}"]
        elif str(out.meta.get("reserved", ""))[:4] in ("EDF+", "BDF+"):
            # EDF+ has no comment field: the provenance note is an annotation at the start
            out.meta["annotations"] = list(out.meta.get("annotations") or []) + [
                {"onset": 0.0, "duration": None, "description": f"biodae denoise: {models}"}]
        return out, models + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


    def _image(self, obj: io.Image) -> tuple:
        from ._denoise import denoise_image

        if self.save_noise and obj.format != "nifti":
            raise InputError(f"--save-noise writes a NIfTI noise map; this input is {obj.format.upper()}",
                             "use --save-noise with NIfTI inputs")
        mask = None if self.mask is None else _mask_for(self.mask, obj)
        out, rep = denoise_image(obj, self.model, axis=self.axis, mask=mask, device=self.device,
                                 threads=self.threads, progress=None)
        detail = rep["model"] + (f", axis {rep['axis']}" if rep["axis"] is not None else "")
        if rep["sigma_before"] is not None and rep["sigma_after"] is not None:
            detail += f", noise sigma (est.) {rep['sigma_before']:.4g} -> {rep['sigma_after']:.4g}"
        if mask is not None:
            detail += f", inside the mask ({int(mask.sum())} voxels)"
        extras = []
        if self.save_noise:
            noise = obj.replace(data=rep["noise"].astype(np.float32))
            noise.meta["write_kwargs"] = {"dtype": "float32"}  # signed residual: never the input's integer type
            extras.append((noise, "_noise"))
        return out, detail, extras


@functools.lru_cache(maxsize=1)
def _read_mask(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``--mask`` file as booleans and its affine, read once per worker process (a batch of scans shares it)."""
    m = io.read(path)
    if not isinstance(m, io.Image):
        raise InputError(f"--mask {path}: not an image", "pass a NIfTI mask on the scan's voxel grid")
    mask = np.asarray(m.data) != 0
    mask.flags.writeable = False  # shared between the files of a batch
    affine = m.meta.get("affine")
    return mask, None if affine is None else np.asarray(affine, dtype=np.float64)


#: largest difference (mm) between the mask's and the scan's voxel-to-world affines taken as the same grid
MASK_GRID_TOLERANCE_MM = 1e-3


def _mask_for(path: str, image: io.Image) -> np.ndarray:
    """The mask at ``path`` after checking that it lies on ``image``'s voxel grid (same affine)."""
    mask, affine = _read_mask(path)
    scan = image.meta.get("affine")
    if affine is not None and scan is not None and mask.shape[:3] == image.data.shape[:3]:
        # the world position of every voxel corner differs by at most this much
        corners = np.array([[i, j, k, 1.0] for i in (0, mask.shape[0] - 1) for j in (0, mask.shape[1] - 1)
                            for k in (0, (mask.shape[2] if mask.ndim > 2 else 1) - 1)])
        shift = float(np.abs(corners @ (np.asarray(scan, dtype=np.float64) - affine).T)[:, :3].max())
        if shift > MASK_GRID_TOLERANCE_MM:
            raise InputError(f"--mask {Path(path).name} is on another voxel grid than {image.source.name if image.source else 'the scan'} "
                             f"(same shape, but its voxels lie up to {shift:.3g} mm away from the scan's)",
                             "resample the mask onto the scan's grid (e.g. nilearn.image.resample_to_img "
                             "with interpolation='nearest')")
    return mask


@dataclass(frozen=True)
class Filter:
    """The ``biodae filter`` step: a classical filter with ``params`` over the modality's defaults."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    modality: str | None = None

    def __call__(self, obj: io.Signal | io.Image) -> tuple[io.Signal | io.Image, str]:
        from ._pipeline import filter_record

        out, rep = filter_record(obj, self.method, self.params, modality=self.modality)
        text = f"{rep['method']} {_fmt_params(rep['params'])}".strip()
        if obj.format == "wfdb":
            out.meta["comments"] = list(out.meta.get("comments") or []) + [f"biodae filter {text}"]
        return out, text + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


def _fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Source:
    """One input named by the user, before planning.

    ``path`` is the file (a WFDB record by its ``.hea``); ``root`` the folder whose layout
    is mirrored under ``out_dir`` (``None``: the output goes straight into ``out_dir``);
    ``error`` says why it cannot be used (a line of a RECORDS file naming nothing).
    """

    path: Path
    root: Path | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        """How the input is shown: relative to its root, WFDB records without extension."""
        p = self.path
        if p.suffix.lower() == ".hea":
            p = p.with_suffix("")
        if self.root is not None:
            with contextlib.suppress(ValueError):
                return p.relative_to(self.root).as_posix()
        return str(p)


def _is_records_file(p: Path) -> bool:
    return p.name == "RECORDS" and p.is_file()


def _skip_name(p: Path, skip_tags: Sequence[str]) -> bool:
    stem = p.name[: -len(".nii.gz")] if p.name.lower().endswith(".nii.gz") else p.stem
    return stem.endswith(tuple(skip_tags))


def _segment_names(hea: Path) -> list[str]:
    """The segment records a multi-segment WFDB header lists (``[]`` for any other header)."""
    try:
        text = hea.read_text(encoding="latin-1")
    except OSError:
        return []
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines or "/" not in lines[0][0]:
        return []
    return [ln[0] for ln in lines[1:] if ln[0] != "~"]


def _without_segments(paths: list[Path]) -> list[Path]:
    """Drop the segment headers of the multi-segment records in ``paths``."""
    segments = set()
    for p in paths:
        if p.suffix.lower() == ".hea":
            segments |= {p.parent / f"{s}.hea" for s in _segment_names(p)}
    return [p for p in paths if p not in segments]


def _excluded(p: Path, exclude: Sequence[Path]) -> bool:
    """Whether ``p`` lies in one of the folders ``exclude`` (resolved), e.g. the run's output folder."""
    parents = p.resolve().parents
    return any(d in parents for d in exclude)


def _strictly_below(out_dir: str | os.PathLike | None, root: Path) -> list[Path]:
    """``[out_dir]`` (resolved) when the output folder lies inside the searched folder ``root``: the files there
    are earlier outputs, not inputs. An output folder that is ``root`` itself is left to :func:`plan` to refuse."""
    if out_dir is None:
        return []
    d = Path(out_dir).resolve()
    return [d] if root.resolve() in d.parents else []


def _from_folder(folder: Path, skip_tags: Sequence[str], root: Path, exclude: Sequence[Path] = ()) -> list[Source]:
    found = [p for p in io.find_inputs(folder) if not _skip_name(p, skip_tags) and not _excluded(p, exclude)]
    return [Source(p, root) for p in _without_segments(found)]


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base = []
    for part in parts:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _from_glob(pattern: str, skip_tags: Sequence[str], exclude: Sequence[Path] = ()) -> list[Source]:
    root = _glob_base(pattern)
    files: list[Path] = []
    for m in sorted(glob.glob(pattern, recursive=True)):
        p = Path(m)
        if p.is_dir() or any(part.startswith(".") for part in p.parts[len(root.parts):]):
            continue
        suf = p.suffix.lower()
        if suf != ".hea" and p.with_suffix(".hea").is_file():  # a record's .dat/.atr: the record
            p = p.with_suffix(".hea")
        elif suf != ".hea" and not any(p.name.lower().endswith(s) for f, sufs in io.FORMATS.items()
                                       if f != "wfdb" for s in sufs):
            continue
        if _skip_name(p, skip_tags) or p in files or _excluded(p, exclude):
            continue
        files.append(p)
    if not files:
        raise InputError(f"{pattern}: no supported files match this pattern",
                         "check the pattern (quote it so that biodae, not the shell, expands '**')")
    return [Source(p, root) for p in _without_segments(files)]


def _from_records_file(records: Path, skip_tags: Sequence[str], exclude: Sequence[Path] = ()) -> list[Source]:
    root = records.parent
    out: list[Source] = []
    for n, line in enumerate(records.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        p = root / entry
        if p.is_dir():
            out += _from_folder(p, skip_tags, root, exclude)
            continue
        try:
            io.detect_format(p)
        except InputError as exc:
            out.append(Source(p, root, error=f"{records.name} line {n}: {exc}"))
            continue
        out.append(Source(Path(f"{p}.hea") if Path(f"{p}.hea").is_file() else p, root))
    return out


def expand_inputs(
    inputs: Sequence[str | os.PathLike],
    *,
    skip_tags: Sequence[str] = (),
    out_dir: str | os.PathLike | None = None,
) -> list[Source]:
    """The files named by ``inputs``, in order, each once.

    Parameters
    ----------
    inputs : sequence of str or path
        Folders, files, WFDB records (``.hea`` or path without extension), PhysioNet
        ``RECORDS`` files, or glob patterns (``*``, ``?``, ``[...]``; ``**`` spans folders).
    skip_tags : sequence of str
        More file-name endings (before the extension) that mark biodae outputs, besides
        ``_denoised`` and ``_filtered``; files in folders and globs ending so are not inputs.
    out_dir : str or path, optional
        The run's output folder: when it lies inside a folder or glob being searched, the
        files under it are earlier outputs, not inputs (a file named on its own still is).

    Raises
    ------
    InputError
        An input that does not exist, is not a supported file, or a folder or pattern
        holding no supported file.
    """
    skip = tuple(_OUTPUT_TAGS) + tuple(skip_tags)
    out: list[Source] = []
    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            found = _from_folder(p, skip, p, _strictly_below(out_dir, p))
            if not found:
                raise InputError(f"{p}: no supported files found",
                                 "biodae reads WFDB, EDF/BDF, NIfTI, DICOM, PNG, TIFF")
            out += found
        elif _is_records_file(p):
            out += _from_records_file(p, skip, _strictly_below(out_dir, p.parent))
        elif not p.exists() and not Path(f"{p}.hea").exists() and glob.has_magic(text):
            out += _from_glob(text, skip, _strictly_below(out_dir, _glob_base(text)))
        else:
            io.detect_format(p)  # a clear error when missing or unsupported
            out.append(Source(Path(f"{p}.hea") if Path(f"{p}.hea").is_file() else p, None))
    seen: set[Path] = set()
    unique = []
    for s in out:
        key = s.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


# ----------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Task:
    """One file to clean: where it comes from and where its outputs go (absolute paths)."""

    name: str
    source: Path
    output: Path
    format: str
    #: files whose existence means "already done": the main output's visible file and the extras'
    planned: tuple[Path, ...] = ()
    error: str | None = None
    skip: str | None = None


def _visible(output: Path, fmt: str) -> Path:
    """The file that makes an output visible (a WFDB record's ``.hea``)."""
    return output.with_name(output.name + ".hea") if fmt == "wfdb" else output


def extra_output(source: Path, output: Path, fmt: str, suffix: str) -> Path:
    """Where an extra output (e.g. the removed noise, ``suffix="_noise"``) of ``source`` goes:
    beside the main output, named after the input with ``suffix`` before the extension
    (``scan.nii.gz`` -> ``scan_noise.nii.gz``; WFDB record ``101`` -> record ``101_noise``)."""
    if fmt == "wfdb":
        stem = source.stem if source.suffix.lower() in (".hea", ".dat", ".mat") else source.name
        return output.parent / f"{stem}{suffix}"
    name = source.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem
    return output.parent / f"{stem}{suffix}{name[len(stem):]}"


def plan(
    sources: Sequence[Source],
    *,
    out_dir: str | os.PathLike | None,
    tag: str,
    force: bool = False,
    extra_suffixes: Sequence[str] = (),
) -> list[Task]:
    """A :class:`Task` per source: output paths, sources that collide, outputs that exist.

    The check for existing outputs looks at paths only (it reads no file), so a rerun over
    a large archive skips finished records at once. A record counts as finished when its
    visible output (a WFDB ``.hea``, or the file) or one of its declared extras
    (``extra_suffixes``) exists: such outputs are never overwritten without ``force``.
    """
    if out_dir is not None and Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise InputError(f"the output folder {out_dir} is a file, not a folder",
                         "choose a folder (it is created when missing)")
    tasks: list[Task] = []
    owner: dict[Path, str] = {}
    for s in sources:
        name = s.name
        if s.error:
            tasks.append(Task(name, s.path.absolute(), Path(), "", error=s.error))
            continue
        try:
            fmt = io.detect_format(s.path)
            out = io.output_path(s.path, out_dir=out_dir, tag=tag, root=s.root).absolute()
        except (InputError, ValueError) as exc:
            tasks.append(Task(name, s.path.absolute(), Path(), "", error=str(exc)))
            continue
        planned = (_visible(out, fmt),) + tuple(
            _visible(extra_output(s.path, out, fmt, sfx), fmt) for sfx in extra_suffixes)
        clash = next((owner[p] for p in planned if p in owner), None)
        if clash is not None:
            tasks.append(Task(name, s.path.absolute(), out, fmt, planned, error=(
                f"its output {planned[0]} is also the output of {clash}: rename one of them or clean them apart")))
            continue
        owner.update({p: name for p in planned})
        existing = [p for p in planned if p.exists()]
        skip = f"output exists: {existing[0]} (use --force)" if existing and not force else None
        tasks.append(Task(name, s.path.absolute(), out, fmt, planned, skip=skip))
    guard_inputs([t.source for t in tasks if t.format], [
        (p, t.format, f"the output of {t.name}") for t in tasks if t.format for p in t.planned],
        advice="choose an output folder that holds none of the inputs" if out_dir is not None
        else "rename that input, or write the outputs into another folder")
    return tasks


def input_files(path: Path) -> set[Path]:
    """The files (resolved) that make up the input ``path``: the file itself, or for a WFDB record
    its header, every ``<record>.*`` file beside it (signal and annotation files) and the signal
    files its header names."""
    path = Path(path)
    if path.suffix.lower() != ".hea":
        return {path.resolve()}
    record = path.with_suffix("")
    files = {path.resolve()} | {p.resolve() for p in path.parent.glob(glob.escape(record.name) + ".*")}
    with contextlib.suppress(OSError):
        lines = [ln.split() for ln in path.read_text(encoding="latin-1").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        for ln in lines[1:]:
            if ln and ln[0] != "~" and "/" not in ln[0]:
                files.add((path.parent / ln[0]).resolve())
    return files


def _lands_on(output: Path, fmt: str, claimed: set[Path]) -> Path | None:
    """The input file in ``claimed`` that writing ``output`` (a file, or a WFDB record's ``.hea``) would replace."""
    out = output.resolve()
    if out in claimed:
        return out
    if fmt == "wfdb":  # the record's signal and annotation files are written beside its .hea
        prefix = (out.name[: -len(".hea")] if out.name.endswith(".hea") else out.name) + "."
        return next((q for q in sorted(claimed) if q.parent == out.parent and q.name.startswith(prefix)), None)
    return None


def guard_inputs(inputs: Sequence[Path], outputs: Sequence[tuple[Path, str, str]], *, advice: str) -> None:
    """Refuse a run in which an output would land on one of its inputs, whatever ``force`` says.

    ``outputs`` are ``(path, format, what)`` triples (``what`` names the output in the message:
    "the output of 101", "the report"...). Raises :class:`InputError` naming the first clash.
    """
    claimed: set[Path] = set()
    for p in inputs:
        claimed |= input_files(p)
    for path, fmt, what in outputs:
        hit = _lands_on(Path(path), fmt, claimed)
        if hit is not None:
            raise InputError(f"{what} would be written onto the input {hit}: biodae never overwrites an input "
                             "of the same run", advice)


# ----------------------------------------------------------------------------- the per-file step


@dataclass
class FileResult:
    """What happened to one file (small and picklable: it travels back from the workers).

    ``status`` is ``"done"``, ``"skipped"``, ``"failed"`` or ``"not run"`` (interrupted
    before its turn). SNRs are estimated (:func:`biodae.noise.estimate_snr_db`) per
    channel the step changed, before and after; ``None`` where not defined (images).
    """

    name: str
    input: str
    status: str
    output: str | None = None
    message: str = ""
    detail: str = ""
    outputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    snr_in_db: list[float | None] = field(default_factory=list)
    snr_out_db: list[float | None] = field(default_factory=list)
    duration_s: float | None = None
    seconds: float = 0.0
    worker: str = ""
    #: for a file skipped because an earlier run wrote its output: that run's entry from the report it
    #: left (see :meth:`BatchReport.keep_earlier`), so a rerun's report loses none of the first run's figures
    earlier: dict[str, Any] | None = None

    @property
    def snr_in_mean(self) -> float | None:
        return _mean_db(self.snr_in_db)

    @property
    def snr_out_mean(self) -> float | None:
        return _mean_db(self.snr_out_db)


def _mean_db(values: Sequence[float | None]) -> float | None:
    ok = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(ok)) if ok else None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    """The warnings biodae logs meanwhile (format changes, checksum mismatches...)."""
    handler = _Collect()
    logger = logging.getLogger("biodae")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


#: a long record's SNR estimate is the median over this many stretches of SNR_STRETCH_S seconds
SNR_STRETCHES, SNR_STRETCH_S = 10, 60.0


def _snr(obj: io.Signal | io.Image, new: io.Signal | io.Image) -> tuple[list[str], list, list]:
    """Names and estimated SNRs (dB) before and after of the channels a step changed.

    :func:`biodae.noise.estimate_noise`, the figures ``biodae info`` prints (long records on
    ten 1-minute stretches, records with gaps on their longest gap-free stretch); the output
    is measured by the method chosen on the input (``like=``)."""
    from .noise import estimate_noise

    if not isinstance(obj, io.Signal) or not isinstance(new, io.Signal) or obj.data.shape != new.data.shape:
        return [], [], []
    changed = [c for c in range(obj.n_channels)
               if not np.array_equal(obj.data[:, c], new.data[:, c], equal_nan=True)]
    if not changed:
        return [], [], []
    before = estimate_noise(obj, channels=changed)
    after = estimate_noise(new, channels=changed, like=before)

    def clean(estimates: list) -> list[float | None]:
        return [float(round(e.snr_db, 3)) if e.snr_db is not None and math.isfinite(e.snr_db) else None
                for e in estimates]

    return [obj.channel_names[c] for c in changed], clean(before), clean(after)


def _write_all(items: list[tuple[Any, Path]], *, force: bool, write_kwargs: dict[str, Any]) -> list[Path]:
    """Write ``(obj, path)`` pairs in order; if one fails, remove those this call created."""
    written: list[Path] = []
    created: list[Path] = []
    try:
        for obj, path in items:
            kwargs = {**write_kwargs, **obj.meta.get("write_kwargs", {})} if obj.format == "nifti" else {}
            fresh = not _visible(path, obj.format).exists()
            files = io.write(obj, path, force=force, **kwargs)
            written += files
            if fresh:
                created += files
    except BaseException:
        for p in created:
            with contextlib.suppress(OSError):
                p.unlink()
        raise
    return written


def clean_file(
    task: Task,
    step: Callable[[Any], tuple],
    *,
    force: bool = False,
    write_kwargs: dict[str, Any] | None = None,
    extra_suffixes: Sequence[str] = (),
    raise_errors: bool = False,
) -> FileResult:
    """Clean one file: read, ``step``, estimate SNRs, write every output atomically.

    ``step(obj)`` returns ``(new, detail)`` or ``(new, detail, extras)`` with ``extras`` a
    list of ``(extra_obj, suffix)`` pairs, written beside the main output (see
    :func:`extra_output`) by the same rules. Extras are written first and the main output
    last; if any write fails, the files of this call are removed again, so a file is
    either completely cleaned or not at all. Errors become a ``"failed"`` result (with
    ``raise_errors`` they are raised instead, for a single file on the command line).
    """
    t0 = time.perf_counter()
    res = FileResult(name=task.name, input=str(task.source), status="failed",
                     output=str(task.output) if task.format else None, worker=f"pid {os.getpid()}")
    if task.error:
        if raise_errors:
            raise InputError(task.error)
        res.message = task.error
        return res
    with _collect_warnings() as warned:
        try:
            obj = io.read(task.source)
            if isinstance(obj, io.Signal):
                res.duration_s = float(obj.duration)
            ret = step(obj)
            new, detail = ret[0], str(ret[1])
            extras = list(ret[2]) if len(ret) > 2 and ret[2] else []
            unknown = [sfx for _, sfx in extras if sfx not in extra_suffixes]
            if unknown:  # an undeclared extra would escape the existence check of a rerun
                raise ValueError(f"the step returned extra outputs {unknown} not declared in extra_suffixes")
            items = [(e, extra_output(task.source, task.output, task.format, sfx)) for e, sfx in extras]
            items.append((new, task.output))
            res.outputs = [str(p) for p in _write_all(items, force=force, write_kwargs=write_kwargs or {})]
            res.channels, res.snr_in_db, res.snr_out_db = _snr(obj, new)
            res.status, res.detail = "done", detail
        except BiodaeError as exc:
            if raise_errors:
                raise
            res.message = str(exc)
        except Exception as exc:  # a bug on one file must not stop the batch
            if raise_errors:
                raise
            res.message = f"internal error: {type(exc).__name__}: {exc}"
    res.warnings = list(warned)
    res.seconds = time.perf_counter() - t0
    return res


def _with_threads(step: Any, threads: int) -> Any:
    if dataclasses.is_dataclass(step) and getattr(step, "threads", 0) is None:
        return dataclasses.replace(step, threads=threads)
    return step


# ----------------------------------------------------------------------------- executors


@contextlib.contextmanager
def _worker_environment(threads: int) -> Iterator[None]:
    """BLAS/OpenMP thread counts for worker processes started meanwhile (unless the user set them)."""
    saved = {k: os.environ.get(k) for k in _BLAS_THREADS}
    for k in _BLAS_THREADS:
        os.environ.setdefault(k, str(threads))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started meanwhile ignore Ctrl-C (the parent decides what an interrupt does)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _from_main(step: Any) -> bool:
    """Whether unpickling ``step`` in a worker needs the caller's ``__main__`` module."""
    return "__main__" in (getattr(step, "__module__", None), type(step).__module__)


def _main_has_guard(main: Any) -> bool:
    """Whether the script ``main`` runs as has an ``if __name__ == "__main__":`` block (True when unknown)."""
    import ast

    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return True
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    return any(isinstance(n, ast.If) and "__name__" in ast.dump(n.test) and "'__main__'" in ast.dump(n.test)
               for n in tree.body)


@contextlib.contextmanager
def _main_not_rerun(step: Any) -> Iterator[None]:
    """Worker processes started meanwhile do not re-run the caller's script.

    multiprocessing's ``spawn`` imports the parent's ``__main__`` again in each new worker, to find what was
    defined there. A script without an ``if __name__ == "__main__":`` guard then starts the whole batch again
    in every worker, which multiprocessing refuses, and every file failed with "its worker died". biodae's
    own steps and :func:`clean_file` need nothing from ``__main__``, so while the workers start it is shown
    to them as an interactive session (no file, no module spec) and they skip it. A step defined in the
    script itself does need it: that works only under the guard, and without one it is refused here, before
    any work, with the fix.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    if _from_main(step):
        if not _main_has_guard(main):
            raise RuntimeError(
                f"the step {step!r} is defined in the script {main.__file__}, which has no "
                "'if __name__ == \"__main__\":' block: worker processes import the script again and would start "
                "the batch again. Put the call under that guard, or use backend='serial'")
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__file__", None)
        main.__dict__.update(saved)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _remove_partial(task: Task) -> None:
    """Remove the temporary files an aborted write of ``task`` (main output and extras) may have left."""
    if not task.format:
        return
    stems = {task.output.name.split(".")[0], extra_output(task.source, task.output, task.format, "").name.split(".")[0]}
    for stem in stems:
        for p in task.output.parent.glob(f".{glob.escape(stem)}*.part*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def _check_picklable(step: Any, backend: str) -> None:
    try:
        pickle.dumps(step)
    except Exception as exc:
        raise TypeError(
            f"backend {backend!r} needs a picklable step (a module-level function or an instance of a "
            f"module-level class), got {step!r}: {exc}"
        ) from exc


class _DeferredInterrupt:
    """While active (main thread only), a first Ctrl-C is noted and the file in progress goes on; a
    second one raises :class:`KeyboardInterrupt` at once (the atomic writers then leave nothing behind)."""

    def __init__(self) -> None:
        self.pending = False
        self._old: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True
        _say_interrupted(1)

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _serial(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any],
            threads: int | None) -> Iterator[tuple[int, FileResult]]:
    if threads:
        step = _with_threads(step, threads)
    for i, t in work:
        with _DeferredInterrupt() as ctrl_c:  # Ctrl-C lets this file finish, as the parallel backends do
            try:
                res = clean_file(t, step, **kwargs)
            except KeyboardInterrupt:  # the second Ctrl-C: the file is abandoned, its temporary files removed
                _remove_partial(t)
                raise
        yield i, res
        if ctrl_c.pending:
            raise KeyboardInterrupt


def _processes(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any], jobs: int,
               threads: int) -> Iterator[tuple[int, FileResult]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    step = _with_threads(step, threads)
    _check_picklable(step, "processes")
    with _worker_environment(threads):
        # spawn, not fork: a forked child inherits the parent's threads (tqdm's, a caller's) in any state
        workers = min(jobs, len(work))

        def new_pool() -> Any:
            return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                       initializer=_init_worker)

        pools = [new_pool()]

        def submit(task: Task) -> Any:
            try:
                with _main_not_rerun(step):  # workers start on demand, inside submit
                    return pools[-1].submit(clean_file, task, step, **kwargs)
            except BrokenProcessPool:
                # A worker died (killed for memory, say): the files the pool held fail with "its worker died";
                # the files not yet handed out go to a new pool.
                pools[-1].shutdown(wait=False, cancel_futures=True)
                pools.append(new_pool())
                with _sigint_ignored(), _main_not_rerun(step):
                    return pools[-1].submit(clean_file, task, step, **kwargs)

        def abort() -> None:
            for proc in list((getattr(pools[-1], "_processes", None) or {}).values()):
                proc.terminate()

        feed = _Feed(work, submit)
        try:
            with _sigint_ignored():  # the workers start meanwhile and inherit the ignored Ctrl-C
                pending = {f for f in (feed.next() for _ in range(workers)) if f is not None}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    pending |= {f for f in (feed.next() for _ in done) if f is not None}  # before yielding
                    for f in done:
                        yield feed.result(f)
            except KeyboardInterrupt:
                yield from feed.finish_in_progress(abort)
                raise
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)


class _Feed:
    """Hands files to a pool one per free worker, and after Ctrl-C finishes exactly those it handed out.

    Pools queue what they are given ahead of their workers (a process pool marks such calls running, past
    cancelling; a Dask worker holds the next task): submitting every file at once would make Ctrl-C wait for those
    too. ``submit(task)`` returns a future of the task's :class:`FileResult`.
    """

    def __init__(self, work: list[tuple[int, Task]], submit: Callable[[Task], Any]) -> None:
        self._todo, self._submit = iter(work), submit
        self.futures: dict[Any, tuple[int, Task]] = {}
        self._reported: set = set()

    def next(self) -> Any:
        """Submit the next file; ``None`` when all are out."""
        item = next(self._todo, None)
        if item is None:
            return None
        f = self._submit(item[1])
        self.futures[f] = item
        return f

    def result(self, f: Any) -> tuple[int, FileResult]:
        self._reported.add(f)
        return _future_result(f, *self.futures[f])

    def finish_in_progress(self, abort: Callable[[], Any] = lambda: None) -> Iterator[tuple[int, FileResult]]:
        """After Ctrl-C: the results of the files handed out and not yet reported; a second Ctrl-C aborts them."""
        running = [f for f in self.futures if f not in self._reported]
        _say_interrupted(len(running))
        try:
            for f in running:
                yield self.result(f)
        except KeyboardInterrupt:
            abort()
            for f in running:
                _remove_partial(self.futures[f][1])
            raise


def _say_interrupted(n: int) -> None:
    if n:
        print(f"\nbiodae: interrupted: finishing the {n} file(s) in progress (press Ctrl-C again to abort them)",
              file=sys.stderr, flush=True)


def _future_result(f: Any, i: int, task: Task) -> tuple[int, FileResult]:
    try:
        return i, f.result()
    except Exception as exc:  # the worker process died (BrokenProcessPool, KilledWorker), or was cancelled
        return i, FileResult(task.name, str(task.source), "failed",
                             message=f"its worker died: {type(exc).__name__}: {exc}")


def _dask_clean(task: Task, step: Any, kwargs: dict[str, Any], threads: dict[str, int]) -> FileResult:
    """:func:`clean_file` on a Dask worker, with the onnxruntime threads its host can give it."""
    from distributed import get_worker

    from .runtime import default_threads

    w = get_worker()
    n = threads.get(w.address) or default_threads(w.state.nthreads)
    res = clean_file(task, _with_threads(step, n), **kwargs)
    res.worker = w.address
    return res


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DependencyError("--backend dask needs dask.distributed, which is not installed",
                              "pip install 'biodae[dask]'") from exc
    return distributed


def _threads_per_worker(client: Any, threads: int | None) -> dict[str, int]:
    """onnxruntime threads per Dask worker: its host's cores shared by the task slots on that host."""
    from urllib.parse import urlparse

    info = client.scheduler_info(n_workers=-1)["workers"]
    if threads:
        return {a: int(threads) for a in info}
    cores = client.run(_usable_cores)
    slots: dict[str, int] = {}
    for a, w in info.items():
        host = urlparse(a).hostname or a
        slots[host] = slots.get(host, 0) + int(w.get("nthreads", 1))
    return {a: max(1, int(cores.get(a, 1)) // slots[urlparse(a).hostname or a]) for a in info}


def _usable_cores() -> int:
    from .runtime import default_threads

    return default_threads(1)


def _dask(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any], jobs: int, threads: int | None,
          scheduler: str | None) -> Iterator[tuple[int, FileResult]]:
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                                 "check the address (e.g. tcp://host:8786) and that the scheduler runs") from exc
        else:
            from .runtime import default_threads

            stack.enter_context(_worker_environment(threads or default_threads(jobs)))
            with _sigint_ignored(), _main_not_rerun(step):
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
        per_worker = _threads_per_worker(client, threads)
        stamp = f"{os.getpid()}-{time.time_ns()}"
        feed = _Feed(work, lambda task: client.submit(_dask_clean, task, step, kwargs, per_worker, pure=False,
                                                      key=f"biodae-clean-{stamp}-{len(feed.futures)}"))
        slots = max(1, sum(client.nthreads().values()))  # one file per worker thread (see _Feed)
        stream = distributed.as_completed([f for f in (feed.next() for _ in range(slots)) if f is not None])
        try:
            for f in stream:
                nxt = feed.next()
                if nxt is not None:
                    stream.add(nxt)
                yield feed.result(f)
        except KeyboardInterrupt:
            yield from feed.finish_in_progress()
            raise


# ----------------------------------------------------------------------------- report


@dataclass
class BatchReport:
    """A whole run: one :class:`FileResult` per input, in input order, and how it ran."""

    results: list[FileResult]
    command: str = ""
    backend: str = "serial"
    jobs: int = 1
    threads: int | None = None
    seconds: float = 0.0
    out_dir: str | None = None
    interrupted: bool = False
    #: entries of an earlier report at the same path for inputs this run did not name (kept, see keep_earlier)
    earlier_files: list[dict[str, Any]] = field(default_factory=list)
    #: problems after the files were cleaned (the report could not be written...); they make the exit status 1
    problems: list[str] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def done(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "done"]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_status(self) -> int:
        """1 if any file failed (or the run was interrupted, or its report could not be written), else 0."""
        return 1 if self.failed or self.interrupted or self.problems else 0

    @property
    def signal_hours(self) -> float:
        """Hours of signal cleaned in this run (done files)."""
        return sum(r.duration_s or 0.0 for r in self.done) / 3600.0

    def summary(self) -> str:
        line = (f"{len(self.done)} written, {len(self.skipped)} skipped, {len(self.failed)} failed"
                + (f", {self._count('not run')} not run (interrupted)" if self.interrupted else "")
                + f" in {self.seconds:.1f} s")
        if self.signal_hours > 0 and self.seconds > 0:
            line += (f": {self.signal_hours:.2f} h of signal, "
                     f"{self.signal_hours / (self.seconds / 60):.2f} h per minute")
        how = f"{self.backend}, {self.jobs} job{'s' if self.jobs != 1 else ''}"
        if self.threads:
            how += f" x {self.threads} thread{'s' if self.threads != 1 else ''}"
        return line + f" ({how}; outputs in {self.out_dir or 'the input folders'})"

    def table(self) -> str:
        """A plain-text table, one row per file."""
        head = ["file", "status", "signal", "SNR in", "SNR out", "time", "what"]
        rows = []
        for r in self.results:
            what = r.detail if r.status == "done" else r.message
            snr_in, snr_out = r.snr_in_mean, r.snr_out_mean
            if r.status == "skipped" and r.earlier:  # show what the run that wrote the output measured
                what = f"done earlier: {r.earlier.get('detail', '')}"
                snr_in, snr_out = r.earlier.get("snr_in_db_mean"), r.earlier.get("snr_out_db_mean")
            if r.warnings:
                what = f"[{len(r.warnings)} warning{'s' if len(r.warnings) > 1 else ''}] {what}"
            rows.append([
                r.name, r.status, _fmt_duration(r.duration_s), _fmt_db(snr_in), _fmt_db(snr_out),
                f"{r.seconds:.1f} s" if r.status in ("done", "failed") else "", _shorten(what, 70),
            ])
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
        right = {2, 3, 4, 5}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "biodae_version": __version__,
            "command": self.command,
            "backend": self.backend,
            "jobs": self.jobs,
            "threads": self.threads,
            "out_dir": self.out_dir,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "totals": {
                "files": len(self.results), "done": len(self.done), "skipped": len(self.skipped),
                "failed": len(self.failed), "not_run": self._count("not run"),
                "signal_hours": round(self.signal_hours, 6),
                "signal_hours_per_minute": (round(self.signal_hours / (self.seconds / 60), 4)
                                            if self.seconds > 0 else None),
            },
            "files": [_result_dict(r) for r in self.results],
            "earlier_files": self.earlier_files,
        }

    def keep_earlier(self, earlier: dict[str, Any] | None) -> None:
        """Carry the entries of an ``earlier`` report (:func:`read_report`) over into this one.

        A file this run skipped because its output exists gets the entry of the run that
        wrote it (``FileResult.earlier``: its detail, SNRs, time); the earlier report's files
        that this run did not name at all are kept in :attr:`earlier_files`. Writing this
        report over the earlier one then loses nothing.
        """
        if not earlier:
            return
        entries: dict[str, dict[str, Any]] = {}
        for e in list(earlier.get("earlier_files") or []) + list(earlier.get("files") or []):
            if not isinstance(e, dict) or "input" not in e:
                continue
            done = e if e.get("status") == "done" else e.get("earlier")
            if isinstance(done, dict):
                entries[str(e["input"])] = {k: v for k, v in done.items() if k != "earlier"}
            elif str(e["input"]) not in entries:
                entries[str(e["input"])] = e
        named = {r.input for r in self.results}
        for r in self.results:
            e = entries.get(r.input)
            if r.status == "skipped" and e is not None and e.get("status") == "done":
                r.earlier = e
        self.earlier_files = [e for k, e in entries.items() if k not in named]

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically, replacing the file at ``path``.

        To keep an earlier run's figures, :meth:`keep_earlier` them first (the command line
        does, with :func:`read_report`).
        """
        from .io._atomic import atomic_path

        path = Path(path)
        with atomic_path(path, force=True) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return path


def read_report(path: str | os.PathLike, *, command: str, force: bool = False) -> dict[str, Any] | None:
    """The earlier report at ``path`` to carry over into this run's (``None``: none to keep).

    An existing file that is not a report of ``command`` is never replaced without
    ``force`` (:class:`OutputExistsError`); with ``force`` it is replaced, not merged.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, dict) and "biodae_version" in data and isinstance(data.get("files"), list) \
            and data.get("command") == command:
        return data
    if force:
        return None
    raise OutputExistsError(f"the report file {path} exists and is not a biodae {command} report",
                            "choose another report file, or pass --force (force=True) to replace it")


def _result_dict(r: FileResult) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    d["snr_in_db_mean"] = None if r.snr_in_mean is None else round(r.snr_in_mean, 3)
    d["snr_out_db_mean"] = None if r.snr_out_mean is None else round(r.snr_out_mean, 3)
    d["seconds"] = round(r.seconds, 3)
    return d


def _fmt_db(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} dB"


def _fmt_duration(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s:.1f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h")


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ----------------------------------------------------------------------------- run


def run(
    tasks: Sequence[Task],
    step: Callable[[Any], tuple],
    *,
    backend: str = "serial",
    jobs: int = 1,
    threads: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    write_kwargs: dict[str, Any] | None = None,
    extra_suffixes: Sequence[str] = (),
    progress: bool | None = None,
    command: str = "",
    out_dir: str | os.PathLike | None = None,
    on_result: Callable[[FileResult], Any] | None = None,
) -> BatchReport:
    """Clean ``tasks`` with ``step`` on ``backend``; return the report.

    Parameters
    ----------
    tasks : sequence of Task
        From :func:`plan`; tasks marked skipped or in error are reported, not run.
    step : callable
        ``step(obj) -> (new, detail[, extras])``; picklable for ``"processes"`` and ``"dask"``.
    backend : {"serial", "processes", "dask"}
    jobs : int
        Worker processes (``"processes"``, or the local Dask cluster's workers).
    threads : int, optional
        onnxruntime threads per worker; default: the cores divided by the workers per host.
    scheduler : str, optional
        A Dask scheduler address (``tcp://host:8786``); without it a local cluster of
        ``jobs`` workers is started for the run. Workers must see the same paths.
    progress : bool, optional
        A progress bar on stderr (``None``: when stderr is a terminal).
    on_result : callable, optional
        Called with each :class:`FileResult` as it arrives.

    Raises
    ------
    KeyboardInterrupt
        After an interrupt, with the report (``interrupted=True``) in ``exc.report``.
    """
    from tqdm import tqdm

    from .runtime import default_threads

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")
    if jobs < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    t0 = time.perf_counter()
    results: dict[int, FileResult] = {}
    todo = []
    for i, t in enumerate(tasks):
        if t.error:
            results[i] = FileResult(t.name, str(t.source), "failed", message=t.error)
        elif t.skip:
            results[i] = FileResult(t.name, str(t.source), "skipped", output=str(t.output), message=t.skip)
        else:
            todo.append(i)
    kwargs = {"force": force, "write_kwargs": dict(write_kwargs or {}), "extra_suffixes": tuple(extra_suffixes)}
    work = [(i, tasks[i]) for i in todo]
    backend_used = "serial" if backend == "processes" and len(work) <= 1 else backend  # no pool for one file
    if backend_used == "serial":
        jobs = 1
    per_worker = threads or (default_threads(jobs) if not (backend_used == "dask" and scheduler) else None)
    if backend_used == "serial":
        stream = _serial(work, step, kwargs, per_worker)
    elif backend_used == "processes":
        stream = _processes(work, step, kwargs, jobs, per_worker)
    else:
        _check_picklable(step, "dask")
        stream = _dask(work, step, kwargs, jobs, threads, scheduler)
    report = BatchReport([], command=command, backend=backend_used, jobs=jobs, threads=per_worker,
                         out_dir=None if out_dir is None else str(out_dir))
    relog = backend_used != "serial"  # warnings logged in another process were not shown yet
    bar = tqdm(total=len(work), desc=f"biodae {command}".strip(), unit="file", file=sys.stderr,
               disable=(not progress) if progress is not None else None, dynamic_ncols=True)
    try:
        with bar:
            ctrl_c: KeyboardInterrupt | None = None
            while True:
                try:  # a Ctrl-C that landed here, between two results, goes to the backend: it finishes what is
                    i, res = stream.throw(ctrl_c) if ctrl_c else next(stream)  # in flight, as in its own wait
                except StopIteration:
                    break
                results[i], ctrl_c = res, None
                try:
                    if relog:
                        for w in res.warnings:
                            log.warning("%s: %s", res.name, w)
                    if on_result is not None:
                        on_result(res)
                    bar.update(1)
                except KeyboardInterrupt as exc:
                    ctrl_c = exc
    except KeyboardInterrupt as exc:
        report.interrupted = True
        _finish(report, tasks, results, t0)
        exc.report = report  # type: ignore[attr-defined]
        raise
    return _finish(report, tasks, results, t0)


def _finish(report: BatchReport, tasks: Sequence[Task], results: dict[int, FileResult], t0: float) -> BatchReport:
    report.results = [results.get(i) or FileResult(t.name, str(t.source), "not run", output=str(t.output))
                      for i, t in enumerate(tasks)]
    report.seconds = time.perf_counter() - t0
    return report


def denoise_files(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    model: str | os.PathLike | None = None,
    device: str = "cpu",
    backend: str = "serial",
    jobs: int = 1,
    threads: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    report: str | os.PathLike | None = None,
    progress: bool | None = False,
) -> BatchReport:
    """Denoise folders, records, RECORDS files or globs into ``out_dir``: :command:`biodae denoise` from Python.

    Parameters are those of :func:`run`; ``model`` as in :func:`biodae.denoise_record`.
    Bad files are reported in the returned :class:`BatchReport`, never raised; the
    report is also written as JSON to ``report`` when given.

    Examples
    --------
    >>> rep = biodae.denoise_files("mitdb/", out_dir="clean/", backend="processes", jobs=4)  # doctest: +SKIP
    >>> rep.exit_status, len(rep.done)                                                       # doctest: +SKIP
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if model is not None and Path(model).is_file():
        model = str(Path(model).absolute())  # workers elsewhere resolve it from their own folder
    tasks = plan(expand_inputs(inputs, out_dir=out_dir), out_dir=out_dir, tag="_denoised", force=force)
    earlier = None
    if report is not None:
        guard_inputs([t.source for t in tasks if t.format], [(Path(report), "json", f"the report {report}")],
                     advice="choose another report file")
        earlier = read_report(report, command="denoise", force=force)
    rep = run(tasks, Denoise(None if model is None else str(model), device, threads), backend=backend, jobs=jobs,
              threads=threads, scheduler=scheduler, force=force, progress=progress, command="denoise",
              out_dir=out_dir)
    if report is not None:
        rep.keep_earlier(earlier)
        rep.write_json(report)
    return rep

