"""The biodae command, run in-process as a user would, outputs checked with independent readers."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
import wfdb
from PIL import Image as PILImage

from biodae import __version__, filters, io
from biodae.cli import main
from tests.conftest import tree_digest


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def copy_record(src: Path, dest_dir: Path) -> Path:
    """Copy a WFDB record (all its files) into dest_dir; return the new record path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.name + ".*"):
        shutil.copy2(f, dest_dir / f.name)
    return dest_dir / src.name


# --------------------------------------------------------------------------- basics
def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"biodae {__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


# --------------------------------------------------------------------------- info
def test_info_wfdb(capsys, test_data):
    code, out, err = run(capsys, "info", test_data / "signals" / "sel100_10s.hea")
    assert code == 0, err
    assert "modality:    ECG (2 ECG channels)" in out
    assert "sampling:    250 Hz" in out
    assert "2500 samples x 2 channels (10.0 s)" in out
    assert "WFDB format 212" in out
    assert "MLII" in out and "V5" in out and "dB" in out


def test_info_edf(capsys, test_data):
    code, out, err = run(capsys, "info", test_data / "signals" / "S001R03_5s_8ch.edf")
    assert code == 0, err
    assert "modality:    EEG" in out and "sampling:    160 Hz" in out
    assert "800 samples x 8 channels" in out


def test_info_nifti(capsys, test_data):
    code, out, err = run(capsys, "info", test_data / "images" / "mni152_t1_crop.nii.gz")
    assert code == 0, err
    assert "modality:    MRI" in out and "shape:       32 x 32 x 8" in out
    assert "voxel size:  1 x 1 x 1 mm" in out and "uint8" in out and "noise (est): sigma" in out


def test_info_dicom_ct(capsys, test_data):
    code, out, err = run(capsys, "info", test_data / "images" / "CT_small.dcm")
    assert code == 0, err
    assert "modality:    CT" in out and "shape:       128 x 128" in out


# --------------------------------------------------------------------------- filter: WFDB
def test_filter_wfdb_out_dir_keeps_record(capsys, tmp_path, test_data):
    src = copy_record(test_data / "signals" / "sel100_10s", tmp_path / "in")
    before = tree_digest(tmp_path / "in")
    code, out, err = run(capsys, "filter", src, "--method", "butterworth", "--low", "0.5", "--high", "40",
                         "--out-dir", tmp_path / "out")
    assert code == 0, err
    assert tree_digest(tmp_path / "in") == before, "the input was modified"
    # independent reader: wfdb itself
    got = wfdb.rdrecord(str(tmp_path / "out" / "sel100_10s"))
    ref = wfdb.rdrecord(str(src))
    assert got.fs == ref.fs and got.sig_name == ref.sig_name and got.units == ref.units
    assert got.sig_len == ref.sig_len
    assert any("biodae filter butterworth" in c for c in got.comments)
    # annotation files copied byte for byte
    for ext in ("atr", "pu1", "q1c"):
        assert (tmp_path / "out" / f"sel100_10s.{ext}").read_bytes() == (src.parent / f"sel100_10s.{ext}").read_bytes()
    # and it really is band-passed: the mean (DC) is gone, QRS energy kept
    x, y = ref.p_signal[:, 0], got.p_signal[:, 0]
    assert abs(y.mean()) < 0.05 * abs(x.mean())
    assert np.ptp(y) > 0.5 * np.ptp(x - x.mean())


def test_filter_beside_input_and_no_overwrite(capsys, tmp_path, test_data):
    src = copy_record(test_data / "signals" / "sel100_10s", tmp_path)
    code, out, err = run(capsys, "filter", src.with_suffix(".hea"), "--method", "wavelet")
    assert code == 0, err
    assert (tmp_path / "sel100_10s_filtered.hea").exists() and (tmp_path / "sel100_10s_filtered.dat").exists()
    first = (tmp_path / "sel100_10s_filtered.dat").read_bytes()
    code, out, err = run(capsys, "filter", src, "--method", "median")
    assert code == 2
    _one_line_error(err)
    assert "output exists" in err and "--force" in err
    assert (tmp_path / "sel100_10s_filtered.dat").read_bytes() == first, "overwritten without --force"
    code, out, err = run(capsys, "filter", src, "--method", "median", "--force")
    assert code == 0, err
    assert (tmp_path / "sel100_10s_filtered.dat").read_bytes() != first


def test_option_for_another_method_is_refused(capsys, test_data, tmp_path):
    code, out, err = run(capsys, "filter", test_data / "signals" / "sel100_10s", "--method", "median",
                         "--low", "1", "--out-dir", tmp_path)
    assert code == 2 and "--low does not apply to --method median" in err


def test_filter_edf(capsys, tmp_path, test_data):
    code, out, err = run(capsys, "filter", test_data / "signals" / "S001R03_5s_8ch.edf", "--method", "butterworth",
                         "--out-dir", tmp_path)
    assert code == 0, err
    import pyedflib

    with pyedflib.EdfReader(str(tmp_path / "S001R03_5s_8ch.edf")) as r:
        assert r.signals_in_file == 8 and r.getSampleFrequency(0) == 160
        y = r.readSignal(0)
    x = io.read(test_data / "signals" / "S001R03_5s_8ch.edf").data[:, 0]
    assert y.shape == x.shape and not np.allclose(x, y)


# --------------------------------------------------------------------------- filter: images
def test_filter_nifti_keeps_affine_and_header(capsys, tmp_path, test_data):
    src = test_data / "images" / "mni152_t1_crop.nii.gz"
    code, out, err = run(capsys, "filter", src, "--method", "median", "--size", "3", "--out-dir", tmp_path)
    assert code == 0, err
    a, b = nib.load(src), nib.load(tmp_path / "mni152_t1_crop.nii.gz")
    assert np.array_equal(a.affine, b.affine)
    assert a.header["qform_code"] == b.header["qform_code"] and a.header["sform_code"] == b.header["sform_code"]
    assert np.array_equal(a.header["pixdim"], b.header["pixdim"])
    assert b.get_data_dtype() == np.float32
    x, y = a.get_fdata(), b.get_fdata()
    assert y.min() >= x.min() and y.max() <= x.max()  # within the input's range
    itk = sitk.ReadImage(str(tmp_path / "mni152_t1_crop.nii.gz"))
    np.testing.assert_allclose(sitk.GetArrayFromImage(itk).transpose(2, 1, 0), y, rtol=1e-6)


def test_filter_nifti_input_dtype(capsys, tmp_path, test_data):
    src = test_data / "images" / "mni152_t1_crop.nii.gz"
    code, _, err = run(capsys, "filter", src, "--method", "wavelet", "--dtype", "input", "--out-dir", tmp_path)
    assert code == 0, err
    assert nib.load(tmp_path / "mni152_t1_crop.nii.gz").get_data_dtype() == np.uint8


def test_filter_4d_nifti(capsys, tmp_path, test_data):
    src = test_data / "images" / "example4d_crop.nii.gz"
    code, _, err = run(capsys, "filter", src, "--method", "butterworth", "--out-dir", tmp_path)
    assert code == 0, err
    assert nib.load(tmp_path / "example4d_crop.nii.gz").shape == nib.load(src).shape


def test_filter_dicom_bit_depth_and_new_uid(capsys, tmp_path, test_data):
    src = test_data / "images" / "CT_small.dcm"
    code, _, err = run(capsys, "filter", src, "--method", "median", "--out-dir", tmp_path)
    assert code == 0, err
    a, b = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "CT_small.dcm")
    assert b.SOPInstanceUID != a.SOPInstanceUID and b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID
    assert b.BitsStored == a.BitsStored and b.BitsAllocated == a.BitsAllocated
    assert b.PatientID == a.PatientID and b.StudyInstanceUID == a.StudyInstanceUID
    assert "biodae" in str(b.DerivationDescription)
    assert b.pixel_array.shape == a.pixel_array.shape


def test_filter_png16(capsys, tmp_path, test_data):
    src = test_data / "images" / "brain_slice16.png"
    code, _, err = run(capsys, "filter", src, "--method", "wavelet", "--out-dir", tmp_path)
    assert code == 0, err
    a, b = PILImage.open(src), PILImage.open(tmp_path / "brain_slice16.png")
    assert a.mode == b.mode and a.size == b.size
    assert np.array(b).dtype == np.array(a).dtype


# --------------------------------------------------------------------------- batches
def test_directory_batch_goes_on_past_a_bad_file(capsys, tmp_path, test_data):
    d = tmp_path / "in"
    copy_record(test_data / "signals" / "sel100_10s", d)
    (d / "sub").mkdir()
    shutil.copy(test_data / "images" / "mni152_t1_crop.nii.gz", d / "sub" / "t1.nii.gz")
    # a truncated record: the header promises more samples than the .dat holds
    bad = copy_record(test_data / "signals" / "sel100_10s", d / "bad")
    dat = bad.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1000])
    (d / "empty.png").write_bytes(b"")
    before = tree_digest(d)
    code, out, err = run(capsys, "filter", d, "--method", "median", "--out-dir", tmp_path / "out")
    assert code == 1
    assert tree_digest(d) == before
    assert (tmp_path / "out" / "sel100_10s.hea").exists()
    assert (tmp_path / "out" / "sub" / "t1.nii.gz").exists()
    assert "2 written, 0 skipped, 2 failed" in out
    assert "bad/sel100_10s" in out and "empty.png" in out
    assert not (tmp_path / "out" / "bad").exists() or not list((tmp_path / "out" / "bad").iterdir())
    # rerun: finished outputs are skipped, not overwritten
    code, out, err = run(capsys, "filter", d, "--method", "median", "--out-dir", tmp_path / "out")
    assert "0 written, 2 skipped, 2 failed" in out


# --------------------------------------------------------------------------- bad input
def _one_line_error(err: str) -> None:
    assert err.startswith("biodae: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_missing_file(capsys, tmp_path):
    code, out, err = run(capsys, "info", tmp_path / "nope.nii")
    assert code == 2
    _one_line_error(err)
    assert "no such file" in err


def test_empty_file(capsys, tmp_path):
    (tmp_path / "scan.nii").write_bytes(b"")
    code, _, err = run(capsys, "info", tmp_path / "scan.nii")
    assert code == 2
    _one_line_error(err)


def test_not_an_image(capsys, tmp_path):
    (tmp_path / "photo.png").write_text("this is not a PNG")
    code, _, err = run(capsys, "filter", tmp_path / "photo.png", "--method", "median")
    assert code == 2
    _one_line_error(err)


def test_unsupported_extension(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run(capsys, "info", tmp_path / "notes.txt")
    assert code == 2
    _one_line_error(err)
    assert "unsupported file type '.txt'" in err and "NIfTI" in err


def test_truncated_wfdb(capsys, tmp_path, test_data):
    rec = copy_record(test_data / "signals" / "sel100_10s", tmp_path)
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-300])
    code, _, err = run(capsys, "filter", rec, "--method", "median")
    assert code == 2
    _one_line_error(err)
    assert "sel100_10s.dat" in err
    assert not (tmp_path / "sel100_10s_filtered.hea").exists()


def test_header_that_lies(capsys, tmp_path, test_data):
    rec = copy_record(test_data / "signals" / "sel100_10s", tmp_path)
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    first = lines[0].split()
    first[1] = "3"  # claims 3 signals, lists 2
    hea.write_text("\n".join([" ".join(first)] + lines[1:]) + "\n")
    code, _, err = run(capsys, "info", rec)
    assert code == 2
    _one_line_error(err)


def test_nan_filled_nifti(capsys, tmp_path):
    img = nib.Nifti1Image(np.full((8, 8, 4), np.nan, np.float32), np.eye(4))
    nib.save(img, tmp_path / "nan.nii.gz")
    code, _, err = run(capsys, "filter", tmp_path / "nan.nii.gz", "--method", "median")
    assert code == 2
    _one_line_error(err)
    assert "NaN" in err


def test_wrong_dimensionality(capsys, tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((8, 8), np.float32), np.eye(4)), tmp_path / "flat.nii")
    code, _, err = run(capsys, "info", tmp_path / "flat.nii")
    assert code == 2
    _one_line_error(err)
    assert "3D" in err or "4D" in err


def test_gaps_and_holes_are_kept_and_the_rest_filtered(capsys, tmp_path, test_data):
    rec = io.read(test_data / "signals" / "sel100_10s")
    data = rec.data.copy()
    data[1000:1100, 0] = np.nan  # a gap: 1000 samples (4 s) before it, 1400 after
    io.write(rec.replace(data=data, meta=dict(rec.meta, annotation_files=[], fmt=["16", "16"])), tmp_path / "gappy")
    code, _, err = run(capsys, "filter", tmp_path / "gappy", "--method", "butterworth", "--out-dir", tmp_path / "o")
    assert code == 0, err
    assert "channel MLII has 100 NaN or infinite samples" in err
    got = wfdb.rdrecord(str(tmp_path / "o" / "gappy")).p_signal
    assert np.isnan(got[1000:1100, 0]).all() and np.isfinite(np.delete(got, np.s_[1000:1100], axis=0)).all()
    alone = filters.apply("butterworth", data[:1000, 0], sampling_rate=rec.sampling_rate,
                          **filters.defaults("ecg", "butterworth"))
    np.testing.assert_allclose(got[:1000, 0], alone, atol=0.01)  # each stretch on its own (WFDB: 0.005 mV steps)
    vol = np.abs(np.random.default_rng(0).normal(100, 20, (16, 16, 4))).astype(np.float32)
    vol[3, 3, 1] = np.nan
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "hole.nii.gz")
    code, _, err = run(capsys, "filter", tmp_path / "hole.nii.gz", "--method", "median", "--out-dir", tmp_path / "o")
    assert code == 0 and "1 of 1024 voxels are NaN" in err
    out = nib.load(tmp_path / "o" / "hole.nii.gz").get_fdata()
    assert np.isnan(out[3, 3, 1]) and np.isfinite(out).sum() == out.size - 1


def test_multi_frequency_wfdb_record(capsys, tmp_path, test_data):
    """ECG at 2 samples per frame (720 Hz), Resp at 1 (360 Hz): denoised at 720 Hz, written back
    with the same samples per frame; Resp unchanged to the digital sample (read back with wfdb)."""
    rec = wfdb.rdrecord(str(test_data / "signals" / "sel100_10s"), physical=False)
    ecg = np.repeat(rec.d_signal[:1800, 0].astype(np.int64), 2)  # 5 s
    resp = np.round(500 * np.sin(2 * np.pi * 0.25 * np.arange(1800) / 360)).astype(np.int64)
    wfdb.wrsamp("mf", fs=360, units=["mV", "V"], sig_name=["MLII", "Resp"], e_d_signal=[ecg, resp],
                samps_per_frame=[2, 1], fmt=["16", "16"], adc_gain=[200, 1000], baseline=[1024, 0],
                write_dir=str(tmp_path))
    code, out, err = run(capsys, "info", tmp_path / "mf")
    assert code == 0 and "720 Hz (stored at lower rates: Resp 360 Hz)" in out
    code, out, err = run(capsys, "denoise", tmp_path / "mf", "--out-dir", tmp_path / "o")
    assert code == 0, err
    got = wfdb.rdrecord(str(tmp_path / "o" / "mf"), physical=False, smooth_frames=False)
    assert got.fs == 360 and got.samps_per_frame == [2, 1] and got.sig_len == 1800
    assert np.array_equal(got.e_d_signal[1], resp) and not np.array_equal(got.e_d_signal[0], ecg)


def test_a_lead_off_for_the_whole_record_is_kept(capsys, tmp_path, test_data):
    rec = io.read(test_data / "signals" / "sel100_10s")
    data = rec.data.copy()
    data[:, 1] = np.nan  # V5 invalid throughout
    io.write(rec.replace(data=data, meta=dict(rec.meta, annotation_files=[])), tmp_path / "leadoff")
    code, out, err = run(capsys, "info", tmp_path / "leadoff")
    assert code == 0 and "'V5' hold no valid sample" in err and "all NaN  –  –" in out
    code, _, err = run(capsys, "denoise", tmp_path / "leadoff", "--out-dir", tmp_path / "o")
    assert code == 0, err
    got = wfdb.rdrecord(str(tmp_path / "o" / "leadoff")).p_signal
    assert np.isnan(got[:, 1]).all() and np.isfinite(got[:, 0]).all()
    data[:, 0] = np.nan
    io.write(rec.replace(data=data, meta=dict(rec.meta, annotation_files=[])), tmp_path / "dead")
    code, _, err = run(capsys, "info", tmp_path / "dead")
    assert code == 2 and "no channel holds a valid sample" in err
