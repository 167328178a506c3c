"""Which kind of data a file holds (ECG or EEG channels, MRI, X-ray or CT images), and what that
means for cleaning it: the one table of modalities (:data:`MODALITIES`: default model, filter
defaults) and the one choice of the channels a command cleans (:func:`choose_channels`)."""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

import numpy as np

from .io import Image, Signal

__all__ = ["channel_modality", "channel_kind", "signal_modalities", "modality_of", "ChannelChoice",
           "choose_channels", "ModalityInfo", "MODALITIES", "default_model"]

log = logging.getLogger("biodae")


class ModalityInfo(NamedTuple):
    """What a modality means for cleaning.

    Attributes
    ----------
    kind : {"signal", "image"}
    model : str
        The shipped model that ``biodae denoise`` uses for it.
    filter_defaults : str
        The modality whose :func:`biodae.filters.defaults` ``biodae filter`` starts from.
    """

    kind: str
    model: str
    filter_defaults: str


#: The modalities biodae knows (the vocabulary of :data:`biodae.types.Modality`) and how each is cleaned.
#: ``"image"``: a PNG, TIFF or DICOM of another modality, cleaned as a radiograph.
MODALITIES: dict[str, ModalityInfo] = {
    "ecg": ModalityInfo("signal", "ecg", "ecg"),
    "eeg": ModalityInfo("signal", "eeg", "eeg"),
    "mri": ModalityInfo("image", "mri", "mri"),
    "xray": ModalityInfo("image", "xray", "xray"),
    "ct": ModalityInfo("image", "xray", "ct"),
    "image": ModalityInfo("image", "xray", "xray"),
}


def default_model(obj: Image | str) -> str:
    """The shipped model for an image (or a modality name): NIfTI and MR -> ``"mri"``; CT, radiographs
    (CR, DX...), PNG and TIFF -> ``"xray"``. Signals pick a model per channel (:func:`choose_channels`)."""
    if isinstance(obj, str):
        return MODALITIES[obj].model
    if obj.format == "nifti":
        return "mri"
    return MODALITIES.get(obj.modality, MODALITIES["image"]).model

_ECG_NAMES = {
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
    "mlii", "mli", "mliii", "ml2", "vx", "vy", "vz", "ecg", "ekg", "d1", "d2", "d3",
    "cm5", "cc5", "ms1", "ml5", "mv2", "v", "ecg1", "ecg2", "lead i", "lead ii", "lead iii",
}
# Holter and bipolar leads: CM2, CC5, ML5, D4 (Holter), V1-V2 (bipolar precordial), mod.V1 (modified V1)
_ECG_RE = re.compile(r"^(mod\.?)?v[1-6](-v[1-6])?$|^(cm|cc|ml|ms|mv)[1-6]$|^d[1-4]$")
# 10-20 / 10-10 electrode labels (eegmmidb pads them with dots: 'Fc5.', 'Iz..')
_EEG_RE = re.compile(
    r"^(eeg[ _-]?)?(fp|af|f|ft|fc|c|t|tp|cp|p|po|o|i|a|m)(z|[0-9]{1,2})$|^(fpz|oz|cz|pz|fz|nz|iz)$"
)
#: Names of channels that are never ECG or EEG, whatever their unit and content.
_NOT_EXG = ("eog", "emg", "pleth", "ppg", "resp", "spo2", "abp", "bp", "art", "cvp", "pap", "temp")
_MICROVOLTS = ("uv", "µv", "μv", "microvolt", "microvolts")
_VOLTS = ("mv", "v", "millivolt", "millivolts", "volt", "volts", *_MICROVOLTS)


def _clean_name(name: str) -> str:
    return name.strip().strip(".").lower().replace("-ref", "").replace("_", " ")


def channel_kind(
    name: str, unit: str = "", *, data: np.ndarray | None = None, sampling_rate: float | None = None
) -> tuple[str, str]:
    """``(modality, why)``: a channel's modality (``"ecg"``, ``"eeg"`` or ``"other"``) and why.

    The name decides first: ECG lead names (limb and chest leads, Holter and bipolar leads
    such as ``CM4``, ``D4``, ``V1-V2``, ``mod.V1``), 10-20 EEG electrode labels; EOG, EMG,
    respiration, pleth and pressure channels are never ECG/EEG. A channel with another
    name is ECG when it is in volts (mV, µV, V), sampled at 100 Hz or more, and its content
    shows regular QRS-like beats (:func:`biodae.noise._estimate.looks_like_ecg`); else EEG
    when in µV, else ``"other"``. ``why`` says, for an ``"other"`` channel, what ruled it out
    (for the "copied unchanged" messages), and for the others how it was recognised.

    Parameters
    ----------
    name : str
        Channel label (WFDB ``sig_name``, EDF label).
    unit : str
        Physical unit (``"mV"``, ``"uV"``...).
    data : ndarray of float, shape (n_samples,), optional
        The channel's samples: without them only the name and unit decide.
    sampling_rate : float, optional
        Its rate in Hz (needed with ``data``).
    """
    n = _clean_name(name)
    compact = n.replace(" ", "")
    if n.startswith("eeg "):
        return "eeg", "name"
    if n.startswith(("ecg", "ekg")) or n in _ECG_NAMES or compact in _ECG_NAMES or _ECG_RE.match(compact):
        return "ecg", "name"
    if _EEG_RE.match(compact) or (compact.startswith("eeg") and _EEG_RE.match(compact[3:] or "x")):
        return "eeg", "name"
    u = unit.strip().lower()
    if u not in _VOLTS:
        return "other", f"unit {unit.strip()!r}" if u else "no unit"
    if compact.startswith(_NOT_EXG):
        return "other", f"name {name.strip()!r}"
    unknown = f"name {name.strip()!r} unknown"
    if data is not None and sampling_rate is not None:
        from .noise import ECG_MIN_RATE, looks_like_ecg

        if sampling_rate < ECG_MIN_RATE:
            unknown += f", sampled at {sampling_rate:g} Hz"
        elif looks_like_ecg(data, sampling_rate=sampling_rate):
            return "ecg", "content: regular QRS-like beats"
        else:
            unknown += " and no regular QRS-like beats"
    if u in _MICROVOLTS:
        return "eeg", "unit"
    return "other", unknown


def channel_modality(
    name: str, unit: str = "", *, data: np.ndarray | None = None, sampling_rate: float | None = None
) -> str:
    """Classify one channel as ``"ecg"``, ``"eeg"`` or ``"other"`` from its name, unit and
    (when given) content; see :func:`channel_kind`.

    Parameters
    ----------
    name : str
        Channel label (WFDB ``sig_name``, EDF label).
    unit : str
        Physical unit (``"mV"``, ``"uV"``...).
    data : ndarray of float, shape (n_samples,), optional
        The channel's samples, to recognise an ECG lead by its beats.
    sampling_rate : float, optional
        Its rate in Hz.
    """
    return channel_kind(name, unit, data=data, sampling_rate=sampling_rate)[0]


def _kinds(signal: Signal) -> list[tuple[str, str]]:
    return [channel_kind(n, u, data=signal.data[:, c], sampling_rate=signal.sampling_rate)
            for c, (n, u) in enumerate(zip(signal.channel_names, signal.units))]


def signal_modalities(signal: Signal) -> list[str]:
    """Per-channel modality of a :class:`~biodae.io.Signal` (names, units and content)."""
    return [k for k, _ in _kinds(signal)]


def _overall(mods: list[str]) -> str:
    known = [m for m in mods if m != "other"]
    if not known:
        return "signal"
    return max(("ecg", "eeg"), key=known.count)


def modality_of(obj: Signal | Image) -> str:
    """Overall modality: ``"ecg"``/``"eeg"`` (majority of classified channels),
    ``"signal"`` when no channel is recognised, or the image's ``modality``."""
    if isinstance(obj, Image):
        return obj.modality
    return _overall(signal_modalities(obj))


class ChannelChoice(NamedTuple):
    """Which channels of a record a command cleans (:func:`choose_channels`).

    Attributes
    ----------
    clean : list of (int, str)
        ``(index, modality)`` of each channel to clean; the modality is what the channel
        looks like (``"other"`` for a channel cleaned only because everything was asked for).
    copied : list of str
        The channels left as they are, each as ``"NAME (not ECG/EEG: why)"``.
    modality : str
        The record's overall modality (``"ecg"``, ``"eeg"`` or ``"signal"``).
    """

    clean: list[tuple[int, str]]
    copied: list[str]
    modality: str


def choose_channels(signal: Signal, *, every: bool = False) -> ChannelChoice:
    """The channels ``biodae filter`` and ``biodae denoise`` clean, and those they copy, and why.

    ECG and EEG channels (:func:`channel_kind`) are cleaned; the others are copied unchanged,
    each with a logged warning saying why (``copied unchanged: BP (not ECG/EEG: unit
    'mmHg')``). With ``every`` (a model or modality named by the user) every channel is
    cleaned and nothing is copied.
    """
    kinds = _kinds(signal)
    mods = [k for k, _ in kinds]
    if every:
        return ChannelChoice([(c, m) for c, m in enumerate(mods)], [], _overall(mods))
    clean = [(c, m) for c, m in enumerate(mods) if m in ("ecg", "eeg")]
    copied = [f"{signal.channel_names[c]} (not ECG/EEG: {why})" for c, (m, why) in enumerate(kinds)
              if m not in ("ecg", "eeg")]
    if clean and copied:
        name = signal.source.name if signal.source is not None else "record"
        log.warning("%s: copied unchanged: %s", name, ", ".join(copied))
    return ChannelChoice(clean, copied, _overall(mods))
