"""Where the files are cleaned: this process, a pool of worker processes, or a Dask cluster; and Ctrl-C."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pickle
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._errors import DependencyError, InputError
from ._clean import FileResult, _with_threads, clean_file
from ._plan import Task

log = logging.getLogger("biodae")
_BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------------------- executors


@contextlib.contextmanager
def _worker_environment(threads: int) -> Iterator[None]:
    """BLAS/OpenMP thread counts for worker processes started meanwhile (unless the user set them)."""
    saved = {k: os.environ.get(k) for k in _BLAS_THREADS}
    for k in _BLAS_THREADS:
        os.environ.setdefault(k, str(threads))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Processes started meanwhile ignore Ctrl-C (the parent decides what an interrupt does)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _from_main(step: Any) -> bool:
    """Whether unpickling ``step`` in a worker needs the caller's ``__main__`` module."""
    return "__main__" in (getattr(step, "__module__", None), type(step).__module__)


def _main_has_guard(main: Any) -> bool:
    """Whether the script ``main`` runs as has an ``if __name__ == "__main__":`` block (True when unknown)."""
    import ast

    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return True
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    return any(isinstance(n, ast.If) and "__name__" in ast.dump(n.test) and "'__main__'" in ast.dump(n.test)
               for n in tree.body)


@contextlib.contextmanager
def _main_not_rerun(step: Any) -> Iterator[None]:
    """Worker processes started meanwhile do not re-run the caller's script.

    multiprocessing's ``spawn`` imports the parent's ``__main__`` again in each new worker, to find what was
    defined there. A script without an ``if __name__ == "__main__":`` guard then starts the whole batch again
    in every worker, which multiprocessing refuses, and every file failed with "its worker died". biodae's
    own steps and :func:`clean_file` need nothing from ``__main__``, so while the workers start it is shown
    to them as an interactive session (no file, no module spec) and they skip it. A step defined in the
    script itself does need it: that works only under the guard, and without one it is refused here, before
    any work, with the fix.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    if _from_main(step):
        if not _main_has_guard(main):
            raise RuntimeError(
                f"the step {step!r} is defined in the script {main.__file__}, which has no "
                "'if __name__ == \"__main__\":' block: worker processes import the script again and would start "
                "the batch again. Put the call under that guard, or use backend='serial'")
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__file__", None)
        main.__dict__.update(saved)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def remove_partial(task: Task) -> None:
    """Remove the temporary files an aborted write of ``task`` (main output and extras) may have left."""
    if not task.format:
        return
    # the task's outputs (main and extras, as planned: a WFDB record by its .hea)
    names = {task.output.name} | {p.name[: -len(".hea")] if p.name.endswith(".hea") else p.name for p in task.planned}
    # atomic_path's ".NAME.XXXX.partSUFFIX" files and atomic_group's ".STEM.XXXX.part" folders of these outputs only
    patterns = {f".{glob.escape(n)}.*.part*" for n in names} | {f".{glob.escape(n.split('.')[0])}.*.part" for n in names}
    for pattern in patterns:
        for p in task.output.parent.glob(pattern):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def _check_picklable(step: Any, backend: str) -> None:
    try:
        pickle.dumps(step)
    except Exception as exc:
        raise TypeError(
            f"backend {backend!r} needs a picklable step (a module-level function or an instance of a "
            f"module-level class), got {step!r}: {exc}"
        ) from exc


class DeferredInterrupt:
    """While active (main thread only), a first Ctrl-C is noted and the file in progress goes on; a
    second one raises :class:`KeyboardInterrupt` at once (the atomic writers then leave nothing behind)."""

    def __init__(self) -> None:
        self.pending = False
        self._old: Any = None

    def __enter__(self) -> DeferredInterrupt:
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True
        _say_interrupted(1)

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _serial(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any],
            threads: int | None) -> Iterator[tuple[int, FileResult]]:
    if threads:
        step = _with_threads(step, threads)
    for i, t in work:
        with DeferredInterrupt() as ctrl_c:  # Ctrl-C lets this file finish, as the parallel backends do
            try:
                res = clean_file(t, step, **kwargs)
            except KeyboardInterrupt:  # the second Ctrl-C: the file is abandoned, its temporary files removed
                remove_partial(t)
                raise
        yield i, res
        if ctrl_c.pending:
            raise KeyboardInterrupt


def _processes(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any], jobs: int,
               threads: int) -> Iterator[tuple[int, FileResult]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    step = _with_threads(step, threads)
    _check_picklable(step, "processes")
    with _worker_environment(threads):
        # spawn, not fork: a forked child inherits the parent's threads (tqdm's, a caller's) in any state
        workers = min(jobs, len(work))

        def new_pool() -> Any:
            return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                       initializer=_init_worker)

        pools = [new_pool()]

        def submit(task: Task) -> Any:
            try:
                with _main_not_rerun(step):  # workers start on demand, inside submit
                    return pools[-1].submit(clean_file, task, step, **kwargs)
            except BrokenProcessPool:
                # A worker died (killed for memory, say): the files the pool held fail with "its worker died";
                # the files not yet handed out go to a new pool.
                pools[-1].shutdown(wait=False, cancel_futures=True)
                pools.append(new_pool())
                with _sigint_ignored(), _main_not_rerun(step):
                    return pools[-1].submit(clean_file, task, step, **kwargs)

        def abort() -> None:
            for proc in list((getattr(pools[-1], "_processes", None) or {}).values()):
                proc.terminate()

        feed = _Feed(work, submit)
        try:
            with _sigint_ignored():  # the workers start meanwhile and inherit the ignored Ctrl-C
                pending = {f for f in (feed.next() for _ in range(workers)) if f is not None}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    pending |= {f for f in (feed.next() for _ in done) if f is not None}  # before yielding
                    for f in done:
                        yield feed.result(f)
            except KeyboardInterrupt:
                yield from feed.finish_in_progress(abort)
                raise
        finally:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)


class _Feed:
    """Hands files to a pool one per free worker, and after Ctrl-C finishes exactly those it handed out.

    Pools queue what they are given ahead of their workers (a process pool marks such calls running, past
    cancelling; a Dask worker holds the next task): submitting every file at once would make Ctrl-C wait for those
    too. ``submit(task)`` returns a future of the task's :class:`FileResult`.
    """

    def __init__(self, work: list[tuple[int, Task]], submit: Callable[[Task], Any]) -> None:
        self._todo, self._submit = iter(work), submit
        self.futures: dict[Any, tuple[int, Task]] = {}
        self._reported: set = set()

    def next(self) -> Any:
        """Submit the next file; ``None`` when all are out."""
        item = next(self._todo, None)
        if item is None:
            return None
        f = self._submit(item[1])
        self.futures[f] = item
        return f

    def result(self, f: Any) -> tuple[int, FileResult]:
        self._reported.add(f)
        return _future_result(f, *self.futures[f])

    def finish_in_progress(self, abort: Callable[[], Any] = lambda: None) -> Iterator[tuple[int, FileResult]]:
        """After Ctrl-C: the results of the files handed out and not yet reported; a second Ctrl-C aborts them."""
        running = [f for f in self.futures if f not in self._reported]
        _say_interrupted(len(running))
        try:
            for f in running:
                yield self.result(f)
        except KeyboardInterrupt:
            abort()
            for f in running:
                remove_partial(self.futures[f][1])
            raise


def _say_interrupted(n: int) -> None:
    if n:
        print(f"\nbiodae: interrupted: finishing the {n} file(s) in progress (press Ctrl-C again to abort them)",
              file=sys.stderr, flush=True)


def _future_result(f: Any, i: int, task: Task) -> tuple[int, FileResult]:
    try:
        return i, f.result()
    except Exception as exc:  # the worker process died (BrokenProcessPool, KilledWorker), or was cancelled
        return i, FileResult(task.name, str(task.source), "failed",
                             message=f"its worker died: {type(exc).__name__}: {exc}")


def _dask_clean(task: Task, step: Any, kwargs: dict[str, Any], threads: dict[str, int]) -> FileResult:
    """:func:`clean_file` on a Dask worker, with the onnxruntime threads its host can give it."""
    from distributed import get_worker

    from ..runtime import default_threads

    w = get_worker()
    n = threads.get(w.address) or default_threads(w.state.nthreads)
    res = clean_file(task, _with_threads(step, n), **kwargs)
    res.worker = w.address
    return res


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DependencyError("backend=dask needs dask.distributed, which is not installed",
                              "pip install 'biodae[dask]'") from exc
    return distributed


def _threads_per_worker(client: Any, threads: int | None) -> dict[str, int]:
    """onnxruntime threads per Dask worker: its host's cores shared by the task slots on that host."""
    from urllib.parse import urlparse

    info = client.scheduler_info(n_workers=-1)["workers"]
    if threads:
        return {a: int(threads) for a in info}
    cores = client.run(_usable_cores)
    slots: dict[str, int] = {}
    for a, w in info.items():
        host = urlparse(a).hostname or a
        slots[host] = slots.get(host, 0) + int(w.get("nthreads", 1))
    return {a: max(1, int(cores.get(a, 1)) // slots[urlparse(a).hostname or a]) for a in info}


def _usable_cores() -> int:
    from ..runtime import default_threads

    return default_threads(1)


def _dask(work: list[tuple[int, Task]], step: Any, kwargs: dict[str, Any], jobs: int, threads: int | None,
          scheduler: str | None) -> Iterator[tuple[int, FileResult]]:
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                                 "check the address (e.g. tcp://host:8786) and that the scheduler runs") from exc
        else:
            from ..runtime import default_threads

            stack.enter_context(_worker_environment(threads or default_threads(jobs)))
            with _sigint_ignored(), _main_not_rerun(step):
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
        per_worker = _threads_per_worker(client, threads)
        stamp = f"{os.getpid()}-{time.time_ns()}"
        feed = _Feed(work, lambda task: client.submit(_dask_clean, task, step, kwargs, per_worker, pure=False,
                                                      key=f"biodae-clean-{stamp}-{len(feed.futures)}"))
        slots = max(1, sum(client.nthreads().values()))  # one file per worker thread (see _Feed)
        stream = distributed.as_completed([f for f in (feed.next() for _ in range(slots)) if f is not None])
        try:
            for f in stream:
                nxt = feed.next()
                if nxt is not None:
                    stream.add(nxt)
                yield feed.result(f)
        except KeyboardInterrupt:
            yield from feed.finish_in_progress()
            raise
