"""A loaded model: its ONNX session, its metadata contract, and how to run it on records."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._arrays import nearest_finite, per_finite_stretch, resample, zero_filled
from .._errors import BiodaeError, InputError
from ._images import DEFAULT_PERCENTILES, intensity_range
from ._session import SessionRunner, create_session
from ._windows import overlap_add_1d, tile_2d

__all__ = ["Model", "load_model", "model_path", "available_models", "int8_models", "unit_factor"]

log = logging.getLogger("biodae.runtime")

_UNIT_SCALE = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "nv": 1e-9,
               "volt": 1.0, "volts": 1.0, "millivolt": 1e-3, "millivolts": 1e-3, "microvolt": 1e-6,
               "microvolts": 1e-6, "nanovolt": 1e-9, "nanovolts": 1e-9}


def unit_factor(from_unit: str, to_unit: str) -> float | None:
    """Factor that converts values in ``from_unit`` to ``to_unit`` (volts family), or None if unknown."""
    a, b = _UNIT_SCALE.get(from_unit.strip().lower()), _UNIT_SCALE.get(to_unit.strip().lower())
    if a is None or b is None:
        return None
    return a / b


def _models_dir() -> Path:
    """The shipped models: the installed package ``biodae.models``, or, when ``biodae`` is
    imported from a source checkout that is not installed in place (Python started in the
    repository root shadows the installed copy), the checkout's top-level ``models/``."""
    try:
        return Path(str(resources.files("biodae.models")))
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "models"
        if checkout.is_dir():
            return checkout
        raise


#: How a latent model (``biodae.latent``, ``docs/onnx.md`` "Latent models") says so: the protobuf bytes of its
#: metadata entry ``biodae.task = latent`` (key field 1, value field 2), found without importing onnx.
_LATENT_ENTRY = b"\x0a\x0bbiodae.task\x12\x06latent"


def _task_of(path: Path) -> str:
    """``"latent"`` for a biodae.latent model file, ``"denoise"`` for the others."""
    return "latent" if _LATENT_ENTRY in path.read_bytes() else "denoise"


def available_models(task: str | None = "denoise") -> list[str]:
    """Names of the models shipped with biodae (``models/*.onnx``).

    Variants (``ecg.int8.onnx``, run with ``precision=``) are not models of their own and are not listed.

    Parameters
    ----------
    task : {"denoise", "latent", None}, default "denoise"
        ``"denoise"``: the denoisers (:func:`load_model` runs them); ``"latent"``: the latent
        models (``biodae.latent.Autoencoder.load``, e.g. the beat models); None: all of them.
    """
    if task not in ("denoise", "latent", None):
        raise InputError(f"task={task!r} is not known", "choose 'denoise', 'latent' or None")
    try:
        paths = sorted(_models_dir().glob("*.onnx"), key=lambda p: p.stem)
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - broken install
        return []
    from ._precision import is_variant_file

    return [p.stem for p in paths if not is_variant_file(p) and (task is None or _task_of(p) == task)]


def int8_models() -> list[str]:
    """The shipped models that have an int8 variant beside them (``models/NAME.int8.onnx``)."""
    from ._precision import variant_path

    d = _models_dir()
    return [n for n in available_models(None) if variant_path(d / f"{n}.onnx", "int8").is_file()]


class Model:
    """An ONNX denoiser with its ``biodae.*`` metadata (see ``docs/onnx.md``).

    Parameters
    ----------
    path : path-like
        The ``.onnx`` file.
    device : {"cpu", "cuda", "tensorrt"}
    threads : int, optional
        Intra-op threads (default: all cores this process may use).
    precision : {"fp32", "int8", "auto"}, default "fp32"
        ``"int8"`` runs the int8 variant beside the float32 file (``NAME.int8.onnx``); ``"auto"`` runs it
        only where it was measured within its quality limit and faster, and this CPU has int8 dot-product
        instructions (:func:`biodae.runtime.resolve_precision`). ``path`` stays the float32 file's path;
        :attr:`file` is the file that runs, :attr:`precision` its format and :attr:`precision_reason` why.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", threads: int | None = None,
                 precision: str = "fp32") -> None:
        from ._precision import resolve_precision

        self.path = Path(path)
        shipped = int8_models() if precision == "int8" else None
        chosen = resolve_precision(self.path, precision, device=device, shipped=shipped)
        #: the ONNX file that runs (the int8 variant's when that was chosen)
        self.file = chosen.path
        #: why this precision was chosen (``"auto: ..."`` says what decided it)
        self.precision_reason = chosen.reason
        self.session = create_session(self.file, device=device, threads=threads)
        self.device = device
        #: onnxruntime intra-op threads of the session (as the session was built)
        self.threads = int(self.session.get_session_options().intra_op_num_threads)
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata = meta
        #: ``"fp32"``, ``"int8"`` or ``"fp16"``: the number format of the file that runs
        self.precision = meta.get("biodae.precision", "fp32")
        if meta.get("biodae.task") == "latent":
            raise InputError(f"{self.path.name}: a latent model (embeddings, anomaly scores), not a denoiser",
                             "load it with biodae.latent.Autoencoder.load, or score beats with biodae.beats")
        if "biodae.name" not in meta:
            raise BiodaeError(
                f"{self.path.name}: not a biodae model (no biodae.* metadata)",
                "export models with 'biodae export' or biodae.nn.export_onnx with a metadata contract",
            )
        self.name = meta["biodae.name"]
        self.version = meta.get("biodae.version", "")
        self.modality = meta.get("biodae.modality", "")
        rate = meta.get("biodae.sampling_rate", "")
        self.sampling_rate = float(rate) if rate else None
        self.units = meta.get("biodae.units", "")
        self.window = int(meta.get("biodae.window", "0") or 0)
        self.overlap = int(meta.get("biodae.overlap", "0") or 0)
        self.input_name = self.session.get_inputs()[0].name
        self.spatial_dims = len(self.session.get_inputs()[0].shape) - 2
        pct = meta.get("biodae.percentiles", "")
        self.percentiles = tuple(float(v) for v in pct.split(",")) if pct else DEFAULT_PERCENTILES
        self.tile = int(meta.get("biodae.tile", "0") or 0)
        #: the graph pads inputs to a multiple of this many samples or pixels (0: not stated)
        self.size_multiple = int(meta.get("biodae.size_multiple", "0") or 0)
        #: runs the graph: shape buckets and IO binding on GPUs (see SessionRunner)
        self.runner = SessionRunner(self.session, device=device)

    def __repr__(self) -> str:
        prec = "" if self.precision == "fp32" else f" {self.precision}"
        return f"Model({self.name!r} {self.version}{prec}, {self.modality}, fs={self.sampling_rate}, units={self.units})"

    @property
    def label(self) -> str:
        """``"NAME VERSION"``, with the precision added when it is not float32 (``"ecg 1.4.0 int8"``): how
        reports and provenance name the model that ran."""
        return " ".join(v for v in (self.name, self.version, "" if self.precision == "fp32" else self.precision) if v)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the graph on a float32 batch ``[n, 1, length]`` (or ``[n, 1, h, w]``)."""
        batch = np.asarray(batch)
        if batch.ndim != self.spatial_dims + 2:
            layout = "[n, 1, length]" if self.spatial_dims == 1 else "[n, 1, height, width]"
            raise InputError(f"model {self.name!r} takes a {self.spatial_dims + 2}-D batch {layout}; "
                             f"got shape {batch.shape}")
        return self.runner(batch)

    def denoise_signal(
        self, x: np.ndarray, *, sampling_rate: float, units: str | None = None, batch_size: int | None = None,
        streams: int = 1, progress: Any = None,
    ) -> np.ndarray:
        """Denoise one channel: resample to the model's rate, overlap-add windows, resample back.

        Parameters
        ----------
        x : ndarray, shape (n_samples,)
            One channel in ``units`` (the model's units when None). NaN or infinite samples are
            gaps: kept as they are, with each finite stretch between them denoised on its own
            (stretches under :data:`~biodae._arrays.MIN_STRETCH_S` seconds are copied).
        sampling_rate : float
            The channel's rate in Hz.
        units : str, optional
            Converted to the model's units and back (V, mV, uV).
        batch_size : int, optional
            Windows per graph call. Default: :meth:`signal_batch_size` (with one thread the
            activations stay in the cache: 1024-sample ``ecg`` windows, two one-thread runs at
            once, 2.41 M samples/s with 16 windows per call against 1.85 M with 64). The output
            does not depend on it.
        streams : int, default 1
            Graph calls in flight at once, from as many threads (a one-thread session run
            from two threads beats one two-thread run on short windows; see
            :func:`biodae.denoise`). The output does not depend on it.
        progress : callable, optional
            Called with the number of windows done after each graph call (at the model's rate);
            an exception it raises stops the work there (how a caller cancels it).

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        if self.spatial_dims != 1:
            raise InputError(f"model {self.name!r} is a {self.modality} image model", "use it on images, not signals")
        if self.sampling_rate is None:
            raise InputError(f"model {self.name!r} has no biodae.sampling_rate: the rate it was trained at is unknown",
                             "add it to the model's metadata (docs/onnx.md); biodae will not guess a rate")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"denoise_signal takes one channel, shape (n_samples,); got {x.shape}")
        if not np.isfinite(x).all():  # gaps (WFDB invalid samples, lead off) would spread through the convolutions
            return per_finite_stretch(lambda part: self.denoise_signal(
                part, sampling_rate=sampling_rate, units=units, batch_size=batch_size, streams=streams,
                progress=progress), x, sampling_rate)[0]
        scale = 1.0
        if units and self.units and units.strip().lower() != self.units.strip().lower():
            f = unit_factor(units, self.units)
            if f is None:
                log.warning("unit %r is not one biodae converts; assuming the model's unit %r", units, self.units)
            else:
                scale = f
        y = x * scale if scale != 1.0 else x  # no copy of a long record that needs none (24 h: 250 MB a lead)
        if self.sampling_rate != sampling_rate:
            y = resample(y, sampling_rate, self.sampling_rate, padtype="constant")
        window = self.window or y.size
        overlap = min(self.overlap, max(window - 1, 0))
        if batch_size is None:
            batch_size = self.signal_batch_size(window)
        out = overlap_add_1d(self.run, y, window=window, overlap=overlap, batch_size=batch_size, streams=streams,
                             progress=progress)
        back = out if self.sampling_rate == sampling_rate else resample(out, self.sampling_rate, sampling_rate,
                                                                         padtype="constant")
        n = x.size
        if back.size < n:  # rational resampling can lose a sample at the end
            back = np.pad(back, (0, n - back.size), mode="edge")
        return back[:n] / scale if scale != 1.0 else back[:n]

    def signal_batch_size(self, window: int) -> int:
        """Windows per graph call that :meth:`denoise_signal` uses by default: 64 on a GPU; on
        the CPU about 64k samples per call with several threads and 16k with one, 8 to 64 windows."""
        if self.device != "cpu":
            return 64
        per_call = 16384 if self.threads == 1 else 65536
        return max(8, min(64, per_call // max(window, 1)))

    def image_batch_size(self, height: int, width: int) -> int:
        """Slices or tiles per graph call that :meth:`denoise_image` uses by default: 8 on a GPU;
        on the CPU about 64k pixels per call (one 256 x 256 slice, 16 of 64 x 64), 1 to 16.

        On the CPU larger calls are slower per pixel, not faster: the activations of a batch
        of 256 x 256 slices no longer fit the caches (`mri` 1.2.0, 2 threads, AVX-512 CPU:
        36.6 ms per slice one at a time, 41.1 in batches of 8, `docs/benchmarks/mri_speed.md`)."""
        if self.device != "cpu":
            return 8
        return max(1, min(16, 65536 // max(int(height) * int(width), 1)))

    def _check_image_model(self) -> None:
        if self.spatial_dims != 2:
            raise InputError(
                f"model {self.name!r} is a {self.modality.upper() or '1D'} signal model and cannot denoise images",
                "use an image model (mri, xray) or leave --model out to pick one from the file",
            )

    def denoise_image(
        self, x: np.ndarray, *, axis: int | None = None, mask: np.ndarray | None = None,
        batch_size: int | None = None, progress: Any = None,
    ) -> np.ndarray:
        """Denoise a 2D image, a 3D volume slice by slice, or a 4D series volume by volume.

        Intensities are scaled by the model's percentiles of the whole image (or of each
        3D volume) to ``[0, 1]``, run through the graph in batches of slices (tiles of
        ``biodae.tile`` pixels blended without seams for larger slices), scaled back and
        clipped to the input's range (``docs/onnx.md``). Zero-filled regions (at least 9
        connected exact zeros in the image or volume, :func:`~biodae._arrays.zero_filled`) stay
        exactly 0.

        Parameters
        ----------
        x : ndarray, shape (h, w), (x, y, z) or (x, y, z, t)
        axis : int, optional
            Slicing axis of a volume (0, 1 or 2); required for 3D and 4D input.
        mask : ndarray of bool, optional
            Shape of ``x`` (or of one 3D volume of a 4D series): denoise inside, copy outside.
            NaN and infinite voxels are copied too (the model sees their nearest finite voxel).
        batch_size : int, optional
            Slices (or tiles) per graph call. Default: :meth:`image_batch_size`.
        progress : callable, optional
            Called with the number of slices just finished.

        Returns
        -------
        ndarray of float32, the shape of ``x``
        """
        self._check_image_model()
        x = np.asarray(x)
        if x.ndim not in (2, 3, 4):
            raise InputError(f"expected a 2D image, a 3D volume or a 4D series, got shape {x.shape}")
        if x.ndim == 4:
            if mask is not None and mask.shape == x.shape[:3]:
                mask = np.broadcast_to(mask[..., None], x.shape)
            vols = [self.denoise_image(x[..., t], axis=axis, batch_size=batch_size, progress=progress,
                                       mask=None if mask is None else mask[..., t]) for t in range(x.shape[3])]
            return np.stack(vols, axis=3)
        if mask is not None and mask.shape != x.shape:
            raise InputError(f"mask shape {mask.shape} differs from the image shape {x.shape}",
                             "pass a mask on the same voxel grid as the image")
        if x.ndim == 3 and axis is None:
            raise ValueError("axis is required to denoise a 3D volume")
        bad = ~np.isfinite(x) if x.dtype.kind in "fc" else None
        if bad is not None and bad.any():
            # NaN or inf (masked maps, failed reconstructions) would spread over a whole slice in the network:
            # the model sees each one's nearest finite voxel, and the output keeps the value itself
            if bad.all():
                return x.astype(np.float32)
            y = self.denoise_image(nearest_finite(x), axis=axis, mask=mask, batch_size=batch_size, progress=progress)
            return np.where(bad, x.astype(np.float32), y)
        lo, hi = intensity_range(x, self.percentiles)
        scale = hi - lo
        xf = (x.astype(np.float32) - np.float32(lo)) / np.float32(scale)
        slices = xf[None] if x.ndim == 2 else np.moveaxis(xf, axis, 0)
        out = np.empty_like(slices)
        n, h, w = slices.shape
        tile = self.tile or max(h, w)
        if batch_size is None:
            batch_size = self.image_batch_size(min(h, tile), min(w, tile))
        if h <= tile and w <= tile:
            for b in range(0, n, batch_size):
                out[b : b + batch_size] = self.run(slices[b : b + batch_size, None])[:, 0]
                if progress is not None:
                    progress(min(batch_size, n - b))
        else:
            overlap = min(self.overlap, tile - 1)
            for i in range(n):
                out[i] = tile_2d(self.run, slices[i], tile=tile, overlap=overlap, batch_size=batch_size)
                if progress is not None:
                    progress(1)
        y = out[0] if x.ndim == 2 else np.moveaxis(out, 0, axis)
        y *= np.float32(scale)  # in place: a volume's worth of memory less to allocate and fault in
        y += np.float32(lo)
        np.clip(y, np.float32(np.nanmin(x)), np.float32(np.nanmax(x)), out=y)
        # zero-filled regions (masked or skull-stripped volumes) stay exactly 0: nothing was measured there
        y[zero_filled(x)] = 0
        if mask is not None:
            y = np.where(mask, y, x.astype(np.float32))
        return y.astype(np.float32, copy=False)


def model_path(model: str | os.PathLike) -> Path:
    """The ``.onnx`` file of a shipped model name (``"ecg"``), or the path given.

    Raises
    ------
    InputError
        A path that is not a file, or a name no shipped model has (the message lists them); the name of a
        variant (``"ecg.int8"``): name the model and pass ``precision=``.
    """
    from ._precision import VARIANT_PRECISIONS

    p = Path(model)
    if p.suffix.lower() == ".onnx" or p.exists() or len(p.parts) > 1:
        if not p.is_file():
            raise InputError(f"{p}: no such model file", "check the path or name a shipped model")
        return p
    stem, _, tail = str(model).rpartition(".")
    if stem and tail in VARIANT_PRECISIONS:
        raise InputError(f"{str(model)!r} names the {tail} variant of model {stem!r}, not a model",
                         f"name the model ({stem!r}) and choose the variant with precision={tail!r} (--precision {tail})")
    shipped = _models_dir() / f"{model}.onnx"
    if not shipped.is_file():
        names = available_models()
        raise InputError(
            f"no shipped model named {str(model)!r}",
            f"shipped models: {', '.join(names) if names else '(none installed)'}; or pass a path to an .onnx file",
        )
    return shipped


def load_model(model: str | os.PathLike | Model, *, device: str = "cpu", threads: int | None = None,
               precision: str = "fp32") -> Model:
    """A :class:`Model` from a shipped name (``"ecg"``), a path to an ``.onnx`` file, or a Model (returned as it
    is). ``precision``: ``"fp32"`` (default), ``"int8"`` or ``"auto"`` (see :class:`Model`)."""
    if isinstance(model, Model):
        return model
    return Model(model_path(model), device=device, threads=threads, precision=precision)
