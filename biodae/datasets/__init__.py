"""Benchmark datasets built from the real recordings in ``BIODAE_DATA``.

:func:`deepfilter_protocol` reproduces the data protocol of the DeepFilter ECG
baseline-wander benchmark (QT Database beats + NSTDB ``bw`` noise) in numpy;
:func:`validation_split` gives its training/validation split.
"""

from __future__ import annotations

from ._eeg import (
    EEG_ARTIFACT_KINDS,
    EEG_EPOCH,
    EEG_SAMPLING_RATE,
    EEG_SPLITS,
    EEGEpochs,
    EEGNoiseMixer,
    load_eeg_epochs,
    preprocess_eeg,
    reject_epochs,
)
from ._calibration import CalibrationSet, calibration_inputs
from ._paths import cache_root, data_root
from ._ecg import (
    mitdb_ds1_dir,
    ECG_SAMPLING_RATE,
    ECG_SPLITS,
    NOISE_KINDS,
    ECGNoiseMixer,
    ECGRecord,
    load_ecg_records,
    patient_of,
    split_of,
)
from ._images import (
    IMAGE_SOURCES,
    IMAGE_SPLITS,
    ImagePatchMixer,
    ImageSlice,
    ScannerNoise,
    dead_leaves,
    load_image_slices,
)
from ._deepfilter import (
    DEEPFILTER_TEST_RECORDS,
    DeepFilterData,
    deepfilter_protocol,
    qt_beats,
    validation_split,
)

__all__ = [
    "CalibrationSet",
    "calibration_inputs",
    "data_root",
    "cache_root",
    "mitdb_ds1_dir",
    "IMAGE_SOURCES",
    "IMAGE_SPLITS",
    "ImagePatchMixer",
    "ImageSlice",
    "ScannerNoise",
    "dead_leaves",
    "load_image_slices",
    "EEG_ARTIFACT_KINDS",
    "EEG_EPOCH",
    "EEG_SAMPLING_RATE",
    "EEG_SPLITS",
    "EEGEpochs",
    "EEGNoiseMixer",
    "load_eeg_epochs",
    "preprocess_eeg",
    "reject_epochs",
    "ECG_SAMPLING_RATE",
    "ECG_SPLITS",
    "NOISE_KINDS",
    "ECGNoiseMixer",
    "ECGRecord",
    "load_ecg_records",
    "patient_of",
    "split_of",
    "DEEPFILTER_TEST_RECORDS",
    "DeepFilterData",
    "deepfilter_protocol",
    "qt_beats",
    "validation_split",
]
