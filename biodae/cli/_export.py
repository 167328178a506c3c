"""``biodae export CHECKPOINT -o model.onnx``: a training checkpoint to a contract-complete ONNX file."""

from __future__ import annotations

import json
from pathlib import Path

from .._errors import InputError
from ._common import import_recipes


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a training checkpoint to a self-contained ONNX file with its metadata contract",
        description="Export best.pt/last.pt to ONNX (opset 18, dynamic batch and length/size, node metadata "
                    "stripped, byte-identical on re-export) with the biodae.* metadata of its recipe "
                    "(read from recipe.json beside the checkpoint, or --recipe). Needs torch.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint written by 'biodae train' (best.pt)")
    p.add_argument("--output", "-o", required=True, metavar="FILE.onnx")
    p.add_argument("--recipe", metavar="NAME", help="recipe whose metadata to use (default: recipe.json beside it)")
    p.add_argument("--force", action="store_true", help="overwrite FILE.onnx")
    p.set_defaults(run=run)


def run(args) -> int:
    recipes = import_recipes("export")
    from ..nn.export import load_checkpoint
    from ..runtime import check_contract

    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        raise InputError(f"{ckpt}: no such checkpoint", "pass the best.pt written by 'biodae train'")
    name = args.recipe
    if name is None:
        rj = ckpt.parent / "recipe.json"
        if not rj.is_file():
            raise InputError(f"no recipe.json beside {ckpt}", "name the recipe with --recipe")
        name = json.loads(rj.read_text())["name"]
    recipe = recipes.get_recipe(name)
    model, state = load_checkpoint(ckpt)
    extra = {"biodae.epoch": str(int(state.get("epoch", 0))),
             "biodae.train_config": json.dumps(state.get("train_config", {}), sort_keys=True)}
    try:
        path, digest = recipes.export_recipe_model(model, recipe, args.output, command=recipes.training_command(name),
                                                   extra=extra, force=args.force)
    except FileExistsError as exc:
        raise InputError(f"{args.output} already exists", "pass --force to overwrite it") from exc
    problems = check_contract(path)
    print(f"{path}: {recipe.name} ({digest[:12]}), contract {'ok' if not problems else 'FAILED: ' + '; '.join(problems)}")
    return 0 if not problems else 1
