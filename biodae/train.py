"""``python -m biodae.train RECIPE ...``: the same as ``biodae train RECIPE ...``.

It is the entry point for data-parallel training with ``torchrun``, which starts one
process per CPU worker or GPU and runs this module in each::

    torchrun --nproc_per_node=4 -m biodae.train ecg --out-dir runs/ecg --export ecg.onnx

Each process trains on its shard of every batch (gloo on the CPU, NCCL on GPUs); rank 0
alone writes the checkpoints, the log and the export (see :mod:`biodae.nn.distributed`
and ``docs/scaling.md``). Importing this module does nothing.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run ``biodae train`` with ``argv`` (default: the command line); return the exit status."""
    from .cli import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
