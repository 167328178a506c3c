"""Running models with onnxruntime: sessions, providers, windowing and tiling. No torch here."""

from __future__ import annotations

from ._session import (
    DEVICES, SessionRunner, batch_bucket, create_session, default_threads, import_onnxruntime, provider_list,
)
from ._contract import REQUIRED_KEYS, check_contract, load_onnx, stamp_weights_sha256, weights_sha256
from ._fp16 import convert_to_fp16, write_fp16_variant
from ._model import Model, available_models, load_model, unit_factor
from ._windows import MIN_STRETCH_S, finite_stretches, overlap_add_1d, per_finite_stretch, taper, tile_2d
from ._images import DEFAULT_PERCENTILES, foreground_mask, intensity_range, nearest_finite, slice_axis, zero_filled

__all__ = [
    "REQUIRED_KEYS",
    "check_contract",
    "load_onnx",
    "stamp_weights_sha256",
    "weights_sha256",
    "convert_to_fp16",
    "write_fp16_variant",
    "Model",
    "load_model",
    "available_models",
    "unit_factor",
    "DEFAULT_PERCENTILES", "foreground_mask", "intensity_range", "slice_axis",
    "DEVICES", "SessionRunner", "batch_bucket", "provider_list", "create_session", "default_threads", "import_onnxruntime", "overlap_add_1d", "taper", "tile_2d", "finite_stretches", "MIN_STRETCH_S", "nearest_finite", "per_finite_stretch", "zero_filled"]
