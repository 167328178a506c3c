"""``biodae models [NAME]``: the shipped models, as their ONNX metadata describes them."""

from __future__ import annotations

import json
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
    from ..runtime import load_onnx

    p = Path(path)
    proto = load_onnx(p)
    meta = {e.key: e.value for e in proto.metadata_props}
    if "biodae.name" not in meta and meta.get("biodae.task") != "latent":
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
    if meta.get("biodae.task") == "latent":  # biodae.latent (docs/onnx.md, "Latent models")
        classes = meta.get("biodae.classes", "")
        return [
            f"{path.stem}  {meta.get('biodae.version', '?')}  LATENT ({meta.get('biodae.kind', '?')} autoencoder)",
            f"  expects  {meta.get('biodae.n_features', '?')} features per row (its card says how to make them)",
            f"  output   code ({meta.get('biodae.latent_dim', '?')}), reconstruction, anomaly score "
            f"(flagged above {float(meta.get('biodae.threshold', 'nan')):.4g})"
            + (f", classes {', '.join(json.loads(classes))}" if classes else ""),
            f"  file     {path}",
            f"  card     {card if card else '(none)'}",
        ]
    precision = meta.get("biodae.precision", "")
    head = f"{meta['biodae.name']}  {meta.get('biodae.version', '?')}  {meta.get('biodae.modality', '?').upper()}"
    return [
        head + (f"  ({precision})" if precision else ""),
        f"  expects  {_expects(meta)}",
        f"  input    {_without_name(meta.get('biodae.input', '?'))}",
        f"  output   {_without_name(meta.get('biodae.output', '?'))}",
        f"  file     {path}",
        *_variant_lines(path),
        f"  card     {card if card else '(none)'}",
    ]


def _variant_lines(path: Path) -> list[str]:
    """The int8 variant beside a float32 model, which ``--precision int8`` (or ``auto``) runs."""
    from ..runtime import variant_path

    v = variant_path(path, "int8")
    return [f"  int8     {v} (--precision int8 or auto)"] if v.is_file() else []


def run(args) -> int:
    from ..runtime import available_models, model_path

    if args.name:
        path = model_path(args.name)
        meta = read_metadata(path)
        width = max(len(k) for k in meta)
        for key in sorted(meta):
            print(f"{key:<{width}}  {meta[key] if meta[key] else '(empty)'}")
        card = _card(path)
        print(f"{'file':<{width}}  {path}")
        print(f"{'card':<{width}}  {card if card else '(none)'}")
        return 0
    names = available_models(task=None)
    if not names:
        raise InputError("no shipped models found", "reinstall biodae (the models are its biodae.models package)")
    folder = model_path(names[0]).parent
    print(f"{len(names)} shipped models in {folder}:")
    status = 0
    for name in names:
        print()
        path = model_path(name)
        try:
            lines = describe(path, read_metadata(path))
        except InputError as exc:  # one broken file: say so, list the others
            lines, status = [f"{name}  UNREADABLE: {exc}"], 1
        for line in lines:
            print(line)
    print("\n'biodae models NAME' prints a model's full metadata; the card says how it was trained and tested.")
    return status
