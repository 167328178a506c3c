"""What a plain ``pip install .`` installs: every package of the source tree, the API stub, the models."""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_for_installation():
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, flags=re.S | re.M)
    assert block, "no [tool.setuptools] packages list in pyproject.toml"
    listed = set(re.findall(r'"([\w.]+)"', block.group(1))) - {"biodae.models"}
    found = set(find_packages(where=str(ROOT), include=["biodae", "biodae.*"]))
    assert found == listed, f"missing from pyproject.toml: {sorted(found - listed)}; extra: {sorted(listed - found)}"
    assert re.search(r'^biodae = \[[^\]]*"\*\.pyi"', text, flags=re.M), "the API stub __init__.pyi is not package data"
