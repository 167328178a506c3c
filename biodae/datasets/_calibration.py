"""Calibration inputs for the int8 variants of the shipped models: drawn from each model's TRAINING data,
as its recipe draws them (the runtime quantises; it reads no data set itself)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError

__all__ = ["CalibrationSet", "calibration_inputs"]


@dataclass
class CalibrationSet:
    """Calibration batches (float32, the model's input layout) and what they are, in words."""

    batches: list[np.ndarray]
    description: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


# The training data of each shipped model, as its recipe (biodae/nn/recipes.py) builds it. Kept here because the
# data sets do not import torch (the recipes module does); tests/runtime/test_int8.py checks it against the recipes.
_TRAINING = {
    "ecg": {"kind": "ecg", "length": 1024, "snr_range": (-8.0, 26.0), "noise_augment": ("bw", "em")},
    "ecg-small": {"kind": "ecg", "length": 1024, "snr_range": (-8.0, 26.0), "noise_augment": ("bw", "em")},
    "ecg-qtdb-bw": {"kind": "deepfilter", "version": 1},
    "ecg-qtdb-bw-v2": {"kind": "deepfilter", "version": 2},
    "eeg": {"kind": "eeg", "snr_range": (-7.0, 7.0), "high_snr_fraction": 0.2, "high_snr_range": (7.0, 25.0),
            "clean_augment": True},
    "mri": {"kind": "image", "modality": "mri", "noise": "rician", "sigma_range": (0.005, 0.14),
            "source_weights": {"mri/nilearn-mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz": 2.0}},
    "xray": {"kind": "image", "modality": "xray", "noise": "poisson_gaussian", "peak_range": (30.0, 10000.0),
             "electronic_range": (0.0, 4.0),
             "source_weights": {"xray/dicom/RG1_J2KI.dcm": 3.0, "xray/dicom/693_UNCR.dcm": 2.0}},
}


def calibration_inputs(model_name: str, n: int | None = None, *, seed: int = 0, patch: int = 128,
                       batch: int | None = None, data_dir: str | os.PathLike | None = None) -> CalibrationSet:
    """Noisy inputs from the **training** data of the shipped model ``model_name``, to calibrate its int8 variant.

    ECG and EEG: ``n`` windows (default 256) drawn as the model's recipe draws its training windows
    (training-split records or epochs, training-split noise, the recipe's SNR range); ``ecg-qtdb-bw``
    and ``-v2``: ``n`` beats of the DeepFilter protocol's training part (not its validation 30 %);
    MRI and X-ray: ``n`` noisy training patches (default 64) of ``patch`` x ``patch`` pixels, scaled as
    the models take them.

    Parameters
    ----------
    model_name : str
        ``biodae.name`` of a shipped denoiser: ``ecg``, ``ecg-small``, ``ecg-qtdb-bw``, ``ecg-qtdb-bw-v2``, ``eeg``, ``mri``, ``xray``.
    n : int, optional
        Number of windows or patches.
    seed : int
        Seed of the draw.
    patch : int
        Patch size in pixels (2D models).
    batch : int, optional
        Rows per batch (default 32 for 1D, 8 for 2D).
    data_dir : path, optional
        The real data (default ``$BIODAE_DATA``).

    Returns
    -------
    CalibrationSet
        float32 batches ``(batch, 1, length)`` or ``(batch, 1, patch, patch)`` and their description.

    Raises
    ------
    InputError
        An unknown model name, or no data (``BIODAE_DATA`` not set).
    """
    from .. import datasets  # the package's own loaders (imported here: this module is part of it)

    spec = _TRAINING.get(model_name)
    if spec is None:
        raise InputError(f"no calibration recipe for model {model_name!r}",
                         f"use one of {', '.join(sorted(_TRAINING))}, or pass your own calibration arrays")
    if data_dir is None and not os.environ.get("BIODAE_DATA"):
        raise InputError(f"calibrating the int8 variant of {model_name} needs its training data, and BIODAE_DATA is "
                         "not set", "set BIODAE_DATA to the real-data folder (../shared/data)")
    kind = spec["kind"]
    image = kind == "image"
    n = int(n if n is not None else (64 if image else 256))
    batch = int(batch or (8 if image else 32))
    if n < 1:
        raise InputError(f"n={n} calibration inputs", "ask for at least one")
    if kind == "ecg":
        mixer = datasets.ECGNoiseMixer(datasets.load_ecg_records("train", data_dir=data_dir), noise_split="train",
                                       length=spec["length"], snr_range=spec["snr_range"],
                                       noise_augment=spec["noise_augment"], data_dir=data_dir)
        rows = [mixer.window(np.random.default_rng([seed, i]))[0] for i in range(n)]
        what = (f"{n} noisy training windows of {spec['length']} samples (ECGNoiseMixer: train-split records, "
                f"train-split NSTDB noise, SNR {spec['snr_range'][0]:g} to {spec['snr_range'][1]:g} dB), seed {seed}")
    elif kind == "deepfilter":
        d = datasets.deepfilter_protocol(data_dir, version=spec["version"])
        tr, _ = datasets.validation_split(d, fraction=0.3, method="last")
        pick = np.sort(np.random.default_rng(seed).choice(np.asarray(tr), size=min(n, len(tr)), replace=False))
        rows = list(d.x_train[pick].astype(np.float32))
        what = (f"{len(rows)} noisy beats from the DeepFilter protocol's training part (version {spec['version']}, "
                f"validation 30 % excluded), seed {seed}")
    elif kind == "eeg":
        opts = {k: spec[k] for k in ("snr_range", "high_snr_fraction", "high_snr_range", "clean_augment")}
        mixer = datasets.EEGNoiseMixer(datasets.load_eeg_epochs("train", data_dir=data_dir), artifact_split="train",
                                       data_dir=data_dir, **opts)
        rows = [mixer.window(np.random.default_rng([seed, i]))[0] for i in range(n)]
        what = (f"{n} noisy training epochs of 512 samples (EEGNoiseMixer: train-split epochs and EOG/EMG, "
                f"SNR {spec['snr_range'][0]:g} to {spec['snr_range'][1]:g} dB and 20 % milder), seed {seed}")
    else:
        kw = {k: spec[k] for k in ("sigma_range", "peak_range", "electronic_range") if k in spec}
        mixer = datasets.ImagePatchMixer(datasets.load_image_slices(spec["modality"], "train", data_dir=data_dir),
                                         noise=spec["noise"], patch=int(patch), source_weights=spec["source_weights"],
                                         **kw)
        rows = [mixer(np.random.default_rng([seed, i]))[0] for i in range(n)]
        what = (f"{n} noisy training patches of {patch} x {patch} pixels (ImagePatchMixer: train-split "
                f"{spec['modality']} slices, {spec['noise']} noise), seed {seed}")
    arr = np.stack(rows).astype(np.float32)[:, None]
    batches = [arr[i:i + batch] for i in range(0, len(arr), batch)]
    return CalibrationSet(batches, what, {"model": model_name, "n": len(arr), "seed": seed})
