"""Clean EEG epochs and artefact mixtures for the EEGdenoiseNet protocol.

EEGdenoiseNet (Zhang et al. 2021) denoises single-channel 2-s epochs at 256 Hz,
``y = x + λ·n`` with λ set for a target SNR. Its files could not be obtained, so the
protocol is rebuilt from the real recordings in ``BIODAE_DATA`` (say so next to any
result; numbers are not comparable with the paper's):

- **Clean EEG**: PhysioNet EEG Motor Movement/Imagery, subject S001, runs R01-R10
  (64 channels, 160 Hz). **One subject**: train, validation and test differ by run,
  not by person.
- **Second subject** (``"test_other_subject"``): the EEGLAB tutorial recording
  (32 channels with EOG1/EOG2, 128 Hz, 238 s), held out whole. EEGLAB's ``test.edf`` and
  ``test.bdf`` are *synthetic* test signals (stepped or pure sinusoids, no EEG), so they
  are not used. With two people in all, a cross-subject figure is an anecdote, not an
  estimate.
- **Artefacts**: real EOG (EEGLAB ``EOG1``/``EOG2``, 0.3-10 Hz) and real EMG (NSTDB ``ma``
  high-passed at 20 Hz) from :mod:`biodae.noise`, whose splits keep the last 20% of
  each source out of training and validation.

Preprocessing of every recording, in this order:

1. keep scalp channels away from the eyes and the temporal muscles: the FC, C, CP, P,
   PO, O rows and Iz (and the old names T5/T6 = P7/P8). Dropped: Fp*, AF*, the F row
   (F1-F10, Fz; blinks reach it at 35-45% of their Fp amplitude in S001), FT*, T3/T4,
   T7-T10, TP*, EOG and non-EEG channels;
2. zero-phase Butterworth band-pass 1-45 Hz (order 4 per edge), at the native rate.
   EEGdenoiseNet band-passed its clean EEG too; 45 Hz stays below the 60 Hz mains of
   both recordings (no notch needed) and below every source's Nyquist frequency
   (64 Hz for EEGLAB, 80 Hz for S001), so all sources share one band;
3. common average reference over the kept channels. Raw S001 channels share a common
   mode of about 30 µV RMS (of about 37 µV per channel after the band-pass), mostly
   below 4 Hz: the reference electrode, not cortex. Averaging over the kept channels
   only keeps frontal blinks out of the reference;
4. polyphase resampling to 256 Hz (``resample_poly``: 8/5 for 160 Hz, 2/1 for 128 Hz);
5. non-overlapping 2-s epochs (512 samples) per channel, from the recording's start;
6. epoch rejection (:func:`reject_epochs`): an epoch is dropped if
   - its peak-to-peak amplitude exceeds 150 µV (gross artefacts; see below), or it is
     flat (below 1 µV),
   - its log variance or its log 20-45 Hz power is more than 3 robust z above the
     channel's median in that recording (robust z = (v − median) / (1.4826·MAD)),
   - the eyes moved: the frontal-polar channels (mean of Fp1/Fpz/Fp2 present, minus the
     kept channels' mean), band-passed 1-8 Hz, swing more than 200 µV peak-to-peak in
     the epoch. Such an epoch is dropped in *every* channel, since the blink spreads.

The usual 100 µV peak-to-peak limit removes 43% of S001's common-average epochs
(and nearly all of its occipital ones, whose alpha alone exceeds it): this subject's
EEG is large (about 17 µV RMS per channel). 150 µV keeps normal alpha and still
catches blinks and movement, together with the per-channel outlier tests.

Splits, by run or by recording, never by epoch:

======================  ======================================
``train``               S001 R01-R07
``val``                 S001 R08
``test``                S001 R09, R10
``test_other_subject``  EEGLAB tutorial recording, all of it
======================  ======================================

The mixer draws the artefact split the caller names (``"train"`` for training,
``"val"`` for tuning, ``"test"`` for both test sets).

References
----------
.. [1] H. Zhang et al., "EEGdenoiseNet: a benchmark dataset for deep learning solutions
   of EEG denoising", J. Neural Eng. 18:056057, 2021.
.. [2] G. Schalk et al., "BCI2000: a general-purpose brain-computer interface (BCI)
   system", IEEE Trans. Biomed. Eng. 51(6):1034-1043, 2004 (EEG Motor Movement/Imagery,
   PhysioNet, ODC-By 1.0).
.. [3] A. Delorme, S. Makeig, "EEGLAB: an open source toolbox for analysis of
   single-trial EEG dynamics", J. Neurosci. Methods 134(1):9-21, 2004 (tutorial data).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._arrays import resample
from .._errors import InputError
from ._paths import cache_root, data_root

__all__ = [
    "EEG_SAMPLING_RATE",
    "EEG_EPOCH",
    "EEG_SPLITS",
    "EEG_ARTIFACT_KINDS",
    "EEGEpochs",
    "eeg_recordings",
    "eeg_artifact_split",
    "eeg_channel_kept",
    "preprocess_eeg",
    "reject_epochs",
    "load_eeg_epochs",
    "EEGNoiseMixer",
]

#: Model rate (Hz) and epoch length (samples) of the EEGdenoiseNet protocol.
EEG_SAMPLING_RATE = 256
EEG_EPOCH = 512
#: Valid ``split`` names of :func:`load_eeg_epochs`.
EEG_SPLITS = ("train", "val", "test", "test_other_subject")
#: Artefact kinds :class:`EEGNoiseMixer` draws from.
EEG_ARTIFACT_KINDS = ("eog", "emg")

_BAND = (1.0, 45.0)
_BAND_ORDER = 4
_PTP_MAX_UV = 150.0
_FLAT_UV = 1.0
_Z_MAX = 3.0
_HF_BAND = (20.0, 45.0)
_OCULAR_BAND = (1.0, 8.0)
_OCULAR_PTP_UV = 200.0
_PREPROCESS_VERSION = 1

_S001_RUNS = {"train": range(1, 8), "val": (8,), "test": (9, 10)}
_EEGLAB = "eeglab/eeglab_data.set"

_KEPT = re.compile(r"^(FC[1-8Z]|C[1-8Z]|CP[1-8Z]|P[1-8Z]|PO[1-8Z]|O[1-2Z]|IZ|T5|T6)$")
_FRONTAL_POLAR = ("FP1", "FPZ", "FP2")


def _norm(name: str) -> str:
    """'Fc5.' -> 'FC5', 'EEG Fp1' -> 'FP1', 'FPz' -> 'FPZ'."""
    n = name.strip().upper()
    n = re.sub(r"^EEG[\s_-]+", "", n)
    return n.rstrip(".").strip()


def eeg_channel_kept(name: str) -> bool:
    """Whether a channel is kept as clean-EEG material (see the module notes).

    >>> [eeg_channel_kept(c) for c in ("Cz..", "Fp1.", "F7", "T7..", "EEG O1", "EOG1")]
    [True, False, False, False, True, False]
    """
    return bool(_KEPT.match(_norm(name)))


def eeg_recordings(split: str) -> tuple[str, ...]:
    """The recordings (paths relative to ``BIODAE_DATA/eeg``) a split is built from.

    >>> eeg_recordings("val")
    ('eegmmidb-S001/S001R08.edf',)
    """
    _check_split(split)
    if split == "test_other_subject":
        return (_EEGLAB,)
    return tuple(f"eegmmidb-S001/S001R{r:02d}.edf" for r in _S001_RUNS[split])


def eeg_artifact_split(split: str) -> str:
    """The artefact split (:data:`biodae.noise.ARTIFACT_SPLITS`) that goes with an EEG split.

    >>> eeg_artifact_split("test_other_subject")
    'test'
    """
    _check_split(split)
    return "test" if split.startswith("test") else split


def _check_split(split: str) -> None:
    if split not in EEG_SPLITS:
        raise InputError(f"unknown EEG split {split!r}", f"choose one of {', '.join(EEG_SPLITS)}")


# ----------------------------------------------------------------------------- preprocessing
@dataclass
class EEGEpochs:
    """Clean epochs of one or more recordings, with where each came from.

    Attributes
    ----------
    epochs : ndarray of float32, shape (n, 512)
        EEG in µV at 256 Hz.
    recording : ndarray of str, shape (n,)
        Recording name (path under ``eeg/``).
    channel : ndarray of str, shape (n,)
        Normalised channel name (``"CZ"``, ``"PO7"``...).
    start : ndarray of int64, shape (n,)
        First sample of the epoch at 256 Hz, from the recording's start.
    counts : dict of str to int
        ``candidates`` (epochs before rejection), one entry per rejection reason
        (``ptp``, ``flat``, ``variance``, ``high_frequency``, ``ocular``; an epoch can
        fail several) and ``kept``.
    channels_kept, channels_dropped : list of str
        Channel selection (summed over recordings when concatenated).
    """

    epochs: np.ndarray
    recording: np.ndarray
    channel: np.ndarray
    start: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    channels_kept: list[str] = field(default_factory=list)
    channels_dropped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.epochs.shape[0])


_REASONS = ("ptp", "flat", "variance", "high_frequency", "ocular")


def _robust_z(v: np.ndarray, axis: int = 0) -> np.ndarray:
    med = np.median(v, axis=axis, keepdims=True)
    mad = 1.4826 * np.median(np.abs(v - med), axis=axis, keepdims=True)
    return (v - med) / np.maximum(mad, 1e-12)


def reject_epochs(
    epochs: np.ndarray,
    *,
    sampling_rate: float,
    ptp_max: float = _PTP_MAX_UV,
    z_max: float = _Z_MAX,
) -> dict[str, np.ndarray]:
    """Per-epoch rejection tests within one channel of one recording.

    Parameters
    ----------
    epochs : ndarray, shape (n_epochs, n_samples) or (n_epochs, n_samples, n_channels)
        Band-passed EEG epochs in µV.
    sampling_rate : float
        Hz.
    ptp_max : float, optional
        Peak-to-peak limit in µV (default 150).
    z_max : float, optional
        Robust-z limit of the variance and 20-45 Hz power outlier tests (default 3),
        taken over the epochs of each channel.

    Returns
    -------
    dict of str to ndarray of bool, shape (n_epochs,) or (n_epochs, n_channels)
        ``True`` where an epoch fails: ``ptp``, ``flat``, ``variance``, ``high_frequency``.
    """
    from scipy.signal import periodogram

    x = np.asarray(epochs, dtype=np.float64)
    ptp = np.ptp(x, axis=1)
    var = np.var(x, axis=1)
    f, p = periodogram(x, fs=sampling_rate, window="hann", axis=1)
    band = (f >= _HF_BAND[0]) & (f <= _HF_BAND[1])
    hf = np.sum(p[:, band], axis=1)
    tiny = 1e-12
    return {
        "ptp": ptp > ptp_max,
        "flat": ptp < _FLAT_UV,
        "variance": _robust_z(np.log(var + tiny)) > z_max,
        "high_frequency": _robust_z(np.log(hf + tiny)) > z_max,
    }


def preprocess_eeg(
    data: np.ndarray,
    *,
    sampling_rate: float,
    channel_names: Sequence[str],
    recording: str = "",
) -> EEGEpochs:
    """Channel selection, band-pass, re-reference, resample, epoching and rejection.

    The steps and thresholds are those of the module notes.

    Parameters
    ----------
    data : ndarray, shape (n_samples, n_channels)
        One continuous recording in µV.
    sampling_rate : float
        Its rate in Hz (resampled to 256 Hz by a ratio of small integers).
    channel_names : sequence of str
        One label per column (10-10 or 10-20 names; EDF dots and an ``EEG`` prefix are
        ignored).
    recording : str, optional
        Name stored with each epoch.

    Returns
    -------
    EEGEpochs
    """
    from fractions import Fraction

    from scipy import signal as _signal

    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(channel_names):
        raise InputError(f"data of shape {x.shape} does not match {len(channel_names)} channel names")
    fs = float(sampling_rate)
    names = [_norm(c) for c in channel_names]
    kept = [i for i, c in enumerate(names) if _KEPT.match(c)]
    dropped = [c for i, c in enumerate(names) if i not in kept]
    what = recording or "the recording"
    if len(kept) < 2:
        raise InputError(f"{what}: {len(kept)} channel(s) away from the eyes and temporal muscles, "
                         "at least 2 are needed for the common average reference", f"channels are {', '.join(names)}")
    if not fs > 2 * _BAND[1]:
        raise InputError(f"{what}: sampling rate {fs:g} Hz is too low for the {_BAND[0]:g}-{_BAND[1]:g} Hz band",
                         f"EEG sampled above {2 * _BAND[1]:g} Hz is needed")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{what} holds NaN or infinite samples")
    sos = _signal.butter(_BAND_ORDER, _BAND, btype="bandpass", fs=fs, output="sos")
    x = _signal.sosfiltfilt(sos, x - x.mean(axis=0), axis=0)
    car = x[:, kept].mean(axis=1, keepdims=True)
    eeg = x[:, kept] - car
    fp = [i for i, c in enumerate(names) if c in _FRONTAL_POLAR]
    ocular = None
    if fp:
        sos_o = _signal.butter(_BAND_ORDER, _OCULAR_BAND, btype="bandpass", fs=fs, output="sos")
        ocular = _signal.sosfiltfilt(sos_o, x[:, fp].mean(axis=1) - car[:, 0])

    frac = Fraction(EEG_SAMPLING_RATE / fs).limit_denominator(1000)
    if abs(float(frac) * fs - EEG_SAMPLING_RATE) > 1e-6 * EEG_SAMPLING_RATE:
        raise InputError(f"cannot resample {fs:g} Hz to {EEG_SAMPLING_RATE} Hz by a ratio of small integers")
    if frac != 1:
        eeg = resample(eeg, fs, EEG_SAMPLING_RATE, center=False)
        if ocular is not None:
            ocular = resample(ocular, fs, EEG_SAMPLING_RATE, center=False)

    n_ep = eeg.shape[0] // EEG_EPOCH
    if n_ep == 0:
        raise InputError(f"{what} is shorter than one 2-s epoch")
    ep = eeg[: n_ep * EEG_EPOCH].reshape(n_ep, EEG_EPOCH, len(kept))  # (epoch, time, channel)
    fails = reject_epochs(ep, sampling_rate=EEG_SAMPLING_RATE)
    if ocular is not None:
        o = ocular[: n_ep * EEG_EPOCH].reshape(n_ep, EEG_EPOCH)
        fails["ocular"] = np.repeat((np.ptp(o, axis=1) > _OCULAR_PTP_UV)[:, None], len(kept), axis=1)
    else:
        fails["ocular"] = np.zeros((n_ep, len(kept)), dtype=bool)
    bad = np.zeros((n_ep, len(kept)), dtype=bool)
    for v in fails.values():
        bad |= v
    e_idx, c_idx = np.nonzero(~bad)  # epoch-major order: time, then channel
    counts = {"candidates": int(bad.size), **{k: int(fails[k].sum()) for k in _REASONS}, "kept": int(e_idx.size)}
    kept_names = np.array([names[i] for i in kept])  # "<U" array, for fancy indexing
    return EEGEpochs(
        epochs=np.ascontiguousarray(ep[e_idx, :, c_idx], dtype=np.float32),
        recording=np.full(e_idx.size, recording),
        channel=kept_names[c_idx],
        start=(e_idx * EEG_EPOCH).astype(np.int64),
        counts=counts,
        channels_kept=[str(c) for c in kept_names],
        channels_dropped=dropped,
    )


def _concat(parts: list[EEGEpochs]) -> EEGEpochs:
    counts = {k: sum(p.counts.get(k, 0) for p in parts) for k in ("candidates", *_REASONS, "kept")}
    return EEGEpochs(
        epochs=np.concatenate([p.epochs for p in parts]) if parts else np.zeros((0, EEG_EPOCH), np.float32),
        recording=np.concatenate([p.recording for p in parts]) if parts else np.zeros(0, "<U1"),
        channel=np.concatenate([p.channel for p in parts]) if parts else np.zeros(0, "<U1"),
        start=np.concatenate([p.start for p in parts]) if parts else np.zeros(0, np.int64),
        counts=counts,
        channels_kept=sorted({str(c) for p in parts for c in p.channels_kept}),
        channels_dropped=sorted({str(c) for p in parts for c in p.channels_dropped}),
    )


# ----------------------------------------------------------------------------- reading
def _read_recording(root: Path, rel: str) -> EEGEpochs:
    path = root / rel
    if not path.is_file():
        raise InputError(f"EEG recording not found: {str(path)!r}",
                         "point data_dir/BIODAE_DATA at the data folder holding eeg/")
    if path.suffix == ".set":
        from ..io import read_eeglab

        data, fs, labels = read_eeglab(path)
    else:
        from ..io import read

        sig = read(path)
        data, fs, labels = sig.data, float(sig.sampling_rate), list(sig.channel_names)
        units = {u.replace("µ", "u").lower() for u in sig.units}
        if units != {"uv"}:
            raise InputError(f"{str(path)!r}: expected all channels in µV, got units {sorted(units)}")
    return preprocess_eeg(data, sampling_rate=fs, channel_names=labels, recording=rel)


def load_eeg_epochs(
    split: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, EEGEpochs]:
    """Clean 2-s EEG epochs of one split at 256 Hz, in µV.

    Parameters
    ----------
    split : {"train", "val", "test", "test_other_subject"}
        See the module notes (splits by run / recording).
    data_dir : path-like, optional
        The data folder (default ``$BIODAE_DATA``), holding ``eeg/``.
    cache_dir : path-like, optional
        Where the preprocessed epochs are kept (default ``$BIODAE_CACHE`` or
        ``~/.cache/biodae``); written atomically, keyed by the files and the settings.
    return_info : bool, optional
        Also return the :class:`EEGEpochs` record (origin of every epoch, rejection counts).

    Returns
    -------
    ndarray of float32, shape (n, 512)
        One channel-epoch per row; with ``return_info``, ``(epochs, info)``.
    """
    _check_split(split)
    root = data_root(data_dir, "eeg", "eeg/eegmmidb-S001 and eeg/eeglab")
    cache = cache_root(cache_dir)
    rels = eeg_recordings(split)
    stamps = []
    for rel in rels:
        p = root / rel
        if not p.is_file():
            raise InputError(f"EEG recording not found: {str(p)!r}",
                             "point data_dir/BIODAE_DATA at the data folder holding eeg/")
        stamps.append((rel, p.stat().st_size))
    settings = (_BAND, _BAND_ORDER, _PTP_MAX_UV, _FLAT_UV, _Z_MAX, _HF_BAND, _OCULAR_BAND, _OCULAR_PTP_UV,
                _KEPT.pattern, _PREPROCESS_VERSION)
    key = hashlib.sha256(repr((split, stamps, settings)).encode()).hexdigest()[:16]
    path = cache / f"eeg_{split}_{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            info = EEGEpochs(
                epochs=z["epochs"], recording=z["recording"], channel=z["channel"], start=z["start"],
                counts=dict(zip((str(k) for k in z["count_keys"]), (int(v) for v in z["count_values"]))),
                channels_kept=[str(c) for c in z["channels_kept"]],
                channels_dropped=[str(c) for c in z["channels_dropped"]],
            )
    else:
        info = _concat([_read_recording(root, rel) for rel in rels])
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".npz")
        os.close(fd)
        try:
            np.savez(
                tmp, epochs=info.epochs, recording=info.recording, channel=info.channel, start=info.start,
                count_keys=np.array(list(info.counts)), count_values=np.array(list(info.counts.values())),
                channels_kept=np.array(info.channels_kept), channels_dropped=np.array(info.channels_dropped),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return (info.epochs, info) if return_info else info.epochs


# ----------------------------------------------------------------------------- mixing
class EEGNoiseMixer:
    """Draws ``(noisy, clean)`` EEG epochs: ``y = x + λ·n`` at a target SNR.

    Parameters
    ----------
    epochs : ndarray, shape (n, 512)
        Clean epochs in µV (from :func:`load_eeg_epochs`).
    artifact_split : {"train", "val", "test"}
        Split of the EOG and EMG sources (:func:`eeg_artifact_split` maps an EEG split
        to it); the last 20% of each source is ``"test"`` only.
    kinds : tuple of {"eog", "emg"}
        Artefact kinds drawn from (uniformly).
    snr_range : (float, float)
        SNR in dB drawn uniformly per window, under ``definition``.
    definition : {"standard", "eegdenoisenet"}
        ``"standard"``: true power SNR. ``"eegdenoisenet"``: the paper's nominal "dB"
        (10·log10 of an RMS ratio: nominal −7 is a true −14 dB). See
        :func:`biodae.noise.mix_at_snr`.
    data_dir : path-like, optional
        Data folder of the artefact sources (default ``$BIODAE_DATA``).
    high_snr_fraction : float, default 0
        Share of drawn windows whose SNR comes from ``high_snr_range`` instead of
        ``snr_range``: mildly contaminated epochs, on which a model trained on strong
        artefacts only learns to remove real slow EEG too (the training counterpart of
        "a clean scan stays nearly unchanged").
    high_snr_range : (float, float), default (7, 25)
        SNR range of those windows, in dB under ``definition``.
    clean_augment : bool, default False
        Flip the clean epoch's sign and reverse it in time, each with probability 1/2.
        Background scalp EEG changes little under either (an ECG, whose P-QRS-T has a
        direction and a usual polarity, would not pass for real), so this multiplies the
        variety of clean material from one subject; asymmetric waveforms (mu rhythm,
        spikes) are the exception.

    Notes
    -----
    Each window takes a random clean epoch, a random artefact segment (EOG: random
    channel, then random start) with a random sign, and one λ for the whole epoch.
    With the defaults of the last three options nothing else is drawn, so mixers
    without them give the same windows as before they existed.
    """

    def __init__(
        self,
        epochs: np.ndarray,
        *,
        artifact_split: str,
        kinds: tuple[str, ...] = EEG_ARTIFACT_KINDS,
        snr_range: tuple[float, float] = (-7.0, 7.0),
        definition: str = "standard",
        data_dir: str | os.PathLike | None = None,
        high_snr_fraction: float = 0.0,
        high_snr_range: tuple[float, float] = (7.0, 25.0),
        clean_augment: bool = False,
    ) -> None:
        from .. import noise

        x = np.asarray(epochs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != EEG_EPOCH or x.shape[0] == 0:
            raise InputError(f"epochs must be a non-empty (n, {EEG_EPOCH}) array, got shape {x.shape}")
        kinds = tuple(kinds)
        bad = [k for k in kinds if k not in EEG_ARTIFACT_KINDS]
        if bad or not kinds:
            raise InputError(f"unknown artefact kinds {bad or kinds}",
                             f"choose from {', '.join(EEG_ARTIFACT_KINDS)}")
        if definition not in noise.SNR_DEFINITIONS:
            raise InputError(f"unknown SNR definition {definition!r}",
                             f"choose one of {', '.join(noise.SNR_DEFINITIONS)}")
        if artifact_split not in noise.ARTIFACT_SPLITS:
            raise InputError(f"unknown artefact split {artifact_split!r}",
                             f"choose one of {', '.join(noise.ARTIFACT_SPLITS)}")
        if not 0.0 <= float(high_snr_fraction) <= 1.0:
            raise InputError(f"high_snr_fraction must be in [0, 1], got {high_snr_fraction}",
                             "it is the share of windows drawn from high_snr_range, e.g. 0.2")
        self.epochs = x
        self.artifact_split = artifact_split
        self.kinds = kinds
        self.snr_range = (float(snr_range[0]), float(snr_range[1]))
        self.high_snr_fraction = float(high_snr_fraction)
        self.high_snr_range = (float(high_snr_range[0]), float(high_snr_range[1]))
        self.clean_augment = bool(clean_augment)
        self.definition = definition
        self._sources: dict[str, np.ndarray] = {}
        if "eog" in kinds:
            eog = noise.eog_from_eeglab(data_dir, sampling_rate=EEG_SAMPLING_RATE, split=artifact_split)
            self._sources["eog"] = np.ascontiguousarray(eog.T)  # (2, n): EOG1, EOG2
        if "emg" in kinds:
            emg = noise.emg_from_nstdb_ma(artifact_split, sampling_rate=EEG_SAMPLING_RATE, data_dir=data_dir)
            self._sources["emg"] = emg[None, :]

    def artifact(self, rng: np.random.Generator, *, kind: str) -> np.ndarray:
        """One artefact segment, float64 ``(512,)``, random channel, start and sign (unscaled)."""
        if kind not in self._sources:
            raise InputError(f"artefact kind {kind!r} is not loaded", f"this mixer has {', '.join(self.kinds)}")
        src = self._sources[kind]
        ch = int(rng.integers(0, src.shape[0]))
        s = int(rng.integers(0, src.shape[1] - EEG_EPOCH + 1))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        return sign * src[ch, s : s + EEG_EPOCH]

    def window(
        self, rng: np.random.Generator, *, kind: str | None = None, snr_db: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One ``(noisy, clean)`` pair of float32 ``(512,)`` arrays in µV.

        ``kind`` and ``snr_db`` (under the mixer's ``definition``) fix the artefact
        and the SNR instead of drawing them.
        """
        from ..noise import mix_at_snr

        clean = self.epochs[int(rng.integers(0, self.epochs.shape[0]))]
        if self.clean_augment:
            flips = rng.random(2) < 0.5
            clean = (-clean if flips[0] else clean)[:: -1 if flips[1] else 1]
        kind = str(rng.choice(self.kinds)) if kind is None else kind
        if snr_db is not None:
            snr = float(snr_db)
        elif self.high_snr_fraction and rng.random() < self.high_snr_fraction:
            snr = float(rng.uniform(*self.high_snr_range))
        else:
            snr = float(rng.uniform(*self.snr_range))
        art = self.artifact(rng, kind=kind)
        noisy = mix_at_snr(clean.astype(np.float64), art, snr, definition=self.definition).noisy
        return noisy.astype(np.float32), np.array(clean, dtype=np.float32)

    def batch(self, n: int, rng: np.random.Generator, **kw) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs stacked as float32 ``(n, 1, 512)`` arrays ``(noisy, clean)``."""
        pairs = [self.window(rng, **kw) for _ in range(int(n))]
        noisy = np.stack([p[0] for p in pairs])[:, None, :]
        clean = np.stack([p[1] for p in pairs])[:, None, :]
        return noisy, clean
