"""Decision time charged in simulated time: hand-checked stories per family, determinism, validation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import columns, job, stage
from schedlab.errors import ConfigError
from schedlab.families.edge.model import EdgeCluster
from schedlab.families.gpu.gswarm import WorkflowRequest, execution_time_table, parse_config
from schedlab.families.gpu.model import EstimatedTimes, GpuCluster
from schedlab.families.hetero.model import HeteroCluster
from schedlab.families.hetero.tasks import Node, Task
from schedlab.families.multiproc.model import Multiprocessor
from schedlab.families.multiproc.tasks import TaskSet
from schedlab.families.spark.model import SparkCluster
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario, parse_scenario
from schedlab.schedulers import make
from schedlab.sim.actions import Assign, Enqueue, Place
from schedlab.sim.decision_time import DecisionTime, parse_decision_time
from schedlab.sim.simulation import Simulation
from schedlab.testing import small_scenario

DIGESTS = json.loads((Path(__file__).parents[1] / "data" / "trace_digests.json").read_text())


class Story:
    """A scenario around a model built by hand, so that :class:`Simulation` charges decision time on it."""

    name = "story"

    def __init__(self, family, build, decision_time="off"):
        self.family = family
        self._build = build
        self.decision_time = decision_time

    def build(self, engine, rng):
        return self._build(engine)

    def model_dump(self, mode="python"):
        return {"family": self.family, "decision_time": self.decision_time}


def run_story(family, build, scheduler, decision_time="off", decide_s=None):
    """Drive a hand-built model with ``scheduler`` (a name or an object); return (sim, trace)."""
    sim = Simulation(Story(family, build, decision_time), seed=0)
    sched = make(scheduler, family) if isinstance(scheduler, str) else scheduler
    sched.reset(sim.scheduler_rng)
    while not sim.done:
        sim.act(sched.decide(sim.observe()), decide_s)
    trace = sim.trace()
    assert check_trace(trace).ok, check_trace(trace).violations
    return sim, trace


class ToWorker:
    """Queue families: every waiting item to one worker."""

    def __init__(self, worker=0):
        self.worker = worker

    def reset(self, rng):
        pass

    def decide(self, view):
        return [Enqueue(t.id, self.worker) for t in view.waiting]


class OnePerDecision:
    """Spark: one executor to the first schedulable stage per call, so a round takes several decisions."""

    def reset(self, rng):
        pass

    def decide(self, view):
        st = view.schedulable[0]
        return [Assign(st.job_id, st.index, 1)]


def body_digest(trace, *, drop_decision_time=False):
    d = trace.to_dict(timing=False)
    d.pop("scenario")
    if drop_decision_time:
        assert d["meta"].pop("decision_time") is not None
        assert d["counters"].pop("decision_time_s") is not None
        assert d["extra"].pop("decision_time") is not None
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_decision_time(scenario, value):
    return parse_scenario({**scenario.model_dump(mode="json"), "decision_time": value})


# -- the option ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, want",
    [
        ("off", DecisionTime("off")),
        (False, DecisionTime("off")),  # YAML reads a bare off as false
        ("measured", DecisionTime("measured")),
        ("fixed:0.05", DecisionTime("fixed", 0.05)),
        (" fixed:5e-2 ", DecisionTime("fixed", 0.05)),
        ("fixed:0", DecisionTime("fixed", 0.0)),
    ],
)
def test_parse_accepts_the_three_modes(text, want):
    assert parse_decision_time(text) == want


@pytest.mark.parametrize(
    "bad, message",
    [
        ("sometimes", "expected off, measured or fixed:<seconds>"),
        ("fixed", "expected off, measured or fixed:<seconds>"),
        ("fixed:", "needs a number of seconds"),
        ("fixed:abc", "needs a number of seconds"),
        ("fixed:-0.1", "finite number of seconds >= 0"),
        ("fixed:nan", "finite number of seconds >= 0"),
        ("fixed:inf", "finite number of seconds >= 0"),
        (True, "expected off, measured or fixed:<seconds>"),
        (0.5, "expected off, measured or fixed:<seconds>"),
    ],
)
def test_bad_values_are_a_config_error_naming_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_decision_time(bad)
    with pytest.raises(ConfigError, match=message) as e:
        load_scenario("multiproc", {"decision_time": bad})
    assert e.value.field == "decision_time"


@pytest.mark.parametrize("preset", ["spark-synthetic", "gpu", "edge", "multiproc", "hetero"])
def test_every_family_has_the_option_and_dumps_it_only_when_on(preset):
    sc = load_scenario(preset)
    assert sc.decision_time == "off" and "decision_time" not in sc.model_dump(mode="json")
    on = load_scenario(preset, {"decision_time": "fixed:5e-2"})
    assert on.decision_time == "fixed:0.05" and on.decision_time_spec == DecisionTime("fixed", 0.05)
    dumped = on.model_dump(mode="json")
    assert dumped["decision_time"] == "fixed:0.05"
    assert parse_scenario(dumped) == on


def test_yaml_bare_off_reads_as_off(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("family: multiproc\ndecision_time: off\n")
    assert load_scenario(str(path)).decision_time == "off"


# -- multiproc ----------------------------------------------------------------------------------


def multiproc(arrival, work, speeds):
    a = np.array(arrival, float)
    w = np.array(work, float)
    n = a.size
    tasks = TaskSet(a, w, w, np.ones(n, int), a + 100.0, np.zeros(n, int))
    return lambda engine: Multiprocessor(engine, tasks, speeds)


def test_multiproc_one_task_completes_a_decision_later():
    # One CPU of speed 1, a task of size 1 arriving at 0. Off: runs 0 -> 1. fixed:0.5: the
    # decision at 0 takes effect at b = 0 + 0.5; the task joins the queue then: 0.5 -> 1.5.
    _, off = run_story("multiproc", multiproc([0.0], [1.0], [1.0]), ToWorker())
    assert columns(off.tasks, ("job", "start", "end")) == [(0, 0.0, 1.0)]
    sim, on = run_story("multiproc", multiproc([0.0], [1.0], [1.0]), ToWorker(), "fixed:0.5")
    assert columns(on.tasks, ("job", "start", "end")) == [(0, 0.5, 1.5)]
    assert on.jobs["completion"] == [1.5]
    assert on.decisions["time"] == [0.0]  # validated and booked at t
    assert on.meta["decision_time"] == "fixed:0.5" and on.counters["decision_time_s"] == 0.5
    assert on.extra["decision_time"] == {"time": [0.0], "cost": [0.5], "effect": [0.5]}
    assert sim.busy_until == 0.5 and "decision_time" not in off.meta and "decision_time" not in off.extra


def test_multiproc_busy_scheduler_and_oracle_counting_tasks_in_flight():
    # Two CPUs of speed 1; tasks of work 1 arrive at 0 and 0.2; every task goes to CPU 0.
    # Decision 1 at 0: b = 0.5, t0 runs 0.5 -> 1.5. Decision 2 opens at 0.2 while the
    # scheduler is busy until 0.5: b = max(0.2, 0.5) + 0.5 = 1.0; t1 lands at 1.0 and waits
    # for t0: 1.5 -> 2.5. The oracle at decision 2 counts t0 in flight to CPU 0: t1 would end
    # there at max(1.5, 1.0) + 1 = 2.5, on CPU 1 at max(0.2, 1.0) + 1 = 2.0: CPU 1, regret 0.5.
    _, trace = run_story("multiproc", multiproc([0.0, 0.2], [1.0, 1.0], [1.0, 1.0]), ToWorker(), "fixed:0.5")
    assert columns(trace.tasks, ("job", "worker", "start", "end")) == [(0, 0, 0.5, 1.5), (1, 0, 1.5, 2.5)]
    assert columns(trace.decisions, ("time", "job", "worker", "oracle", "regret")) == [
        (0.0, 0, 0, 0, 0.0),
        (0.2, 1, 0, 1, 0.5),
    ]
    assert trace.extra["decision_time"]["effect"] == [0.5, 1.0]


# -- hetero -------------------------------------------------------------------------------------


def hetero(durations, arrivals):
    nodes = [Node("a", "pi5"), Node("b", "pi4")]
    tasks = [Task("sort", 500_000, a) for a in arrivals]
    return lambda engine: HeteroCluster(engine, nodes, tasks, np.array(durations, float))


def test_hetero_batch_joins_the_queues_a_decision_later():
    # A batch of three tasks at 0 (durations on a, b): t0 (2, 5), t1 (4, 6), t2 (1, 3).
    # Round-robin answers with the whole batch: t0 -> a, t1 -> b, t2 -> a. Off: a runs t0 0 -> 2
    # and t2 2 -> 3, b runs t1 0 -> 6. fixed:0.25: everything lands at 0.25: a runs t0
    # 0.25 -> 2.25 and t2 2.25 -> 3.25, b runs t1 0.25 -> 6.25.
    p = [[2.0, 5.0], [4.0, 6.0], [1.0, 3.0]]
    _, off = run_story("hetero", hetero(p, [0.0] * 3), "round-robin")
    assert sorted(columns(off.tasks, ("job", "worker", "start", "end"))) == [
        (0, 0, 0.0, 2.0), (1, 1, 0.0, 6.0), (2, 0, 2.0, 3.0)]  # fmt: skip
    _, on = run_story("hetero", hetero(p, [0.0] * 3), "round-robin", "fixed:0.25")
    assert sorted(columns(on.tasks, ("job", "worker", "start", "end"))) == [
        (0, 0, 0.25, 2.25), (1, 1, 0.25, 6.25), (2, 0, 2.25, 3.25)]  # fmt: skip
    assert on.decisions["time"] == [0.0, 0.0, 0.0] and on.extra["decision_time"]["effect"] == [0.25]


# -- edge ---------------------------------------------------------------------------------------


class StaticNodes:
    """Edge nodes whose state never changes."""

    def __init__(self, cpu, background, delay):
        self.n = len(cpu)
        self.cpu = np.array(cpu, float)
        self.background = np.array(background, float)
        self.load = self.background.copy()
        self.mem = np.full(self.n, 8.0)
        self.delay = np.array(delay, float)

    def step(self, busy, queue):
        pass


def edge(arrivals, costs):
    def build(engine):
        # node 0: 2 cores at background load 0.5 -> speed 1; network delay 10 ms.
        nodes = StaticNodes(cpu=[2.0], background=[0.5], delay=[10.0])
        n = len(arrivals)
        return EdgeCluster(engine, nodes, np.array(arrivals, float), np.array(costs, float), np.ones(n),
                           interval_ms=25.0, deadline_ms=40.0, timeout_ms=50.0)  # fmt: skip

    return build


def test_edge_request_leaves_the_dispatcher_a_decision_later():
    # One request at 0, cost 20 core-ms, to node 0 (speed 1, delay 10 ms). Off: it reaches the
    # node at 10 and is served 10 -> 30. fixed:0.005 (5 ms): it leaves at 5, reaches the node
    # at 15, is served 15 -> 35; its latency (arrival to end) is 35 ms.
    _, off = run_story("edge", edge([0.0], [20.0]), ToWorker())
    assert columns(off.tasks, ("job", "start", "end")) == [(0, 10.0, 30.0)]
    sim, on = run_story("edge", edge([0.0], [20.0]), ToWorker(), "fixed:0.005")
    assert columns(on.tasks, ("job", "start", "end")) == [(0, 15.0, 35.0)]
    assert on.jobs["delay"] == [10.0] and on.decisions["time"] == [0.0]
    assert on.extra["decision_time"] == {"time": [0.0], "cost": [5.0], "effect": [5.0]}  # ms
    assert on.counters["decision_time_s"] == 0.005


def test_edge_booked_request_counts_as_outstanding_at_once():
    sim = Simulation(Story("edge", edge([0.0, 1.0], [20.0, 20.0]), "fixed:0.005"), seed=0)
    sim.act([Enqueue(0, 0)])
    # At the second arrival (1 ms) request 0 is still at the dispatcher (it leaves at 5).
    view = sim.observe()
    assert view.now_ms == 1.0 and view.workers[0].outstanding == 1
    assert sim.model.pool.start_at[0] is None


# -- gpu ----------------------------------------------------------------------------------------

GPU_CONFIG = {
    "models": {
        "A": {"name": "A", "memory_gb": 10, "gpus_required": 1, "load_time_seconds": 5},
        "B": {"name": "B", "memory_gb": 6, "gpus_required": 1, "load_time_seconds": 3},
    },
    "workflows": {
        "ab": {"name": "A then B", "nodes": [{"id": "n1", "model": "A"}, {"id": "n2", "model": "B"}],
               "edges": [{"from": "n1", "to": "n2"}]},
    },
}  # fmt: skip


def gpu(times):
    def build(engine):
        cfg = parse_config(GPU_CONFIG)
        reqs = [WorkflowRequest(request_id="r0", workflow_id="ab", timestamp=0.0, node_execution_times=times)]
        table = EstimatedTimes(execution_time_table(cfg, reqs, np.random.default_rng(0)))
        return GpuCluster(engine, cfg, reqs, [0.0], gpus=1, times=table)

    return build


def test_gpu_node_starts_a_decision_later_with_its_gpus_reserved_meanwhile():
    # One request: n1 (model A, 4 s) then n2 (model B, 2 s), one GPU. Off: n1 loads A (5 s)
    # and runs 5 -> 9; n2 switches A -> B ((10 + 6) / 16 + 2 = 3 s) and runs 12 -> 14.
    # fixed:0.5: n1 is placed at 0 and starts at b = 0.5: loads 0.5 -> 5.5, runs 5.5 -> 9.5;
    # n2 is ready at 9.5 and placed then, starts at 10.0: switches to 13.0, runs 13.0 -> 15.0.
    times = {"n1": 4.0, "n2": 2.0}
    _, off = run_story("gpu", gpu(times), "ray-like")
    assert columns(off.tasks, ("stage", "start", "end", "setup")) == [(0, 5.0, 9.0, 5.0), (1, 12.0, 14.0, 3.0)]
    sim, on = run_story("gpu", gpu(times), "ray-like", "fixed:0.5")
    assert columns(on.tasks, ("stage", "start", "end", "setup", "ready")) == [
        (0, 5.5, 9.5, 5.0, 0.0),
        (1, 13.0, 15.0, 3.0, 9.5),
    ]
    assert on.decisions["time"] == [0.0, 9.5] and on.jobs["completion"] == [15.0]
    assert on.extra["decision_time"]["effect"] == [0.5, 10.0]


def test_gpu_gang_is_reserved_from_the_decision():
    sim = Simulation(Story("gpu", gpu({"n1": 4.0, "n2": 2.0}), "fixed:0.5"), seed=0)
    assert sim.observe().workers[0].idle
    # Placed at 0 to start at 0.5: the GPU is booked at once, until the node's end (9.5), so no
    # decision point opens for it meanwhile.
    assert sim.model.apply([Place(0, (0,))], 0.5) is False
    gpu0 = sim.model.view().workers[0]
    assert not gpu0.idle and gpu0.free_at == 9.5 and gpu0.model == "A"


# -- spark --------------------------------------------------------------------------------------


def spark(jobs, executors=1, moving=100.0):
    return lambda engine: SparkCluster(engine, jobs, num_executors=executors, moving_delay_ms=moving,
                                       warmup_delay_ms=10.0, rng=np.random.default_rng(0))  # fmt: skip


def test_spark_executor_that_must_move_starts_moving_a_decision_later():
    # One job, one stage of one task (fresh duration 70 ms), one executor in the common pool,
    # moving delay 100 ms. Off: moves 0 -> 100, runs 100 -> 170. fixed:0.5 (500 ms): the
    # decision at 0 takes effect at 500: moves 500 -> 600, runs 600 -> 670.
    jobs = [(0.0, job(stage(0)))]
    _, off = run_story("spark", spark(jobs), "fair")
    assert columns(off.moves, ("worker", "start", "end")) == [(0, 0.0, 100.0)]
    assert columns(off.tasks, ("worker", "start", "end")) == [(0, 100.0, 170.0)]
    _, on = run_story("spark", spark(jobs), "fair", "fixed:0.5")
    assert columns(on.moves, ("worker", "start", "end")) == [(0, 500.0, 600.0)]
    assert columns(on.tasks, ("worker", "start", "end")) == [(0, 600.0, 670.0)]
    assert on.decisions["time"] == [0.0] and on.extra["decision_time"]["effect"] == [500.0]
    assert on.counters["decision_time_s"] == 0.5


def test_spark_executor_at_the_job_starts_its_task_a_decision_later():
    # Stage 0 (one task, fresh 70 ms) -> stage 1 (one task, fresh 60 ms), one executor. Off:
    # moves 0 -> 100, stage 0 100 -> 170; at 170 it is at the job and stage 1 is decided:
    # 170 -> 230. fixed:0.5: moves 500 -> 600, stage 0 600 -> 670; the round at 670 takes
    # effect at 670 + 500 = 1170, when the executor (already at the job) starts stage 1:
    # 1170 -> 1230.
    jobs = [(0.0, job(stage(0), stage(1, [0], fresh=[60])))]
    _, off = run_story("spark", spark(jobs), "fair")
    assert columns(off.tasks, ("stage", "start", "end")) == [(0, 100.0, 170.0), (1, 170.0, 230.0)]
    _, on = run_story("spark", spark(jobs), "fair", "fixed:0.5")
    assert columns(on.moves, ("worker", "start", "end")) == [(0, 500.0, 600.0)]
    assert columns(on.tasks, ("stage", "start", "end")) == [(0, 600.0, 670.0), (1, 1170.0, 1230.0)]
    assert on.decisions["time"] == [0.0, 670.0] and on.jobs["completion"] == [1230.0]


def test_spark_kth_decision_of_a_round_takes_effect_at_t_plus_k_d():
    # Two root stages of one task each, two executors in the common pool. The round at 0 takes
    # two decisions, one executor each: the first takes effect at 0 + 500, the second at
    # 0 + 2 * 500. Executor 0 moves 500 -> 600 and runs stage 0 600 -> 670; executor 1 moves
    # 1000 -> 1100 and runs stage 1 1100 -> 1170.
    jobs = [(0.0, job(stage(0), stage(1)))]
    _, trace = run_story("spark", spark(jobs, executors=2), OnePerDecision(), "fixed:0.5")
    assert trace.decisions["time"] == [0.0, 0.0]
    assert trace.extra["decision_time"]["effect"] == [500.0, 1000.0]
    assert columns(trace.moves, ("worker", "start", "end")) == [(0, 500.0, 600.0), (1, 1000.0, 1100.0)]
    assert columns(trace.tasks, ("stage", "worker", "start", "end")) == [(0, 0, 600.0, 670.0), (1, 1, 1100.0, 1170.0)]


def test_spark_rejected_answer_changes_nothing_and_charges_nothing():
    from schedlab.errors import InvalidActionError

    jobs = [(0.0, job(stage(0), stage(1)))]
    sim = Simulation(Story("spark", spark(jobs, executors=2), "fixed:0.5"), seed=0)
    with pytest.raises(InvalidActionError):
        sim.act([Assign(0, 0, 1), Assign(0, 0, 1)])  # stage 0 twice
    assert sim.model.common.due is None and sim.busy_until == 0.0
    sim.act([Assign(0, 0, 1)])
    assert sim.model.common.due is not None and sim.busy_until == 500.0


# -- every family on its small preset -----------------------------------------------------------


@pytest.mark.parametrize(
    "preset, scheduler",
    [("spark-synthetic", "fair"), ("gpu", "eft"), ("edge", "least-loaded"), ("multiproc", "lwr"),
     ("hetero", "greedy-sjf")],
)  # fmt: skip
def test_fixed_is_deterministic_checked_and_starts_nothing_before_its_effect(preset, scheduler):
    sc = with_decision_time(small_scenario(preset), "fixed:0.05")
    a = simulate(sc, scheduler, seed=3).trace
    b = simulate(sc, scheduler, seed=3).trace
    assert a.digest() == b.digest()
    assert check_trace(a).ok
    assert a.meta["decision_time"] == "fixed:0.05" and a.scenario["decision_time"] == "fixed:0.05"
    dt = a.extra["decision_time"]
    n = len(dt["time"])
    assert n == a.counters["decisions"] and a.counters["decision_time_s"] == pytest.approx(0.05 * n)
    per_s = 1000.0 if a.time_unit == "ms" else 1.0
    assert dt["cost"] == [0.05 * per_s] * n
    # One thread: each effect is at least a cost after the previous one and after its decision.
    prev = 0.0
    for t, cost, b_ in zip(dt["time"], dt["cost"], dt["effect"]):
        assert b_ == pytest.approx(max(t, prev) + cost)
        prev = b_
    if a.family in ("multiproc", "hetero", "edge", "gpu"):
        # One task per decided job (stage): nothing starts before its decision's effect.
        effect_of = {}
        for t, b_ in zip(dt["time"], dt["effect"]):
            effect_of.setdefault(t, b_)  # the first answer at a time is the earliest effect
        first = dict(zip(zip(a.decisions["job"], a.decisions["stage"]), a.decisions["time"]))
        for j, s, start in zip(a.tasks["job"], a.tasks["stage"], a.tasks["start"]):
            assert start >= effect_of[first[(j, s)]] - 1e-9
    else:
        # Spark: no task of a job starts before the first decision about the job took effect.
        first_effect = {}
        for t, b_ in zip(dt["time"], dt["effect"]):
            first_effect.setdefault(t, b_)
        for j, start in zip(a.tasks["job"], a.tasks["start"]):
            first_decision = min(t for t, jj in zip(a.decisions["time"], a.decisions["job"]) if jj == j)
            assert start >= first_effect[first_decision] - 1e-9


@pytest.mark.parametrize(
    "key", ["spark-synthetic/fair/1", "gpu/eft/2", "edge/least-loaded/1", "multiproc/lwr/3", "hetero/greedy-sjf/1"]
)
def test_off_and_fixed_zero_keep_the_recorded_schedule(key):
    preset, scheduler, seed = key.split("/")
    want = DIGESTS[key]["body"]
    off = simulate(with_decision_time(load_scenario(preset), "off"), scheduler, int(seed)).trace
    assert "decision_time" not in off.scenario and body_digest(off) == want
    zero = simulate(with_decision_time(load_scenario(preset), "fixed:0"), scheduler, int(seed)).trace
    assert zero.counters["decision_time_s"] == 0.0
    assert body_digest(zero, drop_decision_time=True) == want


def test_measured_charges_the_decide_wall_time():
    # The same story as the one-task multiproc story, with decide() timed at 0.25 s.
    sim, trace = run_story("multiproc", multiproc([0.0], [1.0], [1.0]), ToWorker(), "measured", decide_s=0.25)
    assert columns(trace.tasks, ("job", "start", "end")) == [(0, 0.25, 1.25)]
    assert trace.meta["decision_time"] == "measured" and trace.counters["decision_time_s"] == 0.25
    run = simulate(with_decision_time(small_scenario("multiproc"), "measured"), "lwr", seed=1)
    assert run.trace.counters["decision_time_s"] == pytest.approx(sum(run.trace.timing["decide_s"]))
    assert check_trace(run.trace).ok


def test_measured_needs_the_decide_time():
    sim = Simulation(Story("multiproc", multiproc([0.0], [1.0], [1.0]), "measured"), seed=0)
    with pytest.raises(ValueError, match="decision_s"):
        sim.act([Enqueue(0, 0)])
    with pytest.raises(ValueError, match=">= 0"):
        sim.act([Enqueue(0, 0)], -1.0)


def test_a_model_without_a_delay_is_refused_unless_off():
    class NoDelay:
        family = "toy"
        time_unit = "s"

        def start(self):
            return False

        def apply(self, actions):
            return False

    Simulation(Story("toy", lambda engine: NoDelay(), "off"), seed=0)
    with pytest.raises(ConfigError, match="takes no decision delay"):
        Simulation(Story("toy", lambda engine: NoDelay(), "fixed:1"), seed=0)


# -- Gymnasium environments ---------------------------------------------------------------------


def test_env_takes_fixed_and_refuses_measured():
    pytest.importorskip("gymnasium")
    from schedlab.families.multiproc.env import MultiprocEnv

    small = {"workload.phases": [{"kind": "stable", "tasks": 20, "utilization": 0.8}]}
    env = MultiprocEnv("multiproc", {**small, "decision_time": "fixed:0.05"})
    env.reset(seed=1)
    info = {}
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(0)
    trace = info["trace"]
    assert trace.meta["decision_time"] == "fixed:0.05" and check_trace(trace).ok
    assert min(trace.tasks["start"]) >= 0.05
    with pytest.raises(ConfigError, match="measured"):
        MultiprocEnv("multiproc", {**small, "decision_time": "measured"})
