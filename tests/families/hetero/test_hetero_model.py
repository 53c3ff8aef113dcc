"""Hand-checkable stories for the hetero model, invalid actions, determinism and the checker."""

import numpy as np
import pytest

from helpers import assert_seed_determinism, drive
from schedlab.errors import InvalidActionError
from schedlab.families.hetero.metrics import hetero_metrics
from schedlab.families.hetero.model import HeteroCluster
from schedlab.families.hetero.tasks import Node, Task
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import names
from schedlab.sim.actions import Enqueue, Place
from schedlab.sim.engine import Engine

TWO_NODES = [Node("a", "pi5"), Node("b", "pi4")]


def build(p, arrivals=None, nodes=TWO_NODES, expected=None):
    p = np.asarray(p, dtype=float)
    arrivals = arrivals or [0.0] * len(p)
    tasks = [Task("sort", 500_000, a) for a in arrivals]
    return HeteroCluster(Engine(), nodes[: p.shape[1]], tasks, p, expected)


def run_model(p, scheduler, arrivals=None, nodes=TWO_NODES, expected=None):
    model = build(p, arrivals, nodes, expected)
    eng = model.engine
    trace = drive(eng, model, scheduler)
    return model, trace


def rows(table, cols=("job", "worker", "start", "end")):
    return sorted(zip(*(table[c] for c in cols)))


class Fixed:
    """Returns the given action lists, one per call."""

    def __init__(self, *answers):
        self.answers = list(answers)

    def reset(self, rng):
        pass

    def decide(self, view):
        return self.answers.pop(0)


# Task x node durations. Task 2 is fastest anywhere; task 0 is slow on both nodes.
P1 = [[2.0, 5.0], [4.0, 6.0], [1.0, 3.0]]


def test_round_robin_exact_times():
    # t0 -> a, t1 -> b, t2 -> a: a runs t0 [0, 2) then t2 [2, 3); b runs t1 [0, 6).
    _, trace = run_model(P1, "round-robin")
    assert rows(trace.tasks) == [(0, 0, 0.0, 2.0), (1, 1, 0.0, 6.0), (2, 0, 2.0, 3.0)]
    assert trace.jobs["completion"] == [2.0, 6.0, 3.0]
    assert check_trace(trace).ok


def test_global_sjf_exact_times():
    # min-min: t2 on a finishes at 1 (a free at 1); then t0 on a at 3 beats t1 on a at 5 and
    # t0 on b at 5 (a free at 3); then t1: a at 7, b at 6 -> b.
    _, trace = run_model(P1, "global-sjf")
    assert rows(trace.tasks) == [(0, 0, 1.0, 3.0), (1, 1, 0.0, 6.0), (2, 0, 0.0, 1.0)]
    assert trace.jobs["completion"] == [3.0, 6.0, 1.0]


def test_greedy_sjf_exact_times():
    # Both nodes free: a (lowest id) takes its shortest, t2 (1); b, free at 0, takes its
    # shortest of t0 (5) and t1 (6): t0; a, free at 1, takes t1 (4) and ends at 5.
    _, trace = run_model(P1, "greedy-sjf")
    assert rows(trace.tasks) == [(0, 1, 0.0, 5.0), (1, 0, 1.0, 5.0), (2, 0, 0.0, 1.0)]
    assert trace.jobs["completion"] == [5.0, 5.0, 1.0]


def test_optimal_beats_min_min_on_sum_of_completions():
    # min-min: t2 on b (2), t1 on a (4), then t0 on b (2 + 9 = 11): sum 17.
    # Optimal (unique, by brute force): t0 alone on a (8); b runs t2 (2) then t1 (5): sum 15.
    p = [[8.0, 9.0], [4.0, 3.0], [8.0, 2.0]]
    _, mm = run_model(p, "global-sjf")
    _, opt = run_model(p, "optimal")
    assert mm.jobs["completion"] == [11.0, 4.0, 2.0]
    assert rows(opt.tasks) == [(0, 0, 0.0, 8.0), (1, 1, 2.0, 5.0), (2, 1, 0.0, 2.0)]
    assert sum(opt.jobs["completion"]) == 15.0


def test_second_batch_queues_behind_the_first():
    # Batch 1 at 0: t0 on a [0, 4). Batch 2 at 1: t1 joins a's queue and starts at 4.
    sched = Fixed([Enqueue(0, 0)], [Enqueue(1, 0)])
    model, trace = run_model([[4.0, 9.0], [2.0, 9.0]], sched, arrivals=[0.0, 1.0])
    assert rows(trace.tasks) == [(0, 0, 0.0, 4.0), (1, 0, 4.0, 6.0)]
    assert trace.decisions["time"] == [0.0, 1.0] and trace.decisions["worker"] == [0, 0]
    assert trace.extra["hetero_tasks"]["batch"] == [0, 1]
    assert check_trace(trace).ok


def test_view_shows_batch_expected_durations_and_backlogs():
    seen = []

    class Spy:
        def reset(self, rng):
            pass

        def decide(self, view):
            seen.append(
                (
                    view.now,
                    [t.id for t in view.batch],
                    [n.backlog_s for n in view.nodes],
                    [(n.busy, n.queued) for n in view.nodes],
                    view.batch[0].expected,
                )
            )
            if view.now == 0.0:
                return [Enqueue(0, 0), Enqueue(1, 0)]
            return [Enqueue(2, 1)]

    # Expected durations differ from the actual ones: the view shows the expected ones.
    actual = [[4.0, 8.0], [3.0, 6.0], [1.0, 1.0]]
    expected = [[5.0, 8.0], [2.0, 6.0], [1.5, 1.0]]
    run_model(actual, Spy(), arrivals=[0.0, 0.0, 1.0], expected=expected)
    # At 1: t0 ran 1 s of its expected 5 (4 left), t1 waits (2): backlog 6 on a.
    assert seen == [
        (0.0, [0, 1], [0.0, 0.0], [(False, 0), (False, 0)], (5.0, 8.0)),
        (1.0, [2], [6.0, 0.0], [(True, 1), (False, 0)], (1.5, 1.0)),
    ]


def test_one_task_per_call_is_allowed():
    class OneByOne:
        def reset(self, rng):
            pass

        def decide(self, view):
            return [Enqueue(view.batch[-1].id, 1)]

    _, trace = run_model(P1, OneByOne())
    assert trace.decisions["job"] == [2, 1, 0]
    assert rows(trace.tasks) == [(0, 1, 9.0, 14.0), (1, 1, 3.0, 9.0), (2, 1, 0.0, 3.0)]


@pytest.mark.parametrize(
    "actions, match",
    [
        ([Enqueue(7, 0)], r"no task 7 \(tasks are 0..2\)"),
        ([Enqueue(0, 2)], r"no node 2 \(nodes are 0..1\)"),
        ([Enqueue(0, -1)], "no node -1"),
        ([Enqueue(2, 0)], "task 2 has not arrived yet"),
        ([Enqueue(0, 0), Enqueue(0, 1)], "named twice"),
        ([Place(0, (0,))], "expects Enqueue"),
        ([("not", "an action")], "expects Enqueue"),
        ([Enqueue(True, 0)], "no task True"),
        ([Enqueue(0, 1.0)], r"no node 1\.0"),
    ],
)
def test_invalid_actions_are_rejected(actions, match):
    with pytest.raises(InvalidActionError, match=match):
        run_model(P1, Fixed(actions), arrivals=[0.0, 0.0, 5.0])


def test_already_enqueued_task_is_rejected():
    with pytest.raises(InvalidActionError, match="task 0 is already enqueued"):
        run_model(P1, Fixed([Enqueue(0, 0)], [Enqueue(0, 1)]))


def test_a_bad_action_applies_nothing():
    model = build(P1)
    model.start()
    model.engine.advance()
    with pytest.raises(InvalidActionError):
        model.apply([Enqueue(0, 0), Enqueue(9, 0)])
    assert [t.id for t in model.view().batch] == [0, 1, 2]
    assert model.running == [None, None]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(nodes=[]), "at least one node"),
        (dict(durations=np.ones((3, 1))), r"shape \(tasks, nodes\) = \(3, 2\)"),
        (dict(durations=np.array([[1.0, 0.0]] * 3)), "finite and > 0"),
        (dict(expected=np.full((3, 2), np.nan)), "expected must be finite"),
    ],
)
def test_bad_model_inputs(kwargs, match):
    args = dict(nodes=TWO_NODES, tasks=[Task("sort", 500_000)] * 3, durations=np.ones((3, 2)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        HeteroCluster(Engine(), **args)


def small(**over):
    return load_scenario("hetero", {"workload.batches": [{"at_s": 0, "tasks": 12}, {"at_s": 5, "tasks": 6}], **over})


@pytest.mark.parametrize("scheduler", names("hetero"))
def test_every_builtin_scheduler_passes_the_checker(scheduler):
    for seed in (0, 1):
        res = simulate(small(), scheduler, seed=seed)
        report = check_trace(res.trace)
        assert report.ok, report.violations[:3]
        assert res.metrics["completed_jobs"] == 18
        # One per batch; a trained policy places one task per decision.
        assert res.metrics["decisions"] == (18 if scheduler == "ppo" else 2)


@pytest.mark.parametrize("scheduler", ["random", "optimal"])
def test_same_seed_same_trace(scheduler):
    assert_seed_determinism(small(), scheduler)


def test_scheduler_does_not_shift_the_workload_or_durations():
    a = simulate(small(), "random", seed=5).trace
    b = simulate(small(), "optimal", seed=5).trace
    assert a.jobs["arrival"] == b.jobs["arrival"] and a.jobs["name"] == b.jobs["name"]
    assert a.extra["hetero_durations"] == b.extra["hetero_durations"]


def test_actual_durations_are_the_ones_run():
    res = simulate(small(), "global-sjf", seed=2)
    tr = res.trace
    d = tr.extra["hetero_durations"]
    m = len(tr.workers["id"])
    for job, worker, start, end in zip(tr.tasks["job"], tr.tasks["worker"], tr.tasks["start"], tr.tasks["end"]):
        assert end - start == pytest.approx(d["duration"][job * m + worker])
    assert d["duration"] != d["expected"]  # the preset adds noise


def test_metrics_come_from_the_trace_alone(tmp_path):
    from schedlab.sim.trace import load_trace

    res = simulate(small(), "optimal", seed=3)
    path = res.trace.save(tmp_path / "t.json")
    again = hetero_metrics(load_trace(path))
    assert again["makespan_lower_bound_s"] == res.metrics["makespan_lower_bound_s"]
    assert again["makespan_gap"] == pytest.approx(res.metrics["makespan_s"] / again["makespan_lower_bound_s"] - 1)


def test_passed_tasks_wait_until_a_completion_or_the_next_batch():
    # At 0 only t0 is placed (a: 0 -> 2), then a pass: t1 waits. t0's completion at 2 opens a
    # decision point, t1 goes to b (2 -> 8); t2 arrives at 5 and goes to a (5 -> 6).
    calls = []
    answers = [[Enqueue(0, 0)], [], [Enqueue(1, 1)], [Enqueue(2, 0)]]

    class Script:
        def reset(self, rng):
            pass

        def decide(self, view):
            calls.append((view.now, [t.id for t in view.waiting]))
            return answers.pop(0)

    _, trace = run_model(P1, Script(), arrivals=[0.0, 0.0, 5.0])
    assert calls == [(0.0, [0, 1]), (0.0, [1]), (2.0, [1]), (5.0, [2])]
    assert rows(trace.tasks) == [(0, 0, 0.0, 2.0), (1, 1, 2.0, 8.0), (2, 0, 5.0, 6.0)]
    assert check_trace(trace).ok


def test_node_view_queue_length_counts_the_running_task():
    model = build(P1)
    model.start()
    model.engine.advance()
    model.apply([Enqueue(0, 0), Enqueue(1, 0), Enqueue(2, 1)])
    nodes = model.view().nodes
    assert [(n.queued, n.busy, n.queue_length) for n in nodes] == [(1, True, 2), (0, True, 1)]
    assert model.running == [0, 2]


def test_node_view_names_the_tasks_it_holds_and_the_snapshot_agrees():
    model = build(P1)
    model.start()
    model.engine.advance()
    model.apply([Enqueue(0, 0), Enqueue(1, 0)])
    view = model.view()
    a, b = view.nodes
    assert (a.running.id, a.running_since, [t.id for t in a.queue]) == (0, 0.0, [1])
    assert (b.running, b.running_since, b.queue) == (None, None, ())
    snap = view.snapshot()
    assert (snap.nodes[0].running.id, snap.nodes[0].running_since) == (0, 0.0)
    assert [t.id for t in snap.nodes[0].queue] == [1]
    assert snap.nodes[0].queue[0].expected == tuple(P1[1])
