"""The Node.js client (examples/node) against biodae's Python output, for every shipped model.

The client implements docs/onnx.md alone (metadata read from the file, windows, tiles,
intensity scaling); it must give Python's numbers to float32 precision. Runs when
``node`` is on PATH and onnxruntime-node is installed in examples/node/node_modules (not
committed; the README's test command runs ``npm ci`` there); skipped, with the reason,
otherwise. The test itself never installs anything or uses the network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import biodae
from biodae._arrays import foreground_mask, resample, zero_filled
from biodae.runtime import available_models, load_model, write_fp16_variant

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "examples" / "node"
TOL = 1e-4  # max |node - python| / max |python|


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not on PATH: the Node.js client (examples/node) is not tested")
    if not (CLIENT / "node_modules" / "onnxruntime-node" / "package.json").is_file():
        pytest.skip("onnxruntime-node is not installed in examples/node/node_modules: run `npm ci` in examples/node "
                    "first; the README's test command does")

    def run(model, inp, out):
        return subprocess.run([exe, str(CLIENT / "denoise.js"), str(model), str(inp), str(out)], capture_output=True,
                              text=True, timeout=120)

    return run


def _write(path: Path, data: np.ndarray, **info) -> Path:
    np.ascontiguousarray(data, dtype="<f4").tofile(path)
    path.with_suffix(".json").write_text(json.dumps({"shape": list(data.shape), **info}))
    return path


def _read(path: Path) -> tuple[np.ndarray, dict]:
    info = json.loads(path.with_suffix(".json").read_text())
    return np.fromfile(path, dtype="<f4").reshape(info["shape"]), info


def _signal_excerpts(modality: str) -> list[tuple[np.ndarray, float]]:
    """Real recordings of the modality, (n_samples, n_channels) and their rate: a long one
    (several windows) and a short one (less than a window)."""
    if modality == "ecg":
        long = biodae.read(ROOT / "examples" / "ecg" / "sel100_em6")  # 30 s, 2 leads, electrode motion
        short = biodae.read(ROOT / "tests" / "data" / "signals" / "sel100_10s")
        return [(long.data, long.sampling_rate), (short.data[: int(2 * short.sampling_rate)], short.sampling_rate)]
    if modality == "eeg":
        rec = biodae.read(ROOT / "tests" / "data" / "signals" / "S001R03_5s_8ch.edf")
        return [(rec.data, rec.sampling_rate), (rec.data[: int(rec.sampling_rate)], rec.sampling_rate)]
    pytest.fail(f"no test excerpt for {modality!r} signal models: add one to _signal_excerpts")


def _image_excerpts(modality: str) -> list[tuple[np.ndarray, int | None]]:
    """Real images, and the slicing axis for volumes."""
    images = ROOT / "tests" / "data" / "images"
    if modality == "mri":
        vol = biodae.read(images / "mni152_t1_crop.nii.gz").data
        stripped = np.where(foreground_mask(vol), vol, 0)  # a masked volume: its zero fill stays 0
        return [(vol, 2), (biodae.read(images / "brain_slice16.png").data, None), (stripped, 2)]
    if modality in ("xray", "ct"):
        return [(biodae.read(images / "RG1_crop.dcm").data, None), (biodae.read(images / "CT_small.dcm").data, None)]
    pytest.fail(f"no test excerpt for {modality!r} image models: add one to _image_excerpts")


def _check_signal_model(node, path: Path, tmp: Path) -> None:
    m = load_model(path, threads=1)
    for k, (data, fs) in enumerate(_signal_excerpts(m.modality)):
        x = resample(np.asarray(data, dtype=np.float64), fs, m.sampling_rate).T.astype(np.float32)  # the client does not resample
        inp = _write(tmp / f"in{k}.f32", x, sampling_rate=m.sampling_rate, units=m.units, modality=m.modality)
        r = node(path, inp, tmp / f"out{k}.f32")
        assert r.returncode == 0, r.stderr
        got, info = _read(tmp / f"out{k}.f32")
        ref = np.stack([m.denoise_signal(c.astype(np.float64), sampling_rate=m.sampling_rate) for c in x])
        assert got.shape == ref.shape and info["model"] == f"{m.name} {m.version}"
        err = np.abs(got - ref).max() / np.abs(ref).max()
        assert err <= TOL, f"{path.stem}, excerpt {k} ({x.shape[1]} samples): relative difference {err:.2e}"


def _check_image_model(node, path: Path, tmp: Path) -> None:
    m = load_model(path, threads=1)
    if not hasattr(m, "denoise_image"):
        pytest.skip("this biodae has no 2D inference yet (Model.denoise_image)")
    for k, (data, axis) in enumerate(_image_excerpts(m.modality)):
        a = np.asarray(data, dtype=np.float32)
        ref = m.denoise_image(a, axis=axis)
        if axis is not None:  # the client takes [n_slices, height, width]
            a, ref = np.moveaxis(a, axis, 0), np.moveaxis(ref, axis, 0)
        inp = _write(tmp / f"in{k}.f32", a, modality=m.modality)
        r = node(path, inp, tmp / f"out{k}.f32")
        assert r.returncode == 0, r.stderr
        got, _ = _read(tmp / f"out{k}.f32")
        fill = zero_filled(a)
        assert (got[fill] == 0).all() and (ref[fill] == 0).all(), f"{path.stem}, image {k}: zero fill not kept"
        err = np.abs(got - ref).max() / np.abs(ref).max()
        assert err <= TOL, f"{path.stem}, image {k} {a.shape}: relative difference {err:.2e}"


@pytest.mark.parametrize("name", available_models())
def test_client_matches_python(node, tmp_path, name):
    path = load_model(name).path
    if load_model(path).spatial_dims == 1:
        _check_signal_model(node, path, tmp_path)
    else:
        _check_image_model(node, path, tmp_path)


def test_client_runs_the_fp16_variant(node, tmp_path):
    path, _ = write_fp16_variant(load_model("eeg").path, tmp_path / "eeg-fp16.onnx")
    _check_signal_model(node, path, tmp_path)


def _blur_2d(path: Path, *, tile: int, overlap: int) -> Path:
    """A 5 x 5 box blur with the metadata of a 2D model (tiles, percentiles)."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 1, "h", "w"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 5, 5], [1.0 / 25] * 25)
    node = helper.make_node("Conv", ["input", "w"], ["output"], pads=[2, 2, 2, 2])
    model = helper.make_model(helper.make_graph([node], "blur", [x], [y], initializer=[w]),
                              opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    for k, v in {"biodae.schema_version": "1", "biodae.name": "test-mri", "biodae.version": "0.0.1",
                 "biodae.modality": "mri", "biodae.tile": str(tile), "biodae.overlap": str(overlap),
                 "biodae.percentiles": "1,99"}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, path)
    return path


def test_client_tiles_images_like_python(node, tmp_path):
    """Tiling, blending and intensity scaling, whether or not 2D models are shipped yet."""
    _check_image_model(node, _blur_2d(tmp_path / "blur.onnx", tile=40, overlap=16), tmp_path)


def test_client_refuses_input_the_model_is_not_for(node, tmp_path):
    ecg = load_model("ecg").path
    x = np.zeros((1, 1000), np.float32)
    cases = [
        (dict(sampling_rate=250, units="mV"), "trained at 360 Hz and the input is at 250 Hz: resample it to 360 Hz"),
        (dict(sampling_rate=360, units="mV", modality="eeg"), "is for ECG; the input is EEG"),
        (dict(sampling_rate=360, units="mmHg"), "cannot convert mmHg to the model's unit mV"),
        ({}, "is a signal model (ECG, 360 Hz); the input has no \"sampling_rate\""),
    ]
    for k, (info, message) in enumerate(cases):
        r = node(ecg, _write(tmp_path / f"in{k}.f32", x, **info), tmp_path / "out.f32")
        assert r.returncode == 2 and message in r.stderr, (info, r.stderr)
        assert not (tmp_path / "out.f32").exists()
    image = _write(tmp_path / "img.f32", np.zeros((8, 8), np.float32), sampling_rate=360)
    r = node(_blur_2d(tmp_path / "blur.onnx", tile=40, overlap=16), image, tmp_path / "out.f32")
    assert r.returncode == 2 and "is an image model (MRI); the input is a signal" in r.stderr


def test_client_checks_the_weights_digest(node, tmp_path):
    proto = onnx.load(load_model("eeg").path)
    w = next(t for t in proto.graph.initializer if t.data_type == TensorProto.FLOAT and len(t.raw_data) > 16)
    raw = bytearray(w.raw_data)
    raw[0] ^= 1
    w.raw_data = bytes(raw)
    onnx.save(proto, tmp_path / "tampered.onnx")
    inp = _write(tmp_path / "in.f32", np.zeros((1, 600), np.float32), sampling_rate=256)
    r = node(tmp_path / "tampered.onnx", inp, tmp_path / "out.f32")
    assert r.returncode == 2 and "do not match biodae.weights_sha256" in r.stderr
