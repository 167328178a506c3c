"""``biodae info``: every file ``denoise`` accepts is described, and its noise figures are the
ones ``denoise`` and the batch report print for the same file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import wfdb
from PIL import Image as PILImage

from biodae import io
from biodae.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ecg"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- what denoise accepts, info describes
def test_nan_voxels(capsys, tmp_path):
    vol = np.abs(np.random.default_rng(0).normal(100, 20, (16, 16, 4))).astype(np.float32)
    vol[3, 3, 1] = np.nan
    vol[5, 6, 2] = np.inf
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "hole.nii.gz")
    code, out, err = run(capsys, "info", tmp_path / "hole.nii.gz")
    assert code == 0, err
    ok = vol[np.isfinite(vol)]
    assert f"range:       {ok.min():.4g} .. {ok.max():.4g} (2 NaN or infinite voxels left out)" in out
    sigma = float(re.search(r"noise \(est\): sigma (\S+) ", out).group(1))
    assert 15 < sigma < 25  # the |N(100, 20)| noise, the holes left out (not NaN, not pulled by them)
    code, out, err = run(capsys, "denoise", tmp_path / "hole.nii.gz", "--out-dir", tmp_path / "o")
    assert code == 0, err
    assert f"noise sigma (est.) {sigma:.4g} -> " in out


def test_a_one_sample_record(capsys, tmp_path):
    wfdb.wrsamp("one", fs=360, units=["mV"], sig_name=["MLII"], p_signal=np.array([[0.5]]), fmt=["16"],
                write_dir=str(tmp_path))
    code, out, err = run(capsys, "info", tmp_path / "one")
    assert code == 0, err
    assert "1 samples x 1 channels" in out
    assert "  MLII     ecg    mV    0.5 .. 0.5  –  –" in out
    assert "MLII: a single valid sample: nothing to estimate" in out
    code, _, err = run(capsys, "denoise", tmp_path / "one", "--out-dir", tmp_path / "o")
    assert code == 0, err


def test_a_one_pixel_image(capsys, tmp_path):
    PILImage.fromarray(np.array([[7]], np.uint8)).save(tmp_path / "px.png")
    code, out, err = run(capsys, "info", tmp_path / "px.png")
    assert code == 0, err
    assert "shape:       1 x 1" in out and "range:       7 .. 7" in out
    assert "noise (est): sigma – (an image of 1 x 1 is too small to estimate noise from)" in out
    code, _, err = run(capsys, "denoise", tmp_path / "px.png", "--out-dir", tmp_path / "o")
    assert code == 0, err


def test_a_record_with_a_gap_and_a_dead_lead(capsys, tmp_path, test_data):
    rec = io.read(test_data / "signals" / "sel100_10s")
    data = rec.data.copy()
    data[1500:1600, 0] = np.nan  # a gap: the longest stretch is the first 6 s
    data[:, 1] = np.nan
    io.write(rec.replace(data=data, meta=dict(rec.meta, annotation_files=[])), tmp_path / "gappy")
    code, out, err = run(capsys, "info", tmp_path / "gappy")
    assert code == 0, err
    assert "on the longest gap-free stretch (6 s)" in out and "all NaN  –  –" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("  MLII"))
    assert line.endswith(" dB") and "–" not in line


# --------------------------------------------------------------------------- one estimate, one answer
@pytest.mark.parametrize("name", ["MR_small.dcm", "example4d_crop.nii.gz", "CT_small.dcm"])
def test_info_and_denoise_print_the_same_image_noise(capsys, tmp_path, test_data, name):
    """The σ before that ``denoise`` prints is the one ``info`` prints (MR_small: 20.02, where
    denoise took dark tissue for air and printed 265.3)."""
    src = test_data / "images" / name
    code, out, err = run(capsys, "info", src)
    assert code == 0, err
    info_sigma = re.search(r"noise \(est\): sigma (\S+) \(", out).group(1)
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path)
    assert code == 0, err
    before, after = re.search(r"noise sigma \(est\.\) (\S+) -> (\S+?)[,)]", out).groups()
    assert before == info_sigma
    assert float(after) <= 1.05 * float(before)
    if name == "MR_small.dcm":
        assert abs(float(before) - 20.0) < 0.5  # a 64x64 MR crop without air: the wavelet estimate


def test_info_and_the_batch_report_print_the_same_ecg_snr(capsys, tmp_path, test_data):
    """Per lead, the SNR ``info`` prints is the report's "SNR in" (and the table's, their mean)."""
    src = tmp_path / "in"
    src.mkdir()
    for f in (test_data / "signals").glob("sel100_10s.*"):
        shutil.copy2(f, src / f.name)
    code, out, err = run(capsys, "info", src / "sel100_10s")
    assert code == 0, err
    info = {m.group(1): float(m.group(2)) for m in re.finditer(r"^  (\S+)\s+ecg .* (-?[\d.]+) dB$", out, re.M)}
    assert set(info) == {"MLII", "V5"}
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--report", tmp_path / "r.json")
    assert code == 0, err
    (f,) = json.loads((tmp_path / "r.json").read_text())["files"]
    assert f["channels"] == ["MLII", "V5"]
    assert [round(v, 1) for v in f["snr_in_db"]] == [info["MLII"], info["V5"]]
    row = next(ln for ln in out.splitlines() if ln.startswith("sel100_10s "))
    assert f"{np.mean(f['snr_in_db']):.1f} dB" in row


def test_the_quick_start_ecg_reads_near_its_6_db(capsys):
    """examples/ecg/sel100_em6: real electrode motion added at 6 dB (the variance of the clean
    excerpt over that of the noise, make_examples.py). info said 25.3 dB: it saw only white noise."""
    noisy, clean = io.read(EXAMPLES / "sel100_em6"), io.read(EXAMPLES / "sel100_clean")
    true = [10 * np.log10(np.var(clean.data[:, c]) / np.var(noisy.data[:, c] - clean.data[:, c])) for c in range(2)]
    np.testing.assert_allclose(true, [6.0, 6.0], atol=0.05)  # the file is what it says (16-bit rounding)
    code, out, err = run(capsys, "info", EXAMPLES / "sel100_em6")
    assert code == 0, err
    got = [float(m.group(1)) for m in re.finditer(r"^  (?:MLII|V5)\s+ecg .* (-?[\d.]+) dB$", out, re.M)]
    assert len(got) == 2
    for g, t in zip(got, true):
        assert abs(g - t) < 3.0, (got, true)
