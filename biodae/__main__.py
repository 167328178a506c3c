"""``python -m biodae ...``: the ``biodae`` command (:mod:`biodae.cli`), for when the script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
