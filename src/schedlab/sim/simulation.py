"""Run a scheduler on a scenario: the loop between the engine, the model and the scheduler.

A family's *model* (built by its scenario's ``build(engine, rng)``) owns the family's state
and event handlers, and talks to this loop through a small protocol:

- ``family`` and ``time_unit`` (``"ms"`` or ``"s"``) class attributes;
- ``start() -> bool``: schedule the workload; True if a decision point is open right away;
- ``view()``: the read-only view of the open decision point;
- ``apply(actions, delay=None) -> bool``: validate and apply a scheduler's actions (raising
  :class:`~schedlab.sim.errors.InvalidActionError` on a bad one); True if the decision point is
  still open (ask again), False once it has closed and time can run on. ``delay`` (in the
  model's time unit, >= 0) is given only when the scenario charges decision time
  (:mod:`schedlab.sim.decision_time`): the actions are validated and booked now, and take
  effect ``delay`` later. A model that does not take it runs only with ``decision_time: off``;
- ``progress() -> float``: fraction of the workload finished, for progress bars;
- ``advance() -> bool`` (optional): run the engine to the next decision point, as
  :meth:`Engine.advance` does; a model defines it to handle its commonest event inside the
  loop (Spark's task ends), and the loop calls it instead of the engine's;
- ``finish(trace)``: fill the trace's tables at the end.

Between decision points the engine runs the model's handlers; a handler returns True when it
opens a decision point.
"""

from __future__ import annotations

import gc
import inspect
import math
from typing import Any

import numpy as np

from schedlab.sim.decision_time import parse_decision_time
from schedlab.sim.engine import Engine
from schedlab.sim.errors import ConfigError
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

    Raises:
        ConfigError: ``seed`` is not a non-negative integer, or the scenario charges decision
            time but its family's model does not take a delay in ``apply``.

    Attributes:
        decision_time: The scenario's ``decision_time``, parsed (``off`` when it has none).
        busy_until: When the scheduler is done with its latest decision, in the model's unit
            (stays 0.0 while decision time is off).
    """

    def __init__(self, scenario: Any, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            # NumPy's own refusal comes from deep inside the seeding code, after the workload is built.
            raise ConfigError(f"a seed is a non-negative integer, got {seed!r}", field="seed")
        self.scenario = scenario
        self.seed = seed
        self.engine = Engine()
        self.model = scenario.build(self.engine, np.random.default_rng(seed))
        self.scheduler_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        self.decisions = 0
        self.decision_time = parse_decision_time(getattr(scenario, "decision_time", "off"))
        self.busy_until = 0.0
        # Per accepted answer: decision time, cost, effect (model unit), and the cost in seconds.
        self._charges: list[tuple[float, float, float, float]] = []
        if not self.decision_time.off:
            self._per_s = 1000.0 if self.model.time_unit == "ms" else 1.0
            if not _takes_delay(self.model.apply):
                raise ConfigError(
                    f"the {self.model.family} family's model takes no decision delay; use decision_time: off",
                    field="decision_time",
                )
            # Swapped in only here, so that a run without decision time takes the old path.
            self.act = self._act_charged
        # Bound once: called after every decision point.
        self._run = getattr(self.model, "advance", None) or self.engine.advance
        self._pending = self.model.start()
        if not self._pending:
            self._advance()

    @property
    def charged_s(self) -> float:
        """Decision time charged so far (s); 0.0 when none is."""
        return math.fsum(r[3] for r in self._charges)

    @property
    def done(self) -> bool:
        """True once no decision point is left."""
        return not self._pending

    def observe(self) -> Any:
        """The read-only view at the current decision point."""
        return self.model.view()

    def act(self, actions: Any, decision_s: float | None = None) -> None:
        """Apply actions at the current decision point, then run to the next one.

        Args:
            actions: The scheduler's answer.
            decision_s: Wall time (s) the scheduler took to decide; charged in simulated time
                when the scenario's ``decision_time`` is ``measured``, ignored otherwise.

        Raises:
            InvalidActionError: The model rejects the actions.
            ValueError: ``decision_time`` is ``measured`` and ``decision_s`` is missing, negative
                or not finite.
        """
        self.decisions += 1
        self._pending = self.model.apply(actions)
        if not self._pending:
            self._advance()

    def _act_charged(self, actions: Any, decision_s: float | None = None) -> None:
        """:meth:`act` when decision time is charged: the effect starts once the scheduler is free."""
        spec = self.decision_time
        if spec.mode == "fixed":
            cost_s = spec.seconds
        elif decision_s is None or not (isinstance(decision_s, (int, float)) and math.isfinite(decision_s)):
            raise ValueError(
                f"decision_time measured charges the scheduler's decide() wall time; got {decision_s!r} "
                "(pass the seconds it took as decision_s)"
            )
        elif decision_s < 0:
            raise ValueError(f"decision_s must be >= 0, got {decision_s!r}")
        else:
            cost_s = float(decision_s)
        now = self.engine.now
        cost = cost_s * self._per_s
        free = self.busy_until if self.busy_until > now else now
        delay = (free + cost) - now
        self.decisions += 1
        self._pending = self.model.apply(actions, delay)
        # Recorded only once the model accepted the actions: a rejected answer charges nothing.
        effect = now + delay
        self.busy_until = effect
        self._charges.append((now, cost, effect, cost_s))
        if not self._pending:
            self._advance()

    def _advance(self) -> None:
        self._pending = self._run()

    def trace(self, meta: dict[str, Any] | None = None) -> Trace:
        """The trace of the episode so far.

        With decision time charged, ``meta["decision_time"]`` names the mode,
        ``counters["decision_time_s"]`` is the total charged (s), and
        ``extra["decision_time"]`` has one row per accepted answer: ``time`` (when the decision
        point was), ``cost`` (what it was charged) and ``effect`` (when its actions took effect),
        in the trace's unit.
        """
        t = Trace(
            family=self.model.family,
            time_unit=self.model.time_unit,
            meta={"seed": self.seed, "scenario": getattr(self.scenario, "name", ""), **(meta or {})},
            scenario=self.scenario.model_dump(mode="json"),
            counters={"events": self.engine.events, "decisions": self.decisions},
        )
        if not self.decision_time.off:
            t.meta["decision_time"] = str(self.decision_time)
            t.counters["decision_time_s"] = self.charged_s
            rows = self._charges
            t.extra["decision_time"] = {
                "time": [r[0] for r in rows],
                "cost": [r[1] for r in rows],
                "effect": [r[2] for r in rows],
            }
        # Building the tables of a long run allocates millions of objects and no reference
        # cycle; the collector would walk every live one several times meanwhile (half the
        # building time on 5,000 TPC-H jobs), so it waits until they are built.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.model.finish(t)
        finally:
            if enabled:
                gc.enable()
        return t


def _takes_delay(apply: Any) -> bool:
    """Whether a model's ``apply`` takes a second argument (the delay)."""
    try:
        params = list(inspect.signature(apply).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2
