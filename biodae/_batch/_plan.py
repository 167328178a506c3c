"""Where each input's outputs go, which inputs collide or are done, and the guard that no output lands on an input."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import io
from .._errors import InputError
from ._inputs import Source

__all__ = ['Task', 'plan', 'extra_output', 'input_files', 'guard_inputs']


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


def _stem(path: Path) -> str:
    """A file name without its extension (``scan.nii.gz`` -> ``scan``)."""
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem


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
) -> list[Task]:
    """A :class:`Task` per source: output paths, sources that collide, outputs that exist.

    The check for existing outputs looks at paths only (it reads no file), so a rerun over
    a large archive skips finished records at once. A record counts as finished when its
    visible output (a WFDB ``.hea``, or the file) or one of its declared extras
    (``extra_suffixes``) exists: such outputs are never overwritten without ``force``.

    With ``named`` (suffixes such as ``(".beats.csv", ".anom")``) a source's outputs are files
    named after it with those suffixes, in the folder its output would go to, instead of a
    record or image in its own format; the first is :attr:`Task.output`.
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
    guard_inputs([t.source for t in tasks if t.format], [
        (p, "file" if t.named else t.format, f"the output of {t.name}") for t in tasks if t.format for p in t.planned],
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
