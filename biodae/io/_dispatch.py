"""Format detection, input discovery and output naming shared by every command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._errors import BiodaeError, InputError, OutputError
from ._containers import Image, Signal

__all__ = ["detect_format", "read", "write", "find_inputs", "output_path", "FORMATS"]

#: Formats biodae reads, with the file endings that select them.
FORMATS: dict[str, tuple[str, ...]] = {
    "wfdb": (".hea",),
    "edf": (".edf", ".rec"),
    "bdf": (".bdf",),
    "nifti": (".nii", ".nii.gz"),
    "dicom": (".dcm", ".dicom"),
    "png": (".png",),
    "tiff": (".tif", ".tiff"),
}
_SUPPORTED = "WFDB (.hea), EDF/EDF+ (.edf), BDF (.bdf), NIfTI (.nii, .nii.gz), DICOM (.dcm), PNG, TIFF"
# Files that belong to a WFDB record but are not the record itself.
_WFDB_PARTS = (".dat", ".mat", ".xyz")
_OUTPUT_TAGS = ("_denoised", "_filtered")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return path.suffix.lower()


def _stem(path: Path) -> str:
    """File name without its format suffix (``scan.nii.gz`` -> ``scan``)."""
    suf = _suffix(path)
    return path.name[: len(path.name) - len(suf)] if suf else path.name


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def detect_format(path: str | os.PathLike) -> str:
    """Return the format name of ``path`` (a key of :data:`FORMATS`).

    A WFDB record may be named by its ``.hea`` file, by its path without extension,
    or by its signal file (``.dat``/``.mat``). DICOM files without an extension are
    recognised by their ``DICM`` preamble.

    Raises
    ------
    InputError
        If the file does not exist or its format is not supported.
    """
    path = Path(path)
    suf = _suffix(path)
    if suf in _WFDB_PARTS and path.with_suffix(".hea").exists():
        return "wfdb"
    for fmt, sufs in FORMATS.items():
        if suf in sufs:
            if not path.exists():
                raise InputError(f"{path}: no such file", "check the path")
            return fmt
    if path.with_name(path.name + ".hea").exists():
        return "wfdb"
    if not path.exists():
        raise InputError(
            f"{path}: no such file or WFDB record",
            "check the path; a WFDB record is named by its .hea file or its path without extension",
        )
    if path.is_dir():
        raise InputError(f"{path}: is a directory", "pass a file, or use a command that takes directories")
    if _is_dicom(path):
        return "dicom"
    raise InputError(f"{path}: unsupported file type {suf or '(no extension)'!r}", f"biodae reads {_SUPPORTED}")


def read(path: str | os.PathLike) -> Signal | Image:
    """Read any supported file into a :class:`Signal` or :class:`Image`.

    Parameters
    ----------
    path : str or path-like
        A WFDB record (``.hea`` or path without extension), EDF/BDF, NIfTI, DICOM,
        PNG or TIFF file.
    """
    from . import edf, image, nifti, wfdb

    fmt = detect_format(path)
    path = Path(path)
    if fmt == "wfdb":
        return wfdb.read_wfdb(path)
    if fmt in ("edf", "bdf"):
        return edf.read_edf(path)
    if fmt == "nifti":
        return nifti.read_nifti(path)
    if fmt == "dicom":
        return image.read_dicom(path)
    return image.read_raster(path)


def write(obj: Signal | Image, path: str | os.PathLike, *, force: bool = False, **kwargs: Any) -> list[Path]:
    """Write ``obj`` back in the format it was read from; return the files written.

    Extra keyword arguments go to the format's writer (``dtype=`` for NIfTI).
    """
    try:
        return _write(obj, path, force=force, **kwargs)
    except OSError as exc:
        if isinstance(exc, BiodaeError):  # OutputExistsError: already one line
            raise
        # the atomic writers' temporary files (".name.XXXX.part...") are gone already: name the output
        temp = exc.filename is not None and ".part" in str(exc.filename)
        where = path if exc.filename is None or temp else exc.filename
        raise OutputError(f"cannot write {where}: {exc.strerror or exc}",
                          "check that the output folder exists and is writable, and that the disk has room") from exc


def _write(obj: Signal | Image, path: str | os.PathLike, *, force: bool = False, **kwargs: Any) -> list[Path]:
    from . import edf, image, nifti, wfdb

    fmt = obj.format
    if fmt == "wfdb":
        return list(wfdb.write_wfdb(obj, path, force=force, **kwargs))
    if fmt in ("edf", "bdf"):
        return [edf.write_edf(obj, path, force=force, **kwargs)]
    if fmt == "nifti":
        return [nifti.write_nifti(obj, path, force=force, **kwargs)]
    if fmt == "dicom":
        return [image.write_dicom(obj, path, force=force, **kwargs)]
    if fmt in ("png", "tiff"):
        return [image.write_raster(obj, path, force=force, **kwargs)]
    raise ValueError(f"cannot write format {fmt!r}; known: {', '.join(FORMATS)}")


def find_inputs(path: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """List the inputs named by ``path``: the file itself, or every record/file in a folder.

    In a folder, WFDB records are listed once (by their ``.hea`` file) and their
    ``.dat``/annotation files are not listed; files biodae wrote beside their input
    (``*_denoised``, ``*_filtered``) are left out so a rerun does not clean its own
    outputs. Hidden files and temporary ``.part`` files are skipped.
    """
    path = Path(path)
    if not path.is_dir():
        detect_format(path)  # raises a clear error when missing or unsupported
        return [path]
    found: list[Path] = []
    walker = sorted(path.rglob("*")) if recursive else sorted(path.iterdir())
    for p in walker:
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(path).parts):
            continue
        if _stem(p).endswith(_OUTPUT_TAGS):
            continue
        suf = _suffix(p)
        if suf == ".hea":
            found.append(p)
        elif any(suf in s for f, s in FORMATS.items() if f != "wfdb"):
            found.append(p)
    return found


def output_path(
    input_path: str | os.PathLike,
    *,
    out_dir: str | os.PathLike | None = None,
    tag: str = "_denoised",
    root: str | os.PathLike | None = None,
) -> Path:
    """Where the output for ``input_path`` goes, by biodae's conventions.

    With ``out_dir`` the output keeps the input's name (record name for WFDB, file
    name otherwise) under ``out_dir`` — below the same sub-folder relative to
    ``root`` when the input came from a folder. Without it, the output is written
    beside the input with ``tag`` added before the extension. WFDB outputs are
    returned as record paths without extension.
    """
    p = Path(input_path)
    fmt = detect_format(p)
    if fmt == "wfdb":
        name, suf = (p.stem if _suffix(p) in (".hea",) + _WFDB_PARTS else p.name), ""
    else:
        name, suf = _stem(p), p.name[len(_stem(p)) :]
    if out_dir is None:
        return p.parent / f"{name}{tag}{suf}"
    sub = Path()
    if root is not None and Path(root).is_dir():
        sub = p.parent.relative_to(Path(root))
    return Path(out_dir) / sub / f"{name}{suf}"
