"""Hand-checkable stories for the gpu model: switch costs, gangs, readiness, invalid actions."""

import numpy as np
import pytest

from schedlab.errors import ConfigError, InvalidActionError
from schedlab.families.gpu.gswarm import parse_config
from schedlab.families.gpu.model import EstimatedTimes, ExecutionTimeSource, GpuCluster
from schedlab.metrics.checker import check_trace
from schedlab.metrics.summary import summarize
from schedlab.sim.actions import Assign, Place
from schedlab.sim.engine import Engine


class Script:
    """Places nodes as a list says: ``[(node_id, request_index, gpus), ...]``, each when ready."""

    def __init__(self, plan):
        self.plan = list(plan)

    def reset(self, rng):
        pass

    def decide(self, view):
        for node_id, req, gpus in self.plan:
            for r in view.ready:
                if r.node_id == node_id and r.request == req and all(view.gpus[g].idle for g in gpus):
                    self.plan.remove((node_id, req, gpus))
                    return [Place(r.task, gpus)]
        return []


def test_two_requests_on_one_gpu_exact_times(tiny):
    # r0 and r1 both run A (n1) then B (n2), offline on one GPU. Ray-like: r0.n1 loads A (5 s)
    # and runs 5..9; at 9 the FIFO queue is [r1.n1, r0.n2]: r1.n1 keeps A (no switch) 9..12;
    # r0.n2 switches A->B ((10 + 6) / 16 + 2 = 3 s) and runs 15..17; r1.n2 finds B 17..18.
    specs = [("ab", {"n1": 4, "n2": 2}, 0), ("ab", {"n1": 3, "n2": 1}, 0)]
    _, trace = tiny.run("ray-like", specs)
    assert tiny.rows(trace, "job", "stage", "workers", "start", "end", "setup", "ready") == [
        (0, 0, [0], 5.0, 9.0, 5.0, 0.0),
        (1, 0, [0], 9.0, 12.0, 0.0, 0.0),
        (0, 1, [0], 15.0, 17.0, 3.0, 9.0),
        (1, 1, [0], 17.0, 18.0, 0.0, 12.0),
    ]
    assert trace.tasks["previous_models"] == [[None], ["A"], ["A"], ["B"]]
    assert trace.jobs["completion"] == [17.0, 18.0]
    assert check_trace(trace).ok
    m = summarize(trace)
    assert (m["makespan_s"], m["avg_jct_s"], m["min_jct_s"], m["max_jct_s"]) == (18.0, 17.5, 17.0, 18.0)
    assert (m["model_switches"], m["switch_time_s"], m["model_loads"], m["load_time_s"]) == (1, 3.0, 1, 5.0)
    # Waits (dispatch - ready): 0, 9, 3, 5.
    assert m["avg_wait_s"] == pytest.approx(17 / 4) and m["max_wait_s"] == 5.0 + 4.0
    assert (m["gpu0_executions"], m["gpu0_busy_s"], m["gpu0_utilization"]) == (4, 18.0, 1.0)
    assert m["executor_utilization"] == pytest.approx(10 / 18)
    assert (m["model_A_executions"], m["model_B_executions"], m["model_S_executions"]) == (2, 2, 0)


def test_gang_switch_cost_counts_every_gpu(tiny):
    # G on (0, 1) loads (2 s each); S on GPU 1 replaces G there (2.375 s); G again on (0, 1):
    # GPU 0 still holds G but GPU 1 must switch back, so the gang waits 2.375 s. (GSwarm
    # charged only the first GPU's switch: 0 s, and overlapped GPU 1's switch.)
    cfg = {**tiny.config, "workflows": {"w": {"name": "w", "nodes": [
        {"id": "g1", "model": "G"}, {"id": "s", "model": "S"}, {"id": "g2", "model": "G"}],
        "edges": [{"from": "g1", "to": "s"}, {"from": "s", "to": "g2"}]}}}  # fmt: skip
    plan = [("g1", 0, (0, 1)), ("s", 0, (1,)), ("g2", 0, (0, 1))]
    _, trace = tiny.run(Script(plan), [("w", {"g1": 1, "s": 1, "g2": 1}, 0)], gpus=2, config=cfg)
    assert tiny.rows(trace, "workers", "start", "end", "setup", "previous_models") == [
        ([0, 1], 2.0, 3.0, 2.0, [None, None]),
        ([1], 5.375, 6.375, 2.375, ["G"]),
        ([0, 1], 8.75, 9.75, 2.375, ["G", "S"]),
    ]
    m = summarize(trace)
    assert (m["model_switches"], m["switch_time_s"], m["gpu_switches"]) == (2, 4.75, 2)
    # GPU 1 is busy from 0 to 9.75 without a gap; GPU 0 idles from 3 to 6.375.
    assert (m["gpu0_busy_s"], m["gpu1_busy_s"]) == (2.0 + 1.0 + 2.375 + 1.0, 9.75)


def test_gang_waits_for_consecutive_gpus(tiny):
    # Three GPUs. r0 (S, 1 s) on GPU 0 ends at 2; r1 (S, 10 s) holds GPU 1 until 11; the
    # 2-GPU r2 sees GPUs 0 and 2 idle from 2 on, not consecutive, and waits for GPU 1: at 11
    # it takes (0, 1), both switching S -> G (2.375 s).
    specs = [("s", {"s": 1}, 0), ("s", {"s": 10}, 0), ("g", {"g": 5}, 0)]
    _, trace = tiny.run("ray-like", specs, gpus=3)
    assert tiny.rows(trace, "job", "workers", "start", "end", "setup") == [
        (0, [0], 1.0, 2.0, 1.0),
        (1, [1], 1.0, 11.0, 1.0),
        (2, [0, 1], 13.375, 18.375, 2.375),
    ]
    assert trace.tasks["worker"] == [0, 1, 0]
    assert trace.decisions == {"time": [0.0, 0.0, 11.0], "job": [0, 1, 2], "stage": [0, 0, 0], "limit": [1, 1, 2]}
    assert check_trace(trace).ok


def test_ray_like_order_on_a_tie_at_t0(tiny):
    # Offline, all three arrive at 0 and are taken in file order: r0 -> GPU 0, r1 -> GPU 1
    # (equally free, lowest id); r2 waits and takes the first GPU to free (GPU 1 at 3), which
    # holds S. GSwarm popped equal-time arrivals in arbitrary heap order.
    specs = [("s", {"s": 3}, 0), ("s", {"s": 2}, 0), ("s", {"s": 1}, 0)]
    _, trace = tiny.run("ray-like", specs, gpus=2)
    assert tiny.rows(trace, "job", "worker", "start", "end") == [(0, 0, 1.0, 4.0), (1, 1, 1.0, 3.0), (2, 1, 3.0, 4.0)]


def test_ray_like_prefers_the_gpu_holding_the_model(tiny):
    # Online: r0 (A) on GPU 0 ends at 6; r1 (B) on GPU 1 ends at 4. r2 (A) arrives at 10:
    # both idle, GPU 1 became free earlier but GPU 0 holds A, so A goes to GPU 0.
    cfg = {**tiny.config, "workflows": {"a": {"name": "a", "nodes": [{"id": "x", "model": "A"}]},
                                        "b": {"name": "b", "nodes": [{"id": "x", "model": "B"}]}}}  # fmt: skip
    specs = [("a", {"x": 1}, 0), ("b", {"x": 1}, 0), ("a", {"x": 1}, 10)]
    _, trace = tiny.run("ray-like", specs, gpus=2, online=True, config=cfg)
    assert tiny.rows(trace, "job", "worker", "start", "setup") == [
        (1, 1, 3.0, 3.0),
        (0, 0, 5.0, 5.0),
        (2, 0, 10.0, 0.0),
    ]


def test_online_arrivals_from_the_earliest_timestamp(tiny):
    specs = [("s", {"s": 1}, 100.0), ("s", {"s": 1}, 103.5)]
    _, trace = tiny.run("ray-like", specs, gpus=1, online=True)
    assert trace.jobs["arrival"] == [0.0, 3.5]
    assert tiny.rows(trace, "start", "end") == [(1.0, 2.0), (3.5, 4.5)]


def test_child_waits_for_all_parents_and_joins_in_node_order():
    cfg = parse_config({
        "models": {"S": {"memory_gb": 1, "gpus_required": 1, "load_time_seconds": 0}},
        "workflows": {"fork": {"nodes": [{"id": "root", "model": "S"}, {"id": "left", "model": "S"},
                                         {"id": "right", "model": "S"}, {"id": "join", "model": "S"}],
                               "edges": [{"from": "root", "to": "right"}, {"from": "root", "to": "left"},
                                         {"from": "left", "to": "join"}, {"from": "right", "to": "join"}]}},
    })  # fmt: skip
    from schedlab.families.gpu.gswarm import WorkflowRequest

    req = [WorkflowRequest("r", "fork", 0.0, {"root": 1, "left": 5, "right": 2, "join": 1})]
    seen = []

    class Spy:
        def decide(self, view):
            seen.append((view.now, [r.node_id for r in view.ready], view.idle_gpus))
            return [Place(view.ready[0].task, (view.idle_gpus[0],))] if view.ready else []

    eng = Engine()
    model = GpuCluster(eng, cfg, req, [0.0], gpus=2, times=EstimatedTimes([[1, 5, 2, 1]]))
    sched = Spy()
    pending = model.start()
    while True:
        if not pending and not eng.advance():
            break
        pending = model.apply(sched.decide(model.view()))
    # left and right join in node order (left first) though the edges list right first.
    assert seen[:3] == [(0.0, ["root"], (0, 1)), (1.0, ["left", "right"], (0, 1)), (1.0, ["right"], (1,))]
    assert model._requests[0].completion == 7.0  # join runs 6..7 after left (1..6)


def test_view_contents(tiny):
    seen = {}

    class Spy:
        def reset(self, rng):
            pass

        def decide(self, view):
            if not seen:
                seen["ready"] = view.ready
                seen["gpus"] = view.gpus
                seen["costs"] = (view.switch_cost(None, "G"), view.switch_cost("S", "G"), view.switch_cost("G", "G"))
                seen["setup"] = view.setup_time((0, 1), "G")
                seen["info"] = view.model_info("G")
                seen["request"] = view.request(0)
            r = view.ready[0]
            return [Place(r.task, tuple(range(r.gpus_required)))]

    tiny.run(Spy(), [("g", {"g": 4}, 0)], gpus=2)
    (node,) = seen["ready"]
    assert (node.task, node.request, node.request_id, node.node, node.node_id, node.model) == (
        0,
        0,
        "req_0",
        0,
        "g",
        "G",
    )
    assert (node.gpus_required, node.ready_time, node.estimated_time) == (2, 0.0, 4.0)
    assert [tuple(g) for g in seen["gpus"]] == [(0, True, None, 0.0, True), (1, True, None, 0.0, True)]  # last: alive
    assert seen["costs"] == (2.0, 2.375, 0.0) and seen["setup"] == 2.0
    assert tuple(seen["info"]) == ("G", 4.0, 2, 2.0)
    assert tuple(seen["request"]) == (0, "req_0", "g", 0.0, 1, 8.0)


def test_execution_time_source_is_a_seam(tiny):
    # A live source would call a model server in execute(); here it doubles the estimate, so
    # the schedule runs on times the scheduler could not know.
    class Doubling:
        def __init__(self, table):
            self.table = table
            self.calls = []

        def estimate(self, request, node):
            return self.table[request][node]

        def execute(self, request, node, gpus, start):
            self.calls.append((request, node, gpus, start))
            return 2 * self.table[request][node]

    src = Doubling([[3.0]])
    assert isinstance(src, ExecutionTimeSource)
    eng = Engine()
    cfg = parse_config(tiny.config)
    model = GpuCluster(eng, cfg, tiny.requests_of(("s", {}, 0)), [0.0], gpus=1, times=src)
    assert model.apply([]) is False
    model.start()
    assert eng.advance()
    view = model.view()
    assert view.ready[0].estimated_time == 3.0
    model.apply([Place(view.ready[0].task, (0,))])
    eng.advance()
    assert src.calls == [(0, 0, (0,), 1.0)] and model._requests[0].completion == 7.0


@pytest.mark.parametrize(
    "action, match",
    [
        (Place(9, (0,)), "no task 9"),
        (Place(1, (0,)), "task 1 .* is not ready"),
        (Place(2, (0,)), "needs exactly 2 GPU"),
        (Place(2, (0, 2)), "consecutive"),
        (Place(2, (1, 0)), "consecutive"),
        (Place(0, (3,)), "no GPU 3"),
        (Place(0, [0.5]), "integer"),
        (Place(True, (0,)), "integer id"),
        (Assign(0, 0, 1), "expects Place"),
        (("not", "an action"), "expects Place"),
    ],
)
def test_invalid_actions_are_rejected(tiny, action, match):
    class Bad:
        def reset(self, rng):
            pass

        def decide(self, view):
            # Offline arrivals at 0 are events of their own: act once both requests are in.
            return [action] if len(view.ready) == 2 else []

    # Tasks: 0 = req_0.n1 (A, ready), 1 = req_0.n2 (waits for n1), 2 = req_1.g (ready).
    with pytest.raises(InvalidActionError, match=match):
        tiny.run(Bad(), [("ab", {"n1": 1, "n2": 1}, 0), ("g", {"g": 1}, 0)], gpus=3)


def test_busy_gpu_and_twice_placed_task_are_rejected(tiny):
    class Twice:
        def __init__(self, second):
            self.second = second

        def reset(self, rng):
            pass

        def decide(self, view):
            if len(view.ready) < 2:
                return []
            r = view.ready[0]
            return [Place(r.task, (0,)), self.second(r)]

    class Later:
        # One node on GPU 0 (1 s load + 1 s run), the other on GPU 0 at the next call.
        def reset(self, rng):
            pass

        def decide(self, view):
            if len(view.ready) < 2 and view.idle_gpus == (0, 1):
                return []
            return [Place(view.ready[0].task, (0,))]

    specs = [("s", {"s": 1}, 0), ("s", {"s": 1}, 0)]
    with pytest.raises(InvalidActionError, match="GPU 0 is busy until 2.0 s"):
        tiny.run(Later(), specs, gpus=2)
    # In one list, every action is checked before any is applied, so GPU 0 is not busy yet.
    with pytest.raises(InvalidActionError, match=r"GPU 0 is already in the gang of Place\(task=0, workers=\(0,\)\)"):
        tiny.run(Twice(lambda r: Place(r.task + 1, (0,))), specs, gpus=2)
    with pytest.raises(InvalidActionError, match="already placed"):
        tiny.run(Twice(lambda r: Place(r.task, (1,))), specs, gpus=2)


def test_model_rejects_a_gang_larger_than_the_cluster(tiny):
    cfg = parse_config(tiny.config)
    with pytest.raises(ConfigError, match="needs 2 consecutive GPUs but the cluster has 1"):
        GpuCluster(Engine(), cfg, tiny.requests_of(("g", {"g": 1}, 0)), [0.0], gpus=1, times=EstimatedTimes([[1]]))
    with pytest.raises(ConfigError, match="expected >= 0 s"):
        EstimatedTimes([[np.nan]])
