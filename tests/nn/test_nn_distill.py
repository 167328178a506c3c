"""Distillation: a recipe whose training targets are a teacher model's outputs (``teacher``, ``--teacher``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biodae._errors import InputError  # noqa: E402
from biodae.nn.recipes import TeacherTargets, get_recipe, load_teacher, training_command  # noqa: E402
from biodae.nn.train import ArrayPairs  # noqa: E402
from biodae.runtime import weights_sha256  # noqa: E402

MODELS = Path(__file__).resolve().parents[2] / "models"


def halver(path):
    """An ONNX model with one weight: output = 0.5 * input."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "half"], ["y"])], "halver",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, "t"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1, "t"])],
        [numpy_helper.from_array(np.array(0.5, dtype=np.float32), name="half")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


@pytest.fixture
def source():
    rng = np.random.default_rng(0)
    clean = rng.standard_normal((6, 1, 32)).astype(np.float32)
    return ArrayPairs(clean + 0.3 * rng.standard_normal(clean.shape).astype(np.float32), clean)


def test_the_targets_are_the_teachers_outputs_or_a_blend(source):
    idx = np.array([0, 2, 5])
    noisy, clean = source.batch(idx, epoch=0)
    x, y = TeacherTargets(source, lambda a: 2.0 * a).batch(idx, epoch=3)
    np.testing.assert_array_equal(x, noisy)
    np.testing.assert_allclose(y, 2.0 * noisy)
    _, y = TeacherTargets(source, lambda a: 2.0 * a, weight=0.25).batch(idx, epoch=0)
    np.testing.assert_allclose(y, 0.25 * 2.0 * noisy + 0.75 * clean, rtol=1e-6)
    assert len(TeacherTargets(source, np.negative)) == len(source)


def test_a_bad_teacher_or_weight_is_refused(source):
    with pytest.raises(ValueError, match="shape"):
        TeacherTargets(source, lambda a: a[:, :, :8]).batch(np.arange(2), epoch=0)
    for weight in (0.0, 1.5):
        with pytest.raises(ValueError, match="weight"):
            TeacherTargets(source, np.negative, weight=weight)


@pytest.fixture
def recipe(tmp_path):
    path = halver(tmp_path / "teacher.onnx")
    return path, dataclasses.replace(get_recipe("ecg-small"), teacher={
        "model": "halver 0.1", "file": "teacher.onnx", "get": "make-teacher", "weights_sha256": weights_sha256(path)})


def test_the_teacher_file_is_checked_and_run(recipe, tmp_path):
    path, rec = recipe
    x = np.linspace(-1, 1, 20, dtype=np.float32).reshape(1, 1, 20)
    np.testing.assert_allclose(load_teacher(rec, path, threads=1)(x), 0.5 * x)
    other = tmp_path / "other.onnx"
    halver(other)
    import onnx

    proto = onnx.load(other)
    proto.graph.initializer[0].float_data[:] = [0.25]
    proto.graph.initializer[0].ClearField("raw_data")
    onnx.save(proto, other)
    with pytest.raises(InputError, match="is not halver 0.1.*make-teacher"):
        load_teacher(rec, other)
    with pytest.raises(InputError, match="distils halver 0.1.*make-teacher.*--teacher teacher.onnx"):
        load_teacher(rec, None)
    with pytest.raises(InputError, match="leave --teacher out"):
        load_teacher(get_recipe("ecg"), path)
    assert load_teacher(get_recipe("ecg"), None) is None


def test_the_card_command_writes_the_teacher_and_passes_it(recipe, monkeypatch):
    from biodae.nn import recipes

    _, rec = recipe
    monkeypatch.setitem(recipes.RECIPES, "ecg-small", rec)
    command = training_command("ecg-small")
    assert command.startswith("make-teacher && biodae train ecg-small ")
    assert command.endswith("--teacher teacher.onnx")
    assert "--teacher" not in training_command("ecg")


def test_distil_tiny_from_the_shipped_ecg(capsys, tmp_path, biodae_data, monkeypatch):
    """One tiny epoch of ``biodae train ecg-small --teacher`` with the teacher named in ``--config``
    (as the card's distillation tries were run): targets from the teacher, validation on clean."""
    from biodae.cli import main

    biodae_data = Path(biodae_data).resolve()
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "tiny.json"
    teacher = {"model": "ecg (shipped)", "file": "ecg.onnx", "weight": 0.5, "get": "cp models/ecg.onnx .",
               "weights_sha256": weights_sha256(MODELS / "ecg.onnx")}
    cfg.write_text(json.dumps({"windows_per_epoch": 64, "val_windows": 32, "epochs": 1, "teacher": teacher,
                               "model_config": {"widths": [4, 4], "kernel_size": 5, "norm": "rms"}}))
    out = tmp_path / "tiny.onnx"
    assert main(["train", "ecg-small", "--out-dir", str(tmp_path / "run"), "--config", str(cfg), "--data",
                 str(biodae_data), "--teacher", str(MODELS / "ecg.onnx"), "--export", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "targets: ecg (shipped)'s outputs (weight 0.5)" in printed and out.is_file()
    saved = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert saved["teacher"] == teacher
    assert main(["train", "ecg-small", "--out-dir", str(tmp_path / "run2"), "--config", str(cfg), "--data",
                 str(biodae_data)]) != 0
    assert "--teacher ecg.onnx" in capsys.readouterr().err
