"""Running biodae's ONNX models with onnxruntime: no torch here.

What a user of the runtime needs, by task:

- run a model: :func:`load_model` / :class:`Model` (resampling, windows, tiles, units),
  :func:`model_path`, :func:`available_models`, :func:`unit_factor`;
- sessions and devices: :func:`create_session`, :func:`provider_list`, :data:`DEVICES`,
  :func:`default_threads`, :class:`SessionRunner`;
- seamless inference over long signals and large images: :func:`overlap_add_1d`,
  :func:`tile_2d`, :func:`taper`;
- the file contract (``docs/onnx.md``): :func:`check_contract`, :func:`load_onnx`,
  :data:`REQUIRED_KEYS`, :func:`weights_sha256`, :func:`stamp_weights_sha256`,
  :data:`DEFAULT_PERCENTILES` and :func:`intensity_range` (the image models' scaling);
- FP16 variants for GPUs: :func:`fp16_variant`, :func:`write_fp16_variant`, :func:`convert_to_fp16`;
  int8 variants for CPUs: :func:`int8_variant`, :func:`write_int8_variant` (calibration data: :func:`biodae.datasets.calibration_inputs`);
- which one runs (``precision="fp32" | "int8" | "auto"``): :func:`resolve_precision`, :func:`cpu_int8_dot`,
  :func:`variant_path`, :func:`int8_models`, :data:`PRECISIONS`.
"""

from __future__ import annotations

from ._contract import (
    REQUIRED_KEYS,
    check_contract,
    checked_metadata,
    load_onnx,
    stamp_weights_sha256,
    weights_sha256,
)
from ._fp16 import convert_to_fp16, fp16_variant, write_fp16_variant
from ._images import DEFAULT_PERCENTILES, intensity_range
from ._int8 import int8_variant, write_int8_variant
from ._model import Model, available_models, int8_models, load_model, model_path, unit_factor
from ._precision import PRECISIONS, cpu_int8_dot, resolve_precision, variant_path
from ._session import (
    DEVICES,
    SessionRunner,
    create_session,
    default_threads,
    provider_list,
)
from ._windows import overlap_add_1d, taper, tile_2d

__all__ = [
    # run a model
    "Model", "load_model", "model_path", "available_models", "unit_factor",
    # sessions and devices
    "create_session", "provider_list", "DEVICES", "default_threads", "SessionRunner",
    # windows and tiles
    "overlap_add_1d", "tile_2d", "taper",
    # the file contract
    "check_contract", "checked_metadata", "load_onnx", "REQUIRED_KEYS", "weights_sha256", "stamp_weights_sha256",
    "DEFAULT_PERCENTILES", "intensity_range",
    # FP16 and int8
    "fp16_variant", "write_fp16_variant", "convert_to_fp16",
    "int8_variant", "write_int8_variant",
    # which precision runs
    "PRECISIONS", "resolve_precision", "cpu_int8_dot", "variant_path", "int8_models",
]
