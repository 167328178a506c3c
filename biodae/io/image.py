"""Read and write greyscale DICOM, PNG and TIFF images at their stored bit depth.

Readers give float32 intensities (DICOM: ``RescaleSlope``/``RescaleIntercept``
applied, so CT is in HU) and keep in ``meta`` what the writers need to give back a
file of the same kind: the DICOM dataset, bit depths and signedness, the PNG text
chunks and resolution, the TIFF resolution, photometric interpretation and ImageJ
metadata. Writers quantise back to the stored type (rounding, clipping to the
stored range) and write atomically.

pydicom, Pillow and tifffile are imported on first use so that ``import biodae``
stays fast.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DependencyError, InputError
from ._atomic import atomic_path
from ._containers import Image
from .nifti import _check_source, _quantize, _real_values, _warnings_to_log

__all__ = ["read_dicom", "write_dicom", "read_raster", "write_raster"]

logger = logging.getLogger("biodae.io")

# --------------------------------------------------------------------------- DICOM

_DICOM_HINT = (
    "check the file was copied completely; biodae reads greyscale DICOM images "
    "(CT, MR, CR/DX/MG/XA...) stored uncompressed, RLE, JPEG or JPEG 2000"
)
_NOT_IMAGE_HINT = (
    "biodae denoises greyscale (MONOCHROME1/2) DICOM images; waveforms (ECG), reports, "
    "segmentations (SEG) and RT objects hold no image to denoise"
)
_MODALITIES = {"MR": "mri", "CT": "ct"} | {
    m: "xray" for m in ("CR", "DX", "DR", "RG", "MG", "XA", "RF", "PX", "IO")
}
_NOT_IMAGES = {
    "SEG": "a segmentation object (SEG)",
    "RTSTRUCT": "an RT structure set",
    "RTPLAN": "an RT plan",
    "RTDOSE": "an RT dose grid",
    "RTRECORD": "an RT treatment record",
    "SR": "a structured report",
    "KO": "a key object selection",
    "PR": "a presentation state",
    "REG": "a registration object",
    "ECG": "an ECG waveform",
}
# transfer syntaxes that may have discarded information -> (0028,2114) method
_LOSSY_METHODS = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",  # JPEG baseline
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",  # JPEG extended
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",  # JPEG 2000
    "1.2.840.10008.1.2.4.93": "ISO_15444_2",  # JPEG 2000 multi-component
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",  # HTJ2K
    "1.2.840.10008.1.2.4.111": "ISO_18181_1",  # JPEG XL JPEG recompression
    "1.2.840.10008.1.2.4.112": "ISO_18181_1",  # JPEG XL
    "1.2.840.10008.1.2.4.100": "ISO_13818_2",  # MPEG2
    "1.2.840.10008.1.2.4.101": "ISO_13818_2",
    "1.2.840.10008.1.2.4.102": "ISO_14496_10",  # MPEG-4 AVC
    "1.2.840.10008.1.2.4.103": "ISO_14496_10",
    "1.2.840.10008.1.2.4.104": "ISO_14496_10",
    "1.2.840.10008.1.2.4.105": "ISO_14496_10",
    "1.2.840.10008.1.2.4.106": "ISO_14496_10",
    "1.2.840.10008.1.2.4.107": "ISO_23008_2",  # HEVC
    "1.2.840.10008.1.2.4.108": "ISO_23008_2",
}
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_ST_MAX = 1024  # DerivationDescription is an ST: at most 1024 characters


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as exc:  # pragma: no cover - pydicom is a core dependency
        raise DependencyError("reading DICOM needs pydicom, which is not installed", "pip install pydicom") from exc
    return pydicom


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value: Any, default: float) -> float:
    """A DS/IS/FD value as a finite float, or ``default`` when absent or invalid."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if np.isfinite(out) else default


def _fg_value(ds: Any, seq: str, keyword: str, frame: int | None = None) -> Any:
    """``keyword`` from an enhanced (multi-frame) functional group macro ``seq``.

    Looks in the shared functional groups, then (if ``frame`` is given) in that
    frame's per-frame group. Returns ``None`` when absent.
    """
    groups = [("SharedFunctionalGroupsSequence", 0)]
    if frame is not None:
        groups.append(("PerFrameFunctionalGroupsSequence", frame))
    for group_kw, index in groups:
        group = ds.get(group_kw)
        if not group or len(group) <= index:
            continue
        macro = group[index].get(seq)
        if macro and keyword in macro[0]:
            return macro[0].get(keyword)
    return None


def _n_frames(ds: Any) -> int:
    return max(1, int(_number(ds.get("NumberOfFrames"), 1.0)))


def _rescale(ds: Any, n_frames: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (slope, intercept) arrays of the modality rescale (1, 0 when absent)."""
    slopes = np.ones(n_frames)
    inters = np.zeros(n_frames)
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slopes[:] = _number(ds.get("RescaleSlope"), 1.0)
        inters[:] = _number(ds.get("RescaleIntercept"), 0.0)
    else:
        for f in range(n_frames):
            slopes[f] = _number(_fg_value(ds, "PixelValueTransformationSequence", "RescaleSlope", f), 1.0)
            inters[f] = _number(_fg_value(ds, "PixelValueTransformationSequence", "RescaleIntercept", f), 0.0)
    if np.any(slopes == 0):
        logger.warning("%s: RescaleSlope 0 is invalid; using 1", name)
        slopes[slopes == 0] = 1.0
    return slopes, inters


def _as_scalar_or_tuple(values: np.ndarray) -> float | tuple[float, ...]:
    return float(values[0]) if np.all(values == values[0]) else tuple(float(v) for v in values)


def _spacing_pair(value: Any) -> tuple[float, float] | None:
    try:
        pair = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if len(pair) != 2 or not all(np.isfinite(v) and v > 0 for v in pair):
        return None
    return pair  # type: ignore[return-value]


def _dicom_spacing(ds: Any, n_frames: int, name: str) -> tuple[tuple[float, ...], str]:
    """Spacing in mm per data axis, and which attribute it came from."""
    candidates = (
        ("PixelSpacing", ds.get("PixelSpacing")),
        ("PixelMeasuresSequence.PixelSpacing", _fg_value(ds, "PixelMeasuresSequence", "PixelSpacing", 0)),
        ("ImagerPixelSpacing", ds.get("ImagerPixelSpacing")),
    )
    in_plane, source = (1.0, 1.0), "default"
    for label, value in candidates:
        pair = _spacing_pair(value)
        if pair is not None:
            in_plane, source = pair, label
            break
        if value is not None:
            logger.info("%s: ignoring invalid %s %s", name, label, list(value) if value else value)
    if n_frames == 1:
        return in_plane, source
    between = 1.0
    for value in (
        ds.get("SpacingBetweenSlices"),
        _fg_value(ds, "PixelMeasuresSequence", "SpacingBetweenSlices", 0),
        ds.get("SliceThickness"),
        _fg_value(ds, "PixelMeasuresSequence", "SliceThickness", 0),
    ):
        step = _number(value, 0.0)
        if step > 0:
            between = step
            break
    return (between,) + in_plane, source


def _transfer_syntax(ds: Any) -> Any:
    meta = getattr(ds, "file_meta", None)
    return meta.get("TransferSyntaxUID") if meta is not None else None


def _was_lossy(ds: Any) -> tuple[bool, str | None]:
    """Whether the pixels have been through lossy compression, and the method if known."""
    ts = str(_transfer_syntax(ds) or "")
    flag = str(ds.get("LossyImageCompression", "") or "").strip()
    method = _LOSSY_METHODS.get(ts)
    lossy = flag == "01" or (method is not None and flag != "00")
    return lossy, method


def _require_greyscale(ds: Any, name: str) -> None:
    """Raise :class:`InputError` unless ``ds`` holds greyscale pixel data biodae handles."""
    sop = ds.get("SOPClassUID")
    sop_name = getattr(sop, "name", None) or (str(sop) if sop else "unknown SOP class")
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in _NOT_IMAGES:
        raise InputError(f"{name}: not a greyscale image ({_NOT_IMAGES[modality]}, {sop_name})", _NOT_IMAGE_HINT)
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise InputError(
                f"{name}: float pixel data ({sop_name}) are not supported",
                "biodae reads integer greyscale DICOM images; export parametric maps as NIfTI",
            )
        if "Image Storage" in sop_name:
            raise InputError(f"{name}: {sop_name} without pixel data; the file looks truncated", _DICOM_HINT)
        raise InputError(f"{name}: not a greyscale image (no pixel data; {sop_name})", _NOT_IMAGE_HINT)
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    samples = int(_number(ds.get("SamplesPerPixel"), 1.0))
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError(
            f"{name}: not a greyscale image (PhotometricInterpretation {photometric or 'missing'}, "
            f"{samples} sample(s) per pixel)",
            "biodae denoises greyscale (MONOCHROME1/2) images; convert colour images to greyscale first",
        )
    bits = int(_number(ds.get("BitsAllocated"), 0.0))
    if bits not in (8, 16, 32):
        raise InputError(
            f"{name}: {bits}-bit pixels (BitsAllocated) are not supported",
            "biodae reads 8-, 16- and 32-bit greyscale DICOM; 1-bit pixel data are masks, not images",
        )


def _dcmread(path: Path, pydicom: Any) -> Any:
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError as exc:
        # a dataset without the 128-byte preamble and 'DICM' (old ACR-NEMA style
        # files): accept it only if it parses as an image
        try:
            ds = pydicom.dcmread(path, force=True)
            is_image = "PixelData" in ds and "Rows" in ds and "Columns" in ds
        except Exception:
            is_image = False
        if not is_image:
            raise InputError(
                f"{path.name}: not a DICOM file (no 'DICM' marker and no image dataset)",
                "biodae reads DICOM Part 10 files (.dcm); check the file is the image itself",
            ) from exc
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        implicit, little = ds.original_encoding
        if little is False:
            raise InputError(f"{path.name}: big-endian DICOM without file meta is not supported", _DICOM_HINT)
        if getattr(ds, "file_meta", None) is None:
            ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        logger.info("%s: read without DICOM file meta (%s)", path.name, ds.file_meta.TransferSyntaxUID.name)
        return ds
    except Exception as exc:
        raise InputError(f"{path.name}: cannot parse DICOM ({_short(exc)})", _DICOM_HINT) from exc


def _decode(ds: Any, name: str) -> np.ndarray:
    ts = _transfer_syntax(ds)
    try:
        arr = ds.pixel_array
    except Exception as exc:
        text = _short(exc)
        compressed = bool(ts is not None and getattr(ts, "is_compressed", False))
        if compressed and isinstance(exc, (RuntimeError, NotImplementedError)) and (
            "plugin" in text or "dependenc" in text or "decoder" in text.lower()
        ):
            raise DependencyError(
                f"{name}: no decoder for {ts.name} pixel data ({text})",
                "install the decoders: pip install pylibjpeg pylibjpeg-openjpeg (JPEG 2000), "
                "pylibjpeg-libjpeg (JPEG, JPEG-LS)",
            ) from exc
        raise InputError(f"{name}: cannot decode the pixel data ({text})", _DICOM_HINT) from exc
    arr = np.asarray(arr)
    if arr.dtype.kind not in "ui":
        raise InputError(f"{name}: pixel data decoded as {arr.dtype}, not integers", _DICOM_HINT)
    return arr


def read_dicom(path: str | os.PathLike) -> Image:
    """Read a greyscale DICOM image (single or multi-frame).

    Parameters
    ----------
    path : str or path-like
        A DICOM Part 10 file; compressed pixel data (JPEG 2000, JPEG, RLE...) are
        decoded by pydicom's plugins (pylibjpeg-openjpeg for JPEG 2000).

    Returns
    -------
    Image
        ``data`` : ndarray of float32, shape (rows, cols) or (frames, rows, cols)
            Stored values times ``RescaleSlope`` plus ``RescaleIntercept`` (HU for
            CT); per-frame rescale of enhanced objects is applied per frame.
            MONOCHROME1 values are kept as stored (high = dark), see
            ``meta["photometric_interpretation"]``.
        ``spacing`` : tuple of float, mm
            (row, col) from ``PixelSpacing`` (else the enhanced Pixel Measures, else
            ``ImagerPixelSpacing``, else 1.0); multi-frame adds the frame step first
            (``SpacingBetweenSlices``, else ``SliceThickness``, else 1.0).
        ``modality`` : MR -> ``"mri"``, CT -> ``"ct"``, CR/DX/DR/RG/MG/XA/RF/PX/IO
            -> ``"xray"``, otherwise ``"image"``.
        ``meta`` holds ``dataset`` (the pydicom Dataset as read), ``transfer_syntax``,
        ``lossy`` (the pixels went through lossy compression), ``bits_allocated``,
        ``bits_stored``, ``high_bit``, ``pixel_representation``, ``rescale_slope``
        / ``rescale_intercept`` (float, or a tuple per frame), ``modality_lut``
        (a Modality LUT is present and was *not* applied),
        ``photometric_interpretation``, ``number_of_frames``, ``stored_dtype``,
        ``spacing_source``, ``modality_tag`` and the SOP class, SOP instance,
        series and study UIDs.

    Raises
    ------
    InputError
        Missing, empty, truncated or non-DICOM file; colour, waveform, SEG/RT or
        other non-greyscale objects.
    DependencyError
        Compressed pixel data without an installed decoder.
    """
    path = Path(path)
    _check_source(path, "DICOM", _DICOM_HINT)
    pydicom = _pydicom()
    name = path.name
    with _warnings_to_log(path):
        ds = _dcmread(path, pydicom)
        _require_greyscale(ds, name)
        stored = _decode(ds, name)
    n_frames = _n_frames(ds)
    rows, cols = int(ds.Rows), int(ds.Columns)
    expected = (rows, cols) if n_frames == 1 else (n_frames, rows, cols)
    if stored.shape != expected:
        raise InputError(f"{name}: decoded pixels have shape {stored.shape}, expected {expected}", _DICOM_HINT)
    slopes, inters = _rescale(ds, n_frames, name)
    values = stored.astype(np.float64)
    if n_frames > 1:
        values = values * slopes[:, None, None] + inters[:, None, None]
    else:
        values = values * slopes[0] + inters[0]
    modality_lut = "ModalityLUTSequence" in ds and "RescaleSlope" not in ds
    if modality_lut:
        logger.warning("%s: Modality LUT present but not applied; values are stored pixel values", name)
    spacing, spacing_source = _dicom_spacing(ds, n_frames, name)
    modality_tag = str(ds.get("Modality", "") or "").strip().upper()
    lossy, _ = _was_lossy(ds)
    ts = _transfer_syntax(ds)
    meta: dict[str, Any] = {
        "dataset": ds,
        "transfer_syntax": str(ts) if ts else None,
        "lossy": lossy,
        "bits_allocated": int(ds.BitsAllocated),
        "bits_stored": int(_number(ds.get("BitsStored"), float(ds.BitsAllocated))),
        "high_bit": int(_number(ds.get("HighBit"), float(ds.BitsAllocated) - 1)),
        "pixel_representation": int(_number(ds.get("PixelRepresentation"), 0.0)),
        "rescale_slope": _as_scalar_or_tuple(slopes),
        "rescale_intercept": _as_scalar_or_tuple(inters),
        "modality_lut": modality_lut,
        "photometric_interpretation": str(ds.PhotometricInterpretation).strip().upper(),
        "number_of_frames": n_frames,
        "stored_dtype": stored.dtype.name,
        "spacing_source": spacing_source,
        "modality_tag": modality_tag,
        "sop_class_uid": str(ds.get("SOPClassUID", "")),
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
        "study_instance_uid": str(ds.get("StudyInstanceUID", "")),
    }
    return Image(
        data=values.astype(np.float32),
        spacing=tuple(float(s) for s in spacing),
        format="dicom",
        modality=_MODALITIES.get(modality_tag, "image"),
        meta=meta,
        source=path,
    )


def _stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    if signed:
        return -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1
    return 0, (1 << bits_stored) - 1


def _set_pixels(ds: Any, stored: np.ndarray) -> None:
    """Replace the pixel data by ``stored`` (native pixels, little endian, uncompressed)."""
    raw = stored.astype(stored.dtype.newbyteorder("<"), copy=False).tobytes()
    if len(raw) % 2:
        raw += b"\x00"
    for keyword in ("PixelData", "ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in ds:
            del ds[keyword]
    ds.add_new(0x7FE00010, "OW" if stored.dtype.itemsize > 1 else "OB", raw)
    signed = stored.dtype.kind == "i"
    for keyword, value in (("SmallestImagePixelValue", stored.min()), ("LargestImagePixelValue", stored.max())):
        if keyword in ds:
            ds[keyword].VR = "SS" if signed else "US"
            ds[keyword].value = int(value)


def _mark_derived(ds: Any, source: Any, derivation: str) -> None:
    """New UIDs, file meta and the derived-image attributes (see :func:`write_dicom`)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    from .._version import __version__

    old_sop = str(source.get("SOPInstanceUID", "") or "")
    new_sop = generate_uid()
    ds.SOPInstanceUID = new_sop
    old_series = str(source.get("SeriesInstanceUID", "") or "") or old_sop
    # deterministic: every slice of one series denoised the same way lands in one new series
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["biodae-derived-series", old_series, derivation])

    file_meta = FileMetaDataset()
    if "SOPClassUID" in ds:
        file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    file_meta.MediaStorageSOPInstanceUID = new_sop
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    file_meta.ImplementationVersionName = f"BIODAE_{__version__}"[:16]
    ds.file_meta = file_meta

    image_type = source.get("ImageType")
    values = [image_type] if isinstance(image_type, str) else list(image_type or [])
    ds.ImageType = ["DERIVED", "SECONDARY"] + [str(v) for v in values[2:]]
    for group_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in ds.get(group_kw) or []:
            for element in group:
                if element.VR != "SQ":
                    continue
                for item in element.value:
                    if "FrameType" in item:
                        frame_type = list(item.FrameType) if not isinstance(item.FrameType, str) else [item.FrameType]
                        item.FrameType = ["DERIVED", "SECONDARY"] + [str(v) for v in frame_type[2:]]
    ds.DerivationDescription = derivation
    if old_sop and "SOPClassUID" in source:
        ref = Dataset()
        ref.ReferencedSOPClassUID = source.SOPClassUID
        ref.ReferencedSOPInstanceUID = old_sop
        ds.SourceImageSequence = [ref]

    lossy, method = _was_lossy(source)
    ds.LossyImageCompression = "01" if lossy else "00"
    if lossy and method and "LossyImageCompressionMethod" not in ds:
        ds.LossyImageCompressionMethod = method


def write_dicom(
    image: Image,
    path: str | os.PathLike,
    *,
    force: bool = False,
    derivation: str = "denoised by biodae",
) -> Path:
    """Write ``image`` back into a copy of the DICOM dataset it was read from.

    The dataset is deep-copied (the input is never changed) and keeps every
    attribute (patient, study, geometry, rescale, window, private tags) except:

    * pixel data: ``round((x - RescaleIntercept) / RescaleSlope)`` clipped to the
      range of ``BitsStored`` and ``PixelRepresentation``, at the input's
      ``BitsAllocated``; written uncompressed (Explicit VR Little Endian);
      ``ExtendedOffsetTable*`` dropped; ``Smallest/LargestImagePixelValue`` updated;
    * a new ``SOPInstanceUID`` (also in the file meta), and a new
      ``SeriesInstanceUID`` derived deterministically from the source series UID
      and ``derivation``, so all slices of a series processed the same way form
      one new series; ``SeriesNumber`` and ``SeriesDescription`` are unchanged;
    * ``ImageType`` (and enhanced ``FrameType``) start with DERIVED\\SECONDARY,
      ``DerivationDescription`` is ``derivation``, ``SourceImageSequence``
      references the source image;
    * ``LossyImageCompression`` is "01" if the source had been lossy-compressed
      (flag "01", or a lossy transfer syntax such as JPEG 2000 irreversible), with
      the method added when known, else "00";
    * the file meta is rebuilt (pydicom implementation UID).

    MONOCHROME1 images stay MONOCHROME1; values are written as they are.

    Parameters
    ----------
    image : Image
        Data of shape (rows, cols) or (frames, rows, cols) in the units
        :func:`read_dicom` gives (rescale applied), with ``meta["dataset"]``.
    path : str or path-like
        Output file.
    force : bool, optional
        Overwrite an existing ``path``.
    derivation : str, optional
        Text for (0008,2111) *Derivation Description* (at most 1024 characters).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        No source dataset, a shape different from the dataset's, NaN/inf values,
        an empty or too long ``derivation``, or a big-endian source.
    OutputExistsError
        If ``path`` exists and not ``force``.
    """
    path = Path(path)
    name = path.name
    if not isinstance(derivation, str) or not derivation.strip() or len(derivation) > _ST_MAX:
        raise InputError(
            f"derivation must be a non-empty text of at most {_ST_MAX} characters, got {derivation!r:.60}",
            "describe the processing, e.g. 'denoised by biodae (model dncnn-ct)'",
        )
    pydicom = _pydicom()
    source = image.meta.get("dataset")
    if not isinstance(source, pydicom.Dataset):
        raise InputError(
            f"{name}: write_dicom needs the DICOM dataset the image was read with (meta['dataset'])",
            "read the image with read_dicom; biodae writes DICOM back into its source dataset "
            "and does not create DICOM objects from scratch",
        )
    if str(_transfer_syntax(source) or "") == _BIG_ENDIAN:
        raise InputError(
            f"{name}: the source is big-endian DICOM, which biodae does not write back",
            "convert the input to little endian first (e.g. dcmconv +te from DCMTK)",
        )
    _require_greyscale(source, name)
    n_frames = _n_frames(source)
    rows, cols = int(source.Rows), int(source.Columns)
    expected = (rows, cols) if n_frames == 1 else (n_frames, rows, cols)
    data = np.asarray(image.data)
    if n_frames == 1 and data.shape == (1, rows, cols):
        data = data[0]
    if data.shape != expected:
        raise InputError(
            f"{name}: data of shape {data.shape} do not match the DICOM dataset {expected}",
            "write_dicom keeps the source geometry; pass data with the shape read_dicom gave",
        )
    values = _real_values(data, name)
    if not np.isfinite(values).all():
        raise InputError(
            f"{name}: the data contain NaN or infinite values, which DICOM pixels cannot store",
            "replace them first (e.g. np.nan_to_num)",
        )
    slopes, inters = _rescale(source, n_frames, name)
    if n_frames > 1:
        values = (values - inters[:, None, None]) / slopes[:, None, None]
    else:
        values = (values - inters[0]) / slopes[0]
    bits_allocated = int(source.BitsAllocated)
    bits_stored = int(_number(source.get("BitsStored"), float(bits_allocated)))
    if not 1 <= bits_stored <= bits_allocated:
        bits_stored = bits_allocated
    signed = int(_number(source.get("PixelRepresentation"), 0.0)) == 1
    lo, hi = _stored_range(bits_stored, signed)
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits_allocated // 8}")
    stored = _quantize(values, dtype, name=name, lo=lo, hi=hi)

    ds = copy.deepcopy(source)
    _set_pixels(ds, stored)
    _mark_derived(ds, source, derivation)
    with _warnings_to_log(path):
        with atomic_path(path, force=force) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- PNG / TIFF

_RASTER_HINT = "check the file was copied completely; biodae reads 8/16-bit greyscale PNG and greyscale TIFF"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_COLOUR_TYPES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}
_TIFF_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
# length units -> millimetres (TIFF ResolutionUnit and ImageJ 'unit')
_IMAGEJ_UNITS = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "micron": 1e-3, "um": 1e-3, "\u00b5m": 1e-3, "nm": 1e-6}
_RESUNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 1e-3}  # INCH, CENTIMETER, MILLIMETER, MICROMETER
_COLOUR_HINT = "biodae denoises greyscale images; convert it to 8- or 16-bit greyscale first"


@contextlib.contextmanager
def _captured_log(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """Hold back what a dependency logs (tifffile reports damage by logging) for our messages."""
    records: list[logging.LogRecord] = []

    class _Hold(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            records.append(record)
            return False

    hold = _Hold()
    target = logging.getLogger(logger_name)
    target.addFilter(hold)
    try:
        yield records
    finally:
        target.removeFilter(hold)
        for record in records:
            logger.debug("%s: %s", logger_name, record.getMessage())


def _grey_from_channels(arr: np.ndarray, mode: str, name: str, has_alpha: bool) -> np.ndarray:
    """The grey plane of a grey image stored as RGB(A)/LA; InputError for real colour."""
    colour = arr[..., :-1] if has_alpha else arr
    if has_alpha:
        alpha = arr[..., -1]
        if not np.all(alpha == np.iinfo(arr.dtype).max):
            raise InputError(f"{name}: {mode} image with transparent pixels, not a plain greyscale image", _COLOUR_HINT)
    grey = colour[..., 0]
    if not all(np.array_equal(grey, colour[..., c]) for c in range(1, colour.shape[-1])):
        raise InputError(f"{name}: colour ({mode}) image, not a greyscale image", _COLOUR_HINT)
    return grey


def _read_png(path: Path) -> Image:
    from PIL import Image as PILImage

    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(33)
    if len(head) < 26 or head[12:16] != b"IHDR":
        raise InputError(f"{name}: damaged PNG (no IHDR header)", _RASTER_HINT)
    bit_depth, colour_type = head[24], head[25]
    kind = _PNG_COLOUR_TYPES.get(colour_type, f"colour type {colour_type}")
    if colour_type == 3:
        raise InputError(f"{name}: palette (indexed colour) PNG, not a greyscale image", _COLOUR_HINT)
    if bit_depth == 16 and colour_type != 0:
        raise InputError(f"{name}: 16-bit {kind} PNG, which Pillow cannot read without losing bits", _COLOUR_HINT)
    if bit_depth == 1:
        raise InputError(f"{name}: 1-bit (black and white) PNG, a mask rather than a greyscale image", _COLOUR_HINT)
    try:
        with PILImage.open(path) as im:
            im.load()
            mode = im.mode
            info = dict(im.info)
            text = dict(getattr(im, "text", None) or {})
            arr = np.array(im)
    except Exception as exc:
        reason = "truncated file" if "truncated" in str(exc) else _short(exc)
        raise InputError(f"{name}: cannot read PNG ({reason})", _RASTER_HINT) from exc
    if mode == "L":
        grey = arr
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        if arr.min() < 0 or arr.max() > 65535:  # pragma: no cover - a PNG holds at most 16 bits
            raise InputError(f"{name}: values outside 16 bits", _RASTER_HINT)
        grey = arr.astype(np.uint16)
    elif mode in ("LA", "RGB", "RGBA"):
        grey = _grey_from_channels(arr, mode, name, has_alpha=mode in ("LA", "RGBA"))
        logger.info("%s: greyscale image stored as %s read as one grey channel", name, mode)
    else:
        raise InputError(f"{name}: {mode} PNG, not an 8/16-bit greyscale image", _COLOUR_HINT)
    dtype = np.dtype(np.uint16 if grey.dtype.itemsize == 2 else np.uint8)
    spacing = (1.0, 1.0)
    dpi = info.get("dpi")
    if dpi and all(np.isfinite(float(d)) and float(d) > 0 for d in dpi):
        spacing = (25.4 / float(dpi[1]), 25.4 / float(dpi[0]))
    meta = {
        "dtype": dtype.name,
        "bit_depth": dtype.itemsize * 8,
        "mode": mode,
        "png_bit_depth": bit_depth,
        "png_colour_type": kind,
        "text": text,
        "dpi": tuple(float(d) for d in dpi) if dpi else None,
        "gamma": info.get("gamma"),
        "icc_profile": info.get("icc_profile"),
    }
    return Image(
        data=np.ascontiguousarray(grey, dtype=np.float32),
        spacing=spacing,
        format="png",
        modality="image",
        meta=meta,
        source=path,
    )


def _tiff_spacing(meta: dict[str, Any], ndim: int) -> tuple[float, ...]:
    """Spacing in mm from the TIFF resolution (and ImageJ unit/spacing); 1.0 where unknown."""
    imagej = meta["imagej_metadata"] or {}
    imagej_mm = _IMAGEJ_UNITS.get(str(imagej.get("unit", "")).strip().lower())
    unit = meta["resolution_unit"] if meta["resolution_unit"] is not None else 2  # TIFF default: inch
    unit_mm = _RESUNIT_MM.get(unit, imagej_mm)
    in_plane = (1.0, 1.0)
    if meta["resolution"] is not None and unit_mm is not None:
        xres, yres = meta["resolution"]
        if xres > 0 and yres > 0 and np.isfinite(xres) and np.isfinite(yres):
            in_plane = (unit_mm / yres, unit_mm / xres)
    if ndim == 2:
        return in_plane
    z = _number(imagej.get("spacing"), 0.0)
    return ((z * (imagej_mm or 1.0)) if z > 0 else 1.0,) + in_plane


def _read_tiff(path: Path) -> Image:
    import tifffile

    name = path.name
    try:
        with _captured_log("tifffile") as records, tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise InputError(f"{name}: TIFF without image data", _RASTER_HINT)
            series = tif.series[0]
            page = series.keyframe
            arr = series.asarray()
            axes = series.axes
            photometric = page.photometric.name
            imagej = tif.imagej_metadata
            description = page.description or None
            meta: dict[str, Any] = {
                "photometric": photometric,
                "n_pages": len(tif.pages),
                "n_series": len(tif.series),
                "axes": axes,
                "compression": page.compression.name,
                "resolution": tuple(float(r) for r in page.resolution) if "XResolution" in page.tags else None,
                "resolution_unit": int(page.resolutionunit) if "ResolutionUnit" in page.tags else None,
                "description": description,
                "imagej_metadata": dict(imagej) if imagej else None,
                "software": page.software or None,
            }
        damage = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
        if damage:  # tifffile logs, and reads on, when pages are cut off or corrupt
            raise InputError(f"{name}: cannot read TIFF (damaged or truncated: {damage[0]})", _RASTER_HINT)
    except InputError:
        raise
    except Exception as exc:
        reason = _short(exc)
        if records:
            reason += f"; {records[0].getMessage()}"
        raise InputError(f"{name}: cannot read TIFF ({reason})", _RASTER_HINT) from exc
    if meta["n_series"] > 1:  # the output would hold the first alone: the others would be lost
        raise InputError(f"{name}: TIFF holding {meta['n_series']} image series; biodae reads and writes files of one",
                         "save each series as a file of its own (e.g. with tifffile) and clean those")
    if arr.dtype == np.bool_:
        raise InputError(f"{name}: 1-bit (black and white) TIFF, a mask rather than a greyscale image", _COLOUR_HINT)
    if "S" in axes:  # samples (colour channels) axis last
        arr = np.moveaxis(arr, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    if photometric in ("MINISBLACK", "MINISWHITE") and "S" not in axes:
        stored_as = "grey"
    elif photometric == "RGB" and arr.shape[-1] in (3, 4):
        stored_as = "RGBA" if arr.shape[-1] == 4 else "RGB"
        arr = _grey_from_channels(arr, stored_as, name, has_alpha=stored_as == "RGBA")
        logger.info("%s: greyscale image stored as %s read as one grey channel", name, stored_as)
    else:
        raise InputError(f"{name}: {photometric} TIFF (axes {axes}), not a greyscale image", _COLOUR_HINT)
    arr = np.squeeze(arr) if arr.ndim > 3 else arr
    if arr.ndim not in (2, 3):
        raise InputError(
            f"{name}: TIFF of shape {arr.shape} (axes {series.axes}); a 2D image or a stack of 2D pages is expected",
            "save one image or one stack of slices per file",
        )
    if arr.dtype.name not in _TIFF_DTYPES:
        raise InputError(f"{name}: {arr.dtype} TIFF pixels are not supported", f"supported: {', '.join(_TIFF_DTYPES)}")
    meta.update({"dtype": arr.dtype.name, "bit_depth": arr.dtype.itemsize * 8, "stored_as": stored_as})
    data = np.asarray(arr, dtype=np.float32)
    if not np.isfinite(data).any():
        raise InputError(f"{name}: every pixel is NaN or infinite", "the file holds no image values")
    return Image(
        data=data,
        spacing=_tiff_spacing(meta, arr.ndim),
        format="tiff",
        modality="image",
        meta=meta,
        source=path,
    )


def read_raster(path: str | os.PathLike) -> Image:
    """Read a greyscale PNG (8 or 16 bit) or TIFF (single or multi-page) image.

    The format is recognised by the file's signature, not its name.

    Parameters
    ----------
    path : str or path-like
        ``.png``, ``.tif`` or ``.tiff`` file.

    Returns
    -------
    Image
        ``data`` : ndarray of float32, shape (rows, cols), or (pages, rows, cols)
            for a multi-page TIFF; the stored values (no scaling).
        ``spacing`` : tuple of float, mm
            From the file's physical resolution (TIFF X/YResolution with
            ResolutionUnit or the ImageJ unit, PNG pHYs in pixels per metre), else
            1.0; a TIFF stack's page step from ImageJ ``spacing``, else 1.0.
        ``format`` is ``"png"`` or ``"tiff"``, ``modality`` is ``"image"`` (the
        caller decides which model applies).
        ``meta`` holds ``dtype`` and ``bit_depth`` (what the writer stores);
        PNG: ``mode`` (Pillow), ``png_bit_depth``, ``png_colour_type``, ``text``
        (text chunks), ``dpi``, ``gamma``, ``icc_profile``; TIFF: ``stored_as``
        (``"grey"``, ``"RGB"``, ``"RGBA"``), ``photometric`` (MINISWHITE kept
        as stored, like DICOM MONOCHROME1), ``resolution``, ``resolution_unit``,
        ``description``, ``imagej_metadata``, ``compression``, ``axes``,
        ``n_pages``, ``n_series``, ``software``.

    Raises
    ------
    InputError
        Missing, empty, truncated or unrecognised file; colour, palette,
        transparent, 1-bit or 4D+ images. A grey image stored as RGB/RGBA/LA
        (equal channels, opaque) is accepted.
    """
    path = Path(path)
    _check_source(path, "PNG/TIFF", _RASTER_HINT)
    with open(path, "rb") as fh:
        head = fh.read(8)
    with _warnings_to_log(path):
        if head.startswith(_PNG_MAGIC):
            return _read_png(path)
        if head[:4] in _TIFF_MAGICS:
            return _read_tiff(path)
    raise InputError(f"{path.name}: not a PNG or TIFF image (unrecognised file signature)", _RASTER_HINT)


def _raster_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".png":
        return "png"
    if suffix in (".tif", ".tiff"):
        return "tiff"
    raise InputError(
        f"{path.name}: a raster output must end in .png, .tif or .tiff",
        "choose the output name by the format to write",
    )


def _write_png(stored: np.ndarray, tmp: Path, meta: dict[str, Any]) -> None:
    from PIL import Image as PILImage
    from PIL import PngImagePlugin

    mode = meta.get("mode") if stored.dtype == np.uint8 else None
    if mode in ("LA", "RGB", "RGBA"):
        planes = [stored] * (1 if mode == "LA" else 3)
        if mode in ("LA", "RGBA"):
            planes.append(np.full_like(stored, 255))
        out = PILImage.fromarray(np.stack(planes, axis=-1))
    else:
        out = PILImage.fromarray(np.ascontiguousarray(stored))  # L or I;16
    options: dict[str, Any] = {}
    text = meta.get("text") or {}
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    if meta.get("dpi"):
        options["dpi"] = tuple(meta["dpi"])
    if meta.get("icc_profile") and out.mode == meta.get("mode"):
        options["icc_profile"] = meta["icc_profile"]
    out.save(tmp, format="PNG", **options)


def _write_tiff(stored: np.ndarray, tmp: Path, meta: dict[str, Any]) -> None:
    import tifffile

    options: dict[str, Any] = {"photometric": "miniswhite" if meta.get("photometric") == "MINISWHITE" else "minisblack"}
    stored_as = meta.get("stored_as", "grey")
    if stored_as in ("RGB", "RGBA") and stored.dtype in (np.uint8, np.uint16):
        planes = [stored] * 3
        if stored_as == "RGBA":
            planes.append(np.full_like(stored, np.iinfo(stored.dtype).max))
            options["extrasamples"] = ("unassalpha",)
        stored = np.stack(planes, axis=-1)
        options["photometric"] = "rgb"
    if meta.get("resolution"):
        options["resolution"] = tuple(meta["resolution"])
        if meta.get("resolution_unit") is not None:
            options["resolutionunit"] = int(meta["resolution_unit"])
    imagej = meta.get("imagej_metadata")
    if imagej and stored.dtype.name in ("uint8", "uint16", "float32") and options["photometric"] == "minisblack":
        options["imagej"] = True
        options["metadata"] = {k: imagej[k] for k in ("spacing", "unit") if k in imagej}
    else:
        options["metadata"] = None  # no tifffile JSON description
        description = meta.get("description")
        if description and not description.lstrip().startswith(("{", "ImageJ=")):
            options["description"] = description
    tifffile.imwrite(tmp, stored, **options)


def write_raster(image: Image, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``image`` as PNG or TIFF (by the ending of ``path``) at its stored bit depth.

    Values are rounded and clipped to ``meta["dtype"]`` (the type read). PNG keeps
    its text chunks, pHYs resolution and, for a grey image stored as RGB/RGBA/LA,
    that layout; TIFF keeps resolution, MINISWHITE, ImageJ ``spacing``/``unit`` and
    a plain description, and is written uncompressed.

    Parameters
    ----------
    image : Image
        Data of shape (rows, cols), or (pages, rows, cols) for TIFF, with
        ``meta["dtype"]`` (as :func:`read_raster` gives).
    path : str or path-like
        ``.png``, ``.tif`` or ``.tiff`` output.
    force : bool, optional
        Overwrite an existing ``path``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        Unknown ending, missing ``meta["dtype"]``, a shape or type the format
        cannot hold (PNG: 2D, uint8/uint16), NaN with an integer type.
    OutputExistsError
        If ``path`` exists and not ``force``.
    """
    path = Path(path)
    name = path.name
    fmt = _raster_format(path)
    dtype_name = image.meta.get("dtype")
    if dtype_name not in _TIFF_DTYPES:
        raise InputError(
            f"{name}: no stored pixel type in meta['dtype'] ({dtype_name!r})",
            "write_raster writes images read by read_raster back at their bit depth; "
            "set meta['dtype'] to 'uint8' or 'uint16' for a new image",
        )
    dtype = np.dtype(dtype_name)
    data = np.asarray(image.data)
    values = _real_values(data, name)
    if fmt == "png":
        if data.ndim != 2:
            raise InputError(f"{name}: PNG holds one 2D image, got shape {data.shape}", "write a stack as TIFF")
        if dtype.name not in ("uint8", "uint16"):
            raise InputError(f"{name}: PNG cannot store {dtype.name} pixels", "write it as TIFF")
    elif data.ndim not in (2, 3):
        raise InputError(
            f"{name}: TIFF output needs 2D or (pages, rows, cols) data, got shape {data.shape}",
            "write one image or one stack of slices per file",
        )
    if not np.isfinite(values).any():
        raise InputError(f"{name}: every value is NaN or infinite; nothing to write", "check the processing")
    stored = _quantize(values, dtype, name=name)
    meta = image.meta if image.format == fmt else {}
    with _warnings_to_log(path):
        with atomic_path(path, force=force) as tmp:
            if fmt == "png":
                _write_png(stored, tmp, meta)
            else:
                _write_tiff(stored, tmp, meta)
    return path
