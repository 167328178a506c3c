"""``biodae train RECIPE``: train a shipped model's recipe (needs the ``train`` extra)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sys
import textwrap
from pathlib import Path

from .._errors import BiodaeError
from ._common import import_recipes
from ._flags import in_flags, positive_int

_DESCRIPTION = (
    "Train one of biodae's recipes with a fixed seed, resumable checkpoints, validation and early stopping, and "
    "export the best model to ONNX. Needs torch (pip install -c constraints.txt 'biodae[train]') and the data "
    "folder (--data or BIODAE_DATA). Data-parallel on several CPUs or GPUs: "
    "torchrun --nproc_per_node=N -m biodae.train RECIPE ..."
)


class _HelpWithRecipes(argparse.Action):
    """``-h``: the help, with the recipes listed at the end. Listing them imports torch, so it
    happens only when this help is asked for, never when the parser is built."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = recipes_text()
        parser.print_help()
        parser.exit()


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the recipe list's layout; wraps the description to the terminal like argparse does."""

    def _fill_text(self, text, width, indent):
        if text is _DESCRIPTION:
            return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)
        return super()._fill_text(text, width, indent)


def _first_sentence(text: str) -> str:
    """``"Blind denoiser. More."`` -> ``"Blind denoiser."`` (``"et al. 2019"`` is not a sentence end)."""
    parts = re.split(r"(?<=[a-z0-9)]\.)\s+(?=[A-Z])", text.strip(), maxsplit=1)
    return parts[0] if parts else ""


def recipes_text() -> str:
    """The recipes for the help: name, version, what it trains; or how to install torch to see them."""
    from .._errors import DependencyError

    try:
        recipes = import_recipes("listing the recipes")
    except DependencyError as exc:
        return f"recipes: {exc}"
    width = shutil.get_terminal_size().columns - 2
    rows = sorted(recipes.RECIPES.values(), key=lambda r: r.name)
    n = max(len(r.name) for r in rows)
    lines = ["recipes (each shipped model's card quotes the command that trained it):"]
    for r in rows:
        rate = f" at {r.sampling_rate:g} Hz" if r.sampling_rate else ""
        lines.append(f"  {r.name:<{n}}  {r.version:<6} {r.modality.upper()}, {r.model}{rate}")
        lines += textwrap.wrap(_first_sentence(r.description), max(40, width - 6),
                               initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a recipe (ecg, ecg-qtdb-bw, ...; 'biodae train --help' lists them), "
             "with checkpoints and ONNX export",
        description=_DESCRIPTION, formatter_class=_Formatter, add_help=False,
    )
    p.add_argument("-h", "--help", action=_HelpWithRecipes, help="show this help with the list of recipes, and exit")
    p.add_argument("recipe", metavar="RECIPE", help="recipe name (listed below)")
    p.add_argument("--out-dir", "-o", required=True, metavar="DIR", help="checkpoints go here; a rerun resumes")
    p.add_argument("--export", metavar="FILE.onnx", help="export the best model here at the end")
    p.add_argument("--epochs", type=positive_int, metavar="N", help="override the recipe's number of epochs")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to train (default auto: the GPU if torch sees one, else the CPU)")
    p.add_argument("--data", metavar="DIR", help="data folder (default: $BIODAE_DATA), holding ecg/, eeg/, mri/...")
    p.add_argument("--config", metavar="FILE.json", help="JSON object of recipe fields to override "
                   '(e.g. {"epochs": 5, "lr": 0.0005}); the flags above win over it')
    p.add_argument("--init", metavar="FILE.onnx", help="for a recipe that fine-tunes a model: that model's ONNX file "
                   "(its card's command writes it; the weights are checked against the recipe)")
    p.add_argument("--teacher", metavar="FILE.onnx", help="for a distillation recipe: the teacher model's ONNX file "
                   "(its card's command writes it; the weights are checked against the recipe)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --export file")
    p.set_defaults(run=run)


def _data_dir(data: str | None) -> str:
    """``--data`` or ``$BIODAE_DATA``, checked before anything is written."""
    from .._errors import InputError

    if data is None:
        data = os.environ.get("BIODAE_DATA") or None
        if data is None:
            raise InputError("training needs the data folder, and neither --data nor BIODAE_DATA names one",
                             "pass --data DIR or set BIODAE_DATA to the folder holding ecg/, eeg/, mri/...")
        if not Path(data).is_dir():
            raise InputError(f"BIODAE_DATA={data} is not a folder", "point it at the data folder, or pass --data DIR")
    elif not Path(data).is_dir():
        raise InputError(f"--data {data}: no such folder", "pass the folder holding ecg/, eeg/, mri/...")
    return data


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
    recipes.get_recipe(args.recipe)  # an unknown name fails before anything is written
    data_dir = _data_dir(args.data)
    try:
        result, path = recipes.train_recipe(
            args.recipe, out_dir=args.out_dir, data_dir=data_dir, epochs=args.epochs, seed=args.seed,
            device=args.device, export=args.export, force=args.force, command=command,
            progress=sys.stderr.isatty(), overrides=overrides, init=args.init,
            teacher=args.teacher, read_files=(args.config,) if args.config else (),
        )
    except BiodaeError as exc:  # the library names its parameters: say the flags
        raise in_flags(exc, {"data_dir": "--data", "epochs": "--epochs", "seed": "--seed", "device": "--device",
                             "export": "--export", "out_dir": "--out-dir"},
                       assigned_only=("epochs", "seed", "device", "export")) from exc
    from ..nn.distributed import is_main_process

    if is_main_process():  # under torchrun: once, from rank 0
        print(f"best epoch {result.best_epoch}, validation loss {result.best_val_loss:.5g}"
              + (f"; model written to {path}" if path else ""))
    return 0
