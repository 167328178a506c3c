"""Seamless inference over long signals and large images.

A model sees windows (1D) or tiles (2D) that overlap; each output is weighted by a
taper that is largest in the middle of the window and the weighted outputs are
divided by the summed weights. Where windows overlap the result is a smooth blend,
so there are no seams; where only one window covers a sample its output is used as
it is. The signal is reflection-padded at both ends so edge samples are seen in the
middle of a window as well.

In 1D every window the model sees has exactly ``window`` samples: a signal shorter
than that is reflection-padded (centred) to one window. One input length per model
keeps the output independent of where it runs and lets a GPU tune its kernels once
(``docs/onnx.md`` gives the arithmetic for clients in other languages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["taper", "overlap_add_1d", "tile_2d"]


def taper(n: int, overlap: int) -> np.ndarray:
    """A window of ``n`` ones with raised-cosine ramps of ``overlap`` samples at both ends.

    The ramps never reach zero (they start at a small positive value), so every sample
    has a positive total weight.
    """
    w = np.ones(n, dtype=np.float64)
    if overlap > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        w[:overlap] = ramp
        w[n - overlap :] = np.minimum(w[n - overlap :], ramp[::-1])
    return w


def _starts(length: int, window: int, hop: int) -> list[int]:
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, hop))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def overlap_add_1d(
    fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    window: int,
    overlap: int,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    streams: int = 1,
) -> np.ndarray:
    """Apply ``fn`` to overlapping windows of a 1D signal and blend the outputs.

    Parameters
    ----------
    fn : callable
        Maps a float32 batch ``(n, 1, window)`` to an array of the same shape.
    x : ndarray, shape (n_samples,)
    window : int
        Window length in samples: ``fn`` always gets batches ``(n, 1, window)``. A
        signal shorter than that is reflection-padded to it, ``(window - n) // 2``
        samples on the left and the rest on the right (repeatedly reflected when the
        signal is shorter than the pad; a single sample is repeated), and cropped back.
    overlap : int
        Samples shared by consecutive windows (``< window``). Also the reflection pad
        added at both ends.
    batch_size : int
        Windows per call of ``fn``.
    progress : callable, optional
        Called with the number of windows done after each batch.
    streams : int, default 1
        Batches in flight at once, each ``fn`` call on its own thread (``fn`` must be
        safe to call concurrently, as an onnxruntime session is). The outputs are blended
        in batch order, so the result does not depend on it.

    Returns
    -------
    ndarray of float64, shape (n_samples,)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"overlap_add_1d expects a 1D signal, got shape {x.shape}")
    if streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window), got overlap={overlap}, window={window}")
    n = x.size
    if n == 0:
        return x.copy()
    if n <= window:
        left = (window - n) // 2
        xp = np.pad(x, (left, window - n - left), mode="reflect" if n > 1 else "edge")
        out = np.asarray(fn(xp[None, None, :].astype(np.float32)), dtype=np.float64).reshape(window)
        return out[left : left + n]
    pad = min(overlap, n - 1)
    length = n + 2 * pad  # the signal reflection-padded at both ends (never built: windows are cut from x)
    hop = window - overlap
    starts = _starts(length, window, hop)
    w = taper(window, overlap)
    chunks = [starts[b : b + batch_size] for b in range(0, len(starts), batch_size)]

    def window_at(s: int) -> np.ndarray:
        if pad <= s and s + window <= pad + n:
            return x[s - pad : s - pad + window]
        i = np.abs(np.arange(s - pad, s - pad + window))  # reflect at both ends (pad < n: at most once)
        return x[np.where(i > n - 1, 2 * (n - 1) - i, i)]

    def run(chunk: list[int]) -> np.ndarray:
        batch = np.stack([window_at(s) for s in chunk]).astype(np.float32)[:, None, :]
        return np.asarray(fn(batch), dtype=np.float64).reshape(len(chunk), window)

    # Accumulate chunk by chunk in a buffer from the chunk's first start to its last window's end,
    # carrying over what the next windows still add to: the same sums in the same order as one
    # signal-long accumulator (so the same output), without three signal-long float64 arrays.
    out = np.empty(n)
    carry_acc = carry_w = np.zeros(0)
    for c, (chunk, rows) in enumerate(zip(chunks, _in_order(run, chunks, streams))):
        base, end = chunk[0], chunk[-1] + window
        acc, wsum = np.zeros(end - base + window), np.zeros(end - base + window)  # room for _add_windows' views
        acc[: carry_acc.size], wsum[: carry_w.size] = carry_acc, carry_w
        rel = [s - base for s in chunk]
        _add_windows(wsum, rel, np.broadcast_to(w, (len(chunk), window)), hop)
        _add_windows(acc, rel, rows * w, hop)
        done = chunks[c + 1][0] if c + 1 < len(chunks) else end  # no later window reaches below this
        lo, hi = max(base, pad), min(done, pad + n)
        if hi > lo:
            out[lo - pad : hi - pad] = acc[lo - base : hi - base] / wsum[lo - base : hi - base]
        carry_acc, carry_w = acc[done - base : end - base], wsum[done - base : end - base]
        if progress is not None:
            progress(len(chunk))
    return out


def _in_order(fn: Callable[[list[int]], np.ndarray], items: list[list[int]], streams: int) -> Iterator[np.ndarray]:
    """``fn(item)`` for each item, in order; with ``streams > 1`` that many run at once
    on worker threads (at most ``2 × streams`` results are held at a time)."""
    if streams == 1 or len(items) < 2:
        yield from map(fn, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    from itertools import islice

    todo = iter(items)
    with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="biodae-window") as pool:
        pending = deque(pool.submit(fn, item) for item in islice(todo, 2 * streams))
        while pending:
            done = pending.popleft().result()
            pending.extend(pool.submit(fn, item) for item in islice(todo, 1))
            yield done


def _add_windows(acc: np.ndarray, starts: list[int], rows: np.ndarray, hop: int) -> None:
    """``acc[s : s + window] += row`` for each start and row, vectorised over runs of starts
    ``hop`` apart when the windows overlap by at most ``hop`` (a window's head tiles ``acc``
    with the heads of its neighbours, its tail adds to the next heads); ``acc`` must extend
    ``window`` past the last start."""
    window = rows.shape[1]
    i = 0
    while i < len(starts):
        j = i + 1
        while j < len(starts) and starts[j] - starts[j - 1] == hop:
            j += 1
        k, s0 = j - i, starts[i]
        if k > 1 and window - hop <= hop:
            acc[s0 : s0 + k * hop].reshape(k, hop)[:] += rows[i:j, :hop]
            acc[s0 + hop : s0 + (k + 1) * hop].reshape(k, hop)[:, : window - hop] += rows[i:j, hop:]
        else:
            for s, row in zip(starts[i:j], rows[i:j]):
                acc[s : s + window] += row
        i = j


def tile_2d(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    *,
    tile: int,
    overlap: int,
    batch_size: int = 8,
) -> np.ndarray:
    """Apply ``fn`` to overlapping square tiles of a 2D image and blend the outputs.

    Images no larger than ``tile`` in both dimensions are processed whole.
    ``fn`` maps a float32 batch ``(n, 1, h, w)`` to the same shape.

    Returns
    -------
    ndarray of float64, the shape of ``image``
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"tile_2d expects a 2D image, got shape {img.shape}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    h, w = img.shape
    if h <= tile and w <= tile:
        return np.asarray(fn(img[None, None].astype(np.float32)), dtype=np.float64).reshape(h, w)
    th, tw = min(tile, h), min(tile, w)
    ys = _starts(h, th, th - overlap if th == tile else th)
    xs = _starts(w, tw, tw - overlap if tw == tile else tw)
    wy = taper(th, overlap if th == tile and h > tile else 0)
    wx = taper(tw, overlap if tw == tile and w > tile else 0)
    wt = np.outer(wy, wx)
    acc = np.zeros_like(img)
    wsum = np.zeros_like(img)
    coords = [(y, x) for y in ys for x in xs]
    for b in range(0, len(coords), batch_size):
        chunk = coords[b : b + batch_size]
        batch = np.stack([img[y : y + th, x : x + tw] for y, x in chunk]).astype(np.float32)[:, None]
        out = np.asarray(fn(batch), dtype=np.float64).reshape(len(chunk), th, tw)
        for (y, x), o in zip(chunk, out):
            acc[y : y + th, x : x + tw] += o * wt
            wsum[y : y + th, x : x + tw] += wt
    return acc / wsum
