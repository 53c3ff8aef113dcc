"""Hand-checkable stories for the edge model, the closed loop, validation and determinism."""

import numpy as np
import pytest

from helpers import Returns, assert_seed_determinism, columns, drive
from schedlab.errors import InvalidActionError
from schedlab.families.edge.model import SAMPLE_COLUMNS, EdgeCluster
from schedlab.metrics.checker import check_trace
from schedlab.metrics.summary import summarize
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import names
from schedlab.sim.actions import Enqueue, Place
from schedlab.sim.engine import Engine


class StaticNodes:
    """Nodes whose state never changes; records what each step is told (busy share, queue)."""

    def __init__(self, cpu, background, delay):
        self.n = len(cpu)
        self.cpu = np.array(cpu, float)
        self.background = np.array(background, float)
        self.load = self.background.copy()
        self.mem = np.full(self.n, 8.0)
        self.delay = np.array(delay, float)
        self.steps = []

    def step(self, busy, queue):
        self.steps.append((busy.tolist(), queue.tolist()))


class Fixed:
    """Sends request i to nodes[i]."""

    def __init__(self, nodes):
        self.nodes = nodes

    def reset(self, rng):
        pass

    def decide(self, view):
        return [Enqueue(view.request.id, self.nodes[view.request.id])]


def run_model(scheduler, arrivals=(0.0, 1.0, 2.0), costs=(20.0, 20.0, 8.0), interval=25.0, nodes=None):
    # node 0: speed 2 cores * (1 - 0.5) = 1, delay 10 ms; node 1: speed 4, delay 50 ms.
    nodes = nodes or StaticNodes(cpu=[2.0, 4.0], background=[0.5, 0.0], delay=[10.0, 50.0])
    eng = Engine()
    n = len(arrivals)
    model = EdgeCluster(eng, nodes, np.array(arrivals), np.array(costs), np.ones(n),
                        interval_ms=interval, deadline_ms=40.0, timeout_ms=50.0)  # fmt: skip
    trace = drive(eng, model, scheduler)
    return model, trace


def test_round_robin_story_exact_times():
    # r0 -> node 0: reaches it at 10, served 20 ms (cost 20 at speed 1): ends 30.
    # r1 -> node 1: reaches it at 51, served 5 ms (cost 20 at speed 4): ends 56.
    # r2 -> node 0: reaches it at 12, waits for r0, served 8 ms: 30 -> 38.
    model, trace = run_model("round-robin")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 10.0, 30.0), (1, 1, 51.0, 56.0),
                                                                    (2, 0, 30.0, 38.0)]  # fmt: skip
    assert trace.jobs["completion"] == [30.0, 56.0, 38.0]
    assert trace.jobs["delay"] == [10.0, 50.0, 10.0]
    assert columns(trace.decisions, ("time", "job", "worker")) == [(0.0, 0, 0), (1.0, 1, 1), (2.0, 2, 0)]
    assert check_trace(trace).ok
    m = summarize(trace)
    # latencies 30, 55, 36 ms; deadline 40, timeout 50
    assert m["latency_p50_ms"] == 36.0
    assert m["latency_mean_ms"] == pytest.approx(121 / 3)
    assert m["deadline_miss_rate"] == pytest.approx(1 / 3)
    assert m["timeout_rate"] == pytest.approx(1 / 3)
    # shares 2:1 -> CV 0.5 / 1.5, Jain 9 / (2 * 5)
    assert m["share_cv"] == pytest.approx(1 / 3)
    assert m["jain_fairness"] == pytest.approx(0.9)
    assert m["avg_jct_s"] == pytest.approx(121 / 3 / 1000)


def test_least_delay_story_queues_everything_on_the_near_node():
    # All three go to node 0 (10 ms): r0 10 -> 30, r1 waits 30 -> 50, r2 waits 50 -> 58.
    _, trace = run_model("least-delay")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 10.0, 30.0), (1, 0, 30.0, 50.0),
                                                                    (2, 0, 50.0, 58.0)]  # fmt: skip
    m = summarize(trace)
    assert m["deadline_miss_rate"] == pytest.approx(2 / 3)  # latencies 30, 49, 56
    assert m["timeout_rate"] == pytest.approx(1 / 3)
    assert m["jain_fairness"] == pytest.approx(0.5)


def test_the_decision_flips_the_deadline_outcome():
    # r2 on node 0 ends at 38 (latency 36, met); on node 1 it reaches at 52, waits for r1 until
    # 56 and ends at 58 (latency 56: missed and timed out).
    _, a = run_model(Fixed([0, 1, 0]))
    _, b = run_model(Fixed([0, 1, 1]))
    assert a.jobs["completion"][2] == 38.0 and b.jobs["completion"][2] == 58.0
    assert summarize(a)["deadline_miss_rate"] == pytest.approx(1 / 3)
    assert summarize(b)["deadline_miss_rate"] == pytest.approx(2 / 3)


def test_nodes_are_told_their_busy_share_and_queue_each_sample():
    # Samples at 0, 25, 50, 75 ms (the last one after the last request ends at 56).
    nodes = StaticNodes(cpu=[2.0, 4.0], background=[0.5, 0.0], delay=[10.0, 50.0])
    _, trace = run_model("round-robin", nodes=nodes)
    assert nodes.steps == [
        ([15 / 25, 0.0], [2.0, 0.0]),  # node 0 busy 10..25 with r2 waiting; r1 still in flight
        ([13 / 25, 0.0], [0.0, 0.0]),  # node 0 busy 25..38
        ([0.0, 5 / 25], [0.0, 0.0]),  # node 1 busy 51..56
    ]
    samples = trace.extra["samples"]
    assert tuple(samples) == SAMPLE_COLUMNS
    assert samples["time"] == [0.0, 0.0, 25.0, 25.0, 50.0, 50.0, 75.0, 75.0]
    assert samples["queue"] == [0, 0, 2, 0, 0, 0, 0, 0]


def test_view_shows_the_request_and_the_observed_nodes():
    seen = []

    class Spy:
        def reset(self, rng):
            pass

        def decide(self, view):
            seen.append((view.now, view.now_ms, view.request, view.nodes, view.sampled_at, view.history(5).shape))
            assert view.waiting == (view.request,) and view.workers is view.nodes
            return [Enqueue(view.request.id, 0)]

    run_model(Spy(), arrivals=(0.0, 30.0), costs=(20.0, 5.0))
    now, now_ms, req, nodes, sampled_at, hist = seen[1]
    assert (now, now_ms, sampled_at, hist) == (0.03, 30.0, 25.0, (2, 2, 5))  # now in s, the rest in ms
    assert req == (1, 30.0, 5.0, 70.0, 80.0)  # id, arrival, cost, deadline, timeout
    # The sample at 25 saw r0 at node 0; the dispatcher knows it is still outstanding, and r0
    # is still in service (it ends at 30, after this arrival): queue_length 1.
    assert nodes[0][:] == (0, 2.0, 8.0, 10.0, 0.5, 1, 1, 1, True)  # last: alive (no faults here)
    assert nodes[1][:] == (1, 4.0, 8.0, 50.0, 0.0, 0, 0, 0, True)


@pytest.mark.parametrize(
    "actions, match",
    [
        ([Enqueue(0, 0), Enqueue(0, 1)], "request 0 is named twice"),
        ([Place(0, (0,))], "expects Enqueue"),
        ([Enqueue(1, 0)], "request 1 is not waiting; the waiting request is 0"),
        ([Enqueue(1, 0)], "request 1 has not arrived yet"),
        ([Enqueue(3, 0)], r"no request 3 \(requests are 0..2\)"),
        ([Enqueue(True, 0)], "no request True"),
        ([Enqueue(0, 2)], r"no node 2 \(nodes are 0..1\)"),
        ([Enqueue(0, -1)], "no node -1"),
        ([Enqueue(0, True)], "no node True"),
        ([Enqueue(0, 1.0)], "no node 1.0"),
    ],
)
def test_invalid_actions_are_rejected(actions, match):
    with pytest.raises(InvalidActionError, match=match):
        run_model(Returns(actions))


def small(**over):
    return load_scenario("edge", {"workload.jobs": 300, "cluster.nodes": 5, **over})


@pytest.mark.parametrize("scheduler", names("edge"))
def test_every_builtin_scheduler_passes_the_checker(scheduler):
    res = simulate(small(), scheduler, seed=3)
    report = check_trace(res.trace)
    assert report.ok, report.violations[:3]
    assert res.metrics["completed_jobs"] == 300
    assert res.metrics["latency_p99_ms"] >= res.metrics["latency_p95_ms"] >= res.metrics["latency_p50_ms"] > 0


@pytest.mark.parametrize("scheduler", ["random", "least-loaded"])
def test_same_seed_same_trace(scheduler):
    assert_seed_determinism(small(), scheduler)


def test_workload_and_background_do_not_depend_on_the_scheduler():
    a = simulate(small(), "random", seed=5).trace
    b = simulate(small(), "least-delay", seed=5).trace
    assert a.jobs["arrival"] == b.jobs["arrival"] and a.jobs["cost"] == b.jobs["cost"]
    # The first sample precedes any request's effect.
    first = lambda t: [t.extra["samples"][c][:5] for c in ("cpu", "mem", "delay", "load")]
    assert first(a) == first(b)


def test_decisions_change_future_node_state():
    # Everything to node 0, or everything to node 1: the chosen node's load and delay rise.
    sc = small(**{"workload.arrival_rate_per_ms": 0.05})
    loads = {}
    for target in (0, 1):

        class All:
            families = ("edge",)

            def reset(self, rng):
                pass

            def decide(self, view, target=target):
                return [Enqueue(view.request.id, target)]

        s = simulate(sc, All(), seed=2).trace.extra["samples"]
        node = np.array(s["node"])
        loads[target] = {k: np.array(s[k])[node == 0].mean() for k in ("load", "delay", "queue", "mem")}
    assert loads[0]["load"] > loads[1]["load"] + 0.1
    assert loads[0]["delay"] > loads[1]["delay"]
    assert loads[0]["queue"] > loads[1]["queue"]
    assert loads[0]["mem"] < loads[1]["mem"]


def test_preset_runs_by_name_and_stays_in_range():
    res = simulate("edge", "least-loaded", seed=1)
    assert check_trace(res.trace).ok
    s = res.trace.extra["samples"]
    assert 1.0 <= min(s["cpu"]) and max(s["cpu"]) <= 5.0
    assert 2.0 <= min(s["mem"]) and max(s["mem"]) <= 16.0
    assert 5.0 <= min(s["delay"]) and max(s["delay"]) <= 500.0
    assert 0.0 <= min(s["load"]) and max(s["load"]) <= 1.0
    assert res.trace.time_unit == "ms" and res.trace.workers["capacity"] == [1] * 10


class Script:
    """Answers from a list, one per call, recording (now in ms, waiting ids) at each call."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def reset(self, rng):
        pass

    def decide(self, view):
        self.calls.append((view.now_ms, [r.id for r in view.waiting]))
        return self.answers.pop(0)


def test_passed_requests_wait_at_the_dispatcher_until_an_end_of_service():
    # r0 -> node 0 at 0 (reaches it at 10, served 10 -> 30). r1 (at 1) and r2 (at 2) are passed
    # over; r0's end of service at 30 opens a decision point, where both go to node 1: they
    # reach it at 80, r1 is served 80 -> 85, r2 85 -> 87.
    s = Script([Enqueue(0, 0)], [], [], [Enqueue(1, 1), Enqueue(2, 1)])
    _, trace = run_model(s)
    assert s.calls == [(0.0, [0]), (1.0, [1]), (2.0, [1, 2]), (30.0, [1, 2])]
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 10.0, 30.0), (1, 1, 80.0, 85.0),
                                                                    (2, 1, 85.0, 87.0)]  # fmt: skip
    assert columns(trace.decisions, ("time", "job", "worker")) == [(0.0, 0, 0), (30.0, 1, 1), (30.0, 2, 1)]
    assert trace.jobs["completion"] == [30.0, 85.0, 87.0]
    assert check_trace(trace).ok


def test_requests_never_sent_stay_unserved_and_sampling_stops():
    s = Script([Enqueue(0, 0)], [], [], [])
    _, trace = run_model(s)
    assert trace.jobs["completion"] == [30.0, None, None]
    assert trace.tasks["job"] == [0]
    assert trace.extra["samples"]["time"][-1] == 50.0  # the first sample after r0's end of service
