"""NIfTI reading and writing: values, geometry and header kept bit for bit."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from biodae._errors import InputError, OutputExistsError
from biodae.io import Image
from biodae.io.nifti import NIFTI_DTYPES, read_nifti, write_nifti

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
MNI = IMAGES / "mni152_t1_crop.nii.gz"  # 3D uint8, sform only
EX4D = IMAGES / "example4d_crop.nii.gz"  # 4D int16, FSL header
ANAT = IMAGES / "anatomical.nii"  # 3D big-endian int16, SPM header
EXCERPTS = [MNI, EX4D, ANAT]

# every header field the writer must carry over unchanged (scaling and datatype excepted)
KEPT_FIELDS = (
    "dim",
    "dim_info",
    "intent_p1",
    "intent_p2",
    "intent_p3",
    "intent_code",
    "intent_name",
    "slice_start",
    "slice_end",
    "slice_code",
    "slice_duration",
    "pixdim",
    "xyzt_units",
    "cal_max",
    "cal_min",
    "toffset",
    "descrip",
    "aux_file",
    "qform_code",
    "sform_code",
    "quatern_b",
    "quatern_c",
    "quatern_d",
    "qoffset_x",
    "qoffset_y",
    "qoffset_z",
    "srow_x",
    "srow_y",
    "srow_z",
)


def _data_dir() -> Path | None:
    value = os.environ.get("BIODAE_DATA")
    return Path(value) if value else None


def _real_niftis() -> list:
    root = _data_dir()
    if root is None or not (root / "mri").is_dir():
        return [pytest.param(None, id="no-data")]
    return [pytest.param(p, id=p.name) for p in sorted((root / "mri").rglob("*.nii*"))]


@pytest.fixture
def data_dir() -> Path:
    root = _data_dir()
    if root is None:
        pytest.skip("BIODAE_DATA is not set; real-data tests need the shared data folder")
    assert root.is_dir(), f"BIODAE_DATA={root} is not a folder"
    return root


def stored_scaling(path: Path) -> tuple[float, float]:
    """scl_slope and scl_inter as written in the file (nibabel's loaded header shows NaN)."""
    from nibabel.openers import ImageOpener

    klass = type(nib.load(path).header)
    with ImageOpener(path) as fh:
        hdr = klass.from_fileobj(fh)
    return float(hdr["scl_slope"]), float(hdr["scl_inter"])


def assert_header_kept(src: Path, out: Path) -> None:
    a, b = nib.load(src), nib.load(out)
    assert np.array_equal(a.affine, b.affine), "affine not bit-exact"
    assert np.array_equal(a.header.get_qform(), b.header.get_qform())
    assert np.array_equal(a.header.get_sform(), b.header.get_sform())
    for field in KEPT_FIELDS:
        assert np.array_equal(a.header[field], b.header[field]), field


def assert_sitk_agrees(path: Path) -> None:
    """An independent reader (ITK) sees the geometry and voxels nibabel sees."""
    sitk = pytest.importorskip("SimpleITK")
    img = nib.load(path)
    ref = sitk.ReadImage(str(path))
    affine = img.affine
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    lps = np.diag([-1.0, -1.0, 1.0])  # NIfTI is RAS+, ITK is LPS+
    n = ref.GetDimension()
    direction = np.array(ref.GetDirection()).reshape(n, n)[:3, :3]
    np.testing.assert_allclose(ref.GetSpacing()[:3], zooms, rtol=1e-5)
    np.testing.assert_allclose(ref.GetOrigin()[:3], lps @ affine[:3, 3], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(direction, lps @ affine[:3, :3] / zooms, atol=1e-5)
    arr = sitk.GetArrayFromImage(ref).T  # ITK arrays are (t, z, y, x)
    assert np.array_equal(np.squeeze(arr), np.squeeze(np.asarray(img.dataobj)))


def _sitk_reads(path: Path) -> bool:
    sitk = pytest.importorskip("SimpleITK")
    try:
        sitk.ReadImage(str(path))
    except RuntimeError:
        return False
    return True


# --------------------------------------------------------------------------- reading


def test_read_3d_values_spacing_and_meta():
    im = read_nifti(MNI)
    ref = nib.load(MNI)
    assert im.shape == (32, 32, 8)
    assert im.data.dtype == np.float32
    assert np.array_equal(im.data, ref.get_fdata())
    assert im.spacing == (1.0, 1.0, 1.0)
    assert (im.format, im.modality, im.source) == ("nifti", "mri", MNI)
    meta = im.meta
    assert np.array_equal(meta["affine"], ref.affine)
    assert meta["disk_dtype"] == np.dtype("uint8")
    assert meta["nifti_version"] == 1
    assert (meta["qform_code"], meta["sform_code"]) == (0, 2)
    assert (meta["scl_slope"], meta["scl_inter"]) == (1.0, 0.0)
    assert meta["header"] is not ref.header
    assert meta["header"].binaryblock == ref.header.binaryblock


def test_read_4d_keeps_time_axis_and_header():
    im = read_nifti(EX4D)
    assert im.shape == (16, 16, 6, 2)
    assert im.spacing == pytest.approx((2.0, 2.0, 2.2), rel=1e-5)
    assert len(im.spacing) == 3
    assert im.meta["zooms"][3] == pytest.approx(2000.0)  # TR as stored
    assert im.meta["disk_dtype"] == np.dtype("int16")
    assert bytes(im.meta["header"]["descrip"]).startswith(b"FSL3.3")


def test_read_applies_scaling(tmp_path):
    src = nib.load(EX4D)
    raw = np.asarray(src.dataobj)
    img = nib.Nifti1Image(raw, None, header=src.header)
    img.header.set_slope_inter(0.25, -10.0)  # after construction, which resets scaling
    path = tmp_path / "scaled.nii.gz"
    img.to_filename(path)
    im = read_nifti(path)
    np.testing.assert_array_equal(im.data, (raw * 0.25 - 10.0).astype(np.float32))
    assert (im.meta["scl_slope"], im.meta["scl_inter"]) == (0.25, -10.0)


def test_read_metres_converted_to_mm(tmp_path):
    src = nib.load(MNI)
    hdr = src.header.copy()
    hdr.set_xyzt_units("meter")
    hdr.set_zooms((0.002, 0.002, 0.003))
    path = tmp_path / "metres.nii"
    nib.Nifti1Image(np.asarray(src.dataobj), None, header=hdr).to_filename(path)
    assert read_nifti(path).spacing == pytest.approx((2.0, 2.0, 3.0), rel=1e-6)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("src", EXCERPTS, ids=lambda p: p.name)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_round_trip_float32_exact(tmp_path, src, suffix):
    im = read_nifti(src)
    out = write_nifti(im, tmp_path / f"out{suffix}")
    assert out == tmp_path / f"out{suffix}"
    assert_header_kept(src, out)
    img = nib.load(out)
    assert img.header.get_data_dtype().newbyteorder("=") == np.dtype("float32")
    assert stored_scaling(out) == (1.0, 0.0)
    back = read_nifti(out)
    assert np.array_equal(back.data, im.data)
    assert back.spacing == im.spacing
    assert (suffix == ".nii.gz") == (out.read_bytes()[:2] == b"\x1f\x8b")


@pytest.mark.parametrize("src", EXCERPTS, ids=lambda p: p.name)
def test_round_trip_input_dtype(tmp_path, src):
    im = read_nifti(src)
    out = write_nifti(im, tmp_path / "out.nii.gz", dtype="input")
    assert_header_kept(src, out)
    a, b = nib.load(src), nib.load(out)
    assert b.header.get_data_dtype() == a.header.get_data_dtype()  # byte order too
    assert np.array_equal(np.asarray(b.dataobj), np.asarray(a.dataobj))


@pytest.mark.parametrize("src", EXCERPTS, ids=lambda p: p.name)
@pytest.mark.parametrize("dtype", ["float32", "input"])
def test_output_read_by_simpleitk(tmp_path, src, dtype):
    out = write_nifti(read_nifti(src), tmp_path / "out.nii.gz", dtype=dtype)
    assert_sitk_agrees(out)


def test_nifti2_round_trip(tmp_path):
    src = tmp_path / "two.nii.gz"
    nib.Nifti2Image.from_image(nib.load(EX4D)).to_filename(src)
    im = read_nifti(src)
    assert im.meta["nifti_version"] == 2
    out = write_nifti(im, tmp_path / "out.nii", dtype="input")
    img = nib.load(out)
    assert isinstance(img, nib.Nifti2Image) and int(img.header["sizeof_hdr"]) == 540
    assert np.array_equal(img.affine, nib.load(src).affine)
    assert np.array_equal(read_nifti(out).data, im.data)


def test_processed_data_written_float32_exact(tmp_path):
    im = read_nifti(EX4D)
    rng = np.random.default_rng(0)
    new = im.replace(data=(im.data + rng.normal(0, 3.7, im.shape)).astype(np.float32))
    out = write_nifti(new, tmp_path / "den.nii.gz")
    assert np.array_equal(read_nifti(out).data, new.data)
    assert_header_kept(EX4D, out)


def test_input_dtype_rounds_and_clips(tmp_path, caplog):
    im = read_nifti(MNI)  # uint8 on disk
    data = im.data.copy()
    data[0, 0, 0], data[1, 0, 0], data[2, 0, 0], data[3, 0, 0] = -5.0, 300.0, 12.4, 12.6
    with caplog.at_level(logging.WARNING, logger="biodae.io"):
        out = write_nifti(im.replace(data=data), tmp_path / "out.nii.gz", dtype="input")
    raw = np.asarray(nib.load(out).dataobj)
    assert raw.dtype == np.uint8
    assert list(raw[:4, 0, 0]) == [0, 255, 12, 13]
    assert np.array_equal(raw[4:], data[4:].astype(np.uint8))
    assert "1 value(s) below 0 and 1 above 255 clipped" in caplog.text


def test_input_dtype_keeps_nontrivial_scaling(tmp_path):
    scaled = nib.Nifti1Image(np.asarray(nib.load(EX4D).dataobj), None, header=nib.load(EX4D).header)
    scaled.header.set_slope_inter(0.5, -10.0)
    src = tmp_path / "scaled.nii.gz"
    scaled.to_filename(src)
    im = read_nifti(src)
    data = im.data.copy()
    data[0, 0, 0, 0] = 1.0e6  # above the int16 range after scaling
    data[1, 0, 0, 0] = -1.0e6
    data[2, 0, 0, 0] = 3.3  # (3.3 + 10) / 0.5 = 26.6 -> 27
    out = write_nifti(im.replace(data=data), tmp_path / "out.nii.gz", dtype="input")
    img = nib.load(out)
    assert stored_scaling(out) == (0.5, -10.0)
    raw = img.dataobj.get_unscaled()
    assert raw.dtype == np.int16
    assert list(raw[:3, 0, 0, 0]) == [32767, -32768, 27]
    expected = np.clip(np.rint((data.astype(np.float64) + 10.0) / 0.5), -32768, 32767)
    assert np.array_equal(raw, expected.astype(np.int16))
    back = read_nifti(out).data
    assert np.abs(back[3:] - data[3:]).max() <= 0.25  # half a step of 0.5
    assert_header_kept(src, out)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [("int16", np.int16), ("uint8", np.uint8), ("float64", np.float64), ("int32", np.int32)],
)
def test_explicit_dtype_without_scaling(tmp_path, dtype, expected):
    im = read_nifti(EX4D)
    data = im.data + 0.4
    out = write_nifti(im.replace(data=data), tmp_path / "out.nii.gz", dtype=dtype)
    img = nib.load(out)
    raw = np.asarray(img.dataobj)
    assert raw.dtype == expected
    assert stored_scaling(out) == (1.0, 0.0)
    if np.dtype(expected).kind == "f":
        assert np.array_equal(raw, data.astype(expected))
    else:
        info = np.iinfo(expected)
        assert np.array_equal(raw, np.clip(np.rint(data.astype(np.float64)), info.min, info.max).astype(expected))
    assert np.array_equal(img.affine, nib.load(EX4D).affine)


def test_unknown_dtype_lists_valid_ones(tmp_path):
    with pytest.raises(InputError) as err:
        write_nifti(read_nifti(MNI), tmp_path / "out.nii.gz", dtype="float16")
    assert "float16" in str(err.value)
    for name in ("input",) + NIFTI_DTYPES:
        assert name in err.value.hint
    assert not (tmp_path / "out.nii.gz").exists()


def test_write_leaves_input_untouched(tmp_path):
    im = read_nifti(EX4D)
    block = im.meta["header"].binaryblock
    data = im.data.copy()
    affine = im.meta["affine"].copy()
    write_nifti(im, tmp_path / "a.nii.gz", dtype="int16")
    write_nifti(im, tmp_path / "b.nii.gz")
    assert im.meta["header"].binaryblock == block
    assert np.array_equal(im.data, data)
    assert np.array_equal(im.meta["affine"], affine)


def test_no_overwrite_without_force(tmp_path):
    im = read_nifti(MNI)
    out = write_nifti(im, tmp_path / "out.nii.gz")
    before = out.read_bytes()
    with pytest.raises(OutputExistsError):
        write_nifti(im.replace(data=im.data + 1), out)
    assert out.read_bytes() == before
    write_nifti(im.replace(data=im.data + 1), out, force=True)
    assert np.array_equal(read_nifti(out).data, im.data + 1)
    assert [p.name for p in tmp_path.iterdir()] == ["out.nii.gz"]  # no temporary left


def test_image_without_header_gets_spacing_affine(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    out = write_nifti(Image(data=data, spacing=(2.0, 3.0, 4.0), format="nifti"), tmp_path / "new.nii")
    img = nib.load(out)
    assert np.array_equal(img.affine, np.diag([2.0, 3.0, 4.0, 1.0]))
    assert np.array_equal(img.get_fdata(), data)


# --------------------------------------------------------------------------- bad input


def _assert_input_error(path: Path, *words: str) -> InputError:
    with pytest.raises(InputError) as err:
        read_nifti(path)
    text = str(err.value)
    assert path.name in text
    assert err.value.hint
    for word in words:
        assert word in text, text
    return err.value


def test_missing_file(tmp_path):
    _assert_input_error(tmp_path / "nope.nii.gz", "no such file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.nii"
    path.write_bytes(b"")
    _assert_input_error(path, "empty")


def test_not_nifti_with_nii_extension(tmp_path):
    path = tmp_path / "scan.nii"
    path.write_text("this is a text file, not a NIfTI volume\n" * 20)
    _assert_input_error(path, "not a NIfTI file")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_truncated_file(tmp_path, suffix):
    raw = gzip.decompress(EX4D.read_bytes())
    path = tmp_path / f"cut{suffix}"
    cut = raw[: len(raw) // 2]
    path.write_bytes(gzip.compress(cut) if suffix == ".nii.gz" else cut)
    _assert_input_error(path, "truncated")
    if suffix == ".nii.gz":  # a cut gzip stream, not just cut data
        path.write_bytes(EX4D.read_bytes()[:2000])
        _assert_input_error(path, "truncated")


def test_a_damaged_gzip_stream_is_refused(tmp_path):
    """Bytes changed inside a .nii.gz (a bad copy, a failing disk): gzip's CRC says so and nothing is
    denoised from the damaged voxels (nibabel alone stops before the checksum and reads them)."""
    vol = np.random.default_rng(0).integers(0, 4000, (96, 96, 64), dtype=np.int16)  # 1.2 MB: past read-ahead
    path = tmp_path / "damaged.nii.gz"
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "intact.nii")
    raw = gzip.compress((tmp_path / "intact.nii").read_bytes(), compresslevel=0)  # stored blocks: bytes are data
    path.write_bytes(raw)
    assert np.array_equal(read_nifti(path).data, vol)  # intact: read as usual
    bad = bytearray(raw)
    bad[len(bad) // 2] ^= 0x40  # one bit of one voxel
    path.write_bytes(bytes(bad))
    assert nib.load(path).get_fdata().shape == vol.shape  # what nibabel alone would hand on
    _assert_input_error(path, "CRC")
    path.write_bytes(raw + bytes(16))  # zero padding after the stream (a block device's copy): read
    assert np.array_equal(read_nifti(path).data, vol)
    path.write_bytes(raw + b"trailing bytes")  # anything else after it: refused, as Python's gzip does
    _assert_input_error(path, "Not a gzipped file")


def test_wrong_extension(tmp_path):
    path = tmp_path / "scan.img"
    path.write_bytes(MNI.read_bytes())
    _assert_input_error(path, ".nii")


def test_all_nan_volume(tmp_path):
    path = tmp_path / "nan.nii.gz"
    nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)).to_filename(path)
    _assert_input_error(path, "NaN")


def test_partial_nan_is_kept(tmp_path):
    data = np.ones((4, 4, 4), np.float32)
    data[0] = np.nan
    path = tmp_path / "some_nan.nii.gz"
    nib.Nifti1Image(data, np.eye(4)).to_filename(path)
    im = read_nifti(path)
    assert np.isnan(im.data[0]).all() and (im.data[1:] == 1).all()


@pytest.mark.parametrize("shape", [(8, 8), (2, 2, 2, 2, 2)])
def test_2d_and_5d_rejected(tmp_path, shape):
    path = tmp_path / f"{len(shape)}d.nii.gz"
    nib.Nifti1Image(np.ones(shape, np.float32), np.eye(4)).to_filename(path)
    _assert_input_error(path, "3D or 4D")


def test_write_rejects_bad_data(tmp_path):
    im = read_nifti(MNI)
    with pytest.raises(InputError, match="3D or 4D"):
        write_nifti(im.replace(data=im.data[..., 0]), tmp_path / "a.nii.gz")
    with pytest.raises(InputError, match="NaN"):
        write_nifti(im.replace(data=np.full(im.shape, np.nan, np.float32)), tmp_path / "b.nii.gz")
    nan_some = im.data.copy()
    nan_some[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        write_nifti(im.replace(data=nan_some), tmp_path / "c.nii.gz", dtype="input")
    with pytest.raises(InputError, match=r"\.nii"):
        write_nifti(im, tmp_path / "d.nrrd")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- real data


@pytest.mark.data
@pytest.mark.parametrize("src", _real_niftis())
@pytest.mark.parametrize("dtype", ["float32", "input"])
def test_real_round_trip(tmp_path, data_dir, src, dtype):
    assert src is not None, f"no NIfTI files under {data_dir / 'mri'}"
    im = read_nifti(src)
    out = write_nifti(im, tmp_path / "out.nii.gz", dtype=dtype)
    assert_header_kept(src, out)
    back = read_nifti(out)
    if dtype == "float32" or np.dtype(im.meta["disk_dtype"]).kind == "f":
        assert np.array_equal(back.data, im.data)
    else:
        assert np.array_equal(np.asarray(nib.load(out).dataobj), np.asarray(nib.load(src).dataobj))
    if _sitk_reads(src):
        assert_sitk_agrees(out)
    else:  # e.g. dipy's S0_10slices: a sheared sform ITK refuses; it must refuse the output alike
        assert not _sitk_reads(out)
