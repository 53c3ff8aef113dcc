"""Faults: hand-checked stories of crashes, repairs and stragglers, and the checker on tampered traces."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from helpers import drive, job, stage
from schedlab.errors import ConfigError, InvalidActionError
from schedlab.families.hetero.model import HeteroCluster
from schedlab.families.hetero.tasks import Node, Task
from schedlab.families.spark.model import SparkCluster
from schedlab.metrics.checker import check_faults, check_trace
from schedlab.metrics.faults import fault_summary
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import make
from schedlab.sim.actions import Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultSpec, fault_stream

TWO_NODES = [Node("a", "pi5"), Node("b", "pi4")]
SMALL = {
    "multiproc": ("multiproc-short", {"workload.phases": [{"kind": "stable", "tasks": 40, "utilization": 0.8}]}),
    "hetero": ("hetero", {"workload.batches": [{"at_s": 0, "tasks": 10}, {"at_s": 20, "tasks": 6}]}),
    "edge": ("edge", {"cluster.nodes": 4, "workload.jobs": 120}),
    "gpu": ("gpu", {"workload.jobs": 6}),
    "spark": ("spark-synthetic", {"workload.jobs": 4, "cluster.executors": 5}),
}


def hetero(p, spec: FaultSpec, arrivals=None):
    p = np.asarray(p, dtype=float)
    tasks = [Task("sort", 500_000, a) for a in (arrivals or [0.0] * len(p))]
    model = HeteroCluster(Engine(), TWO_NODES[: p.shape[1]], tasks, p)
    model.enable_faults(spec, fault_stream(np.random.default_rng(0)))
    return model


def spark(spec: FaultSpec, num_tasks=2, executors=2):
    eng = Engine()
    jobs = [(0.0, job(stage(0, num_tasks=num_tasks)))]
    model = SparkCluster(
        eng, jobs, num_executors=executors, moving_delay_ms=100.0, warmup_delay_ms=10.0, rng=np.random.default_rng(0)
    )
    model.enable_faults(spec, fault_stream(np.random.default_rng(0)))
    return model


def rows(table, cols):
    return list(zip(*(table[c] for c in cols), strict=True))


TASK_COLS = ("job", "worker", "start", "end", "failed")
FAILURE_COLS = ("time", "worker", "kind", "repair", "job", "stage", "task")


class Scripted:
    """Answers from a list, then round robin; records every view it saw."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.views = []
        self.rr = make("round-robin", "hetero")

    def reset(self, rng):
        self.rr.reset(rng)

    def decide(self, view):
        self.views.append(view.snapshot())
        return self.answers.pop(0) if self.answers else self.rr.decide(view)


def crash_story():
    """Two nodes; task 0 takes 4 s on node 0 and 6 s on node 1, task 1 takes 3 s and 2 s.

    Round robin sends task 0 to node 0 and task 1 to node 1 at 0. Node 0 crashes at 1 s (back
    at 11 s): task 0 is lost and waits again; round robin's turn is node 0's, which is dead,
    so task 0 goes to node 1 and runs after task 1, from 2 s to 8 s.
    """
    model = hetero([[4.0, 6.0], [3.0, 2.0]], FaultSpec(crash_at=(1.0,), crash_workers=(0,), repair=10.0))
    sched = Scripted()
    return model, sched, drive(model.engine, model, sched)


# -- stories ------------------------------------------------------------------------------


def test_a_crash_mid_task_runs_it_again_elsewhere():
    model, sched, trace = crash_story()
    assert rows(trace.tasks, TASK_COLS) == [
        (0, 0, 0.0, 1.0, True),
        (1, 1, 0.0, 2.0, False),
        (0, 1, 2.0, 8.0, False),
    ]
    assert rows(trace.extra["failures"], FAILURE_COLS) == [(1.0, 0, "crash", 11.0, 0, 0, 0)]
    assert trace.jobs["completion"] == [8.0, 2.0]
    assert rows(trace.decisions, ("time", "job", "worker")) == [(0.0, 0, 0), (0.0, 1, 1), (1.0, 0, 1)]
    # The decision at the crash shows the lost task waiting again and the dead node.
    at_crash = sched.views[1]
    assert at_crash.now == 1.0 and [t.id for t in at_crash.waiting] == [0]
    assert [n.alive for n in at_crash.workers] == [False, True]
    assert at_crash.valid_actions() == [Enqueue(0, 1)]
    assert trace.counters["faults"] == 1 and trace.counters["lost_tasks"] == 1
    assert fault_summary(trace) == {"faults": 1, "lost_tasks": 1, "reexecutions": 1, "stragglers": 0}
    assert check_trace(trace).ok


def test_placing_on_a_dead_worker_is_invalid_and_the_task_keeps_waiting():
    model = hetero([[4.0, 6.0], [3.0, 2.0]], FaultSpec(crash_at=(1.0,), crash_workers=(0,), repair=10.0))
    model.start()
    model.engine.advance()  # the batch arrives
    model.apply([Enqueue(0, 0), Enqueue(1, 1)])
    assert model.engine.advance()  # the crash opens a decision point
    with pytest.raises(InvalidActionError, match=r"node 0 is down \(it crashed and is back at 11.0\)"):
        model.apply([Enqueue(0, 0)])
    assert model.waiting == [0]
    assert model.apply([Enqueue(0, 1)]) is False


def test_the_queue_of_a_dead_worker_goes_back_in_arrival_order():
    # Node 0 runs task 0 and queues tasks 1 and 2; it crashes at 1 s: all three wait again,
    # in arrival order, and round robin (all to node 1 now) runs them there in that order.
    model = hetero([[4.0, 1.0]] * 3, FaultSpec(crash_at=(1.0,), crash_workers=(0,), repair=None))
    sched = Scripted([Enqueue(0, 0), Enqueue(1, 0), Enqueue(2, 0)])
    trace = drive(model.engine, model, sched)
    assert [t.id for t in sched.views[1].waiting] == [0, 1, 2]
    assert rows(trace.tasks, TASK_COLS) == [
        (0, 0, 0.0, 1.0, True),
        (0, 1, 1.0, 2.0, False),
        (1, 1, 2.0, 3.0, False),
        (2, 1, 3.0, 4.0, False),
    ]
    assert rows(trace.extra["failures"], FAILURE_COLS) == [(1.0, 0, "crash", None, 0, 0, 0)]
    assert check_trace(trace).ok


@pytest.mark.parametrize("scheduler", ["round-robin", "random", "lwr", "slack-fit", "edf-pull", "oracle"])
def test_a_worker_never_repaired_gets_nothing_after_its_crash(scheduler):
    preset, over = SMALL["multiproc"]
    sc = load_scenario(preset, {**over, "faults": {"crash": {"at_s": [3.0], "workers": [3]}}})
    trace = simulate(sc, scheduler, seed=2).trace
    assert rows(trace.extra["failures"], ("time", "worker", "repair")) == [(3.0, 3, None)]
    on_dead = [r for r in rows(trace.tasks, TASK_COLS) if r[1] == 3]
    assert on_dead and all(start < 3.0 for _, _, start, _, _ in on_dead)
    assert all(c is not None for c in trace.jobs["completion"])
    assert check_trace(trace).ok


def test_the_last_worker_is_never_lost_for_good():
    # Both nodes crash for good at 1 s and 1.5 s: the second crash would leave none, so it is skipped.
    model = hetero([[4.0, 6.0], [3.0, 2.0]], FaultSpec(crash_at=(1.0, 1.5), crash_workers=(0, 1)))
    trace = drive(model.engine, model, make("round-robin", "hetero"))
    assert rows(trace.extra["failures"], ("time", "worker")) == [(1.0, 0)]
    assert trace.counters["faults_skipped"] == 1
    assert all(c is not None for c in trace.jobs["completion"]) and check_trace(trace).ok


def test_stragglers_take_factor_times_longer():
    p = [[4.0, 6.0], [3.0, 2.0], [1.0, 5.0], [2.0, 2.5]]
    model = hetero(p, FaultSpec(straggler_probability=1.0, straggler_factor=3.0))
    trace = drive(model.engine, model, make("round-robin", "hetero"))
    for j, w, s, e in rows(trace.tasks, ("job", "worker", "start", "end")):
        assert e - s == pytest.approx(3.0 * p[j][w])
    assert len(trace.extra["stragglers"]["job"]) == 4 and set(trace.extra["stragglers"]["factor"]) == {3.0}
    # Half of them, drawn: exactly the recorded stragglers are slowed.
    model = hetero(p * 5, FaultSpec(straggler_probability=0.5, straggler_factor=2.5))
    trace = drive(model.engine, model, make("round-robin", "hetero"))
    slow = set(trace.extra["stragglers"]["job"])
    assert 0 < len(slow) < 20
    for j, w, s, e in rows(trace.tasks, ("job", "worker", "start", "end")):
        assert e - s == pytest.approx((2.5 if j in slow else 1.0) * (p * 5)[j][w])


def test_spark_executor_crashed_during_its_move_never_arrives():
    # Both executors move to the job (100 ms); executor 1 crashes at 50 ms, back at 1050 ms.
    # Executor 0 runs both tasks: fresh (70 ms), then the rest wave (30 ms).
    model = spark(FaultSpec(crash_at=(50.0,), crash_workers=(1,), repair=1000.0))
    trace = drive(model.engine, model, "fair")
    assert rows(trace.moves, ("worker", "job", "start", "end")) == [(0, 0, 0.0, 100.0), (1, 0, 0.0, 50.0)]
    assert rows(trace.tasks, ("task", "worker", "start", "end", "failed")) == [
        (0, 0, 100.0, 170.0, False),
        (1, 0, 170.0, 200.0, False),
    ]
    assert rows(trace.extra["failures"], FAILURE_COLS) == [(50.0, 1, "crash", 1050.0, None, None, None)]
    assert trace.jobs["completion"] == [200.0]
    assert model.common.members == {0, 1}  # back after its repair
    assert check_trace(trace).ok


def test_spark_task_lost_to_a_crash_runs_again_with_its_index():
    # Both executors run a task from 100 ms (fresh, 70 ms); executor 0 crashes at 120 ms for
    # good. Its task 0 goes back to the stage; executor 1 takes it after its own (rest wave, 30 ms).
    model = spark(FaultSpec(crash_at=(120.0,), crash_workers=(0,)))
    trace = drive(model.engine, model, "fair")
    assert rows(trace.tasks, ("task", "worker", "start", "end", "failed")) == [
        (0, 0, 100.0, 120.0, True),
        (1, 1, 100.0, 170.0, False),
        (0, 1, 170.0, 200.0, False),
    ]
    assert rows(trace.extra["failures"], FAILURE_COLS) == [(120.0, 0, "crash", None, 0, 0, 0)]
    assert trace.jobs["completion"] == [200.0]
    assert check_trace(trace).ok


def test_spark_executor_waiting_at_its_job_takes_over_the_stage_of_a_lost_one():
    # Stage 0 (1 task) -> stage 1 (1 task). Fair sends executor 0 to stage 0 and executor 1 to
    # stage 1; executor 0 is lost on its way (50 ms, for good). Executor 1 arrives at 100 ms and
    # would wait for stage 0 forever: instead a round opens and it runs stage 0, then stage 1.
    eng = Engine()
    jobs = [(0.0, job(stage(0, num_tasks=1), stage(1, [0], num_tasks=1)))]
    model = SparkCluster(
        eng, jobs, num_executors=2, moving_delay_ms=100.0, warmup_delay_ms=10.0, rng=np.random.default_rng(0)
    )
    model.enable_faults(FaultSpec(crash_at=(50.0,), crash_workers=(0,)), fault_stream(np.random.default_rng(0)))
    trace = drive(eng, model, "fair")
    assert rows(trace.decisions, ("time", "stage", "limit")) == [(0.0, 0, 1), (0.0, 1, 1), (100.0, 0, 1), (170.0, 1, 1)]
    assert rows(trace.tasks, ("stage", "worker", "start", "end", "failed")) == [
        (0, 1, 100.0, 170.0, False),
        (1, 1, 170.0, 240.0, False),
    ]
    assert trace.jobs["completion"] == [240.0] and check_trace(trace).ok


def test_eft_places_a_gang_off_the_aligned_pairs_when_those_lost_a_gpu_for_good():
    # GPUs 0 and 3 crash for good at 0 s: the only pair left for the two-GPU model is (1, 2).
    faults = {"crash": {"at_s": [0.0, 0.0], "workers": [0, 3]}}
    trace = simulate(load_scenario("gpu", {"workload.jobs": 6, "faults": faults}), "eft", seed=0).trace
    assert all(c is not None for c in trace.jobs["completion"])
    assert [1, 2] in trace.tasks["workers"]
    assert all(f for g, f in zip(trace.tasks["workers"], trace.tasks["failed"]) if 0 in g or 3 in g)
    assert check_trace(trace).ok


def test_spark_executors_lost_during_moves():
    preset, over = SMALL["spark"]
    sc = load_scenario(preset, {**over, "faults": {"lost_on_move": 0.5, "crash": {"repair_s": 2.0}}})
    trace = simulate(sc, "fair", seed=1).trace
    f = trace.extra["failures"]
    lost = [k for k, kind in enumerate(f["kind"]) if kind == "lost_on_move"]
    assert lost
    moves = rows(trace.moves, ("worker", "start", "end"))
    for k in lost:  # each loss cuts a move of that executor short, at the time of the loss
        assert any(w == f["worker"][k] and s < f["time"][k] and e == f["time"][k] for w, s, e in moves)
    assert all(c is not None for c in trace.jobs["completion"]) and check_trace(trace).ok


def test_gpu_gang_lost_when_one_of_its_gpus_crashes():
    preset, over = SMALL["gpu"]
    clean = simulate(load_scenario(preset, over), "eft", seed=3).trace
    # The first execution on two GPUs, crashed halfway by its second GPU, repaired 20 s later.
    r = next(k for k, g in enumerate(clean.tasks["workers"]) if len(g) == 2)
    s, e, gang = clean.tasks["start"][r], clean.tasks["end"][r], clean.tasks["workers"][r]
    t = (s + e) / 2
    faults = {"crash": {"at_s": [t], "workers": [gang[1]], "repair_s": 20.0}}
    trace = simulate(load_scenario(preset, {**over, "faults": faults}), "eft", seed=3).trace
    failed = [k for k, x in enumerate(trace.tasks["failed"]) if x]
    assert len(failed) == 1
    k = failed[0]
    assert trace.tasks["workers"][k] == gang and trace.tasks["end"][k] == t
    job_stage = (trace.tasks["job"][k], trace.tasks["stage"][k])
    again = [
        x
        for x in range(len(trace.tasks["job"]))
        if (trace.tasks["job"][x], trace.tasks["stage"][x]) == job_stage and x != k
    ]
    assert len(again) == 1 and trace.tasks["start"][again[0]] - trace.tasks["setup"][again[0]] >= t
    for x in range(len(trace.tasks["job"])):  # nothing on the dead GPU until it is back
        if gang[1] in trace.tasks["workers"][x] and x != k:
            assert trace.tasks["end"][x] <= t or trace.tasks["start"][x] - trace.tasks["setup"][x] >= t + 20.0
    assert check_trace(trace).ok


def test_edge_request_travelling_to_a_node_that_dies_goes_back():
    preset, over = SMALL["edge"]
    sc = load_scenario(preset, {**over, "faults": {"crash": {"rate_per_s": 20.0, "repair_s": 0.05}}})
    trace = simulate(sc, "least-delay", seed=4).trace
    assert trace.counters["faults"] > 0 and all(c is not None for c in trace.jobs["completion"])
    assert check_trace(trace).ok


# -- the section and its stream -----------------------------------------------------------


@pytest.mark.parametrize("family", sorted(SMALL))
def test_an_empty_faults_section_draws_exactly_what_a_run_without_draws(family):
    preset, over = SMALL[family]
    scheduler = {"spark": "fair", "gpu": "eft", "edge": "least-loaded", "multiproc": "lwr", "hetero": "optimal"}[family]
    plain = simulate(load_scenario(preset, over), scheduler, seed=5).trace
    empty = simulate(load_scenario(preset, {**over, "faults": {}}), scheduler, seed=5).trace
    assert "faults" not in plain.scenario and empty.scenario["faults"]["crash"]["repair_s"] is None
    failed = empty.tasks.pop("failed")
    assert not any(failed)
    assert empty.tasks == plain.tasks and empty.jobs == plain.jobs
    assert empty.extra.pop("failures") == dict.fromkeys(FAILURE_COLS, [])
    assert empty.extra.pop("stragglers")["job"] == []
    assert empty.extra == plain.extra


@pytest.mark.parametrize("family", sorted(SMALL))
def test_faults_are_seeded(family):
    preset, over = SMALL[family]
    faults = {"crash": {"rate_per_s": 0.5 if family == "edge" else 0.02, "repair_s": 0.1 if family == "edge" else 5.0}}
    faults["stragglers"] = {"probability": 0.3}
    sc = load_scenario(preset, {**over, "faults": faults})
    scheduler = {"spark": "fair", "gpu": "ray-like", "edge": "random", "multiproc": "random", "hetero": "random"}[
        family
    ]
    a, b, c = (simulate(sc, scheduler, seed=s).trace for s in (7, 7, 8))
    assert a.digest() == b.digest() != c.digest()
    assert check_trace(a).ok and check_trace(c).ok


def test_bad_fault_settings_are_config_errors():
    with pytest.raises(ConfigError, match="unknown key"):
        load_scenario("hetero", {"faults": {"crash": {"rate": 1.0}}})
    with pytest.raises(ConfigError, match="one per time"):
        load_scenario("hetero", {"faults": {"crash": {"at_s": [1.0], "workers": [0, 1]}}})
    with pytest.raises(ConfigError, match="factor"):
        load_scenario("hetero", {"faults": {"stragglers": {"probability": 0.5, "factor": 0.5}}})
    with pytest.raises(ConfigError, match="lost_on_move"):
        load_scenario("hetero", {"faults": {"lost_on_move": 0.5}})
    with pytest.raises(ConfigError, match="lost_on_move"):
        load_scenario("spark-synthetic", {"faults": {"lost_on_move": 1.0}})
    with pytest.raises(ConfigError, match="no worker 9"):
        simulate(load_scenario("hetero", {"faults": {"crash": {"at_s": [1.0], "workers": [9]}}}), "random", 0)


# -- the checker on tampered traces -------------------------------------------------------


def story_trace():
    return crash_story()[2]


def add_task(trace, job, worker, start, end, failed):
    for col, v in dict(job=job, stage=0, task=0, worker=worker, start=start, end=end, failed=failed).items():
        trace.tasks[col].append(v)


def violations(trace, check=None):
    report = check_trace(trace)
    return [v for v in report.violations if check is None or v.check == check]


def test_checker_catches_a_task_run_on_a_dead_worker():
    trace = story_trace()
    trace.tasks["worker"][2] = 0  # the re-run of task 0 moved onto node 0, dead from 1 s to 11 s
    found = violations(trace, "faults")
    assert len(found) == 1
    assert (
        "task (job 0, stage 0, task 0) on worker 0 runs from 2.0 s to 8.0 s while worker 0 is down" in found[0].message
    )
    # Right after the repair it is fine (as far as faults go).
    trace.tasks["start"][2], trace.tasks["end"][2] = 11.0, 15.0
    assert check_faults(trace) == []


def test_checker_catches_a_lost_task():
    trace = story_trace()
    for col in trace.tasks.values():
        del col[2]  # task 0 lost at 1 s never ran again
    found = violations(trace, "tasks_once")
    assert len(found) == 1 and "never ran to completion: its 1 attempt(s) failed" in found[0].message


def test_checker_catches_a_duplicate_success():
    trace = story_trace()
    add_task(trace, 1, 0, 2.0, 5.0, False)
    found = violations(trace, "tasks_once")
    assert len(found) == 1 and "ran 2 times" in found[0].message


def test_checker_catches_a_failed_attempt_no_failure_explains():
    trace = story_trace()
    trace.tasks["failed"][1] = True  # task 1 "failed" on node 1 at 2 s: no failure there
    found = violations(trace, "faults")
    assert any(
        "failed attempt ending at 2.0 s, but no failure of its worker(s) then names it" in v.message for v in found
    )
    trace = story_trace()
    del trace.extra["failures"]
    assert "records no failure" in violations(trace, "faults")[0].message


def test_checker_catches_a_failure_without_its_lost_attempt_and_a_rerun_after_completion():
    trace = story_trace()
    trace.tasks["failed"][0] = False  # the lost attempt passed off as a run
    assert {v.check for v in violations(trace)} >= {"tasks_once", "faults"}
    assert any(
        "no failed attempt of that task on the worker ends then" in v.message for v in violations(trace, "faults")
    )
    trace = story_trace()
    add_task(trace, 1, 1, 9.0, 9.5, True)  # task 1 attempted again after it completed at 2 s
    f = trace.extra["failures"]
    for col, v in zip(FAILURE_COLS, (9.5, 1, "crash", None, 1, 0, 0), strict=True):
        f[col].append(v)
    found = violations(trace, "faults")
    assert len(found) == 1 and "starts again at 9.0 s after it completed at 2.0 s" in found[0].message


def test_checker_catches_malformed_failures():
    trace = story_trace()
    f = trace.extra["failures"]
    bad = copy.deepcopy(trace)
    bad.extra["failures"]["kind"][0] = "meteor"
    assert "expected one of crash, lost_on_move" in violations(bad, "faults")[0].message
    bad = copy.deepcopy(trace)
    bad.extra["failures"]["repair"][0] = 0.5
    assert "before it failed" in violations(bad, "faults")[0].message
    for col, v in zip(FAILURE_COLS, (5.0, 0, "crash", None, None, None, None), strict=True):
        f[col].append(v)  # node 0 "fails" again at 5 s, while it is down until 11 s
    assert "while already down" in violations(trace, "faults")[0].message
