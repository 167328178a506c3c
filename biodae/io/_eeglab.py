"""Reading a continuous EEGLAB dataset (``.set`` with its data inline or in a ``.fdt`` file).

Not a format of :func:`biodae.io.read` (nothing writes EEGLAB back): the EEG datasets and the
EOG artefact source read their recordings with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .._errors import InputError

__all__ = ["read_eeglab"]


def read_eeglab(
    set_path: str | os.PathLike[str], *, required: Sequence[str] = ()
) -> tuple[np.ndarray, float, list[str]]:
    """All channels of a continuous EEGLAB dataset.

    Parameters
    ----------
    set_path : str or path-like
        The ``.set`` file; a ``.fdt`` it names is read from the same folder (float32,
        sample-major).
    required : sequence of str, optional
        Channel labels the caller needs; one missing is an error, raised before the
        samples are read.

    Returns
    -------
    data : ndarray of float64, shape (n_samples, n_channels)
        The samples in the dataset's units (µV for EEGLAB).
    srate : float
        Sampling rate in Hz.
    labels : list of str
        Channel labels, in the order of ``data``'s columns.

    Raises
    ------
    InputError
        An unreadable or epoched dataset, a missing required channel, a missing ``.fdt`` or
        one of the wrong size.
    """
    set_path = str(set_path)
    import scipy.io

    try:
        mat = scipy.io.loadmat(set_path, squeeze_me=True, struct_as_record=False)
        eeg = mat["EEG"]
        labels = [str(ch.labels) for ch in np.atleast_1d(eeg.chanlocs)]
        nbchan, pnts, srate, trials = int(eeg.nbchan), int(eeg.pnts), float(eeg.srate), int(eeg.trials)
        payload = eeg.data
    except (OSError, ValueError, KeyError, AttributeError, NotImplementedError) as exc:
        raise InputError(f"cannot read the EEGLAB dataset {set_path!r}: {exc}") from exc
    if trials != 1:
        raise InputError(f"{set_path!r} is epoched ({trials} trials); a continuous recording is needed")
    missing = [c for c in required if c not in labels]
    if missing:
        raise InputError(f"{set_path!r} has no channel(s) {', '.join(missing)} (channels: {', '.join(labels)})")
    if isinstance(payload, str):
        fdt = os.path.join(os.path.dirname(set_path), payload)
        if not os.path.isfile(fdt):
            raise InputError(f"the data file {fdt!r} named by {set_path!r} is missing")
        raw = np.fromfile(fdt, dtype="<f4")
        if raw.size != nbchan * pnts:
            raise InputError(f"{fdt!r} holds {raw.size} values, expected {nbchan} x {pnts}")
        data = raw.reshape(pnts, nbchan)  # .fdt is sample-major: [pnts x nbchan]
    else:
        data = np.asarray(payload).reshape(nbchan, pnts).T
    return data.astype(np.float64), srate, labels
