"""The decision contract on Spark: the view's shared names, snapshots, passing, all-or-nothing apply."""

from collections import Counter

import numpy as np
import pytest

from helpers import drive, job, stage
from schedlab.errors import InvalidActionError
from schedlab.families.spark.model import ExecutorView, SparkCluster, SparkSnapshot
from schedlab.schedulers import make
from schedlab.sim.actions import Assign
from schedlab.sim.engine import Engine


def plain(x):
    """Nested plain values, to compare a snapshot before and after the simulation moves on."""
    if isinstance(x, tuple):
        return (type(x).__name__, *(plain(v) for v in x))
    return x


def jobs():
    # Job 0: stages 0 and 1 feed stage 2; job 1: one stage. Both present at t=0, so the
    # first round offers three stages; assigning all of job 0's roots unlocks its stage 2.
    j0 = job(stage(0, num_tasks=3), stage(1, num_tasks=2), stage(2, [0, 1], num_tasks=2), name="a")
    j1 = job(stage(0, num_tasks=2), name="b")
    return [(0.0, j0), (0.0, j1), (250.0, job(stage(0, num_tasks=1), name="c"))]


def build(executors=6):
    eng = Engine()
    model = SparkCluster(
        eng, jobs(), num_executors=executors, moving_delay_ms=100.0, warmup_delay_ms=10.0, rng=np.random.default_rng(0)
    )
    return eng, model


def state(model):
    """What apply may change, as plain values: the round, the commitments, the decisions."""
    src = model.source
    return (
        plain(model.view().snapshot()),
        [(d.job.id if d.job else None, d.stage.index if d.stage else None, n) for d, n in src.out.items()],
        src.n_out,
        [(st.job.id, st.index, st.commit_to) for st in model._stages],
        [j.supply for j in model.jobs],
        sorted((st.job.id, st.index) for st in model.selected),
        [(st.job.id, st.index) for st in model._sched],
        list(model._decision_rows),
        list(model.engine.heap),
    )


def test_view_offers_now_in_seconds_waiting_workers_and_valid_actions():
    eng, model = build()
    assert model.start() is True
    view = model.view()
    assert view.now == 0.0 and view.now_ms == 0.0
    assert view.waiting == view.schedulable and [(s.job_id, s.index) for s in view.waiting] == [(0, 0), (0, 1), (1, 0)]
    assert view.workers == tuple(ExecutorView(e, None, False, 0) for e in range(6))
    assert view.valid_actions() == [Assign(j, s, k) for j, s in [(0, 0), (0, 1), (1, 0)] for k in range(1, 7)]
    assert model.apply([Assign(0, 0, 3), Assign(1, 0, 2)]) is True  # one left, and stage (0, 1) wants it
    assert model.apply([]) is False
    assert eng.advance(until=150.0) is False
    view = model.view()
    assert view.now_ms == 100.0 and view.now == 0.1  # the executors reached their jobs
    at = [(w.job, w.busy, w.queue_length) for w in view.workers]
    assert Counter(at) == {(0, True, 1): 3, (1, True, 1): 2, (None, False, 0): 1}
    assert [w.id for w in view.workers] == list(range(6))


def test_snapshot_does_not_change_when_the_simulation_goes_on():
    eng, model = build()
    model.start()
    view = model.view()
    snap = view.snapshot()
    assert isinstance(snap, SparkSnapshot)
    before = plain(snap)
    with pytest.raises(AttributeError):
        snap.now = 1.0
    # The same information as the view.
    assert (snap.now, snap.now_ms, snap.num_executors, snap.committable) == (0.0, 0.0, 6, 6)
    assert snap.source_job is None and snap.waiting == snap.schedulable
    assert snap.valid_actions() == view.valid_actions() and snap.workers == view.workers
    fields = ("job_id", "index", "num_tasks", "remaining_tasks", "running_tasks", "completed_tasks")
    fields += ("duration_estimate_ms", "parents", "children", "is_frontier", "demand")
    for sj, vj in zip(snap.jobs, view.jobs, strict=True):
        for f in ("id", "name", "arrival", "exec_supply", "num_local_executors", "remaining_work_ms"):
            assert getattr(sj, f) == getattr(vj, f)
        for ss, vs in zip(sj.stages, vj.stages, strict=True):
            assert [getattr(ss, f) for f in fields] == [getattr(vs, f) for f in fields]
        assert [s.index for s in sj.active_stages] == [s.index for s in vj.active_stages]
        assert snap.job(sj.id) is sj
    assert snap.schedulable[0] is snap.jobs[0].stages[0]
    with pytest.raises(KeyError, match="job 2 was not in the system"):
        snap.job(2)
    # A baseline decides the same on the snapshot as on the view.
    assert make("fair", "spark").decide(snap) == make("fair", "spark").decide(view)
    live = [(s.remaining_tasks, s.demand) for s in view.jobs[0].stages]
    model.apply(make("fair", "spark").decide(view))
    eng.advance()
    assert plain(snap) == before
    assert [(s.remaining_tasks, s.demand) for s in view.jobs[0].stages] != live  # the live view moved on
    assert plain(model.view().snapshot()) != before


def test_an_empty_list_passes_and_the_stages_are_offered_again():
    eng, model = build()
    model.start()
    offered = [(s.job_id, s.index) for s in model.view().waiting]
    assert model.apply([]) is False  # the round closes, nothing assigned
    assert model._decision_rows == [] and model.common.members == set(range(6)) and not model.common.out
    assert eng.advance() is True  # job 2 arrives at 250 ms: the next round
    assert model.view().now_ms == 250.0
    assert [(s.job_id, s.index) for s in model.view().waiting] == offered + [(2, 0)]


def test_a_later_action_may_name_a_stage_an_earlier_one_unlocked():
    eng, model = build()
    model.start()
    assert (0, 2) not in [(s.job_id, s.index) for s in model.view().schedulable]
    assert model.apply([Assign(0, 0, 3), Assign(0, 1, 2), Assign(0, 2, 1)]) is False  # all six committed
    assert [r[1:] for r in model._decision_rows] == [(0, 0, 3), (0, 1, 2), (0, 2, 1)]


@pytest.mark.parametrize(
    "bad, match",
    [
        (Assign(1, 0, 2), "limit must be an integer in 1..1"),  # only one executor left by then
        (Assign(0, 0, 1), "not schedulable"),  # already chosen in this list
        (Assign(0, 7, 1), "has no stage 7"),
        ("nonsense", "expects Assign"),
    ],
)
def test_an_invalid_action_after_valid_ones_changes_nothing(bad, match):
    eng, model = build()
    pending = model.start()
    before = state(model)
    good = [Assign(0, 0, 3), Assign(0, 1, 2)]  # the second unlocks stage 2
    with pytest.raises(InvalidActionError, match=match):
        model.apply([*good, bad])
    assert state(model) == before
    # Whole episodes agree with one where the bad call never happened, to the bit.
    trace = drive(eng, model, "fair", pending=pending)
    eng2, clean = build()
    assert trace.digest() == drive(eng2, clean, "fair").digest()
    assert eng.events == eng2.events
    # And the valid part alone applies as before.
    eng3, model3 = build()
    model3.start()
    assert model3.apply(good) is True
    assert [(s.job_id, s.index) for s in model3.view().schedulable] == [(0, 2), (1, 0)]


def test_rollback_keeps_commitments_made_before_the_call():
    # Rare in an episode, so set up by hand: the source pool already owes executors to two
    # stages (as an earlier round would leave it) when the call adds to the second commitment
    # and makes a new one; undoing must restore the old counts and their order.
    eng, model = build()
    model.start()
    j0, j1 = model.jobs[0].stages, model.jobs[1].stages
    model._commit(1, j0[1].pool)
    model._commit(1, j1[0].pool)
    assert [(s.job_id, s.index, s.demand) for s in model.view().schedulable] == [(0, 0, 3), (0, 1, 1), (1, 0, 1)]
    before = state(model)
    with pytest.raises(InvalidActionError, match="no job 99"):
        model.apply([Assign(1, 0, 1), Assign(0, 0, 2), Assign(99, 0, 1)])
    assert state(model) == before
    assert list(model.source.out.values()) == [1, 1]


def test_a_bare_action_or_a_string_is_not_an_action_list():
    _, model = build()
    model.start()
    before = state(model)
    for bad in (Assign(0, 0, 1), "Assign", 3):
        with pytest.raises(InvalidActionError, match="expects a list of Assign"):
            model.apply(bad)
    assert state(model) == before
    assert model.apply(a for a in [Assign(0, 0, 1)]) is True  # any other iterable is fine
