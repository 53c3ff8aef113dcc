"""The record of one run: what was scheduled where and when, and the decisions behind it.

Tables are stored column-wise (a dict of equal-length lists), which keeps the JSON compact and
maps one-to-one onto Parquet. Metrics and the checker read nothing but this object, so any
trace written to disk, by any scheduler, is judged the same way.

Tables:
    workers:   id, kind, capacity (tasks at once)
    jobs:      id, name, arrival, completion (None if the job never finished)
    stages:    job, stage, num_tasks, parents (list of stage indices)
    tasks:     job, stage, task, worker, start, end (one row per task execution)
    moves:     worker, job, start, end (a worker unavailable while it moves to a job)
    decisions: time, job, stage, limit (one row per applied scheduler action)

Families add what they need: extra columns in these tables (``tasks.workers``, the gang of a
multi-worker task; ``tasks.setup``, time the workers spent preparing right before ``start``,
such as a model switch), and extra tables in :attr:`Trace.extra` (node samples, requests).

Times are in :attr:`Trace.time_unit`. ``timing`` holds wall-clock measurements (scheduler
decision time); they differ from run to run and are left out of :meth:`Trace.digest`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schedlab.sim.errors import DataError
from schedlab.sim.io import write_atomic

__all__ = ["Trace", "TABLES", "load_trace", "fill_table", "Writer", "Reader"]

FORMAT = "schedlab-trace/1"

TABLES: dict[str, tuple[str, ...]] = {
    "workers": ("id", "kind", "capacity"),
    "jobs": ("id", "name", "arrival", "completion"),
    "stages": ("job", "stage", "num_tasks", "parents"),
    "tasks": ("job", "stage", "task", "worker", "start", "end"),
    "moves": ("worker", "job", "start", "end"),
    "decisions": ("time", "job", "stage", "limit"),
}
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0}

#: A family's own trace file format (the gpu family's GSwarm execution log): a writer,
#: ``writer(trace) -> JSON document``, and a reader, ``reader(doc, source=...) -> Trace | None``
#: (None when ``doc`` is not in its format). A native format must embed what the trace needs
#: to be read back losslessly. :mod:`schedlab.runs.traces` finds them through the families.
Writer = Callable[["Trace"], Any]
Reader = Callable[..., "Trace | None"]


def _empty(name: str) -> dict[str, list]:
    return {c: [] for c in TABLES[name]}


@dataclass
class Trace:
    """One run's trace; see the module docstring for the tables."""

    family: str
    time_unit: str = "ms"
    meta: dict[str, Any] = field(default_factory=dict)
    scenario: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, list] = field(default_factory=lambda: _empty("workers"))
    jobs: dict[str, list] = field(default_factory=lambda: _empty("jobs"))
    stages: dict[str, list] = field(default_factory=lambda: _empty("stages"))
    tasks: dict[str, list] = field(default_factory=lambda: _empty("tasks"))
    moves: dict[str, list] = field(default_factory=lambda: _empty("moves"))
    decisions: dict[str, list] = field(default_factory=lambda: _empty("decisions"))
    counters: dict[str, int] = field(default_factory=dict)
    extra: dict[str, dict[str, list]] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_unit(self) -> float:
        """Seconds in one unit of this trace's times."""
        return _UNIT_SECONDS[self.time_unit]

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """Plain-JSON form. ``timing=False`` leaves out the wall-clock measurements."""
        d: dict[str, Any] = {
            "format": FORMAT,
            "family": self.family,
            "time_unit": self.time_unit,
            "meta": self.meta,
            "scenario": self.scenario,
            "counters": self.counters,
            "extra": self.extra,
        }
        for name in TABLES:
            d[name] = getattr(self, name)
        if timing:
            d["timing"] = self.timing
        return d

    def digest(self) -> str:
        """SHA-256 of everything but the wall-clock timing: equal for identical runs."""
        blob = json.dumps(self.to_dict(timing=False), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> Trace:
        """Rebuild a trace, checking its shape.

        Raises:
            DataError: A key is missing or a table's columns are inconsistent.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"not a schedlab trace (expected format {FORMAT!r})", source=source, field="format")
        unit = d.get("time_unit")
        if unit not in _UNIT_SECONDS:
            raise DataError(
                f"unknown time unit {unit!r}, expected one of {sorted(_UNIT_SECONDS)}", source=source, field="time_unit"
            )
        tables = {}
        for name, cols in TABLES.items():
            t = d.get(name)
            if not isinstance(t, dict):
                raise DataError("missing table", source=source, field=name)
            missing = [c for c in cols if not isinstance(t.get(c), list)]
            if missing:
                raise DataError(f"missing column(s) {', '.join(missing)}", source=source, field=name)
            odd = [c for c, v in t.items() if not isinstance(v, list)]
            if odd:
                raise DataError(f"column(s) {', '.join(map(str, odd))} are not lists", source=source, field=name)
            lengths = {len(v) for v in t.values() if isinstance(v, list)}
            if len(lengths) > 1:
                raise DataError(f"columns of unequal length {sorted(lengths)}", source=source, field=name)
            tables[name] = t
        family = d.get("family", "")
        if not isinstance(family, str):
            raise DataError(f"expected a family name, got {family!r}", source=source, field="family")
        sections = {}
        for key in ("meta", "scenario", "counters", "extra", "timing"):
            value = d.get(key) or {}
            if not isinstance(value, dict):
                raise DataError(f"expected an object, got {type(value).__name__}", source=source, field=key)
            sections[key] = dict(value)
        for name, t in sections["extra"].items():
            if not isinstance(t, dict) or not all(isinstance(c, list) for c in t.values()):
                raise DataError(
                    "expected a table: an object of equal-length lists", source=source, field=f"extra.{name}"
                )
            if len({len(c) for c in t.values()}) > 1:
                raise DataError("columns of unequal length", source=source, field=f"extra.{name}")
        return cls(family=family, time_unit=unit, **sections, **tables)

    def save(self, path: str | os.PathLike, *, writer: Writer | None = None) -> Path:
        """Write the trace as JSON, or Parquet when the name ends in ``.parquet``.

        The file appears whole or not at all (written beside, then renamed).

        Args:
            path: Where to write.
            writer: For JSON, write this native format instead of schedlab's (see
                :data:`Writer`); :func:`load_trace` given its reader reads it back to the
                same trace.
        """
        p = Path(path)
        if p.suffix == ".parquet":
            data = _to_parquet_bytes(self)
        elif writer is not None:
            doc = writer(self)
            data = json.dumps(doc, indent=1).encode()
        else:
            data = json.dumps(self.to_dict(), separators=(",", ":")).encode()
        write_atomic(p, data)
        return p


def fill_table(table: dict[str, list], rows: list[tuple], columns: tuple[str, ...] | None = None) -> None:
    """Set a table's columns from row tuples (``columns`` default: the table's own, in order)."""
    names = tuple(table) if columns is None else columns
    cols = list(zip(*rows)) if rows else [()] * len(names)
    for name, col in zip(names, cols):
        table[name] = list(col)


def load_trace(path: str | os.PathLike, *, readers: Sequence[Reader] = ()) -> Trace:
    """Read a trace written by :meth:`Trace.save` (JSON or Parquet), or a native JSON format.

    Args:
        path: The file.
        readers: Native formats' readers, offered a JSON document that is not a schedlab
            trace (so ``schedlab check`` reads GSwarm execution logs too).

    Raises:
        DataError: The file is missing or is not a valid trace.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("no such file", source=str(p))
    if p.suffix == ".parquet":
        return _from_parquet(p)
    try:
        d = json.loads(p.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"not valid JSON ({e})", source=str(p)) from None
    if isinstance(d, dict) and "format" not in d:
        for reader in readers:
            trace = reader(d, source=str(p))
            if trace is not None:
                return trace
    return Trace.from_dict(d, source=str(p))


#: Tables that grow with the events of a run and so travel as Parquet columns (named
#: ``table.column``) beside the task table's own; the small rest travels as JSON in the file's
#: key-value metadata, which Parquet readers cap (pyarrow at 100 MB: the moves of a run of
#: 5,000 TPC-H jobs on 500 executors alone are more).
_COLUMN_TABLES = ("moves", "decisions")


def _to_parquet_bytes(trace: Trace) -> bytes:
    # The task table is the bulk of a trace and becomes the Parquet table's plain columns.
    # Every column is padded with nulls to the longest table; ``schedlab.tables`` in the
    # metadata gives each table its row count and columns, to cut the padding off again.
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("writing Parquet needs pyarrow: pip install 'schedlab[parquet]'", field="--trace") from None
    rest = trace.to_dict()
    arrays = {name: pa.array(col) for name, col in rest.pop("tasks").items()}
    layout = {"tasks": [_rows(trace.tasks), list(arrays)]}
    for name in _COLUMN_TABLES:
        converted = _arrow_columns(pa, rest[name])
        if converted is not None:  # else it stays in the JSON, as before
            del rest[name]
            layout[name] = [_rows(getattr(trace, name)), list(converted)]
            arrays.update((f"{name}.{c}", a) for c, a in converted.items())
    n = max(len(a) for a in arrays.values()) if arrays else 0
    padded = {k: a if len(a) == n else pa.concat_arrays([a, pa.nulls(n - len(a), a.type)]) for k, a in arrays.items()}
    meta = {b"schedlab.trace": json.dumps(rest).encode(), b"schedlab.tables": json.dumps(layout).encode()}
    table = pa.table(padded)
    # Dictionary encoding pays off on ids (few distinct values), not on times (all distinct):
    # tried on every column, it costs a third of the writing time and saves nothing.
    ids = [k for k, a in padded.items() if not pa.types.is_floating(a.type)]
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(meta), sink, use_dictionary=ids)
    return sink.getvalue().to_pybytes()


def _rows(table: dict[str, list]) -> int:
    return len(next(iter(table.values()), ()))


def _arrow_columns(pa: Any, table: dict[str, list]) -> dict[str, Any] | None:
    """A table's columns as Arrow arrays, or None when one would not read back the same.

    Arrow stores a column of ints and floats as floats (``0`` would read back ``0.0``), and
    refuses mixed kinds; such a table stays in the JSON metadata.
    """
    out = {}
    for name, col in table.items():
        try:
            arr = pa.array(col)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return None
        if pa.types.is_floating(arr.type) and not set(map(type, col)) <= {float, type(None)}:
            return None
        out[name] = arr
    return out


def _from_parquet(p: Path) -> Trace:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow: pip install 'schedlab[parquet]'", source=str(p)) from None
    try:
        table = pq.read_table(p)
        meta = table.schema.metadata or {}
        rest = json.loads(meta[b"schedlab.trace"])
        layout = json.loads(meta.get(b"schedlab.tables", b"null"))
        if layout is None:  # written before the event tables became columns: all are the task table's
            rest["tasks"] = table.to_pydict()
        else:
            for name, (rows, columns) in layout.items():
                if name not in TABLES or not isinstance(rows, int) or not 0 <= rows <= table.num_rows:
                    raise ValueError(f"bad table layout {name!r}")
                prefix = "" if name == "tasks" else f"{name}."
                rest[name] = {c: table.column(prefix + c).slice(0, rows).to_pylist() for c in columns}
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise DataError(f"not a schedlab Parquet trace ({type(e).__name__})", source=str(p)) from None
    return Trace.from_dict(rest, source=str(p))
