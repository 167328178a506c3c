"""Per-modality default parameters of the classical filters (starting points, not tuned results)."""

from __future__ import annotations

import copy
from typing import Any

from biodae._errors import InputError

from ..types import IMAGE_MODALITIES, MODALITIES, SIGNAL_MODALITIES

__all__ = ["defaults", "MODALITIES", "SIGNAL_MODALITIES", "IMAGE_MODALITIES"]

METHODS = ("median", "butterworth", "wavelet")

_IMAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "median": {"size": 3},
    "butterworth": {"cutoff": 0.5, "order": 2},
    "wavelet": {"wavelet": "db4", "level": None, "mode": "soft", "method": "bayes"},
}

_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "ecg": {
        # de Chazal baseline (200 + 600 ms medians) then a 20 ms median against noise
        "median": {"baseline": True, "baseline_windows_s": (0.2, 0.6), "window_s": 0.02},
        "butterworth": {"low": 0.5, "high": 40.0, "order": 4},
        "wavelet": {
            "wavelet": "sym8", "level": None, "mode": "soft", "method": "bayes",
            "remove_baseline": True, "baseline_cutoff": 0.5,
        },
    },
    "eeg": {
        "median": {"baseline": False, "window_s": 0.02},
        "butterworth": {"low": 1.0, "high": 40.0, "order": 4},
        "wavelet": {"wavelet": "db4", "level": None, "mode": "soft", "method": "bayes", "remove_baseline": False},
    },
    "mri": _IMAGE_DEFAULTS,
    "xray": _IMAGE_DEFAULTS,
    "ct": _IMAGE_DEFAULTS,
}


def check_modality(modality: object) -> str:
    """Validate a modality name (case-insensitive) and return it in lower case."""
    name = modality.lower() if isinstance(modality, str) else modality
    if name not in MODALITIES:
        raise InputError(f"unknown modality {modality!r}", f"choose one of {', '.join(repr(m) for m in MODALITIES)}")
    return name  # type: ignore[return-value]


def check_method(method: object) -> str:
    """Validate a classical filter name."""
    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"unknown filter method {method!r}", f"choose one of {', '.join(repr(m) for m in METHODS)}")
    return method


def defaults(modality: str, method: str) -> dict[str, Any]:
    """Default parameters of a classical filter for a modality.

    These are the settings used in practice (see the package's ANCHORS notes):
    a starting point and the centre of :func:`tune`'s grids, not a tuned result.
    Physical facts (``sampling_rate``, ``spacing``) are never included: pass them
    yourself, e.g. ``butterworth(x, sampling_rate=fs, **defaults("ecg", "butterworth"))``.

    ======== ============================================ =====================================
    modality ``butterworth``                              ``median`` / ``wavelet``
    ======== ============================================ =====================================
    ecg      band-pass 0.5-40 Hz, order 4                 de Chazal 200+600 ms baseline, then
                                                          20 ms median / sym8, soft BayesShrink,
                                                          baseline removal below ~0.5 Hz
    eeg      band-pass 1-40 Hz, order 4                   20 ms median / db4, soft BayesShrink
    mri,     low-pass cutoff 0.5 x Nyquist, order 2       3x3 (3x3x3) median / db4, soft
    xray, ct                                              BayesShrink
    ======== ============================================ =====================================

    Parameters
    ----------
    modality : {"ecg", "eeg", "mri", "xray", "ct"}
        Case-insensitive.
    method : {"median", "butterworth", "wavelet"}

    Returns
    -------
    dict
        Keyword arguments for ``biodae.filters.<method>`` (a fresh copy).

    Raises
    ------
    biodae._errors.InputError
        (a ``ValueError``) for an unknown modality or method, listing the valid names.

    References
    ----------
    .. [1] P. de Chazal, M. O'Dwyer, R. B. Reilly, IEEE Trans. Biomed. Eng.
       51(7):1196-1206, 2004 (ECG median baseline).
    .. [2] S. G. Chang, B. Yu, M. Vetterli, IEEE Trans. Image Process.
       9(9):1532-1546, 2000 (BayesShrink).

    Examples
    --------
    >>> defaults("ecg", "butterworth")
    {'low': 0.5, 'high': 40.0, 'order': 4}
    """
    mod = check_modality(modality)
    meth = check_method(method)
    return copy.deepcopy(_DEFAULTS[mod][meth])
