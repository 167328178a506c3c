"""What a plain ``pip install .`` installs: every package of the source tree, the API stub, the models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_installation():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is in the standard library from Python 3.11")
    import tomllib

    from setuptools import find_packages

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"]) - {"biodae.models"}
    found = set(find_packages(where=str(ROOT), include=["biodae", "biodae.*"]))
    assert found == listed, f"missing from pyproject.toml: {sorted(found - listed)}; extra: {sorted(listed - found)}"
    assert "*.pyi" in conf["package-data"]["biodae"]
