"""The deadline-aware multiproc rules: slack fit (on arrival) and earliest-deadline pull (late binding)."""

import math

import numpy as np
import pytest

from helpers import assert_seed_determinism, columns, drive
from schedlab.errors import ConfigError
from schedlab.families.multiproc.model import CpuView, Multiprocessor, TaskView
from schedlab.families.multiproc.schedulers import (
    EarliestDeadlinePull,
    LeastWorkRemaining,
    SlackFit,
    estimated_completion,
)
from schedlab.families.multiproc.tasks import TaskSet
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import make
from schedlab.sim.engine import Engine
from schedlab.testing import check_scheduler

RULES = ("slack-fit", "slack-fit-triage", "edf-pull")


class _View:
    """A hand-made view with what the rules read: ``now``, ``waiting`` (``task``) and ``cpus``.

    ``cpus``: ``(speed, work_remaining)`` per CPU, or ``(speed, work_remaining, queue_length)``;
    by default a CPU with work remaining runs one task and one without is idle.
    """

    def __init__(self, now, cpus, *tasks):
        self.now = now
        self.waiting = tasks
        self.task = tasks[0]
        rows = []
        for c, (speed, work, *queue) in enumerate(cpus):
            n = queue[0] if queue else int(work > 0)
            rows.append(CpuView(c, speed, n, work, n > 0))
        self.cpus = self.workers = tuple(rows)


def task(size, deadline, *, id=0, now=0.0, priority=1):
    return TaskView(id, now, size, priority, deadline)


def pick(sched, view):
    (action,) = sched.decide(view)
    assert action.task == view.task.id
    return action.worker


# -- slack fit, one decision at a time --------------------------------------------------------


def test_a_task_with_slack_goes_to_the_slow_cpu():
    # Both CPUs idle. Size 1, due at 10: done at 1 on CPU 0 (speed 1), at 1/3 on CPU 1
    # (speed 3); CPU 0 meets the deadline with 9 s to spare, so the fast CPU stays free.
    view = _View(0.0, [(1.0, 0.0), (3.0, 0.0)], task(1.0, 10.0))
    assert pick(SlackFit(), view) == 0
    assert pick(LeastWorkRemaining(), view) == 1  # least work remaining: a tie, to the faster


def test_a_tight_deadline_gets_the_fast_cpu():
    # Due at 1.5: CPU 0 would finish at 1.0, only 0.5 s early (margin 1 s); CPU 1 at 1/3.
    view = _View(0.0, [(1.0, 0.0), (3.0, 0.0)], task(1.0, 1.5))
    assert pick(SlackFit(), view) == 1
    assert pick(SlackFit(margin_s=0.5), view) == 0  # 0.5 s early is enough for this margin
    assert pick(SlackFit(margin_s=0.5000001), view) == 1


def test_the_slowest_cpu_that_fits_not_the_slowest():
    # Speeds 1, 2, 3, idle; size 1, due at 1.6, margin 1 s: done at 1, 0.5, 1/3 -> CPUs 1 and 2
    # fit (0.5 + 1 <= 1.6), CPU 0 does not (1 + 1 > 1.6); the slower of the two is CPU 1.
    view = _View(0.0, [(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)], task(1.0, 1.6))
    assert pick(SlackFit(), view) == 1


def test_queued_work_counts_and_the_task_itself_too():
    # At 2 s: CPU 0 (speed 1) has 3 units queued, done at 2 + 4 = 6; CPU 1 (speed 3) has 3 units,
    # done at 2 + 4/3. Due at 7, margin 1: CPU 0 fits exactly (6 + 1 <= 7).
    cpus = [(1.0, 3.0), (3.0, 3.0)]
    assert pick(SlackFit(), _View(2.0, cpus, task(1.0, 7.0, now=2.0))) == 0
    assert pick(SlackFit(), _View(2.0, cpus, task(1.0, 6.99, now=2.0))) == 1
    view = _View(2.0, cpus, task(1.0, 7.0, now=2.0))
    assert [estimated_completion(view.now, c, 1.0) for c in view.cpus] == [6.0, pytest.approx(2.0 + 4.0 / 3.0)]


def test_ties_between_equal_speeds_go_to_the_earlier_estimate_then_the_lowest_id():
    idle_pair = _View(0.0, [(1.0, 0.5), (1.0, 0.0), (1.0, 0.0), (2.0, 0.0)], task(1.0, 10.0))
    assert pick(SlackFit(), idle_pair) == 1


def test_no_fit_falls_back_to_least_work_remaining():
    # Size 3, due at 1.5: CPU 0 (speed 1, idle) done at 3, CPU 1 (speed 3, 0.6 units queued) at
    # 1.2; neither meets the deadline with 1 s to spare, so least work remaining picks: CPU 0's
    # backlog is 0 against CPU 1's 0.2 s (it ignores the task's own size).
    view = _View(0.0, [(1.0, 0.0), (3.0, 0.6)], task(3.0, 1.5))
    assert pick(SlackFit(), view) == pick(LeastWorkRemaining(), view) == 0
    assert pick(SlackFit(triage=True), view) == 0  # CPU 1 would still make it: no triage


def test_triage_sends_a_task_late_everywhere_to_the_slowest_cpu():
    # Size 3, due at 0.5: done at 3.5 on CPU 0 (0.5 units queued), at 1 on CPU 1: late on both.
    view = _View(0.0, [(1.0, 0.5), (3.0, 0.0)], task(3.0, 0.5))
    assert pick(SlackFit(), view) == pick(LeastWorkRemaining(), view) == 1
    assert pick(SlackFit(triage=True), view) == 0


@pytest.mark.parametrize(
    "knobs, field, match",
    [
        ({"margin_s": -0.1}, "margin_s", "non-negative number of seconds, got -0.1"),
        ({"margin_s": math.nan}, "margin_s", "non-negative number of seconds"),
        ({"margin_s": math.inf}, "margin_s", "non-negative number of seconds"),
        ({"margin_s": "1"}, "margin_s", "non-negative number of seconds"),
        ({"margin_s": True}, "margin_s", "non-negative number of seconds"),
        ({"triage": 1}, "triage", "must be true or false, got 1"),
    ],
)
def test_bad_slack_fit_knobs_are_config_errors(knobs, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        SlackFit(**knobs)
    assert e.value.field == field
    with pytest.raises(ConfigError, match=match):
        make("slack-fit", "multiproc", **knobs)


def test_bad_pull_knob_is_a_config_error():
    with pytest.raises(ConfigError, match="must be true or false") as e:
        make("edf-pull", "multiproc", triage="yes")
    assert e.value.field == "triage"


def test_registered_knobs():
    assert make("slack-fit", "multiproc").get_params() == {"margin_s": 1.0, "triage": False}
    assert make("slack-fit-triage", "multiproc").get_params() == {"margin_s": 0.75, "triage": True}
    assert make("earliest-deadline-pull", "multiproc").get_params() == {"triage": True}
    s = make("slack-fit", "multiproc", margin_s=0.5)
    assert SlackFit(**s.get_params()).get_params() == {"margin_s": 0.5, "triage": False}


# -- earliest-deadline pull, one decision at a time -------------------------------------------


def test_pull_passes_while_no_cpu_is_idle():
    view = _View(0.0, [(1.0, 1.0), (3.0, 0.5)], task(1.0, 5.0))
    assert EarliestDeadlinePull().decide(view) == []


def test_pull_gives_the_earliest_deadlines_to_the_idle_cpus_fastest_first():
    # CPUs: 0 idle (speed 1), 1 busy (speed 2), 2 idle (speed 3), 3 running a task that has
    # overrun its declared size (no work remaining, but not idle). Tasks by deadline: 4 (9.0),
    # 2 (9.5), 1 (12), 3 (20).
    cpus = [(1.0, 0.0), (2.0, 1.0), (3.0, 0.0), (1.5, 0.0, 1)]
    tasks = [task(1.0, d, id=i) for i, d in ((1, 12.0), (2, 9.5), (3, 20.0), (4, 9.0))]
    actions = EarliestDeadlinePull().decide(_View(0.0, cpus, *tasks))
    assert [(a.task, a.worker) for a in actions] == [(4, 2), (2, 0)]


def test_pull_triage_puts_tasks_late_on_the_fastest_idle_cpu_last():
    # At 1 s, CPU 1 (speed 2) is the one idle CPU. Task 0, due at 1.4, would end at 1.5 even
    # there: late anyway, it goes after task 1 (due at 50). Without triage, earliest deadline.
    cpus = [(1.0, 1.0), (2.0, 0.0)]
    tasks = [task(1.0, 1.4, id=0, now=0.5), task(1.0, 50.0, id=1, now=0.6)]
    assert [a.task for a in EarliestDeadlinePull().decide(_View(1.0, cpus, *tasks))] == [1]
    assert [a.task for a in EarliestDeadlinePull(triage=False).decide(_View(1.0, cpus, *tasks))] == [0]
    # due at 1.5: it makes it exactly, so it is not late
    tasks[0] = task(1.0, 1.5, id=0, now=0.5)
    assert [a.task for a in EarliestDeadlinePull().decide(_View(1.0, cpus, *tasks))] == [0]


# -- whole runs on hand-built models: exact schedules -------------------------------------------


def taskset(arrival, size, deadline):
    a = np.array(arrival, dtype=float)
    s = np.array(size, dtype=float)
    return TaskSet(a, s, s.copy(), np.ones(a.size, dtype=int), np.array(deadline, dtype=float),
                   np.zeros(a.size, dtype=int))  # fmt: skip


def run(scheduler, ts, speeds=(1.0, 2.0)):
    eng = Engine()
    trace = drive(eng, Multiprocessor(eng, ts, speeds), scheduler)
    assert check_trace(trace).ok
    return trace


def violations(trace):
    return [c > d for c, d in zip(trace.jobs["completion"], trace.jobs["deadline"])]


def test_slack_fit_keeps_the_fast_cpu_for_the_urgent_task():
    # t0 (0 s, size 1, due at 10) and t1 (0.1 s, size 1, due at 1), CPUs of speed 1 and 2.
    # lwr: t0 to the faster CPU 1 (a tie), 0 -> 0.5; t1 to idle CPU 0, 0.1 -> 1.1: late.
    # slack fit (margin 0.25 s): t0 fits on CPU 0 (done at 1), 0 -> 1; t1 fits only on CPU 1
    # (done at 0.6), 0.1 -> 0.6: both on time.
    ts = taskset([0.0, 0.1], [1.0, 1.0], [10.0, 1.0])
    lwr = run("lwr", ts)
    assert columns(lwr.tasks, ("job", "worker", "start", "end")) == [(0, 1, 0.0, 0.5), (1, 0, 0.1, pytest.approx(1.1))]
    assert violations(lwr) == [False, True]
    fit = run(SlackFit(margin_s=0.25), ts)
    assert columns(fit.tasks, ("job", "worker", "start", "end")) == [(0, 0, 0.0, 1.0), (1, 1, 0.1, pytest.approx(0.6))]
    assert violations(fit) == [False, False]
    assert columns(fit.decisions, ("time", "job", "worker", "oracle")) == [(0.0, 0, 0, 1), (0.1, 1, 1, 1)]


def test_pull_binds_late_and_serves_the_earliest_deadline():
    # CPUs of speed 1 and 2. t0 (0 s, size 2) takes the fast CPU 1 until 1 s, t1 (0.1 s, size 2)
    # the slow CPU 0 until 2.1. t2 (0.2 s, due at 50) and t3 (0.3 s, due at 1.8) wait. At 1 s
    # CPU 1 frees: t3 first (1 -> 1.5, on time), then t2 (1.5 -> 2). Placed on arrival behind
    # t2, t3 would have ended at 2.
    ts = taskset([0.0, 0.1, 0.2, 0.3], [2.0, 2.0, 1.0, 1.0], [100.0, 100.0, 50.0, 1.8])
    trace = run("edf-pull", ts)
    assert columns(trace.decisions, ("time", "job", "worker")) == [(0.0, 0, 1), (0.1, 1, 0), (1.0, 3, 1), (1.5, 2, 1)]
    assert trace.jobs["completion"] == [1.0, pytest.approx(2.1), 2.0, 1.5]
    assert not any(violations(trace))
    # due at 1.4 instead, t3 is late even on CPU 1 at 1 s: with triage t2 goes first
    ts = taskset([0.0, 0.1, 0.2, 0.3], [2.0, 2.0, 1.0, 1.0], [100.0, 100.0, 50.0, 1.4])
    triaged = run("edf-pull", ts)
    assert columns(triaged.decisions, ("time", "job", "worker")) == [(0.0, 0, 1), (0.1, 1, 0), (1.0, 2, 1), (1.5, 3, 1)]
    plain = run(EarliestDeadlinePull(triage=False), ts)
    assert columns(plain.decisions, ("time", "job", "worker")) == [(0.0, 0, 1), (0.1, 1, 0), (1.0, 3, 1), (1.5, 2, 1)]


def test_pull_never_queues_behind_a_running_task():
    sc = small()
    trace = simulate(sc, "edf-pull", seed=3).trace
    starts = np.asarray(trace.tasks["start"])
    placed = dict(zip(trace.decisions["job"], trace.decisions["time"]))
    # placed when its CPU was idle: it starts the moment it is placed
    assert all(s == placed[j] for j, s in zip(trace.tasks["job"], starts))


# -- determinism and conformance --------------------------------------------------------------


def small():
    phases = [
        {"kind": "stable", "tasks": 60, "utilization": 0.8},
        {"kind": "drifting", "tasks": 60, "utilization": 0.5, "utilization_end": 1.2},
        {"kind": "bursty", "tasks": 60, "utilization": 0.8},
    ]
    return load_scenario("multiproc", {"workload.phases": phases})


@pytest.mark.parametrize("name", RULES)
def test_same_seed_same_trace(name):
    trace = assert_seed_determinism(small(), name)
    assert check_trace(trace).ok
    assert len(trace.jobs["completion"]) == 180


@pytest.mark.parametrize("name", RULES)
def test_conformance_under_overload(name):
    phases = [{"kind": "drifting", "tasks": 50, "utilization": 0.4, "utilization_end": 1.3}]
    check_scheduler(lambda: make(name, "multiproc"), "multiproc", overrides={"workload.phases": phases})
