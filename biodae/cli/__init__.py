"""The ``biodae`` command: a thin layer that parses, calls the library and reports.

``main(argv=None) -> int`` is what the console script runs and what tests call
in-process.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._errors import BiodaeError
from .._version import __version__
from . import _beats, _denoise, _export, _filter, _info, _models, _train
from ._flags import for_the_command_line

__all__ = ["main", "build_parser"]

_COMMANDS = (_info, _filter, _denoise, _beats, _models, _train, _export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biodae",
        description="Denoise biomedical signals and images (ECG, EEG, MRI, X-ray/CT).",
    )
    parser.add_argument("--version", action="version", version=f"biodae {__version__}")
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"],
        help="how much to log on stderr (default: warning)",
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                help="'biodae COMMAND --help' says what each takes")
    for mod in _COMMANDS:
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``biodae`` command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("biodae: %(levelname)s: %(message)s"))
    log = logging.getLogger("biodae")
    log.handlers[:] = [handler]
    log.setLevel(args.log_level.upper())
    log.propagate = False
    try:
        return int(args.run(args))
    except BiodaeError as exc:
        print(f"biodae: error: {for_the_command_line(exc)}", file=sys.stderr)
        if args.debug:
            raise
        return 2
    except KeyboardInterrupt:
        print("biodae: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (| head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug, not a user error: say so, keep the traceback for --debug
        if args.debug:
            raise
        print(
            f"biodae: internal error: {type(exc).__name__}: {exc} "
            "(please report it; rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 3
