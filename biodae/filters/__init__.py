"""Classical denoising baselines: median, Butterworth and wavelet filters.

Every filter is a function of one array. Passing ``sampling_rate`` (Hz) makes it a
**signal** of shape ``(n_samples,)`` or ``(n_samples, n_channels)``, time on axis 0,
each channel filtered on its own, returned as float64. Without ``sampling_rate``
it is an **image** ``(rows, cols)`` or a **volume** (3D), returned as float32
(float64 input stays float64). Inputs are never modified.

========================  =====================================================
:func:`median`            de Chazal ECG baseline removal, short medians, image medians
:func:`butterworth`       zero-phase band/high/low-pass + mains notch; image low-pass
:func:`wavelet`           BayesShrink / VisuShrink, with wavelet baseline removal
:func:`deepfilter_fir`    faithful copy of the DeepFilter benchmark's FIR filter
:func:`deepfilter_iir`    faithful copy of the DeepFilter benchmark's IIR filter
:func:`apply`             run a filter by name, checking every parameter name
:func:`defaults`          per-modality default parameters
:func:`tune`              grid search on validation pairs -> :class:`TuneResult`
:func:`default_grid`      the grids :func:`tune` searches by default
========================  =====================================================

Examples
--------
>>> import numpy as np
>>> from biodae import filters
>>> x = np.random.default_rng(0).standard_normal((3600, 2))
>>> y = filters.apply("butterworth", x, sampling_rate=360.0, **filters.defaults("ecg", "butterworth"))
>>> y.shape
(3600, 2)
"""

from __future__ import annotations

from biodae.filters._butterworth import butterworth
from biodae.filters._deepfilter import deepfilter_fir, deepfilter_iir
from biodae.filters._defaults import METHODS, MODALITIES, defaults
from biodae.filters._dispatch import apply
from biodae.filters._median import median
from biodae.filters._tune import TuneResult, default_grid, tune
from biodae.filters._wavelet import wavelet

__all__ = [
    "METHODS",
    "MODALITIES",
    "TuneResult",
    "apply",
    "butterworth",
    "default_grid",
    "deepfilter_fir",
    "deepfilter_iir",
    "defaults",
    "median",
    "tune",
    "wavelet",
]
