"""Running a plan on a backend, and the library's whole-archive calls (:func:`denoise_files`)."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._errors import InputError
from ._clean import FileResult
from ._executors import (
    _check_picklable,
    _dask,
    _import_distributed,
    _processes,
    _serial,
)
from ._inputs import expand_inputs
from ._plan import Task, check_report, plan
from ._report import BatchReport, read_report
from ._steps import Denoise, Filter

__all__ = ["BACKENDS", "choose_backend", "run", "denoise_files", "filter_files"]


log = logging.getLogger("biodae")

#: Where files are cleaned: this process, a pool of worker processes, or a Dask cluster.
BACKENDS = ("serial", "processes", "dask")


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

    from ..runtime import default_threads

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


def choose_backend(backend: str | None, jobs: int, scheduler: str | None = None) -> tuple[str, int]:
    """The backend and number of workers a run uses: ``backend`` as given, or ``"dask"`` when a
    ``scheduler`` is named, ``"serial"`` for one job and ``"processes"`` for more; ``jobs=0`` means
    one per core.

    Raises
    ------
    InputError
        Contradictory choices (a scheduler without Dask, several jobs in the serial backend),
        or ``jobs`` below 0.
    """
    from ..runtime import default_threads

    if jobs < 0:
        raise InputError(f"jobs={jobs}: must be 0 (one per core) or more")
    backend = backend or ("dask" if scheduler else ("serial" if jobs == 1 else "processes"))
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", f"choose one of {', '.join(BACKENDS)}")
    if scheduler and backend != "dask":
        raise InputError(f"scheduler= is a Dask option, but backend={backend}", "drop one of them")
    jobs = jobs if jobs > 0 else default_threads(1)
    if backend == "serial" and jobs > 1:
        raise InputError("backend=serial cleans one file at a time", "drop jobs=, or use backend=processes")
    if backend == "dask":
        _import_distributed()  # a missing extra is a usage error, before any work
    return backend, jobs


def _files(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    step: Callable[[Any], tuple],
    *,
    command: str,
    tag: str,
    out_dir: str | os.PathLike,
    backend: str | None,
    jobs: int,
    threads: int | None,
    scheduler: str | None,
    force: bool,
    report: str | os.PathLike | None,
    progress: bool | None,
    also_inputs: Sequence[str | os.PathLike] = (),
) -> BatchReport:
    """What :func:`denoise_files` and :func:`filter_files` share: expand, plan, guard the report, run, report."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    backend, jobs = choose_backend(backend, jobs, scheduler)
    tasks = plan(expand_inputs(inputs, out_dir=out_dir), out_dir=out_dir, tag=tag, force=force,
                 also_inputs=also_inputs)
    earlier = None
    if report is not None:
        check_report(report, tasks, also_inputs=[Path(p) for p in also_inputs])
        earlier = read_report(report, command=command, force=force)
    rep = run(tasks, step, backend=backend, jobs=jobs, threads=threads, scheduler=scheduler, force=force,
              progress=progress, command=command, out_dir=out_dir)
    if report is not None:
        rep.keep_earlier(earlier)
        rep.write_json(report)
    return rep


def denoise_files(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    out_dir: str | os.PathLike,
    model: str | os.PathLike | None = None,
    device: str = "cpu",
    backend: str | None = None,
    jobs: int = 1,
    threads: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    report: str | os.PathLike | None = None,
    progress: bool | None = False,
    precision: str = "fp32",
) -> BatchReport:
    """Denoise folders, records, RECORDS files or globs into ``out_dir``: :command:`biodae denoise` from Python.

    Parameters are those of :func:`run` (``backend=None``: :func:`choose_backend`); ``model`` and ``precision``
    as in :func:`biodae.denoise_record`. Bad files are reported in the returned :class:`BatchReport`, never
    raised; the report is also written as JSON to ``report`` when given (an earlier report there is
    carried over). Works in a plain script: with ``backend="processes"`` no ``__main__`` guard is needed.

    Examples
    --------
    >>> rep = biodae.denoise_files("mitdb/", out_dir="clean/", backend="processes", jobs=4)  # doctest: +SKIP
    >>> rep.exit_status, len(rep.done)                                                       # doctest: +SKIP
    """
    if model is not None and Path(model).is_file():
        model = str(Path(model).absolute())  # workers elsewhere resolve it from their own folder
    step = Denoise(None if model is None else str(model), device, threads, precision=precision)
    return _files(inputs, step, command="denoise", tag="_denoised", out_dir=out_dir, backend=backend, jobs=jobs,
                  threads=threads, scheduler=scheduler, force=force, report=report, progress=progress,
                  also_inputs=[model] if model is not None and Path(model).is_file() else [])


def filter_files(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    out_dir: str | os.PathLike,
    modality: str | None = None,
    backend: str | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    force: bool = False,
    report: str | os.PathLike | None = None,
    progress: bool | None = False,
) -> BatchReport:
    """Filter folders, records, RECORDS files or globs into ``out_dir``: :command:`biodae filter` from Python.

    ``method``, ``params`` and ``modality`` as in :func:`biodae.filter_record`; the rest as in
    :func:`denoise_files`.

    Examples
    --------
    >>> rep = biodae.filter_files("mitdb/", "butterworth", {"high": 40}, out_dir="filtered/")  # doctest: +SKIP
    """
    from .. import filters

    if method not in filters.METHODS:
        raise InputError(f"unknown method {method!r}", f"choose one of {', '.join(filters.METHODS)}")
    step = Filter(method, dict(params or {}), modality)
    return _files(inputs, step, command="filter", tag="_filtered", out_dir=out_dir, backend=backend, jobs=jobs,
                  threads=None, scheduler=scheduler, force=force, report=report, progress=progress)
