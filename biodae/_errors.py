"""Errors biodae raises for problems a user can fix.

Every error carries two parts: *what* is wrong and *what to do* about it. The CLI
prints them on one line and exits non-zero; library users can catch
:class:`BiodaeError` (or the specific subclass) and read ``.hint``.
"""

from __future__ import annotations

__all__ = ["BiodaeError", "InputError", "OutputExistsError", "OutputError", "DependencyError"]


class BiodaeError(Exception):
    """Base class of every error biodae raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong, naming the file or value concerned.
    hint : str, optional
        What the user can do about it.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}: {self.hint}" if not self.message.endswith(".") else f"{self.message} {self.hint}"
        return self.message


class InputError(BiodaeError, ValueError):
    """An input file or array cannot be used (missing, corrupt, wrong shape, NaN...)."""


class OutputExistsError(BiodaeError, FileExistsError):
    """An output already exists and ``force`` was not given."""


class OutputError(BiodaeError, OSError):
    """An output cannot be written: no permission, a read-only or full disk, a file where a folder should be."""


class DependencyError(BiodaeError, ImportError):
    """An optional dependency needed for this operation is not installed."""
