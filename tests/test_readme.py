"""The README's Python example runs as pasted, as a plain script without a ``__main__`` guard."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs_as_pasted(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = next(b for b in blocks if "denoise_files" in b)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "example.py").write_text(example)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert re.search(r"^2 written, 0 skipped, 0 failed", res.stdout, flags=re.M), res.stdout
    assert (tmp_path / "clean" / "sel100_em6.hea").is_file()
    assert (tmp_path / "archive-clean" / "sel100_em6.hea").is_file()
    assert (tmp_path / "archive-clean" / "sel100_clean.hea").is_file()
