"""Synthetic noise: white Gaussian and power-line (mains) interference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import RNGLike, as_generator, positive_rate

__all__ = ["gaussian", "mains"]


def gaussian(shape: int | Sequence[int], sigma: ArrayLike, *, rng: RNGLike) -> np.ndarray:
    """White Gaussian noise with zero mean.

    Parameters
    ----------
    shape : int or tuple of int
        Output shape, e.g. ``(n_samples, n_channels)`` or ``(rows, cols)``.
    sigma : float or array_like
        Standard deviation in the signal's units; an array broadcasting to ``shape``
        gives e.g. one σ per channel.
    rng : numpy.random.Generator or int or None
        Random source (an int seed gives bitwise-reproducible output).

    Returns
    -------
    ndarray of float64, shape ``shape``
        ``sigma * rng.standard_normal(shape)``.

    Examples
    --------
    >>> gaussian((1000, 2), [1.0, 0.1], rng=0).std(axis=0).round(1)
    array([1. , 0.1])
    """
    sig = np.asarray(sigma, dtype=np.float64)
    if not np.all(np.isfinite(sig)) or np.any(sig < 0):
        raise InputError(f"sigma must be finite and >= 0, got {sigma!r}")
    shp = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shp):
        raise InputError(f"shape must not have negative sizes, got {shape!r}")
    try:
        fits = np.broadcast_shapes(sig.shape, shp) == shp
    except ValueError:
        fits = False
    if not fits:
        raise InputError(f"sigma of shape {sig.shape} does not broadcast to shape {shp}")
    return sig * as_generator(rng).standard_normal(shp)


def mains(
    n_samples: int,
    *,
    sampling_rate: float,
    frequency: float,
    amplitude: float,
    rng: RNGLike,
    harmonics: Sequence[float] = (1.0,),
    drift: float = 0.0,
    drift_frequency: float = 0.1,
) -> np.ndarray:
    """Power-line interference: a 50 or 60 Hz sinusoid, its harmonics and a slow drift.

    ``m(t) = amplitude · (1 + drift · sin(2π f_d t + φ_d)) · Σ_k h_k sin(2π k f t + φ_k)``
    with ``h_k = harmonics[k-1]`` and random phases ``φ_k``, ``φ_d`` drawn uniformly
    from ``[0, 2π)``.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    sampling_rate : float
        Sampling rate in Hz.
    frequency : float
        Mains frequency in Hz: 50 (Europe, most of Asia and Africa) or 60 (the Americas,
        parts of Asia). Deliberately no default. Other values are accepted.
    amplitude : float
        Peak amplitude of the fundamental, in the signal's units (e.g. mV).
    rng : numpy.random.Generator or int or None
        Random source for the phases (an int seed gives bitwise-reproducible output).
    harmonics : sequence of float, optional
        Relative amplitudes of the fundamental and its harmonics: ``(1.0,)`` (default) is
        a pure sinusoid, ``(1.0, 0.0, 0.3)`` adds 30% of the third harmonic. Every
        harmonic with a non-zero amplitude must lie below the Nyquist frequency.
    drift : float, optional
        Depth of a slow sinusoidal amplitude modulation, in ``[0, 1)``; 0 (default) is
        none, 0.2 makes the amplitude swing ±20%.
    drift_frequency : float, optional
        Rate of that modulation in Hz (default 0.1 Hz, one cycle per 10 s).

    Returns
    -------
    ndarray of float64, shape (n_samples,)
        The interference, to add to one channel (or broadcast to several).

    Raises
    ------
    InputError
        A harmonic at or above Nyquist, a negative amplitude, drift outside ``[0, 1)``.

    References
    ----------
    .. [1] G. D. Clifford, F. Azuaje, P. McSharry, "Advanced Methods and Tools for ECG
       Data Analysis", Artech House, 2006, ch. 3 (power-line interference).
    """
    fs = positive_rate(sampling_rate)
    f0 = positive_rate(frequency, "frequency")
    n = int(n_samples)
    if n < 0:
        raise InputError(f"n_samples must be >= 0, got {n_samples!r}")
    if not (np.isfinite(amplitude) and amplitude >= 0):
        raise InputError(f"amplitude must be finite and >= 0, got {amplitude!r}")
    if not (0.0 <= drift < 1.0):
        raise InputError(f"drift must lie in [0, 1), got {drift!r}")
    fd = positive_rate(drift_frequency, "drift_frequency")
    h = np.asarray(harmonics, dtype=np.float64).ravel()
    if h.size == 0 or not np.all(np.isfinite(h)):
        raise InputError(f"harmonics must be a non-empty sequence of finite numbers, got {harmonics!r}")
    orders = np.arange(1, h.size + 1)
    too_high = orders[(h != 0) & (orders * f0 >= fs / 2)]
    if too_high.size:
        raise InputError(
            f"harmonic(s) {', '.join(f'{k * f0:g} Hz' for k in too_high)} at or above the Nyquist "
            f"frequency {fs / 2:g} Hz would alias",
            "drop them from harmonics or raise sampling_rate",
        )
    gen = as_generator(rng)
    phases = gen.uniform(0.0, 2.0 * np.pi, size=h.size)
    drift_phase = gen.uniform(0.0, 2.0 * np.pi)
    t = np.arange(n) / fs
    wave = np.zeros(n)
    for k, hk, ph in zip(orders, h, phases):
        if hk != 0:
            wave += hk * np.sin(2.0 * np.pi * k * f0 * t + ph)
    envelope = 1.0 + drift * np.sin(2.0 * np.pi * fd * t + drift_phase)
    return amplitude * envelope * wave
