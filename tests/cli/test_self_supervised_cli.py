"""``biodae denoise --self-supervised``: the scan itself trains the denoiser; outputs as the normal path writes them."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from biodae.cli import main
from tests.conftest import tree_digest


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _series_nifti(path, seed=0, volumes=12):
    """A 4-D NIfTI (int16, an oblique affine, qform and sform codes, a description) of a low-rank series with
    white noise independent between volumes; returns the clean series."""
    rng = np.random.default_rng(seed)
    shape = (14, 12, 5)
    base = np.zeros(shape)
    base[3:11, 2:10, 1:4] = 400.0
    comps = rng.random((3, *shape)) * 200.0
    w = rng.random((volumes, 3))
    clean = np.stack([base + np.tensordot(w[t], comps, 1) for t in range(volumes)], axis=3) + 100.0
    noisy = np.round(clean + rng.normal(0.0, 40.0, clean.shape)).astype(np.int16)
    affine = np.array([[1.9, 0.2, 0.0, -10.5], [-0.1, 2.0, 0.3, 4.25], [0.0, -0.2, 2.5, 7.0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(noisy, affine)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=2)
    img.header["descrip"] = b"a test series"
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, path)
    return clean


def test_patch2self_writes_the_series_with_its_header(capsys, tmp_path):
    src = tmp_path / "series.nii.gz"
    clean = _series_nifti(src)
    before = tree_digest(src)
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "denoise", src, "--self-supervised", "patch2self", "--out-dir", out_dir,
                         "--save-noise")
    assert code == 0, err
    assert "patch2self (OLS, patch radius 0, 12 volumes)" in out
    assert tree_digest(src) == before
    a, b = nib.load(src), nib.load(out_dir / "series.nii.gz")
    assert np.array_equal(a.affine, b.affine)  # bit-exact
    assert np.array_equal(a.header.get_qform(), b.header.get_qform()) and int(b.header["qform_code"]) == 1
    assert int(b.header["sform_code"]) == 2 and b.header["descrip"].tobytes().startswith(b"a test series")
    assert np.array_equal(a.header["pixdim"], b.header["pixdim"]) and b.get_data_dtype() == np.float32
    x, y = a.get_fdata(), b.get_fdata()
    assert y.shape == x.shape and y.min() >= x.min() and y.max() <= x.max()
    assert np.sqrt(np.mean((y - clean) ** 2)) < 0.7 * np.sqrt(np.mean((x - clean) ** 2))
    noise = nib.load(out_dir / "series_noise.nii.gz").get_fdata()
    np.testing.assert_allclose(noise, x - y, atol=1e-3)
    # the --force rules of the normal path: an existing output is kept, --force replaces it
    written = tree_digest(out_dir / "series.nii.gz")
    code, out, err = run(capsys, "denoise", src, "--self-supervised", "patch2self", "--out-dir", out_dir)
    assert code != 0 and "--force" in err
    assert tree_digest(out_dir / "series.nii.gz") == written
    code, out, err = run(capsys, "denoise", src, "--self-supervised", "patch2self", "--out-dir", out_dir, "--force")
    assert code == 0, err


def test_patch2self_on_a_volume_and_signals_are_refused(capsys, tmp_path, test_data):
    code, _, err = run(capsys, "denoise", test_data / "images" / "mni152_t1_crop.nii.gz", "--self-supervised",
                         "patch2self", "--out-dir", tmp_path)
    assert code == 2 and "patch2self needs a 4-D series" in err and "noise2self" in err
    assert not list(tmp_path.iterdir())
    code, _, err = run(capsys, "denoise", test_data / "signals" / "sel100_10s.hea", "--self-supervised",
                         "noise2self", "--out-dir", tmp_path)
    assert code == 2 and "not WFDB signal records" in err
    code, _, err = run(capsys, "denoise", test_data / "images" / "mni152_t1_crop.nii.gz", "--blind-spot", "1",
                         "--out-dir", tmp_path)
    assert code == 2 and "--self-supervised noise2self" in err
    code, _, err = run(capsys, "denoise", test_data / "images" / "example4d_crop.nii.gz", "--self-supervised",
                         "patch2self", "--blind-spot", "1", "--out-dir", tmp_path)
    assert code == 2 and "apply to noise2self" in err
    with pytest.raises(SystemExit):
        main(["denoise", str(test_data / "images" / "mni152_t1_crop.nii.gz"), "--self-supervised", "bm3d"])
    assert "--self-supervised" in capsys.readouterr().err


def test_noise2self_writes_the_volume_with_its_geometry(capsys, tmp_path, test_data):
    pytest.importorskip("torch")
    src = test_data / "images" / "mni152_t1_crop.nii.gz"
    code, out, err = run(capsys, "denoise", src, "--self-supervised", "noise2self", "--blind-spot", "1",
                         "--adapt-steps", "4", "--out-dir", tmp_path)
    assert code == 0, err
    assert "noise2self (mri" in out and "blind spot radius 1, 4 steps, seed 0" in out and "axis 2" in out
    a, b = nib.load(src), nib.load(tmp_path / "mni152_t1_crop.nii.gz")
    assert np.array_equal(a.affine, b.affine) and a.header["sform_code"] == b.header["sform_code"]
    x, y = a.get_fdata(), b.get_fdata()
    assert y.shape == x.shape and y.min() >= x.min() and y.max() <= x.max() and not np.array_equal(x, y)
