"""Metrics of the gpu family, from the trace alone: switches, waiting, per-GPU and per-model counts.

Request completion time is the common JCT (``completion - arrival`` of a request); this adds
its minimum. A task of a gpu trace occupies every GPU of its ``workers`` gang from
``start - setup`` (the model switch or first load) to ``end``. An execution *switches* when
at least one GPU of its gang held another model, and *loads* when its GPUs held nothing
before (or its own model); its switch (or load) time is its ``setup``, the seconds its start
waited for the slowest GPU of the gang. This is GSwarm's ``total_model_switches`` and
``total_switch_time``, counted on the whole gang instead of its first GPU.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from schedlab.metrics.summary import completed_jobs

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["gpu_metrics"]


def gpu_metrics(trace: Trace) -> dict[str, float | int | None]:
    """The gpu family's metrics: fixed keys (labelled in ``summary.METRIC_INFO``), per GPU, per model.

    ``executor_utilization`` replaces the common value (which counts a gang's execution on
    its first GPU only) with execution GPU-seconds over ``gpus * makespan``;
    ``gpu_utilization`` also counts the switching. Waiting is dispatch (``start - setup``)
    minus the time the node became ready; node response is end minus ready. Then per GPU
    ``gpu<i>_executions``, ``gpu<i>_busy_s`` (switching included) and ``gpu<i>_utilization``,
    and per model ``model_<key>_executions`` (the key with anything but letters, digits and
    ``_`` replaced by ``_``).

    Args:
        trace: A gpu trace (``workers``, ``setup``, ``ready``, ``model`` and
            ``previous_models`` task columns; absent ones count as one GPU, no setup).

    Returns:
        Flat snake_case keys; times in seconds.
    """
    sec = trace.seconds_per_unit
    t = trace.tasks
    n = len(t["start"])
    start = np.asarray(t["start"], dtype=np.float64)
    end = np.asarray(t["end"], dtype=np.float64)
    setup = np.asarray(t.get("setup") or [0.0] * n, dtype=np.float64)
    gangs = t.get("workers") or [[w] for w in t["worker"]]
    models = t.get("model") or [None] * n
    previous = t.get("previous_models") or [None] * n
    ready_col = t.get("ready")

    arrival = np.asarray(trace.jobs["arrival"], dtype=np.float64)
    done, completion = completed_jobs(trace)
    finishes = np.concatenate([end, completion])
    makespan = float(finishes.max() - arrival.min()) if arrival.size and finishes.size else 0.0
    makespan = max(0.0, makespan)
    jct = (completion - arrival[done]) * sec

    out: dict[str, float | int | None] = {"min_jct_s": float(jct.min()) if jct.size else None}
    if ready_col is not None and n:
        ready = np.asarray([np.nan if r is None else r for r in ready_col], dtype=np.float64)
        wait = (start - setup - ready) * sec
        response = (end - ready) * sec
        ok = np.isfinite(wait)
        out.update(_stats("wait", wait[ok], ("avg", "p99", "max")))
        out.update(_stats("node_response", response[ok], ("avg", "p99")))
    else:
        out.update(
            dict.fromkeys(("avg_wait_s", "p99_wait_s", "max_wait_s", "avg_node_response_s", "p99_node_response_s"))
        )

    switches = loads = gpu_switches = 0
    switch_time = load_time = 0.0
    for r in range(n):
        prev = previous[r] or []
        replaced = sum(1 for p in prev if p is not None and p != models[r])
        gpu_switches += replaced
        if replaced:
            switches += 1
            switch_time += float(setup[r])
        elif any(p is None for p in prev) and setup[r] > 0:
            loads += 1
            load_time += float(setup[r])
    out.update(
        model_switches=switches,
        switch_time_s=switch_time * sec,
        gpu_switches=gpu_switches,
        model_loads=loads,
        load_time_s=load_time * sec,
    )

    ids = list(trace.workers["id"])
    pos = {g: i for i, g in enumerate(ids)}
    execs = np.zeros(len(ids), dtype=np.int64)
    busy = np.zeros(len(ids))
    run = np.zeros(len(ids))
    for r, gang in enumerate(gangs):
        for g in gang:
            i = pos.get(g)
            if i is not None:
                execs[i] += 1
                busy[i] += end[r] - start[r] + setup[r]
                run[i] += end[r] - start[r]
    span = makespan * len(ids)
    out["gpu_utilization"] = float(busy.sum() / span) if span > 0 else 0.0
    out["executor_utilization"] = float(run.sum() / span) if span > 0 else 0.0
    for i, g in enumerate(ids):
        out[f"gpu{g}_executions"] = int(execs[i])
        out[f"gpu{g}_busy_s"] = float(busy[i]) * sec
        out[f"gpu{g}_utilization"] = float(busy[i] / makespan) if makespan > 0 else 0.0
    counts: dict[str, int] = {}
    for key in (trace.extra.get("models") or {}).get("model", []):
        counts[key] = 0
    for mname in models:
        if mname is not None:
            counts[mname] = counts.get(mname, 0) + 1
    for key, c in counts.items():
        out[f"model_{re.sub(r'[^0-9A-Za-z_]', '_', key)}_executions"] = c
    return out


def _stats(name: str, x: np.ndarray, which: tuple[str, ...]) -> dict[str, float | None]:
    if not x.size:
        return {f"{w}_{name}_s": None for w in which}
    values = {"avg": float(x.mean()), "p99": float(np.percentile(x, 99.0)), "max": float(x.max())}
    return {f"{w}_{name}_s": values[w] for w in which}
