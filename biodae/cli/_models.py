"""``biodae models [NAME]``: the shipped models, as their ONNX metadata describes them."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError

__all__ = ["add_parser", "run", "read_metadata", "describe"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list the shipped models: modality, version, the rate or pixel size they expect, model card",
        description="List the models shipped with biodae (models/*.onnx, installed as biodae.models): name, "
                    "version, modality, the sampling rate (signals) or pixel spacing (images) they expect, their "
                    "input and output, and their model card. Everything shown is read from each file's biodae.* "
                    "metadata (docs/onnx.md). With NAME: that model's full metadata.",
    )
    p.add_argument("name", metavar="NAME", nargs="?",
                   help="a shipped model (e.g. ecg) or an .onnx file: print all its metadata and its card's path")
    p.set_defaults(run=run)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (``biodae.*`` keys and ``producer``), read with ``onnx``
    (no inference session is built)."""
    import onnx

    p = Path(path)
    try:
        proto = onnx.load(os.fspath(p), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError for a truncated file, onnx's own errors
        raise InputError(f"{p}: not a readable ONNX model ({type(exc).__name__})",
                         "the file may be truncated or not ONNX: copy or export it again") from exc
    meta = {e.key: e.value for e in proto.metadata_props}
    if "biodae.name" not in meta:
        raise InputError(f"{p}: not a biodae model (no biodae.* metadata)",
                         "export models with 'biodae export' (docs/onnx.md is the contract)")
    return meta


def _card(path: Path) -> Path | None:
    card = path.with_suffix(".md")
    return card if card.is_file() else None


def _expects(meta: dict[str, str]) -> str:
    """The sampling rate (signals) or pixel spacing (images) a model expects, in words."""
    rate = meta.get("biodae.sampling_rate", "")
    units = meta.get("biodae.units", "")
    if rate:
        window = meta.get("biodae.window", "")
        text = f"{float(rate):g} Hz" + (f", {units}" if units else "")
        text += " (records at other rates are resampled to it and back)"
        return text + (f"; windows of {window} samples" if window and window != "0" else "")
    spacing = meta.get("biodae.pixel_spacing", "")
    tile = meta.get("biodae.tile", "")
    text = f"pixel spacing: {spacing}" if spacing else "pixel spacing: not stated"
    return text + (f"; tiles of {tile} x {tile} pixels" if tile and tile != "0" else "")


def _without_name(text: str) -> str:
    """``"input: float32 [...]"`` -> ``"float32 [...]"``."""
    head, sep, rest = text.partition(": ")
    return rest if sep and head in ("input", "output") else text


def describe(path: Path, meta: dict[str, str]) -> list[str]:
    """Lines describing one model for ``biodae models``."""
    card = _card(path)
    precision = meta.get("biodae.precision", "")
    head = f"{meta['biodae.name']}  {meta.get('biodae.version', '?')}  {meta.get('biodae.modality', '?').upper()}"
    return [
        head + (f"  ({precision})" if precision else ""),
        f"  expects  {_expects(meta)}",
        f"  input    {_without_name(meta.get('biodae.input', '?'))}",
        f"  output   {_without_name(meta.get('biodae.output', '?'))}",
        f"  file     {path}",
        f"  card     {card if card else '(none)'}",
    ]


def _resolve(name: str) -> Path:
    """A shipped model's file by name, or an ``.onnx`` path."""
    from ..runtime import available_models
    from ..runtime._model import _models_dir

    p = Path(name)
    if p.is_file():
        return p
    if p.suffix.lower() == ".onnx" or len(p.parts) > 1:
        raise InputError(f"{name}: no such model file", "check the path, or name a shipped model ('biodae models')")
    names = available_models()
    if name not in names:
        raise InputError(f"no shipped model named {name!r}",
                         f"shipped models: {', '.join(names) if names else '(none installed)'}")
    return _models_dir() / f"{name}.onnx"


def run(args) -> int:
    from ..runtime import available_models
    from ..runtime._model import _models_dir

    if args.name:
        path = _resolve(args.name)
        meta = read_metadata(path)
        width = max(len(k) for k in meta)
        for key in sorted(meta):
            print(f"{key:<{width}}  {meta[key] if meta[key] else '(empty)'}")
        card = _card(path)
        print(f"{'file':<{width}}  {path}")
        print(f"{'card':<{width}}  {card if card else '(none)'}")
        return 0
    names = available_models()
    if not names:
        raise InputError("no shipped models found", "reinstall biodae (the models are its biodae.models package)")
    folder = _models_dir()
    print(f"{len(names)} shipped models in {folder}:")
    status = 0
    for name in names:
        print()
        path = folder / f"{name}.onnx"
        try:
            lines = describe(path, read_metadata(path))
        except InputError as exc:  # one broken file: say so, list the others
            lines, status = [f"{name}  UNREADABLE: {exc}"], 1
        for line in lines:
            print(line)
    print("\n'biodae models NAME' prints a model's full metadata; the card says how it was trained and tested.")
    return status
