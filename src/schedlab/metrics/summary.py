"""One flat row of numbers per run, computed from its trace alone.

:func:`summarize` turns a :class:`~schedlab.sim.trace.Trace` into a ``dict`` of snake_case
keys whose names carry their unit (``_s`` seconds, ``_us`` microseconds; no suffix for counts
and ratios). Every time is converted to seconds with :attr:`Trace.seconds_per_unit`, so runs
recorded in milliseconds and in seconds compare directly. :data:`METRIC_INFO` gives tables a
human label and the direction of improvement for each key (:func:`metric_info` for any key).

The metrics do not check the trace; run :func:`schedlab.metrics.checker.check_trace` first
when the trace comes from an untrusted scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from schedlab import plugins

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = ["summarize", "completed_jobs", "table_keys", "METRIC_INFO", "MetricInfo", "metric_info", "Direction"]

#: Which way a metric improves; ``None``: neither way is better.
Direction = Literal["lower", "higher"] | None


class MetricInfo(NamedTuple):
    """How to show one metric: a label for tables and figures, and which way is better.

    ``direction`` is ``"lower"``, ``"higher"`` or ``None``. ``None`` marks a metric with no
    better direction: counts fixed by the workload, utilization (a busy cluster is not a good
    schedule when the jobs finish late), and costs a scheduler pays on purpose for something
    else, such as moving delay; tables never crown a scheduler on those.
    """

    label: str
    direction: Direction

    @property
    def lower_is_better(self) -> bool | None:
        """``True``/``False`` for a directed metric, ``None`` for one without a direction."""
        return None if self.direction is None else self.direction == "lower"


#: Per metric key: its label (times carry their unit) and its better direction.
METRIC_INFO: dict[str, MetricInfo] = {
    key: MetricInfo(label, direction)
    for key, (label, direction) in {
        "jobs": ("jobs", None),
        "completed_jobs": ("completed jobs", None),
        # Jobs a scheduler leaves undone are a cost of its own, whatever the mean JCT of the rest.
        "unfinished_jobs": ("unfinished jobs", "lower"),
        "avg_jct_s": ("mean JCT (s)", "lower"),
        "median_jct_s": ("median JCT (s)", "lower"),
        "p95_jct_s": ("p95 JCT (s)", "lower"),
        "p99_jct_s": ("p99 JCT (s)", "lower"),
        "max_jct_s": ("max JCT (s)", "lower"),
        "makespan_s": ("makespan (s)", "lower"),
        "tasks": ("task executions", None),
        "executor_utilization": ("executor utilization", None),
        # Moving executors is paid to shorten jobs; JCT is the outcome that judges it.
        "total_moving_delay_s": ("total moving delay (s)", None),
        "events": ("simulator events", None),
        "decisions": ("scheduler decisions", None),
        "decision_time_total_s": ("decision time, total (s)", "lower"),
        "decision_time_mean_us": ("decision time, mean (us)", "lower"),
        # hetero
        "makespan_lower_bound_s": ("makespan lower bound (s)", None),
        "makespan_gap": ("gap to makespan bound", "lower"),
        # edge
        "latency_mean_ms": ("mean latency (ms)", "lower"),
        "latency_p50_ms": ("p50 latency (ms)", "lower"),
        "latency_p95_ms": ("p95 latency (ms)", "lower"),
        "latency_p99_ms": ("p99 latency (ms)", "lower"),
        "deadline_miss_rate": ("deadline-miss rate", "lower"),
        "timeout_rate": ("timeout rate", "lower"),
        # Part of the latency, traded against queueing on a nearer node: latency judges it.
        "mean_network_delay_ms": ("mean network delay (ms)", None),
        "share_cv": ("CV of node shares", "lower"),
        "jain_fairness": ("Jain fairness", "higher"),
        # multiproc
        "avg_completion_time_s": ("mean completion time (s)", "lower"),
        "p95_completion_time_s": ("p95 completion time (s)", "lower"),
        "sla_violation_rate": ("SLA violation rate", "lower"),
        "oracle_agreement": ("oracle agreement", "higher"),
        "mean_oracle_regret_s": ("mean regret vs oracle (s)", "lower"),
        "utilization_min": ("min CPU utilization", None),
        "utilization_max": ("max CPU utilization", None),
        # gpu (per-GPU and per-model keys are open-ended; see schedlab.families.gpu.metrics)
        "min_jct_s": ("min JCT (s)", "lower"),
        "avg_wait_s": ("mean node wait (s)", "lower"),
        "p99_wait_s": ("p99 node wait (s)", "lower"),
        "max_wait_s": ("max node wait (s)", "lower"),
        "avg_node_response_s": ("mean node response (s)", "lower"),
        "p99_node_response_s": ("p99 node response (s)", "lower"),
        "model_switches": ("model switches", "lower"),
        "switch_time_s": ("switch time (s)", "lower"),
        "gpu_switches": ("GPU model replacements", "lower"),
        "model_loads": ("first model loads", "lower"),
        "load_time_s": ("model load time (s)", "lower"),
        "gpu_utilization": ("GPU utilization incl. switching", None),
        "makespan_bound_work_s": ("makespan bound, work (s)", None),
        "makespan_bound_critical_path_s": ("makespan bound, critical path (s)", None),
        "makespan_bound_gang_s": ("makespan bound, gangs (s)", None),
    }.items()
}


def metric_info(key: str) -> MetricInfo:
    """The label and direction of ``key``; a key not listed is labelled by itself, undirected.

    An unknown key gets no direction so that no table crowns a scheduler on a metric whose
    meaning it does not know.
    """
    return METRIC_INFO.get(key) or MetricInfo(key, None)


def summarize(trace: Trace) -> dict[str, float | int | None]:
    """Compute the summary metrics of one run.

    JCT (job completion time) is ``completion - arrival`` over the jobs that completed. When
    no job completed, the five JCT keys are ``None`` rather than ``0.0`` or NaN: zero would
    read as a perfect score and NaN breaks JSON. Percentiles use NumPy's default (linear)
    interpolation.

    ``makespan_s`` runs from the earliest job arrival to the latest task end or job
    completion (0.0 when there is neither). ``executor_utilization`` is busy task time over
    ``sum(worker capacities) * makespan`` (0.0 when that product is zero). ``events`` and
    ``decisions`` come from ``trace.counters`` (0 when absent); the decision times come from
    ``trace.timing["decide_s"]``, the wall seconds of each scheduler call (0.0 when absent).

    Args:
        trace: The run to summarise.

    Returns:
        The metrics, keyed as in :data:`METRIC_INFO`, in that order.

    Raises:
        ValueError: A time column holds something that is not a number.
    """
    sec = trace.seconds_per_unit
    arrival = _floats(trace.jobs["arrival"])
    done, completion = completed_jobs(trace)
    start = _floats(trace.tasks["start"])
    end = _floats(trace.tasks["end"])

    jct = (completion - arrival[done]) * sec
    if jct.size:
        p50, p95, p99 = np.percentile(jct, [50.0, 95.0, 99.0])
        jct_stats: dict[str, float | None] = {
            "avg_jct_s": float(jct.mean()),
            "median_jct_s": float(p50),
            "p95_jct_s": float(p95),
            "p99_jct_s": float(p99),
            "max_jct_s": float(jct.max()),
        }
    else:
        jct_stats = dict.fromkeys(("avg_jct_s", "median_jct_s", "p95_jct_s", "p99_jct_s", "max_jct_s"))

    finishes = np.concatenate([end, completion])
    makespan = 0.0
    if arrival.size and finishes.size:
        makespan = max(0.0, float(finishes.max() - arrival.min()))
    busy = float((end - start).sum())
    capacity = float(_floats(trace.workers["capacity"]).sum())
    utilization = busy / (capacity * makespan) if capacity * makespan > 0 else 0.0

    moves = trace.moves
    moving = float((_floats(moves["end"]) - _floats(moves["start"])).sum())
    decide_s = _floats(trace.timing.get("decide_s") or [])

    n_jobs = int(arrival.size)
    n_done = int(done.sum())
    common = {
        "jobs": n_jobs,
        "completed_jobs": n_done,
        "unfinished_jobs": n_jobs - n_done,
        **jct_stats,
        "makespan_s": makespan * sec,
        "tasks": int(start.size),
        "executor_utilization": utilization,
        "total_moving_delay_s": moving * sec,
        "events": int(trace.counters.get("events", 0)),
        "decisions": int(trace.counters.get("decisions", 0)),
        "decision_time_total_s": float(decide_s.sum()),
        "decision_time_mean_us": float(decide_s.mean()) * 1e6 if decide_s.size else 0.0,
    }
    spec = plugins.find(trace.family)
    if spec is not None and spec.metrics is not None:
        common.update(plugins.resolve(spec.metrics)(trace))
    return common


def table_keys(family: str) -> tuple[str, ...]:
    """The metric keys a comparison table of ``family`` shows, most important first."""
    spec = plugins.find(family)
    return spec.table_keys if spec is not None else plugins.FamilySpec.table_keys


def completed_jobs(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Which jobs completed (a boolean mask over the jobs table) and their completion times.

    Family metrics build on this, so that "completed" means the same thing everywhere.
    """
    col = trace.jobs["completion"]
    done = np.fromiter((c is not None for c in col), dtype=bool, count=len(col))
    return done, _floats([c for c in col if c is not None])


def _floats(values: list) -> np.ndarray:
    # One C-level conversion of the whole column; a per-row Python loop over a 250k-row
    # task table alone would take longer than the whole summary may.
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"a time or capacity column of the trace holds a value that is not a number ({e})") from None
