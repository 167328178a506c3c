"""What every file-processing command shares: inputs, outputs, batch reporting."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import io
from .._errors import OutputExistsError
from ._plot import PLOT_HELP, draw_plot

if TYPE_CHECKING:
    from .._batch import BatchReport

__all__ = ["add_io_arguments", "run_batch", "import_recipes"]


def import_recipes(what: str):
    """``biodae.nn.recipes`` (needs torch), or a clear error saying how to install it."""
    from .._errors import DependencyError

    try:
        from ..nn import recipes
    except ImportError as exc:
        raise DependencyError(f"{what} needs torch", "pip install -c constraints.txt 'biodae[train]'") from exc
    return recipes


def add_io_arguments(p, *, images: bool = True, out_dir_required: bool = False) -> None:
    """The inputs, outputs and batch options every file-processing command shares (``images``: also
    ``--dtype`` and ``--plot``, for commands that write records and images back)."""
    p.add_argument(
        "input", metavar="INPUT", nargs="+",
        help="files, WFDB records (a .hea or the path without extension), folders, PhysioNet RECORDS files "
             "or quoted glob patterns ('data/**/*.hea')",
    )
    p.add_argument("--out-dir", "-o", metavar="DIR", required=out_dir_required,
                   help="write outputs here under the input's own names")
    p.add_argument("--force", action="store_true", help="overwrite outputs that already exist")
    if images:
        p.add_argument(
            "--dtype", default=None, metavar="DTYPE",
            help="NIfTI output type: float32 (default) or 'input' (the input's type, rounded and clipped)",
        )
        p.add_argument("--plot", metavar="FILE.png", help=PLOT_HELP)
    else:
        p.set_defaults(dtype=None, plot=None)
    g = p.add_argument_group("batches (several inputs, a folder, RECORDS or a glob)")
    g.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help="clean N files at a time in N worker processes (0: one per core; default 1)")
    g.add_argument("--backend", choices=["serial", "processes", "dask"],
                   help="where files are cleaned: this process (default for --jobs 1), a process pool "
                        "(default for --jobs N), or a Dask cluster (pip install 'biodae[dask]')")
    g.add_argument("--scheduler", metavar="ADDR",
                   help="Dask scheduler to use (tcp://host:8786; implies --backend dask); without it "
                        "--backend dask starts a local cluster of --jobs workers")
    g.add_argument("--report", metavar="FILE.json",
                   help="write the run report here (default: DIR/biodae-COMMAND-report.json with --out-dir)")


def run_batch(
    args, process: Callable[[io.Signal | io.Image], tuple], *, tag: str, extra_suffixes: Sequence[str] = (),
    named: Sequence[str] = (),
    also_inputs: Sequence[str] = (),
    ours: Callable[[Path], bool] | None = None,
) -> BatchReport:
    """Read each input, ``process`` it, write the result by the output conventions.

    ``process(obj)`` returns ``(new, summary)`` or ``(new, summary, extras)``, ``extras``
    a list of ``(extra_obj, suffix)`` pairs written beside the main output
    (``scan.nii.gz`` -> ``scan_noise.nii.gz`` for ``"_noise"``), atomically, never
    overwritten without ``--force``; declare their suffixes in ``extra_suffixes`` so
    that a rerun counts them as outputs. For ``--jobs N`` and Dask, ``process`` must be
    picklable (an instance of a module-level class, see :mod:`biodae._batch`).

    One file that fails raises (the CLI prints one line); in a batch (several inputs,
    a folder, RECORDS, a glob) a failing file is reported and the rest go on, a summary
    table is printed and the report written as JSON. Existing outputs are never
    overwritten without ``--force``: a single file raises, in a batch it is skipped.

    With ``named`` outputs, ``ours(path)`` tells a file named like one of them beside an input
    record from the command's own earlier output (see :func:`biodae._batch.plan`).
    """
    from .. import _batch

    backend, jobs = _batch.choose_backend(args.backend, args.jobs, args.scheduler)
    sources = _batch.expand_inputs(args.input, skip_tags=extra_suffixes, out_dir=args.out_dir)
    single = len(args.input) == 1 and len(sources) == 1 and sources[0].root is None
    tasks = _batch.plan(sources, out_dir=args.out_dir, tag=tag, force=args.force, extra_suffixes=extra_suffixes,
                        named=named, also_inputs=also_inputs, ours=ours)
    write_kwargs = {"dtype": args.dtype} if args.dtype is not None else {}
    report_path = args.report or (
        Path(args.out_dir) / f"biodae-{args.command}-report.json" if args.out_dir and not single else None)
    earlier = None
    if report_path is not None:  # before any work: never on an input or an output, never over another file
        _batch.check_report(report_path, tasks, also_inputs=[Path(p) for p in also_inputs],
                            advice="choose another --report file")
        earlier = _batch.read_report(report_path, command=args.command, force=args.force)
    if single:
        task = tasks[0]
        if task.skip:
            raise OutputExistsError(task.skip.replace(" (use --force)", ""), "pass --force to overwrite it")
        with _batch.DeferredInterrupt() as ctrl_c:  # Ctrl-C lets the file finish; a second one aborts it
            try:
                res = _batch.clean_file(task, process, force=args.force, write_kwargs=write_kwargs,
                                        extra_suffixes=extra_suffixes, raise_errors=True)
            except KeyboardInterrupt:
                _batch.remove_partial(task)
                raise
        shown = task.output if named else io.output_path(sources[0].path, out_dir=args.out_dir, tag=tag)
        print(f"{args.input[0]} -> {shown}  ({res.detail})")
        draw_plot(args, sources[0].path, res)  # --plot: from the input and the output as written
        report = _batch.BatchReport([res], command=args.command, out_dir=args.out_dir, seconds=res.seconds)
        if report_path is not None:
            report.keep_earlier(earlier)
            _write_report(report, report_path)
        if ctrl_c.pending:
            raise KeyboardInterrupt
        return report
    try:
        report = _batch.run(
            tasks, process, backend=backend, jobs=jobs, threads=getattr(args, "threads", None),
            scheduler=args.scheduler, force=args.force, write_kwargs=write_kwargs, extra_suffixes=extra_suffixes,
            command=args.command, out_dir=args.out_dir,
        )
    except KeyboardInterrupt as exc:
        report = getattr(exc, "report", None)
        if report is not None:
            report.keep_earlier(earlier)
            _print_report(report, report_path)
        raise
    report.keep_earlier(earlier)
    _print_report(report, report_path)
    return report


def _write_report(report, report_path) -> None:
    """Write the JSON report; a failure is one line and exit status 1, the outputs stay as written."""
    import sys

    try:
        print(f"report: {report.write_json(report_path)}")
    except OSError as exc:
        msg = f"cannot write the report {report_path}: {exc.strerror or exc}"
        report.problems.append(msg)
        print(f"biodae: error: {msg} (the outputs are written; choose another --report file)", file=sys.stderr)


def _print_report(report, report_path) -> None:
    from ._flags import command_line_words

    for r in report.results:  # the library names its parameters; the command line says its flags
        r.message = command_line_words(r.message) or ""
    print(report.table())
    print(report.summary())
    for r in report.skipped:
        print(f"  skipped {r.name}: {r.message}")
    for r in report.failed:
        print(f"  FAILED  {r.name}: {r.message}")
    for r in report.results:
        for w in r.warnings:
            print(f"  warning {r.name}: {w}")
    if report_path is not None:
        _write_report(report, report_path)
