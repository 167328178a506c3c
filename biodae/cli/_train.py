"""``biodae train RECIPE``: train a shipped model's recipe (needs the ``train`` extra)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ._common import import_recipes


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a recipe (ecg, ecg-qtdb-bw, ...), with checkpoints and ONNX export",
        description="Train one of biodae's recipes with a fixed seed, resumable checkpoints, validation and "
                    "early stopping, and export the best model to ONNX. Needs torch (pip install 'biodae[train]'). "
                    "Data-parallel on several CPUs or GPUs: torchrun --nproc_per_node=N -m biodae.train RECIPE ...",
    )
    p.add_argument("recipe", metavar="RECIPE", help="recipe name (see biodae.nn.recipes.RECIPES)")
    p.add_argument("--out-dir", "-o", required=True, metavar="DIR", help="checkpoints go here; a rerun resumes")
    p.add_argument("--export", metavar="FILE.onnx", help="export the best model here at the end")
    p.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--data", metavar="DIR", help="data folder (default: $BIODAE_DATA)")
    p.add_argument("--config", metavar="FILE.json", help="JSON object of recipe fields to override "
                   '(e.g. {"epochs": 5, "lr": 0.0005}); the flags above win over it')
    p.add_argument("--force", action="store_true", help="overwrite an existing --export file")
    p.set_defaults(run=run)


def run(args) -> int:
    recipes = import_recipes("training")
    overrides = None
    if args.config:
        import json

        from .._errors import InputError

        try:
            overrides = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{args.config}: not a readable JSON file ({exc})", "pass a JSON object of recipe fields") from exc
        if not isinstance(overrides, dict):
            raise InputError(f"{args.config}: expected a JSON object", 'e.g. {"epochs": 5}')
    # the reproducible command, without this machine's paths
    command = recipes.training_command(
        args.recipe, export=bool(args.export), epochs=args.epochs, seed=args.seed,
        config=shlex.quote(Path(args.config).name) if args.config else None,
    )
    result, path = recipes.train_recipe(
        args.recipe, out_dir=args.out_dir, data_dir=args.data, epochs=args.epochs, seed=args.seed,
        device=args.device, export=args.export, force=args.force, command=command,
        progress=sys.stderr.isatty(), overrides=overrides,
    )
    from ..nn.distributed import is_main_process

    if is_main_process():  # under torchrun: once, from rank 0
        print(f"best epoch {result.best_epoch}, validation loss {result.best_val_loss:.5g}"
              + (f"; model written to {path}" if path else ""))
    return 0
