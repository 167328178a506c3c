"""ECG beats: R peaks, a fixed window around each, RR intervals, AAMI classes; features and scores.

:func:`extract_beats` reads a record (WFDB, or EDF/BDF through :mod:`biodae.io`) and gives
one row per beat: the R-peak sample at the record's own rate, the annotation symbol and its
AAMI class when an annotation file is named, the RR intervals before and after, the local
mean RR, and a window of the ECG around R resampled to a fixed rate (360 Hz by default).
R peaks come from the annotation file when one is named (``wfdb.rdann``), otherwise from
wfdb's XQRS detector, each corrected to the local extremum.

:func:`beat_features` turns beats into the rows the shipped beat models take (the window
scaled per record, plus RR features), and :func:`score_beats` runs a latent model
(:class:`biodae.latent.Autoencoder`, e.g. the shipped ``ecg-beats`` / ``ecg-beats-aami``)
on them: score, flag, class and latent code per beat.

>>> from biodae.beats import extract_beats, score_beats          # doctest: +SKIP
>>> beats = extract_beats("mitdb/208", annotator="atr")        # doctest: +SKIP
>>> table = score_beats(beats, "ecg-beats")                    # doctest: +SKIP
>>> table["flag"].mean(), table["z"].shape                     # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._arrays import per_finite_stretch, resample
from ._errors import InputError

__all__ = [
    "AAMI_CLASSES", "AAMI_MAP", "Beats", "aami_class", "extract_beats", "detect_r_peaks", "rr_features",
    "beat_features", "load_beat_model", "beat_scorer", "score_beats", "FEATURE_RR_REPEAT", "N_RR_FEATURES",
    "N_SHAPE_FEATURES", "FEATURES_TEXT", "stretch_windows",
]

#: AAMI EC57 beat classes, in this order everywhere (``ecg-beats-aami``'s classes).
AAMI_CLASSES = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat-annotation symbols -> AAMI EC57 class (de Chazal et al. 2004, table I). Symbols not
#: here (rhythm, noise, signal-quality, ``!`` flutter waves, ``x`` non-conducted P waves...) are not beats.
AAMI_MAP: Mapping[str, str] = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",   # normal, bundle branch blocks, escape beats
    "A": "S", "a": "S", "J": "S", "S": "S",             # supraventricular ectopic
    "V": "V", "E": "V",                                 # ventricular ectopic
    "F": "F",                                           # fusion of ventricular and normal
    "/": "Q", "f": "Q", "Q": "Q",                       # paced, fusion of paced and normal, unclassifiable
}

#: RR features per beat in :func:`beat_features`, each repeated :data:`FEATURE_RR_REPEAT` times.
N_RR_FEATURES = 5
#: Scalar shape features per beat in :func:`beat_features` (the correlation with the record's
#: template), each repeated :data:`FEATURE_RR_REPEAT` times.
N_SHAPE_FEATURES = 1
#: How many times each scalar feature is repeated in a feature row, so that timing weighs more in a
#: reconstruction-error score (a mean over the features) than a few of several hundred columns
#: would: a premature supraventricular beat differs from a normal one mainly in timing. 4 against 16
#: on MIT-BIH DS1 (5 record-wise folds, undercomplete autoencoder, the features before the record's
#: template was added): ROC AUC 0.871 against 0.860.
FEATURE_RR_REPEAT = 4
#: :func:`beat_features` in words (the ``biodae.features`` metadata of the shipped beat models).
FEATURES_TEXT = (
    "biodae.beats.beat_features: per record (all of its beats, no labels), s = median over the beats of the "
    "window's peak-to-peak amplitude and the template t = the sample-wise median of the windows / s; per beat: "
    "the window / s (n_window), window / s - t (n_window), the Pearson correlation of the window with t, "
    "then RR before / local mean RR, RR after / local mean RR, RR before / the record's median RR, RR after / "
    "the record's median RR and local mean RR / the record's median RR (local: within 10 beats either side); "
    "each of these 6 scalars repeated 4 times")

_BAND_HZ = (0.5, 40.0)      # band-pass before the windows are cut (zero-phase, order 2)
_LOCAL_RR_BEATS = 10        # local mean RR over this many beats on either side
_PEAK_RADIUS_S = 0.05       # detected peaks corrected within this radius
_SCALE_MIN = 1e-6


def aami_class(symbol: str) -> str | None:
    """The AAMI EC57 class (``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"``) of a MIT-BIH beat symbol, or None
    for a non-beat annotation.

    >>> aami_class("L"), aami_class("a"), aami_class("E"), aami_class("f"), aami_class("+")
    ('N', 'S', 'V', 'Q', None)
    """
    return AAMI_MAP.get(symbol)


@dataclass
class Beats:
    """The beats of one record (one row per beat; arrays of equal length).

    Attributes
    ----------
    sample : ndarray of int64, shape (n,)
        R peak, sample index at the record's own rate.
    symbol : ndarray of str, shape (n,)
        Annotation symbol (``""`` when the peaks were detected).
    aami : ndarray of str, shape (n,)
        AAMI class of ``symbol`` (``""`` when detected).
    rr_pre, rr_post : ndarray of float64, shape (n,)
        Seconds from the previous R peak and to the next one (the first beat's ``rr_pre`` is its
        ``rr_post`` and the last beat's ``rr_post`` its ``rr_pre``; both NaN for a lone beat).
    rr_local : ndarray of float64, shape (n,)
        Local mean RR in seconds: the mean of the RR intervals between the beats ten before
        and ten after (:func:`rr_features`).
    windows : ndarray of float32, shape (n, n_window)
        The band-passed (0.5-40 Hz) ECG around each R peak, at ``window_rate``, in mV, minus the
        window's median.
    window_rate : float
        Sampling rate of ``windows`` in Hz.
    window : tuple of float
        Seconds before (negative) and after R that a window spans.
    sampling_rate : float
        The record's own rate in Hz.
    record : str
        Record name.
    channel : str
        The channel the beats were cut from.
    source : str
        ``"annotation:<ext>"`` or ``"xqrs"``: where the R peaks came from.
    dropped : int
        Beats left out: too close to the record's ends, or a window with invalid samples.
    """

    sample: np.ndarray
    symbol: np.ndarray
    aami: np.ndarray
    rr_pre: np.ndarray
    rr_post: np.ndarray
    rr_local: np.ndarray
    windows: np.ndarray
    window_rate: float
    window: tuple[float, float]
    sampling_rate: float
    record: str = ""
    channel: str = ""
    source: str = ""
    dropped: int = 0

    def __len__(self) -> int:
        return int(len(self.sample))

    @property
    def r_index(self) -> int:
        """Column of the R peak in :attr:`windows`: ``round(-window[0] * window_rate)``."""
        return int(round(-self.window[0] * self.window_rate))


# ----------------------------------------------------------------------------- R peaks

_XQRS_LOCK = threading.Lock()


def _local_peaks(sig: np.ndarray, radius: int) -> np.ndarray:
    """``wfdb.processing.find_local_peaks``, vectorised: the same indices, in the same dtype.

    wfdb's loop calls Python's ``max`` on a slice for every sample, 94 % of XQRS's time on a 30-minute
    record. Its rule: a sample is a peak if it equals the maximum of ``sig[i - radius:i + radius]`` (the
    slice clipped at the ends), and after a peak the next ``radius - 1`` samples are skipped, so of tied
    or close candidates the first wins. Here: the windowed maximum with ``maximum_filter1d`` (window
    ``[i - radius, i + radius - 1]``; edge padding repeats an end sample, which the clipped slice holds
    anyway), then the skip over the candidates. ``tests/test_beats.py`` checks it against wfdb's own.
    """
    from scipy.ndimage import maximum_filter1d

    sig = np.asarray(sig)
    if radius < 1 or sig.ndim != 1 or not len(sig):
        from wfdb.processing import find_local_peaks

        return find_local_peaks(sig, radius)  # wfdb's own behaviour for these corner cases
    if np.min(sig) == np.max(sig):
        return np.empty(0)
    candidates = np.flatnonzero(sig == maximum_filter1d(sig, size=2 * radius, mode="nearest"))
    peaks, allowed = [], 0
    for c in candidates.tolist():
        if c >= allowed:
            peaks.append(c)
            allowed = c + radius
    return np.array(peaks)


def detect_r_peaks(x: np.ndarray, *, sampling_rate: float) -> np.ndarray:
    """R peaks of one ECG lead with wfdb's XQRS detector, each corrected to the local extremum.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
        One lead, in mV (invalid samples NaN are set to 0 for the detector).
    sampling_rate : float
        In Hz.

    Returns
    -------
    ndarray of int64
        Sorted, distinct sample indices.

    References
    ----------
    .. [1] wfdb-python, ``wfdb.processing.XQRS`` (after the PhysioNet ``gqrs``/``xqrs`` detectors) and
       ``wfdb.processing.correct_peaks``.
    """
    import logging

    from wfdb import processing
    from wfdb.processing import qrs as wfdb_qrs

    sig = np.nan_to_num(np.asarray(x, dtype=np.float64))
    if len(sig) < int(2 * sampling_rate):
        return np.zeros(0, dtype=np.int64)
    logging.getLogger("wfdb").setLevel(logging.WARNING)
    with _XQRS_LOCK:
        # XQRS looks up find_local_peaks in its module; _local_peaks gives the same peaks (38x faster on 30 min)
        slow = getattr(wfdb_qrs, "find_local_peaks", None)
        swap = slow is processing.find_local_peaks
        if swap:
            wfdb_qrs.find_local_peaks = _local_peaks
        try:
            xqrs = processing.XQRS(sig=sig, fs=float(sampling_rate))
            xqrs.detect(verbose=False)
        finally:
            if swap:
                wfdb_qrs.find_local_peaks = slow
    peaks = np.asarray(xqrs.qrs_inds, dtype=np.int64)
    if not len(peaks):
        return peaks
    radius = max(1, int(round(_PEAK_RADIUS_S * sampling_rate)))
    corrected = processing.correct_peaks(sig, peaks, search_radius=radius,
                                         smooth_window_size=max(3, int(round(0.15 * sampling_rate))),
                                         peak_dir="compare")
    corrected = np.asarray(corrected, dtype=np.int64)
    corrected = corrected[(corrected >= 0) & (corrected < len(sig))]
    return np.unique(corrected)


def rr_features(sample: np.ndarray, *, sampling_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RR intervals before and after each R peak and the local mean RR, in seconds.

    Parameters
    ----------
    sample : ndarray of int, shape (n,)
        Sorted R-peak sample indices.
    sampling_rate : float
        In Hz.

    Returns
    -------
    rr_pre, rr_post, rr_local : ndarray of float64, shape (n,)
        ``rr_pre[i] = (sample[i] - sample[i-1]) / fs`` (``rr_post[0]`` for the first beat),
        ``rr_post[i] = (sample[i+1] - sample[i]) / fs`` (``rr_pre[-1]`` for the last), and the mean
        of the RR intervals that end within ten beats before or after beat ``i``. NaN when
        ``n < 2``.

    Examples
    --------
    >>> pre, post, local = rr_features(np.array([0, 360, 720, 900]), sampling_rate=360)
    >>> pre.tolist(), post.tolist()
    ([1.0, 1.0, 1.0, 0.5], [1.0, 1.0, 0.5, 0.5])
    """
    s = np.asarray(sample, dtype=np.float64)
    n = len(s)
    if n < 2:
        nan = np.full(n, np.nan)
        return nan, nan.copy(), nan.copy()
    rr = np.diff(s) / float(sampling_rate)            # rr[j]: from beat j to beat j+1
    pre = np.concatenate(([rr[0]], rr))
    post = np.concatenate((rr, [rr[-1]]))
    # mean of rr[j] for j in [i - K, i + K - 1] (the intervals touching beats i-K .. i+K), clipped at the ends
    csum = np.concatenate(([0.0], np.cumsum(rr)))
    i = np.arange(n)
    lo = np.clip(i - _LOCAL_RR_BEATS, 0, len(rr))
    hi = np.clip(i + _LOCAL_RR_BEATS, 0, len(rr))
    hi = np.maximum(hi, lo + 1)
    hi = np.minimum(hi, len(rr))
    lo = np.minimum(lo, hi - 1)
    local = (csum[hi] - csum[lo]) / (hi - lo)
    return pre, post, local


# ----------------------------------------------------------------------------- extraction

_ECG_NAME = re.compile(r"(?i)\b(mlii|ecg|ekg|lead\s*ii|ii)\b")


def _pick_channel(names: list[str], channel: int | str | None) -> int:
    if channel is None:
        if "MLII" in names:
            return names.index("MLII")
        for i, n in enumerate(names):
            if _ECG_NAME.search(n):
                return i
        return 0
    if isinstance(channel, str):
        if channel not in names:
            raise InputError(f"no channel named {channel!r} (channels: {', '.join(names)})",
                             "give one of the record's channel names or an index")
        return names.index(channel)
    if not 0 <= int(channel) < len(names):
        raise InputError(f"channel {channel} is out of range (the record has {len(names)})",
                         f"give an index 0..{len(names) - 1} or a channel name")
    return int(channel)


def _annotation_path(signal: Any, annotator: str) -> Path:
    src = Path(signal.source) if signal.source is not None else None
    files = [Path(f) for f in (signal.meta.get("annotation_files") or [])]
    for f in files:
        if f.name.endswith("." + annotator):
            return f
    if src is not None:
        cand = src.parent / f"{src.name}.{annotator}"
        if cand.is_file():
            return cand
    have = ", ".join(sorted(f.name.rsplit(".", 1)[-1] for f in files)) or "none"
    raise InputError(f"record {signal.meta.get('record_name', src)}: no annotation file '.{annotator}' "
                     f"(annotation files beside it: {have})",
                     "name one of those with annotator=, or leave it out to detect the R peaks")


def _band(x: np.ndarray, fs: float) -> np.ndarray:
    from scipy import signal as sg

    high = min(_BAND_HZ[1], 0.45 * fs)
    sos = sg.butter(2, [_BAND_HZ[0], high], btype="bandpass", fs=fs, output="sos")
    pad = 3 * (2 * len(sos) + 1)

    def filt(seg: np.ndarray) -> np.ndarray:
        if len(seg) <= pad:
            return seg - np.median(seg)
        return sg.sosfiltfilt(sos, seg)

    out, _, _ = per_finite_stretch(filt, x, fs)
    return out


def extract_beats(
    record: str | os.PathLike | Any,
    *,
    annotator: str | None = None,
    channel: int | str | None = None,
    window: tuple[float, float] = (-0.25, 0.4),
    window_rate: float = 360.0,
) -> Beats:
    """The beats of an ECG record: R peaks, RR intervals, AAMI classes and a window around each R.

    Parameters
    ----------
    record : path or biodae.io.Signal
        A WFDB record (``.hea`` or path without extension), an EDF/EDF+/BDF file, or a
        :class:`~biodae.io.Signal` already read.
    annotator : str, optional
        Extension of a WFDB annotation file beside the record (``"atr"``; the ``annotation_files``
        of the record's metadata lists them). Its beat annotations give the R peaks, symbols and
        AAMI classes; non-beat annotations are skipped. None: R peaks are detected (XQRS, each
        peak corrected to the local extremum) and symbols and classes are empty.
    channel : int or str, optional
        The lead; default ``MLII`` if present, else the first channel whose name says ECG,
        else channel 0.
    window : (float, float), default (-0.25, 0.4)
        Seconds before (negative) and after R.
    window_rate : float, default 360.0
        Sampling rate of the windows in Hz (the record is resampled to it).

    Returns
    -------
    Beats
        Beats whose window lies inside the record and holds only valid samples, in time order.

    Raises
    ------
    InputError
        The record cannot be read, is not a signal, has no such channel or annotation file, or
        the window is empty.
    """
    from .io import Signal, read
    from .runtime import unit_factor

    if not (len(window) == 2 and window[0] < 0 < window[1]):
        raise InputError(f"window={window!r} must span R", "give (seconds before as a negative number, seconds after)")
    sig = record if isinstance(record, Signal) else read(record)
    if not isinstance(sig, Signal):
        raise InputError(f"{record}: not a signal record", "give a WFDB record or an EDF/BDF file")
    ch = _pick_channel(list(sig.channel_names), channel)
    fs = float(sig.sampling_rate)
    x = np.asarray(sig.data[:, ch], dtype=np.float64)
    factor = unit_factor(sig.units[ch], "mV") if sig.units[ch] else None
    if factor is not None:
        x = x * factor
    name = str(sig.meta.get("record_name") or (Path(sig.source).name if sig.source is not None else ""))

    if annotator is not None:
        import wfdb

        path = _annotation_path(sig, annotator)
        try:
            ann = wfdb.rdann(str(path.with_suffix("")), annotator)
        except Exception as exc:  # wfdb raises bare exceptions on bad files
            raise InputError(f"{path}: wfdb cannot read it ({type(exc).__name__}: {exc})",
                             "check the annotation file, or leave annotator out to detect the R peaks") from exc
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = np.asarray(ann.symbol, dtype=object)
        keep = np.array([s in AAMI_MAP for s in symbols], dtype=bool)
        samples, symbols = samples[keep], symbols[keep].astype(str)
        order = np.argsort(samples, kind="stable")
        samples, symbols = samples[order], symbols[order]
        aami = np.array([AAMI_MAP[s] for s in symbols], dtype="<U1") if len(symbols) else np.zeros(0, "<U1")
        source = f"annotation:{annotator}"
    y = _band(x, fs)
    if annotator is None:
        samples = detect_r_peaks(y, sampling_rate=fs)
        symbols = np.full(len(samples), "", dtype="<U1")
        aami = np.full(len(samples), "", dtype="<U1")
        source = "xqrs"
    rr_pre, rr_post, rr_local = rr_features(samples, sampling_rate=fs)

    if fs != float(window_rate):
        y = resample(y, fs, window_rate) if np.isfinite(y).all() else _resample_with_gaps(y, fs, window_rate)
    before = int(round(-window[0] * window_rate))  # Beats.r_index
    after = int(round(window[1] * window_rate))
    n_win = before + after
    if n_win < 2:
        raise InputError(f"window={window!r} holds fewer than 2 samples at {window_rate:g} Hz", "widen the window")
    centre = np.round(samples * (float(window_rate) / fs)).astype(np.int64)
    inside = (centre - before >= 0) & (centre + after <= len(y))
    idx = centre[inside, None] - before + np.arange(n_win)[None, :]
    wins = y[idx] if len(idx) else np.zeros((0, n_win))
    valid = np.isfinite(wins).all(axis=1)
    keep = np.flatnonzero(inside)[valid]
    wins = wins[valid]
    wins = wins - np.median(wins, axis=1, keepdims=True) if len(wins) else wins
    return Beats(sample=samples[keep], symbol=symbols[keep], aami=aami[keep], rr_pre=rr_pre[keep],
                 rr_post=rr_post[keep], rr_local=rr_local[keep], windows=wins.astype(np.float32),
                 window_rate=float(window_rate), window=(float(window[0]), float(window[1])), sampling_rate=fs,
                 record=name, channel=str(sig.channel_names[ch]), source=source,
                 dropped=int(len(samples) - len(keep)))


def _resample_with_gaps(y: np.ndarray, fs: float, rate: float) -> np.ndarray:
    """Resample a signal with NaN gaps: the gaps resampled as a mask (any NaN nearby stays NaN)."""
    filled = resample(np.nan_to_num(y), fs, rate)
    bad = resample((~np.isfinite(y)).astype(np.float64), fs, rate, center=False, padtype="constant")
    filled[np.abs(bad) > 1e-3] = np.nan
    return filled


# ----------------------------------------------------------------------------- features and models

def beat_features(beats: Beats) -> np.ndarray:
    """The rows the beat models take: the window and its difference from the record's template,
    scaled per record, plus RR features normalised per record.

    Everything is relative to the record the beats come from, computed from all its beats and
    without labels (patient-adaptive features, as in inter-patient beat classification since
    de Chazal et al. 2004 [1]_ and Llamedo & Martinez 2011 [2]_): the same beat shape or rhythm
    reads the same in every patient, whatever the patient's own QRS shape, lead gain and heart rate.

    Columns, with ``s`` the record's scale (the median over its beats of the window's
    peak-to-peak amplitude: a tall ventricular beat stays tall, the gain of a lead or patient
    drops out) and ``t`` its template (the sample-wise median of the windows divided by ``s``:
    the record's typical beat, without labels):

    * ``window / s`` (``n_window`` columns);
    * ``window / s - t`` (``n_window`` columns): how the beat differs from the record's usual one;
    * the Pearson correlation of the window with ``t``;
    * ``rr_pre / rr_local``, ``rr_post / rr_local``, ``rr_pre / m``, ``rr_post / m`` and
      ``rr_local / m``, with ``m`` the record's median RR: prematurity against the local rhythm
      and against the patient's usual rate.

    Each of the :data:`N_SHAPE_FEATURES` + :data:`N_RR_FEATURES` scalars is repeated
    :data:`FEATURE_RR_REPEAT` times (:data:`FEATURES_TEXT` says the same in words, for the
    models' metadata).

    Parameters
    ----------
    beats : Beats
        All the beats of one record (scale, template and median RR are taken over them; a
        subset of a record's beats gives other features).

    Returns
    -------
    ndarray of float32, shape (n, 2 * n_window + (N_SHAPE_FEATURES + N_RR_FEATURES) * FEATURE_RR_REPEAT)

    References
    ----------
    .. [1] de Chazal P, O'Dwyer M, Reilly RB. Automatic classification of heartbeats using ECG
       morphology and heartbeat interval features. IEEE TBME 51(7):1196-1206 (2004).
    .. [2] Llamedo M, Martinez JP. Heartbeat classification using feature selection driven by
       database generalization criteria. IEEE TBME 58(3):616-625 (2011).
    """
    w = np.asarray(beats.windows, dtype=np.float64)
    n_scalar = (N_SHAPE_FEATURES + N_RR_FEATURES) * FEATURE_RR_REPEAT
    if not len(w):
        return np.zeros((0, 2 * w.shape[1] + n_scalar), dtype=np.float32)
    scale = float(np.median(np.ptp(w, axis=1)))
    scale = scale if scale > _SCALE_MIN else 1.0
    ws = w / scale
    template = np.median(ws, axis=0)
    wc = ws - ws.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    denom = np.linalg.norm(wc, axis=1) * np.linalg.norm(tc)
    corr = np.divide(wc @ tc, denom, out=np.ones(len(ws)), where=denom > _SCALE_MIN)
    local = np.where(beats.rr_local > 0, beats.rr_local, np.nan)
    pre = np.asarray(beats.rr_pre, dtype=np.float64)
    med = float(np.median(pre[np.isfinite(pre)])) if np.isfinite(pre).any() else np.nan
    med = med if med > 0 else np.nan
    rr = np.column_stack([pre / local, beats.rr_post / local, pre / med, beats.rr_post / med, local / med])
    rr = np.nan_to_num(rr, nan=1.0)  # a lone beat: as if regular
    scalars = np.column_stack([corr, rr])
    return np.hstack([ws, ws - template, np.repeat(scalars, FEATURE_RR_REPEAT, axis=1)]).astype(np.float32)


def stretch_windows(
    windows: np.ndarray,
    *,
    r_index: int,
    max_stretch: float = 0.35,
    copies: int = 2,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Beat windows and time-stretched copies of them: training data for models that meet new patients.

    QRS width, PR and QT intervals differ from patient to patient and the QT interval also with the
    heart rate, so a beat model fitted on a few patients meets beats whose waves sit at other
    distances from R. Each copy resamples every window in time about its R peak by a factor drawn
    uniformly from ``[1 - max_stretch, 1 + max_stretch]`` per beat (linear interpolation; a factor
    above 1 widens the waves; samples beyond the window's ends hold the end values) and subtracts
    its median, as :func:`extract_beats` does for the windows it cuts. Amplitudes are untouched.

    ``benchmarks/latent_bench.py`` (section "Dimensionality reduction") fits an autoencoder with and
    without two copies and reports the median PRD on records it never saw against the latent size;
    the copies did not lower it at every size.

    Parameters
    ----------
    windows : array_like, shape (n, n_window)
        Beat windows, median-centred as :attr:`Beats.windows` (the originals are returned as given,
        the copies centred), finite.
    r_index : int
        Column of the R peak (:attr:`Beats.r_index`; 90 for the default window at 360 Hz).
    max_stretch : float, default 0.35
        Largest relative change of the time scale, in ``[0, 1)``.
    copies : int, default 2
        Stretched copies per window.
    random_state : int, numpy.random.Generator or None
        Seed of the factors; the same seed gives the same copies.

    Returns
    -------
    ndarray, shape (n * (1 + copies), n_window), float32 (float64 for float64 windows)
        The windows, then copy 1 of every window, then copy 2, ...

    >>> import numpy as np
    >>> w = np.zeros((1, 9), dtype=np.float32); w[0, 4] = 1; w[0, 6] = -1
    >>> stretch_windows(w, r_index=4, copies=1, random_state=0).shape
    (2, 9)
    """
    w = np.asarray(windows)
    if w.ndim != 2 or not w.shape[1] or not (np.issubdtype(w.dtype, np.number) or w.dtype == bool):
        raise InputError(f"windows of shape {w.shape} and dtype {w.dtype}: expected numbers, (n_beats, n_window)",
                         "give one beat window per row, e.g. Beats.windows")
    if not np.isfinite(w).all():
        raise InputError(f"{int(np.sum(~np.isfinite(w)))} window samples are NaN or infinite",
                         "leave those beats out (extract_beats drops windows with invalid samples)")
    n, n_window = w.shape
    if isinstance(r_index, (bool, np.bool_)) or not isinstance(r_index, (int, np.integer)) \
            or not 0 <= r_index < n_window:
        raise InputError(f"r_index={r_index!r} must be an int in 0..{n_window - 1} (a column of the windows)",
                         "give the R peak's column, Beats.r_index")
    real = isinstance(max_stretch, (int, float, np.integer, np.floating)) and not isinstance(max_stretch, bool)
    if not (real and np.isfinite(max_stretch) and 0 <= max_stretch < 1):
        raise InputError(f"max_stretch={max_stretch!r} must be a number in [0, 1)",
                         "give e.g. 0.35 (time scale 0.65-1.35)")
    if isinstance(copies, (bool, np.bool_)) or not (isinstance(copies, (int, np.integer)) and copies >= 0):
        raise InputError(f"copies={copies!r} must be a whole number >= 0", "give e.g. 2")
    dtype = np.result_type(w.dtype, np.float32)
    rng = np.random.default_rng(random_state)
    t = np.arange(n_window, dtype=np.float64)
    x = w.astype(np.float64)
    out = [w.astype(dtype)]
    for _ in range(int(copies)):
        factor = rng.uniform(1.0 - max_stretch, 1.0 + max_stretch, size=n)
        pos = np.clip(r_index + (t[None, :] - r_index) / factor[:, None], 0.0, n_window - 1.0)
        lo = np.minimum(np.floor(pos).astype(np.intp), max(n_window - 2, 0))
        hi = np.minimum(lo + 1, n_window - 1)
        frac = pos - lo
        y = np.take_along_axis(x, lo, axis=1) * (1.0 - frac) + np.take_along_axis(x, hi, axis=1) * frac
        out.append((y - np.median(y, axis=1, keepdims=True)).astype(dtype))
    return np.concatenate(out)


def _beat_model_path(model: str | os.PathLike) -> Path:
    """The file of a beat model given as a shipped name (``"ecg-beats"``) or a path."""
    p = Path(model)
    if p.suffix.lower() != ".onnx" and not p.exists():
        from .runtime import available_models, model_path

        names = available_models(task="latent")
        if str(model) not in names:
            raise InputError(f"no shipped beat model named {str(model)!r}",
                             f"shipped beat models: {', '.join(names) or '(none installed)'}; or give an .onnx path")
        p = model_path(str(model))
    return p


def load_beat_model(model: str | os.PathLike | Any) -> Any:
    """A fitted :class:`biodae.latent.Autoencoder` from a shipped name (``"ecg-beats"``), a path, or itself."""
    from .latent import Autoencoder

    if isinstance(model, Autoencoder):
        return model
    return Autoencoder.load(_beat_model_path(model))


def beat_scorer(model: str | os.PathLike | Any) -> Any:
    """What :func:`score_beats` runs: a shipped name or a path as a :class:`biodae.latent._onnx.LatentFile`
    (onnxruntime alone: no scikit-learn or onnx to import, about 2.5 s sooner), anything else (a fitted
    :class:`~biodae.latent.Autoencoder`) as it is. Both give the same ``outputs``, ``threshold_``, ``classes_``."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    from .latent._onnx import LatentFile

    return LatentFile(_beat_model_path(model))


def score_beats(beats: Beats, model: str | os.PathLike | Any) -> dict[str, np.ndarray]:
    """Run a beat model on the beats of one record.

    Parameters
    ----------
    beats : Beats
        From :func:`extract_beats`, with the window and rate the model was trained on: all the
        beats of one record (:func:`beat_features` takes the record's template, scale and median
        RR from them).
    model : str, path or biodae.latent.Autoencoder
        A shipped beat model (``"ecg-beats"``, ``"ecg-beats-aami"``), an ``.onnx`` file written by
        ``Autoencoder.save``, or a fitted estimator, trained on :func:`beat_features` rows.

    Returns
    -------
    dict of ndarray, one entry per beat
        ``sample`` (int64, R peak at the record's rate), ``symbol`` and ``aami`` (from the
        annotation, ``""`` when detected), ``score`` (float64, reconstruction error: higher is more
        abnormal), ``flag`` (int64, 1 when ``score`` is above the model's threshold), ``class``
        (the predicted AAMI class for a supervised model, ``""`` otherwise) and ``z`` (float64,
        shape ``(n, latent_dim)``, the latent code).

    Raises
    ------
    InputError
        The model takes rows of another length than these beats give (another window or rate).
    """
    ae = beat_scorer(model)
    X = beat_features(beats)
    if X.shape[1] != ae.n_features_in_:
        raise InputError(f"the model takes {ae.n_features_in_} features per beat; these beats give {X.shape[1]} "
                         f"(window {beats.window} s at {beats.window_rate:g} Hz)",
                         "extract the beats with the window and rate the model was trained on, or use a model "
                         "trained on this biodae's beat_features (its card says)")
    n = len(X)
    out: dict[str, np.ndarray] = {"sample": beats.sample.astype(np.int64), "symbol": beats.symbol,
                                  "aami": beats.aami}
    if n == 0:
        k = int(ae.latent_dim_)
        out.update(score=np.zeros(0), flag=np.zeros(0, np.int64), **{"class": np.zeros(0, "<U1")},
                   z=np.zeros((0, k)))
        return out
    res = ae.outputs(X)
    score = res["score"].astype(np.float64)
    out["score"] = score
    out["flag"] = (score > ae.threshold_).astype(np.int64)
    if "proba" in res:
        out["class"] = np.asarray(ae.classes_)[np.argmax(res["proba"], axis=1)].astype(str)
    else:
        out["class"] = np.full(n, "", dtype="<U1")
    out["z"] = res["code"].astype(np.float64)
    return out
