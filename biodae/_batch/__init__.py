"""Cleaning many files: inputs, plan, the per-file step, executors and the run report.

This is the engine behind ``biodae denoise`` and ``biodae filter`` when they are given a
folder, several records, a PhysioNet ``RECORDS`` file or a glob, and behind
:func:`denoise_files` and :func:`filter_files`. One module per layer:

- ``_inputs``: :func:`expand_inputs`, :class:`Source`;
- ``_plan``: :func:`plan`, :class:`Task`, :func:`guard_inputs` (no output on an input);
- ``_steps``: :class:`Denoise`, :class:`Filter` (over :mod:`biodae._record`);
- ``_clean``: :func:`clean_file`, :class:`FileResult`;
- ``_executors``: the serial, process-pool and Dask backends, Ctrl-C;
- ``_report``: :class:`BatchReport`, :func:`read_report`;
- ``_run``: :func:`choose_backend`, :func:`run`, :func:`denoise_files`, :func:`filter_files`.

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
    Runs the tasks on a backend (:func:`choose_backend`) with a progress bar and returns a :class:`BatchReport`
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

from ._clean import FileResult, clean_file
from ._executors import DeferredInterrupt, remove_partial
from ._inputs import Source, expand_inputs
from ._plan import Task, check_report, extra_output, guard_inputs, input_files, plan
from ._report import BatchReport, read_report
from ._run import BACKENDS, choose_backend, denoise_files, filter_files, run
from ._steps import BEATS_SUFFIX, Beats, BeatTable, Denoise, Filter, written_by_biodae

__all__ = [
    "BACKENDS", "choose_backend", "run", "denoise_files", "filter_files",
    "Source", "expand_inputs",
    "Task", "plan", "extra_output", "input_files", "guard_inputs", "check_report",
    "Denoise", "Filter", "Beats", "BeatTable", "BEATS_SUFFIX", "written_by_biodae",
    "FileResult", "clean_file",
    "BatchReport", "read_report",
    "DeferredInterrupt", "remove_partial",
]
