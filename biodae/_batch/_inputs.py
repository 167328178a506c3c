"""What the user named, as a list of input files: folders, records, RECORDS files, globs."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import io
from .._errors import InputError

__all__ = ['Source', 'expand_inputs']


#: Tags biodae adds to outputs written beside their input; such files are not inputs.
_OUTPUT_TAGS = ("_denoised", "_filtered")


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


def _stem(path: Path) -> str:
    """A file name without its extension (``scan.nii.gz`` -> ``scan``)."""
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem


def _skip_name(p: Path, skip_tags: Sequence[str]) -> bool:
    return _stem(p).endswith(tuple(skip_tags))


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
