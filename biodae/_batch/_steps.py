"""The per-file steps of ``biodae denoise`` and ``biodae filter``: picklable callables over the record layer."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .._errors import InputError

__all__ = ['Denoise', 'Filter']


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Denoise:
    """The ``biodae denoise`` step: ECG/EEG models per channel (or ``model``) over onnxruntime.

    Parameters
    ----------
    model : str or path, optional
        A shipped model name or an ``.onnx`` path; ``None`` picks per channel.
    device : {"cpu", "cuda", "tensorrt"}
    threads : int, optional
        onnxruntime intra-op threads; ``None`` lets the batch engine choose.
    """

    model: str | None = None
    device: str = "cpu"
    threads: int | None = None
    #: images only: slicing axis of a NIfTI volume, a mask file (denoise inside), and
    #: whether to write the removed component as ``<name>_noise`` (NIfTI, float32)
    axis: int | None = None
    mask: str | None = None
    save_noise: bool = False

    def __call__(self, obj: io.Signal | io.Image) -> tuple:
        from .._record import denoise_record, note_provenance

        if isinstance(obj, io.Image):
            return self._image(obj)
        for name, value in (("axis", self.axis), ("mask", self.mask), ("save_noise", self.save_noise)):
            if value not in (None, False):
                raise InputError(f"{name}= applies to images (NIfTI, DICOM, PNG, TIFF), not to {obj.format.upper()} "
                                 "signals", f"leave out {name}= for signal records")
        out, rep = denoise_record(obj, self.model, device=self.device, threads=self.threads)
        if rep.get("models"):  # signals: the model used on each channel
            models = "; ".join(f"{m} on {', '.join(ch)}" for m, ch in rep["models"].items())
        else:
            models = str(rep.get("model", ""))
        note_provenance(out, f"biodae denoise: {models}")
        return out, models + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


    def _image(self, obj: io.Image) -> tuple:
        from .._record import denoise_image

        if self.save_noise and obj.format != "nifti":
            raise InputError(f"save_noise=True writes a NIfTI noise map; this input is {obj.format.upper()}",
                             "use save_noise=True with NIfTI inputs")
        mask = None if self.mask is None else _mask_for(self.mask, obj)
        out, rep = denoise_image(obj, self.model, axis=self.axis, mask=mask, device=self.device,
                                 threads=self.threads, progress=None)
        detail = rep["model"] + (f", axis {rep['axis']}" if rep["axis"] is not None else "")
        if rep["sigma_before"] is not None and rep["sigma_after"] is not None:
            detail += f", noise sigma (est.) {rep['sigma_before']:.4g} -> {rep['sigma_after']:.4g}"
        if mask is not None:
            detail += f", inside the mask ({int(mask.sum())} voxels)"
        extras = []
        if self.save_noise:
            noise = obj.replace(data=rep["noise"].astype(np.float32))
            noise.meta["write_kwargs"] = {"dtype": "float32"}  # signed residual: never the input's integer type
            extras.append((noise, "_noise"))
        return out, detail, extras


@functools.lru_cache(maxsize=1)
def _read_mask(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``--mask`` file as booleans and its affine, read once per worker process (a batch of scans shares it)."""
    m = io.read(path)
    if not isinstance(m, io.Image):
        raise InputError(f"mask={path}: not an image", "pass a NIfTI mask on the scan's voxel grid")
    mask = np.asarray(m.data) != 0
    mask.flags.writeable = False  # shared between the files of a batch
    affine = m.meta.get("affine")
    return mask, None if affine is None else np.asarray(affine, dtype=np.float64)


#: largest difference (mm) between the mask's and the scan's voxel-to-world affines taken as the same grid
MASK_GRID_TOLERANCE_MM = 1e-3


def _mask_for(path: str, image: io.Image) -> np.ndarray:
    """The mask at ``path`` after checking that it lies on ``image``'s voxel grid (same affine)."""
    mask, affine = _read_mask(path)
    scan = image.meta.get("affine")
    if affine is not None and scan is not None and mask.shape[:3] == image.data.shape[:3]:
        # the world position of every voxel corner differs by at most this much
        corners = np.array([[i, j, k, 1.0] for i in (0, mask.shape[0] - 1) for j in (0, mask.shape[1] - 1)
                            for k in (0, (mask.shape[2] if mask.ndim > 2 else 1) - 1)])
        shift = float(np.abs(corners @ (np.asarray(scan, dtype=np.float64) - affine).T)[:, :3].max())
        if shift > MASK_GRID_TOLERANCE_MM:
            raise InputError(f"mask={Path(path).name} is on another voxel grid than {image.source.name if image.source else 'the scan'} "
                             f"(same shape, but its voxels lie up to {shift:.3g} mm away from the scan's)",
                             "resample the mask onto the scan's grid (e.g. nilearn.image.resample_to_img "
                             "with interpolation='nearest')")
    return mask


@dataclass(frozen=True)
class Filter:
    """The ``biodae filter`` step: a classical filter with ``params`` over the modality's defaults."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    modality: str | None = None

    def __call__(self, obj: io.Signal | io.Image) -> tuple[io.Signal | io.Image, str]:
        from .._record import filter_record, note_provenance

        out, rep = filter_record(obj, self.method, self.params, modality=self.modality)
        text = f"{rep['method']} {_fmt_params(rep['params'])}".strip()
        note_provenance(out, f"biodae filter {text}")
        return out, text + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


def _fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))
