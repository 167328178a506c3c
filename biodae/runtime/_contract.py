"""The metadata contract of biodae's ONNX files (``docs/onnx.md``): check and stamp it."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["REQUIRED_KEYS", "SIGNAL_KEYS", "weights_sha256", "check_contract", "stamp_weights_sha256"]

#: Metadata every shipped model carries.
REQUIRED_KEYS = (
    "biodae.schema_version", "biodae.name", "biodae.version", "biodae.modality", "biodae.units",
    "biodae.input", "biodae.output", "biodae.normalisation", "biodae.window", "biodae.overlap",
    "biodae.training_data", "biodae.noise_model", "biodae.intended_use", "biodae.limits", "biodae.licence",
    "biodae.training_command", "biodae.weights_sha256", "biodae.model", "biodae.config", "producer",
)
_SOURCE_PATH = re.compile(rb"(?:/[\w.+-]+)+/[\w.+-]+\.py\b")
_WINDOWS_PATH = re.compile(rb"[A-Za-z]:\\(?:[\w .+-]+\\)+[\w .+-]+\.py\b")

#: Highest ONNX IR version of a shipped file (what torch's exporter writes).
MAX_IR_VERSION = 10

#: Extra metadata of 1D (signal) models.
SIGNAL_KEYS = ("biodae.sampling_rate",)


def load_onnx(path: str | os.PathLike) -> Any:
    """``onnx.load`` of a model file, with a one-line :class:`~biodae._errors.InputError` for a file that
    is missing, truncated or not ONNX at all (instead of a protobuf ``DecodeError``)."""
    import onnx

    from .._errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such ONNX model file", "check the path (shipped models are listed by 'biodae models')")
    try:
        return onnx.load(os.fspath(p))
    except Exception as exc:  # google.protobuf DecodeError, onnx's own errors for external data...
        raise InputError(f"{p} is not a readable ONNX model ({type(exc).__name__}: {exc})",
                         "the file may be truncated or not an ONNX file: copy or export it again") from exc


def weights_sha256(model: Any) -> str:
    """sha256 over the graph's initializers sorted by name: for each, the name, the dims and the
    little-endian raw bytes. Computable from the ONNX file alone, in any language."""
    import onnx
    from onnx import numpy_helper

    proto = model if isinstance(model, onnx.ModelProto) else load_onnx(model)
    h = hashlib.sha256()
    for init in sorted(proto.graph.initializer, key=lambda t: t.name):
        arr = numpy_helper.to_array(init)
        h.update(init.name.encode())
        h.update(repr(tuple(int(d) for d in init.dims)).encode())
        h.update(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def stamp_weights_sha256(path: str | os.PathLike, **metadata: str) -> str:
    """Set ``biodae.weights_sha256`` in an ONNX file to :func:`weights_sha256` (and any other
    ``metadata`` given, keys with ``.`` spelled ``__``: ``biodae__version="1.0.1"``); rewrite
    it atomically, readable by all (0644)."""

    path = Path(path)
    proto = load_onnx(path)
    digest = weights_sha256(proto)
    props = {p.key: p.value for p in proto.metadata_props}
    props.update({k.replace("__", "."): str(v) for k, v in metadata.items()})
    props["biodae.weights_sha256"] = digest
    del proto.metadata_props[:]
    for k in sorted(props):
        proto.metadata_props.add(key=k, value=props[k])
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx")
    os.close(fd)
    try:
        Path(tmp).write_bytes(proto.SerializeToString(deterministic=True))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return digest


def checked_metadata(proto: Any, required: Sequence[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """What every biodae contract checks first: ``(problems, metadata, missing)`` — the ONNX
    checker's complaint (full check), the ``metadata_props``, and the ``required`` keys that are
    absent or empty (left to the caller to add to, and to report)."""
    import onnx

    problems: list[str] = []
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # the checker raises its own ValidationError
        problems.append(f"onnx.checker: {exc}")
    meta = {p.key: p.value for p in proto.metadata_props}
    return problems, meta, [k for k in required if not meta.get(k)]


def check_contract(path: str | os.PathLike) -> list[str]:
    """Problems with an ONNX file against the contract (an empty list when it complies)."""
    import onnx

    proto = load_onnx(path)
    problems, meta, missing = checked_metadata(proto, REQUIRED_KEYS)
    inputs, outputs = proto.graph.input, proto.graph.output
    if len(inputs) != 1 or inputs[0].name != "input":
        problems.append("the graph must have one input named 'input'")
    if len(outputs) != 1 or outputs[0].name != "output":
        problems.append("the graph must have one output named 'output'")
    if inputs:
        dims = inputs[0].type.tensor_type.shape.dim
        if inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            problems.append("input must be float32")
        if len(dims) == 3:
            missing += [k for k in SIGNAL_KEYS if not meta.get(k)]
        if any(d.dim_value for i, d in enumerate(dims) if i != 1):
            problems.append("batch and length/size axes must be dynamic")
    if missing:
        problems.append(f"missing metadata: {', '.join(missing)}")
    if meta.get("biodae.weights_sha256") and meta["biodae.weights_sha256"] != weights_sha256(proto):
        problems.append("biodae.weights_sha256 does not match the weights")
    if not any(o.domain in ("", "ai.onnx") and o.version == 18 for o in proto.opset_import):
        problems.append("opset 18 expected")
    if proto.ir_version > MAX_IR_VERSION:
        problems.append(f"IR version {proto.ir_version} > {MAX_IR_VERSION}: older runtimes refuse it (onnxruntime-node "
                        f"1.30 loads at most IR 13); export with torch's exporter or set ir_version = {MAX_IR_VERSION}")
    raw = proto.SerializeToString()
    # absolute paths of source files (exporter stack traces) or of an installed environment
    found = _SOURCE_PATH.search(raw) or _WINDOWS_PATH.search(raw) or (b"site-packages" in raw and b"site-packages")
    if found:
        text = found.group(0) if hasattr(found, "group") else found
        problems.append(f"the file contains a path of the exporting machine ({text.decode(errors='replace')[:80]})")
    return problems
