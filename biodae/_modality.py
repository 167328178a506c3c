"""Which kind of data a file holds: ECG or EEG channels, MRI, X-ray or CT images."""

from __future__ import annotations

import re

from .io._containers import Image, Signal

__all__ = ["channel_modality", "signal_modalities", "modality_of"]

_ECG_NAMES = {
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
    "mlii", "mli", "mliii", "ml2", "vx", "vy", "vz", "ecg", "ekg", "d1", "d2", "d3",
    "cm5", "cc5", "ms1", "ml5", "mv2", "v", "ecg1", "ecg2", "lead i", "lead ii", "lead iii",
}
# 10-20 / 10-10 electrode labels (eegmmidb pads them with dots: 'Fc5.', 'Iz..')
_EEG_RE = re.compile(
    r"^(eeg[ _-]?)?(fp|af|f|ft|fc|c|t|tp|cp|p|po|o|i|a|m)(z|[0-9]{1,2})$|^(fpz|oz|cz|pz|fz|nz|iz)$"
)


def channel_modality(name: str, unit: str = "") -> str:
    """Classify one channel as ``"ecg"``, ``"eeg"`` or ``"other"`` from its name and unit.

    Parameters
    ----------
    name : str
        Channel label (WFDB ``sig_name``, EDF label).
    unit : str
        Physical unit (``"mV"``, ``"uV"``...).
    """
    n = name.strip().strip(".").lower().replace("-ref", "").replace("_", " ")
    if n.startswith("eeg "):
        return "eeg"
    if n.startswith(("ecg", "ekg")) or n in _ECG_NAMES:
        return "ecg"
    compact = n.replace(" ", "")
    if compact in _ECG_NAMES:
        return "ecg"
    if _EEG_RE.match(compact) or (compact.startswith("eeg") and _EEG_RE.match(compact[3:] or "x")):
        return "eeg"
    u = unit.strip().lower()
    if u in ("uv", "µv", "μv", "microvolt", "microvolts") and not compact.startswith(("eog", "emg", "pleth", "resp")):
        return "eeg"
    return "other"


def signal_modalities(signal: Signal) -> list[str]:
    """Per-channel modality of a :class:`~biodae.io.Signal`."""
    return [channel_modality(n, u) for n, u in zip(signal.channel_names, signal.units)]


def modality_of(obj: Signal | Image) -> str:
    """Overall modality: ``"ecg"``/``"eeg"`` (majority of classified channels),
    ``"signal"`` when no channel is recognised, or the image's ``modality``."""
    if isinstance(obj, Image):
        return obj.modality
    mods = [m for m in signal_modalities(obj) if m != "other"]
    if not mods:
        return "signal"
    return max(("ecg", "eeg"), key=mods.count)
