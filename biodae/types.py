"""Types shared across biodae, in one place (as TorchIO's ``types.py``).

The modality vocabulary lives here because every layer speaks it: the readers set it, the
filters keep defaults per modality, the models say which they serve, the command line
offers it as a choice. What each modality means for processing (its default model and
filter defaults) is the table in :mod:`biodae._modality`.
"""

from __future__ import annotations

import os
from typing import Literal, Union

import numpy as np

__all__ = [
    "PathLike", "RNGLike", "Modality", "SIGNAL_MODALITIES", "IMAGE_MODALITIES", "MODALITIES",
]

#: A file path as biodae accepts it.
PathLike = Union[str, "os.PathLike[str]"]

#: What ``rng`` arguments accept: a Generator, an int seed, or None (fresh entropy).
RNGLike = Union[np.random.Generator, int, np.integer, None]

#: What a record or image holds. ``"signal"``: a record with no ECG/EEG channel;
#: ``"image"``: a raster (PNG, TIFF) or DICOM of another modality.
Modality = Literal["ecg", "eeg", "signal", "mri", "xray", "ct", "image"]

#: The modalities biodae cleans, signals and images.
SIGNAL_MODALITIES: tuple[str, ...] = ("ecg", "eeg")
IMAGE_MODALITIES: tuple[str, ...] = ("mri", "xray", "ct")
MODALITIES: tuple[str, ...] = SIGNAL_MODALITIES + IMAGE_MODALITIES
