"""``biodae filter``: a classical filter (median, Butterworth, wavelet) through the real I/O."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .._batch import Filter
from .._errors import BiodaeError, InputError
from ..types import MODALITIES
from ._common import add_io_arguments, run_batch
from ._flags import fraction, in_flags, odd_int, positive_float, positive_int
from ._plot import check_plot

# CLI option -> (filter parameter, methods it applies to)
_OPTIONS = {
    "low": ("low", ("butterworth",)),
    "high": ("high", ("butterworth",)),
    "order": ("order", ("butterworth",)),
    "notch": ("notch", ("butterworth",)),
    "cutoff": ("cutoff", ("butterworth",)),
    "window": ("window_s", ("median",)),
    "baseline": ("baseline", ("median",)),
    "size": ("size", ("median",)),
    "wavelet": ("wavelet", ("wavelet",)),
    "level": ("level", ("wavelet",)),
    "threshold": ("mode", ("wavelet",)),
    "shrink": ("method", ("wavelet",)),
    "remove_baseline": ("remove_baseline", ("wavelet",)),
}
# filter parameter -> the flag that sets it, for errors a filter raises (the library names parameters)
_FLAGS = {param: "--" + opt.replace("_", "-") for opt, (param, _) in _OPTIONS.items()}
_FLAGS["sampling_rate"] = "the sampling rate"
_NEGATED = {"baseline": "--no-baseline", "remove_baseline": "--no-remove-baseline"}
# parameters that exist for one kind of data only
_SIGNAL_ONLY = ("low", "high", "notch", "window_s", "baseline", "remove_baseline")
_IMAGE_ONLY = ("size", "cutoff")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "filter",
        help="clean files with a classical filter (median, Butterworth, wavelet)",
        description=(
            "Filter a file or every file in a directory with a classical filter. Parameters not given "
            "come from the defaults for the data's modality (see biodae.filters.defaults). Outputs keep "
            "the input's format and bit depth; without --out-dir they are written beside the input "
            "with '_filtered' added."
        ),
    )
    add_io_arguments(p)
    p.add_argument("--method", "-m", required=True, choices=["median", "butterworth", "wavelet"],
                   help="the filter; the options of the groups below apply to one method each")
    p.add_argument("--modality", choices=MODALITIES,
                   help="override the detected modality (its default parameters are used, and every channel "
                        "of a signal is filtered)")
    g = p.add_argument_group("butterworth (signals: zero-phase; images: frequency-domain low-pass)")
    g.add_argument("--low", type=positive_float, metavar="HZ", help="signals: high-pass corner (Hz)")
    g.add_argument("--high", type=positive_float, metavar="HZ", help="signals: low-pass corner (Hz)")
    g.add_argument("--order", type=positive_int, metavar="N",
                   help="Butterworth order (signals: per direction of the zero-phase filter, 1 to 20, typically "
                        "2 to 5; images: the exponent of the low-pass)")
    g.add_argument("--notch", type=positive_float, metavar="HZ", help="signals: mains notch, 50 or 60 Hz")
    g.add_argument("--cutoff", type=fraction, metavar="FRACTION",
                   help="images: cut-off as a fraction of the Nyquist frequency, in (0, 1]")
    g = p.add_argument_group("median")
    g.add_argument("--window", type=positive_float, metavar="S", help="signals: window in seconds")
    g.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=None,
        help="signals: subtract the two-pass (200/600 ms) median baseline (--no-baseline to turn off)",
    )
    g.add_argument("--size", type=odd_int, metavar="PX", help="images: window size in pixels (odd: 3, 5...)")
    g = p.add_argument_group("wavelet")
    g.add_argument("--wavelet", metavar="NAME", help="a discrete PyWavelets wavelet, e.g. db4, sym8")
    g.add_argument("--level", type=positive_int, metavar="N",
                   help="number of detail levels thresholded, finest first (default: the largest possible "
                        "level minus 3, at least 1)")
    g.add_argument("--threshold", choices=["soft", "hard"],
                   help="thresholding of the detail coefficients: soft (shrink) or hard (keep or zero)")
    g.add_argument("--shrink", choices=["bayes", "visu"],
                   help="how the threshold is chosen: BayesShrink (per sub-band) or VisuShrink (universal)")
    g.add_argument(
        "--remove-baseline", action=argparse.BooleanOptionalAction, default=None,
        help="signals: also remove baseline wander (--no-remove-baseline to turn off)",
    )
    p.set_defaults(run=run)


def _params(args) -> dict:
    params = {}
    for opt, (param, methods) in _OPTIONS.items():
        value = getattr(args, opt)
        if value is None:
            continue
        if args.method not in methods:
            flag = "--" + opt.replace("_", "-")
            raise InputError(
                f"option {flag} does not apply to --method {args.method}",
                f"it is a {'/'.join(methods)} option; see 'biodae filter --help'",
            )
        params[param] = value
    return params


@dataclass(frozen=True)
class CliFilter(Filter):
    """The filter step of the command: options that do not fit the file, and the library's
    errors, are told in flags (``--window``, not ``window_s``)."""

    def __call__(self, obj):
        from .. import io

        kind, wrong = ("signal", _IMAGE_ONLY) if isinstance(obj, io.Signal) else ("image", _SIGNAL_ONLY)
        given = [_FLAGS[p] for p in wrong if p in self.params]
        if given:
            other = "images" if kind == "signal" else "signals"
            raise InputError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to {other}, and this "
                             f"file is {'a signal record' if kind == 'signal' else 'an image'}",
                             f"drop {', '.join(given)} (see 'biodae filter --help')")
        try:
            return super().__call__(obj)
        except BiodaeError as exc:
            raise in_flags(exc, _FLAGS, negated=_NEGATED, assigned_only=("mode", "method")) from exc


def _check(args) -> None:
    """Checks of the options against each other, before any file is read."""
    if args.low is not None and args.high is not None and args.low >= args.high:
        raise InputError(f"--low {args.low:g} Hz must be below --high {args.high:g} Hz",
                         "--low is the high-pass corner, --high the low-pass corner")
    if args.wavelet is not None:
        import pywt

        if args.wavelet not in pywt.wavelist(kind="discrete"):
            raise InputError(f"--wavelet {args.wavelet}: not a discrete wavelet known to PyWavelets",
                             "e.g. db4, sym8, coif3 (python -c \"import pywt; print(pywt.wavelist(kind='discrete'))\" "
                             "lists all)")


def run(args) -> int:
    from .. import filters

    params = _params(args)
    if args.method not in filters.METHODS:  # pragma: no cover - argparse guards this
        raise InputError(f"unknown method {args.method!r}", f"choose one of {', '.join(filters.METHODS)}")
    _check(args)
    check_plot(args, tag="_filtered")
    return run_batch(args, CliFilter(args.method, params, args.modality), tag="_filtered").exit_status
