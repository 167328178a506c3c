"""Shared fixtures: the shipped excerpts and the real data folder (BIODAE_DATA)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The small excerpts shipped in ``tests/data`` (always present)."""
    return DATA


@pytest.fixture(scope="session")
def biodae_data() -> Path:
    """The real data folder named by ``BIODAE_DATA``; the test is skipped without it."""
    value = os.environ.get("BIODAE_DATA")
    if not value:
        pytest.skip("BIODAE_DATA is not set: it names the real data folder (e.g. ../shared/data)")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"BIODAE_DATA={value} is not a folder")
    return path


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (or of ``root`` itself): to prove inputs are untouched."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
