"""Running schedulers on scenarios: one run (:func:`simulate`), comparisons, sweeps, traces on disk."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schedlab.sim.simulation import Simulation
from schedlab.sim.trace import Trace

__all__ = ["RunResult", "simulate", "resolve_scheduler"]


@dataclass
class RunResult:
    """What :func:`simulate` returns: the trace and the metrics computed from it."""

    trace: Trace
    metrics: dict[str, Any]


def simulate(
    scenario: Any,
    scheduler: Any,
    seed: int = 0,
    *,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Run ``scheduler`` on ``scenario`` with ``seed`` and return the trace and its metrics.

    Args:
        scenario: A preset name, a YAML path, or a scenario object.
        scheduler: A registered name (e.g. ``"fair"``), a ``"module:Class"`` path, or a
            scheduler object.
        seed: Same scenario, scheduler and seed give the same trace, bit for bit (unless the
            scenario's ``decision_time`` is ``measured``: then the wall time of each ``decide()``
            call is charged in simulated time, and that differs from run to run).
        progress: Called now and then with the simulated fraction of jobs finished.

    Raises:
        schedlab.errors.SchedlabError: Bad scenario, unknown scheduler, a scheduler that does
            not declare the scenario's family, invalid action.
    """
    from schedlab.metrics.summary import summarize
    from schedlab.scenarios import load_scenario

    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    name, scheduler = resolve_scheduler(scheduler, scenario.family)
    sim = Simulation(scenario, seed)
    scheduler.reset(sim.scheduler_rng)
    decide_s: list[float] = []
    clock = time.perf_counter
    wall0 = clock()
    while not sim.done:
        view = sim.observe()
        t0 = clock()
        actions = scheduler.decide(view)
        dt = clock() - t0
        decide_s.append(dt)
        sim.act(actions, dt)
        if progress is not None and len(decide_s) % 512 == 0:
            progress(sim.model.progress())
    wall = clock() - wall0
    trace = sim.trace(meta={"scheduler": name})
    trace.timing = {"wall_s": wall, "decide_s": decide_s}
    if progress is not None:
        progress(1.0)
    return RunResult(trace, summarize(trace))


def resolve_scheduler(scheduler: Any, family: str) -> tuple[str, Any]:
    """``(name, scheduler object)`` for a registered name, a path or an object, checked for ``family``.

    Raises:
        schedlab.errors.SchedlabError: Unknown name, or a scheduler of another family.
    """
    from schedlab.schedulers import check_family, make

    if isinstance(scheduler, str):
        name, scheduler = scheduler, make(scheduler, family)
    else:
        name = getattr(scheduler, "name", "") or type(scheduler).__name__
    check_family(scheduler, family)
    return name, scheduler
