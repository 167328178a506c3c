"""The two in-memory containers every reader returns and every writer takes.

A reader keeps in ``meta`` everything its writer needs to give the user back a file
that other tools read the same way (WFDB format/gain/baseline and annotation files,
the EDF header, the NIfTI header and affine, the DICOM dataset, the PNG bit depth).
Processing code only touches ``data``; :meth:`Signal.replace` / :meth:`Image.replace`
make a copy with new data and the same metadata.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..types import Modality

__all__ = ["Signal", "Image", "Modality"]


@dataclass
class Signal:
    """A multichannel biosignal in physical units.

    Attributes
    ----------
    data : ndarray of float64, shape (n_samples, n_channels)
        Samples in physical units (``units[i]`` for channel ``i``), time along axis 0.
    sampling_rate : float
        Samples per second (Hz), shared by all channels.
    channel_names : list of str
        One name per channel (WFDB ``sig_name``, EDF label).
    units : list of str
        Physical unit per channel (``"mV"``, ``"uV"``...).
    format : {"wfdb", "edf", "bdf"}
        The file format it was read from (and will be written back to).
    meta : dict
        Format-specific fields the writer needs to round-trip the file.
    source : Path or None
        The file (for WFDB: the record path without extension) it was read from.
    """

    data: np.ndarray
    sampling_rate: float
    channel_names: list[str]
    units: list[str]
    format: str = "wfdb"
    meta: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data)
        if self.data.ndim == 1:
            self.data = self.data[:, None]
        if self.data.ndim != 2:
            raise ValueError(f"Signal.data must be (n_samples, n_channels), got shape {self.data.shape}")
        n = self.data.shape[1]
        if len(self.channel_names) != n or len(self.units) != n:
            raise ValueError(
                f"Signal has {n} channels but {len(self.channel_names)} names and {len(self.units)} units"
            )
        if not (np.isfinite(self.sampling_rate) and self.sampling_rate > 0):
            raise ValueError(f"sampling_rate must be a positive number, got {self.sampling_rate!r}")

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / float(self.sampling_rate)

    def replace(self, **changes: Any) -> "Signal":
        """Return a copy with some fields replaced (metadata is deep-copied)."""
        import copy

        changes.setdefault("meta", copy.deepcopy(self.meta))
        return dataclasses.replace(self, **changes)


@dataclass
class Image:
    """A 2D image, 3D volume or 4D series with its geometry.

    Attributes
    ----------
    data : ndarray of float32
        Intensities in the file's real-world units (NIfTI ``scl_slope``/``scl_inter``
        and DICOM ``RescaleSlope``/``RescaleIntercept`` applied). Shapes: ``(rows, cols)``
        for a 2D image, ``(x, y, z)`` / ``(x, y, z, t)`` for NIfTI (nibabel's order),
        ``(frames, rows, cols)`` for multi-frame DICOM and multi-page TIFF.
    spacing : tuple of float
        Pixel/voxel size per spatial axis in mm (1.0 where the file does not say).
    format : {"nifti", "dicom", "png", "tiff"}
    modality : str
        ``"mri"``, ``"ct"``, ``"xray"`` or ``"image"`` when unknown.
    meta : dict
        Format-specific fields the writer needs (header, affine, dataset, bit depth...).
    source : Path or None
    """

    data: np.ndarray
    spacing: tuple[float, ...]
    format: str
    modality: str = "image"
    meta: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    def replace(self, **changes: Any) -> "Image":
        """Return a copy with some fields replaced (metadata is shallow-copied; headers
        and datasets are copied by the writers before they are changed)."""
        changes.setdefault("meta", dict(self.meta))
        return dataclasses.replace(self, **changes)
