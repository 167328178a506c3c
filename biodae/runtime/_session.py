"""onnxruntime sessions: providers, threads, and a loud failure when a GPU is asked for but absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._errors import BiodaeError, DependencyError

__all__ = ["DEVICES", "import_onnxruntime", "create_session", "default_threads"]

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
    providers = [p for p in wanted if p in available]
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
