"""GSwarm's execution-log checker, by its rules: what ``python check.py LOG`` validates.

GSwarm's ``check.py`` is not part of schedlab; its README lists what it validates, and
:func:`check_execution_log` checks exactly that on a log as a GSwarm user would: the JSON
structure and required fields, no two executions overlapping on a GPU, and each
``execution_time`` equal to ``end_time - start_time``. ``schedlab check`` does more (the DAG,
gangs, switch times, arrivals); a log should pass both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_execution_log", "REQUIRED"]

#: Fields every execution must have (GSwarm's log format).
REQUIRED = ("request_id", "workflow_id", "node_id", "model_name", "gpu_id", "start_time", "end_time", "execution_time")


def check_execution_log(doc: Any, *, tol: float = 1e-6) -> list[str]:
    """The problems GSwarm's checker would report in ``doc``; an empty list if it passes.

    Args:
        doc: The parsed JSON of an execution log.
        tol: Seconds two times may differ by and still agree.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict):
        return ["the log is not a mapping with a summary"]
    execs = doc.get("executions")
    if not isinstance(execs, list):
        return ["the log has no executions list"]
    problems = []
    busy: dict[int, list[tuple[float, float, int]]] = {}
    for i, e in enumerate(execs):
        missing = [k for k in REQUIRED if not isinstance(e, dict) or k not in e]
        if missing:
            problems.append(f"executions[{i}] lacks {', '.join(missing)}")
            continue
        start, end, took = e["start_time"], e["end_time"], e["execution_time"]
        if not all(isinstance(x, (int, float)) for x in (start, end, took)) or end < start:
            problems.append(f"executions[{i}] has times {start!r} .. {end!r}")
            continue
        if abs((end - start) - took) > tol:
            problems.append(f"executions[{i}] has execution_time {took!r} but ends {end - start!r} s after it starts")
        for g in e.get("gpu_ids") or [e["gpu_id"]]:
            busy.setdefault(g, []).append((start, end, i))
    for g, spans in busy.items():
        spans.sort()
        last_end, last = spans[0][1], spans[0][2]  # the latest end so far, and whose
        for start, end, i in spans[1:]:
            if start < last_end - tol:
                problems.append(f"executions[{last}] and [{i}] overlap on GPU {g} ({start!r} < {last_end!r})")
            if end > last_end:
                last_end, last = end, i
    return problems
