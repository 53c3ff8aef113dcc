"""The decision contract on gpu: the view's shared names, snapshots, passing, all-or-nothing apply."""

import numpy as np
import pytest

from helpers import drive
from schedlab.errors import InvalidActionError
from schedlab.families.gpu.gswarm import arrival_offsets, execution_time_table, parse_config
from schedlab.families.gpu.model import EstimatedTimes, GpuCluster, GpuSnapshot, GpuState
from schedlab.schedulers import make
from schedlab.sim.actions import Place
from schedlab.sim.engine import Engine


def plain(x):
    """Nested plain values, to compare a snapshot before and after the simulation moves on."""
    if isinstance(x, tuple):
        return (type(x).__name__, *(plain(v) for v in x))
    return x


# Online: r0 (A then B) at 0, r1 (G, two GPUs) at 0, r2 (S) at 0, r3 (S) at 1 s.
SPECS = [("ab", {"n1": 4, "n2": 2}, 0), ("g", {"g": 3}, 0), ("s", {"s": 2}, 0), ("s", {"s": 1}, 1)]


def build(tiny, gpus=4):
    cfg = parse_config(tiny.config)
    reqs = tiny.requests_of(*SPECS)
    eng = Engine()
    times = EstimatedTimes(execution_time_table(cfg, reqs, np.random.default_rng(0)))
    return eng, GpuCluster(eng, cfg, reqs, arrival_offsets(reqs), gpus=gpus, times=times)


def until_three_ready(eng, model):
    """Start, passing until the three requests at t=0 are all in; return the open view."""
    assert model.start() is False
    while True:
        assert eng.advance() is True
        view = model.view()
        if len(view.ready) == 3:
            return view
        assert model.apply([]) is False


def state(model):
    """What apply may change, as plain values."""
    return (
        plain(model.view().snapshot()),
        list(model._gpu_model),
        list(model._gpu_free),
        dict(model._ready_gangs),
        list(model._runs),
        list(model._decision_rows),
        list(model.engine.heap),
    )


def test_view_offers_now_waiting_workers_and_valid_actions(tiny):
    eng, model = build(tiny)
    view = until_three_ready(eng, model)
    assert view.now == 0.0
    assert view.waiting is view.ready and view.workers is view.gpus
    assert [(r.task, r.gpus_required) for r in view.waiting] == [(0, 1), (2, 2), (3, 1)]
    assert [(w.id, w.queue_length) for w in view.workers] == [(g, 0) for g in range(4)]
    singles = [(g,) for g in range(4)]
    assert view.valid_actions() == (
        [Place(0, g) for g in singles] + [Place(2, (s, s + 1)) for s in range(3)] + [Place(3, g) for g in singles]
    )
    assert model.apply([Place(2, (1, 2))]) is True
    view = model.view()
    assert [w.queue_length for w in view.workers] == [0, 1, 1, 0]
    assert GpuState(1, False, "G", 5.0).queue_length == 1  # 2 s load + 3 s run
    assert view.valid_actions() == [Place(0, (0,)), Place(0, (3,)), Place(3, (0,)), Place(3, (3,))]


def test_snapshot_does_not_change_when_the_simulation_goes_on(tiny):
    eng, model = build(tiny)
    view = until_three_ready(eng, model)
    snap = view.snapshot()
    assert isinstance(snap, GpuSnapshot)
    before = plain(snap)
    with pytest.raises(AttributeError):
        snap.now = 1.0
    # The same information as the view.
    assert (snap.now, snap.num_gpus, snap.ready, snap.gpus) == (view.now, view.num_gpus, view.ready, view.gpus)
    assert snap.models == view.models and [m.key for m in view.models] == ["A", "B", "S", "G"]
    assert snap.waiting is snap.ready and snap.workers is snap.gpus and snap.idle_gpus == view.idle_gpus
    assert snap.valid_actions() == view.valid_actions()
    keys = ["A", "B", "S", "G"]
    for m in keys:
        assert snap.model_info(m) == view.model_info(m)
        assert snap.setup_time((1, 2), m) == view.setup_time((1, 2), m)
        for loaded in [None, *keys]:
            assert snap.switch_cost(loaded, m) == view.switch_cost(loaded, m)
    assert [snap.request(i) for i in range(4)] == [view.request(i) for i in range(4)]
    with pytest.raises(KeyError, match="no model 'Z'"):
        snap.model_info("Z")
    # A baseline decides the same on the snapshot as on the view.
    assert make("eft", "gpu").decide(snap) == make("eft", "gpu").decide(view)
    assert model.apply(make("ray-like", "gpu").decide(view)) is False
    assert eng.advance() is True  # r3 arrived at 1 s; GPU 3 comes free at 3 s (1 s load, 2 s run)
    assert plain(snap) == before
    fresh = model.view().snapshot()
    assert plain(fresh) != before and (fresh.now, snap.now) == (3.0, 0.0)
    assert snap.idle_gpus == (0, 1, 2, 3) and snap.request(2).nodes_left == 1 and fresh.request(2).nodes_left == 0


def test_an_empty_list_passes_and_the_nodes_are_offered_again(tiny):
    eng, model = build(tiny)
    view = until_three_ready(eng, model)
    ready = view.ready
    assert model.apply([]) is False
    assert model._runs == [] and model._decision_rows == [] and eng.heap[0][0] == 1.0
    assert eng.advance() is True  # the next decision point: r3 arrives at 1 s
    view = model.view()
    assert view.now == 1.0 and view.ready[:3] == ready and len(view.ready) == 4


@pytest.mark.parametrize(
    "bad, match",
    [
        (Place(0, (3,)), r"task 0 is already placed by Place\(task=0, workers=\(0,\)\)"),
        (Place(3, (2,)), r"GPU 2 is already in the gang of Place\(task=2, workers=\(1, 2\)\)"),
        (Place(3, (3, 4)), "needs exactly 1 GPU"),
        (Place(1, (3,)), "not ready"),
        ("nonsense", "expects Place"),
    ],
)
def test_an_invalid_action_after_valid_ones_changes_nothing(tiny, bad, match):
    eng, model = build(tiny)
    until_three_ready(eng, model)
    before = state(model)
    with pytest.raises(InvalidActionError, match=match):
        model.apply([Place(0, (0,)), Place(2, (1, 2)), bad])
    assert state(model) == before
    # Whole episodes agree with one where the bad call never happened, to the bit.
    trace = drive(eng, model, "ray-like", pending=True)
    eng2, clean = build(tiny)
    until_three_ready(eng2, clean)
    assert trace.digest() == drive(eng2, clean, "ray-like", pending=True).digest()
    assert eng.events == eng2.events


def test_the_execution_source_runs_nothing_for_a_rejected_list(tiny):
    class Recording(EstimatedTimes):
        calls = []

        def execute(self, request, node, gpus, start):
            self.calls.append((request, node))
            return super().execute(request, node, gpus, start)

    cfg = parse_config(tiny.config)
    reqs = tiny.requests_of(*SPECS)
    eng = Engine()
    times = Recording(execution_time_table(cfg, reqs, np.random.default_rng(0)))
    model = GpuCluster(eng, cfg, reqs, arrival_offsets(reqs), gpus=4, times=times)
    until_three_ready(eng, model)
    with pytest.raises(InvalidActionError):
        model.apply([Place(0, (0,)), Place(3, (0,))])
    assert times.calls == []
    assert model.apply([Place(0, (0,)), Place(3, (1,))]) is True
    assert times.calls == [(0, 0), (2, 0)]


def test_a_bare_action_or_a_string_is_not_an_action_list(tiny):
    eng, model = build(tiny)
    until_three_ready(eng, model)
    before = state(model)
    for bad in (Place(0, (0,)), "Place", 3):
        with pytest.raises(InvalidActionError, match="expects a list of Place"):
            model.apply(bad)
    assert state(model) == before
    assert model.apply(a for a in [Place(0, (0,))]) is True  # any other iterable is fine
