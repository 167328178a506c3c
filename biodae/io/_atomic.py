"""Atomic, no-clobber file writing shared by every writer in :mod:`biodae.io`."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .._errors import OutputExistsError

__all__ = ["check_writable", "atomic_path", "atomic_group"]


def _default_mode() -> int:
    """Permissions of a newly created file (0666 minus the umask), as open() would give."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable(paths: Sequence[Path] | Path, *, force: bool) -> None:
    """Raise :class:`OutputExistsError` if any of ``paths`` exists and not ``force``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [Path(paths)]
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not force:
        raise OutputExistsError(
            f"output already exists: {', '.join(existing)}",
            "pass --force (force=True) to overwrite it, or choose another output",
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file lives in the same directory, so the final ``os.replace`` is
    atomic on POSIX and Windows: readers see either the old file or the complete new
    one, never a half-written file. On any exception the temporary file is removed.
    """
    path = Path(path)
    check_writable(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the full suffix (".nii.gz") so writers that infer the format from it work
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not force and path.exists():  # appeared while we were writing
            raise OutputExistsError(f"output appeared while writing: {path}", "pass --force to overwrite it")
        os.chmod(tmp_path, _default_mode())  # mkstemp creates 0600
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_group(paths: Sequence[str | os.PathLike], *, force: bool = False) -> Iterator[list[Path]]:
    """Atomic write of a group of files (e.g. a WFDB record: ``.dat``, ``.atr``, ``.hea``).

    Yields temporary paths (in a private folder next to the first output) in the same
    order as ``paths``. On success each is renamed onto its destination, the *last*
    path last, so put the file that makes the group visible (a WFDB ``.hea``) last.
    On failure nothing is left behind: if the renames are interrupted (an exception,
    Ctrl-C), the files already renamed are removed again, so the group is either all
    there or not there at all (with ``force``, the previous version is then gone too,
    never mixed with the new one).
    """
    dests = [Path(p) for p in paths]
    if not dests:
        raise ValueError("atomic_group needs at least one path")
    check_writable(dests, force=force)
    parent = dests[0].parent
    parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dests[0].stem}.", suffix=".part", dir=parent))
    try:
        tmps = [tmpdir / d.name for d in dests]
        yield tmps
        for t, d in zip(tmps, dests):
            if not t.exists():
                raise FileNotFoundError(f"internal error: {t.name} was not written")
        appeared = [str(d) for d in dests if d.exists()] if not force else []
        if appeared:  # another writer finished first (two runs over one archive): keep its files
            raise OutputExistsError(f"output appeared while writing: {', '.join(appeared)}",
                                    "pass --force to overwrite it")
        mode = _default_mode()
        renamed: list[Path] = []
        if len(dests) > 1:  # overwriting: hide the old group first, so that old and new files never mix
            dests[-1].unlink(missing_ok=True)
        try:
            for t, d in zip(tmps, dests):
                d.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(t, mode)
                os.replace(t, d)
                renamed.append(d)
        except BaseException:
            for d in renamed:
                d.unlink(missing_ok=True)
            raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
