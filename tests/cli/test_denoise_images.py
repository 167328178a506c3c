"""``biodae denoise`` on images, as a user runs it: NIfTI 3D/4D, masks, the removed noise,
DICOM/PNG/TIFF in their own format, read back with independent readers."""

from __future__ import annotations

import re
import shutil

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image as PILImage

from biodae.cli import main
from biodae.runtime import load_model
from tests.conftest import tree_digest


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_nifti_3d_keeps_geometry_header_and_range(capsys, tmp_path, test_data):
    src = test_data / "images" / "mni152_t1_crop.nii.gz"
    before = tree_digest(src)
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path)
    assert code == 0, err
    assert f"mri {load_model('mri').version}" in out and "noise sigma" in out  # the estimate before and after is printed
    assert tree_digest(src) == before
    a, b = nib.load(src), nib.load(tmp_path / "mni152_t1_crop.nii.gz")
    assert np.array_equal(a.affine, b.affine)  # bit-exact
    assert np.array_equal(a.header.get_qform(), b.header.get_qform())
    assert a.header["sform_code"] == b.header["sform_code"] and np.array_equal(a.header["pixdim"], b.header["pixdim"])
    assert b.get_data_dtype() == np.float32
    x, y = a.get_fdata(), b.get_fdata()
    assert y.shape == x.shape and y.min() >= x.min() and y.max() <= x.max()
    # an independent reader sees the same voxels
    itk = sitk.ReadImage(str(tmp_path / "mni152_t1_crop.nii.gz"))
    np.testing.assert_allclose(sitk.GetArrayFromImage(itk).transpose(2, 1, 0), y, rtol=1e-6)


def test_nifti_4d_input_dtype_and_axis(capsys, tmp_path, test_data):
    src = test_data / "images" / "example4d_crop.nii.gz"
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path, "--dtype", "input", "--axis", "2")
    assert code == 0, err
    a, b = nib.load(src), nib.load(tmp_path / "example4d_crop.nii.gz")
    assert b.shape == a.shape and b.get_data_dtype() == a.get_data_dtype()
    assert np.array_equal(a.affine, b.affine)
    assert "axis 2" in out
    with pytest.raises(SystemExit):
        main(["denoise", str(src), "--out-dir", str(tmp_path / "bad"), "--axis", "3"])
    assert "--axis" in capsys.readouterr().err


def test_mask_and_save_noise(capsys, tmp_path, test_data):
    src = test_data / "images" / "mni152_t1_crop.nii.gz"
    img = nib.load(src)
    x = np.asarray(img.dataobj, dtype=np.float32)
    mask = np.zeros(x.shape, np.uint8)
    mask[:, : x.shape[1] // 2] = 1
    nib.save(nib.Nifti1Image(mask, img.affine), tmp_path / "mask.nii.gz")
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--mask", tmp_path / "mask.nii.gz",
                         "--save-noise")
    assert code == 0, err
    y = nib.load(tmp_path / "out" / "mni152_t1_crop.nii.gz").get_fdata(dtype=np.float32)
    noise = nib.load(tmp_path / "out" / "mni152_t1_crop_noise.nii.gz")
    assert np.array_equal(noise.affine, img.affine)
    np.testing.assert_array_equal(y[mask == 0], x[mask == 0])  # copied outside the mask
    np.testing.assert_allclose(noise.get_fdata(dtype=np.float32), x - y, atol=1e-4)  # input minus output
    # a rerun without --force refuses to overwrite either output
    code, _, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out", "--save-noise")
    assert code != 0 and "exists" in err
    # a mask on another grid is refused with what to do
    nib.save(nib.Nifti1Image(mask[:5], img.affine), tmp_path / "small.nii.gz")
    code, _, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "o2", "--mask", tmp_path / "small.nii.gz")
    assert code != 0 and "mask" in err and not (tmp_path / "o2" / "mni152_t1_crop.nii.gz").exists()


def test_nan_voxels_are_reported_and_copied(capsys, tmp_path, test_data):
    img = nib.load(test_data / "images" / "mni152_t1_crop.nii.gz")
    data = img.get_fdata(dtype=np.float32)
    data[(data.shape[0] // 2, data.shape[1] // 2, data.shape[2] // 2)] = np.nan
    src = tmp_path / "nan.nii.gz"
    header = img.header.copy()
    header.set_data_dtype(np.float32)  # NaN is a float; an integer file cannot hold it
    nib.save(nib.Nifti1Image(data, img.affine, header), src)
    code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "out")
    assert code == 0, err
    assert "1 of" in err and "NaN or infinite" in err and "noise sigma" in out
    y = nib.load(tmp_path / "out" / "nan.nii.gz").get_fdata()
    assert np.isnan(y).sum() == 1 and np.isnan(y[tuple(s // 2 for s in data.shape)])


def test_a_skull_stripped_volume_keeps_its_zero_fill(capsys, tmp_path, test_data):
    """Outside the brain mask the voxels are exactly 0, and ``> 0`` is the mask to many tools:
    denoise and filter leave that fill exactly 0 (read back with nibabel)."""
    from biodae._arrays import foreground_mask, zero_filled

    img = nib.load(test_data / "images" / "mni152_t1_crop.nii.gz")
    data = img.get_fdata(dtype=np.float32)
    data[~foreground_mask(data)] = 0
    src = tmp_path / "stripped.nii.gz"
    nib.save(nib.Nifti1Image(data, img.affine, img.header), src)
    fill = np.asarray(nib.load(src).dataobj) == 0
    assert fill.mean() > 0.05
    code, _, err = run(capsys, "denoise", src, "--out-dir", tmp_path / "d")
    assert code == 0, err
    code, _, err = run(capsys, "filter", src, "--method", "wavelet", "--out-dir", tmp_path / "f")
    assert code == 0, err
    for out in (tmp_path / "d" / "stripped.nii.gz", tmp_path / "f" / "stripped.nii.gz"):
        y = np.asarray(nib.load(out).dataobj)
        kept = zero_filled(np.asarray(nib.load(src).dataobj))  # zeros in regions of >= 9 (3D)
        assert kept.sum() > 0.9 * fill.sum() and (y[kept] == 0).all(), out.parent.name
        assert (y[~fill] != 0).any()


def test_the_removed_noise_is_computed_only_when_asked(test_data):
    from biodae import io
    from biodae._record import denoise_image

    im = io.read(test_data / "images" / "mni152_t1_crop.nii.gz")
    out, rep = denoise_image(im)
    assert "noise" not in rep  # no copy of the volume unless --save-noise (or the caller) reads it
    np.testing.assert_array_equal(rep["noise"], np.asarray(im.data, np.float32) - out.data)
    assert "noise" in rep and rep["noise"] is rep["noise"]  # computed once
    with pytest.raises(KeyError):
        rep["nothing"]


def test_dicom_picks_the_model_by_modality_and_keeps_bit_depth(capsys, tmp_path, test_data):
    for name, model in (("CT_small.dcm", "xray"), ("MR_small.dcm", "mri")):
        src = test_data / "images" / name
        code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path)
        assert code == 0, err
        assert f"{model} {load_model(model).version}" in out
        a, b = pydicom.dcmread(src), pydicom.dcmread(tmp_path / name)
        assert b.BitsStored == a.BitsStored and b.PixelRepresentation == a.PixelRepresentation
        assert b.SOPInstanceUID != a.SOPInstanceUID and b.PatientID == a.PatientID
        assert b.pixel_array.shape == a.pixel_array.shape


def test_png_and_tiff_default_to_xray_and_keep_their_format(capsys, tmp_path, test_data):
    for name in ("brain_slice16.png", "brain_stack.tif"):
        src = test_data / "images" / name
        code, out, err = run(capsys, "denoise", src, "--out-dir", tmp_path)
        assert code == 0, err
        assert f"xray {load_model('xray').version}" in out
        with PILImage.open(src) as a, PILImage.open(tmp_path / name) as b:
            assert a.mode == b.mode and a.size == b.size and getattr(b, "n_frames", 1) == getattr(a, "n_frames", 1)
    code, out, err = run(capsys, "denoise", test_data / "images" / "brain_slice16.png", "--out-dir", tmp_path / "m",
                         "--model", "mri")
    assert code == 0 and f"mri {load_model('mri').version}" in out


def test_signal_model_on_an_image_is_refused(capsys, tmp_path, test_data):
    code, _, err = run(capsys, "denoise", test_data / "images" / "mni152_t1_crop.nii.gz", "--model", "ecg",
                       "--out-dir", tmp_path)
    assert code != 0 and "signal model" in err and "--model" in err
    assert not any(tmp_path.iterdir())


def test_image_options_on_a_signal_are_refused(capsys, tmp_path, test_data):
    code, _, err = run(capsys, "denoise", test_data / "signals" / "sel100_10s.hea", "--save-noise",
                       "--out-dir", tmp_path)
    assert code != 0 and "--save-noise" in err


@pytest.mark.data
def test_every_nifti_in_the_data_folder(capsys, tmp_path, biodae_data):
    """``biodae denoise`` on every NIfTI under mri/ (3D and 4D), as a new user would."""
    files = sorted((biodae_data / "mri").rglob("*.nii*"))
    assert len(files) >= 7
    d = tmp_path / "in"
    d.mkdir()
    for f in files:
        shutil.copy(f, d / f.name)
    code, out, err = run(capsys, "denoise", d, "--out-dir", tmp_path / "out")
    assert code == 0, out + err
    for f in files:
        a, b = nib.load(f), nib.load(tmp_path / "out" / f.name)
        assert b.shape == a.shape and np.array_equal(a.affine, b.affine), f.name
        y = np.asarray(b.dataobj)
        assert np.isfinite(y).all()


@pytest.mark.data
def test_a_clean_scan_stays_nearly_unchanged(biodae_data):
    """Masked PSNR between output and input >= 38 dB on the MNI152 template (issue #4)."""
    from biodae import io
    from biodae._record import denoise_image
    from biodae.metrics import psnr
    from biodae._arrays import foreground_mask

    im = io.read(biodae_data / "mri" / "nilearn-mni152" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
    out, rep = denoise_image(im)
    mask = foreground_mask(im.data)
    value = psnr(im.data, out.data, data_range=float(im.data[mask].max()), mask=mask)
    assert value >= 38.0, f"masked PSNR output vs input {value:.2f} dB"


def test_a_scan_the_model_leaves_noisy_gets_the_self_supervised_hint(capsys, tmp_path, test_data):
    """Issue #20: on scanner-like noise (here k-space-apodised, spatially correlated) the blind model removes
    little; the user is told, with the option that adapts to the scan (noise2self for a volume, patch2self for
    a series of 3 volumes or more); a scan with the noise it was trained on gets no such hint."""
    from biodae.noise import mri_coil_noise, rician

    clean = nib.load(test_data / "images" / "mni152_t1_crop.nii.gz")
    x = np.pad(np.asarray(clean.dataobj, dtype=np.float64), ((16, 16), (16, 16), (0, 0)))  # air around the head

    def correlated(seed):
        return mri_coil_noise(x, 0.05 * x.max(), rng=seed, coils=1, kspace_filter="hamming",
                              kspace_axes=(0, 1)).noisy.astype(np.float32)

    def denoise(name, data):
        nib.save(nib.Nifti1Image(data, clean.affine), tmp_path / name)
        code, out, err = run(capsys, "denoise", tmp_path / name, "--out-dir", tmp_path / name.split(".")[0])
        assert code == 0, err
        before, after = (float(v) for v in re.search(r"noise sigma \(est\.\) (\S+) -> (\S+)\)", out).groups())
        return before, after, err

    before, after, err = denoise("correlated.nii.gz", correlated(0))
    assert after >= 0.8 * before
    assert "removed little of the estimated noise" in err and "--self-supervised noise2self (minutes" in err
    _, _, err = denoise("series3.nii.gz", np.stack([correlated(s) for s in range(3)], axis=3))
    assert "--self-supervised patch2self (a 4-D series" in err
    _, _, err = denoise("series2.nii.gz", np.stack([correlated(s) for s in range(2)], axis=3))
    assert "noise2self on each volume of the series, split into 3-D files first" in err
    before, after, err = denoise("white.nii.gz", rician(x, 0.05 * x.max(), rng=0).astype(np.float32))
    assert after < 0.5 * before and "removed little" not in err
    head = np.zeros(x.shape, np.float32)
    head[16:-16, 16:-16] = 1  # a mask: the air outside is copied, so the estimate there cannot fall
    nib.save(nib.Nifti1Image(head, clean.affine), tmp_path / "head.nii.gz")
    code, out, err = run(capsys, "denoise", tmp_path / "correlated.nii.gz", "--mask", tmp_path / "head.nii.gz",
                         "--out-dir", tmp_path / "masked")
    assert code == 0 and "inside the mask" in out and "removed little" not in err, err


def test_an_8_coil_scan_loses_its_noise_floor_unless_kept(capsys, tmp_path):
    """biodae denoise removes the noise floor of an 8-coil root-sum-of-squares NIfTI before the model
    and says so; --keep-noise-floor gives the model the magnitude as it is (the floor stays: brighter
    tissue); with --self-supervised the flag is refused."""
    from biodae import noise

    yy, xx = np.mgrid[:96, :96]
    head = np.where((yy - 48) ** 2 + (xx - 48) ** 2 < 32**2, 600.0, 0.0)
    head[(yy - 40) ** 2 + (xx - 45) ** 2 < 10**2] = 300.0
    vol = np.stack([noise.mri_coil_noise(head, 30.0, coils=8, rng=s).noisy for s in range(4)], axis=-1)
    src = tmp_path / "coils8.nii.gz"
    nib.save(nib.Nifti1Image(vol.astype(np.float32), np.diag([1.0, 1.0, 3.0, 1.0])), src)
    assert main(["denoise", str(src), "--out-dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"noise floor of N≈[0-9.]+ coils removed first", out), out
    assert main(["denoise", str(src), "--out-dir", str(tmp_path / "b"), "--keep-noise-floor"]) == 0
    assert "noise floor" not in capsys.readouterr().out
    a = np.asarray(nib.load(tmp_path / "a" / "coils8.nii.gz").dataobj)
    b = np.asarray(nib.load(tmp_path / "b" / "coils8.nii.gz").dataobj)
    inside = np.broadcast_to((head == 600.0)[..., None], a.shape)
    truth = 600.0
    assert abs(float(np.mean(a[inside])) - truth) < abs(float(np.mean(b[inside])) - truth)
    assert main(["denoise", str(src), "--out-dir", str(tmp_path / "c"), "--keep-noise-floor",
                 "--self-supervised", "noise2self"]) != 0
    assert "--keep-noise-floor" in capsys.readouterr().err
