"""The EEGLAB reader shared by the EEG datasets and the EOG artefact source.

Core tests write small synthetic ``.set`` files (data in a ``.fdt`` or inline); the test
marked ``data`` reads the real EEGLAB tutorial recording in ``$BIODAE_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from biodae._errors import InputError
from biodae.io._eeglab import read_eeglab

LABELS = ["Fz", "EOG1", "Cz"]
N = 50


def _data() -> np.ndarray:
    """(N, 3) float32 samples, every value distinct, so a transposed layout shows."""
    return (np.arange(N * 3, dtype=np.float32).reshape(N, 3) * 0.5 - 7.25).astype("<f4")


def _write_set(folder: Path, *, inline: bool, trials: float = 1.0, labels=LABELS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = _data()
    chanlocs = np.zeros((1, len(labels)), dtype=[("labels", "O")])
    for i, label in enumerate(labels):
        chanlocs["labels"][0, i] = label
    eeg = {"nbchan": float(len(labels)), "pnts": float(N), "srate": 160.0, "trials": trials,
           "chanlocs": chanlocs}
    if inline:
        eeg["data"] = data.T.astype(np.float64)  # (nbchan, pnts), as EEGLAB stores it in the .set
    else:
        data.tofile(folder / "rec.fdt")  # sample-major [pnts x nbchan]
        eeg["data"] = "rec.fdt"
    scipy.io.savemat(folder / "rec.set", {"EEG": eeg})
    return folder / "rec.set"


@pytest.mark.parametrize("inline", [False, True])
def test_reads_samples_rate_and_labels(tmp_path, inline):
    data, srate, labels = read_eeglab(_write_set(tmp_path, inline=inline))
    assert labels == LABELS
    assert srate == 160.0
    assert data.dtype == np.float64 and data.shape == (N, 3)
    np.testing.assert_array_equal(data, _data().astype(np.float64))


def test_accepts_str_and_path(tmp_path):
    path = _write_set(tmp_path, inline=False)
    a, _, _ = read_eeglab(path)
    b, _, _ = read_eeglab(str(path))
    np.testing.assert_array_equal(a, b)


def test_missing_required_channel_is_named_before_the_samples_are_read(tmp_path):
    path = _write_set(tmp_path, inline=False)
    os.remove(tmp_path / "rec.fdt")  # the channel check comes first
    with pytest.raises(InputError, match=r"no channel\(s\) EOG2 \(channels: Fz, EOG1, Cz\)"):
        read_eeglab(path, required=("EOG1", "EOG2"))


def test_missing_fdt(tmp_path):
    path = _write_set(tmp_path, inline=False)
    os.remove(tmp_path / "rec.fdt")
    with pytest.raises(InputError, match="rec.fdt.* is missing"):
        read_eeglab(path)


def test_fdt_of_the_wrong_size(tmp_path):
    path = _write_set(tmp_path, inline=False)
    _data()[:-1].tofile(tmp_path / "rec.fdt")
    with pytest.raises(InputError, match=f"holds {(N - 1) * 3} values, expected 3 x {N}"):
        read_eeglab(path)


def test_epoched_dataset_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"is epoched \(2 trials\)"):
        read_eeglab(_write_set(tmp_path, inline=False, trials=2.0))


def test_not_an_eeglab_file(tmp_path):
    path = tmp_path / "x.set"
    scipy.io.savemat(path, {"other": np.zeros(3)})
    with pytest.raises(InputError, match="cannot read the EEGLAB dataset"):
        read_eeglab(path)


@pytest.mark.data
def test_real_tutorial_recording(biodae_data):
    folder = biodae_data / "eeg" / "eeglab"
    data, srate, labels = read_eeglab(folder / "eeglab_data.set", required=("EOG1", "EOG2"))
    assert srate == 128.0 and data.shape == (30504, 32) and len(labels) == 32
    raw = np.fromfile(folder / "eeglab_data.fdt", "<f4").reshape(30504, 32)
    np.testing.assert_array_equal(data, raw.astype(np.float64))
