"""``--plot FILE.png`` of ``biodae denoise`` and ``biodae filter``: one file's before/after picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import io
from .._errors import InputError, OutputExistsError

__all__ = ["PLOT_HELP", "check_plot", "draw_plot"]

PLOT_HELP = ("draw the input, the output and the removed component of ONE file into FILE.png: ~10 s around the "
             "middle of a record (each cleaned channel) or the middle slice of an image (needs the plot extra: "
             "pip install 'biodae[plot]')")


def _record_files(path: Path, fmt: str) -> list[Path]:
    """The files of an input or output: a WFDB record's files (``NAME.*``), else the file."""
    if fmt != "wfdb":
        return [path]
    stem = path.stem if path.suffix.lower() in (".hea", ".dat", ".mat") else path.name
    return sorted(path.parent.glob(f"{stem}.*")) + [path.parent / f"{stem}.hea", path.parent / f"{stem}.dat"]


def check_plot(args: Any, *, tag: str, extra_suffixes: tuple[str, ...] = ()) -> None:
    """Refuse a ``--plot`` that cannot be drawn, before any file is cleaned.

    The picture draws one file (not a folder, a glob, RECORDS or several inputs), is a
    ``.png``, is never a file of the run (an input, the mask, an output or the report),
    and never replaces an existing file without ``--force``; matplotlib must be installed.
    """
    if not getattr(args, "plot", None):
        return
    from .. import _batch
    from ..plot import require_matplotlib, same_file

    plot = Path(args.plot)
    sources = _batch.expand_inputs(args.input, skip_tags=extra_suffixes)
    if len(args.input) != 1 or len(sources) != 1 or sources[0].root is not None:
        what = f"{len(args.input)} inputs" if len(args.input) != 1 else (
            f"{args.input[0]} names {len(sources)} files" if len(sources) != 1 else f"{args.input[0]} is a folder")
        raise InputError(f"--plot draws one file, but {what}", "drop --plot, or give a single file with it")
    if plot.suffix.lower() != ".png":
        raise InputError(f"--plot {args.plot}: the picture is written as PNG", "give it a .png name")
    if plot.is_dir():
        raise InputError(f"--plot {args.plot} is a folder", "name the picture's file, e.g. --plot before_after.png")
    src = sources[0].path
    fmt = io.detect_format(src)
    out = io.output_path(src, out_dir=args.out_dir, tag=tag)
    files = [("an input", p) for p in _record_files(src, fmt)]
    if getattr(args, "mask", None):
        files.append(("the --mask", Path(args.mask)))
    files += [("the output", p) for p in _record_files(out, fmt)]
    files += [("an output", p) for sfx in extra_suffixes
              for p in _record_files(_batch.extra_output(src, out.absolute(), fmt, sfx), fmt)]
    if getattr(args, "report", None):
        files.append(("the --report", Path(args.report)))
    for what, p in files:
        if same_file(plot, p):
            raise InputError(f"--plot {args.plot} is {what} of this run ({p})", "write the picture to another file")
    if plot.exists() and not args.force:
        raise OutputExistsError(f"--plot {args.plot} already exists",
                                "pass --force to overwrite it, or name another file")
    require_matplotlib()


def draw_plot(args: Any, source: Path, res: Any) -> None:
    """Draw the picture of ``--plot`` (if given) from ``source`` and the output of ``res``
    (a :class:`biodae._batch.FileResult`), both read from disk."""
    if not getattr(args, "plot", None) or res.status != "done" or not res.output:
        return
    from ..plot import save_before_after

    before, after = io.read(source), io.read(res.output)
    title = f"{Path(source).name} -> {Path(res.output).name}: biodae {args.command} {res.detail}"
    kwargs: dict[str, Any] = {"title": title}
    if isinstance(before, io.Signal):
        kwargs["snr_db"] = {c: (a, b) for c, a, b in zip(res.channels, res.snr_in_db, res.snr_out_db)}
    else:
        kwargs["axis"] = getattr(args, "axis", None)
        kwargs["noise_sigma"] = _image_noise(before, after)
    path = save_before_after(before, after, args.plot, force=args.force, protect=[source, *res.outputs], **kwargs)
    print(f"plot: {path}")


def _image_noise(before: io.Image, after: io.Image) -> tuple[float | None, float | None]:
    """The noise sigma of the input and of the output as written, by the estimate 'biodae info'
    and 'biodae denoise' print (the output measured like the input). Informative only: the
    picture is drawn without the figures when they cannot be had."""
    try:
        from ..noise import estimate_noise

        (a,) = estimate_noise(before)
        (b,) = estimate_noise(after, like=[a])
        return a.sigma, b.sigma
    except Exception:  # noqa: BLE001 - an estimate never stops the picture
        return None, None
