"""onnxruntime sessions: providers, threads, and a loud failure when a GPU is asked for but absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import BiodaeError, DependencyError

__all__ = ["DEVICES", "import_onnxruntime", "create_session", "default_threads", "SessionRunner", "batch_bucket",
           "provider_list"]

#: ``--device`` choices and the execution providers they ask onnxruntime for, in order.
DEVICES: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def import_onnxruntime() -> Any:
    """Import onnxruntime, or explain how to install exactly one of its two packages."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyError(
            "onnxruntime is not installed, so models cannot run",
            "install exactly one of: pip install 'biodae[cpu]'  (CPU)  or  pip install 'biodae[gpu]'  (NVIDIA GPU)",
        ) from exc
    return ort


def default_threads(jobs: int = 1) -> int:
    """Intra-op threads per session so that ``jobs`` sessions do not oversubscribe the cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, jobs))


#: cuDNN's convolution algorithm search on CUDA: onnxruntime's default, "EXHAUSTIVE", times every
#: algorithm for every new input shape (slow for images, whose sizes change from volume to volume);
#: "HEURISTIC" takes cuDNN's own ranking (cudnnGetConvolutionForwardAlgorithm_v7) at no cost per shape.
CUDNN_CONV_ALGO_SEARCH = "HEURISTIC"


def provider_list(device: str, available: list[str]) -> list[Any]:
    """The providers (with options) biodae asks onnxruntime for on ``device``, among the
    ``available`` ones: CUDA gets ``cudnn_conv_algo_search`` (:data:`CUDNN_CONV_ALGO_SEARCH`)."""
    out: list[Any] = []
    for p in DEVICES[device]:
        if p not in available:
            continue
        out.append((p, {"cudnn_conv_algo_search": CUDNN_CONV_ALGO_SEARCH}) if p == "CUDAExecutionProvider" else p)
    return out


def create_session(model: str | os.PathLike | bytes, *, device: str = "cpu", threads: int | None = None) -> Any:
    """Create an ``onnxruntime.InferenceSession`` on the requested device.

    Parameters
    ----------
    model : path or bytes
        An ONNX file or its serialized bytes.
    device : {"cpu", "cuda", "tensorrt"}
        Where to run. onnxruntime silently falls back to the CPU when a GPU provider
        is missing; biodae refuses instead, so a user who asked for a GPU knows.
    threads : int, optional
        Intra-op threads (default: all cores this process may use). Inter-op is 1.

    Raises
    ------
    BiodaeError
        If ``device`` is unknown or its provider is not available.
    """
    if device not in DEVICES:
        raise BiodaeError(f"unknown device {device!r}", f"choose one of {', '.join(DEVICES)}")
    ort = import_onnxruntime()
    wanted = DEVICES[device]
    available = ort.get_available_providers()
    if wanted[0] not in available:
        raise BiodaeError(
            f"--device {device} asked for {wanted[0]}, but this onnxruntime ({ort.__version__}) only has "
            f"{', '.join(available)}",
            "install the GPU build (pip uninstall -y onnxruntime && pip install 'biodae[gpu]') "
            "with a matching CUDA, or use --device cpu",
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads) if threads else default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # subnormal floats from the SiLU tails slow x86 down; measured and explained in docs/onnx.md
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    providers = provider_list(device, available)
    src = os.fspath(model) if isinstance(model, (str, os.PathLike)) else model
    if isinstance(src, str) and not Path(src).is_file():
        raise BiodaeError(f"{src}: no such model file", "check the path, or name a shipped model (biodae models)")
    try:
        sess = ort.InferenceSession(src, sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise BiodaeError(f"could not load the ONNX model: {exc}", "check that the file is a complete ONNX model") from exc
    got = sess.get_providers()
    if got[0] != wanted[0]:
        raise BiodaeError(
            f"--device {device}: onnxruntime fell back to {got[0]} (could not start {wanted[0]})",
            "check the CUDA/cuDNN/TensorRT installation (onnxruntime's log says why), or use --device cpu",
        )
    return sess


def batch_bucket(n: int) -> int:
    """The batch size a batch of ``n`` rows is padded to on a GPU: the next power of two."""
    return 1 << max(0, int(n) - 1).bit_length()


class SessionRunner:
    """Runs a one-input, one-output session on float32 batches, the same way on every device.

    On a GPU (``device="cuda"`` or ``"tensorrt"``) two things keep onnxruntime fast:

    * **Shape buckets.** cuDNN tunes its convolution algorithm for every new input shape
      (and TensorRT builds an engine), which costs far more than one run. Windows and
      tiles already have a fixed length (:func:`~biodae.runtime.overlap_add_1d` pads a
      short signal to the window); the batch axis is padded here to the next power of
      two (:func:`batch_bucket`) by repeating the last row, and cropped back. Rows are
      independent (normalisation is per row), so the result does not change; a GPU sees
      at most ``log2(batch_size) + 1`` shapes per window length. 2D slices keep each
      volume's size (padding them to size buckets was measured to change a blind
      model's output badly, see ``docs/onnx.md``); instead cuDNN is asked for its
      heuristic algorithm choice (:func:`create_session`), which costs little per shape.
    * **IO binding.** The input is copied once into a device buffer kept per shape and
      the output is allocated on the device by onnxruntime and copied back once;
      :meth:`run_ortvalue` takes and returns ``onnxruntime.OrtValue`` so that data
      already on the device stay there.

    On the CPU neither is needed: :meth:`__call__` is ``session.run``.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
    device : {"cpu", "cuda", "tensorrt"}
    buckets, io_binding : bool, optional
        Force shape buckets or IO binding on or off (default: on for GPU devices).
    device_id : int
        The GPU's index.
    """

    def __init__(self, session: Any, *, device: str = "cpu", buckets: bool | None = None,
                 io_binding: bool | None = None, device_id: int = 0) -> None:
        gpu = device in ("cuda", "tensorrt")
        self.session = session
        self.buckets = gpu if buckets is None else bool(buckets)
        self.io_binding = gpu if io_binding is None else bool(io_binding)
        self.device_type = "cuda" if gpu else "cpu"
        self.device_id = int(device_id)
        self.input_name = session.get_inputs()[0].name
        self.output_name = session.get_outputs()[0].name
        self._inputs: dict[tuple[int, ...], Any] = {}  # device input buffers, by shape

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run on a float32 batch (any leading batch size); returns a host array."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        n = batch.shape[0]
        if self.buckets and n > 0:
            m = batch_bucket(n)
            if m != n:
                batch = np.concatenate([batch, np.repeat(batch[-1:], m - n, axis=0)])
        if self.io_binding:
            out = self._run_bound(batch)
        else:
            out = self.session.run([self.output_name], {self.input_name: batch})[0]
        return out[:n]

    def _run_bound(self, batch: np.ndarray) -> np.ndarray:
        ort = import_onnxruntime()
        buf = self._inputs.get(batch.shape)
        if buf is None:
            if len(self._inputs) >= 32:  # unbucketed shapes: do not hold device memory forever
                self._inputs.clear()
            buf = ort.OrtValue.ortvalue_from_shape_and_type(list(batch.shape), np.float32, self.device_type,
                                                            self.device_id)
            self._inputs[batch.shape] = buf
        buf.update_inplace(batch)
        return self.run_ortvalue(buf).numpy()

    def run_ortvalue(self, value: Any) -> Any:
        """Run on an ``onnxruntime.OrtValue`` (on the CPU or this GPU); the output stays on the
        same device as an OrtValue (``.numpy()`` copies it to the host)."""
        binding = self.session.io_binding()
        binding.bind_ortvalue_input(self.input_name, value)
        binding.bind_output(self.output_name, value.device_name().lower(), self.device_id)
        self.session.run_with_iobinding(binding)
        return binding.get_outputs()[0]
