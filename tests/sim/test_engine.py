import pytest

from schedlab.sim.engine import EmptySchedule, Engine


def test_events_pop_in_time_then_insertion_order():
    eng = Engine()
    seen = []
    rec = lambda t, a, b: seen.append((t, a))
    for t, name in [(2.0, "c"), (1.0, "a"), (2.0, "d"), (1.0, "b"), (0.5, "first")]:
        eng.schedule(t, rec, name)
    assert eng.advance() is False
    assert seen == [(0.5, "first"), (1.0, "a"), (1.0, "b"), (2.0, "c"), (2.0, "d")]
    assert eng.now == 2.0 and eng.events == 5


def test_advance_stops_at_decision_point_and_until():
    eng = Engine()
    eng.schedule(1.0, lambda t, a, b: False)
    eng.schedule(2.0, lambda t, a, b: True)
    eng.schedule(3.0, lambda t, a, b: False)
    assert eng.advance() is True and eng.now == 2.0
    assert eng.advance(until=2.5) is False and eng.now == 2.0
    assert eng.peek() == 3.0
    assert eng.advance() is False and eng.now == 3.0


def test_step_and_empty_schedule():
    eng = Engine()
    eng.schedule(1.0, lambda t, a, b: (t, a, b), "x", "y")
    assert eng.step() == (1.0, "x", "y")
    with pytest.raises(EmptySchedule):
        eng.step()


def test_cannot_schedule_in_the_past():
    eng = Engine()
    eng.schedule(5.0, lambda t, a, b: None)
    eng.step()
    with pytest.raises(ValueError, match="before the clock"):
        eng.schedule(4.0, lambda t, a, b: None)


def test_two_engines_do_not_share_the_sequence():
    a, b = Engine(), Engine()
    a.schedule(1.0, lambda t, x, y: None)
    b.schedule(1.0, lambda t, x, y: None)
    assert a.heap[0][1] == b.heap[0][1] == 0


def test_take_due_hands_back_the_payloads_without_running_the_handlers():
    eng = Engine()
    ran = []
    rec = lambda t, a, b: ran.append(a) or True
    for t, a in [(1.0, "late"), (0.0, "x"), (0.0, "y"), (0.5, "z")]:
        eng.schedule(t, rec, a, t)
    assert eng.take_due(0.5) == [("x", 0.0), ("y", 0.0), ("z", 0.5)]
    assert ran == [] and eng.events == 3 and eng.now == 0.5
    assert eng.take_due(0.9) == [] and eng.events == 3 and eng.now == 0.5
    assert eng.advance() is True and ran == ["late"] and eng.events == 4 and eng.now == 1.0
    assert eng.take_due(float("inf")) == []
