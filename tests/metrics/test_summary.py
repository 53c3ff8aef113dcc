"""Summary metrics on tiny hand-made traces whose values can be checked by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import two_job_trace
from schedlab.metrics.summary import METRIC_INFO, summarize
from schedlab.sim.trace import Trace

EXPECTED = {
    "jobs": 2,
    "completed_jobs": 2,
    "unfinished_jobs": 0,
    # JCTs are 4.0 s (job 0) and 3.5 s (job 1).
    "avg_jct_s": 3.75,
    "median_jct_s": 3.75,
    "p95_jct_s": 3.5 + 0.95 * 0.5,
    "p99_jct_s": 3.5 + 0.99 * 0.5,
    "max_jct_s": 4.0,
    "makespan_s": 4.5,
    "tasks": 5,
    # 8000 ms busy over 2 executors * 4500 ms.
    "executor_utilization": 8.0 / 9.0,
    "total_moving_delay_s": 0.5,
    "events": 12,
    "decisions": 3,
    "decision_time_total_s": 0.006,
    "decision_time_mean_us": 2000.0,
}


@pytest.mark.parametrize(("scale", "unit"), [(1.0, "ms"), (1e-3, "s")])
def test_hand_computed_values(scale: float, unit: str) -> None:
    """The same schedule in ms and in s gives the same metrics in seconds."""
    got = summarize(two_job_trace(scale, unit))
    assert list(got) == list(EXPECTED)
    for key, want in EXPECTED.items():
        assert got[key] == pytest.approx(want, rel=1e-12), key
    for key in ("jobs", "completed_jobs", "unfinished_jobs", "tasks", "events", "decisions"):
        assert type(got[key]) is int, key


def test_keys_match_metric_info_and_are_json() -> None:
    """Every key has a label and direction, in METRIC_INFO's order, and the row is plain JSON."""
    got = summarize(two_job_trace())
    assert list(got) == [k for k in METRIC_INFO if k in got]
    assert set(got) <= set(METRIC_INFO)
    assert all(
        isinstance(label, str) and direction in ("lower", "higher", None) for label, direction in METRIC_INFO.values()
    )
    assert json.loads(json.dumps(got)) == got


def test_unfinished_job_is_left_out_of_jct() -> None:
    """Only completed jobs count towards JCT; the makespan still covers every task."""
    tr = two_job_trace()
    tr.jobs["completion"][1] = None
    got = summarize(tr)
    assert (got["completed_jobs"], got["unfinished_jobs"]) == (1, 1)
    for key in ("avg_jct_s", "median_jct_s", "p95_jct_s", "p99_jct_s", "max_jct_s"):
        assert got[key] == pytest.approx(4.0)
    assert got["makespan_s"] == pytest.approx(4.5)


def test_no_completed_job_gives_none_jct() -> None:
    """With no completed job the JCT keys are None, never NaN or a flattering 0."""
    tr = two_job_trace()
    tr.jobs["completion"] = [None, None]
    got = summarize(tr)
    assert got["completed_jobs"] == 0 and got["unfinished_jobs"] == 2
    assert [got[k] for k in ("avg_jct_s", "median_jct_s", "p95_jct_s", "p99_jct_s", "max_jct_s")] == [None] * 5


def test_empty_trace() -> None:
    """An empty trace summarises to zeros and None without warnings."""
    got = summarize(Trace(family="spark"))
    assert got["jobs"] == 0 and got["tasks"] == 0
    assert got["makespan_s"] == 0.0 and got["executor_utilization"] == 0.0
    assert got["avg_jct_s"] is None
    assert got["events"] == 0 and got["decision_time_total_s"] == 0.0 and got["decision_time_mean_us"] == 0.0


def test_missing_timing_and_counters_default_to_zero() -> None:
    """A trace saved without timing still summarises."""
    tr = two_job_trace()
    tr.timing, tr.counters = {}, {}
    got = summarize(tr)
    keys = ("events", "decisions", "decision_time_total_s", "decision_time_mean_us")
    assert [got[k] for k in keys] == [0, 0, 0.0, 0.0]


def test_makespan_counts_a_completion_after_the_last_task() -> None:
    """The makespan runs to the later of the last task end and the last completion."""
    tr = two_job_trace()
    tr.jobs["completion"][1] = 6000.0
    assert summarize(tr)["makespan_s"] == pytest.approx(6.0)


def test_large_trace() -> None:
    """A 250k-row trace (the size of a TPC-H episode) summarises correctly."""
    n = 250_000
    rng = np.random.default_rng(0)
    start = np.sort(rng.uniform(0, 1e6, n))
    tr = Trace(family="spark")
    tr.workers.update(id=list(range(50)), kind=["executor"] * 50, capacity=[1] * 50)
    tr.jobs.update(id=list(range(100)), name=[""] * 100, arrival=[0.0] * 100, completion=[1e6 + 10] * 100)
    tr.tasks.update(
        job=(np.arange(n) % 100).tolist(),
        stage=[0] * n,
        task=list(range(n)),
        worker=(np.arange(n) % 50).tolist(),
        start=start.tolist(),
        end=(start + 5.0).tolist(),
    )
    tr.timing = {"decide_s": [1e-5] * 10_000}
    got = summarize(tr)
    assert got["tasks"] == n
