"""Data-parallel training (:mod:`biodae.nn.distributed`): sharding maths, and real 2-process runs
under torchrun on the CPU (gloo), checked on the artefacts they leave."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biodae.nn import load_checkpoint  # noqa: E402
from biodae.nn import distributed  # noqa: E402
from biodae.nn.distributed import World, shard, state_sha256  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def torchrun(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("n", [1, 2, 5, 16, 17])
def test_shards_partition_a_batch_and_weights_give_its_mean_gradient(world_size, n):
    idx = np.random.default_rng(n).permutation(100)[:n]
    losses = np.random.default_rng(world_size).random(100)
    parts = [shard(idx, World(rank=r, size=world_size)) for r in range(world_size)]
    real = [p for p, w in parts if w > 0]
    assert np.array_equal(np.concatenate(real), idx)
    # DDP averages over ranks the gradients of (weight x mean loss of the shard): the batch's mean
    ddp = sum(w * losses[p].mean() for p, w in parts) / world_size
    assert ddp == pytest.approx(losses[idx].mean(), rel=1e-12)
    assert shard(idx, World()) == (idx, 1.0)


@pytest.mark.parametrize("fails", [False, True])
def test_world_waits_for_the_others_only_when_the_rank_succeeded(monkeypatch, fails):
    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kw: calls.append("init"))
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(distributed.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    with pytest.raises(RuntimeError) if fails else contextlib.nullcontext():
        with distributed.world(torch.device("cpu")) as w:
            assert (w.rank, w.size, w.backend) == (1, 2, "gloo")
            if fails:
                raise RuntimeError("this rank failed")
    # a failed rank leaves at once (the others would never reach the barrier); a successful one waits
    assert calls == (["init", "destroy"] if fails else ["init", "barrier", "destroy"])


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from ddp_fit import train
    finally:
        sys.path.pop(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun process runs; on a busy machine far faster than 2
    try:
        one = train(tmp_path / "one", log=None)
    finally:
        torch.set_num_threads(threads)
    res = torchrun(str(Path(__file__).with_name("ddp_fit.py")), str(tmp_path / "two"))
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("epoch 3/3") == 1, res.stdout  # rank 0 alone logs
    model, ckpt = load_checkpoint(tmp_path / "two" / "last.pt")
    d = ckpt["distributed"]
    assert d["world_size"] == 2 and d["backend"] == "gloo"
    assert d["rank_state_sha256"] == [state_sha256(model)] * 2  # both ranks held exactly these weights
    assert torch.load(tmp_path / "one" / "last.pt", weights_only=True)["distributed"] is None
    # same global batches and mean gradients: the same training as one process, to float rounding
    assert ckpt["epoch"] == 3 and ckpt["history"]["val_loss"] == pytest.approx(one.history["val_loss"], rel=1e-5)
    ref = one.model.state_dict()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ref[k], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_torchrun_biodae_train_eeg(tmp_path, biodae_data):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"epochs": 1, "windows_per_epoch": 64, "val_windows": 32, "batch_size": 16,
                               "model_config": {"widths": [4, 6, 8], "kernel_size": 3, "norm": "rms"}}))
    run = tmp_path / "run"
    res = torchrun("-m", "biodae.train", "eeg", "--out-dir", str(run), "--config", str(cfg), "--device", "cpu",
                   "--export", str(tmp_path / "eeg.onnx"), env={"BIODAE_DATA": str(biodae_data)})
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("best epoch 1, validation loss") == 1 and res.stdout.count("exported") == 1
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "recipe.json"]
    model, ckpt = load_checkpoint(run / "best.pt")
    assert ckpt["distributed"]["world_size"] == 2
    assert ckpt["distributed"]["rank_state_sha256"] == [state_sha256(model)] * 2
    assert ckpt["train_config"]["n_train"] == 64 and len(ckpt["history"]["train_loss"]) == 1
    from biodae.nn.recipes import for_export, get_recipe
    from biodae.runtime import check_contract, load_model

    assert check_contract(tmp_path / "eeg.onnx") == []
    m = load_model(tmp_path / "eeg.onnx")  # exported once, by rank 0, from the best weights
    x = np.random.default_rng(0).standard_normal(512).astype(np.float32) * 20
    with torch.no_grad():
        ref = for_export(model, get_recipe("eeg"))(torch.from_numpy(x)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(m.run(x[None, None])[0, 0], ref, rtol=1e-3, atol=1e-3)
