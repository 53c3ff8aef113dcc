"""The generic queue-family baselines, and the decision contract they rely on, on every queue family."""

import numpy as np
import pytest

from schedlab.errors import InvalidActionError
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.schedulers import default_name, make, spec
from schedlab.schedulers.generic import QUEUE_FAMILIES, RandomWorker, RoundRobinWorker
from schedlab.sim.actions import Enqueue
from schedlab.sim.simulation import Simulation
from schedlab.testing import small_scenario

FAMILIES = pytest.mark.parametrize("family", QUEUE_FAMILIES)


class Item:
    def __init__(self, id):
        self.id = id


class View:
    """The least a view must offer: ``waiting`` and ``workers``, each with ids."""

    def __init__(self, waiting, workers):
        self.waiting = tuple(Item(i) for i in waiting)
        self.workers = tuple(Item(w) for w in workers)


# -- the baselines -----------------------------------------------------------------------------


@FAMILIES
def test_registered_in_every_queue_family(family):
    assert spec("random", family).load() is RandomWorker
    assert spec("rr", family).load() is RoundRobinWorker
    assert default_name(family) == "round-robin"
    assert family in RandomWorker.families and family in RoundRobinWorker.families
    assert isinstance(make("round-robin", family), RoundRobinWorker)


def test_random_worker_draws_as_the_per_item_and_per_batch_baselines_did():
    # Edge and multiproc drew int(rng.integers(n)) per item, hetero rng.integers(n, size=k) per batch.
    s = RandomWorker()
    s.reset(np.random.default_rng(3))
    singles = [s.decide(View([i], range(5)))[0].worker for i in range(40)]
    rng = np.random.default_rng(3)
    assert singles == [int(rng.integers(5)) for _ in range(40)]
    s.reset(np.random.default_rng(4))
    batches = [[a.worker for a in s.decide(View(range(k), range(3)))] for k in (4, 1, 7)]
    rng = np.random.default_rng(4)
    assert batches == [rng.integers(3, size=k).tolist() for k in (4, 1, 7)]


def test_random_worker_names_the_waiting_items_and_the_workers_ids():
    s = RandomWorker()
    s.reset(np.random.default_rng(0))
    out = s.decide(View([7, 9], [10, 20]))
    assert [a.task for a in out] == [7, 9] and {a.worker for a in out} <= {10, 20}
    assert s.decide(View([], [10])) == []


def test_round_robin_cursor_carries_over_decisions_and_resets():
    s = RoundRobinWorker()
    s.reset(np.random.default_rng(0))
    assert s.decide(View([0, 1], range(3))) == [Enqueue(0, 0), Enqueue(1, 1)]
    assert s.decide(View([2, 3], range(3))) == [Enqueue(2, 2), Enqueue(3, 0)]
    assert s.decide(View([4], [5, 6])) == [Enqueue(4, 6)]  # the cursor wraps to fewer workers
    s.reset(np.random.default_rng(0))
    assert s.decide(View([5], range(3))) == [Enqueue(5, 0)]


@FAMILIES
@pytest.mark.parametrize("scheduler", ["random", "round-robin"])
def test_runs_each_family_to_a_valid_trace(family, scheduler):
    res = simulate(small_scenario(family), scheduler, seed=2)
    assert check_trace(res.trace).ok
    assert None not in res.trace.jobs["completion"]


# -- the decision contract ------------------------------------------------------------------------


def plain(x):
    """Nested plain values, to compare a snapshot before and after the simulation moves on."""
    if isinstance(x, np.ndarray):
        return ("array", x.tolist())
    if isinstance(x, tuple):
        return (type(x).__name__, *(plain(v) for v in x))
    return x


def start(family, seed=1):
    return Simulation(small_scenario(family), seed)


@FAMILIES
def test_view_offers_now_in_seconds_waiting_workers_and_valid_actions(family):
    sim = start(family)
    sim.act([])  # pass once, so that more than one item may wait
    view = sim.observe()
    model = sim.model
    scale = 1000.0 if family == "edge" else 1.0
    assert view.now == model.engine.now / scale
    if family == "edge":
        assert view.now_ms == model.engine.now
    assert view.waiting and [t.id for t in view.waiting] == model.waiting
    assert [w.id for w in view.workers] == list(range(len(view.workers)))
    assert [w.queue_length for w in view.workers] == model.pool.queue_lengths()
    assert view.valid_actions() == [Enqueue(t.id, w.id) for t in view.waiting for w in view.workers]
    assert view.snapshot().valid_actions() == view.valid_actions()
    # The family's own names stay.
    alias = {"edge": ("request", "nodes"), "multiproc": ("task", "cpus"), "hetero": ("batch", "nodes")}[family]
    first = view.waiting if family == "hetero" else view.waiting[0]
    assert getattr(view, alias[0]) == first and getattr(view, alias[1]) is view.workers


@FAMILIES
def test_snapshot_does_not_change_when_the_simulation_goes_on(family):
    sim = start(family)
    view = sim.observe()
    snap = view.snapshot()
    before = plain(snap)
    with pytest.raises(AttributeError):
        snap.now = 1.0
    for a in np.asarray(snap, dtype=object):
        if isinstance(a, np.ndarray):
            assert not a.flags.writeable
    sim.act(make("round-robin", family).decide(view))
    assert not sim.done
    assert plain(snap) == before
    assert plain(sim.observe().snapshot()) != before


@FAMILIES
def test_passing_always_ends_the_episode_with_nothing_run(family):
    class Pass:
        families = QUEUE_FAMILIES

        def reset(self, rng):
            pass

        def decide(self, view):
            return []

    res = simulate(small_scenario(family), Pass(), seed=1)
    trace = res.trace
    assert trace.jobs["completion"] == [None] * len(trace.jobs["id"])
    assert trace.tasks["job"] == [] and trace.decisions["job"] == []
    assert trace.counters["decisions"] > 0


@FAMILIES
def test_items_passed_over_are_offered_again(family):
    class PassFirst:
        families = QUEUE_FAMILIES

        def __init__(self):
            self.calls = []
            self.rr = RoundRobinWorker()

        def reset(self, rng):
            self.rr.reset(rng)

        def decide(self, view):
            self.calls.append([t.id for t in view.waiting])
            return [] if len(self.calls) == 1 else self.rr.decide(view)

    s = PassFirst()
    res = simulate(small_scenario(family), s, seed=1)
    first = s.calls[0]
    assert s.calls[1][: len(first)] == first  # still waiting, in arrival order
    assert sorted(res.trace.decisions["job"]) == sorted(res.trace.jobs["id"])  # placed once each
    assert None not in res.trace.jobs["completion"]
    assert check_trace(res.trace).ok


@FAMILIES
def test_several_actions_at_once_validated_before_any_applies(family):
    sim = start(family)
    if len(sim.observe().waiting) < 3:
        sim.act([])
    if len(sim.observe().waiting) < 3:
        sim.act([])
    view = sim.observe()
    model = sim.model
    ids = [t.id for t in view.waiting]
    assert len(ids) >= 3
    before = plain(view.snapshot())
    heap = list(model.engine.heap)
    for bad in ([Enqueue(ids[0], 0), Enqueue(ids[1], 99)], [Enqueue(ids[0], 0), Enqueue(ids[0], 1)]):
        with pytest.raises(InvalidActionError):
            model.apply(bad)
        assert plain(model.view().snapshot()) == before and model.engine.heap == heap
        assert model._decision_rows == []
    # Two of them now: the decision point stays open for the rest, in their order.
    assert model.apply([Enqueue(ids[1], 0), Enqueue(ids[0], 1)]) is True
    assert model.waiting == ids[2:]
    assert [r[1] for r in model._decision_rows] == [ids[1], ids[0]]
    assert model.apply([Enqueue(i, 0) for i in ids[2:]]) is False
    assert model.waiting == []
