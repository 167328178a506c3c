"""int8 variants of biodae's ONNX models, for CPUs.

:func:`int8_variant` quantises a float32 model with onnxruntime's static quantisation in
QDQ form (``QuantizeLinear``/``DequantizeLinear`` pairs that onnxruntime's CPU provider
fuses into ``QLinearConv``): **the inner convolutions only**, weights int8 per output
channel, activations uint8 (asymmetric: x86's u8 x s8 fast path), ranges from the
minimum and maximum seen on calibration data. Ranges at the 0.01/99.99 percentiles
lowered the RMS error (``ecg`` 1.7e-2 instead of 2.3e-2 of the output RMS, ``mri`` 6e-3
instead of 1.6e-2) but clip the peaks: ``eeg``'s largest error on its calibration data
became 0.24 of the output's peak. Per-tensor weights gave 1.2 times the RMS error of
per-channel ones. Everything else stays float32 and is
unchanged: the input and output (same names, shapes and ``float32`` type), the in-graph
normalisation, padding and cropping, the SiLU activations, the residual additions, the
transposed (upsampling) convolutions, and the first and the last convolution (one input
or one output channel: the int8 kernels were slower than float32 there, and the last
one sets the output's precision). The settings were chosen by measurement
(``docs/benchmarks/int8.md``, ``benchmarks/int8_bench.py``).

Some inner convolutions cost more quality than others: :data:`INT8_KEEP_FLOAT` names, per float32 weights
(their ``biodae.weights_sha256``), the ones kept float32 as well, chosen by quantising one convolution at a
time and measuring on validation data (``docs/benchmarks/int8.md``); ``keep_float=`` overrides it.

Calibration data come from each model's **training** data only (:func:`calibration_inputs`,
which needs ``BIODAE_DATA``): the same noisy windows or patches its training recipe draws.

Only onnx, onnxruntime and numpy are needed (no torch):
``biodae export models/ecg.onnx -o ecg-int8.onnx --int8``.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError

__all__ = [
    "INT8_KEEP_FLOAT",
    "INT8_SETTINGS",
    "INT8_TOLERANCE",
    "int8_parity",
    "int8_variant",
    "write_int8_variant",
]

#: Largest accepted ``max|int8 - fp32| / max|fp32|`` on the calibration inputs when a variant is written
#: (measured on the shipped models: ``docs/benchmarks/int8.md``).
INT8_TOLERANCE = 0.1

#: What :func:`int8_variant` quantises, in words (stored as ``biodae.precision_detail``).
INT8_SETTINGS = ("static QDQ quantisation (onnxruntime.quantization): Conv nodes except the first and the last, "
                 "weights int8 per output channel, activations uint8 with min/max ranges from the calibration data; "
                 "input, output, normalisation, padding, cropping, activations, additions, ConvTranspose and the "
                 "first and last Conv float32")

#: Convolutions kept float32 besides the first and the last, per float32 model weights
#: (``biodae.weights_sha256``): the ones whose quantisation cost the most SNR improvement on validation data
#: (validation records and validation-split NSTDB noise, ``benchmarks/int8_select.py``).
INT8_KEEP_FLOAT: dict[str, tuple[str, ...]] = {
    # ecg 1.4.0: alone, each of these lost 0.03-0.11 dB (the others at most 0.026); all inner Convs int8: -0.26 dB
    # at worst on validation, these five float32 as well: -0.10 dB
    "4a30c84647056abd7c994e986da55a087461473c20174d1951fe47df2209d9a5": (
        "node_conv1d_2", "node_conv1d_3", "node_conv1d_4", "node_conv1d_6", "node_conv1d_27"),
}


def _batches(calibration: Iterable[np.ndarray], rank: int, name: str) -> list[np.ndarray]:
    out = []
    for x in calibration:
        a = np.asarray(x, dtype=np.float32)
        if a.ndim == rank - 1:
            a = a[None]
        if a.ndim != rank or a.shape[1] != 1 or not a.size:
            raise InputError(f"{name}: calibration array of shape {np.shape(x)}, the model takes {rank}-D "
                             "[batch, 1, ...] float32 input", "pass arrays in the model's input layout")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{name}: calibration data contain NaN or infinite values", "pass finite inputs")
        out.append(np.ascontiguousarray(a))
    if not out:
        raise InputError(f"{name}: no calibration data", "pass at least one input array (calibration_inputs builds them)")
    return out


def int8_parity(fp32: Any, int8: Any, inputs: Iterable[np.ndarray]) -> float:
    """``max |int8 - fp32| / max |fp32|`` over ``inputs`` (the largest over the batches), both run with
    onnxruntime on the CPU. ``fp32`` and ``int8`` are file paths or serialized models."""
    from ._fp16 import variant_parity

    return variant_parity(fp32, int8, inputs, what="int8 variant")


class _Reader:
    def __init__(self, batches: list[np.ndarray]) -> None:
        self._it = iter(batches)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {"input": x}


def _quantize(proto: Any, batches: list[np.ndarray], keep_float: tuple[str, ...] = ()) -> Any:
    """onnxruntime's static QDQ quantisation with :data:`INT8_SETTINGS` (and the Conv nodes ``keep_float`` in
    float32 too); a new ``onnx.ModelProto``."""
    import logging

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    if len(convs) < 3:
        raise InputError("the model has fewer than three Conv nodes", "int8 variants are for biodae's convolutional denoisers")
    if any(not c for c in convs):
        raise InputError("the model has unnamed Conv nodes", "re-export it with biodae export")
    unknown = sorted(set(keep_float) - set(convs))
    if unknown:
        raise InputError(f"keep_float names nodes that are not Conv nodes of the model: {', '.join(unknown)}",
                         "name Conv nodes of this graph (onnx.load(...).graph.node)")
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(batches)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer warns through the root logger ("consider pre-processing")
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):  # its histogram chatter
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(proto.SerializeToString())
            quantize_static(str(src), str(dst), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=[convs[0], convs[-1], *keep_float], calibrate_method=CalibrationMethod.MinMax,
                            calibration_providers=["CPUExecutionProvider"])
            out = onnx.load(str(dst))
    finally:
        root.setLevel(level)
    out.ir_version = proto.ir_version
    del out.opset_import[:]
    out.opset_import.extend(proto.opset_import)
    out.producer_name, out.producer_version = proto.producer_name, proto.producer_version
    inits = sorted(out.graph.initializer, key=lambda t: t.name)
    del out.graph.initializer[:]
    out.graph.initializer.extend(inits)
    del out.graph.value_info[:]
    for n in out.graph.node:
        del n.metadata_props[:]
        n.doc_string = ""
    onnx.checker.check_model(out, full_check=True)
    return out


def int8_variant(proto: Any, calibration: Iterable[np.ndarray], *, name: str = "the model",
                 description: str | None = None, tolerance: float = INT8_TOLERANCE,
                 keep_float: Iterable[str] | None = None) -> tuple[Any, float]:
    """The int8 variant of the float32 biodae model ``proto`` (an ``onnx.ModelProto``) and its parity.

    Parameters
    ----------
    proto : onnx.ModelProto
        A float32 biodae model.
    calibration : iterable of numpy.ndarray
        float32 inputs in the model's layout (``[batch, 1, length]`` or ``[batch, 1, height, width]``) from
        its training data: :func:`calibration_inputs`. The activation ranges come from them, and so does the
        parity.
    name : str
        How errors name the model.
    description : str, optional
        What the calibration data are (``biodae.calibration``); default the :class:`CalibrationSet`'s own,
        else the number and shape of the arrays.
    tolerance : float
        Largest accepted parity (benchmarks pass ``inf`` to measure a variant that would be refused).
    keep_float : iterable of str, optional
        Names of Conv nodes to keep float32 besides the first and the last; default: :data:`INT8_KEEP_FLOAT`'s
        entry for ``proto``'s weights, else none. Stored in ``biodae.precision_detail``.

    Returns
    -------
    int8, parity
        The variant (input and output float32, QDQ inner convolutions, see the module) with ``proto``'s metadata plus
        ``biodae.precision = int8``, ``biodae.precision_detail``, ``biodae.int8_parity`` (:func:`int8_parity` on
        the calibration inputs), ``biodae.source_weights_sha256``, ``biodae.calibration``; ``biodae.weights_sha256``
        recomputed over the quantised weights.

    Raises
    ------
    InputError
        ``proto`` is not float32, the calibration data are empty or not in the model's layout, or the parity
        exceeds :data:`INT8_TOLERANCE`.
    """
    from ._contract import weights_sha256

    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("biodae.precision", "fp32") != "fp32":
        raise InputError(f"{name}: already a {meta['biodae.precision']} model", "quantise the float32 model")
    if not proto.graph.input:
        raise InputError(f"{name}: the graph has no input", "pass a biodae model")
    rank = len(proto.graph.input[0].type.tensor_type.shape.dim)
    batches = _batches(calibration, rank, name)
    source_sha = meta.get("biodae.weights_sha256") or weights_sha256(proto)
    keep = tuple(INT8_KEEP_FLOAT.get(source_sha, ()) if keep_float is None else keep_float)
    if description is None:
        description = getattr(calibration, "description", None) or (
            f"{sum(len(b) for b in batches)} caller-supplied inputs of shape {list(batches[0].shape[1:])}")
    int8 = _quantize(proto, batches, keep)
    parity = int8_parity(proto.SerializeToString(), int8.SerializeToString(), batches)
    if not parity <= tolerance:
        raise InputError(f"the int8 variant of {name} disagrees with it: max relative error {parity:.2e} > "
                         f"{tolerance:.0e} on its calibration data", "keep the float32 model for this network")
    new = {**meta,
           "biodae.precision": "int8",
           "biodae.precision_detail": INT8_SETTINGS + (f"; also float32: {', '.join(keep)}" if keep else ""),
           "biodae.int8_parity": f"{parity:.2e}",
           "biodae.source_weights_sha256": source_sha,
           "biodae.calibration": description,
           "biodae.weights_sha256": weights_sha256(int8)}
    del int8.metadata_props[:]
    for k in sorted(new):
        int8.metadata_props.add(key=k, value=new[k])
    return int8, parity


def write_int8_variant(src: str | os.PathLike, dst: str | os.PathLike, *, calibration: Iterable[np.ndarray],
                       force: bool = False) -> tuple[Path, float]:
    """Write the int8 variant (:func:`int8_variant`) of the biodae ONNX file ``src`` to ``dst``.

    ``calibration``: float32 inputs from the model's training data (for the shipped models,
    :func:`biodae.datasets.calibration_inputs`; the runtime reads no data set itself).

    Returns
    -------
    path, parity

    Raises
    ------
    InputError
        ``dst`` is ``src``, ``src`` is unreadable or not float32, no calibration data, or the parity exceeds
        :data:`INT8_TOLERANCE`.
    """
    from ..io import atomic_path
    from ._contract import load_onnx

    if Path(dst).resolve() == Path(src).resolve():
        raise InputError(f"{dst} is the model's own input", "write the int8 variant to another file")
    proto = load_onnx(src)
    int8, parity = int8_variant(proto, calibration, name=str(src))
    with atomic_path(Path(dst), force=force) as tmp:
        tmp.write_bytes(int8.SerializeToString(deterministic=True))
    return Path(dst), parity
