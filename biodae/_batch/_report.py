"""The report of a run: a table, a summary line, JSON that keeps earlier runs' figures."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import OutputExistsError
from .._version import __version__
from ._clean import FileResult

__all__ = ['BatchReport', 'read_report']


# ----------------------------------------------------------------------------- report


@dataclass
class BatchReport:
    """A whole run: one :class:`FileResult` per input, in input order, and how it ran."""

    results: list[FileResult]
    command: str = ""
    backend: str = "serial"
    jobs: int = 1
    threads: int | None = None
    seconds: float = 0.0
    out_dir: str | None = None
    interrupted: bool = False
    #: entries of an earlier report at the same path for inputs this run did not name (kept, see keep_earlier)
    earlier_files: list[dict[str, Any]] = field(default_factory=list)
    #: problems after the files were cleaned (the report could not be written...); they make the exit status 1
    problems: list[str] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def done(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "done"]

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def exit_status(self) -> int:
        """1 if any file failed (or the run was interrupted, or its report could not be written), else 0."""
        return 1 if self.failed or self.interrupted or self.problems else 0

    @property
    def signal_hours(self) -> float:
        """Hours of signal cleaned in this run (done files)."""
        return sum(r.duration_s or 0.0 for r in self.done) / 3600.0

    def summary(self) -> str:
        line = (f"{len(self.done)} written, {len(self.skipped)} skipped, {len(self.failed)} failed"
                + (f", {self._count('not run')} not run (interrupted)" if self.interrupted else "")
                + f" in {self.seconds:.1f} s")
        if self.signal_hours > 0 and self.seconds > 0:
            line += (f": {self.signal_hours:.2f} h of signal, "
                     f"{self.signal_hours / (self.seconds / 60):.2f} h per minute")
        how = f"{self.backend}, {self.jobs} job{'s' if self.jobs != 1 else ''}"
        if self.threads:
            how += f" x {self.threads} thread{'s' if self.threads != 1 else ''}"
        return line + f" ({how}; outputs in {self.out_dir or 'the input folders'})"

    def table(self) -> str:
        """A plain-text table, one row per file."""
        head = ["file", "status", "signal", "SNR in", "SNR out", "time", "what"]
        rows = []
        for r in self.results:
            what = r.detail if r.status == "done" else r.message
            snr_in, snr_out = r.snr_in_mean, r.snr_out_mean
            if r.status == "skipped" and r.earlier:  # show what the run that wrote the output measured
                what = f"done earlier: {r.earlier.get('detail', '')}"
                snr_in, snr_out = r.earlier.get("snr_in_db_mean"), r.earlier.get("snr_out_db_mean")
            if r.warnings:
                what = f"[{len(r.warnings)} warning{'s' if len(r.warnings) > 1 else ''}] {what}"
            rows.append([
                r.name, r.status, _fmt_duration(r.duration_s), _fmt_db(snr_in), _fmt_db(snr_out),
                f"{r.seconds:.1f} s" if r.status in ("done", "failed") else "", _shorten(what, 70),
            ])
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
        right = {2, 3, 4, 5}

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "biodae_version": __version__,
            "command": self.command,
            "backend": self.backend,
            "jobs": self.jobs,
            "threads": self.threads,
            "out_dir": self.out_dir,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 3),
            "totals": {
                "files": len(self.results), "done": len(self.done), "skipped": len(self.skipped),
                "failed": len(self.failed), "not_run": self._count("not run"),
                "signal_hours": round(self.signal_hours, 6),
                "signal_hours_per_minute": (round(self.signal_hours / (self.seconds / 60), 4)
                                            if self.seconds > 0 else None),
            },
            "files": [_result_dict(r) for r in self.results],
            "earlier_files": self.earlier_files,
        }

    def keep_earlier(self, earlier: dict[str, Any] | None) -> None:
        """Carry the entries of an ``earlier`` report (:func:`read_report`) over into this one.

        A file this run skipped because its output exists gets the entry of the run that
        wrote it (``FileResult.earlier``: its detail, SNRs, time); the earlier report's files
        that this run did not name at all are kept in :attr:`earlier_files`. Writing this
        report over the earlier one then loses nothing.
        """
        if not earlier:
            return
        entries: dict[str, dict[str, Any]] = {}
        for e in list(earlier.get("earlier_files") or []) + list(earlier.get("files") or []):
            if not isinstance(e, dict) or "input" not in e:
                continue
            done = e if e.get("status") == "done" else e.get("earlier")
            if isinstance(done, dict):
                entries[str(e["input"])] = {k: v for k, v in done.items() if k != "earlier"}
            elif str(e["input"]) not in entries:
                entries[str(e["input"])] = e
        named = {r.input for r in self.results}
        for r in self.results:
            e = entries.get(r.input)
            if r.status == "skipped" and e is not None and e.get("status") == "done":
                r.earlier = e
        self.earlier_files = [e for k, e in entries.items() if k not in named]

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON, atomically, replacing the file at ``path``.

        To keep an earlier run's figures, :meth:`keep_earlier` them first (the command line
        does, with :func:`read_report`).
        """
        from ..io import atomic_path

        path = Path(path)
        with atomic_path(path, force=True) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return path


def read_report(path: str | os.PathLike, *, command: str, force: bool = False) -> dict[str, Any] | None:
    """The earlier report at ``path`` to carry over into this run's (``None``: none to keep).

    An existing file that is not a report of ``command`` is never replaced without
    ``force`` (:class:`OutputExistsError`); with ``force`` it is replaced, not merged.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
    if isinstance(data, dict) and "biodae_version" in data and isinstance(data.get("files"), list) \
            and data.get("command") == command:
        return data
    if force:
        return None
    raise OutputExistsError(f"the report file {path} exists and is not a biodae {command} report",
                            "choose another report file, or pass --force (force=True) to replace it")


def _result_dict(r: FileResult) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    d["snr_in_db_mean"] = None if r.snr_in_mean is None else round(r.snr_in_mean, 3)
    d["snr_out_db_mean"] = None if r.snr_out_mean is None else round(r.snr_out_mean, 3)
    d["seconds"] = round(r.seconds, 3)
    return d


def _fmt_db(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f} dB"


def _fmt_duration(s: float | None) -> str:
    if s is None:
        return ""
    return f"{s:.1f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h")


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
