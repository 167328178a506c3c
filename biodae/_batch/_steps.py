"""The per-file steps of ``biodae denoise`` and ``biodae filter``: picklable callables over the record layer."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .._errors import InputError

__all__ = ["Denoise", "Filter", "Beats", "BeatTable", "BEATS_SUFFIX"]

log = logging.getLogger("biodae")

#: An image whose estimated noise sigma after denoising is at least this fraction of the one before gets
#: a warning naming the self-supervised option (issue #20: real scanner noise the blind model leaves).
LITTLE_REMOVED = 0.8


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Denoise:
    """The ``biodae denoise`` step: ECG/EEG models per channel (or ``model``) over onnxruntime.

    Parameters
    ----------
    model : str or path, optional
        A shipped model name or an ``.onnx`` path; ``None`` picks per channel.
    device : {"cpu", "cuda", "tensorrt"}
    threads : int, optional
        onnxruntime intra-op threads; ``None`` lets the batch engine choose.
    precision : {"fp32", "int8", "auto"}
        Which variant of the model runs (:func:`biodae.denoise`); a precision other than float32 is named in
        the output's provenance and the detail line (``"ecg 1.4.0 int8"``).
    """

    model: str | None = None
    device: str = "cpu"
    threads: int | None = None
    #: images only: slicing axis of a NIfTI volume, a mask file (denoise inside), and
    #: whether to write the removed component as ``<name>_noise`` (NIfTI, float32)
    axis: int | None = None
    mask: str | None = None
    save_noise: bool = False
    precision: str = "fp32"
    #: images only: remove the noise floor of N > 1 coils before an MRI model (:func:`biodae.denoise_image`)
    noise_floor: bool = True

    def __call__(self, obj: io.Signal | io.Image) -> tuple:
        from .._record import denoise_record, note_provenance

        if isinstance(obj, io.Image):
            return self._image(obj)
        for name, value in (("axis", self.axis), ("mask", self.mask), ("save_noise", self.save_noise)):
            if value not in (None, False):
                raise InputError(f"{name}= applies to images (NIfTI, DICOM, PNG, TIFF), not to {obj.format.upper()} "
                                 "signals", f"leave out {name}= for signal records")
        out, rep = denoise_record(obj, self.model, device=self.device, threads=self.threads,
                                  precision=self.precision)
        if rep.get("models"):  # signals: the model used on each channel
            models = "; ".join(f"{m} on {', '.join(ch)}" for m, ch in rep["models"].items())
        else:
            models = str(rep.get("model", ""))
        note_provenance(out, f"biodae denoise: {models}")
        return out, models + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


    def _image(self, obj: io.Image) -> tuple:
        from .._record import denoise_image

        if self.save_noise and obj.format != "nifti":
            raise InputError(f"save_noise=True writes a NIfTI noise map; this input is {obj.format.upper()}",
                             "use save_noise=True with NIfTI inputs")
        mask = None if self.mask is None else _mask_for(self.mask, obj)
        out, rep = denoise_image(obj, self.model, axis=self.axis, mask=mask, device=self.device,
                                 threads=self.threads, progress=None, precision=self.precision,
                                 noise_floor=self.noise_floor)
        before, after = rep["sigma_before"], rep["sigma_after"]
        # with a mask the air the estimate measures is copied unchanged: after == before says nothing then
        if mask is None and before and after is not None and after >= LITTLE_REMOVED * before:
            if obj.data.ndim == 4 and obj.data.shape[3] >= 3:
                how = "--self-supervised patch2self (a 4-D series: noise independent between volumes)"
            elif obj.data.ndim == 4:
                how = ("--self-supervised noise2self on each volume of the series, split into 3-D files first "
                       "(patch2self needs 3 volumes or more; noise2self: minutes on a CPU, needs torch)")
            else:
                how = "--self-supervised noise2self (minutes on a CPU; needs torch)"
            log.warning("%s: %s removed little of the estimated noise (sigma %.4g -> %.4g): the scan is nearly "
                        "clean, or its noise is unlike the model's training noise (in MRI: spatially correlated "
                        "or multi-coil, as scanners make it); for the second, adapt to the scan with %s",
                        obj.source.name if obj.source else "image", rep["model"], before, after, how)
        return image_result(obj, out, rep, mask, self.save_noise)


def _read_mask(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``--mask`` file as booleans and its affine, read once per worker process (a batch of scans shares it)
    and again when the file changes."""
    st = os.stat(path)
    return _read_mask_once(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=1)
def _read_mask_once(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    m = io.read(path)
    if not isinstance(m, io.Image):
        raise InputError(f"mask={path}: not an image", "pass a NIfTI mask on the scan's voxel grid")
    mask = np.asarray(m.data) != 0
    mask.flags.writeable = False  # shared between the files of a batch
    affine = m.meta.get("affine")
    return mask, None if affine is None else np.asarray(affine, dtype=np.float64)


#: largest difference (mm) between the mask's and the scan's voxel-to-world affines taken as the same grid
MASK_GRID_TOLERANCE_MM = 1e-3


def image_result(obj: Any, out: Any, rep: Any, mask: Any, save_noise: bool) -> tuple[Any, str, list]:
    """What an image step returns: the output, its detail line (model, axis, noise estimate before and
    after, mask) and the extra outputs (``_noise``: the removed part, float32, when ``save_noise``)."""
    detail = rep["model"] + (f", axis {rep['axis']}" if rep.get("axis") is not None else "")
    if rep["sigma_before"] is not None and rep["sigma_after"] is not None:
        detail += f", noise sigma (est.) {rep['sigma_before']:.4g} -> {rep['sigma_after']:.4g}"
    if rep.get("noise_floor") is not None:
        detail += f", noise floor of N≈{rep['noise_floor']:.1f} coils removed first"
    if mask is not None:
        detail += f", inside the mask ({int(mask.sum())} voxels)"
    extras = []
    if save_noise:
        noise = obj.replace(data=rep["noise"].astype(np.float32))
        noise.meta["write_kwargs"] = {"dtype": "float32"}  # signed residual: never the input's integer type
        extras.append((noise, "_noise"))
    return out, detail, extras


def _mask_for(path: str, image: io.Image) -> np.ndarray:
    """The mask at ``path`` after checking that it lies on ``image``'s voxel grid (same affine)."""
    mask, affine = _read_mask(path)
    scan = image.meta.get("affine")
    if affine is not None and scan is not None and mask.shape[:3] == image.data.shape[:3]:
        # the world position of every voxel corner differs by at most this much
        corners = np.array([[i, j, k, 1.0] for i in (0, mask.shape[0] - 1) for j in (0, mask.shape[1] - 1)
                            for k in (0, (mask.shape[2] if mask.ndim > 2 else 1) - 1)])
        shift = float(np.abs(corners @ (np.asarray(scan, dtype=np.float64) - affine).T)[:, :3].max())
        if shift > MASK_GRID_TOLERANCE_MM:
            raise InputError(f"mask={Path(path).name} is on another voxel grid than {image.source.name if image.source else 'the scan'} "
                             f"(same shape, but its voxels lie up to {shift:.3g} mm away from the scan's)",
                             "resample the mask onto the scan's grid (e.g. nilearn.image.resample_to_img "
                             "with interpolation='nearest')")
    return mask


@dataclass(frozen=True)
class Filter:
    """The ``biodae filter`` step: a classical filter with ``params`` over the modality's defaults."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    modality: str | None = None

    def __call__(self, obj: io.Signal | io.Image) -> tuple[io.Signal | io.Image, str]:
        from .._record import filter_record, note_provenance

        out, rep = filter_record(obj, self.method, self.params, modality=self.modality)
        text = f"{rep['method']} {_fmt_params(rep['params'])}".strip()
        note_provenance(out, f"biodae filter {text}")
        return out, text + (f"; copied unchanged: {', '.join(rep['copied'])}" if rep.get("copied") else "")


def _fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))


#: An annotation file with no annotation: its end mark alone (what :meth:`BeatTable.write_files` writes
#: when no beat is flagged).
_EMPTY_ANNOTATIONS = b"\x00\x00"
#: How the notes of ``biodae beats``' comment annotations begin.
_NOTE_PREFIX = "biodae "


@dataclass
class BeatTable:
    """What ``biodae beats`` writes for one record: the beat table (CSV) and WFDB annotations at the
    flagged beats, as one group (:meth:`write_files`)."""

    rows: dict[str, np.ndarray]
    record: str
    sampling_rate: float
    extension: str
    model: str
    format: str = "beats"
    meta: dict[str, Any] = field(default_factory=dict)

    def annotation_path(self, table: Path) -> Path:
        """``OUT/<record>.<extension>`` beside ``OUT/<record>.beats.csv``."""
        return table.parent / f"{table.name[: -len(BEATS_SUFFIX)]}.{self.extension}"

    def write_files(self, path: str | os.PathLike, *, force: bool = False) -> list[Path]:
        """Write the table at ``path`` and the annotations beside it, atomically as a group (table last)."""
        import csv

        import wfdb

        table = Path(path)
        ann = self.annotation_path(table)
        r = self.rows
        flagged = np.flatnonzero(r["flag"] == 1)
        with io.atomic_group([ann, table], force=force) as (tmp_ann, tmp_table):
            k = r["z"].shape[1]
            with open(tmp_table, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["sample", "symbol", "score", "flag", "class"] + [f"z{i}" for i in range(k)])
                for i in range(len(r["sample"])):
                    w.writerow([int(r["sample"][i]), r["symbol"][i], f"{r['score'][i]:.6g}", int(r["flag"][i]),
                                r["class"][i]] + [f"{v:.6g}" for v in r["z"][i]])
            # a comment annotation at each flagged beat: any WFDB viewer shows it, no beat label is claimed
            notes = [f"{_NOTE_PREFIX}{self.model}: anomaly score {r['score'][i]:.3g}"
                     + (f", class {r['class'][i]}" if r["class"][i] else "") for i in flagged]
            stem = tmp_ann.name[: -len(self.extension) - 1]
            if len(flagged):
                wfdb.wrann(stem, self.extension, r["sample"][flagged].astype(np.int64), symbol=['"'] * len(flagged),
                           aux_note=notes, fs=self.sampling_rate, write_dir=str(tmp_ann.parent))
            else:  # wrann refuses an empty list: a WFDB annotation file with no annotation is its end mark alone
                tmp_ann.write_bytes(_EMPTY_ANNOTATIONS)
        return [ann, table]


def written_by_biodae(path: str | os.PathLike) -> bool:
    """Whether a WFDB annotation file holds only what ``biodae beats`` writes: no annotation, or comment
    annotations (``"``) whose notes begin with "biodae ". A reference annotation file (beat labels)
    does not; nor does a file wfdb cannot read."""
    path = Path(path)
    try:
        if path.read_bytes() == _EMPTY_ANNOTATIONS:
            return True
        import wfdb

        ann = wfdb.rdann(str(path.parent / path.stem), path.suffix[1:])
    except Exception:  # unreadable: not ours to replace
        return False
    notes = ann.aux_note or [""] * len(ann.sample)
    return len(ann.sample) > 0 and all(s == '"' for s in ann.symbol) and all(
        (n or "").startswith(_NOTE_PREFIX) for n in notes)


#: The name ``biodae beats`` gives a record's beat table (``OUT/<record>.beats.csv``).
BEATS_SUFFIX = ".beats.csv"


@dataclass(frozen=True)
class Beats:
    """The ``biodae beats`` step: extract a record's beats and score them with a beat model.

    Parameters
    ----------
    model : str or path
        A shipped beat model (``ecg-beats``, ``ecg-beats-aami``) or an ``.onnx`` file written by
        :meth:`biodae.latent.Autoencoder.save`.
    annotator : str, optional
        The annotation file to take R peaks and symbols from (``atr``); None detects the beats.
    extension : str
        The annotation extension written at the flagged beats (never the input annotator's).
    """

    model: str = "ecg-beats"
    annotator: str | None = None
    extension: str = "anom"
    threads: int | None = None

    def __call__(self, obj: io.Signal | io.Image) -> tuple:
        from ..beats import beat_scorer, extract_beats, score_beats

        if not isinstance(obj, io.Signal):
            raise InputError(f"{obj.source.name if obj.source else 'input'} is an image; beats come from ECG records",
                             "give WFDB or EDF records")
        if self.annotator is not None and self.annotator == self.extension:
            raise InputError(f"annotator={self.annotator} is also the extension the flags are written under",
                             "choose another extension for the flags")
        if self.annotator is not None and not any(str(p).endswith(f".{self.annotator}")
                                                  for p in obj.meta.get("annotation_files") or []):
            raise InputError(f"{obj.source.name if obj.source else 'record'} has no '{self.annotator}' annotation file",
                             "name an annotator the record has (e.g. atr), or leave out annotator= to detect the beats")
        ae = beat_scorer(self.model)
        beats = extract_beats(obj, annotator=self.annotator)
        rows = score_beats(beats, ae)
        label = Path(str(self.model)).stem
        n, flagged = len(rows["sample"]), int(np.sum(rows["flag"]))
        detail = f"{label}: {n} beats, {flagged} flagged" + (f" ({flagged / n:.0%})" if n else "")
        classes = [c for c in rows["class"] if c]
        if classes:
            detail += "; " + ", ".join(f"{c} {classes.count(c)}" for c in "NSVFQ" if c in classes)
        record = obj.meta.get("record_name") or (obj.source.name if obj.source else "record")
        return BeatTable(rows, str(record), float(obj.sampling_rate), self.extension, label), detail
