"""Synthetic signals and images shared by the filter tests (seeded, no data files)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _ecg_like(t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """Gaussian P, QRS and T waves at 1 Hz (QRS: 12 ms s.d., amplitude 1)."""
    ph = (t + phase) % 1.0
    return (
        np.exp(-0.5 * ((ph - 0.5) / 0.012) ** 2)
        + 0.15 * np.exp(-0.5 * ((ph - 0.3) / 0.03) ** 2)
        + 0.25 * np.exp(-0.5 * ((ph - 0.75) / 0.05) ** 2)
    )


def _phantom2d(n: int = 128) -> np.ndarray:
    """Smooth blob plus a flat disc on an n x n grid, values in [0, 1.5], float32."""
    yy, xx = np.mgrid[0:n, 0:n] / n
    blob = np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05)
    disc = 0.5 * (((xx - 0.3) ** 2 + (yy - 0.6) ** 2) < 0.02)
    return (blob + disc).astype(np.float32)


@pytest.fixture
def ecg_like() -> Callable[..., np.ndarray]:
    return _ecg_like


@pytest.fixture
def phantom2d() -> Callable[..., np.ndarray]:
    return _phantom2d


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
