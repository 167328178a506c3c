"""Torch models, training and ONNX export (needs the ``train`` extra).

This is the only part of biodae that imports torch; inference runs the exported ONNX
files through :mod:`biodae.runtime` without it.

Models (:mod:`biodae.nn.models`) take physical units in and give them back, in shape
``[batch, channels, length]`` or ``[batch, channels, height, width]``, at any length or
size; normalisation, padding and cropping happen inside ``forward`` and so inside the
exported graph.

>>> from biodae.nn import build_model, fit, export_onnx          # doctest: +SKIP
>>> model = build_model("resunet1d")                            # doctest: +SKIP
>>> fit(model, train, val, loss="mse", checkpoint_dir="runs/r") # doctest: +SKIP
>>> export_onnx(model, "resunet1d.onnx", metadata={"fs": "360"}) # doctest: +SKIP
"""

from __future__ import annotations

from .adapt import Noise2SelfResult, noise2self
from .export import checkpoint_to_onnx, export_onnx, load_checkpoint, strip_onnx_metadata, torch_from_onnx
from .models import (
    FCNDAE,
    MODELS,
    NORMS,
    Denoiser,
    DnCNN2d,
    ResUNet1d,
    ResUNet2d,
    build_model,
    count_parameters,
    receptive_field,
)
from .train import LOSSES, ArrayPairs, BatchSource, FitResult, NoisyWindows, fit, mse_loss, ssd_loss, ssd_mad_loss

__all__ = [
    "torch_from_onnx",
    "Denoiser",
    "FCNDAE",
    "ResUNet1d",
    "DnCNN2d",
    "ResUNet2d",
    "MODELS",
    "NORMS",
    "build_model",
    "count_parameters",
    "receptive_field",
    "fit",
    "FitResult",
    "BatchSource",
    "ArrayPairs",
    "NoisyWindows",
    "LOSSES",
    "mse_loss",
    "ssd_loss",
    "ssd_mad_loss",
    "export_onnx",
    "load_checkpoint",
    "checkpoint_to_onnx",
    "strip_onnx_metadata",
    "noise2self",
    "Noise2SelfResult",
]
