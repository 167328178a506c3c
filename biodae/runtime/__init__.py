"""Running models with onnxruntime: sessions, providers, windowing and tiling. No torch here."""

from __future__ import annotations

from ._session import DEVICES, SessionRunner, batch_bucket, create_session, default_threads, import_onnxruntime
from ._contract import REQUIRED_KEYS, check_contract, stamp_weights_sha256, weights_sha256
from ._fp16 import convert_to_fp16, write_fp16_variant
from ._model import Model, available_models, load_model, resample, unit_factor
from ._windows import overlap_add_1d, taper, tile_2d

__all__ = [
    "REQUIRED_KEYS",
    "check_contract",
    "stamp_weights_sha256",
    "weights_sha256",
    "convert_to_fp16",
    "write_fp16_variant",
    "Model",
    "load_model",
    "available_models",
    "resample",
    "unit_factor",
    "DEVICES", "SessionRunner", "batch_bucket", "create_session", "default_threads", "import_onnxruntime", "overlap_add_1d", "taper", "tile_2d"]
