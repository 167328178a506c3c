"""Mixing clean signals and noise at a chosen signal-to-noise ratio."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError
from ._common import as_finite_array, check_choice, float_dtype

__all__ = ["Mixture", "mix_at_snr", "nominal_to_true_db", "true_to_nominal_db", "SNR_DEFINITIONS"]

#: Valid values of ``mix_at_snr(definition=...)``.
SNR_DEFINITIONS = ("standard", "eegdenoisenet")


class Mixture(NamedTuple):
    """What :func:`mix_at_snr` returns (a named tuple: ``noisy, noise, scale = ...``).

    Attributes
    ----------
    noisy : ndarray, same shape as ``clean``
        ``clean + scale * noise``.
    noise : ndarray, same shape as ``clean``
        The noise actually added, ``scale * noise`` (so ``noisy - clean`` up to rounding).
    scale : ndarray
        The factor λ applied to the noise (float64): the shape of ``clean`` with the
        reduced axes set to 1, so it broadcasts against ``clean`` (``(1, 1)`` for a 2-D
        array with ``axis=None``).
    """

    noisy: np.ndarray
    noise: np.ndarray
    scale: np.ndarray


def nominal_to_true_db(snr_nominal_db: ArrayLike) -> np.ndarray | float:
    """Convert an EEGdenoiseNet-nominal SNR to a true power SNR in dB.

    EEGdenoiseNet's code sets ``RMS(x) / RMS(λn) = 10 ** (snr / 10)``: its "dB" is
    10·log10 of an *amplitude* ratio, so the true power SNR is twice the nominal value
    (their grid −7…2 "dB" is a true −14…4 dB).

    Parameters
    ----------
    snr_nominal_db : float or array_like
        SNR in EEGdenoiseNet's nominal "dB".

    Returns
    -------
    float or ndarray
        The same SNR as 10·log10(P_clean / P_noise), in dB.

    References
    ----------
    .. [1] H. Zhang et al., "EEGdenoiseNet: a benchmark dataset for deep learning
       solutions of EEG denoising", J. Neural Eng. 18:056057, 2021.

    Examples
    --------
    >>> nominal_to_true_db(-7)
    -14.0
    """
    out = 2.0 * np.asarray(snr_nominal_db, dtype=np.float64)
    return float(out) if out.ndim == 0 else out


def true_to_nominal_db(snr_true_db: ArrayLike) -> np.ndarray | float:
    """Convert a true power SNR in dB to EEGdenoiseNet's nominal "dB" (half of it).

    Parameters
    ----------
    snr_true_db : float or array_like
        SNR as 10·log10(P_clean / P_noise), in dB.

    Returns
    -------
    float or ndarray
        The nominal value to feed EEGdenoiseNet's recipe, see :func:`nominal_to_true_db`.

    References
    ----------
    .. [1] H. Zhang et al., J. Neural Eng. 18:056057, 2021.

    Examples
    --------
    >>> true_to_nominal_db(4.0)
    2.0
    """
    out = 0.5 * np.asarray(snr_true_db, dtype=np.float64)
    return float(out) if out.ndim == 0 else out


def _normalize_axis(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    norm = set()
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise InputError(f"axis {axis!r} is out of range for an array with {ndim} dimension(s)")
        norm.add(a % ndim)
    return tuple(sorted(norm))


def mix_at_snr(
    clean: ArrayLike,
    noise: ArrayLike,
    snr_db: ArrayLike,
    *,
    definition: str = "standard",
    axis: int | tuple[int, ...] | None = None,
    remove_mean: bool = False,
) -> Mixture:
    """Add noise to a clean signal or image, scaled to hit a target SNR exactly.

    The noise is scaled by λ and added: ``noisy = clean + λ·noise``. With
    ``definition="standard"``, λ is chosen so that

        10·log10(P(clean) / P(λ·noise)) = snr_db,

    where P is the plain mean square of the array as given (no mean removed unless
    ``remove_mean=True``). The result hits the target to ~1e-12 dB in float64.

    Parameters
    ----------
    clean : array_like of float, any shape
        Clean signal or image (any units).
    noise : array_like of float, same shape as ``clean``
        Noise to scale and add (any units; only its shape over time/space matters).
    snr_db : float or array_like
        Target SNR in dB, under ``definition``. A scalar, or an array that broadcasts to
        the shape of ``clean`` with ``axis`` removed (one SNR per epoch, per channel...).
    definition : {"standard", "eegdenoisenet"}, optional
        ``"standard"`` (default): true power SNR, 10·log10 of a mean-square ratio.
        ``"eegdenoisenet"``: EEGdenoiseNet's nominal SNR, for which
        ``RMS(clean) / RMS(λ·noise) = 10 ** (snr_db / 10)``; its nominal value is half
        the true dB (nominal −7…2 is true −14…4 dB, see :func:`nominal_to_true_db`).
        Always say which one a result uses.
    axis : int or tuple of int or None, optional
        Axes over which one power is measured (and one λ applied). ``None`` (default):
        the whole array gets a single λ. For a signal of shape ``(n_samples, n_channels)``
        use ``axis=0`` for one λ per channel; for epochs ``(n_epochs, n_samples)`` use
        ``axis=-1`` for one λ per epoch, as EEGdenoiseNet does.
    remove_mean : bool, optional
        If True, powers are variances (mean over ``axis`` removed before squaring). Only
        the power measurement changes: the noise is added with its mean, as given.

    Returns
    -------
    Mixture
        Named tuple ``(noisy, noise, scale)``: the noisy array, the scaled noise that was
        added and λ (broadcastable to ``clean``). Arrays are float32 if both inputs are
        float32 (or smaller), float64 otherwise; λ is computed in float64.

    Raises
    ------
    InputError
        Shapes differ, an input holds NaN/inf, the noise (or the clean signal) has zero
        power over some slice, ``snr_db`` does not broadcast, or ``definition`` is unknown.

    References
    ----------
    .. [1] H. Zhang et al., "EEGdenoiseNet: a benchmark dataset for deep learning
       solutions of EEG denoising", J. Neural Eng. 18:056057, 2021 (their
       ``get_rms``-based scaling is the ``"eegdenoisenet"`` definition).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.sin(np.linspace(0, 20, 1000)); n = rng.standard_normal(1000)
    >>> noisy, added, lam = mix_at_snr(x, n, 6.0)
    >>> round(float(10 * np.log10(np.mean(x**2) / np.mean(added**2))), 9)
    6.0
    """
    check_choice(definition, SNR_DEFINITIONS, "SNR definition")
    x = as_finite_array(clean, "clean")
    n = as_finite_array(noise, "noise")
    if x.shape != n.shape:
        raise InputError(f"clean and noise shapes differ: {x.shape} vs {n.shape}", "cut the noise to the clean length")
    out_dtype = float_dtype(x.dtype, n.dtype)
    x64 = x.astype(np.float64, copy=False)
    n64 = n.astype(np.float64, copy=False)
    axes = _normalize_axis(axis, x.ndim)

    def power(a: np.ndarray) -> np.ndarray:
        if remove_mean:
            a = a - a.mean(axis=axes, keepdims=True)
        return np.mean(np.square(a), axis=axes, keepdims=True)

    p_clean = power(x64)
    p_noise = power(n64)
    if np.any(p_noise == 0):
        raise InputError(
            f"noise has zero power in {int(np.count_nonzero(p_noise == 0))} slice(s) over axis {axis!r}",
            "an all-zero (or, with remove_mean, constant) noise cannot be scaled to an SNR",
        )
    if np.any(p_clean == 0):
        raise InputError(
            f"clean signal has zero power in {int(np.count_nonzero(p_clean == 0))} slice(s) over axis {axis!r}",
            "the SNR of an all-zero signal is undefined; drop those slices",
        )

    reduced_shape = np.squeeze(p_clean, axis=axes).shape if x.ndim else ()
    snr = np.asarray(snr_db, dtype=np.float64)
    if not np.all(np.isfinite(snr)):
        raise InputError("snr_db holds NaN or infinite value(s)")
    try:
        snr = np.broadcast_to(snr, reduced_shape)
    except ValueError:
        raise InputError(
            f"snr_db of shape {snr.shape} does not broadcast to {reduced_shape} "
            f"(the shape of clean {x.shape} with axis {axis!r} removed)"
        ) from None
    snr = np.expand_dims(snr, axes) if x.ndim else snr

    if definition == "standard":
        # P(clean) / (λ² P(noise)) = 10^(snr/10)
        lam = np.sqrt(p_clean / (p_noise * 10.0 ** (snr / 10.0)))
    else:
        # RMS(clean) / (λ RMS(noise)) = 10^(snr/10)
        lam = np.sqrt(p_clean) / (np.sqrt(p_noise) * 10.0 ** (snr / 10.0))

    scaled = lam * n64
    noisy = x64 + scaled
    return Mixture(noisy.astype(out_dtype, copy=False), scaled.astype(out_dtype, copy=False), lam)
