"""Every gpu scheduler on the preset, determinism, and the stories that set eft apart from ray-like."""

import math

import pytest

from helpers import assert_seed_determinism
from schedlab.families.gpu.model import GpuSnapshot, GpuState, ModelInfo, ReadyNode, RequestInfo
from schedlab.families.gpu.schedulers import EarliestFinish, EftBatch
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import make, names
from schedlab.sim.simulation import Simulation
from schedlab.testing import check_scheduler


def small(**over):
    return load_scenario("gpu", {"workload.jobs": 12, **over})


@pytest.mark.parametrize("scheduler", names("gpu"))
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_every_gpu_scheduler_passes_the_checker(scheduler, mode):
    res = simulate(small(**{"workload.mode": mode}), scheduler, seed=3)
    report = check_trace(res.trace)
    assert report.ok, report.violations[:3]
    assert "gangs" in report.checks
    assert res.metrics["completed_jobs"] == 12
    assert res.metrics["model_llm30b_executions"] > 0  # the preset has 2-GPU gangs


@pytest.mark.parametrize("scheduler", names("gpu"))
def test_conformance_suite(scheduler):
    check_scheduler(lambda: make(scheduler, "gpu"), "gpu", seeds=(0,), overrides={"workload.jobs": 8})


@pytest.mark.parametrize("scheduler", names("gpu"))
def test_same_seed_same_trace(scheduler):
    assert_seed_determinism(small(), scheduler)


def test_workload_does_not_depend_on_the_scheduler():
    a = simulate(small(), "ray-like", seed=5).trace
    b = simulate(small(), "eft", seed=5).trace
    assert a.jobs["name"] == b.jobs["name"] and a.jobs["arrival"] == b.jobs["arrival"]
    est = lambda t: sorted(zip(t.tasks["job"], t.tasks["stage"], t.tasks["estimated_time"]))
    assert est(a) == est(b)


def test_eft_reserves_gpus_for_a_gang_ray_like_starves_it(tiny):
    # Two GPUs. r0 and r1 (S) end at 4 and 5; r2 needs both GPUs; r3..r14 (S, 2 s) follow.
    # Ray-like lets the small nodes overtake the gang whenever one GPU frees, and as the two
    # GPUs never free together the gang runs last, at 17. eft (FIFO order, no switch
    # batching) reserves both GPUs at 4 for the gang, which starts when GPU 1 frees at 5.
    # With switch batching the gang yields to the switch-free S nodes for at most
    # patience_s (10 s after it became ready at 0): it goes at 11, when a GPU pair frees.
    specs = [("s", {"s": 3}, 0), ("s", {"s": 4}, 0), ("g", {"g": 1}, 0)] + [("s", {"s": 2}, 0)] * 12
    gang_start = {}
    for name, sched in [
        ("ray-like", "ray-like"),
        ("eft", EarliestFinish(order="fifo", patience_s=0)),
        ("eft, patience 10 s", EarliestFinish(order="fifo", patience_s=10)),
    ]:
        _, trace = tiny.run(sched, specs, gpus=2)
        assert check_trace(trace).ok
        row = trace.tasks["job"].index(2)
        gang_start[name] = trace.tasks["start"][row] - trace.tasks["setup"][row]
    assert gang_start == {"ray-like": 17.0, "eft": 5.0, "eft, patience 10 s": 11.0}


def test_eft_waits_for_a_gpu_holding_its_model(tiny):
    # Online, two GPUs. At 10 a B node arrives: GPU 0 holds A (idle), GPU 1 holds B and is
    # busy until 11. Switching GPU 0 costs 3 s (finish 14); waiting for GPU 1 finishes at 12.
    specs = [("ab", {"n1": 1, "n2": 1}, 0), ("ab", {"n1": 1, "n2": 0}, 0)]
    cfg = {**tiny.config, "workflows": {**tiny.config["workflows"],
                                        "a": {"name": "a", "nodes": [{"id": "x", "model": "A"}]},
                                        "b": {"name": "b", "nodes": [{"id": "x", "model": "B"}]}}}  # fmt: skip
    specs = [("a", {"x": 1}, 0), ("b", {"x": 8}, 0), ("b", {"x": 1}, 10)]
    _, trace = tiny.run("eft", specs, gpus=2, online=True, config=cfg)
    row = trace.tasks["job"].index(2)
    assert (trace.tasks["worker"][row], trace.tasks["start"][row], trace.tasks["setup"][row]) == (1, 11.0, 0.0)
    _, trace = tiny.run("ray-like", specs, gpus=2, online=True, config=cfg)
    row = trace.tasks["job"].index(2)
    assert (trace.tasks["worker"][row], trace.tasks["start"][row], trace.tasks["setup"][row]) == (0, 13.0, 3.0)


def test_eft_defers_a_switch_while_the_loaded_model_has_work(tiny):
    # One GPU, r0 and r1 run A then B. At 9 (r0.n1 done) the GPU holds A: srpt ranks r0.n2
    # (B, 2 s of work left in r0) before r1.n1 (A, 4 s left in r1), but placing it would
    # evict A while r1.n1 could run on it switch-free, so r1.n1 runs first and both B nodes
    # follow after one switch. With patience 0 the switch happens twice.
    specs = [("ab", {"n1": 4, "n2": 2}, 0), ("ab", {"n1": 3, "n2": 1}, 0)]
    _, trace = tiny.run("eft", specs)
    assert tiny.rows(trace, "job", "stage", "start", "end") == [
        (0, 0, 5.0, 9.0), (1, 0, 9.0, 12.0), (1, 1, 15.0, 16.0), (0, 1, 16.0, 18.0)
    ]  # fmt: skip
    _, trace = tiny.run(EarliestFinish(patience_s=0), specs)
    assert [p for p in trace.tasks["previous_models"]] == [[None], ["A"], ["B"], ["A"]]


def test_eft_rejects_bad_parameters():
    with pytest.raises(ValueError, match="order must be"):
        EarliestFinish(order="lifo")
    with pytest.raises(ValueError, match="patience_s"):
        EarliestFinish(patience_s=-1)
    with pytest.raises(ValueError, match="reservations"):
        EarliestFinish(reservations=0)
    assert make("eft-fifo", "gpu").get_params() == {"order": "fifo", "patience_s": 600.0, "reservations": 32}


def _two_gpus(now, ready_at, gpu0=("A", True), gpu1=("A", False), a_waits=False):
    """GPU 0 and 1 as (model held, busy until 100); B nodes of requests 0.. ready at ``ready_at``.

    With ``a_waits``, A needs both GPUs and one A node (the largest request) is ready at 0.
    """
    models = (ModelInfo("A", 10.0, 2 if a_waits else 1, 5.0), ModelInfo("B", 6.0, 1, 3.0))
    ready = tuple(ReadyNode(i, i, f"req_{i}", 0, "n", "B", 1, t, 5.0) for i, t in enumerate(ready_at))
    requests = tuple(RequestInfo(i, f"req_{i}", "b", 0.0, 1, 5.0) for i in range(len(ready_at)))
    if a_waits:
        i = len(ready_at)
        ready += (ReadyNode(i, i, f"req_{i}", 0, "n", "A", 2, 0.0, 50.0),)
        requests += (RequestInfo(i, f"req_{i}", "a", 0.0, 1, 100.0),)
    gpus = tuple(GpuState(g, not busy, m, 100.0 if busy else 0.0) for g, (m, busy) in enumerate((gpu0, gpu1)))
    return GpuSnapshot(now, 2, ready, gpus, models, requests, 16.0, 2.0)


def test_eft_batch_switches_once_the_waiting_pays_for_it():
    # Idle GPU 1 holds A, which a ready A node (both GPUs) still wants. Switching it from A
    # to B costs (10 + 6) / 16 + 2 = 3 GPU-s, and the switch back for the A node 3 s on 2
    # GPUs: 9 GPU-s. With 3 requests waiting, 2 GPUs and factor 16 the B nodes must have
    # waited 16 * 9 / 2 * 3 = 216 node-seconds.
    sched = EftBatch(factor=16.0)
    sched.reset(None)
    assert sched.decide(_two_gpus(100.0, [0.0, 0.0], a_waits=True)) == []  # 200 node-s: B waits
    acts = sched.decide(_two_gpus(108.0, [0.0, 0.0], a_waits=True))  # 216 node-s: GPU 1 switches
    assert [(a.task, a.workers) for a in acts] == [(0, (1,))]
    # The clock of a model no GPU holds restarts when it starts a node (B, at 108 above).
    assert sched.decide(_two_gpus(120.0, [0.0, 0.0], a_waits=True)) == []
    # A GPU holding nothing takes B at once, and so does an idle cluster with nothing running.
    assert [a.workers for a in sched.decide(_two_gpus(120.0, [0.0, 0.0], gpu1=(None, False), a_waits=True))] == [(1,)]
    idle = sched.decide(_two_gpus(120.0, [0.0, 0.0], gpu0=("A", False)))
    assert sorted(a.workers for a in idle) == [(0,), (1,)]
    # eft itself switches at once.
    assert [a.workers for a in EarliestFinish().decide(_two_gpus(1.0, [0.0, 0.0], a_waits=True))] == [(1,)]


def test_eft_batch_switches_at_once_onto_gpus_nobody_wants():
    # No ready node wants the A that idle GPU 1 holds: switching it to B delays nobody, so B
    # does not wait for its batch to fill (the same GPUs with an A node waiting hold B back).
    sched = EftBatch(factor=16.0)
    sched.reset(None)
    assert [(a.task, a.workers) for a in sched.decide(_two_gpus(1.0, [0.0, 0.0]))] == [(0, (1,))]
    sched.reset(None)
    assert sched.decide(_two_gpus(1.0, [0.0, 0.0], a_waits=True)) == []


def test_eft_batch_rejects_bad_parameters():
    with pytest.raises(ValueError, match="factor"):
        EftBatch(factor=0)
    with pytest.raises(ValueError, match="window"):
        EftBatch(window=-1.0)
    params = {"factor": 64.0, "patience_s": 600.0, "reservations": 32, "window": 0.0}
    assert make("eft-batch", "gpu").get_params() == params
    assert make("eft-window", "gpu").get_params() == {**params, "window": 2.5}


def _whole_cluster(mode="offline", jobs=40):
    # On 2 GPUs the preset's 2-GPU 30B model needs every GPU.
    return load_scenario("gpu", {"cluster.gpus": 2, "workload.jobs": jobs, "workload.mode": mode})


def _outside_the_window(scheduler, mode):
    # Nodes placed for requests outside the first ceil(2.5 sqrt(R)) by least work left (ties
    # in ready-queue order), R the requests with ready nodes; and nodes placed in all.
    sim = Simulation(_whole_cluster(mode), 4)
    sched = make(scheduler, "gpu")
    sched.reset(sim.scheduler_rng)
    outside = placed = 0
    while not sim.done:
        view = sim.observe()
        acts = sched.decide(view)
        order = list(
            dict.fromkeys(nd.request for nd in sorted(view.ready, key=lambda nd: view.request(nd.request).work_left_s))
        )
        first = set(order[: math.ceil(2.5 * math.sqrt(len(order)))])
        request = {nd.task: nd.request for nd in view.ready}
        placed += len(acts)
        outside += sum(request[a.task] not in first for a in acts)
        sim.act(acts)
    assert placed == len(sim.trace().tasks["job"])
    return outside


@pytest.mark.parametrize("mode", ["offline", "online"])
def test_eft_window_starts_nodes_only_for_the_first_requests_in_order(mode):
    assert _outside_the_window("eft-window", mode) == 0
    assert _outside_the_window("eft-batch", mode) > 0


def test_eft_window_is_eft_batch_without_a_model_that_needs_every_gpu():
    # On 4 GPUs no preset model needs every GPU: the window is off and the runs are the same.
    def tasks(sc, scheduler):
        return simulate(sc, scheduler, 2).trace.tasks

    sc = small(**{"workload.jobs": 30})
    assert tasks(sc, "eft-window") == tasks(sc, "eft-batch")
    sc = _whole_cluster(jobs=30)
    assert tasks(sc, "eft-window") != tasks(sc, "eft-batch")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_eft_window_cuts_the_mean_where_a_model_needs_every_gpu(seed):
    # Generated requests (not GSwarm's): nodes of later requests no longer run ahead of the
    # whole-cluster batches, so requests finish sooner, at about ray-like's makespan.
    m = {s: simulate(_whole_cluster(), s, seed).metrics for s in ("ray-like", "eft-batch", "eft-window")}
    assert m["eft-window"]["avg_jct_s"] < 0.9 * m["eft-batch"]["avg_jct_s"]
    assert m["eft-window"]["makespan_s"] <= 1.02 * m["ray-like"]["makespan_s"]
