"""Where the datasets find the real data (``BIODAE_DATA``) and keep their caches (``BIODAE_CACHE``)."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError

__all__ = ["data_root", "cache_root"]


def data_root(data_dir: str | os.PathLike | None, modality: str, needs: str) -> Path:
    """``<data>/<modality>`` (or ``<data>`` itself when it has no such sub-folder).

    ``data_dir`` defaults to ``$BIODAE_DATA``; ``needs`` names what must be there, for the
    error message when neither is given.
    """
    value = data_dir if data_dir is not None else os.environ.get("BIODAE_DATA")
    if not value:
        raise InputError(
            f"no data folder given for the {modality.upper()} recordings",
            f"pass data_dir= or set BIODAE_DATA to the folder holding {needs}",
        )
    root = Path(value).expanduser()
    return root / modality if (root / modality).is_dir() else root


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$BIODAE_CACHE``, else ``~/.cache/biodae``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("BIODAE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "biodae"
