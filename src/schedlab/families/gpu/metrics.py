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

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from schedlab.metrics.summary import completed_jobs

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["gpu_metrics", "makespan_bounds"]


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
    bounds = makespan_bounds(trace)
    bound = bounds["makespan_lower_bound_s"]
    out.update(bounds)
    out["makespan_gap"] = makespan * sec / bound - 1.0 if bound else None
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


def makespan_bounds(trace: Trace) -> dict[str, float | None]:
    """Lower bounds on the makespan any schedule of this trace's work could reach (s).

    Execution times do not depend on the schedule, so the bounds read them from the trace
    (``end - start`` of each successful execution), with the gangs, the models' load times and
    memory (``extra["models"]``) and the switch cost (``scenario.cluster``). Times are from the
    earliest arrival, like ``makespan_s``. A first placement of model m on a GPU costs at least
    ``c_m = min(load_time, memory_gb / pcie_gb_per_s + switch_overhead_s)``: the GPU is empty
    (the load time) or holds another model (a switch moves both models). A node j of model m
    cannot start before its request arrives, its parents end, and the first placement of m
    ends; that placement starts no earlier than the earliest release ``R_m`` of a node of m.
    So node j executes within ``[s_j, ...)`` with ``s_j = max(arrival, parents' ends,
    R_m + c_m)`` (iterated to a fixed point), and the first placement of m occupies ``k_m``
    GPUs for ``c_m`` from ``R_m`` on (a pseudo-node).

    - ``makespan_bound_work_s``: for every t, ``t + W(t) / gpus``, where W(t) is the
      GPU-seconds that must run after t: per node (and pseudo-node) ``k * clip(s + p - t, 0,
      p)``. At t = the first arrival it is all execution plus every model's first placement
      on as many GPUs as it needs, over the GPUs.
    - ``makespan_bound_critical_path_s``: per node, ``s_j + p_j + `` its longest path of
      execution times to the end of its request (per request: arrival, the first load of its
      models, its DAG's longest path).
    - ``makespan_bound_gang_s``: nodes of models needing k GPUs or more can run at most
      ``gpus // k`` at a time; the work bound above over those nodes and ``gpus // k``
      slots, for every gang size k >= 2. When k > gpus / 2 the nodes never overlap (one
      slot); then also, for every t, ``t +`` their execution (and first placements) released at
      t or later ``+`` the shortest remaining path after any of them.
    - ``makespan_lower_bound_s``: the largest of the three.

    All are None when the trace has no request; 0.0 with no execution.
    """
    arrival_col = trace.jobs["arrival"]
    keys = ("makespan_bound_work_s", "makespan_bound_critical_path_s", "makespan_bound_gang_s")
    if not len(arrival_col):
        return dict.fromkeys((*keys, "makespan_lower_bound_s"))
    sec = trace.seconds_per_unit
    arrival = {j: float(a) for j, a in zip(trace.jobs["id"], arrival_col)}
    t0 = min(arrival.values())
    gpus = len(trace.workers["id"])
    t = trace.tasks
    n = len(t["start"])
    failed = t.get("failed") or [False] * n
    gangs = t.get("workers") or [[w] for w in t["worker"]]
    task_models = t.get("model") or [None] * n
    # Per executed node: (execution time, gang size, model).
    nodes: dict[tuple, tuple[float, int, str | None]] = {}
    for r in range(n):
        if failed[r]:
            continue
        key = (t["job"][r], t["stage"][r])
        p = max(0.0, float(t["end"][r]) - float(t["start"][r]))
        old = nodes.get(key)
        nodes[key] = (p + (old[0] if old else 0.0), len(gangs[r]), task_models[r])
    if not nodes or gpus < 1:
        return dict.fromkeys(keys, 0.0) | {"makespan_lower_bound_s": 0.0}
    cost = _first_placement_costs(trace, sec)
    parents: dict[tuple, list[tuple]] = {}
    children: dict[tuple, list[tuple]] = {}
    st = trace.stages
    for job, stage, ps in zip(st.get("job", []), st.get("stage", []), st.get("parents", [])):
        if (job, stage) in nodes:
            parents[(job, stage)] = [(job, q) for q in ps or () if (job, q) in nodes]
    for key, ps in parents.items():
        for q in ps:
            children.setdefault(q, []).append(key)
    order = _topological(list(nodes), parents)
    # Tails: the longest path of execution after each node, to the end of its request.
    tail = dict.fromkeys(nodes, 0.0)
    for key in reversed(order):
        tail[key] = max((tail[c] + nodes[c][0] for c in children.get(key, ())), default=0.0)
    # Earliest starts, iterated: a node's model must have been placed once before it runs.
    first: dict[str | None, float] = {}
    start: dict[tuple, float] = {}
    for _ in range(8):
        release: dict[tuple, float] = {}
        for key in order:
            p, k, m = nodes[key]
            rel = max([arrival[key[0]], *(start[q] + nodes[q][0] for q in parents.get(key, ()))])
            release[key] = rel
            start[key] = max(rel, first[m] + cost.get(m, 0.0)) if m in first else rel
        new = {}
        for key, rel in release.items():
            m = nodes[key][2]
            new[m] = min(new.get(m, math.inf), rel)
        if new == first:
            break
        first = new
    # Pieces of work: (earliest start, duration, gang size, model's gang size), pseudo-nodes
    # for the first placements included.
    pieces = [(start[key], p, k, k) for key, (p, k, _) in nodes.items() if p > 0]
    gang_of = {m: k for _, k, m in nodes.values()}
    pieces += [(r, cost[m], gang_of[m], gang_of[m]) for m, r in first.items() if cost.get(m, 0.0) > 0]
    s = np.array([x[0] for x in pieces], dtype=np.float64)
    p = np.array([x[1] for x in pieces], dtype=np.float64)
    k = np.array([x[2] for x in pieces], dtype=np.float64)
    work = _spread_bound(s, p, k, float(gpus))
    path = max(start[key] + nodes[key][0] + tail[key] for key in nodes)
    gang = 0.0
    for size in sorted({x[3] for x in pieces if x[3] >= 2}):
        sel = np.array([x[3] >= size for x in pieces])
        slots = gpus // size
        gang = max(gang, _spread_bound(s[sel], p[sel], np.ones(int(sel.sum())), float(slots)))
        if slots == 1:
            big = [(start[key], nodes[key][0], tail[key]) for key in nodes if nodes[key][1] >= size]
            big += [(first[m], cost[m], 0.0) for m in first if gang_of[m] >= size and cost.get(m, 0.0) > 0]
            gang = max(gang, _one_slot_bound(big))
    out = {
        "makespan_bound_work_s": max(0.0, work - t0) * sec,
        "makespan_bound_critical_path_s": max(0.0, path - t0) * sec,
        "makespan_bound_gang_s": max(0.0, gang - t0) * sec,
    }
    return out | {"makespan_lower_bound_s": max(out.values())}


def _first_placement_costs(trace: Trace, sec: float) -> dict[str, float]:
    """Per model, the least time (trace units) a GPU's first placement of it can take."""
    info = trace.extra.get("models") or {}
    cluster = (trace.scenario or {}).get("cluster") or {} if isinstance(trace.scenario, dict) else {}
    pcie = cluster.get("pcie_gb_per_s")
    over = cluster.get("switch_overhead_s")
    out = {}
    for m, mem, load in zip(info.get("model", []), info.get("memory_gb", []), info.get("load_time_s", [])):
        c = float(load)
        if pcie is None or over is None:  # switching from another model could cost anything
            c = 0.0
        elif pcie > 0:
            c = min(c, float(mem) / float(pcie) + float(over))
        out[m] = max(0.0, c) / sec
    return out


def _topological(keys: list, parents: dict) -> list:
    """``keys`` with every node after its parents (the DAGs have no cycle)."""
    order, seen = [], set()
    for key in keys:
        if key in seen:
            continue
        stack = [(key, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((q, False) for q in parents.get(node, ()) if q not in seen)
    return order


def _spread_bound(s: np.ndarray, p: np.ndarray, k: np.ndarray, capacity: float) -> float:
    """``max over t of t + W(t) / capacity``, ``W(t) = sum k * clip(s + p - t, 0, p)``.

    W is continuous and piecewise linear with breaks at every s and s + p, so the maximum is
    at one of them. It is located with prefix sums, then the best candidates are recomputed
    term by term, so that the rounding of long prefix sums cannot overstate it.
    """
    if not s.size or capacity <= 0:
        return 0.0
    e = s + p
    cand = np.unique(np.concatenate([s, e]))
    by_s = np.argsort(s, kind="stable")
    by_e = np.argsort(e, kind="stable")
    ss, es = s[by_s], e[by_e]
    kp = np.concatenate([[0.0], np.cumsum((k * p)[by_s])])
    ks_s = np.concatenate([[0.0], np.cumsum(k[by_s])])
    ke_s = np.concatenate([[0.0], np.cumsum((k * e)[by_s])])
    ks_e = np.concatenate([[0.0], np.cumsum(k[by_e])])
    ke_e = np.concatenate([[0.0], np.cumsum((k * e)[by_e])])
    i_s = np.searchsorted(ss, cand, side="left")  # pieces starting before t
    i_e = np.searchsorted(es, cand, side="right")  # pieces ended by t
    after = kp[-1] - kp[i_s]
    running = (ke_s[i_s] - ke_e[i_e]) - cand * (ks_s[i_s] - ks_e[i_e])
    approx = cand + (after + running) / capacity
    best = float(approx.max())
    # Recompute exactly every candidate near the maximum (rounding is far below 1e-6 of it).
    near = cand[approx >= best - 1e-6 * max(1.0, abs(best))][-64:]
    return max(t + math.fsum(k * np.clip(e - t, 0.0, p)) / capacity for t in near.tolist())


def _one_slot_bound(pieces: list[tuple[float, float, float]]) -> float:
    """Pieces that never overlap: max over t of t + their time released at t or later + least tail."""
    pieces = sorted(pieces)
    best, total, tail = 0.0, 0.0, math.inf
    for r, p, q in reversed(pieces):
        total += p
        tail = min(tail, q)
        best = max(best, r + total + tail)
    return best
