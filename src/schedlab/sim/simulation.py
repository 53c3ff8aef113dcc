"""Run a scheduler on a scenario: the loop between the engine, the model and the scheduler.

A family's *model* (built by its scenario's ``build(engine, rng)``) owns the family's state
and event handlers, and talks to this loop through a small protocol:

- ``family`` and ``time_unit`` (``"ms"`` or ``"s"``) class attributes;
- ``start() -> bool``: schedule the workload; True if a decision point is open right away;
- ``view()``: the read-only view of the open decision point;
- ``apply(actions) -> bool``: validate and apply a scheduler's actions (raising
  :class:`~schedlab.sim.errors.InvalidActionError` on a bad one); True if the decision point is
  still open (ask again), False once it has closed and time can run on;
- ``progress() -> float``: fraction of the workload finished, for progress bars;
- ``finish(trace)``: fill the trace's tables at the end.

Between decision points the engine runs the model's handlers; a handler returns True when it
opens a decision point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schedlab.sim.engine import Engine
from schedlab.sim.trace import Trace

__all__ = ["Simulation"]


class Simulation:
    """One episode, advanced decision point by decision point.

    :func:`schedlab.runs.simulate` drives it with a scheduler; a Gymnasium environment drives it with an
    agent's actions through the same two calls, :meth:`observe` and :meth:`act`.

    Args:
        scenario: A validated scenario: anything with ``build(engine, rng) -> model``,
            ``model_dump(mode="json")`` and a ``name``.
        seed: Seeds the workload and the task durations. The scheduler gets its own stream
            from :attr:`scheduler_rng`, so its randomness never shifts the workload's.
    """

    def __init__(self, scenario: Any, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.engine = Engine()
        self.model = scenario.build(self.engine, np.random.default_rng(seed))
        self.scheduler_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        self.decisions = 0
        self._pending = self.model.start()
        if not self._pending:
            self._advance()

    @property
    def done(self) -> bool:
        """True once no decision point is left."""
        return not self._pending

    def observe(self) -> Any:
        """The read-only view at the current decision point."""
        return self.model.view()

    def act(self, actions: Any) -> None:
        """Apply actions at the current decision point, then run to the next one."""
        self.decisions += 1
        self._pending = self.model.apply(actions)
        if not self._pending:
            self._advance()

    def _advance(self) -> None:
        self._pending = self.engine.advance()

    def trace(self, meta: dict[str, Any] | None = None) -> Trace:
        """The trace of the episode so far."""
        t = Trace(
            family=self.model.family,
            time_unit=self.model.time_unit,
            meta={"seed": self.seed, "scenario": getattr(self.scenario, "name", ""), **(meta or {})},
            scenario=self.scenario.model_dump(mode="json"),
            counters={"events": self.engine.events, "decisions": self.decisions},
        )
        self.model.finish(t)
        return t
