"""Traces on disk in any format a registered family knows."""

from __future__ import annotations

import os
from pathlib import Path

from schedlab import plugins
from schedlab.sim import trace as _trace
from schedlab.sim.trace import Trace

__all__ = ["load_trace", "save_trace"]


def load_trace(path: str | os.PathLike) -> Trace:
    """Read a schedlab trace (JSON or Parquet), or a family's native JSON (a GSwarm execution log).

    Raises:
        DataError: The file is missing or is not a valid trace: its family is not registered
            (nothing could check or draw it), or it has no worker or no job (nothing ran).
    """
    from schedlab.errors import DataError, UnknownNameError

    readers = [plugins.resolve(s.native_format[1]) for s in plugins.specs() if s.native_format]
    trace = _trace.load_trace(path, readers=readers)
    try:
        plugins.get(trace.family)
    except UnknownNameError as e:
        raise DataError(e.problem, source=str(path), field="family") from None
    for table in ("workers", "jobs"):
        if not any(getattr(trace, table).values()):
            raise DataError(f"the {table} table is empty: not the trace of a run", source=str(path), field=table)
    return trace


def save_trace(trace: Trace, path: str | os.PathLike, *, native: bool = False) -> Path:
    """Write a trace (see :meth:`Trace.save`); ``native``: in its family's own format, if it has one."""
    spec = plugins.find(trace.family) if native else None
    writer = plugins.resolve(spec.native_format[0]) if spec is not None and spec.native_format else None
    return trace.save(path, writer=writer)
