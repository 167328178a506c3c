"""FP16 variants of biodae's ONNX models, for GPUs.

:func:`convert_to_fp16` stores the weights in float16 and runs the network in float16
**between its first and its last convolution** (every node that both depends on a
convolution and feeds one). What is around it stays float32: the input and output
(``float32``, same names and shapes as the FP32 model), the in-graph normalisation
(window mean and scale of signals in physical units: an EEG channel with a DC offset
of tens of millivolts would lose its signal in float16), the padding to the
architecture's multiple, the crop and the rescaling. ``Cast`` nodes are inserted
where the two meet. The result is a drop-in replacement with half the size.

float16 is for GPUs (tensor cores, half the memory traffic). onnxruntime's CPU provider
runs the variant too, which is how its parity is measured here, but on a CPU it is not
meant to be faster than the float32 model (``docs/benchmarks/onnx_speed.md``).

Only onnx and numpy are needed (no torch): shipped models can be converted with
``biodae export models/ecg.onnx -o ecg-fp16.onnx --fp16``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError

__all__ = ["convert_to_fp16", "fp16_variant", "fp16_parity", "write_fp16_variant", "parity_inputs", "FP16_TOLERANCE"]

#: Largest accepted ``max|fp16 - fp32| / max|fp32|`` when a variant is written.
FP16_TOLERANCE = 1e-2

_CONVS = ("Conv", "ConvTranspose")
# inputs that onnx requires to stay float32 whatever the data type (sizes and scales)
_FLOAT32_ONLY_INPUTS = {"Resize": {1, 2}, "Upsample": {1}}


def _core_nodes(graph: Any) -> set[int]:
    """Indices of the nodes that depend on a convolution and feed one (or are one)."""
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(graph.node):
        for name in n.input:
            consumers.setdefault(name, []).append(i)
    convs = [i for i, n in enumerate(graph.node) if n.op_type in _CONVS]

    def closure(nexts) -> set[int]:
        seen: set[int] = set()
        stack = list(convs)
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(nexts(graph.node[i]))
        return seen

    below = closure(lambda n: [c for o in n.output for c in consumers.get(o, [])])
    above = closure(lambda n: [producer[x] for x in n.input if x in producer])
    return below & above


def convert_to_fp16(model: Any) -> Any:
    """The FP16 variant of a float32 ONNX model (a new ``onnx.ModelProto``; see the module).

    Raises
    ------
    InputError
        If the graph has no convolution, or uses local functions or subgraphs (not
        produced by biodae's exporter).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    src = onnx.ModelProto()
    src.CopyFrom(model)
    graph = src.graph
    if src.functions or any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                            for n in graph.node for a in n.attribute):
        raise InputError("FP16 conversion handles plain graphs only (no functions or subgraphs)")
    core = _core_nodes(graph)
    if not core:
        raise InputError("the graph has no convolution to run in float16")
    inferred = onnx.shape_inference.infer_shapes(src, strict_mode=True).graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*inferred.input, *inferred.output, *inferred.value_info)}
    types.update({t.name: t.data_type for t in graph.initializer})
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    outputs = {o.name for o in graph.output}
    inits = {t.name: t for t in graph.initializer}
    used_outside = {x for i, n in enumerate(graph.node) if i not in core for x in n.input} | outputs

    def in_core(name: str) -> bool:
        return name in producer and producer[name] in core

    def is_float(name: str) -> bool:
        return types.get(name) == TensorProto.FLOAT

    new_inits, casts_in, casts_out = [], {}, {}
    nodes = []
    for i, node in enumerate(graph.node):
        node = onnx.NodeProto.FromString(node.SerializeToString())
        if i in core:
            keep32 = _FLOAT32_ONLY_INPUTS.get(node.op_type, set())
            for k, name in enumerate(node.input):
                if not name or k in keep32 or in_core(name) or not is_float(name):
                    continue
                if name in inits and name not in used_outside:  # a weight of the network: store it in float16
                    if name not in casts_in:
                        arr = numpy_helper.to_array(inits[name]).astype(np.float16)
                        new_inits.append(numpy_helper.from_array(arr, name))
                        casts_in[name] = name
                    continue
                if name not in casts_in:  # float32 from outside the core: cast once
                    casts_in[name] = f"{name}__fp16"
                    nodes.append(helper.make_node("Cast", [name], [casts_in[name]], to=TensorProto.FLOAT16,
                                                  name=f"{name}__to_fp16"))
                node.input[k] = casts_in[name]
            for a in node.attribute:
                if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.FLOAT16
                if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
        else:
            for k, name in enumerate(node.input):
                if name and in_core(name) and is_float(name):
                    node.input[k] = _cast_out(name, casts_out, nodes)
        nodes.append(node)
    for out in graph.output:  # a graph output produced inside the core
        if in_core(out.name) and is_float(out.name):
            fp16 = f"{out.name}__fp16"
            for n in nodes:
                n.output[:] = [fp16 if o == out.name else o for o in n.output]
                n.input[:] = [fp16 if x == out.name else x for x in n.input]
            nodes.append(helper.make_node("Cast", [fp16], [out.name], to=TensorProto.FLOAT, name=f"{out.name}__to_fp32"))
    converted = {t.name for t in new_inits}
    inits_out = [t for t in graph.initializer if t.name not in converted] + new_inits
    del graph.node[:]
    graph.node.extend(_toposort(nodes, [*graph.input, *inits_out]))
    del graph.initializer[:]
    graph.initializer.extend(sorted(inits_out, key=lambda t: t.name))
    del graph.value_info[:]
    onnx.checker.check_model(src, full_check=True)
    return src


def _cast_out(name: str, casts: dict[str, str], nodes: list) -> str:
    from onnx import TensorProto, helper

    if name not in casts:
        casts[name] = f"{name}__fp32"
        nodes.append(helper.make_node("Cast", [name], [casts[name]], to=TensorProto.FLOAT, name=f"{name}__to_fp32"))
    return casts[name]


def _toposort(nodes: list, available: Sequence[Any]) -> list:
    """Nodes in an order where every input is produced before it is used (stable)."""
    have = {v.name for v in available} | {""}
    out, pending = [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(x in have for x in n.input):
                out.append(n)
                have.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise ValueError("the graph has a cycle or an undefined input")
        pending = rest
    return out


def parity_inputs(spatial_dims: int, window: int = 0) -> list[np.ndarray]:
    """Seeded float32 test batches: the window (or 1000 samples / 64 × 64 pixels) and an odd size.
    1D: random walks plus white noise around an offset, in the unit's order of magnitude;
    2D: values in [0, 1], the scaled intensities the 2D models take."""
    rng = np.random.default_rng(16)
    if spatial_dims == 1:
        n = window or 1000
        sizes = [(4, 1, n), (1, 1, 2 * n + 7)]
        return [(np.cumsum(rng.standard_normal(s), axis=-1) * 0.05 + 0.3 * rng.standard_normal(s) + 0.5)
                .astype(np.float32) for s in sizes]
    t = window or 64
    return [rng.random(s).astype(np.float32) for s in [(2, 1, t, t), (1, 1, t + 13, t + 7)]]


def variant_parity(fp32: Any, variant: Any, inputs: Iterable[np.ndarray], *, what: str = "variant") -> float:
    """``max |variant - fp32| / max |fp32|`` over ``inputs`` (the largest over the batches), both run
    with onnxruntime on the CPU; ``fp32`` and ``variant`` are file paths or serialized models."""
    from ._session import create_session

    a, b = create_session(fp32, threads=1), create_session(variant, threads=1)
    worst = 0.0
    for x in inputs:
        ya = a.run(None, {"input": x})[0]
        yb = b.run(None, {"input": x})[0]
        if yb.dtype != np.float32 or yb.shape != ya.shape:
            raise RuntimeError(f"the {what} returned {yb.dtype} {yb.shape}, not float32 {ya.shape}")
        worst = max(worst, float(np.max(np.abs(yb - ya)) / max(float(np.max(np.abs(ya))), 1e-30)))
    return worst


def fp16_parity(fp32: Any, fp16: Any, inputs: Sequence[np.ndarray]) -> float:
    """``max |fp16 - fp32| / max |fp32|`` over ``inputs`` (:func:`variant_parity`)."""
    return variant_parity(fp32, fp16, inputs, what="FP16 variant")


def fp16_metadata(meta: dict[str, str], parity: float, source_sha256: str) -> dict[str, str]:
    """The metadata of an FP16 variant: the FP32 model's, plus its precision and parity."""
    return {
        **meta,
        "biodae.precision": "fp16",
        "biodae.precision_detail": "float16 weights and network between the first and last convolution; "
                                   "input, output, normalisation, padding and cropping float32",
        "biodae.fp16_parity": f"{parity:.2e}",
        "biodae.source_weights_sha256": source_sha256,
    }


def fp16_variant(proto: Any, *, name: str = "the model") -> tuple[Any, float]:
    """The FP16 variant of the float32 biodae model ``proto`` (an ``onnx.ModelProto``) and its parity.

    The metadata are ``proto``'s plus ``biodae.precision = fp16``, ``biodae.fp16_parity``
    (:func:`fp16_parity` on :func:`parity_inputs`), ``biodae.source_weights_sha256``;
    ``biodae.weights_sha256`` is recomputed over the float16 weights.

    Raises
    ------
    InputError
        ``proto`` is already FP16, or the variant's parity exceeds :data:`FP16_TOLERANCE`.
    """
    from ._contract import weights_sha256

    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("biodae.precision", "fp32") != "fp32":
        raise InputError(f"{name}: already a {meta['biodae.precision']} model", "convert the float32 model")
    dims = proto.graph.input[0].type.tensor_type.shape.dim if proto.graph.input else []
    fp16 = convert_to_fp16(proto)
    window = int(meta.get("biodae.window", "0") or meta.get("biodae.tile", "0") or 0)
    parity = fp16_parity(proto.SerializeToString(), fp16.SerializeToString(), parity_inputs(len(dims) - 2, window))
    if not parity <= FP16_TOLERANCE:
        raise InputError(f"the FP16 variant of {name} disagrees with it: max relative error {parity:.2e} > "
                         f"{FP16_TOLERANCE:.0e}", "keep the float32 model for this network")
    new = fp16_metadata(meta, parity, meta.get("biodae.weights_sha256") or weights_sha256(proto))
    new["biodae.weights_sha256"] = weights_sha256(fp16)
    del fp16.metadata_props[:]
    for k in sorted(new):
        fp16.metadata_props.add(key=k, value=new[k])
    return fp16, parity


def write_fp16_variant(src: str | os.PathLike, dst: str | os.PathLike, *, force: bool = False) -> tuple[Path, float]:
    """Write the FP16 variant (:func:`fp16_variant`) of the biodae ONNX file ``src`` to ``dst``.

    Returns
    -------
    path, parity

    Raises
    ------
    InputError
        ``src`` is unreadable, already FP16, or the variant's parity exceeds
        :data:`FP16_TOLERANCE`.
    """
    from ..io import atomic_path
    from ._contract import load_onnx

    fp16, parity = fp16_variant(load_onnx(src), name=str(src))
    with atomic_path(Path(dst), force=force) as tmp:
        tmp.write_bytes(fp16.SerializeToString(deterministic=True))
    return Path(dst), parity
