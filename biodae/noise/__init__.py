"""Noise models and mixing: real ECG noise (NSTDB), EEG artefacts (EOG, EMG), synthetic
Gaussian and mains noise, Rician and Poisson–Gaussian image noise, and noise estimation.

Every random function takes ``rng`` (a ``numpy.random.Generator`` or an int seed) and
never touches global random state: the same seed gives bitwise-identical output.

Real data are read from a data folder given as ``data_dir=`` or by the environment
variable ``BIODAE_DATA`` (layout: ``ecg/nstdb/``, ``eeg/eeglab/``). Training and
evaluation noise never overlap: see :func:`nstdb_split_bounds` and
:func:`artifact_split_bounds`.
"""

from __future__ import annotations

from ._artifacts import (
    ARTIFACT_SPLITS,
    EOG_CHANNELS,
    artifact_split_bounds,
    emg_from_nstdb_ma,
    emg_segment,
    eog_from_eeglab,
    eog_segment,
)
from ._estimate import (
    ECG_MIN_RATE,
    RICIAN_SIGMA_METHODS,
    NoiseEstimate,
    estimate_noise,
    estimate_sigma,
    estimate_sigma_image,
    estimate_sigma_rician,
    estimate_snr_db,
    looks_like_ecg,
)
from ._image import (
    generalized_anscombe,
    inverse_generalized_anscombe,
    poisson_gaussian,
    rician,
    rician_sigma_from_percent,
)
from ._mix import (
    SNR_DEFINITIONS,
    Mixture,
    mix_at_snr,
    nominal_to_true_db,
    true_to_nominal_db,
)
from ._mri import (
    MRI_COMBINES,
    MRI_KSPACE_FILTERS,
    MRI_SENSITIVITY_NORMALIZATIONS,
    MRINoise,
    MRISigmaEstimate,
    coil_sensitivities,
    estimate_sigma_mri,
    level_in_object,
    mri_coil_noise,
    remove_noise_floor,
)
from ._nstdb import (
    NSTDB_KINDS,
    NSTDB_SAMPLING_RATE,
    NSTDB_SPLITS,
    download_nstdb,
    load_nstdb,
    nstdb_segment,
    nstdb_split,
    nstdb_split_bounds,
)
from ._synthetic import gaussian, mains

__all__ = [
    # mixing
    "mix_at_snr",
    "Mixture",
    "SNR_DEFINITIONS",
    "nominal_to_true_db",
    "true_to_nominal_db",
    # NSTDB (real ECG noise)
    "NSTDB_KINDS",
    "NSTDB_SPLITS",
    "NSTDB_SAMPLING_RATE",
    "load_nstdb",
    "download_nstdb",
    "nstdb_split_bounds",
    "nstdb_split",
    "nstdb_segment",
    # EEG artefacts
    "ARTIFACT_SPLITS",
    "EOG_CHANNELS",
    "artifact_split_bounds",
    "eog_from_eeglab",
    "eog_segment",
    "emg_from_nstdb_ma",
    "emg_segment",
    # synthetic
    "gaussian",
    "mains",
    # images
    "rician",
    "rician_sigma_from_percent",
    "poisson_gaussian",
    "generalized_anscombe",
    "inverse_generalized_anscombe",
    # multi-coil MRI
    "mri_coil_noise",
    "MRINoise",
    "coil_sensitivities",
    "MRI_COMBINES",
    "MRI_KSPACE_FILTERS",
    "MRI_SENSITIVITY_NORMALIZATIONS",
    # estimation
    "estimate_noise",
    "NoiseEstimate",
    "estimate_sigma",
    "estimate_sigma_image",
    "estimate_sigma_rician",
    "estimate_snr_db",
    "looks_like_ecg",
    "ECG_MIN_RATE",
    "RICIAN_SIGMA_METHODS",
    "estimate_sigma_mri",
    "level_in_object",
    "remove_noise_floor",
    "MRISigmaEstimate",
]
