"""``biodae export CHECKPOINT -o model.onnx``: a training checkpoint to a contract-complete ONNX file."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from .._errors import InputError
from ._common import import_recipes

log = logging.getLogger("biodae.export")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a training checkpoint to a self-contained ONNX file with its metadata contract",
        description="Export best.pt/last.pt to ONNX (opset 18, dynamic batch and length/size, node metadata "
                    "stripped, byte-identical on re-export) with the biodae.* metadata of its recipe "
                    "(read from recipe.json beside the checkpoint, or --recipe); warns when the checkpoint was "
                    "trained differently from what that recipe says (model, loss, epochs, data options...), since "
                    "the file then carries a version and training command that did not make it. Needs torch.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a checkpoint written by 'biodae train' (best.pt), or with --fp16 or --int8 a float32 .onnx model")
    p.add_argument("--output", "-o", required=True, metavar="FILE.onnx",
                   help="the ONNX file to write (never the CHECKPOINT itself; not overwritten without --force)")
    p.add_argument("--recipe", metavar="NAME",
                   help="recipe whose metadata to use (default: recipe.json beside it; 'biodae train --help' lists them)")
    p.add_argument("--force", action="store_true", help="overwrite FILE.onnx")
    p.add_argument("--fp16", action="store_true",
                   help="write the FP16 variant for GPUs (float16 weights and network, float32 input, output and "
                        "normalisation; its parity with the float32 model is printed and stored in the metadata)")
    p.add_argument("--int8", action="store_true",
                   help="write the int8 variant for CPUs (static QDQ quantisation of the inner convolutions, "
                        "calibrated on the model's training data: needs BIODAE_DATA; float32 input and output; its "
                        "parity with the float32 model is printed and stored in the metadata)")
    p.set_defaults(run=run)


def _guard(src: Path, out: Path) -> None:
    """The output may never be the input model or checkpoint (nor the recipe.json beside it), whatever --force says."""
    from .._batch import guard_inputs

    guard_inputs([src] + [src.parent / "recipe.json"] * (src.suffix.lower() != ".onnx"),
                 [(out, "onnx", f"--output {out}")], advice="choose another --output file")


def run(args) -> int:
    _guard(Path(args.checkpoint), Path(args.output))
    if args.fp16 and args.int8:
        raise InputError("--fp16 and --int8 together", "choose one: --fp16 for GPUs, --int8 for CPUs")
    if Path(args.checkpoint).suffix.lower() == ".onnx":
        return _variant_of_onnx(args)
    recipes = import_recipes("export")
    from ..nn.export import load_checkpoint
    from ..runtime import check_contract

    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        raise InputError(f"{ckpt}: no such checkpoint", "pass the best.pt written by 'biodae train'")
    name = args.recipe
    rj = ckpt.parent / "recipe.json"
    trained = json.loads(rj.read_text()) if rj.is_file() else None
    if name is None:
        if trained is None:
            raise InputError(f"no recipe.json beside {ckpt}", "name the recipe with --recipe")
        name = trained["name"]
    elif trained is not None and trained.get("name") != name:
        trained = None  # another recipe's run: compare with the checkpoint alone
    recipe = recipes.get_recipe(name)
    model, state = load_checkpoint(ckpt)
    drift = recipes.recipe_drift(recipe, state, trained)
    if drift:
        log.warning("%s was not trained as recipe %r %s says: %s. The file gets that recipe's version, training "
                    "command and texts all the same; retrain with the recipe, or change the recipe, before shipping it",
                    ckpt, recipe.name, recipe.version, "; ".join(drift))
    extra = {"biodae.epoch": str(int(state.get("epoch", 0))),
             "biodae.train_config": json.dumps(state.get("train_config", {}), sort_keys=True)}
    out = Path(args.output)
    variant = args.fp16 or args.int8
    if variant and out.exists() and not args.force:
        raise InputError(f"{out} already exists", "pass --force to overwrite it")
    try:
        with tempfile.TemporaryDirectory(dir=out.parent if out.parent.is_dir() else None) as tmp:
            fp32 = Path(tmp) / "fp32.onnx" if variant else out
            path, digest = recipes.export_recipe_model(model, recipe, fp32, command=recipes.training_command(name),
                                                       extra=extra, force=args.force)
            if variant:
                write = _int8 if args.int8 else _fp16
                return write(path, out, force=args.force, label=f"{recipe.name} ({digest[:12]})")
    except FileExistsError as exc:
        raise InputError(f"{args.output} already exists", "pass --force to overwrite it") from exc
    problems = check_contract(path)
    print(f"{path}: {recipe.name} ({digest[:12]}), contract {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return 0 if not problems else 1


def _fp16(src: Path, dst: Path, *, force: bool, label: str = "") -> int:
    from ..runtime import check_contract, write_fp16_variant

    path, parity = write_fp16_variant(src, dst, force=force)
    problems = check_contract(path)
    print(f"{path}: FP16 variant of {label or src.name}, max |fp16 - fp32| / max |fp32| = {parity:.2e} (onnxruntime CPU), "
          f"contract {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return 0 if not problems else 1


def _int8(src: Path, dst: Path, *, force: bool, label: str = "") -> int:
    from .. import datasets
    from ..runtime import check_contract, load_onnx, write_int8_variant

    meta = {p.key: p.value for p in load_onnx(src).metadata_props}
    if meta.get("biodae.precision", "fp32") != "fp32":
        raise InputError(f"{src}: already a {meta['biodae.precision']} model", "quantise the float32 model")
    calibration = datasets.calibration_inputs(meta.get("biodae.name", ""))  # looked up here so tests can replace it
    path, parity = write_int8_variant(src, dst, calibration=calibration, force=force)
    problems = check_contract(path)
    print(f"{path}: int8 variant of {label or src.name}, max |int8 - fp32| / max |fp32| = {parity:.2e} on its "
          f"calibration data ({calibration.description if hasattr(calibration, 'description') else 'given arrays'}; "
          f"onnxruntime CPU), contract {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return 0 if not problems else 1


def _variant_of_onnx(args) -> int:
    src = Path(args.checkpoint)
    if not (args.fp16 or args.int8):
        raise InputError(f"{src} is already an ONNX model",
                         "pass --fp16 or --int8 to write its FP16 or int8 variant, or a checkpoint")
    if not src.is_file():
        raise InputError(f"{src}: no such model file", "check the path (shipped models are in models/)")
    return (_int8 if args.int8 else _fp16)(src, Path(args.output), force=args.force)
