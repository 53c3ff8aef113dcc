"""The queue families' shared parts: FIFO workers, the dispatcher's check, the single-stage trace."""

import numpy as np
import pytest

from schedlab.errors import InvalidActionError
from schedlab.sim.actions import Assign, Enqueue
from schedlab.sim.engine import Engine
from schedlab.sim.queues import Dispatcher, FifoWorkers, enqueue_actions, fill_single_stage, frozen
from schedlab.sim.trace import Trace


def pool_of(durations, num_workers=2, on_done=None, **kw):
    eng = Engine()
    done = []

    def record(now, item, worker):
        done.append((now, item, worker))
        return on_done(now, item, worker) if on_done else False

    pool = FifoWorkers(eng, num_workers, len(durations), lambda i, w: durations[i][w], record, **kw)
    return eng, pool, done


def test_items_run_back_to_back_in_fifo_order():
    # Worker 0: item 0 [0, 2), item 2 queued behind it [2, 5); worker 1: item 1 [0, 1).
    eng, pool, done = pool_of([(2.0, 9.0), (9.0, 1.0), (3.0, 9.0)])
    pool.submit(0.0, 0, 0)
    pool.submit(0.0, 1, 1)
    pool.submit(0.0, 2, 0)
    assert pool.queue_lengths() == [2, 1] and pool.queue_length(0) == 2
    assert pool.running == [0, 1] and list(pool.queues[0]) == [2]
    assert eng.advance() is False
    assert done == [(1.0, 1, 1), (2.0, 0, 0), (5.0, 2, 0)]
    assert pool.start_at == [0.0, 0.0, 2.0] and pool.planned_end == [2.0, 1.0, 5.0]
    assert pool.end_at == [2.0, 1.0, 5.0] and pool.worker_of == [0, 1, 0]
    assert pool.order == [0, 1, 2] and pool.completed == 3
    assert pool.running == [-1, -1] and pool.queue_lengths() == [0, 0]


def test_duration_is_asked_when_the_item_starts():
    asked = []
    eng = Engine()
    pool = FifoWorkers(eng, 1, 2, lambda i, w: asked.append((eng.now, i)) or 1.0)
    pool.submit(0.0, 0, 0)
    pool.submit(0.0, 1, 0)
    eng.advance()
    assert asked == [(0.0, 0), (1.0, 1)]


def test_on_done_sees_the_finished_item_running_and_its_result_opens_a_decision():
    seen = []

    def on_done(now, item, worker):
        seen.append((pool.running[worker], list(pool.queues[worker])))
        return item == 0

    eng, pool, _ = pool_of([(1.0,), (1.0,)], num_workers=1, on_done=on_done)
    pool.submit(0.0, 0, 0)
    pool.submit(0.0, 1, 0)
    assert eng.advance() is True and eng.now == 1.0  # item 0 done: a decision point
    assert pool.running == [1]  # the next item already started
    assert eng.advance() is False
    assert seen == [(0, [1]), (1, [])]


def test_each_start_takes_one_sequence_number():
    eng, pool, _ = pool_of([(1.0,), (1.0,), (1.0,)], num_workers=1)
    for i in range(3):
        pool.submit(0.0, i, 0)
    assert [e[1] for e in eng.heap] == [0]  # one event per running item, not per queued one
    eng.advance()
    assert next(eng.seq) == 3


def test_submit_works_as_an_event_handler():
    eng, pool, done = pool_of([(1.0, 1.0)])
    eng.schedule(4.0, pool.submit, 0, 1)  # reaches worker 1 at 4
    assert eng.advance() is False
    assert done == [(5.0, 0, 1)]


def test_queued_totals_are_running_sums_reset_when_the_queue_empties():
    eng, pool, _ = pool_of([(1.0,)] * 4, num_workers=1, totals=([0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]))
    for i in range(4):
        pool.submit(0.0, i, 0)
    # Item 0 runs; 1, 2, 3 wait.
    assert pool.queued_total == [[0.2 + 0.3 + 0.4], [9.0]]
    eng.step()
    assert pool.queued_total == [[0.2 + 0.3 + 0.4 - 0.2], [7.0]]
    eng.step()
    eng.step()
    assert pool.queued_total == [[0.0], [0.0]]  # exactly 0, whatever the rounding


def test_bad_pool_arguments():
    with pytest.raises(ValueError, match="at least one worker"):
        FifoWorkers(Engine(), 0, 3, lambda i, w: 1.0)
    with pytest.raises(ValueError, match="cannot be negative"):
        FifoWorkers(Engine(), 1, -1, lambda i, w: 1.0)


def dispatcher(waiting=(0, 1), num_items=4, num_workers=2):
    d = Dispatcher(num_items, num_workers, family="demo", item="task", worker="node")
    d.extend(waiting)
    return d


def test_take_returns_the_pairs_in_order_and_keeps_the_rest_waiting():
    d = dispatcher(waiting=(0, 1, 2))
    assert d.take([Enqueue(2, 1), Enqueue(np.int64(0), np.int64(0))]) == [(2, 1), (0, 0)]
    assert d.waiting == [1] and bool(d) and len(d) == 1
    assert d.take([]) == [] and d.waiting == [1]  # a pass takes nothing
    assert d.take((Enqueue(1, 0),)) == [(1, 0)]
    assert d.waiting == [] and not d


@pytest.mark.parametrize(
    "actions, match",
    [
        ([Enqueue(0, 0), Assign(0, 0, 1)], "demo expects Enqueue"),
        ([("not", "an action")], "demo expects Enqueue"),
        (Enqueue(0, 0), "expects a list of Enqueue"),
        (None, "expects a list of Enqueue"),
        ([Enqueue(4, 0)], r"no task 4 \(tasks are 0..3\)"),
        ([Enqueue(-1, 0)], "no task -1"),
        ([Enqueue(True, 0)], "no task True"),
        ([Enqueue(0.0, 0)], "no task 0.0"),
        ([Enqueue(0, 0), Enqueue(0, 1)], "task 0 is named twice"),
        ([Enqueue(2, 0)], "task 2 is not waiting; the waiting tasks are 0, 1 .*task 2 has not arrived yet"),
        ([Enqueue(3, 0)], "task 3 has not arrived yet"),
        ([Enqueue(0, 2)], r"no node 2 \(nodes are 0..1\)"),
        ([Enqueue(0, False)], "no node False"),
        ([Enqueue(0, 1.0)], r"no node 1\.0"),
        ([Enqueue(0, "1")], "no node '1'"),
    ],
)
def test_an_invalid_answer_is_refused_whole(actions, match):
    d = dispatcher()
    with pytest.raises(InvalidActionError, match=match):
        d.take(actions)
    assert d.waiting == [0, 1]
    assert d.take([Enqueue(1, 0), Enqueue(0, 1)]) == [(1, 0), (0, 1)]  # nothing was taken


def test_an_item_taken_before_is_already_enqueued():
    d = dispatcher(waiting=(0,))
    d.take([Enqueue(0, 0)])
    with pytest.raises(InvalidActionError, match="no task is waiting .*task 0 is already enqueued"):
        d.take([Enqueue(0, 1)])


def test_a_long_waiting_list_is_cut_in_messages():
    d = dispatcher(waiting=range(12), num_items=20)
    with pytest.raises(InvalidActionError, match=r"are 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\. "):
        d.take([Enqueue(15, 0)])


def test_enqueue_actions_and_frozen():
    class Item:
        def __init__(self, id):
            self.id = id

    assert enqueue_actions([Item(3), Item(5)], [Item(0), Item(1)]) == [
        Enqueue(3, 0), Enqueue(3, 1), Enqueue(5, 0), Enqueue(5, 1)]  # fmt: skip
    a = np.arange(3.0)
    f = frozen(a)
    a[0] = 9.0
    assert f.tolist() == [0.0, 1.0, 2.0] and not f.flags.writeable
    with pytest.raises(ValueError):
        f[0] = 1.0


@pytest.mark.parametrize("rows, order", [("id", [0, 2]), ("start", [2, 0])])
def test_fill_single_stage(rows, order):
    eng, pool, _ = pool_of([(2.0, 9.0), (9.0, 9.0), (1.0, 9.0)])
    pool.submit(0.0, 2, 0)  # item 2 starts first; item 1 never does
    pool.submit(0.0, 0, 0)
    eng.advance()
    trace = Trace(family="demo", time_unit="s")
    fill_single_stage(trace, pool, name="task", arrival=[0.0, 0.0, 0.0], rows=rows, size=[1, 2, 3])
    assert trace.jobs == {"id": [0, 1, 2], "name": ["task"] * 3, "arrival": [0.0] * 3,
                          "completion": [3.0, None, 1.0], "size": [1, 2, 3]}  # fmt: skip
    assert trace.stages == {"job": [0, 1, 2], "stage": [0] * 3, "num_tasks": [1] * 3, "parents": [[], [], []]}
    ends = {0: (1.0, 3.0), 2: (0.0, 1.0)}
    assert trace.tasks == {"job": order, "stage": [0, 0], "task": [0, 0], "worker": [0, 0],
                           "start": [ends[i][0] for i in order], "end": [ends[i][1] for i in order]}  # fmt: skip
    with pytest.raises(ValueError, match="rows must be"):
        fill_single_stage(trace, pool, name=["a", "b", "c"], arrival=[0.0] * 3, rows="time")
