"""Fine-tuning: a recipe that starts from a shipped model's weights (``init_from``, ``--init``)."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from biodae._errors import InputError  # noqa: E402
from biodae.nn.models import build_model  # noqa: E402
from biodae.nn.recipes import get_recipe, load_init_weights, training_command  # noqa: E402
from biodae.runtime import weights_sha256  # noqa: E402

CONFIG = {"widths": [4, 8], "norm": "none"}


def export_weights(model, path):
    """An ONNX file holding the model's weights as initializers named as in its state_dict, as biodae's
    exported models do (a full torch.onnx export takes a minute here: the graph does not matter)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    state = model.state_dict()
    first = next(iter(state))
    graph = helper.make_graph(
        [helper.make_node("Identity", [first], ["out"])], "weights", [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(state[first].shape))],
        [numpy_helper.from_array(v.detach().numpy(), name=k) for k, v in state.items()])
    onnx.save(helper.make_model(graph), path)
    return path


@pytest.fixture
def start(tmp_path):
    torch.manual_seed(1)
    model = build_model("resunet2d", **CONFIG).eval()
    path = export_weights(model, tmp_path / "start.onnx")
    recipe = dataclasses.replace(
        get_recipe("mri-correlated"), model_config=CONFIG,
        init_from={"model": "start 0.1", "file": "start.onnx", "get": "make-start", "weights_sha256": weights_sha256(path)})
    return model, path, recipe


def test_the_weights_are_those_of_the_file(start):
    model, path, recipe = start
    torch.manual_seed(2)
    fresh = build_model("resunet2d", **CONFIG)
    assert not all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    load_init_weights(fresh, recipe, path)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_another_file_or_none_is_refused_with_the_command_that_writes_it(start, tmp_path):
    _, path, recipe = start
    torch.manual_seed(3)
    other = export_weights(build_model("resunet2d", **CONFIG), tmp_path / "other.onnx")
    with pytest.raises(InputError, match="is not start 0.1.*make-start"):
        load_init_weights(build_model("resunet2d", **CONFIG), recipe, other)
    with pytest.raises(InputError, match="fine-tunes start 0.1.*make-start.*--init start.onnx"):
        load_init_weights(build_model("resunet2d", **CONFIG), recipe, None)
    wider = dataclasses.replace(recipe, init_from={**recipe.init_from, "weights_sha256": weights_sha256(path)})
    with pytest.raises(InputError, match="do not fit"):
        load_init_weights(build_model("resunet2d", widths=[4, 8, 16], norm="none"), wider, path)
    plain = dataclasses.replace(recipe, init_from={})
    with pytest.raises(InputError, match="random start"):
        load_init_weights(build_model("resunet2d", **CONFIG), plain, path)


def test_the_card_command_writes_the_start_and_passes_it():
    init = get_recipe("mri-correlated").init_from
    command = training_command("mri-correlated")
    assert command.startswith(init["get"] + " && biodae train mri-correlated ")
    assert command.endswith(f"--init {init['file']}")
    assert "--init" not in training_command("eeg") and "--init" not in training_command("mri")
