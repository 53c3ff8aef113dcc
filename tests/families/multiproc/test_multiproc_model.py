"""Hand-checkable stories for the multiproc model: exact times, SLA outcomes, oracle records."""

import numpy as np
import pytest

from helpers import Returns, assert_seed_determinism, columns, drive
from schedlab.errors import InvalidActionError
from schedlab.families.multiproc.model import Multiprocessor
from schedlab.families.multiproc.tasks import TaskSet
from schedlab.metrics.checker import check_trace
from schedlab.metrics.summary import summarize
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import names
from schedlab.sim.actions import Assign, Enqueue
from schedlab.sim.engine import Engine


def tasks(arrival=(0.0, 0.5, 3.0), size=(2.0, 4.0, 1.0), work=None, deadline=(1.5, 4.0, 3.75), priority=(1, 2, 1)):
    a = np.array(arrival)
    return TaskSet(a, np.array(size), np.array(work or size), np.array(priority), np.array(deadline),
                   np.zeros(a.size, dtype=int))  # fmt: skip


def run_model(scheduler, speeds=(1.0, 2.0), **task_kw):
    eng = Engine()
    model = Multiprocessor(eng, tasks(**task_kw), speeds)
    trace = drive(eng, model, scheduler)
    return model, trace


# The story: CPU 0 has speed 1, CPU 1 speed 2. Tasks (arrival, size, deadline): t0 (0, 2, 1.5),
# t1 (0.5, 4, 4.0), t2 (3, 1, 3.75). True work equals size.


def test_round_robin_story_exact_times():
    # CPU 0: t0 0 -> 2, t2 3 -> 4. CPU 1: t1 0.5 -> 2.5.
    _, trace = run_model("round-robin")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 0.0, 2.0), (1, 1, 0.5, 2.5),
                                                                    (2, 0, 3.0, 4.0)]  # fmt: skip
    assert trace.jobs["completion"] == [2.0, 2.5, 4.0]
    # The oracle: t0 on CPU 1 (done at 1, not 2); t1 on CPU 1 as chosen (2.5 vs 2 + 4 = 6 on
    # CPU 0); t2 on CPU 1 (3.5, not 4).
    assert columns(trace.decisions, ("time", "job", "worker", "oracle", "regret")) == [
        (0.0, 0, 0, 1, 1.0), (0.5, 1, 1, 1, 0.0), (3.0, 2, 0, 1, 0.5)]  # fmt: skip
    assert check_trace(trace).ok
    m = summarize(trace)
    assert m["avg_completion_time_s"] == pytest.approx((2 + 2 + 1) / 3)
    assert m["sla_violation_rate"] == pytest.approx(2 / 3)  # t0 (2 > 1.5) and t2 (4 > 3.75)
    assert m["oracle_agreement"] == pytest.approx(1 / 3)
    assert m["mean_oracle_regret_s"] == pytest.approx(1.5 / 3)
    # busy 3 s and 2 s from first arrival 0 to last end 4
    assert (m["utilization_cpu_0"], m["utilization_cpu_1"]) == (pytest.approx(0.75), pytest.approx(0.5))
    assert (m["utilization_min"], m["utilization_max"]) == (pytest.approx(0.5), pytest.approx(0.75))


def test_least_work_remaining_story_exact_times():
    # t0 at 0: both CPUs empty, a tie to the faster: CPU 1, 0 -> 1.
    # t1 at 0.5: CPU 1 has 2 - 0.5 * 2 = 1 unit left (0.5 s), CPU 0 none: CPU 0, 0.5 -> 4.5.
    #   lwr ignores t1's own size; the oracle sees CPU 1 finish it at 1 + 4 / 2 = 3 < 4.5.
    # t2 at 3: CPU 0 has 1.5 s left, CPU 1 is idle: CPU 1, 3 -> 3.5.
    _, trace = run_model("lwr")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 1, 0.0, 1.0), (1, 0, 0.5, 4.5),
                                                                    (2, 1, 3.0, 3.5)]  # fmt: skip
    assert columns(trace.decisions, ("worker", "oracle", "regret")) == [(1, 1, 0.0), (0, 1, 1.5), (1, 1, 0.0)]
    m = summarize(trace)
    assert m["avg_completion_time_s"] == pytest.approx((1 + 4 + 0.5) / 3)
    assert m["sla_violation_rate"] == pytest.approx(1 / 3)  # t1 (4.5 > 4)
    assert m["oracle_agreement"] == pytest.approx(2 / 3)


def test_oracle_story_agrees_with_itself():
    # t0 -> CPU 1 (0 -> 1); t1 -> CPU 1 behind it (1 -> 3, not 4.5 on CPU 0); t2 at 3 -> CPU 1
    # (t1 ends at 3, so 3 -> 3.5, not 4 on CPU 0).
    _, trace = run_model("oracle")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 1, 0.0, 1.0), (1, 1, 1.0, 3.0),
                                                                    (2, 1, 3.0, 3.5)]  # fmt: skip
    m = summarize(trace)
    assert m["oracle_agreement"] == 1.0 and m["mean_oracle_regret_s"] == 0.0
    assert m["sla_violation_rate"] == 0.0


def test_sla_violation_flips_with_the_decision():
    class Fixed:
        def __init__(self, cpus):
            self.cpus = cpus

        def reset(self, rng):
            pass

        def decide(self, view):
            return [Enqueue(view.task.id, self.cpus[view.task.id])]

    _, a = run_model(Fixed([0, 1, 0]))  # t2 on CPU 0: 3 -> 4, misses 3.75
    _, b = run_model(Fixed([0, 1, 1]))  # t2 on CPU 1: 3 -> 3.5, meets it
    assert [t.jobs["completion"][2] for t in (a, b)] == [4.0, 3.5]
    assert [summarize(t)["sla_violation_rate"] for t in (a, b)] == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert [t.decisions["oracle"][2] for t in (a, b)] == [1, 1]


def test_schedulers_see_declared_sizes_the_oracle_true_work():
    seen = []

    class Spy:
        def reset(self, rng):
            pass

        def decide(self, view):
            seen.append((view.task, view.cpus, view.true_completion_times()))
            return [Enqueue(view.task.id, 0)]

    # Declared sizes 4, 2; true work 6, 1.
    run_model(Spy(), arrival=(0.0, 1.0), size=(4.0, 2.0), work=(6.0, 1.0), deadline=(9.0, 9.0), priority=(1, 3))
    task, cpus, truth = seen[1]
    assert task == (1, 1.0, 2.0, 3, 9.0)  # id, arrival, declared size, priority, deadline
    assert cpus[0] == (0, 1.0, 1, 3.0, True, True)  # id, speed, queue length, 4 - 1 declared left, busy, alive
    assert cpus[1] == (1, 2.0, 0, 0.0, False, True)
    assert truth == [7.0, 1.5]  # CPU 0 frees at 6, then 1 unit; CPU 1 now + 1 / 2


@pytest.mark.parametrize(
    "actions, match",
    [
        ([Enqueue(0, 0), Enqueue(0, 1)], "task 0 is named twice"),
        ([Assign(0, 0, 1)], "expects Enqueue"),
        ([Enqueue(2, 0)], "task 2 is not waiting; the waiting task is 0"),
        ([Enqueue(0, 5)], r"no CPU 5 \(CPUs are 0..1\)"),
        ([Enqueue(0, False)], "no CPU False"),
    ],
)
def test_invalid_actions_are_rejected(actions, match):
    with pytest.raises(InvalidActionError, match=match):
        run_model(Returns(actions))


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="need at least one CPU"):
        Multiprocessor(Engine(), tasks(), ())
    with pytest.raises(ValueError, match="must be positive"):
        Multiprocessor(Engine(), tasks(), (1.0, 0.0))


def small():
    phases = [{"kind": "stable", "tasks": 60, "utilization": 0.8},
              {"kind": "drifting", "tasks": 60, "utilization": 0.5, "utilization_end": 1.2},
              {"kind": "bursty", "tasks": 60, "utilization": 0.8}]  # fmt: skip
    return load_scenario("multiproc", {"workload.phases": phases})


@pytest.mark.parametrize("scheduler", names("multiproc"))
def test_every_builtin_scheduler_passes_the_checker(scheduler):
    res = simulate(small(), scheduler, seed=3)
    report = check_trace(res.trace)
    assert report.ok, report.violations[:3]
    assert res.metrics["completed_jobs"] == 180
    assert 0.0 <= res.metrics["oracle_agreement"] <= 1.0
    assert res.metrics["mean_oracle_regret_s"] >= 0.0


@pytest.mark.parametrize("scheduler", ["random", "lwr"])
def test_same_seed_same_trace(scheduler):
    assert_seed_determinism(small(), scheduler)


def test_preset_orders_the_baselines_as_expected():
    m = {s: simulate("multiproc", s, seed=1).metrics for s in ("round-robin", "lwr", "oracle")}
    assert m["oracle"]["oracle_agreement"] == 1.0
    assert m["lwr"]["oracle_agreement"] > m["round-robin"]["oracle_agreement"]
    assert m["oracle"]["avg_completion_time_s"] <= m["lwr"]["avg_completion_time_s"]
    assert m["lwr"]["sla_violation_rate"] < m["round-robin"]["sla_violation_rate"]


def test_passed_tasks_wait_at_the_dispatcher_until_a_completion():
    # One CPU. t0 runs 0 -> 2; t1 (at 0.5) is passed over and offered again when t0 completes,
    # then runs 2 -> 6; t2 arrives at 3 and queues behind it, 6 -> 7.
    calls = []
    answers = [[Enqueue(0, 0)], [], [Enqueue(1, 0)], [Enqueue(2, 0)]]

    class Script:
        def reset(self, rng):
            pass

        def decide(self, view):
            calls.append((view.now, [t.id for t in view.waiting]))
            return answers.pop(0)

    _, trace = run_model(Script(), speeds=(1.0,))
    assert calls == [(0.0, [0]), (0.5, [1]), (2.0, [1]), (3.0, [2])]
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 0.0, 2.0), (1, 0, 2.0, 6.0),
                                                                    (2, 0, 6.0, 7.0)]  # fmt: skip
    assert columns(trace.decisions, ("time", "job", "worker", "oracle", "regret")) == [
        (0.0, 0, 0, 0, 0.0), (2.0, 1, 0, 0, 0.0), (3.0, 2, 0, 0, 0.0)]  # fmt: skip


def test_the_oracle_of_each_action_sees_the_ones_before_it():
    # t0 and t1 wait together (t0 passed over at 0). Placed in one answer, t1 first: the oracle
    # for t0 sees CPU 1 busy with t1 (4 units at speed 2: until 2.5) and picks CPU 0 (done at 2.5
    # too, the lower id wins the tie): so t0 on CPU 1 (done at 3.5) has regret 1. t2 at 3 would
    # be done at 4 on either CPU: no regret on CPU 0.
    answers = [[], [Enqueue(1, 1), Enqueue(0, 1)], [Enqueue(2, 0)]]

    class Script:
        def reset(self, rng):
            pass

        def decide(self, view):
            return answers.pop(0)

    _, trace = run_model(Script())
    assert columns(trace.decisions, ("time", "job", "worker", "oracle", "regret")) == [
        (0.5, 1, 1, 1, 0.0), (0.5, 0, 1, 0, 1.0), (3.0, 2, 0, 0, 0.0)]  # fmt: skip
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 1, 2.5, 3.5), (1, 1, 0.5, 2.5),
                                                                    (2, 0, 3.0, 4.0)]  # fmt: skip
