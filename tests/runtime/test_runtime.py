"""The onnxruntime layer: sessions, providers and seamless windowing, with tiny ONNX graphs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from biodae import BiodaeError
from biodae.runtime import create_session, overlap_add_1d, taper, tile_2d


def _affine_model(scale: float = 2.0, shift: float = 1.0, rank: int = 3) -> bytes:
    """y = scale * x + shift on a float32 tensor with dynamic dims."""
    dims = ["n", "c", "l"] if rank == 3 else ["n", "c", "h", "w"]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [scale])
    b = helper.make_tensor("b", TensorProto.FLOAT, [], [shift])
    nodes = [helper.make_node("Mul", ["input", "s"], ["m"]), helper.make_node("Add", ["m", "b"], ["output"])]
    graph = helper.make_graph(nodes, "affine", [x], [y], initializer=[s, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _box_model(k: int = 9) -> bytes:
    """A 1D moving average (Conv, 'same' zero padding): a local operator like a DAE."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, "l"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 1, "l"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, k], [1.0 / k] * k)
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[k // 2, k // 2])
    graph = helper.make_graph([node], "box", [x], [y], initializer=[w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _run(sess):
    return lambda batch: sess.run(None, {"input": batch})[0]


def test_cpu_session_runs():
    sess = create_session(_affine_model(), device="cpu", threads=1)
    out = sess.run(None, {"input": np.ones((2, 1, 5), np.float32)})[0]
    np.testing.assert_array_equal(out, np.full((2, 1, 5), 3.0, np.float32))


def test_cpu_session_flushes_denormals():
    sess = create_session(_affine_model(), device="cpu", threads=2)
    # subnormal floats are slow on x86; the session flushes them to zero (biodae/runtime/_session.py)
    assert sess.get_session_options().get_session_config_entry("session.set_denormal_as_zero") == "1"


@pytest.mark.parametrize("device", ["cuda", "tensorrt"])
def test_gpu_request_without_gpu_fails_loudly(device):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the no-GPU refusal cannot be tested here")
    with pytest.raises(BiodaeError, match=r"asked for \w+ExecutionProvider, but this onnxruntime .* only has .*CPUExecutionProvider"):
        create_session(_affine_model(), device=device)


def test_unknown_device_and_missing_file():
    with pytest.raises(BiodaeError, match="unknown device 'gpu'.*cpu, cuda, tensorrt"):
        create_session(_affine_model(), device="gpu")
    with pytest.raises(BiodaeError, match="no such model file"):
        create_session("/nonexistent/model.onnx")


def test_corrupt_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(BiodaeError, match="could not load the ONNX model"):
        create_session(bad)


def test_taper_shape():
    w = taper(10, 3)
    assert w.shape == (10,) and np.all(w > 0) and np.all(w <= 1)
    np.testing.assert_array_equal(w[3:7], 1.0)
    np.testing.assert_allclose(w[:3], w[-3:][::-1])


@pytest.mark.parametrize("n", [1, 50, 511, 512, 513, 2047, 10_001])
def test_overlap_add_pointwise_is_exact(n):
    """A pointwise model must come out bit-for-bit as if run on the whole signal: no seams."""
    sess = create_session(_affine_model(), threads=1)
    x = np.random.default_rng(0).standard_normal(n)
    y = overlap_add_1d(_run(sess), x, window=512, overlap=128, batch_size=7)
    np.testing.assert_allclose(y, 2 * x.astype(np.float32) + 1, rtol=1e-6, atol=1e-6)


def test_overlap_add_local_operator_has_no_seams():
    """For a local operator the blend matches the full-signal output to float32 precision
    wherever the receptive field fits inside a window's full-weight part or is blended."""
    sess = create_session(_box_model(9), threads=1)
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal(5000)) * 0.01 + np.sin(np.arange(5000) / 20)
    y = overlap_add_1d(_run(sess), x, window=256, overlap=64)
    full = np.convolve(np.pad(x, 4, mode="reflect"), np.ones(9) / 9, mode="valid")
    err = np.abs(y - full)
    # interior: windows overlap by 64 >> kernel 9, so every sample has a window that sees its
    # whole neighbourhood with high weight; edge-affected outputs get < 1% of the weight
    assert err.max() < 2e-3 * np.abs(full).max()
    # and no periodic seam: error is not concentrated at window boundaries
    assert np.percentile(err, 99) < 1e-3


def test_overlap_add_streams_give_the_serial_result():
    """Batches in flight at once on worker threads are blended in order: the same bits."""
    import threading

    sess = create_session(_box_model(9), threads=1)
    run = _run(sess)
    names = set()

    def spy(batch):
        names.add(threading.current_thread().name)
        return run(batch)

    x = np.random.default_rng(4).standard_normal(20_000)
    serial = overlap_add_1d(run, x, window=256, overlap=64, batch_size=5)
    done = []
    streamed = overlap_add_1d(spy, x, window=256, overlap=64, batch_size=5, streams=3, progress=done.append)
    np.testing.assert_array_equal(streamed, serial)
    assert sum(done) == len(range(0, 20_000 + 128 - 256, 192)) + 1  # every window reported once
    assert len({n for n in names if n.startswith("biodae-window")}) > 1
    with pytest.raises(ValueError, match="streams must be >= 1"):
        overlap_add_1d(run, x, window=256, overlap=64, streams=0)


@pytest.mark.parametrize("shape", [(31, 45), (64, 64), (130, 97), (300, 260)])
def test_tile_2d_pointwise_is_exact(shape):
    sess = create_session(_affine_model(rank=4), threads=1)
    img = np.random.default_rng(2).random(shape)
    out = tile_2d(_run(sess), img, tile=64, overlap=16, batch_size=5)
    assert out.shape == shape
    np.testing.assert_allclose(out, 2 * img.astype(np.float32) + 1, rtol=1e-6, atol=1e-6)


def test_windowing_argument_checks():
    with pytest.raises(ValueError, match="overlap must be in"):
        overlap_add_1d(lambda b: b, np.zeros(10), window=8, overlap=8)
    with pytest.raises(ValueError, match="1D signal"):
        overlap_add_1d(lambda b: b, np.zeros((3, 3)), window=8, overlap=2)
    with pytest.raises(ValueError, match="2D image"):
        tile_2d(lambda b: b, np.zeros(5), tile=8, overlap=2)


@pytest.mark.parametrize(("window", "overlap"), [(256, 64), (256, 128), (256, 200), (512, 0), (4096, 1024)])
@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_overlap_add_matches_the_window_by_window_sum(window, overlap, batch_size):
    """The vectorised accumulation gives exactly the plain loop's result (any batch split,
    overlaps above and below half a window)."""

    def fn(b):
        return np.tanh(1.3 * b) + 0.1 * np.cumsum(b, axis=-1) / b.shape[-1]

    rng = np.random.default_rng(window + overlap)
    for n in (window + 1, 3 * window + 17, 10 * window):
        x = rng.standard_normal(n)
        pad = min(overlap, n - 1)
        xp = np.pad(x, (pad, pad), mode="reflect")
        hop = window - overlap
        starts = list(range(0, xp.size - window + 1, hop))
        if starts[-1] != xp.size - window:
            starts.append(xp.size - window)
        w = taper(window, overlap)
        acc, wsum = np.zeros(xp.size), np.zeros(xp.size)
        for s in starts:
            acc[s : s + window] += fn(xp[s : s + window].astype(np.float32)).astype(np.float64) * w
            wsum[s : s + window] += w
        got = overlap_add_1d(fn, x, window=window, overlap=overlap, batch_size=batch_size)
        np.testing.assert_allclose(got, (acc / wsum)[pad : pad + n], rtol=1e-12, atol=1e-12)
