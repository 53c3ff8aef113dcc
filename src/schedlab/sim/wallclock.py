"""The simulator's loop on a wall clock, for live runs: real work decides when things end.

A live model is the family's own model whose completions come from real work instead of its
event heap. :func:`run_on_wall_clock` drives it the way
:class:`~schedlab.sim.simulation.Simulation` drives a simulated one: the engine's clock is
the seconds since the loop began; events still on the heap (arrivals) fire when due; an open
decision point asks the scheduler, whose actions take effect when it has answered; between
decision points the loop waits for real completions, or for the next due event.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from schedlab.errors import ConfigError
from schedlab.sim.engine import Engine

__all__ = ["run_on_wall_clock", "check_live_fields", "live_run_inputs"]


def run_on_wall_clock(
    model: Any,
    engine: Engine,
    scheduler: Any,
    wait: Callable[[float | None], Iterable[Any]],
    progress: Callable[[float], None] | None = None,
) -> tuple[float, list[float]]:
    """Run ``model`` until every piece of work is back; (wall seconds, each decision's seconds).

    Args:
        model: A live model: ``start()``, ``view()``, ``apply(actions)`` and ``progress()`` as
            every model has, plus ``running_any`` (work is out) and ``complete(now, item)``
            (a completion came back; returns whether a decision point opened).
        engine: The model's engine.
        scheduler: Decides on the model's views.
        wait: ``wait(timeout)`` blocks until completions come back (at most ``timeout``
            seconds; ``None``: no limit) and returns them, possibly none.
        progress: Called with ``model.progress()`` after each wait.
    """
    clock = time.perf_counter
    decide_s: list[float] = []
    t0 = clock()
    is_open = model.start()
    while True:
        now = clock() - t0
        while engine.heap and engine.peek() <= now:  # arrivals due: they are heap events
            is_open = bool(engine.step()) or is_open
        engine.now = now
        if is_open:
            view = model.view()
            t1 = clock()
            actions = scheduler.decide(view)
            decide_s.append(clock() - t1)
            engine.now = clock() - t0  # the actions take effect when the scheduler is done
            is_open = model.apply(actions)
            continue
        if not model.running_any and not engine.heap:
            break  # all work is back, or the scheduler passed with nothing left to wait for
        due = engine.peek() if engine.heap else math.inf
        timeout = None if math.isinf(due) else max(0.0, due - (clock() - t0))
        for item in wait(timeout):
            engine.now = clock() - t0
            is_open = model.complete(engine.now, item) or is_open
        if progress is not None:
            progress(model.progress())
    return clock() - t0, decide_s


def check_live_fields(scenario: Any) -> None:
    """Refuse what only a simulation can do: injected faults and charged decision time.

    Raises:
        ConfigError: The message names the field.
    """
    if scenario.faults is not None:
        raise ConfigError("a live run injects no faults; drop the faults section", field="faults")
    if str(getattr(scenario, "decision_time", "off")) != "off":
        raise ConfigError("a live run takes real decision time anyway; use decision_time: off", field="decision_time")


def live_run_inputs(
    scenario: Any, scheduler: Any, seed: Any, family: str, check: Callable[[Any], None] | None = None
) -> tuple[Any, str, Any]:
    """``(scenario, name, scheduler)`` of a live run of ``family``, checked.

    The scenario is loaded if named, must be of ``family``, and passes
    :func:`check_live_fields` and the family's own ``check``; the scheduler is resolved for
    the family; the seed must be a non-negative integer.

    Raises:
        ConfigError: Another family, what the checks refuse, an unknown scheduler, or a seed
            that is not a non-negative integer.
    """
    import numpy as np

    from schedlab.runs import resolve_scheduler
    from schedlab.scenarios import load_scenario

    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if getattr(scenario, "family", None) != family:
        raise ConfigError(f"this live run is for the {family} family, not {scenario.family}", field="--live")
    check_live_fields(scenario)
    if check is not None:
        check(scenario)
    name, scheduler = resolve_scheduler(scheduler, family)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"a seed is a non-negative integer, got {seed!r}", field="seed")
    return scenario, name, scheduler
