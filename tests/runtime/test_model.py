"""Model loading, the metadata contract, resampling, and biodae.denoise / biodae denoise,
with a tiny hand-built ONNX smoother (no torch, no shipped model needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import wfdb
from onnx import TensorProto, helper

import biodae
from biodae import BiodaeError, InputError
from biodae.cli import main
from biodae._arrays import resample
from biodae.runtime import Model, load_model, unit_factor


def _smoother(path: Path, *, fs: float = 360.0, units: str = "mV", modality: str = "ecg", k: int = 5) -> Path:
    """A moving average over k samples, with the biodae.* metadata of a 1D model."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, "l"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 1, "l"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, k], [1.0 / k] * k)
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[k // 2, k // 2])
    model = helper.make_model(helper.make_graph([node], "smooth", [x], [y], initializer=[w]),
                              opset_imports=[helper.make_opsetid("", 17)])
    for key, value in {
        "biodae.schema_version": "1", "biodae.name": f"test-{modality}", "biodae.version": "0.0.1",
        "biodae.modality": modality, "biodae.sampling_rate": f"{fs:g}", "biodae.units": units,
        "biodae.window": "256", "biodae.overlap": "64",
    }.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


@pytest.fixture()
def ecg_model(tmp_path) -> Path:
    return _smoother(tmp_path / "smooth.onnx")


def test_model_reads_contract(ecg_model):
    m = load_model(ecg_model)
    assert (m.name, m.modality, m.sampling_rate, m.units, m.window, m.overlap) == ("test-ecg", "ecg", 360.0, "mV", 256, 64)
    assert m.spatial_dims == 1


def test_model_without_metadata_is_refused(tmp_path):
    p = _smoother(tmp_path / "m.onnx")
    proto = onnx.load(p)
    del proto.metadata_props[:]
    onnx.save(proto, p)
    with pytest.raises(BiodaeError, match="not a biodae model"):
        Model(p)


def test_unknown_shipped_name():
    with pytest.raises(InputError, match="no shipped model named 'nope'"):
        load_model("nope")


def test_unit_factor():
    assert unit_factor("uV", "mV") == pytest.approx(1e-3)
    assert unit_factor("mV", "uV") == pytest.approx(1e3)
    assert unit_factor("NU", "mV") is None
    assert unit_factor("Microvolts", "mV") == pytest.approx(1e-3) and unit_factor("volt", "mV") == 1e3  # spelt out


@pytest.mark.parametrize("fs", [360.0, 250.0, 500.0, 1000.0, 128.0])
def test_resample_round_trip_keeps_length_and_shape(fs):
    t = np.arange(int(10 * fs)) / fs
    x = np.sin(2 * np.pi * 1.3 * t) + 0.5
    y = resample(resample(x, fs, 360.0), 360.0, fs)
    n = min(x.size, y.size)
    assert abs(y.size - x.size) <= 1
    np.testing.assert_allclose(y[50 : n - 50], x[50 : n - 50], atol=2e-3)


def test_denoise_array_matches_direct_smoothing_at_model_rate(ecg_model):
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.standard_normal(5000)) * 0.01
    y = biodae.denoise(x, model=ecg_model, sampling_rate=360)
    ref = np.convolve(np.pad(x, 2, mode="reflect"), np.ones(5) / 5, mode="valid")
    assert y.shape == x.shape
    # blended window edges differ from the whole-signal result by < 0.1 % of the signal
    np.testing.assert_allclose(y[10:-10], ref[10:-10], atol=1e-3 * np.abs(ref).max())


def test_denoise_converts_units(ecg_model):
    x = np.sin(np.arange(2000) / 30.0)
    y_mv = biodae.denoise(x, model=ecg_model, sampling_rate=360, units="mV")
    y_uv = biodae.denoise(1000 * x, model=ecg_model, sampling_rate=360, units="uV")
    np.testing.assert_allclose(y_uv, 1000 * y_mv, rtol=1e-4, atol=1e-3)


def test_denoise_multichannel_and_other_rates(ecg_model):
    x = np.random.default_rng(1).standard_normal((3000, 3))
    y = biodae.denoise(x, model=ecg_model, sampling_rate=500)
    assert y.shape == x.shape and np.all(np.isfinite(y))
    assert np.std(y) < np.std(x)  # it smooths


def test_channels_run_at_once_with_one_thread_each_and_give_the_same_output(ecg_model, monkeypatch):
    import threading

    from biodae import _record

    calls = []
    real = _record._model

    def spy(model, device, threads, *rest):  # rest: the precision
        m = real(model, device, threads, *rest)
        calls.append((threading.current_thread().name, m.threads))
        return m

    monkeypatch.setattr(_record, "_model", spy)
    x = np.random.default_rng(3).standard_normal((20000, 3))
    together = biodae.denoise(x, model=str(ecg_model), sampling_rate=360, threads=2)
    assert {t for name, t in calls if name.startswith("biodae-channel")} == {1}
    calls.clear()
    # a Model the caller built keeps its own threads: channels one after another
    one_by_one = biodae.denoise(x, model=load_model(ecg_model, threads=2), sampling_rate=360)
    assert not any(name.startswith("biodae-channel") for name, _ in calls)
    np.testing.assert_array_equal(together, one_by_one)


def test_a_record_loads_each_model_once(ecg_model, monkeypatch):
    """The session read for the model's metadata is the one that denoises the channels (before, a
    2-thread run loaded every model twice: for its metadata with 2 threads, for the channels with 1)."""
    from biodae import _record, runtime

    loads = []
    real = runtime.load_model

    def counting(model, **kw):
        loads.append((str(model), kw.get("threads")))
        return real(model, **kw)

    monkeypatch.setattr(runtime, "load_model", counting)
    monkeypatch.setattr(_record, "_CACHE", {})
    rec = biodae.Signal(data=np.random.default_rng(1).standard_normal((5000, 2)), sampling_rate=360.0,
                        channel_names=["MLII", "V5"], units=["mV", "mV"], format="wfdb")
    for threads in (2, 1):
        loads.clear()
        _record.denoise_record(rec, str(ecg_model), threads=threads)
        assert loads == [(str(ecg_model), 1)], threads
        _record._CACHE.clear()


def test_one_channel_keeps_several_batches_in_flight_and_gives_the_same_output(ecg_model, monkeypatch):
    import threading

    from biodae.runtime import Model

    names = set()
    real = Model.run

    def spy(self, batch):
        names.add((threading.current_thread().name.split("_")[0], self.threads))
        return real(self, batch)

    monkeypatch.setattr(Model, "run", spy)
    x = np.random.default_rng(5).standard_normal(60000)
    streamed = biodae.denoise(x, model=str(ecg_model), sampling_rate=360, threads=2)
    assert names == {("biodae-window", 1)}  # one-thread calls from two worker threads
    names.clear()
    serial = biodae.denoise(x, model=load_model(ecg_model, threads=2), sampling_rate=360)
    assert names == {("MainThread", 2)}
    np.testing.assert_array_equal(streamed, serial)


def test_denoise_array_needs_rate_and_finite_values(ecg_model):
    with pytest.raises(InputError, match="sampling_rate is required"):
        biodae.denoise(np.zeros(100), model=ecg_model)
    with pytest.raises(InputError, match="every value of the array is NaN"):
        biodae.denoise(np.full(100, np.nan), model=ecg_model, sampling_rate=360)


def test_gaps_are_kept_and_the_stretches_between_them_denoised_one_by_one(ecg_model, caplog):
    x = np.random.default_rng(3).normal(size=(3000, 2))
    gapped = x.copy()
    gapped[1000:1100, 0] = np.nan            # a gap (WFDB invalid samples, lead off)
    gapped[1300:1400, 0] = np.inf            # another; 1100:1300 (0.56 s) is too short to denoise
    y = biodae.denoise(gapped, model=ecg_model, sampling_rate=360)
    assert np.isnan(y[1000:1100, 0]).all() and (y[1300:1400, 0] == np.inf).all()
    np.testing.assert_array_equal(y[1100:1300, 0], x[1100:1300, 0])  # copied
    alone = [biodae.denoise(x[a:b, 0], model=ecg_model, sampling_rate=360) for a, b in ((0, 1000), (1400, 3000))]
    np.testing.assert_allclose(y[:1000, 0], alone[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y[1400:, 0], alone[1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y[:, 1], biodae.denoise(x[:, 1], model=ecg_model, sampling_rate=360), rtol=1e-6)
    assert "channel 0 has 200 NaN or infinite samples" in caplog.text and "1 shorter than 1 s copied" in caplog.text
    # the mechanism is the runtime's: a Model keeps the gaps on its own
    direct = load_model(ecg_model).denoise_signal(gapped[:, 0], sampling_rate=360)
    np.testing.assert_allclose(direct, y[:, 0], rtol=1e-6, atol=1e-9, equal_nan=True)


def test_cli_keeps_a_records_invalid_samples(capsys, tmp_path, test_data, ecg_model):
    rec = wfdb.rdrecord(str(test_data / "signals" / "sel100_10s"))
    sig = rec.p_signal.copy()
    sig[500:700, 1] = np.nan  # written as WFDB's invalid sample value
    wfdb.wrsamp("gap", fs=rec.fs, units=rec.units, sig_name=rec.sig_name, p_signal=sig, fmt=rec.fmt,
                adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=str(tmp_path))
    code = main(["denoise", str(tmp_path / "gap"), "--model", str(ecg_model), "--out-dir", str(tmp_path / "out"),
                 "--report", str(tmp_path / "report.json")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "channel V5 has 200 NaN or infinite samples" in captured.err
    got = wfdb.rdrecord(str(tmp_path / "out" / "gap")).p_signal
    assert np.isnan(got[500:700, 1]).all() and np.isfinite(np.delete(got, np.s_[500:700], axis=0)).all()
    import json

    rep = json.loads((tmp_path / "report.json").read_text())["files"][0]
    assert None not in rep["snr_in_db"] + rep["snr_out_db"]  # estimated on the longest finite stretch


def test_denoise_record_picks_channels(ecg_model, test_data):
    rec = biodae.read(test_data / "signals" / "sel100_10s")
    out, rep = biodae.denoise_record(rec, ecg_model)
    assert rep["models"] == {"test-ecg 0.0.1": ["MLII", "V5"]} and rep["copied"] == []
    assert out.data.shape == rec.data.shape and not np.allclose(out.data, rec.data)
    assert out.meta["fmt"] == rec.meta["fmt"]


def test_cli_denoise_wfdb(capsys, tmp_path, test_data, ecg_model):
    src = tmp_path / "in"
    src.mkdir()
    for f in (test_data / "signals").glob("sel100_10s.*"):
        shutil.copy(f, src / f.name)
    code = main(["denoise", str(src / "sel100_10s"), "--model", str(ecg_model), "--out-dir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    got = wfdb.rdrecord(str(tmp_path / "out" / "sel100_10s"))
    assert got.fs == 250 and got.sig_name == ["MLII", "V5"]
    assert any("biodae denoise: test-ecg 0.0.1 on MLII, V5" in c for c in got.comments)
    assert (tmp_path / "out" / "sel100_10s.atr").read_bytes() == (src / "sel100_10s.atr").read_bytes()


def test_cli_denoise_gpu_request_fails_loudly(capsys, test_data, ecg_model, tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA present")
    code = main(["denoise", str(test_data / "signals" / "sel100_10s"), "--model", str(ecg_model),
                 "--device", "cuda", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "CUDAExecutionProvider" in err and err.count("\n") == 1


def test_cli_denoise_image_model_on_a_record_is_refused_clearly(capsys, test_data, tmp_path):
    code = main(["denoise", str(test_data / "signals" / "sel100_10s"), "--model", "mri", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "image model" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_contract_flags_missing_metadata_and_machine_paths(tmp_path):
    from biodae.runtime import check_contract

    p = _smoother(tmp_path / "m.onnx")
    problems = check_contract(p)
    assert any(s.startswith("missing metadata:") and "biodae.weights_sha256" in s for s in problems)
    proto = onnx.load(p)
    proto.graph.node[0].doc_string = 'File "/home/someone/project/export.py", line 12'
    onnx.save(proto, p)
    assert any("path of the exporting machine" in s for s in check_contract(p))


def test_shipped_models_are_found_from_a_source_checkout_that_shadows_the_install(monkeypatch, tmp_path):
    """Python started in the repository root imports ./biodae, which has no biodae.models
    package (pip maps models/ onto it at install): the checkout's models/ is used."""
    from biodae.runtime import _model

    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(_model.resources, "files", missing)
    monkeypatch.setattr(_model, "__file__", str(tmp_path / "biodae" / "runtime" / "_model.py"))
    with pytest.raises(ModuleNotFoundError):  # neither installed nor a checkout
        _model._models_dir()
    (tmp_path / "models").mkdir()
    assert _model._models_dir() == (tmp_path / "models").resolve()
