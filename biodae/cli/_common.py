"""What every file-processing command shares: inputs, outputs, batch reporting."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import io
from .._errors import BiodaeError, InputError, OutputExistsError

__all__ = ["add_io_arguments", "BatchResult", "run_batch", "import_recipes"]


def import_recipes(what: str):
    """``biodae.nn.recipes`` (needs torch), or a clear error saying how to install it."""
    from .._errors import DependencyError

    try:
        from ..nn import recipes
    except ImportError as exc:
        raise DependencyError(f"{what} needs torch", "pip install -c constraints.txt 'biodae[train]'") from exc
    return recipes


def add_io_arguments(p) -> None:
    p.add_argument(
        "input", metavar="INPUT",
        help="a file, a WFDB record (its .hea or its path without extension) or a directory",
    )
    p.add_argument("--out-dir", "-o", metavar="DIR", help="write outputs here under the input's own names")
    p.add_argument("--force", action="store_true", help="overwrite outputs that already exist")
    p.add_argument(
        "--dtype", default=None, metavar="DTYPE",
        help="NIfTI output type: float32 (default) or 'input' (the input's type, rounded and clipped)",
    )


@dataclass
class BatchResult:
    done: list[tuple[Path, list[Path]]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if self.failed else 0


def run_batch(
    args, process: Callable[[io.Signal | io.Image], tuple[io.Signal | io.Image, str]], *, tag: str
) -> BatchResult:
    """Read each input, ``process`` it, write the result by the output conventions.

    A single file that fails raises (the CLI prints one line); in a directory a
    failing file is reported and the rest go on. Existing outputs are never
    overwritten without ``--force``: a single file raises, in a directory it is
    skipped and reported.
    """
    src = Path(args.input)
    is_dir = src.is_dir()
    inputs = io.find_inputs(src)
    if is_dir and not inputs:
        raise InputError(f"{src}: no supported files found", "biodae reads WFDB, EDF/BDF, NIfTI, DICOM, PNG, TIFF")
    result = BatchResult()
    t0 = time.perf_counter()
    bar = tqdm(inputs, desc=f"biodae {args.command}", unit="file", disable=None if is_dir else True, file=sys.stderr)
    for path in bar:
        try:
            out = io.output_path(path, out_dir=args.out_dir, tag=tag, root=src if is_dir else None)
            obj = io.read(path)
            planned = _planned_outputs(obj, out)
            existing = [p for p in planned if p.exists()]
            if existing and not args.force:
                msg = f"output exists: {existing[0]}"
                if not is_dir:
                    raise OutputExistsError(msg, "pass --force to overwrite it")
                result.skipped.append((path, msg + " (use --force)"))
                continue
            new, summary = process(obj)
            kwargs = {}
            if args.dtype is not None and obj.format == "nifti":
                kwargs["dtype"] = args.dtype
            written = io.write(new, out, force=args.force, **kwargs)
            result.done.append((path, written))
            if not is_dir:
                print(f"{path} -> {written[-1] if obj.format != 'wfdb' else out}  ({summary})")
        except BiodaeError as exc:
            if not is_dir:
                raise
            result.failed.append((path, str(exc)))
        except Exception as exc:  # a bug on one file must not stop the batch
            if not is_dir:
                raise
            result.failed.append((path, f"internal error: {type(exc).__name__}: {exc}"))
    if is_dir:
        dt = time.perf_counter() - t0
        print(
            f"{len(result.done)} written, {len(result.skipped)} skipped, {len(result.failed)} failed "
            f"in {dt:.1f} s (outputs in {args.out_dir or 'the input folders'})"
        )
        for p, why in result.skipped:
            print(f"  skipped {p}: {why}")
        for p, why in result.failed:
            print(f"  FAILED  {p}: {why}")
    return result


def _planned_outputs(obj, out: Path) -> list[Path]:
    if obj.format == "wfdb":
        return [out.with_name(out.name + ".hea")]
    return [out]
