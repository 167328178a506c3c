"""Where each input's outputs go, which inputs collide or are done, and the guard that no output lands on an input."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import io
from .._errors import InputError
from ._inputs import Source, _stem

__all__ = ["Task", "plan", "extra_output", "input_files", "guard_inputs", "check_report", "Claimed"]


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
    #: outputs named after the input with fixed suffixes (``biodae beats``: ``.beats.csv``), not
    #: a copy of the input's format
    named: bool = False


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
    stem = _stem(source)
    return output.parent / f"{stem}{suffix}{source.name[len(stem):]}"


def plan(
    sources: Sequence[Source],
    *,
    out_dir: str | os.PathLike | None,
    tag: str,
    force: bool = False,
    extra_suffixes: Sequence[str] = (),
    named: Sequence[str] = (),
    also_inputs: Sequence[str | os.PathLike] = (),
    ours: Callable[[Path], bool] | None = None,
) -> list[Task]:
    """A :class:`Task` per source: output paths, sources that collide, outputs that exist.

    The check for existing outputs looks at paths only (it reads no file), so a rerun over
    a large archive skips finished records at once. A record counts as finished when its
    visible output (a WFDB ``.hea``, or the file) or one of its declared extras
    (``extra_suffixes``) exists: such outputs are never overwritten without ``force``.

    With ``named`` (suffixes such as ``(".beats.csv", ".anom")``) a source's outputs are files
    named after it with those suffixes, in the folder its output would go to, instead of a
    record or image in its own format; the first is :attr:`Task.output`.

    ``also_inputs`` are the other files the run reads (a mask, a model file): like the sources,
    no output may land on them (:func:`guard_inputs`). A file beside an input record that ends in
    one of the ``named`` suffixes is taken for an earlier output of the command (a rerun may replace
    it), unless ``ours(path)`` says it is not: then it belongs to the record (its reference
    annotations, say) and is guarded as an input.
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
        if named:
            stem = out.name if fmt == "wfdb" else _stem(out)
            planned = tuple(out.parent / f"{stem}{sfx}" for sfx in named)
            out = planned[0]
        else:
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
        tasks.append(Task(name, s.path.absolute(), out, fmt, planned, skip=skip, named=bool(named)))
    guard_inputs([t.source for t in tasks if t.format] + [Path(p) for p in also_inputs], [
        (p, "file" if t.named else t.format, f"the output of {t.name}") for t in tasks if t.format for p in t.planned],
        advice="choose an output folder that holds none of the inputs" if out_dir is not None
        else "rename that input, or write the outputs into another folder", not_inputs=named, ours=ours)
    return tasks


def input_files(path: Path, *, listing: dict[Path, list[str]] | None = None,
                not_inputs: Sequence[str] = (), ours: Callable[[Path], bool] | None = None) -> set[Path]:
    """The files (resolved) that make up the input ``path``: the file itself, or for a WFDB record
    its header, every ``<record>.*`` file beside it (signal and annotation files) and the signal
    files its header names. ``listing`` caches each folder's file names (a large archive is listed
    once, not once per record); files ending in ``not_inputs`` (a command's own earlier outputs,
    such as ``.beats.csv``) are not part of the record, unless ``ours(file)`` is False."""
    path = Path(path)
    if path.suffix.lower() != ".hea":
        return {path.resolve()}
    record = path.with_suffix("")
    folder = path.parent.resolve()
    if listing is None:
        listing = {}
    if folder not in listing:
        try:
            listing[folder] = [e.name for e in os.scandir(folder) if e.is_file()]
        except OSError:
            listing[folder] = []
    prefix = record.name + "."
    def part(n: str) -> bool:
        return not n.endswith(tuple(not_inputs)) or (ours is not None and not ours(folder / n))

    files = {path.resolve()} | {(folder / n).resolve() for n in listing[folder] if n.startswith(prefix) and part(n)}
    with contextlib.suppress(OSError):
        lines = [ln.split() for ln in path.read_text(encoding="latin-1").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        for ln in lines[1:]:
            if ln and ln[0] != "~" and "/" not in ln[0]:
                files.add((path.parent / ln[0]).resolve())
    return files


class Claimed:
    """The files of a run's inputs, indexed so that each output is checked in constant time."""

    def __init__(self, inputs: Sequence[Path], *, not_inputs: Sequence[str] = (),
                 ours: Callable[[Path], bool] | None = None) -> None:
        listing: dict[Path, list[str]] = {}
        self.files: set[Path] = set()
        for p in inputs:
            self.files |= input_files(Path(p), listing=listing, not_inputs=not_inputs, ours=ours)
        # every "<record>." prefix of every claimed name: a WFDB output record lands on any of them
        self._prefixes: dict[tuple[Path, str], Path] = {}
        for q in self.files:
            for k, ch in enumerate(q.name):
                if ch == ".":
                    self._prefixes.setdefault((q.parent, q.name[: k + 1]), q)

    def hit(self, output: Path, fmt: str) -> Path | None:
        """The input file that writing ``output`` (a file, or a WFDB record's ``.hea``) would replace."""
        out = Path(output).resolve()
        if out in self.files:
            return out
        if fmt == "wfdb":  # the record's signal and annotation files are written beside its .hea
            prefix = (out.name[: -len(".hea")] if out.name.endswith(".hea") else out.name) + "."
            return self._prefixes.get((out.parent, prefix))
        return None


def guard_inputs(inputs: Sequence[Path], outputs: Sequence[tuple[Path, str, str]], *, advice: str,
                 not_inputs: Sequence[str] = (), ours: Callable[[Path], bool] | None = None) -> None:
    """Refuse a run in which an output would land on one of its inputs, whatever ``force`` says.

    ``inputs`` are the files the run reads (records, files, and those named by options: a mask, a
    model file); ``outputs`` are ``(path, format, what)`` triples (``what`` names the output in the
    message: "the output of 101", "the report"...). Raises :class:`InputError` naming the first clash.
    """
    claimed = Claimed(inputs, not_inputs=not_inputs, ours=ours)
    for path, fmt, what in outputs:
        hit = claimed.hit(Path(path), fmt)
        if hit is not None:
            raise InputError(f"{what} would be written onto the input {hit}: biodae never overwrites an input "
                             "of the same run", advice)


def check_report(path: str | os.PathLike, tasks: Sequence[Task], *, also_inputs: Sequence[Path] = (),
                 advice: str = "choose another report file") -> None:
    """Refuse a report that would land on an input of the run or on one of its outputs (any file of an
    output WFDB record), or that is a folder."""
    path = Path(path)
    guard_inputs([t.source for t in tasks if t.format] + list(also_inputs), [(path, "json", f"the report {path}")],
                 advice=advice)
    outputs = Claimed([])
    for t in tasks:
        for p in t.planned:
            outputs.files.add(p.resolve())
            if not t.named and t.format == "wfdb" and p.name.endswith(".hea"):
                outputs._prefixes.setdefault((p.resolve().parent, p.name[: -len("hea")]), p.resolve())
    r = path.resolve()
    hit = r if r in outputs.files else next(
        (q for k, ch in enumerate(r.name) if ch == "." for q in [outputs._prefixes.get((r.parent, r.name[: k + 1]))]
         if q is not None), None)
    if hit is not None:
        raise InputError(f"the report {path} would be written onto {hit}, an output of this run", advice)
    if path.is_dir():
        raise InputError(f"the report {path} is a folder", "name a file, e.g. report.json")
