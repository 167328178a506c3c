"""The ``biodae denoise --self-supervised METHOD`` step: a picklable callable over
:func:`biodae._self_supervised.denoise_self_supervised`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import io
from .._errors import InputError

__all__ = ["SelfSupervised"]


@dataclass(frozen=True)
class SelfSupervised:
    """Denoise each image by a method fitted to the image itself (``noise2self`` or ``patch2self``).

    Parameters
    ----------
    method : {"noise2self", "patch2self"}
    model : str or path, optional
        noise2self: the image model to adapt (default: the image's model).
    radius : int, optional
        noise2self: blind-spot radius (default: from the noise's measured correlation).
    steps, seed : int
        noise2self: training steps and seed.
    threads : int, optional
        noise2self: torch threads.
    axis, mask, save_noise
        As for :class:`~biodae._batch.Denoise`.
    """

    method: str
    model: str | None = None
    radius: int | None = None
    steps: int = 300
    seed: int = 0
    threads: int | None = None
    axis: int | None = None
    mask: str | None = None
    save_noise: bool = False

    def __call__(self, obj: io.Signal | io.Image) -> tuple:
        from .._self_supervised import denoise_self_supervised
        from ._steps import _mask_for, image_result

        if not isinstance(obj, io.Image):
            raise InputError(f"{obj.source.name if obj.source else 'record'}: self-supervised denoising is for "
                             f"images (MRI volumes and series), not {obj.format.upper()} signal records",
                             "leave out the self-supervised method for ECG/EEG records")
        if self.save_noise and obj.format != "nifti":
            raise InputError(f"save_noise=True writes a NIfTI noise map; this input is {obj.format.upper()}",
                             "use save_noise=True with NIfTI inputs")
        mask = None if self.mask is None else _mask_for(self.mask, obj)
        bvals = _bvals_beside(obj) if self.method == "patch2self" else None
        out, rep = denoise_self_supervised(obj, self.method, model=self.model, axis=self.axis, mask=mask,
                                           radius=self.radius, steps=self.steps, seed=self.seed, bvals=bvals,
                                           threads=self.threads, progress=None)
        return image_result(obj, out, rep, mask, self.save_noise)


def _bvals_beside(obj: io.Image) -> np.ndarray | None:
    """The b-values of a diffusion series from ``NAME.bval`` beside it (FSL layout), or None."""
    if obj.source is None:
        return None
    src = obj.source
    stem = src.name
    for ext in (".nii.gz", ".nii"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    path = src.with_name(stem + ".bval")
    if not path.is_file():
        return None
    try:
        b = np.loadtxt(path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise InputError(f"{path.name}: not a b-value file ({exc})", "fix or remove the .bval file") from exc
    if obj.data.ndim != 4 or b.size != obj.data.shape[3]:
        raise InputError(f"{path.name} holds {b.size} b-values for {obj.data.shape[-1] if obj.data.ndim == 4 else 1} "
                         "volumes", "fix or remove the .bval file")
    return b
