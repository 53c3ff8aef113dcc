"""The trace checker: a valid hand-made trace passes; each planted fault is caught by name."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest

from helpers import two_job_trace
from schedlab.errors import DataError, SchedlabError
from schedlab.metrics.checker import (
    ALL_CHECKS,
    CheckReport,
    TraceArrays,
    TraceViolationError,
    Violation,
    assert_trace_ok,
    check_capacity,
    check_trace,
)
from schedlab.sim.trace import Trace


def make_trace() -> Trace:
    """The valid two-job trace of helpers.two_job_trace; see its docstring for the layout."""
    return two_job_trace()


# Task rows of make_trace(), by name.
J0S0T0, J0S0T1, J1S0T0, J0S1T0, J1S0T1 = range(5)


def add_task(tr: Trace, job: int, stage: int, task: int, worker: int, start: float, end: float) -> None:
    """Append one task execution row."""
    row = {"job": job, "stage": stage, "task": task, "worker": worker, "start": start, "end": end}
    for col, v in row.items():
        tr.tasks[col].append(v)


def set_task(tr: Trace, row: int, **values: object) -> None:
    """Overwrite columns of one task row."""
    for col, v in values.items():
        tr.tasks[col][row] = v


def drop_task(tr: Trace, row: int) -> None:
    """Delete one task row."""
    for col in tr.tasks.values():
        del col[row]


def test_valid_trace_passes() -> None:
    """The hand-made trace is physically possible: every check is silent."""
    report = check_trace(make_trace())
    assert report.ok, report.violations
    assert report.violations == []
    assert report.checks == [
        "schema", "times", "tasks_once", "capacity", "precedence", "arrival", "completion", "faults"
    ]  # fmt: skip
    assert report.counts == dict.fromkeys(report.checks, 0)
    assert_trace_ok(make_trace())


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_each_check_alone_passes_valid_trace(check: Callable[..., list[Violation]]) -> None:
    """Each check can run on a bare Trace, and finds nothing in a valid one."""
    assert check(make_trace()) == []


# (id, how to break make_trace(), the checks that must fail, substrings of a message of the
# first of them). The set of failing checks is exact, so a fault is not reported by checks
# that do not own it.
CASES: list[tuple[str, Callable[[Trace], None], set[str], list[str]]] = [
    (
        "overlap-over-capacity",
        lambda tr: set_task(tr, J1S0T1, start=3000.0),
        {"capacity"},
        [
            "worker 1 runs 2 tasks at 3000.0 ms, over its capacity of 1: task (job 1, stage 0, task 1) "
            "starts while task (job 1, stage 0, task 0) runs"
        ],
    ),
    (
        "task-run-twice",
        lambda tr: add_task(tr, 1, 0, 0, 0, 4000.0, 4500.0),
        {"tasks_once"},
        ["task (job 1, stage 0, task 0) ran 2 times: on worker 1 at 1500.0 ms, on worker 0 at 4000.0 ms"],
    ),
    (
        "task-never-ran",
        lambda tr: drop_task(tr, J1S0T1),
        {"tasks_once", "completion"},
        ["task (job 1, stage 0, task 1) never ran"],
    ),
    (
        "many-tasks-never-ran",
        lambda tr: tr.stages["num_tasks"].__setitem__(2, 12),
        {"tasks_once", "completion"},
        ["stage 0 of job 1: 10 of 12 tasks never ran (tasks 2, 3, 4, 5, 6, ...)"],
    ),
    (
        "task-before-parent-finished",
        # Stage 0 of job 0 now waits for stage 1, yet ran first.
        lambda tr: tr.stages.update(parents=[[1], [], []]),
        {"precedence"},
        [
            "task (job 0, stage 0, task 0) on worker 0 starts at 0.0 ms before parent stage 1 of job 0 "
            "finished at 4000.0 ms",
            "task (job 0, stage 0, task 1) on worker 1 starts at 0.0 ms",
        ],
    ),
    (
        "task-before-parent-has-run-all",
        lambda tr: drop_task(tr, J0S0T1),
        {"tasks_once", "precedence", "completion"},
        ["task (job 0, stage 0, task 1) never ran"],
    ),
    (
        "task-before-job-arrived",
        lambda tr: tr.jobs["arrival"].__setitem__(1, 2000.0),
        {"arrival"},
        [
            "task (job 1, stage 0, task 0) on worker 1 starts at 1500.0 ms before job 1 arrives at 2000.0 ms",
            "worker 1 starts moving to job 1 at 1000.0 ms before the job arrives at 2000.0 ms",
        ],
    ),
    (
        "start-after-end",
        lambda tr: set_task(tr, J0S0T1, start=1200.0),
        {"times"},
        ["task (job 0, stage 0, task 1) on worker 1 ends at 1000.0 ms, before it starts at 1200.0 ms"],
    ),
    (
        "non-finite-time",
        lambda tr: set_task(tr, J0S0T1, end=math.nan),
        {"times"},
        ["task (job 0, stage 0, task 1) on worker 1 has a non-finite end (nan)"],
    ),
    (
        "none-time",
        lambda tr: set_task(tr, J0S0T1, start=None),
        {"times"},
        ["task (job 0, stage 0, task 1) on worker 1 has a non-finite start (nan)"],
    ),
    (
        "negative-arrival",
        lambda tr: tr.jobs["arrival"].__setitem__(0, -5.0),
        {"times"},
        ["job 0 arrives at negative time -5.0 ms"],
    ),
    (
        "completion-before-arrival",
        lambda tr: tr.jobs.update(arrival=[0.0, 1000.0], completion=[4000.0, 500.0]),
        {"times", "completion"},
        ["job 1 completes at 500.0 ms, before it arrives at 1000.0 ms"],
    ),
    (
        "task-during-move",
        lambda tr: tr.moves["end"].__setitem__(0, 1600.0),
        {"capacity"},
        [
            "task (job 1, stage 0, task 0) on worker 1 starts at 1500.0 ms while worker 1 is moving to job 1 "
            "(from 1000.0 ms to 1600.0 ms)"
        ],
    ),
    (
        "move-during-task",
        lambda tr: set_task(tr, J0S0T1, end=1200.0),
        {"capacity"},
        [
            "worker 1 starts moving to job 1 at 1000.0 ms while running task (job 0, stage 0, task 1) "
            "(from 0.0 ms to 1200.0 ms)"
        ],
    ),
    (
        "completion-disagrees",
        lambda tr: tr.jobs["completion"].__setitem__(0, 4100.0),
        {"completion"},
        ["job 0 is recorded complete at 4100.0 ms but its last task ends at 4000.0 ms"],
    ),
    (
        "completion-missing",
        lambda tr: tr.jobs["completion"].__setitem__(0, None),
        {"completion"},
        ["job 0 has no completion time but all 3 of its tasks ran (the last ended at 4000.0 ms)"],
    ),
    (
        "unknown-worker",
        lambda tr: set_task(tr, J0S1T0, worker=7),
        {"schema"},
        ["task (job 0, stage 1, task 0) on worker 7: worker 7 is not in the workers table"],
    ),
    (
        "unknown-stage",
        lambda tr: set_task(tr, J1S0T1, stage=5),
        {"schema", "tasks_once", "completion"},
        ["task (job 1, stage 5, task 1) on worker 1 references stage 5, which job 1 does not have"],
    ),
    (
        "unknown-job",
        lambda tr: set_task(tr, J1S0T1, job=9),
        {"schema", "tasks_once", "completion"},
        ["task (job 9, stage 0, task 1) on worker 1 references unknown job 9"],
    ),
    (
        "task-index-out-of-range",
        lambda tr: set_task(tr, J1S0T1, task=2),
        {"schema", "tasks_once", "completion"},
        ["task (job 1, stage 0, task 2) on worker 1 has task index 2 outside 0..1 (stage 0 of job 1 has 2 tasks)"],
    ),
    (
        "unknown-parent",
        lambda tr: tr.stages.update(parents=[[], [0, 9], []]),
        {"schema"},
        ["stage 1 of job 0 lists parent stage 9, which job 0 does not have"],
    ),
    (
        "move-to-unknown-job",
        lambda tr: tr.moves.update(job=[4]),
        {"schema"},
        ["worker 1 moves to unknown job 4 (moves row 0)"],
    ),
    (
        "decision-unknown-stage",
        lambda tr: tr.decisions["stage"].__setitem__(1, 3),
        {"schema"},
        ["decision at 1000.0 ms (decisions row 1) references stage 3, which job 1 does not have"],
    ),
    (
        "duplicate-worker-id",
        lambda tr: tr.workers.update(id=[0, 0]),
        {"schema"},
        ["worker id 0 appears more than once"],
    ),
]


@pytest.mark.parametrize(("plant", "failing", "messages"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_planted_violation_is_caught(plant: Callable[[Trace], None], failing: set[str], messages: list[str]) -> None:
    """Each kind of fault is found by the check that owns it, with ids and times named."""
    tr = make_trace()
    plant(tr)
    report = check_trace(tr)
    assert not report.ok
    assert {name for name, n in report.counts.items() if n} == failing
    first = min(failing, key=report.checks.index)
    found = [v.message for v in report.violations if v.check == first]
    for want in messages:
        assert any(want in m for m in found), (want, found)


def test_capacity_two_allows_two_tasks_but_not_three() -> None:
    """A worker of capacity 2 may run two tasks at once; the third start is the violation."""
    tr = make_trace()
    tr.workers["capacity"][0] = 2
    # A second task on worker 0 beside [0, 2000): legal on capacity 2.
    set_task(tr, J0S0T1, worker=0, start=500.0, end=1500.0)
    assert check_capacity(tr) == []
    # A third, overlapping both, is one too many.
    tr.stages["num_tasks"][2] = 3
    add_task(tr, 1, 0, 2, 0, 1000.0, 1200.0)
    found = check_capacity(tr)
    assert [v.message for v in found] == [
        "worker 0 runs 3 tasks at 1000.0 ms, over its capacity of 2: task (job 1, stage 0, task 2) starts while "
        "task (job 0, stage 0, task 0) and task (job 0, stage 0, task 1) run"
    ]


def test_capacity_ends_before_starts_at_equal_times() -> None:
    """Back-to-back tasks at the same instant, in any row order, are legal."""
    tr = make_trace()
    # Reverse the rows, so that the later task comes first in the table.
    for col in tr.tasks.values():
        col.reverse()
    assert check_capacity(tr) == []
    assert check_trace(tr).ok


def test_zero_length_task_occupies_nothing() -> None:
    """A task with start == end is legal even inside a busy interval of a capacity-1 worker."""
    tr = make_trace()
    tr.stages["num_tasks"][2] = 3
    add_task(tr, 1, 0, 2, 0, 3000.0, 3000.0)
    assert check_capacity(tr) == []


def test_two_moves_at_once_overload_a_worker() -> None:
    """A move occupies its whole worker, so two overlapping moves are a violation."""
    tr = make_trace()
    tr.moves.update(worker=[1, 1], job=[1, 1], start=[1000.0, 1200.0], end=[1500.0, 1500.0])
    found = check_capacity(tr)
    assert [v.message for v in found] == [
        "worker 1 starts moving to job 1 at 1200.0 ms while already moving to job 1 (from 1000.0 ms to 1500.0 ms)"
    ]


def test_tolerance_absorbs_float_noise() -> None:
    """Differences of rounding size are not violations; real ones are."""
    tr = make_trace()
    set_task(tr, J0S1T0, start=2000.0 - 1e-9)  # before its parent by a rounding error
    tr.jobs["completion"][0] = 4000.0 + 1e-4  # within 1e-6 relative of 4000
    assert check_trace(tr).ok
    tr.jobs["completion"][0] = 4000.0 + 0.1
    assert check_trace(tr).counts["completion"] == 1


def test_parent_that_never_finished_blocks_children() -> None:
    """A child task may not run if a task of its parent stage never ran at all."""
    tr = make_trace()
    drop_task(tr, J0S0T1)
    msgs = [v.message for v in check_trace(tr).violations if v.check == "precedence"]
    assert msgs == [
        "task (job 0, stage 1, task 0) on worker 0 starts at 2000.0 ms before parent stage 0 of job 0 finished "
        "(it never did: 1 of its 2 tasks ran)"
    ]


def test_unfinished_job_with_missing_task_is_fine() -> None:
    """A job recorded as never completing is legal when one of its tasks indeed never ran."""
    tr = make_trace()
    drop_task(tr, J1S0T1)
    tr.jobs["completion"][1] = None
    report = check_trace(tr)
    assert report.counts["completion"] == 0
    assert report.counts["tasks_once"] == 1


def test_counts_include_violations_beyond_the_cap() -> None:
    """The report keeps max_per_check messages per check but counts them all."""
    tr = make_trace()
    tr.jobs["arrival"] = [10_000.0, 10_000.0]
    tr.jobs["completion"] = [None, None]
    report = check_trace(tr, max_per_check=2)
    # Five tasks and one move start before their job arrives.
    assert report.counts["arrival"] == 6
    assert sum(v.check == "arrival" for v in report.violations) == 2
    assert len(check_trace(tr, max_per_check=0).violations) == 0


def test_report_to_dict_is_json() -> None:
    """to_dict() is plain JSON with the violations as objects."""
    tr = make_trace()
    tr.jobs["completion"][0] = 4100.0
    d = check_trace(tr).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["ok"] is False
    assert d["counts"]["completion"] == 1
    message = "job 0 is recorded complete at 4100.0 ms but its last task ends at 4000.0 ms"
    assert d["violations"] == [{"check": "completion", "message": message}]


def test_assert_trace_ok_raises_with_messages() -> None:
    """assert_trace_ok raises a SchedlabError quoting the first messages and keeping the report."""
    tr = make_trace()
    set_task(tr, J1S0T1, start=3000.0)
    with pytest.raises(TraceViolationError, match=r"capacity: 1") as info:
        assert_trace_ok(tr)
    assert isinstance(info.value, SchedlabError)
    assert "[capacity] worker 1 runs 2 tasks at 3000.0 ms" in str(info.value)
    assert isinstance(info.value.report, CheckReport) and not info.value.report.ok


def test_times_in_seconds_are_named_in_seconds() -> None:
    """Messages use the trace's own unit."""
    tr = make_trace()
    tr.time_unit = "s"
    tr.jobs["completion"][0] = 4100.0
    assert check_trace(tr).violations[0].message.endswith("at 4100.0 s but its last task ends at 4000.0 s")


def test_custom_checks_and_shared_arrays() -> None:
    """check_trace runs a chosen list of checks; one TraceArrays serves them all."""
    arrays = TraceArrays(make_trace())
    report = check_trace(arrays, checks=[check_capacity])
    assert report.checks == ["capacity"] and report.ok


@pytest.mark.parametrize("bad", [-1, 1.5, True, "20"])
def test_bad_max_per_check(bad: object) -> None:
    """max_per_check must be a non-negative int."""
    with pytest.raises(ValueError, match="max_per_check"):
        check_trace(make_trace(), max_per_check=bad)  # type: ignore[arg-type]


def test_malformed_table_is_a_data_error() -> None:
    """A table with a missing column cannot be checked, and says which."""
    tr = make_trace()
    del tr.tasks["end"]
    with pytest.raises(DataError, match="tasks: missing column"):
        check_trace(tr)


def random_valid_trace(n_jobs: int, n_workers: int, seed: int) -> Trace:
    """A larger valid trace: each job a chain of stages, list-scheduled on capacity-1 workers."""
    rng = np.random.default_rng(seed)
    tr = Trace(family="spark")
    tr.workers.update(id=list(range(n_workers)), kind=["executor"] * n_workers, capacity=[1] * n_workers)
    free = np.zeros(n_workers)
    arrival = np.sort(rng.uniform(0, 1000, n_jobs))
    completion = []
    for j in range(n_jobs):
        ready = arrival[j]
        for s in range(int(rng.integers(1, 4))):
            n = int(rng.integers(1, 40))
            tr.stages["job"].append(j)
            tr.stages["stage"].append(s)
            tr.stages["num_tasks"].append(n)
            tr.stages["parents"].append([s - 1] if s else [])
            stage_end = ready
            for k in range(n):
                w = int(np.argmin(free))
                start = max(free[w], ready)
                end = start + float(rng.uniform(1, 50))
                free[w] = end
                add_task(tr, j, s, k, w, start, end)
                stage_end = max(stage_end, end)
            ready = stage_end
        completion.append(ready)
    tr.jobs.update(id=list(range(n_jobs)), name=[""] * n_jobs, arrival=arrival.tolist(), completion=completion)
    return tr


def test_larger_random_trace_passes_and_a_planted_overlap_is_found() -> None:
    """Thousands of rows: the vectorised checks accept a valid schedule and pinpoint one fault."""
    tr = random_valid_trace(n_jobs=200, n_workers=16, seed=1)
    assert len(tr.tasks["job"]) > 3000
    assert check_trace(tr).ok
    # Put the last task on the worker of the one before it, at the same start.
    r = len(tr.tasks["job"]) - 1
    w_prev = tr.tasks["worker"][r - 1]
    if tr.tasks["worker"][r] == w_prev:
        pytest.skip("seed puts both tasks on one worker")
    set_task(tr, r, worker=w_prev, start=tr.tasks["start"][r - 1])
    report = check_trace(tr)
    assert report.counts["capacity"] == 1


def test_checker_is_fast_on_a_large_trace() -> None:
    """A 250k-row trace checks in well under a second."""
    n_workers, per_worker = 100, 2500
    n = n_workers * per_worker
    # Back-to-back unit tasks on each worker: one job, one stage of n tasks.
    tr = Trace(family="spark")
    tr.workers.update(id=list(range(n_workers)), kind=["executor"] * n_workers, capacity=[1] * n_workers)
    tr.jobs.update(id=[0], name=["big"], arrival=[0.0], completion=[float(per_worker)])
    tr.stages.update(job=[0], stage=[0], num_tasks=[n], parents=[[]])
    starts = np.tile(np.arange(per_worker, dtype=float), n_workers)
    tr.tasks.update(
        job=[0] * n,
        stage=[0] * n,
        task=list(range(n)),
        worker=np.repeat(np.arange(n_workers), per_worker).tolist(),
        start=starts.tolist(),
        end=(starts + 1.0).tolist(),
    )
    report = check_trace(tr)
    assert report.ok, report.violations
