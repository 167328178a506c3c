"""Training loop: learning, determinism, resume, early stopping, checkpoints, losses."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biodae import OutputExistsError  # noqa: E402
from biodae.nn import ArrayPairs, NoisyWindows, build_model, fit, ssd_loss, ssd_mad_loss  # noqa: E402

LENGTH = 128


def _clean_windows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / LENGTH
    f = rng.uniform(1, 4, size=(n, 1, 1))
    amp = rng.uniform(0.5, 2.0, size=(n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    return (amp * np.sin(2 * np.pi * f * t + phase)).astype(np.float32)


def _add_noise(window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return window + 0.4 * rng.standard_normal(window.shape)


@pytest.fixture(scope="module")
def data():
    train = NoisyWindows(_clean_windows(160, 0), _add_noise, seed=1)
    val = NoisyWindows(_clean_windows(40, 1), _add_noise, seed=2)
    return train, val


def _model():
    torch.manual_seed(0)
    return build_model("resunet1d", widths=[8, 8, 8], bottleneck_dilations=[1, 2])


def _fit(data, **kw):
    train, val = data
    opts = {"epochs": 3, "batch_size": 32, "lr": 3e-3, "seed": 5, "progress": False, "device": "cpu"}
    return fit(kw.pop("model", None) or _model(), train, val, **{**opts, **kw})


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_noise_is_fresh_per_epoch_and_reproducible(data):
    train, _ = data
    idx = np.array([3, 7])
    a1, c1 = train.batch(idx, epoch=1)
    a2, _ = train.batch(idx, epoch=2)
    b1, _ = train.batch(np.array([7, 3]), epoch=1)
    assert not np.allclose(a1, a2)
    np.testing.assert_array_equal(a1, b1[::-1])  # independent of batch order
    np.testing.assert_array_equal(c1, train.clean[idx])


def test_training_reduces_val_loss(data):
    _, val = data
    noisy, clean = val.batch(np.arange(len(val)), epoch=0)
    before = float(np.mean((noisy - clean) ** 2))  # the untrained U-Net is the identity
    lines = []
    result = _fit(data, log=lines.append)
    assert result.epochs_run == 3 and len(result.history["val_loss"]) == 3
    assert result.best_val_loss < 0.7 * before  # 0.161 -> 0.081 on this machine
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3  train ")
    assert not result.model.training


def test_same_seed_same_weights(data):
    prev_det = torch.are_deterministic_algorithms_enabled()
    rng_before = torch.get_rng_state()
    a = _fit(data, epochs=2, restore_best=False).model
    b = _fit(data, epochs=2, restore_best=False).model
    assert _same_weights(a, b)
    c = _fit(data, epochs=2, restore_best=False, seed=6).model
    assert not _same_weights(a, c)
    # the call leaves global state as it found it
    assert torch.are_deterministic_algorithms_enabled() == prev_det
    assert torch.equal(torch.get_rng_state(), rng_before)


class _Interrupt(Exception):
    pass


def _interrupt_after(epoch: int):
    def log(line: str) -> None:
        if line.startswith(f"epoch {epoch}/"):
            raise _Interrupt

    return log


@pytest.mark.parametrize("schedule", ["plateau", "cosine", "constant"])
def test_resume_is_exact(data, tmp_path, schedule):
    straight = _fit(data, epochs=4, checkpoint_dir=tmp_path / "a", lr_schedule=schedule, restore_best=False)
    # interrupted after epoch 2 (the checkpoint is written before the log line) ...
    with pytest.raises(_Interrupt):
        _fit(data, epochs=4, checkpoint_dir=tmp_path / "b", lr_schedule=schedule, log=_interrupt_after(2))
    lines = []
    resumed = _fit(
        data, epochs=4, checkpoint_dir=tmp_path / "b", lr_schedule=schedule, restore_best=False, log=lines.append
    )
    assert resumed.resumed_from == 2 and lines[0].startswith("resumed from ")
    assert _same_weights(straight.model, resumed.model)
    assert straight.history == resumed.history
    if schedule == "cosine":  # the schedule is fixed by the number of epochs: extending is refused
        _fit(data, epochs=2, checkpoint_dir=tmp_path / "c", lr_schedule=schedule)
        with pytest.raises(ValueError, match="cosine schedule decays over 2 epochs"):
            _fit(data, epochs=4, checkpoint_dir=tmp_path / "c", lr_schedule=schedule)
        return
    # ... or extended: 2 epochs, then asked for 4
    _fit(data, epochs=2, checkpoint_dir=tmp_path / "c", lr_schedule=schedule)
    extended = _fit(data, epochs=4, checkpoint_dir=tmp_path / "c", lr_schedule=schedule, restore_best=False)
    assert _same_weights(straight.model, extended.model)
    last_a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    last_c = torch.load(tmp_path / "c" / "last.pt", weights_only=True)
    assert all(torch.equal(last_a["state_dict"][k], last_c["state_dict"][k]) for k in last_a["state_dict"])


def test_cosine_schedule_decays_to_one_hundredth(data):
    result = _fit(data, epochs=4, lr_schedule="cosine", lr=1e-2)
    expected = [1e-4 + (1e-2 - 1e-4) * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(result.history["lr"], expected, rtol=1e-6)


def test_checkpoint_contents(data, tmp_path):
    result = _fit(data, checkpoint_dir=tmp_path, loss="ssd_mad")
    for name in ("last.pt", "best.pt"):
        ckpt = torch.load(tmp_path / name, weights_only=True)
        assert ckpt["format"] == "biodae.nn.checkpoint/1"
        assert ckpt["model"] == {"name": "resunet1d", "config": _model().config}
        keys = {"state_dict", "optimizer", "scheduler", "epoch", "best_val_loss", "history", "rng", "train_config"}
        assert keys <= set(ckpt)
        assert isinstance(ckpt["rng"]["torch"], torch.Tensor)
        assert ckpt["train_config"]["loss"] == "ssd_mad" and ckpt["train_config"]["seed"] == 5
        assert str(tmp_path) not in repr(ckpt["train_config"])
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == result.best_epoch and best["best_val_loss"] == result.best_val_loss
    # restore_best: the returned model holds best.pt's weights
    assert all(torch.equal(result.model.state_dict()[k], v) for k, v in best["state_dict"].items())
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left


def test_resume_refuses_other_model_or_options(data, tmp_path):
    _fit(data, epochs=1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="lr: 0.003 -> 0.001"):
        _fit(data, epochs=2, checkpoint_dir=tmp_path, lr=1e-3)
    with pytest.raises(ValueError, match="holds model resunet1d"):
        _fit(data, epochs=2, checkpoint_dir=tmp_path, model=build_model("resunet1d", widths=[4, 4]))
    with pytest.raises(OutputExistsError, match="last.pt already exists"):
        _fit(data, epochs=2, checkpoint_dir=tmp_path, resume=False)


def test_early_stopping(data, tmp_path):
    # min_delta larger than any improvement: only epoch 1 counts as best
    result = _fit(data, epochs=20, patience=2, min_delta=1e6, checkpoint_dir=tmp_path)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1
    again = _fit(data, epochs=20, patience=2, min_delta=1e6, checkpoint_dir=tmp_path)
    assert again.stopped_early and again.epochs_run == 3 and again.resumed_from == 3


def test_array_pairs_dataset_and_progress(data, capsys):
    train, val = data
    noisy, clean = train.batch(np.arange(64), epoch=1)

    class PairDataset(torch.utils.data.Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            return torch.from_numpy(noisy[i]), torch.from_numpy(clean[i])

    val_pairs = ArrayPairs(noisy[32:], clean[32:])
    result = fit(_model(), PairDataset(), val_pairs, epochs=1, batch_size=8, progress=True, device="cpu")
    assert result.epochs_run == 1
    assert "epoch 1/1" in capsys.readouterr().err
    result = fit(_model(), (noisy, clean), val, epochs=1, progress=False, device="cpu", loss=ssd_loss)
    assert np.isfinite(result.best_val_loss)


def test_bad_options(data):
    train, val = data
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        fit(_model(), train, val, loss="l1")
    with pytest.raises(ValueError, match="lr_schedule"):
        fit(_model(), train, val, lr_schedule="step")
    with pytest.raises(ValueError, match="shapes differ"):
        ArrayPairs(np.zeros((2, 1, 10)), np.zeros((2, 1, 11)))
    with pytest.raises(TypeError, match="batch source"):
        fit(_model(), 3, val)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            fit(_model(), train, val, device="cuda")


def test_losses_match_their_definitions():
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 2, 50, generator=gen), torch.randn(4, 2, 50, generator=gen)
    err = (pred - target).numpy()
    ssd = (err**2).sum(axis=-1)
    np.testing.assert_allclose(float(ssd_loss(pred, target)), ssd.mean(), rtol=1e-5)
    # DeepFilter's combined loss: the "MAD" term is the peak *squared* error, weight 50
    expected = (ssd + 50 * (err**2).max(axis=-1)).mean()
    np.testing.assert_allclose(float(ssd_mad_loss(pred, target)), expected, rtol=1e-5)


def test_snr_loss_known_values():
    import torch

    from biodae.nn.train import LOSSES

    y = torch.ones(2, 1, 100)
    pred = y + 0.1  # error power 1 % of the signal's: -20 dB
    assert abs(LOSSES["snr"](pred, y).item() - (-20.0)) < 1e-4
    pred2 = torch.cat([y[:1] + 0.1, y[1:] + 1.0])  # -20 dB and 0 dB -> mean -10 dB
    assert abs(LOSSES["snr"](pred2, y).item() - (-10.0)) < 1e-4


def test_snr_psd_loss_adds_the_benchmarks_spectral_error_in_decibels():
    import torch

    from biodae import metrics
    from biodae.nn.train import LOSSES, snr_psd_loss

    g = torch.Generator().manual_seed(0)
    y = torch.randn(6, 1, 512, generator=g) + 0.5
    pred = y + 0.3 * torch.randn(6, 1, 512, generator=g)
    spectral = (LOSSES["snr_psd"](pred, y) - LOSSES["snr"](pred, y)).item() / 0.5
    # 20 log10 of the benchmark's RRMSE_s (scipy Welch, 1-s Hann segments at 256 Hz); scipy
    # does not double the DC and Nyquist bins of a one-sided PSD, hence the small tolerance
    rrmse_s = metrics.rrmse_spectral(y[:, 0].numpy(), pred[:, 0].numpy(), sampling_rate=256)
    assert abs(spectral - float(np.mean(20 * np.log10(rrmse_s)))) < 0.2
    # the weight scales the spectral term only
    plain = snr_psd_loss(pred, y, weight=0.0).item()
    assert abs(plain - LOSSES["snr"](pred, y).item()) < 1e-5
    assert abs((snr_psd_loss(pred, y, weight=1.0).item() - plain) - spectral) < 1e-3
    with pytest.raises(ValueError, match="length >= 256"):
        snr_psd_loss(pred[..., :200], y[..., :200])


def test_log_mse_loss_counts_every_patch_in_decibels():
    import torch

    from biodae.nn.train import LOSSES

    y = torch.zeros(2, 1, 8, 8)
    pred = torch.cat([y[:1] + 0.1, y[1:] + 0.001])  # mse 1e-2 and 1e-6
    expected = (10 * np.log10(1e-2 + 1e-5) + 10 * np.log10(1e-6 + 1e-5)) / 2
    assert abs(LOSSES["log_mse"](pred, y).item() - expected) < 1e-3
    # halving the error of the faint patch lowers the loss as much as halving the loud one's
    a = LOSSES["log_mse"](torch.cat([y[:1] + 0.05, y[1:] + 0.001]), y).item()
    b = LOSSES["log_mse"](torch.cat([y[:1] + 0.1, y[1:] + 0.0005]), y).item()
    assert a < LOSSES["log_mse"](pred, y).item() and b < LOSSES["log_mse"](pred, y).item()
