"""Grid search of a classical filter's parameters on validation pairs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pywt

from biodae._errors import BiodaeError, InputError
from biodae.filters._common import as_image, as_signal, check_sampling_rate, odd_samples
from biodae.filters._defaults import (
    IMAGE_MODALITIES,
    SIGNAL_MODALITIES,
    check_method,
    check_modality,
    defaults,
)
from biodae.filters._dispatch import IMAGE_IMPL, SIGNAL_IMPL, check_params

__all__ = ["tune", "TuneResult", "default_grid"]

Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class TuneResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    method : str
        Filter name, for :func:`apply`.
    params : dict
        Best parameters (without ``sampling_rate``): ``apply(r.method, x, sampling_rate=fs, **r.params)``.
    score : float
        Mean metric over the validation pairs at ``params``.
    table : list of dict
        Every grid point in search order: its parameters plus a ``"score"`` key
        (``pandas.DataFrame(r.table)`` makes a table of it).
    metric : str
        Metric name ("rmse" or the callable's ``__name__``).
    greater_is_better : bool
        Direction of ``score``.
    """

    method: str
    params: dict[str, Any]
    score: float
    table: list[dict[str, Any]] = field(repr=False)
    metric: str = "rmse"
    greater_is_better: bool = False


def _rmse(clean: np.ndarray, estimate: np.ndarray) -> float:
    d = np.asarray(estimate, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


# ----------------------------------------------------------------------------- default grids
_ECG_LOW = (None, 0.3, 0.5, 0.67, 1.0)
_ECG_HIGH = (None, 30.0, 40.0, 45.0, 100.0, 150.0)
_EEG_LOW = (None, 0.5, 1.0, 2.0)
_EEG_HIGH = (None, 30.0, 40.0, 45.0, 70.0)
_ORDERS = (2, 4, 5)
_MEDIAN_WINDOWS_S = (0.01, 0.02, 0.04, 0.08)
_BASELINE_WINDOWS_S = ((0.2, 0.6), (0.3, 0.9))
_SIGNAL_WAVELETS = ("db4", "sym8", "sym4", "coif3")
_SIGNAL_LEVELS = (3, 5, 7)
_BASELINE_CUTOFFS = (0.3, 0.5)
_IMAGE_MEDIAN_SIZES = (3, 5)
_IMAGE_CUTOFFS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_IMAGE_ORDERS = (1, 2, 4)
_IMAGE_WAVELETS = ("db1", "db2", "db4", "sym4")
_IMAGE_LEVELS = (2, 3, 4)
_MODES = ("soft", "hard")
_METHODS = ("bayes", "visu")


def _levels(wavelet: str, shape: Sequence[int] | None, candidates: Sequence[int]) -> list[int | None]:
    """None (the filter's default level) plus the candidates that are valid and not the default."""
    if shape is None:
        return [None]
    max_level = pywt.dwtn_max_level(tuple(shape), pywt.Wavelet(wavelet))
    default_level = max(max_level - 3, 1)
    return [None, *(lv for lv in candidates if lv <= max_level and lv != default_level)]


def default_grid(
    method: str,
    *,
    sampling_rate: float | None = None,
    modality: str | None = None,
    shape: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The grid :func:`tune` searches when none is given, as a list of parameter dicts.

    ``shape`` is the shape of the smallest validation array; explicit wavelet
    levels beyond ``pywt.dwt_max_level`` for it (or equal to the default level)
    are left out, and without it only the default level is tried.

    Signals (``sampling_rate`` given; values at or above Nyquist and windows under
    3 samples dropped):

    * butterworth: ``low`` x ``high`` x ``order`` in (2, 4, 5), without the
      empty point ``low = high = None``; ECG (and no modality): low in (None, 0.3,
      0.5, 0.67, 1.0) Hz, high in (None, 30, 40, 45, 100, 150) Hz; EEG: low in (None,
      0.5, 1, 2) Hz, high in (None, 30, 40, 45, 70) Hz.
    * median: ``baseline=True`` with ``baseline_windows_s`` in ((0.2, 0.6), (0.3,
      0.9)) and ``window_s`` in (None, 0.01, 0.02, 0.04, 0.08) s, plus
      ``baseline=False`` with each ``window_s``.
    * wavelet: ``wavelet`` in (db4, sym8, sym4, coif3) x ``mode`` (soft, hard) x
      ``method`` (bayes, visu) x ``level`` (None = default, 3, 5, 7) x baseline
      (off, or on with ``baseline_cutoff`` 0.3 or 0.5 Hz).

    Images: median ``size`` in (3, 5); butterworth ``cutoff`` in (0.2, ..., 0.9)
    x ``order`` in (1, 2, 4); wavelet in (db1, db2, db4, sym4) x mode x method x
    ``level`` (None, 2, 3, 4).
    """
    check_method(method)
    if modality is not None:
        modality = check_modality(modality)
    if sampling_rate is None:
        if method == "median":
            return [{"size": s} for s in _IMAGE_MEDIAN_SIZES]
        if method == "butterworth":
            return [{"cutoff": c, "order": o} for c in _IMAGE_CUTOFFS for o in _IMAGE_ORDERS]
        return [
            {"wavelet": w, "level": lv, "mode": m, "method": t}
            for w in _IMAGE_WAVELETS for m in _MODES for t in _METHODS
            for lv in _levels(w, shape, _IMAGE_LEVELS)
        ]
    fs = check_sampling_rate(sampling_rate)
    nyq = fs / 2.0
    if method == "butterworth":
        lows, highs = (_EEG_LOW, _EEG_HIGH) if modality == "eeg" else (_ECG_LOW, _ECG_HIGH)
        lows = tuple(f for f in lows if f is None or f < nyq)
        highs = tuple(f for f in highs if f is None or f < nyq)
        return [
            {"low": lo, "high": hi, "order": o}
            for lo in lows for hi in highs for o in _ORDERS
            if not (lo is None and hi is None) and (lo is None or hi is None or lo < hi)
        ]
    if method == "median":
        windows: list[float | None] = []
        for w in _MEDIAN_WINDOWS_S:
            try:
                odd_samples(w, fs, "window_s")
            except InputError:
                continue
            windows.append(w)
        points: list[dict[str, Any]] = [
            {"baseline": True, "baseline_windows_s": bw, "window_s": w}
            for bw in _BASELINE_WINDOWS_S for w in [None, *windows]
        ]
        points += [{"baseline": False, "window_s": w} for w in windows]
        return points
    # wavelet
    baselines: list[dict[str, Any]] = [{"remove_baseline": False}]
    baselines += [{"remove_baseline": True, "baseline_cutoff": c} for c in _BASELINE_CUTOFFS if c < fs / 4]
    points = []
    for w in _SIGNAL_WAVELETS:
        for m in _MODES:
            for t in _METHODS:
                for lv in _levels(w, None if shape is None else shape[:1], _SIGNAL_LEVELS):
                    for b in baselines:
                        points.append({"wavelet": w, "level": lv, "mode": m, "method": t, **b})
    return points


# ----------------------------------------------------------------------------- pairs and grids
def _split_pairs(data: object, name: str) -> list[np.ndarray]:
    if isinstance(data, np.ndarray):
        if data.ndim < 2:
            raise InputError(
                f"{name} is a {data.ndim}D array; a stacked array must have the pairs on axis 0",
                f"pass a list of arrays, e.g. {name}=[x]",
            )
        return list(data)
    if isinstance(data, (list, tuple)):
        return [np.asarray(d) for d in data]
    raise InputError(f"{name} must be a list of arrays or an array stacked along axis 0, got {type(data).__name__}")


def _grid_points(method: str, grid: object, mode: str) -> list[dict[str, Any]]:
    if isinstance(grid, Mapping):
        keys = list(grid)
        check_params(method, keys, mode)
        values = []
        for k in keys:
            v = grid[k]
            if isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray)):
                raise InputError(f"grid[{k!r}] must be a list of values, got {v!r}", f"e.g. grid={{{k!r}: [{v!r}]}}")
            if len(v) == 0:
                raise InputError(f"grid[{k!r}] is empty", "give at least one value")
            values.append(list(v))
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        points = []
        for p in grid:
            if not isinstance(p, Mapping):
                raise InputError(f"a grid given as a list must hold parameter dicts, got {p!r}")
            check_params(method, list(p), mode)
            points.append(dict(p))
        if not points:
            raise InputError("the grid is empty", "give at least one point, or grid=None for the default grid")
        return points
    raise InputError(
        f"grid must be a dict of value lists or a list of parameter dicts, got {type(grid).__name__}",
        "e.g. grid={'high': [30, 40, 45]}",
    )


def _better(a: float, b: float, greater: bool) -> bool:
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if greater else a < b


# ----------------------------------------------------------------------------- tune
def tune(
    method: str,
    noisy: Sequence[np.ndarray] | np.ndarray,
    clean: Sequence[np.ndarray] | np.ndarray,
    /,
    *,
    sampling_rate: float | None = None,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | None = None,
    metric: str | Metric = "rmse",
    greater_is_better: bool = False,
    modality: str | None = None,
) -> TuneResult:
    """Grid-search a classical filter's parameters on validation pairs.

    Every grid point is applied to every ``noisy`` array and scored against its
    ``clean`` counterpart; the score of a point is the mean over pairs, and the best
    point (the first one on ties) is returned with the whole table. The search is
    deterministic. Signals of equal length are filtered in one call, the pairs
    stacked as channels (each channel is filtered independently, so this is
    exact); images are filtered one by one.

    Parameters
    ----------
    method : {"median", "butterworth", "wavelet"}
        Filter to tune (positional).
    noisy, clean : list of arrays, or an array with the pairs stacked on axis 0
        Validation pairs of equal shapes: signals ``(n_samples,)`` or
        ``(n_samples, n_channels)``, or images / volumes. A stacked array is always
        split along axis 0 (``(n_pairs, n_samples)`` signals, ``(n_pairs, rows, cols)``
        images); pass a single volume as ``[volume]``. Not modified.
    sampling_rate : float, optional
        Sampling rate in Hz: the pairs are signals. Omitted: images.
    grid : dict of lists, or list of dicts, optional
        Search space: ``{"high": [30, 40], "order": [2, 4]}`` (all combinations) or
        explicit points ``[{"low": 0.5, "high": 40}, ...]``. Parameters not in a
        point take ``defaults(modality, method)`` when ``modality`` is given, else
        the filter's own defaults. Default: :func:`default_grid`.
    metric : "rmse" or callable, default "rmse"
        ``"rmse"``: root-mean-square error over all samples of a pair (lower is
        better). A callable ``metric(clean, estimate) -> float`` receives each pair
        in its own shape, the estimate in float64.
    greater_is_better : bool, default False
        Direction of a callable metric (``True`` for SNR, PSNR, SSIM, correlation).
    modality : {"ecg", "eeg", "mri", "xray", "ct"}, optional
        Chooses the default grid and the base parameters; must match the mode
        (ECG/EEG need ``sampling_rate``, images must not have it).

    Returns
    -------
    TuneResult

    Raises
    ------
    biodae._errors.InputError
        (a ``ValueError``) for an unknown method (listing the valid ones), an
        unknown grid parameter (listing the method's parameters), mismatched pairs,
        a modality that contradicts the mode, or an invalid grid point (named).

    References
    ----------
    .. [1] F. P. Romero et al., "Baseline wander removal methods for ECG signals: a
       comparative study", arXiv:1807.11359, 2018 (classical baselines must be tuned
       per noise type before comparing).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(1024) / 360.0
    >>> clean = [np.sin(2 * np.pi * 5 * t + p) for p in (0.0, 1.0)]
    >>> noisy = [c + 0.3 * rng.standard_normal(t.size) for c in clean]
    >>> r = tune("butterworth", noisy, clean, sampling_rate=360.0, grid={"high": [10.0, 100.0]})
    >>> r.params["high"]
    10.0
    """
    method = check_method(method)
    mode = "image" if sampling_rate is None else "signal"
    fs = None if sampling_rate is None else check_sampling_rate(sampling_rate)
    if modality is not None:
        modality = check_modality(modality)
        if mode == "signal" and modality not in SIGNAL_MODALITIES:
            raise InputError(f"modality {modality!r} is an image modality but sampling_rate was given",
                             "omit sampling_rate for images")
        if mode == "image" and modality not in IMAGE_MODALITIES:
            raise InputError(f"modality {modality!r} is a signal modality and needs sampling_rate",
                             "pass sampling_rate=<Hz>")
    if callable(metric):
        metric_fn: Metric = metric
        metric_name = getattr(metric, "__name__", "metric")
        greater = bool(greater_is_better)
    elif metric == "rmse":
        if greater_is_better:
            raise InputError("metric='rmse' is lower-is-better", "drop greater_is_better or pass your own metric")
        metric_fn, metric_name, greater = _rmse, "rmse", False
    else:
        raise InputError(f"metric={metric!r} is not valid", "use 'rmse' or a callable metric(clean, estimate) -> float")

    noisy_list = _split_pairs(noisy, "noisy")
    clean_list = _split_pairs(clean, "clean")
    if len(noisy_list) != len(clean_list):
        raise InputError(f"{len(noisy_list)} noisy arrays but {len(clean_list)} clean ones", "give one clean array per noisy one")
    if not noisy_list:
        raise InputError("no validation pairs given")
    for i, (n_arr, c_arr) in enumerate(zip(noisy_list, clean_list)):
        if n_arr.shape != c_arr.shape:
            raise InputError(f"pair {i}: noisy shape {n_arr.shape} differs from clean shape {c_arr.shape}")
    clean_f = [np.asarray(c, dtype=np.float64) for c in clean_list]

    if mode == "signal":
        prepared = [as_signal(a) for a in noisy_list]
    else:
        prepared = [(as_image(a)[0], False) for a in noisy_list]
    smallest = min((p[0].shape for p in prepared), key=lambda s: int(np.prod(s)))

    if grid is None:
        points = default_grid(method, sampling_rate=fs, modality=modality, shape=smallest)
    else:
        points = _grid_points(method, grid, mode)
    base = defaults(modality, method) if modality is not None else {}
    points = [{**base, **p} for p in points]

    # group equal-length signals so that each grid point is one filter call per group
    groups: dict[int, list[int]] = {}
    if mode == "signal":
        for i, (x2d, _) in enumerate(prepared):
            groups.setdefault(x2d.shape[0], []).append(i)
        stacks = {n: np.concatenate([prepared[i][0] for i in idx], axis=1) for n, idx in groups.items()}

    def estimates(params: dict[str, Any]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(prepared)
        if mode == "signal":
            impl = SIGNAL_IMPL[method]
            for n, idx in groups.items():
                y = impl(stacks[n], fs, **params)
                col = 0
                for i in idx:
                    x2d, was_1d = prepared[i]
                    k = x2d.shape[1]
                    block = y[:, col : col + k]
                    out[i] = block[:, 0] if was_1d else block
                    col += k
        else:
            impl = IMAGE_IMPL[method]
            for i, (img, _) in enumerate(prepared):
                out[i] = impl(img, **params)
        return out  # type: ignore[return-value]

    table: list[dict[str, Any]] = []
    best_i, best_score = -1, math.nan
    for j, params in enumerate(points):
        try:
            ests = estimates(params)
        except BiodaeError as exc:
            raise InputError(f"grid point {params!r} is invalid: {exc.message}", exc.hint) from exc
        score = float(np.mean([float(metric_fn(c, e)) for c, e in zip(clean_f, ests)]))
        table.append({**params, "score": score})
        if best_i < 0 or _better(score, best_score, greater):
            best_i, best_score = j, score
    return TuneResult(
        method=method,
        params=dict(points[best_i]),
        score=best_score,
        table=table,
        metric=metric_name,
        greater_is_better=greater,
    )
