"""The pieces of :func:`biodae.nn.fit`: the options record, the training state's epoch
bookkeeping, and its checkpoint round trip (what ``resume=True`` relies on)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from biodae import InputError  # noqa: E402
from biodae.nn import build_model  # noqa: E402
from biodae.nn.distributed import World  # noqa: E402
from biodae.nn.train import _FitConfig, _TrainingState  # noqa: E402

#: the keys of a checkpoint, in the order the module docstring lists them
CHECKPOINT_KEYS = ["format", "model", "state_dict", "optimizer", "scheduler", "epoch", "best_val_loss", "best_epoch",
                   "bad_epochs", "stopped_early", "history", "rng", "train_config", "distributed"]


def _config(**kw) -> _FitConfig:
    opts = dict(loss="mse", epochs=10, batch_size=4, lr=1e-2, weight_decay=0.0, seed=3, patience=2, min_delta=0.0,
                lr_schedule="plateau", deterministic=True, n_train=8, n_val=4)
    return _FitConfig(**{**opts, **kw})


def _state(config: _FitConfig, init_seed: int = 0) -> _TrainingState:
    torch.manual_seed(init_seed)
    model = build_model("resunet1d", widths=[4, 4], kernel_size=3, norm="rms")
    return _TrainingState(model, config, torch.device("cpu"), World())


def _step(state: _TrainingState) -> None:
    """One optimiser step, so that AdamW holds moments worth saving."""
    x = torch.randn(2, 1, 32)
    state.optimizer.zero_grad()
    torch.mean((state.net(x) - 0.5 * x) ** 2).backward()
    state.optimizer.step()


def test_config_is_frozen_and_records_the_options_in_order():
    config = _config(patience=None)
    assert list(config.as_dict()) == ["loss", "epochs", "batch_size", "lr", "weight_decay", "seed", "patience",
                                      "min_delta", "lr_schedule", "deterministic", "n_train", "n_val"]
    assert config.as_dict()["patience"] is None and config.as_dict()["lr"] == 1e-2
    with pytest.raises(AttributeError):
        config.lr = 1.0  # type: ignore[misc]


def test_end_epoch_tracks_best_patience_and_plateau():
    state = _state(_config(epochs=10, patience=3))
    improved = [state.end_epoch(e, 2.0, v, state.lr) for e, v in enumerate([1.0, 0.9, 0.9, 0.95, 0.91], start=1)]
    assert improved == [True, True, False, False, False]  # equal is not better (min_delta 0)
    assert (state.epoch, state.best_epoch, state.best_val_loss, state.bad_epochs) == (5, 2, 0.9, 3)
    assert state.patience_spent and state.stopped_early  # 3 bad epochs, patience 3, before epoch 10
    # ReduceLROnPlateau, factor 0.5 after 2 epochs without improvement: halved after the third bad one
    assert state.lr == pytest.approx(5e-3) and state.history["lr"] == [1e-2] * 5
    assert state.history["val_loss"] == [1.0, 0.9, 0.9, 0.95, 0.91] and state.history["train_loss"] == [2.0] * 5

    strict = _state(_config(min_delta=0.2, patience=None))
    assert [strict.end_epoch(e, 1.0, v, 1e-2) for e, v in enumerate([1.0, 0.85, 0.7], start=1)] == [True, False, True]
    assert strict.best_epoch == 3 and not strict.patience_spent and not strict.stopped_early

    last = _state(_config(epochs=2, patience=1))
    last.end_epoch(1, 1.0, 1.0, 1e-2)
    last.end_epoch(2, 1.0, 1.0, 1e-2)
    assert last.patience_spent and not last.stopped_early  # the last epoch ran: nothing was cut short


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "constant"])
def test_checkpoint_round_trip_restores_everything(tmp_path, schedule):
    config = _config(lr_schedule=schedule)
    state = _state(config)
    for epoch, val in enumerate([1.0, 0.8, 0.9], start=1):
        _step(state)
        improved = state.end_epoch(epoch, 1.5, val, state.lr)
        if improved:
            state.save_checkpoint(tmp_path / "run" / "best.pt")  # the folder is created
    state.save_checkpoint(tmp_path / "run" / "last.pt")
    best_weights = {k: v.clone() for k, v in state.best_weights.items()}
    saved_rng = torch.get_rng_state().clone()

    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert list(ckpt) == CHECKPOINT_KEYS
    assert ckpt["train_config"] == config.as_dict() and ckpt["distributed"] is None
    assert (ckpt["epoch"], ckpt["best_epoch"], ckpt["best_val_loss"], ckpt["bad_epochs"]) == (3, 2, 0.8, 1)
    assert (ckpt["scheduler"] is None) == (schedule == "constant")

    torch.rand(100)  # move torch's RNG on: resume must put it back
    other = _state(config, init_seed=1)  # other initial weights
    assert not all(torch.equal(v, state.model.state_dict()[k]) for k, v in other.model.state_dict().items())
    other.resume(tmp_path / "run" / "last.pt")

    assert torch.equal(torch.get_rng_state(), saved_rng)
    for k, v in state.model.state_dict().items():
        assert torch.equal(other.model.state_dict()[k], v), k
    for k, v in best_weights.items():
        assert torch.equal(other.best_weights[k], v), k
    mine, theirs = state.optimizer.state_dict(), other.optimizer.state_dict()
    assert mine["param_groups"] == theirs["param_groups"]
    for i, s in mine["state"].items():
        assert all(torch.equal(s[key], theirs["state"][i][key]) for key in s)
    if state.scheduler is not None:
        assert other.scheduler.state_dict() == state.scheduler.state_dict()
    assert (other.epoch, other.best_epoch, other.best_val_loss, other.bad_epochs, other.stopped_early) == (3, 2, 0.8, 1,
                                                                                                           False)
    assert other.history == state.history and other.resumed_from == 3
    assert other.lr == state.lr


def test_resume_without_best_and_refusals(tmp_path):
    state = _state(_config())
    state.end_epoch(1, 1.0, 1.0, state.lr)
    state.save_checkpoint(tmp_path / "last.pt")  # no best.pt beside it
    fresh = _state(_config())
    fresh.resume(tmp_path / "last.pt")
    assert fresh.best_weights is None and fresh.best_val_loss == 1.0 and fresh.resumed_from == 1
    with pytest.raises(InputError, match=r"lr: 0\.01 -> 0\.001"):
        _state(_config(lr=1e-3)).resume(tmp_path / "last.pt")
    torch.manual_seed(0)
    with pytest.raises(InputError, match="holds model resunet1d"):
        _TrainingState(build_model("resunet1d", widths=[4, 8]), _config(), torch.device("cpu"), World()).resume(
            tmp_path / "last.pt")
    assert math.isinf(_state(_config()).best_val_loss)
