"""Filter registry and name-based dispatch (:func:`apply`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from biodae._errors import InputError
from biodae.filters._butterworth import butterworth, butterworth_image, butterworth_signal
from biodae.filters._defaults import check_method
from biodae.filters._median import median, median_image, median_signal
from biodae.filters._wavelet import wavelet, wavelet_image, wavelet_signal

__all__ = ["apply"]

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "median": median,
    "butterworth": butterworth,
    "wavelet": wavelet,
}
#: Implementations on validated arrays: ``impl(x2d, fs, **params)`` for signals.
SIGNAL_IMPL: dict[str, Callable[..., np.ndarray]] = {
    "median": median_signal,
    "butterworth": butterworth_signal,
    "wavelet": wavelet_signal,
}
#: Implementations on validated arrays: ``impl(img, **params)`` for images.
IMAGE_IMPL: dict[str, Callable[..., np.ndarray]] = {
    "median": median_image,
    "butterworth": butterworth_image,
    "wavelet": wavelet_image,
}


def _keyword_only(func: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(
        p.name for p in inspect.signature(func).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "sampling_rate"
    )


def parameters(method: str, mode: str | None = None) -> tuple[str, ...]:
    """Parameter names of a filter: all of them, or those of ``mode`` ("signal" or "image")."""
    check_method(method)
    if mode is None:
        return _keyword_only(FUNCTIONS[method])
    return _keyword_only((SIGNAL_IMPL if mode == "signal" else IMAGE_IMPL)[method])


def check_params(method: str, names: object, mode: str | None = None) -> None:
    """Raise if any of ``names`` is not a parameter of ``method`` (in ``mode`` if given)."""
    valid = parameters(method, mode)
    unknown = [n for n in names if n not in valid]  # type: ignore[attr-defined]
    if unknown:
        where = f" for {mode}s" if mode else ""
        raise InputError(
            f"unknown parameter(s) {', '.join(repr(u) for u in unknown)} for filter {method!r}{where}",
            f"valid parameters: {', '.join(valid)}",
        )


def apply(method: str, x: np.ndarray, /, *, sampling_rate: float | None = None, **params: Any) -> np.ndarray:
    """Run a classical filter chosen by name.

    ``apply("wavelet", x, sampling_rate=fs, wavelet="sym8")`` is
    ``wavelet(x, sampling_rate=fs, wavelet="sym8")``, with the method name and
    every parameter name checked first, so that a typo fails at once with the list
    of valid names. Combine with :func:`defaults` or a :class:`TuneResult`:
    ``apply(r.method, x, sampling_rate=fs, **r.params)``.

    Parameters
    ----------
    method : {"median", "butterworth", "wavelet"}
        Filter name (positional).
    x : array_like
        Signal ``(n_samples,)`` / ``(n_samples, n_channels)`` with ``sampling_rate``,
        or image / volume without it (positional). Not modified.
    sampling_rate : float, optional
        Sampling rate in Hz; selects signal mode.
    **params
        Keyword parameters of that filter.

    Returns
    -------
    ndarray
        The filtered array (see the filter's own documentation).

    Raises
    ------
    biodae._errors.InputError
        (a ``ValueError``) for an unknown method (listing ``"median"``,
        ``"butterworth"``, ``"wavelet"``) or an unknown parameter (listing the
        method's parameters), and whatever the filter itself refuses.

    References
    ----------
    See :func:`median`, :func:`butterworth` and :func:`wavelet`.
    """
    check_method(method)
    check_params(method, params)
    return FUNCTIONS[method](x, sampling_rate=sampling_rate, **params)
