"""Atomic writes: nothing half-written, nothing overwritten, normal permissions."""

from __future__ import annotations

import os
import stat

import pytest

from biodae import OutputExistsError
from biodae.io import atomic_group, atomic_path


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_atomic_path_gives_default_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out.nii.gz") as tmp:
            assert tmp.name.endswith(".nii.gz")
            tmp.write_bytes(b"data")
        assert _mode(tmp_path / "out.nii.gz") == 0o644
    finally:
        os.umask(umask)


def test_atomic_path_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.png") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_refuses_existing(tmp_path):
    (tmp_path / "out.png").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="--force"):
        with atomic_path(tmp_path / "out.png"):
            pass
    assert (tmp_path / "out.png").read_bytes() == b"old"


def test_atomic_group_all_or_nothing(tmp_path):
    paths = [tmp_path / "r.dat", tmp_path / "r.hea"]
    with pytest.raises(RuntimeError):
        with atomic_group(paths) as tmps:
            tmps[0].write_bytes(b"x")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_group(paths) as tmps:
        for t in tmps:
            t.write_bytes(b"ok")
    assert all(p.read_bytes() == b"ok" for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.dat", "r.hea"]


def test_atomic_group_keeps_files_another_writer_finished_first(tmp_path):
    paths = [tmp_path / "r.dat", tmp_path / "r.hea"]
    with pytest.raises(OutputExistsError, match="appeared while writing"):
        with atomic_group(paths) as tmps:
            for t in tmps:
                t.write_bytes(b"mine")
            for p in paths:  # meanwhile another run wrote the same record
                p.write_bytes(b"theirs")
    assert [p.read_bytes() for p in paths] == [b"theirs", b"theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.dat", "r.hea"]


def test_atomic_group_interrupted_between_renames_leaves_no_mix(tmp_path, monkeypatch):
    paths = [tmp_path / "r.dat", tmp_path / "r.atr", tmp_path / "r.hea"]
    for p in paths:
        p.write_bytes(b"old")
    real = os.replace

    def replace(a, b):
        if str(b).endswith("r.atr"):
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with atomic_group(paths, force=True) as tmps:
            for t in tmps:
                t.write_bytes(b"new")
    # the old record is hidden first (its .hea removed), the new .dat taken back: no old/new mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.atr"]
    assert (tmp_path / "r.atr").read_bytes() == b"old"
