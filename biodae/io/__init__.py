"""Reading and writing biomedical files without losing what a user needs back.

Every reader returns a :class:`Signal` (WFDB, EDF/EDF+/BDF) or an :class:`Image`
(NIfTI, DICOM, PNG, TIFF); the matching writer gives back a file in the same format
and bit depth, with the header kept. Writers never overwrite without ``force=True``
and write atomically (temporary file + rename).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._atomic import atomic_group, atomic_path, check_writable
from ._containers import Image, Modality, Signal
from ._dispatch import FORMATS, detect_format, find_inputs, output_path, read, write

# Format modules are imported on first use: reading a WFDB record does not pay for pydicom.
_LAZY = {
    "read_wfdb": ".wfdb",
    "write_wfdb": ".wfdb",
    "read_edf": ".edf",
    "write_edf": ".edf",
    "read_nifti": ".nifti",
    "write_nifti": ".nifti",
    "read_dicom": ".image",
    "write_dicom": ".image",
    "read_raster": ".image",
    "write_raster": ".image",
    "read_eeglab": "._eeglab",  # EEGLAB .set/.fdt (the EOG reference recordings); not a format of read()
}

__all__ = [
    "Signal",
    "Image",
    "Modality",
    "FORMATS",
    "read",
    "write",
    "detect_format",
    "find_inputs",
    "output_path",
    *_LAZY,
    "atomic_path",
    "atomic_group",
    "check_writable",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'biodae.io' has no attribute {name!r}")
