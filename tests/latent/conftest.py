"""Shared set-up of the biodae.latent tests: one torch thread, small data sets with known structure."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Train with one thread (the machine is shared; fits stay bit-repeatable)."""
    try:
        import torch
    except ImportError:  # the torch-free tests still run
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def manifold_rows(n: int, rng: np.random.Generator, mixing: np.ndarray, noise: float = 0.02) -> np.ndarray:
    """Rows on a curved 2-D manifold in ``mixing.shape[1]`` dimensions (7 nonlinear features of 2
    uniform parameters, mixed linearly), plus Gaussian noise."""
    t = rng.uniform(-1, 1, size=(n, 2))
    feats = np.column_stack([t, np.sin(np.pi * t), t[:, :1] * t[:, 1:], t**2])
    return feats @ mixing + noise * rng.normal(size=(n, mixing.shape[1]))


@pytest.fixture(scope="session")
def manifold():
    """Training rows, held-out normal rows and off-manifold anomalies (same mean and comparable spread
    per feature as the normal rows, but not on the manifold)."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(7, 20))
    train = manifold_rows(1000, rng, mixing)
    normal = manifold_rows(400, rng, mixing)
    anomalies = train.mean(0) + 0.7 * train.std(0) * rng.normal(size=(40, 20))
    return train, normal, anomalies


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


@pytest.fixture(scope="session")
def small_rows():
    """200 rows of 12 correlated features: for API tests that only need something to fit."""
    rng = np.random.default_rng(3)
    return rng.normal(size=(200, 3)) @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(200, 12))
