"""``biodae filter``: a classical filter (median, Butterworth, wavelet) through the real I/O."""

from __future__ import annotations

import argparse

from .._errors import InputError
from ._common import add_io_arguments, run_batch

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
    p.add_argument("--method", "-m", required=True, choices=["median", "butterworth", "wavelet"])
    p.add_argument("--modality", choices=["ecg", "eeg", "mri", "xray", "ct"], help="override the detected modality")
    g = p.add_argument_group("butterworth (signals: zero-phase; images: frequency-domain low-pass)")
    g.add_argument("--low", type=float, metavar="HZ", help="high-pass corner (Hz)")
    g.add_argument("--high", type=float, metavar="HZ", help="low-pass corner (Hz)")
    g.add_argument("--order", type=int)
    g.add_argument("--notch", type=float, metavar="HZ", help="mains notch, 50 or 60 Hz")
    g.add_argument("--cutoff", type=float, metavar="FRACTION", help="images: cut-off as a fraction of Nyquist")
    g = p.add_argument_group("median")
    g.add_argument("--window", type=float, metavar="S", help="signals: window in seconds")
    g.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=None,
        help="signals: subtract the two-pass (200/600 ms) median baseline (--no-baseline to turn off)",
    )
    g.add_argument("--size", type=int, metavar="PX", help="images: window size in pixels")
    g = p.add_argument_group("wavelet")
    g.add_argument("--wavelet", metavar="NAME", help="e.g. db4, sym8")
    g.add_argument("--level", type=int)
    g.add_argument("--threshold", choices=["soft", "hard"])
    g.add_argument("--shrink", choices=["bayes", "visu"])
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


def run(args) -> int:
    from .. import filters
    from .._batch import Filter

    params = _params(args)
    if args.method not in filters.METHODS:  # pragma: no cover - argparse guards this
        raise InputError(f"unknown method {args.method!r}", f"choose one of {', '.join(filters.METHODS)}")
    return run_batch(args, Filter(args.method, params, args.modality), tag="_filtered").exit_status
