"""biodae's wfdb.Record subclass (numpy range check, numpy format-16 writer) writes the
same bytes as wfdb's own code and refuses what wfdb refuses."""

from __future__ import annotations

import os

import numpy as np
import pytest

wfdb = pytest.importorskip("wfdb")

from biodae.io.wfdb import _record_class  # noqa: E402


def _record(cls, d, fmt):
    n, c = d.shape
    return cls(record_name="r", n_sig=c, fs=360, sig_len=n, sig_name=[f"s{i}" for i in range(c)], d_signal=d,
               file_name=["r.dat", "r.dat", "q.dat"][:c], fmt=[fmt] * c, adc_gain=[200.0] * c, baseline=[0] * c,
               units=["mV"] * c, adc_res=[16] * c, adc_zero=[0] * c, init_value=[int(v) for v in d[0]],
               checksum=[int(v) for v in (d.sum(axis=0) + 32768) % 65536 - 32768], block_size=[0] * c)


@pytest.mark.parametrize("fmt", ["16", "212", "80"])
def test_same_bytes_as_wfdb(tmp_path, fmt):
    lo, hi = {"16": (-32768, 32767), "212": (-2048, 2047), "80": (-128, 127)}[fmt]
    d = np.random.default_rng(1).integers(lo, hi + 1, (1001, 3)).astype(np.int64)
    d[0, 0], d[1, 0] = lo, hi  # the extremes pass the range check
    for name, cls in (("wfdb", wfdb.Record), ("biodae", _record_class())):
        (tmp_path / name).mkdir()
        _record(cls, d.copy(), fmt).wrsamp(write_dir=str(tmp_path / name))
    files = sorted(os.listdir(tmp_path / "wfdb"))
    assert files == sorted(os.listdir(tmp_path / "biodae")) == ["q.dat", "r.dat", "r.hea"]
    for f in files:
        assert (tmp_path / "biodae" / f).read_bytes() == (tmp_path / "wfdb" / f).read_bytes(), f


def test_out_of_range_is_refused_like_wfdb(tmp_path):
    d = np.zeros((10, 2), np.int64)
    d[3, 1] = 40000
    with pytest.raises(IndexError, match="Channel 1 contain values outside allowed range"):
        _record(_record_class(), d, "16").wrsamp(write_dir=str(tmp_path))
