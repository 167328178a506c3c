"""Cleaning one file: read, step, estimate the SNRs, write every output atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .._errors import BiodaeError, InputError
from ._plan import Task, _visible, extra_output

__all__ = ['FileResult', 'clean_file']


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




def _snr(obj: io.Signal | io.Image, new: io.Signal | io.Image) -> tuple[list[str], list, list]:
    """Names and estimated SNRs (dB) before and after of the channels a step changed.

    :func:`biodae.noise.estimate_noise`, the figures ``biodae info`` prints (long records on
    ten 1-minute stretches, records with gaps on their longest gap-free stretch); the output
    is measured by the method chosen on the input (``like=``)."""
    from ..noise import estimate_noise

    if not isinstance(obj, io.Signal) or not isinstance(new, io.Signal) or obj.data.shape != new.data.shape:
        return [], [], []
    changed = [c for c in range(obj.n_channels) if not _same_samples(obj.data[:, c], new.data[:, c])]
    if not changed:
        return [], [], []
    before = estimate_noise(obj, channels=changed)
    after = estimate_noise(new, channels=changed, like=before)

    def clean(estimates: list) -> list[float | None]:
        return [float(round(e.snr_db, 3)) if e.snr_db is not None and math.isfinite(e.snr_db) else None
                for e in estimates]

    return [obj.channel_names[c] for c in changed], clean(before), clean(after)


def _same_samples(a: np.ndarray, b: np.ndarray, block: int = 1 << 16) -> bool:
    """Whether two channels hold the same samples (NaN equal to NaN), block by block: a changed
    channel is told at its first block, not after comparing the whole record (24 h: 0.3 s each)."""
    return a.shape == b.shape and all(np.array_equal(a[i : i + block], b[i : i + block], equal_nan=True)
                                      for i in range(0, a.size, block))


def _write_all(items: list[tuple[Any, Path]], *, force: bool, write_kwargs: dict[str, Any]) -> list[Path]:
    """Write ``(obj, path)`` pairs in order; if one fails, remove those this call created."""
    written: list[Path] = []
    created: list[Path] = []
    try:
        for obj, path in items:
            if hasattr(obj, "write_files"):  # an output of its own kind (biodae beats: a table and annotations)
                fresh = not Path(path).exists()
                files = obj.write_files(path, force=force)
            else:
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
