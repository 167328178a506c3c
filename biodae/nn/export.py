"""Checkpoints to ONNX: one self-contained, reproducible, path-free file per model.

:func:`export_onnx` traces the model with torch's dynamo exporter
(``torch.onnx.export(..., dynamo=True, external_data=False)``), input ``"input"`` and
output ``"output"``, the batch, channel (for models that fold channels) and length --
or height and width -- dimensions dynamic. The exported graph then goes through the
``onnx`` package:

* per-node ``metadata_props`` (the exporter stores stack traces there, with absolute
  paths of the exporting machine: ``/home/...``, ``site-packages/...``) and every
  ``doc_string`` (model, graph, nodes, inputs/outputs, initializers, functions) are
  removed; the model's ``metadata_props`` are replaced by ours;
* ``onnx.checker.check_model(full_check=True)`` must pass;
* the bytes are serialised deterministically and written atomically as one file.

Exporting the same weights twice gives byte-identical files. The exported graph needs
no pre- or post-processing: normalisation, padding to the architecture's multiple and
cropping are inside it (see :mod:`biodae.nn.models`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from .._errors import DependencyError, InputError
from .._version import __version__
from ..io import atomic_path
from .models import Denoiser, build_model

__all__ = ["export_onnx", "load_checkpoint", "checkpoint_to_onnx", "strip_onnx_metadata", "load_onnx_weights"]

_PARITY_RTOL = 1e-4


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's known, harmless noise for the duration of an export."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms"
    try:
        with warnings.catch_warnings():
            # raised inside torch.export's pytree handling (torch 2.13), not by our code
            warnings.filterwarnings(
                "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
            )
            yield
    finally:
        registration.setLevel(level)


def strip_onnx_metadata(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove doc strings and metadata properties everywhere in ``model`` (in place).

    Covers the model, its graph and every subgraph and function: nodes, inputs,
    outputs, value infos and initializers. Returns ``model``.
    """
    model.doc_string = ""
    del model.metadata_props[:]

    def clean_graph(graph: onnx.GraphProto) -> None:
        graph.doc_string = ""
        if hasattr(graph, "metadata_props"):
            del graph.metadata_props[:]
        for seq in (graph.input, graph.output, graph.value_info, graph.initializer, graph.sparse_initializer):
            for item in seq:
                _clean_item(item)
        clean_nodes(graph.node)

    def clean_nodes(nodes: Any) -> None:
        for node in nodes:
            node.doc_string = ""
            del node.metadata_props[:]
            for attr in node.attribute:
                attr.doc_string = ""
                if attr.HasField("g"):
                    clean_graph(attr.g)
                for g in attr.graphs:
                    clean_graph(g)

    clean_graph(model.graph)
    for fn in model.functions:
        fn.doc_string = ""
        del fn.metadata_props[:]
        for item in fn.value_info:
            _clean_item(item)
        clean_nodes(fn.node)
    return model


def _clean_item(item: Any) -> None:
    if hasattr(item, "doc_string"):
        item.doc_string = ""
    if hasattr(item, "metadata_props"):
        del item.metadata_props[:]


def _example_input(model: Denoiser, example_length: int | tuple[int, ...] | None) -> torch.Tensor:
    nd = model.spatial_dims
    if example_length is None:
        size: tuple[int, ...] = (1000,) if nd == 1 else (45, 61)
    elif isinstance(example_length, int):
        size = (example_length,) * nd
    else:
        size = tuple(int(s) for s in example_length)
    if len(size) != nd or min(size) < 2:
        raise ValueError(
            f"example_length must give {nd} size(s) >= 2 for {type(model).__name__}; got {example_length!r}"
        )
    channels = 2 if model.folds_channels else model.in_channels
    gen = torch.Generator().manual_seed(0)
    # batch and channels 2: torch.export specialises dimensions of size 0 or 1
    return torch.randn(2, channels, *size, generator=gen)


def _dynamic_shapes(model: Denoiser) -> dict[str, dict[int, Any]]:
    dim = torch.export.Dim
    axes: dict[int, Any] = {0: dim("batch")}
    if model.folds_channels:
        axes[1] = dim("channels")
    names = ("length",) if model.spatial_dims == 1 else ("height", "width")
    for i, n in enumerate(names):
        axes[2 + i] = dim(n)
    return {"x": axes}  # keyed by the forward argument's name


def _check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    meta = dict(metadata or {})
    bad = [k for k, v in meta.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ValueError(f"metadata keys and values must be str; not for: {', '.join(map(repr, bad))}")
    return meta


def _model_metadata(model: Denoiser, opset: int) -> dict[str, str]:
    layout = "[batch, channels, length]" if model.spatial_dims == 1 else "[batch, channels, height, width]"
    return {
        "producer": f"biodae {__version__} (torch {torch.__version__.split('+')[0]}, onnx opset {opset})",
        "biodae.model": model.name,
        "biodae.config": json.dumps(model.config, sort_keys=True),
        "biodae.layout": layout,
        "biodae.units": "physical units in, same units out (normalisation inside the graph)",
        "biodae.channels": "any (each denoised independently)" if model.folds_channels else str(model.in_channels),
        "biodae.size_multiple": str(model.multiple),
    }


def _check_parity(data: bytes, model: Denoiser, example: torch.Tensor) -> float:
    try:
        import onnxruntime as ort
    except ImportError:
        raise DependencyError(
            "checking the exported model needs onnxruntime",
            'install biodae[cpu] (or [gpu]), or pass check_parity=False',
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    odd = tuple(s + 7 for s in example.shape[2:])  # another, odd size
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for x in (example, 3.0 * torch.randn(1, example.shape[1], *odd, generator=gen) + 1.0):
        with torch.no_grad():
            ref = model(x).numpy()
        out = session.run(["output"], {"input": x.numpy()})[0]
        err = float(np.max(np.abs(out - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
        worst = max(worst, err)
        if out.shape != ref.shape or not err <= _PARITY_RTOL:
            raise RuntimeError(
                f"exported model disagrees with torch: shape {out.shape} vs {ref.shape}, max relative error "
                f"{err:.2e} > {_PARITY_RTOL:.0e}"
            )
    return worst


def export_onnx(
    model: Denoiser,
    path: str | os.PathLike[str],
    *,
    example_length: int | tuple[int, ...] | None = None,
    metadata: Mapping[str, str] | None = None,
    opset: int = 18,
    check_parity: bool = True,
    force: bool = False,
    precision: str = "fp32",
) -> Path:
    """Export ``model`` to one self-contained ONNX file with dynamic shapes.

    Parameters
    ----------
    model : Denoiser
        Exported in eval mode, on the CPU, in float32 (its mode, device and dtype are
        restored afterwards).
    path : path
        Output file (``.onnx``).
    example_length : int or tuple of int, optional
        Length (1D) or height and width (2D) of the tracing example; any value >= 2
        (defaults 1000 and 45 × 61). The graph accepts every size >= 1 whatever it is.
    metadata : dict of str to str, optional
        Added to the model's ``metadata_props`` after the defaults (``producer``,
        ``biodae.model``, ``biodae.config`` (JSON), ``biodae.layout``,
        ``biodae.units``, ``biodae.channels``), which it may override.
    opset : int, default 18
        ONNX opset.
    check_parity : bool, default True
        Run the file with onnxruntime (CPU) on the example and on a larger, odd size
        and require ``max|ort - torch| <= 1e-4 × max|torch|``.
    force : bool, default False
        Overwrite an existing ``path``.
    precision : {"fp32", "fp16"}, default "fp32"
        ``"fp16"`` writes the FP16 variant for GPUs
        (:func:`biodae.runtime.convert_to_fp16`: float16 weights and network, float32
        input, output and normalisation), with ``biodae.precision`` and its parity
        against the float32 export (``biodae.fp16_parity``) in the metadata. The float32
        graph is checked against torch first.

    Returns
    -------
    pathlib.Path
        ``path``. Inputs: ``input`` ``[batch, channels, length]`` (or
        ``[batch, channels, height, width]``), float32; output ``output``, same shape.

    Raises
    ------
    OutputExistsError
        ``path`` exists and not ``force``.
    onnx.checker.ValidationError
        The exported graph fails the full check.
    RuntimeError
        onnxruntime and torch disagree (``check_parity``).
    """
    if not isinstance(model, Denoiser):
        raise TypeError(f"export_onnx needs a biodae Denoiser; got {type(model).__name__}")
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be 'fp32' or 'fp16'; got {precision!r}")
    meta = {**_model_metadata(model, opset), **_check_metadata(metadata)}
    path = Path(path)
    was_training = model.training
    param = next(model.parameters(), None)
    device, dtype = (param.device, param.dtype) if param is not None else (torch.device("cpu"), torch.float32)
    model.eval().to(device="cpu", dtype=torch.float32)
    try:
        example = _example_input(model, example_length)
        with _quiet_exporter():
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                external_data=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes=_dynamic_shapes(model),
                verbose=False,
            )
        proto = strip_onnx_metadata(program.model_proto)
        for key in sorted(meta):
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, meta[key]
        onnx.checker.check_model(proto, full_check=True)
        data = proto.SerializeToString(deterministic=True)
        if check_parity:
            _check_parity(data, model, example)
        if precision == "fp16":
            data = _fp16_data(proto)
        with atomic_path(path, force=force) as tmp:
            tmp.write_bytes(data)
    finally:
        model.to(device=device, dtype=dtype).train(was_training)
    return path


def _fp16_data(proto: onnx.ModelProto) -> bytes:
    """The serialized FP16 variant of ``proto``, its parity measured and in its metadata."""
    from ..runtime import fp16_variant

    fp16, _ = fp16_variant(proto, name="the float32 export")
    return fp16.SerializeToString(deterministic=True)


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> tuple[Denoiser, dict[str, Any]]:
    """Rebuild a model from a :func:`~biodae.nn.train.fit` checkpoint.

    Loads with ``torch.load(..., weights_only=True)`` only: a checkpoint is data, never
    code.

    Parameters
    ----------
    path : path
        ``last.pt`` or ``best.pt``.
    map_location : str or torch.device, default "cpu"

    Returns
    -------
    model : Denoiser
        In eval mode, with the checkpoint's weights.
    checkpoint : dict
        The whole checkpoint (see :mod:`biodae.nn.train`).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint", "pass the best.pt or last.pt that 'biodae train' wrote")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # empty (EOFError), truncated, another format, or pickled code (never loaded)
        # torch's own text advises weights_only=False, i.e. running the file's code: never relay it
        why = "an empty file" if path.stat().st_size == 0 else f"{type(exc).__name__} while loading it as weights"
        raise InputError(f"{path} is not a readable biodae checkpoint ({why})",
                         "pass the best.pt or last.pt that 'biodae train' wrote") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "state_dict" not in ckpt:
        raise InputError(f"{path} is not a biodae checkpoint (no 'model' and 'state_dict')",
                         "pass the best.pt or last.pt that 'biodae train' wrote")
    model = build_model(ckpt["model"]["name"], **ckpt["model"]["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def checkpoint_to_onnx(
    ckpt_path: str | os.PathLike[str],
    onnx_path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
    *,
    example_length: int | tuple[int, ...] | None = None,
    opset: int = 18,
    check_parity: bool = True,
    force: bool = False,
    precision: str = "fp32",
) -> Path:
    """Export a checkpoint's model to ONNX (see :func:`export_onnx`).

    Adds ``biodae.epoch``, ``biodae.best_val_loss`` and ``biodae.train_config`` (JSON;
    it holds no paths) to the metadata, before ``metadata``.
    """
    model, ckpt = load_checkpoint(ckpt_path)
    meta = {
        "biodae.epoch": str(int(ckpt.get("epoch", 0))),
        "biodae.best_val_loss": repr(float(ckpt.get("best_val_loss", float("nan")))),
        "biodae.train_config": json.dumps(ckpt.get("train_config", {}), sort_keys=True),
        **_check_metadata(metadata),
    }
    return export_onnx(
        model,
        onnx_path,
        example_length=example_length,
        metadata=meta,
        opset=opset,
        check_parity=check_parity,
        force=force,
        precision=precision,
    )


def torch_from_onnx(path: str | os.PathLike[str]) -> Denoiser:
    """Rebuild the torch model of a biodae ONNX file (from ``biodae.model`` / ``biodae.config``
    and the graph's initializers, which carry the parameter names).

    Used to compare onnxruntime with torch eager on exactly the shipped weights.

    Raises
    ------
    ValueError
        If the file lacks the metadata, or a parameter is missing from its initializers.
    """
    import onnx.numpy_helper

    from ..runtime import load_onnx
    from .models import build_model

    proto = load_onnx(path)
    meta = {p.key: p.value for p in proto.metadata_props}
    if "biodae.model" not in meta or "biodae.config" not in meta:
        raise ValueError(f"{path}: no biodae.model / biodae.config metadata to rebuild the torch model from")
    model = build_model(meta["biodae.model"], **json.loads(meta["biodae.config"]))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    state = model.state_dict()
    missing = [k for k in state if k not in inits and state[k].is_floating_point()]
    if missing:
        raise ValueError(f"{path}: parameters not found among the initializers: {', '.join(missing[:5])}")
    model.load_state_dict({k: torch.from_numpy(inits[k].copy()) if k in inits else v for k, v in state.items()})
    return model.eval()


def load_onnx_weights(model: Any, proto: Any, *, name: str, advice: str) -> None:
    """Copy an exported model's weights into ``model``: the ONNX initializer names are the torch
    ``state_dict`` names of biodae's networks. Strict: every tensor must be there with its shape,
    else :class:`~biodae.InputError` naming ``name`` with ``advice``."""
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    state = model.state_dict()
    wrong = sorted(k for k in state if k not in weights or tuple(weights[k].shape) != tuple(state[k].shape))
    if wrong:
        raise InputError(f"{name}: its weights do not fit the {type(model).__name__} network ({len(wrong)} tensors "
                         f"missing or of another shape, e.g. {wrong[0]})", advice)
    model.load_state_dict({k: torch.from_numpy(np.array(weights[k], dtype=np.float32)) for k in state}, strict=True)

