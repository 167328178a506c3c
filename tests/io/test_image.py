"""DICOM, PNG and TIFF reading and writing at the stored bit depth, checked by other readers."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image as PILImage
from pydicom.uid import UID, ExplicitVRLittleEndian

from biodae._errors import InputError, OutputExistsError
from biodae.io import Image
from biodae.io.image import read_dicom, read_raster, write_dicom, write_raster

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
CT = IMAGES / "CT_small.dcm"  # CT 128x128 int16, intercept -1024
MR = IMAGES / "MR_small.dcm"  # MR 64x64 int16
EMRI = IMAGES / "emri_small.dcm"  # enhanced MR, 10 frames, 12-bit unsigned
RG3 = IMAGES / "RG3_crop_j2kr.dcm"  # CR 10-bit MONOCHROME1, JPEG 2000 lossless
RG1 = IMAGES / "RG1_crop.dcm"  # CR 15-bit MONOCHROME1, uncompressed, once lossy-compressed
DICOMS = [CT, MR, EMRI, RG3, RG1]
PNG8 = IMAGES / "mni152_slice8.png"
PNG16 = IMAGES / "brain_slice16.png"
STACK = IMAGES / "brain_stack.tif"  # 3 x 64 x 64 uint16


def _data_dir() -> Path | None:
    value = os.environ.get("BIODAE_DATA")
    return Path(value) if value else None


@pytest.fixture
def data_dir() -> Path:
    root = _data_dir()
    if root is None:
        pytest.skip("BIODAE_DATA is not set; real-data tests need the shared data folder")
    assert root.is_dir(), f"BIODAE_DATA={root} is not a folder"
    return root


def _sitk():
    return pytest.importorskip("SimpleITK")


def sitk_pixels(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """Pixels (frames squeezed) and spacing as ITK/GDCM reads ``path``."""
    sitk = _sitk()
    img = sitk.ReadImage(str(path))
    arr = sitk.GetArrayFromImage(img)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    return arr, img.GetSpacing()


def pil_pixels(path: Path) -> np.ndarray:
    with PILImage.open(path) as im:
        return np.asarray(im)


def stored_range(ds) -> tuple[int, int]:
    bits = int(ds.BitsStored)
    if int(ds.PixelRepresentation):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def dataset_variant(tmp_path: Path, name: str, **changes) -> Path:
    """CT_small with some attributes changed, saved as a new file."""
    ds = pydicom.dcmread(CT)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- DICOM reading


def test_read_ct_in_hounsfield_units():
    im = read_dicom(CT)
    ds = pydicom.dcmread(CT)
    assert im.shape == (128, 128) and im.data.dtype == np.float32
    assert np.array_equal(im.data, ds.pixel_array.astype(np.float32) - 1024.0)
    assert im.spacing == pytest.approx((0.661468, 0.661468))
    assert (im.format, im.modality) == ("dicom", "ct")
    meta = im.meta
    assert isinstance(meta["dataset"], pydicom.Dataset)
    assert (meta["bits_allocated"], meta["bits_stored"], meta["pixel_representation"]) == (16, 16, 1)
    assert (meta["rescale_slope"], meta["rescale_intercept"]) == (1.0, -1024.0)
    assert meta["photometric_interpretation"] == "MONOCHROME2"
    assert meta["lossy"] is False
    assert meta["sop_instance_uid"] == ds.SOPInstanceUID


def test_read_multiframe():
    im = read_dicom(EMRI)
    assert im.shape == (10, 64, 64)
    assert im.spacing == (1.2, 1.0, 1.0)  # SpacingBetweenSlices; no PixelSpacing in the file
    assert im.modality == "mri"
    assert im.meta["number_of_frames"] == 10 and im.meta["bits_stored"] == 12
    assert np.array_equal(im.data, pydicom.dcmread(EMRI).pixel_array)


def test_jpeg2000_decoded_like_an_independent_reader():
    im = read_dicom(RG3)
    assert im.meta["transfer_syntax"] == "1.2.840.10008.1.2.4.90"
    assert im.meta["photometric_interpretation"] == "MONOCHROME1"
    assert im.modality == "xray" and im.shape == (96, 96)
    itk, _ = sitk_pixels(RG3)
    # MONOCHROME1 is kept as stored here; GDCM inverts it to MONOCHROME2
    assert np.array_equal(itk.astype(np.int64), 1023 - im.data.astype(np.int64))


def test_monochrome1_kept_as_stored():
    im = read_dicom(RG1)
    assert im.meta["photometric_interpretation"] == "MONOCHROME1"
    assert np.array_equal(im.data, pydicom.dcmread(RG1).pixel_array)
    assert im.meta["lossy"] is True


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("MR", "mri"), ("CT", "ct")]
    + [(m, "xray") for m in ("CR", "DX", "DR", "RG", "MG", "XA", "RF", "PX", "IO")]
    + [("US", "image"), ("OT", "image"), ("NM", "image")],
)
def test_modality_mapping(tmp_path, tag, expected):
    assert read_dicom(dataset_variant(tmp_path, "m.dcm", Modality=tag)).modality == expected


def test_spacing_fallbacks(tmp_path):
    no_spacing = dataset_variant(tmp_path, "a.dcm", PixelSpacing=None)
    assert read_dicom(no_spacing).spacing == (1.0, 1.0)
    imager = dataset_variant(tmp_path, "b.dcm", PixelSpacing=None, ImagerPixelSpacing=[0.2, 0.3])
    im = read_dicom(imager)
    assert im.spacing == (0.2, 0.3) and im.meta["spacing_source"] == "ImagerPixelSpacing"
    zero = dataset_variant(tmp_path, "c.dcm", PixelSpacing=[0, 0])
    assert read_dicom(zero).spacing == (1.0, 1.0)


def test_rescale_slope_applied_and_inverted(tmp_path):
    path = dataset_variant(tmp_path, "s.dcm", RescaleSlope="0.5", RescaleIntercept="-100")
    raw = pydicom.dcmread(path).pixel_array
    im = read_dicom(path)
    assert np.array_equal(im.data, raw * 0.5 - 100.0)
    out = write_dicom(im, tmp_path / "out.dcm")
    assert np.array_equal(pydicom.dcmread(out).pixel_array, raw)


# --------------------------------------------------------------------------- DICOM writing


@pytest.mark.parametrize("src", DICOMS, ids=lambda p: p.name)
def test_dicom_round_trip_and_independent_reader(tmp_path, src):
    im = read_dicom(src)
    source = pydicom.dcmread(src)
    out = write_dicom(im, tmp_path / "out.dcm")
    assert out == tmp_path / "out.dcm"
    back = read_dicom(out)
    assert np.array_equal(back.data, im.data)
    assert back.spacing == im.spacing and back.modality == im.modality

    ds = pydicom.dcmread(out)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    for keyword in ("BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "Rows", "Columns"):
        assert ds[keyword].value == source[keyword].value, keyword
    for keyword in (
        "PatientID",
        "StudyInstanceUID",
        "PixelSpacing",
        "RescaleSlope",
        "RescaleIntercept",
        "PhotometricInterpretation",
        "Modality",
        "SOPClassUID",
        "NumberOfFrames",
        "FrameOfReferenceUID",
    ):
        if keyword in source:
            assert ds[keyword].value == source[keyword].value, keyword
    assert ds.SOPInstanceUID != source.SOPInstanceUID
    assert UID(ds.SOPInstanceUID).is_valid
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.file_meta.MediaStorageSOPClassUID == source.SOPClassUID
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID and UID(ds.SeriesInstanceUID).is_valid
    assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert list(ds.ImageType)[2:] == list(source.ImageType)[2:]
    assert ds.DerivationDescription == "denoised by biodae"
    ref = ds.SourceImageSequence[0]
    assert (ref.ReferencedSOPInstanceUID, ref.ReferencedSOPClassUID) == (source.SOPInstanceUID, source.SOPClassUID)
    assert ds.LossyImageCompression == ("01" if src == RG1 else "00")
    assert np.array_equal(ds.pixel_array, source.pixel_array)

    # independent reader: ITK/GDCM sees the same pixels and spacing in our output
    itk, spacing = sitk_pixels(out)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        itk = stored_range(ds)[1] - itk.astype(np.int64)  # GDCM shows MONOCHROME1 inverted
    assert np.array_equal(itk.astype(np.float64), back.data.astype(np.float64))
    rows_cols = im.spacing[-2:]
    assert spacing[:2] == pytest.approx((rows_cols[1], rows_cols[0]))  # ITK: (x=col, y=row)


def test_processed_values_rounded_and_clipped(tmp_path, caplog):
    im = read_dicom(CT)  # int16 stored, HU = stored - 1024
    data = im.data.copy()
    data[0, 0], data[0, 1], data[0, 2], data[0, 3] = -40000.0, 40000.0, 10.4, 10.6
    with caplog.at_level(logging.WARNING, logger="biodae.io"):
        out = write_dicom(im.replace(data=data), tmp_path / "out.dcm")
    stored = pydicom.dcmread(out).pixel_array
    assert list(stored[0, :4]) == [-32768, 32767, 1034, 1035]
    assert np.array_equal(read_dicom(out).data[1:], np.rint(data[1:]))
    assert "clipped" in caplog.text


def test_ten_bit_range_clipping(tmp_path):
    im = read_dicom(RG3)  # BitsStored 10, unsigned
    data = im.data.copy()
    data[0, :3] = [-3.0, 1500.0, 100.6]
    out = write_dicom(im.replace(data=data), tmp_path / "out.dcm")
    ds = pydicom.dcmread(out)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 10, 9)
    assert list(ds.pixel_array[0, :3]) == [0, 1023, 101]
    assert ds.pixel_array.max() <= 1023


def test_write_keeps_source_dataset_untouched(tmp_path):
    im = read_dicom(CT)
    before = copy.deepcopy(im.meta["dataset"])
    write_dicom(im.replace(data=im.data + 5), tmp_path / "out.dcm", derivation="test")
    after = im.meta["dataset"]
    assert after == before
    assert after.SOPInstanceUID == before.SOPInstanceUID
    assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID
    assert list(after.ImageType) == list(before.ImageType)


def test_uids_and_derivation_text(tmp_path):
    im = read_dicom(MR)
    a = pydicom.dcmread(write_dicom(im, tmp_path / "a.dcm", derivation="denoised by biodae (model x)"))
    b = pydicom.dcmread(write_dicom(im, tmp_path / "b.dcm", derivation="denoised by biodae (model x)"))
    c = pydicom.dcmread(write_dicom(im, tmp_path / "c.dcm", derivation="median filter"))
    assert a.DerivationDescription == "denoised by biodae (model x)"
    assert len({a.SOPInstanceUID, b.SOPInstanceUID, c.SOPInstanceUID, im.meta["sop_instance_uid"]}) == 4
    # one new series per source series and derivation: slices written one by one stay together
    assert a.SeriesInstanceUID == b.SeriesInstanceUID != c.SeriesInstanceUID
    for bad in ("", "x" * 1025):
        with pytest.raises(InputError, match="derivation"):
            write_dicom(im, tmp_path / "bad.dcm", derivation=bad)


def test_dicom_no_overwrite_without_force(tmp_path):
    im = read_dicom(MR)
    out = write_dicom(im, tmp_path / "out.dcm")
    with pytest.raises(OutputExistsError):
        write_dicom(im, out)
    write_dicom(im, out, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out.dcm"]


def test_write_dicom_rejects_bad_input(tmp_path):
    im = read_dicom(CT)
    with pytest.raises(InputError, match="shape"):
        write_dicom(im.replace(data=im.data[:64]), tmp_path / "a.dcm")
    nan = im.data.copy()
    nan[3, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        write_dicom(im.replace(data=nan), tmp_path / "b.dcm")
    with pytest.raises(InputError, match="dataset"):
        write_dicom(Image(data=im.data, spacing=(1.0, 1.0), format="dicom"), tmp_path / "c.dcm")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- DICOM bad input


def _read_fails(path: Path, *words: str) -> InputError:
    reader = read_raster if path.suffix in (".png", ".tif", ".tiff") else read_dicom
    with pytest.raises(InputError) as err:
        reader(path)
    text = str(err.value)
    assert path.name in text and err.value.hint
    for word in words:
        assert word in text, text
    return err.value


def test_colour_dicom_rejected(tmp_path):
    ds = pydicom.dcmread(CT)
    rgb = np.zeros((ds.Rows, ds.Columns, 3), np.uint8)
    rgb[..., 0] = 200
    ds.set_pixel_data(rgb, "RGB", 8)
    path = tmp_path / "rgb.dcm"
    ds.save_as(path, enforce_file_format=True)
    _read_fails(path, "not a greyscale image", "RGB")


def test_segmentation_rejected(tmp_path):
    _read_fails(dataset_variant(tmp_path, "seg.dcm", Modality="SEG"), "not a greyscale image", "SEG")


def test_waveform_without_pixels_rejected(tmp_path):
    path = dataset_variant(
        tmp_path, "ecg.dcm", PixelData=None, SOPClassUID="1.2.840.10008.5.1.4.1.1.9.1.1", Modality="ECG"
    )
    _read_fails(path, "not a greyscale image")
    basic_text_sr = "1.2.840.10008.5.1.4.1.1.88.11"
    path = dataset_variant(tmp_path, "nopix.dcm", PixelData=None, SOPClassUID=basic_text_sr, Modality="OT")
    _read_fails(path, "no pixel data")


def test_bad_dicom_files(tmp_path):
    _read_fails(tmp_path / "missing.dcm", "no such file")
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    _read_fails(empty, "empty")
    text = tmp_path / "notes.dcm"
    text.write_text("not a dicom file\n" * 50)
    _read_fails(text, "not a DICOM file")
    raw = CT.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(raw[: len(raw) - 5000])
    _read_fails(cut, "pixel data")
    head = tmp_path / "head.dcm"
    head.write_bytes(raw[:600])
    _read_fails(head, "truncated")


def test_dataset_without_preamble_is_read(tmp_path):
    ds = pydicom.dcmread(CT)
    path = tmp_path / "raw.dcm"
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=True, enforce_file_format=False)
    stripped = tmp_path / "nopreamble.dcm"
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    stripped.write_bytes(data[132 + 12 + ds.file_meta.FileMetaInformationGroupLength :])
    assert np.array_equal(read_dicom(stripped).data, read_dicom(CT).data)


# --------------------------------------------------------------------------- PNG / TIFF


def test_png8_round_trip_keeps_text_and_depth(tmp_path):
    im = read_raster(PNG8)
    assert im.shape == (64, 64) and (im.format, im.modality) == ("png", "image")
    assert (im.meta["dtype"], im.meta["bit_depth"]) == ("uint8", 8)
    assert im.meta["text"]["Source"].startswith("MNI152")
    with PILImage.open(PNG8) as ref:
        assert np.array_equal(im.data, np.asarray(ref))
    out = write_raster(im, tmp_path / "out.png")
    with PILImage.open(out) as pil:
        assert pil.mode == "L" and pil.text["Source"] == im.meta["text"]["Source"]
        assert np.array_equal(np.asarray(pil), im.data)
    assert_other_readers_agree(out, im.data)


def test_png16_round_trip(tmp_path):
    im = read_raster(PNG16)
    assert (im.meta["dtype"], im.meta["bit_depth"], im.meta["mode"]) == ("uint16", 16, "I;16")
    assert im.data.max() > 255
    out = write_raster(im, tmp_path / "out.png")
    with PILImage.open(out) as pil:
        assert pil.mode == "I;16"
    assert out.read_bytes()[24] == 16  # IHDR bit depth
    assert np.array_equal(read_raster(out).data, im.data)
    assert_other_readers_agree(out, im.data)


def assert_other_readers_agree(path: Path, expected: np.ndarray) -> None:
    iio = pytest.importorskip("imageio.v3")
    assert np.array_equal(iio.imread(path), expected)
    itk, _ = sitk_pixels(path)
    assert np.array_equal(itk, expected)


def test_png_values_rounded_and_clipped(tmp_path):
    im = read_raster(PNG8)
    data = im.data.copy()
    data[0, :4] = [-10.0, 300.0, 100.4, 100.6]
    out = write_raster(im.replace(data=data), tmp_path / "out.png")
    stored = pil_pixels(out)
    assert list(stored[0, :4]) == [0, 255, 100, 101]
    im16 = read_raster(PNG16)
    data16 = im16.data.copy()
    data16[0, :2] = [70000.0, -1.0]
    out16 = write_raster(im16.replace(data=data16), tmp_path / "out16.png")
    assert list(read_raster(out16).data[0, :2]) == [65535.0, 0.0]


def test_tiff_stack_round_trip(tmp_path):
    im = read_raster(STACK)
    assert im.shape == (3, 64, 64) and im.meta["dtype"] == "uint16"
    assert im.spacing == (1.0, 1.0, 1.0) and im.format == "tiff"
    assert np.array_equal(im.data, tifffile.imread(STACK))
    out = write_raster(im, tmp_path / "out.tif")
    assert np.array_equal(tifffile.imread(out), im.data)
    with PILImage.open(out) as pil:  # independent reader, page by page
        assert pil.n_frames == 3
        for k in range(3):
            pil.seek(k)
            assert np.array_equal(np.asarray(pil), im.data[k])
    itk, _ = sitk_pixels(out)
    assert np.array_equal(itk, im.data)


def test_tiff8_resolution_gives_spacing_and_is_kept(tmp_path):
    plane = pil_pixels(PNG8)
    src = tmp_path / "res.tif"
    tifffile.imwrite(src, plane, photometric="minisblack", resolution=(10.0, 5.0), resolutionunit="CENTIMETER")
    im = read_raster(src)
    assert im.meta["dtype"] == "uint8"
    assert im.spacing == pytest.approx((2.0, 1.0))  # (row, col) mm: 5 and 10 px/cm
    data = im.data.copy()
    data[0, :2] = [-1.0, 999.0]
    out = write_raster(im.replace(data=data), tmp_path / "out.tiff")
    back = read_raster(out)
    assert back.spacing == pytest.approx((2.0, 1.0))
    assert list(back.data[0, :2]) == [0.0, 255.0]
    with PILImage.open(out) as pil:
        assert pil.mode == "L" and np.array_equal(np.asarray(pil), back.data)


def test_imagej_stack_spacing_kept(tmp_path):
    stack = tifffile.imread(STACK)
    src = tmp_path / "imagej.tif"
    tifffile.imwrite(src, stack, imagej=True, resolution=(2.0, 4.0), metadata={"spacing": 2.5, "unit": "mm"})
    im = read_raster(src)
    assert im.spacing == pytest.approx((2.5, 0.25, 0.5))  # (page, row, col) mm
    out = write_raster(im, tmp_path / "out.tif")
    back = read_raster(out)
    assert back.spacing == pytest.approx(im.spacing)
    assert back.meta["imagej_metadata"]["spacing"] == 2.5
    assert np.array_equal(back.data, stack)


def test_png_physical_resolution(tmp_path):
    plane = pil_pixels(PNG8)
    src = tmp_path / "dpi.png"
    PILImage.fromarray(plane).save(src, dpi=(254, 127))  # pHYs, pixels per metre
    im = read_raster(src)
    assert im.spacing == pytest.approx((0.2, 0.1))  # (row, col) mm
    back = read_raster(write_raster(im, tmp_path / "out.png"))
    assert back.spacing == pytest.approx((0.2, 0.1))


def test_tiff_miniswhite_kept(tmp_path):
    src = tmp_path / "white.tif"
    tifffile.imwrite(src, np.arange(64, dtype=np.uint16).reshape(8, 8), photometric="miniswhite")
    im = read_raster(src)
    assert im.meta["photometric"] == "MINISWHITE"
    assert np.array_equal(im.data, np.arange(64).reshape(8, 8))  # as stored, not inverted
    out = write_raster(im, tmp_path / "out.tif")
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].photometric.name == "MINISWHITE"


def test_grey_stored_as_rgb_accepted_colour_rejected(tmp_path):
    plane = pil_pixels(PNG8)
    grey_rgb = tmp_path / "grey_rgb.png"
    PILImage.fromarray(np.stack([plane] * 3, axis=-1)).save(grey_rgb)
    im = read_raster(grey_rgb)
    assert im.shape == (64, 64) and np.array_equal(im.data, plane)
    out = write_raster(im.replace(data=im.data + 1), tmp_path / "out.png")
    with PILImage.open(out) as pil:
        assert pil.mode == "RGB"
        assert np.array_equal(np.asarray(pil)[..., 2], np.minimum(plane.astype(int) + 1, 255))

    colour = np.stack([plane, plane // 2, plane], axis=-1)
    PILImage.fromarray(colour).save(tmp_path / "colour.png")
    _read_fails(tmp_path / "colour.png", "colour")
    tifffile.imwrite(tmp_path / "colour.tif", colour, photometric="rgb")
    _read_fails(tmp_path / "colour.tif", "not a greyscale image")
    PILImage.fromarray(plane).convert("P").save(tmp_path / "palette.png")
    _read_fails(tmp_path / "palette.png", "palette")
    rgba = np.concatenate([np.stack([plane] * 3, axis=-1), np.zeros_like(plane)[..., None]], axis=-1)
    PILImage.fromarray(rgba).save(tmp_path / "transparent.png")
    _read_fails(tmp_path / "transparent.png", "transparent")


def test_bad_raster_files(tmp_path):
    _read_fails(tmp_path / "missing.png", "no such file")
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    _read_fails(empty, "empty")
    text = tmp_path / "notes.png"
    text.write_text("not an image\n" * 10)
    _read_fails(text, "not a PNG or TIFF")
    cut = tmp_path / "cut.png"
    cut.write_bytes(PNG16.read_bytes()[:1500])
    _read_fails(cut, "truncated")
    cut_tif = tmp_path / "cut.tif"
    cut_tif.write_bytes(STACK.read_bytes()[:9000])
    _read_fails(cut_tif, "cannot read TIFF")


def test_write_raster_rejects_bad_input(tmp_path):
    im = read_raster(PNG8)
    with pytest.raises(InputError, match="2D"):
        write_raster(im.replace(data=np.zeros((2, 4, 4), np.float32)), tmp_path / "a.png")
    with pytest.raises(InputError, match=r"\.png"):
        write_raster(im, tmp_path / "a.jpg")
    with pytest.raises(InputError, match="NaN"):
        write_raster(im.replace(data=np.full(im.shape, np.nan, np.float32)), tmp_path / "b.png")
    with pytest.raises(InputError, match="dtype"):
        write_raster(Image(data=im.data, spacing=(1.0, 1.0), format="png"), tmp_path / "c.png")
    out = write_raster(im, tmp_path / "d.png")
    with pytest.raises(OutputExistsError):
        write_raster(im, out)
    assert [p.name for p in tmp_path.iterdir()] == ["d.png"]


# --------------------------------------------------------------------------- real data

REAL_DICOMS = [
    "xray/dicom/RG1_J2KI.dcm",
    "xray/dicom/RG3_J2KR.dcm",
    "xray/dicom/RG3_J2KI.dcm",
    "xray/dicom/693_J2KR.dcm",
    "xray/dicom/693_UNCR.dcm",
    "xray/dicom/CT_small.dcm",
    "mri/dicom/MR_small.dcm",
    "mri/dicom/emri_small.dcm",
    "mri/dicom/MR2_UNCR.dcm",
    "mri/nibabel/0.dcm",  # implicit VR, Siemens private tags
]


@pytest.mark.data
@pytest.mark.parametrize("rel", REAL_DICOMS)
def test_real_dicom_round_trip(tmp_path, data_dir, rel):
    src = data_dir / rel
    im = read_dicom(src)
    assert im.data.dtype == np.float32 and np.isfinite(im.data).all()
    out = write_dicom(im, tmp_path / "out.dcm")
    assert np.array_equal(read_dicom(out).data, im.data)
    ds, source = pydicom.dcmread(out), pydicom.dcmread(src)
    assert np.array_equal(ds.pixel_array, source.pixel_array)
    assert ds.LossyImageCompression == ("01" if "J2KI" in rel else "00")
    itk, _ = sitk_pixels(out)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        itk = stored_range(ds)[1] - itk.astype(np.int64)
    assert np.allclose(itk.astype(np.float64), im.data, rtol=1e-6, atol=1e-3)


@pytest.mark.data
def test_real_jpeg2000_decoding(data_dir):
    d = data_dir / "xray/dicom"
    lossless, plain = read_dicom(d / "693_J2KR.dcm"), read_dicom(d / "693_UNCR.dcm")
    assert lossless.modality == "ct" and lossless.data.min() >= -3024
    assert np.array_equal(lossless.data, plain.data)  # J2K lossless == uncompressed, in HU
    rg3r, rg3i = read_dicom(d / "RG3_J2KR.dcm"), read_dicom(d / "RG3_J2KI.dcm")
    assert rg3r.shape == rg3i.shape == (1760, 1760) and rg3r.meta["bits_stored"] == 10
    assert rg3r.data.max() <= 1023 and not rg3r.meta["lossy"] and rg3i.meta["lossy"]
    assert 0 < np.abs(rg3r.data - rg3i.data).mean() < 5.0  # lossy, but the same image
    rg1 = read_dicom(d / "RG1_J2KI.dcm")
    assert rg1.shape == (1955, 1841) and rg1.meta["photometric_interpretation"] == "MONOCHROME1"
    assert rg1.modality == "xray"


@pytest.mark.data
def test_real_waveform_dicom_rejected(data_dir):
    _read_fails(data_dir / "ecg/samples/waveform_ecg.dcm", "not a greyscale image")


@pytest.mark.data
def test_real_tiff_stack(tmp_path, data_dir):
    src = data_dir / "mri/skimage/brain.tiff"
    im = read_raster(src)
    assert im.shape == (10, 256, 256) and im.meta["dtype"] == "uint16"
    out = write_raster(im, tmp_path / "brain.tiff")
    with PILImage.open(out) as pil:
        pil.seek(7)
        assert np.array_equal(np.asarray(pil), im.data[7])
    assert np.array_equal(tifffile.imread(out), tifffile.imread(src))
