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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: rows per onnxruntime call
CHUNK = 4096

__all__ = ["ACTIVATIONS", "OUTPUTS", "METADATA_KEYS", "build_graph", "serialize", "read_metadata", "check_latent_file",
           "LatentRunner", "LatentFile"]

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

    def encode(net: Mapping[str, Any], tag: str) -> str:
        c = g.ops(net["code"], g.ops(net["encoder"], xs, tag), tag)
        if net.get("code_linear") is not None:  # the linear path (linear_path=True): added to the code
            c = g.node("Add", [c, g.ops(net["code_linear"], xs, tag)], f"{tag}/code_sum")
        if net.get("code_activation") in ("relu", "sigmoid"):
            act = net["code_activation"]
            c = g.node(_ACT_OPS[act][0], [c], f"{tag}/code_{act}")
        return c

    code = g.node("Identity", [encode(spec, "enc")], "code")

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
        members = spec.get("members") or []
        logits = g.ops(spec["head"], code, "head")
        if not members:
            g.node("Softmax", [logits], "proba", axis=1)
        else:  # an ensemble: the mean of the members' probabilities
            probas = [g.node("Softmax", [logits], "head/proba", axis=1)]
            for i, m in enumerate(members, start=1):
                tag = f"member{i}"
                probas.append(g.node("Softmax", [g.ops(m["head"], encode(m, tag), tag)], f"{tag}/proba", axis=1))
            g.node("Mean", probas, "proba")
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


def interface_problems(meta: Mapping[str, str], inputs: Sequence[str], outputs: Sequence[str]) -> list[str]:
    """The part of the contract a runtime shows without the onnx package: the metadata (keys, task,
    standardisation) and the names of the graph's inputs and outputs."""
    problems: list[str] = []
    missing = [k for k in METADATA_KEYS if not meta.get(k)]
    if meta.get("biodae.kind") == "supervised" and not meta.get("biodae.classes"):
        missing.append("biodae.classes")
    if missing:
        problems.append(f"missing metadata: {', '.join(missing)}")
    if meta.get("biodae.task") not in (None, "latent"):
        problems.append(f"biodae.task is {meta['biodae.task']!r}, not 'latent'")
    if list(inputs) != ["x", "z"]:
        problems.append(f"inputs must be ['x', 'z']; got {list(inputs)}")
    want = ["code", "reconstruction", "score", *(["proba"] if meta.get("biodae.kind") == "supervised" else []),
            "decoded"]
    if list(outputs) != want:
        problems.append(f"outputs must be {want}; got {list(outputs)}")
    try:
        std = json.loads(meta.get("biodae.standardisation", "{}"))
        n = int(meta.get("biodae.n_features", "-1"))
        if len(std.get("mean", [])) != n or len(std.get("std", [])) != n:
            problems.append("biodae.standardisation must hold n_features means and stds")
    except (ValueError, TypeError, AttributeError):
        problems.append("biodae.standardisation is not JSON {'mean': [...], 'std': [...]}")
    return problems


def check_latent_file(data: bytes) -> list[str]:
    """Problems with a serialised latent model against its contract (``docs/onnx.md``, "Latent models");
    an empty list when it complies."""
    import onnx

    from ..runtime import checked_metadata, weights_sha256

    proto = onnx.load_model_from_string(data)
    problems, meta, _ = checked_metadata(proto, METADATA_KEYS)
    problems += interface_problems(meta, [i.name for i in proto.graph.input], [o.name for o in proto.graph.output])
    if {"x", "z"} & {i.name for i in proto.graph.initializer}:
        problems.append("inputs 'x' and 'z' must not have initializers (runtimes would hide them)")
    for vi in list(proto.graph.input) + list(proto.graph.output):
        if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            problems.append(f"{vi.name} must be float32")
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_value:
            problems.append(f"{vi.name}: the batch axis must be dynamic")
    if meta.get("biodae.weights_sha256") and meta["biodae.weights_sha256"] != weights_sha256(proto):
        problems.append("biodae.weights_sha256 does not match the weights")
    if not any(o.domain in ("", "ai.onnx") and o.version == OPSET for o in proto.opset_import):
        problems.append(f"opset {OPSET} expected")
    if proto.ir_version > IR_VERSION:
        problems.append(f"IR version {proto.ir_version} > {IR_VERSION}")
    return problems


class LatentRunner:
    """Runs a latent-model graph with onnxruntime: rows in chunks of :data:`CHUNK`, both inputs fed
    (the path not wanted gets one row of zeros, as the module docstring says)."""

    def __init__(self, session: Any, n_features: int, latent_dim: int) -> None:
        self.session = session
        self.n_features_in_ = int(n_features)
        self.latent_dim_ = int(latent_dim)

    def _feeds(self, name: str, rows: np.ndarray) -> dict[str, np.ndarray]:
        other = ("z", self.latent_dim_) if name == "x" else ("x", self.n_features_in_)
        return {name: np.ascontiguousarray(rows, dtype=np.float32), other[0]: np.zeros((1, other[1]), np.float32)}

    def run(self, rows: np.ndarray, output: str, *, name: str = "x") -> np.ndarray:
        """One output (``code``, ``score``, ... or ``decoded`` from ``name="z"``) for float rows."""
        return np.concatenate([self.session.run([output], self._feeds(name, rows[s:s + CHUNK]))[0]
                               for s in range(0, len(rows), CHUNK)])

    def outputs(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Every output from ``x`` (all but ``decoded``) for float rows ``X`` ``(n, n_features)``, in one pass."""
        names = [o.name for o in self.session.get_outputs() if o.name != "decoded"]
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        for start in range(0, len(X), CHUNK):
            for n, o in zip(names, self.session.run(names, self._feeds("x", X[start:start + CHUNK]))):
                parts[n].append(o)
        return {n: np.concatenate(p) for n, p in parts.items()}


class LatentFile(LatentRunner):
    """A latent-model file run by onnxruntime alone, with no scikit-learn and no onnx import (the two take
    about 2.5 s to import, most of ``biodae beats`` on one 30-minute record).

    It checks what onnxruntime shows of the contract (:func:`interface_problems`); the weights digest,
    dtypes, opset and IR version are checked by :meth:`Autoencoder.load <biodae.latent.Autoencoder.load>`
    and ``biodae models``. Attributes as a fitted estimator's: ``n_features_in_``, ``latent_dim_``,
    ``threshold_``, ``classes_`` (supervised models), and ``metadata``, ``path``.

    Raises
    ------
    InputError
        The file is missing, not an ONNX file, or not a biodae latent model.
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        from .._errors import BiodaeError, InputError
        from ..runtime import create_session

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file", "check the path")
        try:
            session = create_session(self.path, device="cpu", threads=threads)
        except BiodaeError as exc:
            raise InputError(f"{self.path} is not an ONNX file ({exc.message})",
                             "give a file written by Autoencoder.save") from exc
        meta = dict(session.get_modelmeta().custom_metadata_map)
        problems = interface_problems(meta, [i.name for i in session.get_inputs()],
                                      [o.name for o in session.get_outputs()])
        if problems:
            raise InputError(f"{self.path} is not a biodae latent model: {problems[0]}",
                             "give a file written by Autoencoder.save")
        super().__init__(session, int(meta["biodae.n_features"]), int(meta["biodae.latent_dim"]))
        self.metadata = meta
        self.threshold_ = float(meta["biodae.threshold"])
        if meta["biodae.kind"] == "supervised":
            self.classes_ = np.asarray(json.loads(meta["biodae.classes"]))
