"""Which number format runs a model: ``precision="fp32" | "int8" | "auto"``.

A variant lives beside its float32 file as ``<stem>.<precision>.onnx`` (``models/ecg.int8.onnx`` beside
``models/ecg.onnx``); it is never a model of its own (:func:`biodae.runtime.available_models` leaves it out).
``"auto"`` takes the int8 variant only when all of these hold, and float32 otherwise:

1. the variant exists, is an int8 biodae model, and was made from this float32 file's weights
   (``biodae.source_weights_sha256`` equals the float32 file's ``biodae.weights_sha256``);
2. its metadata record that it passed its quality limit against float32 on its benchmark
   (``biodae.int8_validation``: ``"quality_passed": true``) and was measured faster than float32
   at every thread count measured (``"speedup"``, all above 1);
3. the CPU has int8 dot-product instructions (:func:`cpu_int8_dot`): AVX-512 VNNI or AVX-VNNI on x86-64.

The session runs on the CPU (``device="cpu"``): on a GPU ``"auto"`` is float32.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from .._errors import InputError

__all__ = [
    "PRECISIONS",
    "VARIANT_PRECISIONS",
    "Resolved",
    "cpu_int8_dot",
    "int8_validation",
    "is_variant_file",
    "resolve_precision",
    "variant_path",
]

#: What ``precision=`` accepts.
PRECISIONS = ("fp32", "int8", "auto")
#: The suffixes a variant file carries before ``.onnx`` (``ecg.int8.onnx``, ``ecg.fp16.onnx``).
VARIANT_PRECISIONS = ("int8", "fp16")

#: /proc/cpuinfo flags that mean int8 dot-product instructions onnxruntime's int8 kernels use (x86-64).
_DOT_FLAGS = ("avx512_vnni", "avx_vnni")


def _cpuinfo_flags(path: str = "/proc/cpuinfo") -> set[str] | None:
    """The CPU flags the Linux kernel lists, or None where there is no such file."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_int8_dot() -> tuple[bool, str]:
    """Whether this CPU has int8 dot-product instructions, and why it was decided so.

    Linux: the ``flags`` of ``/proc/cpuinfo`` name ``avx512_vnni`` (AVX-512 VNNI) or ``avx_vnni``
    (AVX-VNNI). Other systems (macOS, Windows) are not read: the answer is no, so ``precision="auto"``
    stays float32 there (pass ``precision="int8"`` to choose the variant yourself). The flags on an
    ARM CPU are not taken as a yes: the shipped variants were measured on x86-64 only.
    """
    if platform.system() != "Linux":
        return False, f"CPU flags not read on {platform.system() or 'this system'}"
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return False, f"int8 variants measured on x86-64 only; this CPU is {machine}"
    flags = _cpuinfo_flags()
    if flags is None:
        return False, "/proc/cpuinfo is not readable"
    found = [f for f in _DOT_FLAGS if f in flags]
    if found:
        return True, f"CPU flags: {', '.join(found)}"
    return False, "no AVX-512 VNNI or AVX-VNNI in the CPU flags"


def variant_path(path: str | os.PathLike, precision: str) -> Path:
    """Where the ``precision`` variant of the float32 file ``path`` lies: ``<stem>.<precision>.onnx`` beside it."""
    p = Path(path)
    return p.with_name(f"{p.stem}.{precision}.onnx")


def is_variant_file(path: str | os.PathLike) -> bool:
    """True for a file named like a variant (``ecg.int8.onnx``)."""
    p = Path(path)
    return p.suffix.lower() == ".onnx" and Path(p.stem).suffix.lstrip(".") in VARIANT_PRECISIONS


def _metadata(path: Path) -> dict[str, str]:
    from ._contract import load_onnx

    return {p.key: p.value for p in load_onnx(path).metadata_props}


def int8_validation(meta: dict[str, str]) -> dict:
    """The parsed ``biodae.int8_validation`` entry of an int8 variant's metadata (``{}`` when absent or unreadable)."""
    try:
        v = json.loads(meta.get("biodae.int8_validation") or "{}")
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


@dataclass(frozen=True)
class Resolved:
    """The file that runs, its precision, and why it was chosen."""

    path: Path
    precision: str
    reason: str


def _auto_problems(fp32: Path, variant: Path) -> list[str]:
    """Why the int8 ``variant`` of ``fp32`` may not be chosen by ``"auto"`` (empty: it may)."""
    if not variant.is_file():
        return [f"no int8 variant ({variant.name})"]
    meta, base = _metadata(variant), _metadata(fp32)
    out = []
    if meta.get("biodae.precision") != "int8":
        out.append(f"{variant.name} is not an int8 model")
    src, own = meta.get("biodae.source_weights_sha256"), base.get("biodae.weights_sha256")
    if not src or not own or src != own:
        out.append(f"{variant.name} was not made from these float32 weights")
    v = int8_validation(meta)
    if v.get("quality_passed") is not True:
        out.append(f"{variant.name} is not recorded as within its quality limit")
    speed = v.get("speedup") or {}
    if not speed or not all(isinstance(s, (int, float)) and s > 1.0 for s in speed.values()):
        out.append(f"{variant.name} is not recorded as faster than float32")
    return out


def resolve_precision(path: str | os.PathLike, precision: str, *, device: str = "cpu", name: str | None = None,
                      shipped: list[str] | None = None) -> Resolved:
    """The file to run for the float32 model file ``path`` at ``precision`` (see the module for ``"auto"``).

    Parameters
    ----------
    path : path-like
        The float32 ``.onnx`` file (a file that is itself a variant runs as it is, with ``precision`` "fp32" or
        its own).
    precision : {"fp32", "int8", "auto"}
    device : str
        ``"auto"`` is float32 on a GPU; ``"int8"`` on a GPU is refused.
    name : str, optional
        How errors name the model.
    shipped : list of str, optional
        The shipped models that have an int8 variant, for the error message.

    Raises
    ------
    InputError
        An unknown precision, or ``"int8"`` with no int8 variant beside ``path`` (the message says which
        shipped models have one).
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r} is not known", f"choose one of {', '.join(PRECISIONS)}")
    p = Path(path)
    label = name or p.stem
    if precision == "fp32":
        return Resolved(p, "fp32", "asked for")
    own = _metadata(p).get("biodae.precision", "fp32")
    if own != "fp32":  # a variant file given directly
        if precision == "int8" and own != "int8":
            raise InputError(f"{p.name} is a {own} model, not an int8 one", "pass its float32 file with precision='int8'")
        return Resolved(p, own, "the file given is this variant")
    variant = variant_path(p, "int8")
    if precision == "int8":
        if device != "cpu":
            raise InputError(f"precision='int8' with device={device!r}: the int8 variants are for CPUs",
                             "use device='cpu' with int8, or precision='fp32' on a GPU")
        if not variant.is_file():
            have = ", ".join(shipped) if shipped else "none"
            raise InputError(f"model {label!r} has no int8 variant ({variant.name} beside {p.name})",
                             f"shipped models with one: {have}; use precision fp32 or auto")
        return Resolved(variant, "int8", "asked for")
    if device != "cpu":
        return Resolved(p, "fp32", f"auto: int8 is for CPUs, device={device}")
    problems = _auto_problems(p, variant)
    if problems:
        return Resolved(p, "fp32", "auto: " + "; ".join(problems))
    ok, why = cpu_int8_dot()
    if not ok:
        return Resolved(p, "fp32", f"auto: {why}")
    return Resolved(variant, "int8", f"auto: measured within its quality limit and faster; {why}")
