"""The ONNX file of a fitted :class:`~biodae.latent.Autoencoder`: build it, read it, check it.

The graph is written here with ``onnx.helper`` from the network's numpy weights
(:func:`biodae.nn.latent.latent_spec`), not traced by torch's exporter: the networks use
a handful of operations (Gemm, Conv, ConvTranspose, activations, Pad, Reshape, Slice), a
graph takes milliseconds to build instead of about a second per export (``fit`` builds
one every time, and scikit-learn's checks fit hundreds of times), and the file's names and
layout do not move with the exporter's version. ``fit`` checks the graph against torch on
the training rows. The contract is in ``docs/onnx.md`` ("Latent models").

One graph, two inputs with independent batch sizes:

* ``x`` ``[batch, n_features]`` float32 (raw units) gives ``code`` ``[batch, latent_dim]``,
  ``reconstruction`` ``[batch, n_features]`` (raw units), ``score`` ``[batch]`` (mean over
  the features of the squared error between the standardised row and its standardised
  reconstruction; higher = more abnormal) and, for supervised models, ``proba``
  ``[batch, n_classes]``;
* ``z`` ``[batch_z, latent_dim]`` gives ``decoded`` ``[batch_z, n_features]`` (raw units):
  the decoder alone, for ``inverse_transform``.

Both inputs must be fed (every runtime lists them); a caller that needs only one path feeds
one row of zeros to the other and ignores its outputs. Inputs with default initializers
would make them optional, but onnxruntime then hides them from its list of inputs and
bindings that check feeds against that list (Java, Node.js) refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ACTIVATIONS", "OUTPUTS", "METADATA_KEYS", "build_graph", "serialize", "read_metadata", "check_latent_file"]

OPSET = 18
IR_VERSION = 10

#: Graph outputs: fed ``x`` (``proba`` only for supervised models) and fed ``z``.
OUTPUTS = ("code", "reconstruction", "score", "proba", "decoded")

#: Metadata every latent-model file carries (``biodae.classes`` only supervised ones).
METADATA_KEYS = (
    "biodae.schema_version", "biodae.task", "biodae.name", "biodae.version", "producer", "biodae.kind", "biodae.arch",
    "biodae.latent_dim", "biodae.n_features", "biodae.threshold", "biodae.threshold_rule", "biodae.score",
    "biodae.standardisation", "biodae.inputs", "biodae.outputs", "biodae.params", "biodae.weights_sha256",
)

_ACT_OPS = {"relu": ("Relu", {}), "leaky_relu": ("LeakyRelu", {"alpha": 0.01}), "elu": ("Elu", {"alpha": 1.0}),
            "tanh": ("Tanh", {}), "sigmoid": ("Sigmoid", {})}
#: Activations the graph can express (``silu`` as ``x * Sigmoid(x)``); :mod:`biodae.nn.latent` has the
#: same names for torch.
ACTIVATIONS = (*_ACT_OPS, "silu")


class _Graph:
    """Nodes and initializers of the graph being built, with unique, readable names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: dict[str, Any] = {}

    def const(self, name: str, value: np.ndarray) -> str:
        if name not in self.inits:
            self.inits[name] = self.numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def node(self, op: str, inputs: Sequence[str], output: str, **attrs: Any) -> str:
        self.nodes.append(self.helper.make_node(op, list(inputs), [output], name=output, **attrs))
        return output

    def ops(self, ops: Sequence[Mapping[str, Any]], x: str, tag: str) -> str:
        """Apply ``ops`` (see :func:`biodae.nn.latent.latent_spec`) to tensor ``x``; node outputs are
        named ``{tag}/{op name}``, so the decoder can be applied twice with shared weights."""
        for op in ops:
            kind, name = op["op"], op["name"]
            out = f"{tag}/{name}"
            if kind == "linear":
                w = self.const(f"{name}.weight", op["weight"])
                b = self.const(f"{name}.bias", op["bias"])
                x = self.node("Gemm", [x, w, b], out, transB=1)
            elif kind in ("conv1d", "conv_transpose1d"):
                w = self.const(f"{name}.weight", op["weight"])
                b = self.const(f"{name}.bias", op["bias"])
                k, s, p = int(op["weight"].shape[2]), int(op["stride"]), int(op["padding"])
                onnx_op = "Conv" if kind == "conv1d" else "ConvTranspose"
                x = self.node(onnx_op, [x, w, b], out, kernel_shape=[k], strides=[s], pads=[p, p])
            elif kind == "act":
                act = op["activation"]
                if act == "silu":
                    sig = self.node("Sigmoid", [x], f"{out}/sigmoid")
                    x = self.node("Mul", [x, sig], out)
                else:
                    onnx_op, attrs = _ACT_OPS[act]
                    x = self.node(onnx_op, [x], out, **attrs)
            elif kind == "pad_right":
                if op["amount"]:
                    pads = self.const(f"{name}.pads", np.array([0, 0, 0, op["amount"]], dtype=np.int64))
                    x = self.node("Pad", [x, pads], out, mode="constant")
            elif kind == "reshape":
                shape = self.const(f"{name}.shape", np.array([-1, *op["shape"]], dtype=np.int64))
                x = self.node("Reshape", [x, shape], out)
            elif kind == "flatten":
                x = self.node("Flatten", [x], out, axis=1)
            elif kind == "crop":
                starts = self.const("zero_1d", np.array([0], dtype=np.int64))
                ends = self.const(f"{name}.ends", np.array([op["length"]], dtype=np.int64))
                axes = self.const("one_1d", np.array([1], dtype=np.int64))
                x = self.node("Slice", [x, starts, ends, axes], out)
            else:
                raise ValueError(f"unknown operation {kind!r} in the network spec")
        return x


def build_graph(spec: Mapping[str, Any], mean: np.ndarray, scale: np.ndarray) -> Any:
    """The ``onnx.ModelProto`` of a trained network (no metadata yet; see :func:`serialize`).

    Parameters
    ----------
    spec : dict
        :func:`biodae.nn.latent.latent_spec` of the trained network.
    mean, scale : ndarray, shape (n_features,)
        Input standardisation: the network sees ``(x - mean) / scale``.
    """
    import onnx
    from onnx import TensorProto, helper

    d, k = int(spec["n_features"]), int(spec["latent_dim"])
    g = _Graph()
    f32 = np.float32
    x0, z0 = "x", "z"
    mean_c = g.const("input_mean", np.asarray(mean, f32).reshape(d))
    scale_c = g.const("input_scale", np.asarray(scale, f32).reshape(d))

    xs = g.node("Div", [g.node("Sub", [x0, mean_c], "x_centred"), scale_c], "x_standardised")
    h = g.ops(spec["encoder"], xs, "enc")
    code = g.ops(spec["code"], h, "enc")
    if spec.get("code_linear") is not None:  # the linear path (linear_path=True): added to the code
        code = g.node("Add", [code, g.ops(spec["code_linear"], xs, "enc")], "enc/code_sum")
    if spec.get("code_activation") in ("relu", "sigmoid"):
        act = spec["code_activation"]
        code = g.node(_ACT_OPS[act][0], [code], f"enc/code_{act}")
    code = g.node("Identity", [code], "code")

    def decode(z: str, tag: str) -> str:
        out = g.ops(spec["decoder"], z, tag)
        if spec.get("decoder_linear") is not None:
            out = g.node("Add", [out, g.ops(spec["decoder_linear"], z, tag)], f"{tag}/decoder_sum")
        return out

    rec_s = decode(code, "dec_x")
    g.node("Add", [g.node("Mul", [rec_s, scale_c], "reconstruction_scaled"), mean_c], "reconstruction")
    diff = g.node("Sub", [xs, rec_s], "error")
    axes = g.const("one_1d", np.array([1], dtype=np.int64))
    g.node("ReduceMean", [g.node("Mul", [diff, diff], "error_squared"), axes], "score", keepdims=0)
    dec_s = decode(z0, "dec_z")
    g.node("Add", [g.node("Mul", [dec_s, scale_c], "decoded_scaled"), mean_c], "decoded")

    names = ["code", "reconstruction", "score"]
    shapes: dict[str, list[Any]] = {"code": ["batch", k], "reconstruction": ["batch", d], "score": ["batch"],
                                    "decoded": ["batch_z", d]}
    if spec.get("head") is not None:
        logits = g.ops(spec["head"], code, "head")
        g.node("Softmax", [logits], "proba", axis=1)
        names.append("proba")
        shapes["proba"] = ["batch", int(spec["head"][0]["weight"].shape[0])]
    names.append("decoded")

    graph = helper.make_graph(
        g.nodes, "biodae_latent",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d]),
                helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch_z", k])],
        outputs=[helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in names],
        initializer=list(g.inits.values()),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="biodae")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def serialize(model: Any, metadata: Mapping[str, str]) -> bytes:
    """``model`` with ``metadata`` (plus ``biodae.weights_sha256``) as its ``metadata_props``, serialised
    deterministically."""
    from ..runtime import weights_sha256

    meta = {str(k): str(v) for k, v in metadata.items()}
    meta["biodae.weights_sha256"] = weights_sha256(model)
    del model.metadata_props[:]
    for key in sorted(meta):
        model.metadata_props.add(key=key, value=meta[key])
    return model.SerializeToString(deterministic=True)


def read_metadata(data: bytes) -> dict[str, str]:
    """The ``metadata_props`` of a serialised model."""
    import onnx

    return {p.key: p.value for p in onnx.load_model_from_string(data).metadata_props}


def check_latent_file(data: bytes) -> list[str]:
    """Problems with a serialised latent model against its contract (``docs/onnx.md``, "Latent models");
    an empty list when it complies."""
    import onnx

    from ..runtime import checked_metadata, weights_sha256

    proto = onnx.load_model_from_string(data)
    problems, meta, missing = checked_metadata(proto, METADATA_KEYS)
    if meta.get("biodae.kind") == "supervised" and not meta.get("biodae.classes"):
        missing.append("biodae.classes")
    if missing:
        problems.append(f"missing metadata: {', '.join(missing)}")
    if meta.get("biodae.task") not in (None, "latent"):
        problems.append(f"biodae.task is {meta['biodae.task']!r}, not 'latent'")
    inputs = [i.name for i in proto.graph.input]
    if inputs != ["x", "z"]:
        problems.append(f"inputs must be ['x', 'z']; got {inputs}")
    if {"x", "z"} & {i.name for i in proto.graph.initializer}:
        problems.append("inputs 'x' and 'z' must not have initializers (runtimes would hide them)")
    want = ["code", "reconstruction", "score", *(["proba"] if meta.get("biodae.kind") == "supervised" else []),
            "decoded"]
    outputs = [o.name for o in proto.graph.output]
    if outputs != want:
        problems.append(f"outputs must be {want}; got {outputs}")
    for vi in list(proto.graph.input) + list(proto.graph.output):
        if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            problems.append(f"{vi.name} must be float32")
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_value:
            problems.append(f"{vi.name}: the batch axis must be dynamic")
    try:
        std = json.loads(meta.get("biodae.standardisation", "{}"))
        n = int(meta.get("biodae.n_features", "-1"))
        if len(std.get("mean", [])) != n or len(std.get("std", [])) != n:
            problems.append("biodae.standardisation must hold n_features means and stds")
    except (ValueError, TypeError, AttributeError):
        problems.append("biodae.standardisation is not JSON {'mean': [...], 'std': [...]}")
    if meta.get("biodae.weights_sha256") and meta["biodae.weights_sha256"] != weights_sha256(proto):
        problems.append("biodae.weights_sha256 does not match the weights")
    if not any(o.domain in ("", "ai.onnx") and o.version == OPSET for o in proto.opset_import):
        problems.append(f"opset {OPSET} expected")
    if proto.ir_version > IR_VERSION:
        problems.append(f"IR version {proto.ir_version} > {IR_VERSION}")
    return problems
