"""The Node.js latent-model client (examples/node/latent.js) against biodae's Python output.

The client implements docs/onnx.md ("Latent models") alone: metadata read from the file, both
inputs fed, rows in batches, flags from ``biodae.threshold`` and classes from ``biodae.classes``.
For both shipped beat models, on beat features made the real way (``biodae.beats`` on real ECG
excerpts), its codes, scores and probabilities must match Python's to float32 precision and its
flags and classes exactly. Runs when ``node`` is on PATH and onnxruntime-node is installed in
examples/node/node_modules; skipped, with the reason, otherwise. Never installs anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from biodae.beats import beat_features, extract_beats, load_beat_model, score_beats
from biodae.runtime import available_models, model_path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "examples" / "node"
TOL = 1e-4  # max |node - python| / max |python|
BEAT_MODELS = ("ecg-beats", "ecg-beats-aami")


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not on PATH: the Node.js client (examples/node) is not tested")
    if not (CLIENT / "node_modules" / "onnxruntime-node" / "package.json").is_file():
        pytest.skip("onnxruntime-node is not installed in examples/node/node_modules: run `npm ci` in examples/node "
                    "first; the README's test command does")

    def run(model, inp, out, *extra):
        return subprocess.run([exe, str(CLIENT / "latent.js"), *extra, str(model), str(inp), str(out)],
                              check=False, capture_output=True, text=True, timeout=120)

    return run


@pytest.fixture(scope="module")
def beats():
    """Beats of real ECG excerpts, as `biodae beats` makes them: R peaks from the reference
    annotation (10 s of QTDB sel100, 12 beats; 20 s of sel221, 19 normal and 8 ventricular beats:
    flagged and classed V) and detected by XQRS (30 s of sel100 with electrode-motion noise at
    6 dB, 37 beats: many flagged)."""
    signals = ROOT / "tests" / "data" / "signals"
    return {"sel100_10s-atr": extract_beats(signals / "sel100_10s", annotator="atr"),
            "sel221_20s-atr": extract_beats(signals / "sel221_20s", annotator="atr"),
            "sel100_em6-xqrs": extract_beats(ROOT / "examples" / "ecg" / "sel100_em6")}


def _write(path: Path, data: np.ndarray) -> Path:
    np.ascontiguousarray(data, dtype="<f4").tofile(path)
    path.with_suffix(".json").write_text(json.dumps({"shape": list(data.shape)}))
    return path


def _read(path: Path) -> np.ndarray:
    info = json.loads(path.with_suffix(".json").read_text())
    return np.fromfile(path, dtype="<f4").reshape(info["shape"])


def _label(path: Path) -> str:
    import onnx

    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    return f"{meta['biodae.name']} {meta['biodae.version']}"


def _rel(got: np.ndarray, ref: np.ndarray) -> float:
    assert got.shape == ref.shape, (got.shape, ref.shape)
    return float(np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))


def test_beat_models_are_shipped():
    assert set(BEAT_MODELS) <= set(available_models(task="latent"))


@pytest.mark.parametrize("name", BEAT_MODELS)
def test_client_matches_python_on_beats(node, beats, tmp_path, name):
    ae = load_beat_model(name)  # as `biodae beats --model NAME` loads it
    path = model_path(name)
    seen_flags: set[int] = set()
    seen_classes: set[str] = set()
    for excerpt, b in beats.items():
        X = beat_features(b)
        ref = score_beats(b, ae)  # what `biodae beats` writes: score, flag, class, z
        inp = _write(tmp_path / f"{excerpt}.f32", X)
        # the default batch (all rows in one call) and 5 rows per call (a last, partial batch)
        for extra in ((), ("--batch", "5")):
            tag = f"{name}, {excerpt}, {' '.join(extra) or 'default batch'}"
            out = tmp_path / f"{excerpt}{len(extra)}.json"
            r = node(path, inp, out, *extra)
            assert r.returncode == 0, r.stderr
            res = json.loads(out.read_text())
            assert res["model"] == _label(path) and res["n_rows"] == len(X)
            assert res["threshold"] == ae.threshold_ and res["latent_dim"] == ae.latent_dim_

            code = _read(tmp_path / f"{excerpt}{len(extra)}.code.f32")
            score = _read(tmp_path / f"{excerpt}{len(extra)}.score.f32")
            assert (err := _rel(code, ref["z"])) <= TOL, f"{tag}: codes differ by {err:.2e}"
            assert (err := _rel(score, ref["score"])) <= TOL, f"{tag}: scores differ by {err:.2e}"

            # Flags exactly, except a row whose score lies within float tolerance of the threshold:
            # there the float32 rounding of one runtime or the other may decide the flag (none of
            # these rows comes that close; the count is checked so the comparison cannot go empty).
            flag = np.asarray(res["flag"])
            near = np.abs(ref["score"] - ae.threshold_) <= TOL * np.abs(ref["score"]).max()
            assert near.sum() <= 1, f"{tag}: {near.sum()} scores within tolerance of the threshold"
            np.testing.assert_array_equal(flag[~near], ref["flag"][~near], err_msg=f"{tag}: flags")
            assert res["flagged"] == int(flag.sum())
            seen_flags |= set(flag.tolist())

            if ae.kind == "supervised":
                proba = _read(tmp_path / f"{excerpt}{len(extra)}.proba.f32")
                ref_proba = ae.predict_proba(X)
                assert (err := _rel(proba, ref_proba)) <= TOL, f"{tag}: probabilities differ by {err:.2e}"
                assert res["classes"] == ae.classes_.tolist()
                # classes exactly, except where the two largest probabilities are within tolerance
                top2 = np.sort(ref_proba, axis=1)[:, -2:]
                tie = top2[:, 1] - top2[:, 0] <= TOL
                assert tie.sum() <= 1, f"{tag}: {tie.sum()} rows with two classes within tolerance"
                np.testing.assert_array_equal(np.asarray(res["class_index"])[~tie],
                                              np.argmax(ref_proba, axis=1)[~tie], err_msg=f"{tag}: class indices")
                np.testing.assert_array_equal(np.asarray(res["class"])[~tie], ref["class"][~tie],
                                              err_msg=f"{tag}: classes")
                np.testing.assert_array_equal(np.asarray(res["class"])[~tie], ae.predict(X)[~tie])
                seen_classes |= set(res["class"])
            else:
                assert "class" not in res and not (tmp_path / f"{excerpt}{len(extra)}.proba.f32").exists()
    # the excerpts exercise both flag values and, supervised, more than one class
    assert seen_flags == {0, 1}
    if ae.kind == "supervised":
        assert len(seen_classes) >= 2, seen_classes


def test_client_refuses_a_denoiser_file(node, tmp_path):
    inp = _write(tmp_path / "in.f32", np.zeros((3, 492), np.float32))
    r = node(model_path("ecg"), inp, tmp_path / "out.json")
    assert r.returncode == 2, r.stderr
    assert 'not a biodae latent model (biodae.task must be "latent"; it has no biodae.task: a denoiser' in r.stderr
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.code.f32").exists()


@pytest.mark.parametrize("name", BEAT_MODELS)
def test_client_refuses_rows_of_the_wrong_width(node, beats, tmp_path, name):
    X = beat_features(beats["sel100_10s-atr"])
    inp = _write(tmp_path / "in.f32", X[:, :-1])
    r = node(model_path(name), inp, tmp_path / "out.json")
    assert r.returncode == 2, r.stderr
    assert f"takes rows of {X.shape[1]} features (biodae.n_features); the input has {X.shape[1] - 1} columns" in r.stderr
    assert not (tmp_path / "out.json").exists()


def test_the_denoiser_client_refuses_a_latent_file(node, tmp_path):
    inp = _write(tmp_path / "in.f32", np.zeros((1, 1024), np.float32))
    inp.with_suffix(".json").write_text(json.dumps({"shape": [1, 1024], "modality": "ecg", "sampling_rate": 360,
                                                    "units": "mV"}))
    r = subprocess.run([shutil.which("node"), str(CLIENT / "denoise.js"), str(model_path("ecg-beats")), str(inp),
                        str(tmp_path / "out.f32")], check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "a biodae latent model (ecg-beats), not a denoiser: run it with latent.js" in r.stderr
    assert not (tmp_path / "out.f32").exists()
