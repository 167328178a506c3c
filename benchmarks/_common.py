"""Helpers shared by the benchmark scripts: markdown tables, atomic writes, figures, progress."""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["markdown_table", "format_value", "write_text", "save_figure", "Progress", "progress", "timed", "rates",
           "model_flops", "matmul_gflops", "cpu_flags", "CPU_FLAGS_COMMAND"]

#: the command whose output the speed pages quote beside every figure
CPU_FLAGS_COMMAND = "grep -o 'avx512[a-z_0-9]*\\|avx2\\|avx_vnni' /proc/cpuinfo | sort -u"


def format_value(value: Any, floatfmt: str = ".3f") -> str:
    """A table cell: floats with ``floatfmt`` (``nan`` as ``–``), everything else ``str``."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return "–"
        return format(value, floatfmt) if isinstance(value, float) else str(value)
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.floating):
            return format_value(float(value), floatfmt)
        if isinstance(value, np.integer):
            return str(int(value))
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    floatfmt: str = ".3f",
    align: Sequence[str] | None = None,
) -> str:
    """A GitHub-flavoured markdown table.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequences
        Cells; floats are formatted with ``floatfmt``, ``None``/NaN shown as ``–``.
    align : sequence of {"l", "r", "c"}, optional
        Per-column alignment (default: first column left, the others right).
    """
    n = len(header)
    for i, r in enumerate(rows):
        if len(r) != n:
            raise ValueError(f"row {i} has {len(r)} cells, the header {n}")
    align = list(align) if align is not None else ["l"] + ["r"] * (n - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(format_value(v, floatfmt) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _readable(path: str) -> None:
    """Give a temporary file (created 0600) the usual permissions of a new file (0666 minus umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        _readable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically and close it (the format follows the suffix)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        _readable(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


class Progress:
    """Prints ``[name +12.3s] message`` lines to stderr (or a given stream), flushed."""

    def __init__(self, name: str, stream: Any = None) -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{self.name} +{time.perf_counter() - self.t0:6.1f}s] {message}", file=self.stream, flush=True)


_T0 = time.perf_counter()


def progress(message: str) -> None:
    """One progress line on stderr, with the seconds since the script started."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def timed(timings: dict[str, float], name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, adding its wall time in seconds to ``timings[name]``."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
    return out


def rates(fns: dict, n_values: int, seconds: float, block: float = 0.3) -> dict[str, float]:
    """Values per second of each function, from its median call time.

    The functions take turns in blocks of about ``block`` seconds (a, a, a, b, b, b, c, ...)
    until each has run about ``seconds`` and at least 5 timed calls, after two warm-up calls.
    The first call of every block is not timed: onnxruntime's worker threads spin for a while
    after a run, and calling the runtimes strictly in turn (a, b, c, a, ...) made every call
    share the cores with the previous runtime's spinning threads (measured here: the same
    onnxruntime session 16.5 ms per call in blocks, 44 ms interleaved; torch 40 vs 102 ms).
    Taking turns still lets a change of load on the machine hit all functions alike.
    """
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    while min(len(v) for v in times.values()) < 5 or min(sum(v) for v in times.values()) < seconds:
        for k, fn in fns.items():
            fn()  # not timed: the previous runtime's threads may still be spinning
            t_block = time.perf_counter()
            while True:
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
                if time.perf_counter() - t_block >= block:
                    break
    return {k: n_values / statistics.median(v) for k, v in times.items()}


def model_flops(model: Any, shape: Sequence[int]) -> int:
    """Multiply-adds x 2 of every convolution of a biodae model on an input of ``shape``.

    ``model`` is a torch model on the CPU or the path of a biodae ONNX file (rebuilt with
    :func:`biodae.nn.torch_from_onnx`); counted with forward hooks, elementwise operations
    not counted. The in-graph padding to the size multiple counts."""
    import numpy as np
    import torch
    from torch import nn

    if not isinstance(model, nn.Module):
        from biodae.nn.export import torch_from_onnx

        model = torch_from_onnx(model)
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        taps = int(np.prod(mod.kernel_size))
        if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
            total += 2 * inp[0].numel() * mod.out_channels // mod.groups * taps
        else:
            total += 2 * out.numel() * mod.in_channels // mod.groups * taps

    convs = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, convs)]
    try:
        with torch.no_grad():
            model(torch.zeros(*shape))
    finally:
        for h in handles:
            h.remove()
    return total


def matmul_gflops(threads: int, *, streams: int = 1, n: int = 2048, repeats: int = 5) -> float:
    """float32 matrix multiply rate (GFLOP/s) through onnxruntime's MatMul: ``streams`` sessions
    of ``threads`` threads each, running at once (all together), ``n`` x ``n`` matrices."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from biodae.runtime import create_session

    g = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "mm.onnx"
        onnx.save(m, p)
        sessions = [create_session(p, threads=threads) for _ in range(streams)]

        def work(s, count):
            for _ in range(count):
                s.run(None, {"a": a, "b": a})

        with ThreadPoolExecutor(max_workers=streams) as pool:
            list(pool.map(work, sessions, [1] * streams))
            t = time.perf_counter()
            list(pool.map(work, sessions, [repeats] * streams))
            dt = time.perf_counter() - t
    return streams * repeats * 2 * n**3 / dt / 1e9


def cpu_flags() -> str:
    """The CPU's vector instruction sets (AVX2, AVX-512 and VNNI flags), space-separated, and its model name."""
    import platform
    import re

    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"(no /proc/cpuinfo; {platform.processor() or platform.machine()})"
    flags = sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|avx2|avx_vnni)\b", text)))
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return (" ".join(flags) or "(no AVX2 or AVX-512)") + (f" ({model.group(1).strip()})" if model else "")
