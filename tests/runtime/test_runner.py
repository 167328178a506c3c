"""Shape buckets and IO binding (SessionRunner), and one window length per model in 1D.

The GPU paths are the same code with ``device_type="cuda"``; here they run with the
CPU as the binding device, which onnxruntime supports the same way."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from biodae import InputError
from biodae.runtime import SessionRunner, create_session, load_model, overlap_add_1d, provider_list
from biodae.runtime._session import batch_bucket


def _box_model(k: int = 9) -> bytes:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, "l"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 1, "l"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, k], [1.0 / k] * k)
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[k // 2, k // 2])
    graph = helper.make_graph([node], "box", [x], [y], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


class _Spy:
    """An InferenceSession that records the input shapes it is run on."""

    def __init__(self, session):
        self._session = session
        self.shapes: list[tuple[int, ...]] = []

    def __getattr__(self, name):
        return getattr(self._session, name)

    def run(self, names, feeds):
        self.shapes.append(next(iter(feeds.values())).shape)
        return self._session.run(names, feeds)


@pytest.mark.parametrize(("n", "bucket"), [(1, 1), (2, 2), (3, 4), (5, 8), (63, 64), (64, 64), (65, 128)])
def test_batch_bucket(n, bucket):
    assert batch_bucket(n) == bucket


@pytest.mark.parametrize("io_binding", [False, True])
def test_runner_buckets_batches_without_changing_rows(io_binding):
    sess = create_session(_box_model(), threads=1)
    spy = _Spy(sess)
    runner = SessionRunner(sess if io_binding else spy, buckets=True, io_binding=io_binding)
    rng = np.random.default_rng(3)
    for n in (1, 3, 5, 7, 9):
        x = rng.standard_normal((n, 1, 100)).astype(np.float32)
        got = runner(x)
        ref = sess.run(None, {"input": x})[0]
        assert got.shape == x.shape
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    if not io_binding:
        assert [s[0] for s in spy.shapes] == [1, 4, 8, 8, 16]
    else:  # one device input buffer per bucketed shape, reused
        assert sorted(k[0] for k in runner._inputs) == [1, 4, 8, 16]


def test_provider_list_asks_cudnn_for_its_heuristic_choice():
    """Image sizes change from volume to volume: cuDNN's exhaustive per-shape search (onnxruntime's
    default) is replaced by its heuristic ranking; the CPU gets nothing but itself."""
    cuda = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_list("cpu", everything) == ["CPUExecutionProvider"]
    assert provider_list("cuda", everything) == [cuda, "CPUExecutionProvider"]
    assert provider_list("tensorrt", everything) == ["TensorrtExecutionProvider", cuda, "CPUExecutionProvider"]
    assert provider_list("tensorrt", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [cuda, "CPUExecutionProvider"]


def test_runner_on_the_cpu_is_plain_run():
    sess = create_session(_box_model(), threads=1)
    runner = SessionRunner(sess, device="cpu")
    assert not runner.buckets and not runner.io_binding
    gpu = SessionRunner(sess, device="cuda")  # the settings only; nothing runs here
    assert gpu.buckets and gpu.io_binding and gpu.device_type == "cuda"


def test_run_ortvalue_keeps_data_on_the_device():
    import onnxruntime as ort

    sess = create_session(_box_model(), threads=1)
    x = np.random.default_rng(4).standard_normal((2, 1, 50)).astype(np.float32)
    out = SessionRunner(sess).run_ortvalue(ort.OrtValue.ortvalue_from_numpy(x))
    assert isinstance(out, ort.OrtValue) and out.device_name().lower() == "cpu"
    np.testing.assert_allclose(out.numpy(), sess.run(None, {"input": x})[0], rtol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 7, 100, 255, 256, 257, 1000])
def test_every_window_has_the_window_length(n):
    """Short signals are reflection-padded (centred) to one window and cropped back."""
    sess = create_session(_box_model(9), threads=1)
    seen: list[tuple[int, ...]] = []

    def fn(batch):
        seen.append(batch.shape)
        return sess.run(None, {"input": batch})[0]

    x = np.sin(np.arange(n) / 7.0) + 0.01 * np.arange(n)
    y = overlap_add_1d(fn, x, window=256, overlap=64, batch_size=3)
    assert y.shape == (n,)
    assert {s[1:] for s in seen} == {(1, 256)}
    if n <= 256:
        left = (256 - n) // 2
        xp = np.pad(x, (left, 256 - n - left), mode="reflect" if n > 1 else "edge")
        ref = np.convolve(np.pad(xp, 4), np.ones(9) / 9, mode="valid")[left : left + n]
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_model_refuses_a_batch_of_the_wrong_rank():
    m = load_model("ecg")
    with pytest.raises(InputError, match=r"'ecg' takes a 3-D batch \[n, 1, length\]; got shape \(1, 1, 8, 8\)"):
        m.run(np.zeros((1, 1, 8, 8), np.float32))


def test_buckets_do_not_change_a_shipped_model_output(test_data):
    """The GPU settings (shape buckets, IO binding) on the CPU give the CPU's result."""
    import biodae

    rec = biodae.read(test_data / "signals" / "sel100_10s")
    x = np.concatenate([rec.data[:, 0]] * 4)  # 40 s at 250 Hz: 4 windows of the ecg model
    plain = load_model("ecg", threads=1)
    gpu_like = load_model("ecg", threads=1)
    gpu_like.runner = SessionRunner(gpu_like.session, buckets=True, io_binding=True)
    a = plain.denoise_signal(x, sampling_rate=250, batch_size=3)
    b = gpu_like.denoise_signal(x, sampling_rate=250, batch_size=3)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * np.abs(a).max())
