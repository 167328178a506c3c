"""Helper for test_nn_distributed.py (not a test): ``fit`` on fixed synthetic data, run
alone in-process or by ``torchrun`` in several processes, with checkpoints in ``argv[1]``."""

from __future__ import annotations

import sys

import numpy as np
import torch

from biodae.nn import build_model, fit


def data():
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 60, 70 * 128)).reshape(70, 1, 128).astype(np.float32)
    noisy = clean + 0.3 * rng.standard_normal(clean.shape).astype(np.float32)
    # 53 training windows in batches of 16: the last batch (5) splits unevenly over 2 ranks
    return (noisy[:53], clean[:53]), (noisy[53:], clean[53:])


def train(out, log=print):
    torch.manual_seed(0)
    model = build_model("resunet1d", widths=[4, 6, 8], kernel_size=3, norm="rms")
    train_data, val_data = data()
    return fit(model, train_data, val_data, epochs=3, batch_size=16, checkpoint_dir=out, progress=False, log=log,
               device="cpu")


if __name__ == "__main__":
    train(sys.argv[1])
