"""Command-line words for command-line users: option types that name the flag, and library
errors told in flags (``--window``) instead of Python parameters (``window_s=``)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Collection, Mapping

from .._errors import BiodaeError

__all__ = ["positive_float", "fraction", "positive_int", "odd_int", "threads", "to_flags", "in_flags", "PARAMETERS",
           "command_line_words", "for_the_command_line"]


def _number(text: str, kind: type) -> float | int:
    try:
        v = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (frequencies in Hz, durations in s)."""
    v = float(_number(text, float))
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return v


def fraction(text: str) -> float:
    """argparse type: a number in (0, 1] (a fraction of the Nyquist frequency)."""
    v = float(_number(text, float))
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be a fraction of the Nyquist frequency in (0, 1], got {text}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an integer of 1 or more."""
    v = int(_number(text, int))
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return v


def odd_int(text: str) -> int:
    """argparse type: an odd integer of 1 or more (a window size in pixels)."""
    v = int(_number(text, int))
    if v < 1 or v % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be an odd number of pixels (3, 5, 7...), got {text}")
    return v


def threads(text: str) -> int:
    """argparse type: 0 (automatic) or more threads."""
    v = int(_number(text, int))
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more (0 or leave it out: automatic), got {text}")
    return v


def to_flags(text: str | None, flags: Mapping[str, str], *, negated: Mapping[str, str] | None = None,
             assigned_only: Collection[str] = ()) -> str | None:
    """``text`` with the Python parameter names of ``flags`` replaced by their command-line flags.

    ``flags`` maps a parameter to its flag (``{"window_s": "--window"}``) or to words
    (``{"sampling_rate": "the sampling rate"}``): ``name=value`` becomes ``--flag value``,
    ``name=True`` the flag alone, ``name=False`` its ``negated`` form, ``name=`` alone (as in
    "leave out model=") the flag, and a bare ``name`` becomes ``--flag``, but for the names in
    ``assigned_only`` (common words such as ``model`` or ``mode``), replaced in their ``name=``
    forms only.
    """
    if not text:
        return text
    negated = negated or {}
    for name in sorted(flags, key=len, reverse=True):
        flag = flags[name]
        pre = r"(?<![\w.\-'])" + re.escape(name)
        text = re.sub(pre + r"=True\b", flag, text)
        if name in negated:
            text = re.sub(pre + r"=False\b", negated[name], text)
        text = re.sub(pre + r"=(?=[\s,;:)]|$)", flag, text)
        text = re.sub(pre + r"=", flag + " ", text)
        if name not in assigned_only:
            text = re.sub(pre + r"(?![\w\-=])", flag, text)
    return text


def in_flags(exc: BiodaeError, flags: Mapping[str, str], *, negated: Mapping[str, str] | None = None,
             assigned_only: Collection[str] = ()) -> BiodaeError:
    """``exc`` told in flags (:func:`to_flags` on its message and hint); a new error of the same class."""
    kw = {"negated": negated, "assigned_only": assigned_only}
    return type(exc)(to_flags(exc.message, flags, **kw), to_flags(exc.hint, flags, **kw))


#: The library's parameters that every command offers as a flag of the same meaning. Library errors
#: name the parameter in its ``name=`` form ("leave out model= to ..."); the command says the flag.
PARAMETERS = {
    "model": "--model", "device": "--device", "threads": "--threads", "axis": "--axis", "mask": "--mask",
    "save_noise": "--save-noise", "modality": "--modality", "force": "--force", "backend": "--backend",
    "jobs": "--jobs", "scheduler": "--scheduler", "out_dir": "--out-dir", "report": "--report",
    "checkpoint_dir": "--out-dir", "epochs": "--epochs", "data_dir": "--data", "annotator": "--annotator",
}


def command_line_words(text: str | None) -> str | None:
    """A library message as the command line says it: parameters as flags (:data:`PARAMETERS`),
    and "pass --force (force=True)" with the flag alone."""
    if not text:
        return text
    text = text.replace(" (force=True)", "").replace(" (force=)", "")
    return to_flags(text, PARAMETERS, assigned_only=tuple(PARAMETERS))


def for_the_command_line(exc: BiodaeError) -> str:
    """The one line the command prints for ``exc`` (:func:`command_line_words`)."""
    return command_line_words(str(exc)) or ""
