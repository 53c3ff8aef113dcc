"""The discrete-event kernel: a clock and a binary heap of timed events.

An event is the tuple ``(time, seq, handler, a, b)``; popping it sets the clock and calls
``handler(time, a, b)``. ``seq`` comes from a counter owned by this engine instance, so events
at equal times pop in insertion order and two engines never share state. A handler returns a
true value when the model it belongs to has reached a decision point; :meth:`Engine.advance`
then stops and hands control back to the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Any

__all__ = ["Engine", "EmptySchedule", "Handler"]

Handler = Callable[[float, Any, Any], Any]


class EmptySchedule(Exception):
    """Raised by :meth:`Engine.step` when no event is left."""


class Engine:
    """Clock plus event heap. Times are plain floats in the unit of the model using it."""

    __slots__ = ("now", "heap", "seq", "events")

    def __init__(self) -> None:
        self.now: float = 0.0
        #: The heap itself. Models on the hot path push onto it directly with
        #: ``heapq.heappush(engine.heap, (t, next(engine.seq), handler, a, b))``: a bound
        #: method call per task event costs more than the whole push.
        self.heap: list[tuple] = []
        self.seq = itertools.count()
        #: Events processed so far.
        self.events: int = 0

    def schedule(self, time: float, handler: Handler, a: Any = None, b: Any = None) -> None:
        """Schedule ``handler(time, a, b)`` at absolute ``time`` (never before :attr:`now`)."""
        if time < self.now:
            raise ValueError(f"cannot schedule an event at {time} before the clock ({self.now})")
        heappush(self.heap, (time, next(self.seq), handler, a, b))

    def take_due(self, until: float) -> list[tuple[Any, Any]]:
        """Remove the events at or before ``until`` without running them; return their payloads.

        For a model that must handle a batch of simultaneous events as one, before any of them
        may open a decision point: Spark admits every job present at t=0 before its first
        round, as the reference simulator does, where running the arrival handlers one by one
        would open a round after the first. The caller does the handlers' work itself; the
        events count as processed (:attr:`events`) and the clock moves to the last one taken.

        Args:
            until: Take the events whose time is at most this.

        Returns:
            The ``(a, b)`` payloads of the events taken, in the order they would have run.
        """
        heap = self.heap
        out = []
        while heap and heap[0][0] <= until:
            time, _, _, a, b = heappop(heap)
            self.now = time
            out.append((a, b))
        self.events += len(out)
        return out

    def cancel(self, handler: Handler, a: Any) -> tuple | None:
        """Remove the pending event of ``handler`` whose first payload is ``a``; return it, or None.

        For a model whose worker dies with an event pending (the end of the task it ran). A
        scan of the heap and a re-heapify: linear in the pending events, which is fine for the
        rare fault and keeps the events of every run without one exactly as they were. Events
        keep their (time, seq) keys, so the order of the others does not change.
        """
        heap = self.heap
        for k, ev in enumerate(heap):
            if ev[3] == a and ev[2] == handler:
                last = heap.pop()
                if k < len(heap):
                    heap[k] = last
                    heapify(heap)
                return ev
        return None

    def peek(self) -> float:
        """Time of the next event, or ``inf`` when none is left."""
        return self.heap[0][0] if self.heap else float("inf")

    def step(self) -> Any:
        """Process one event and return its handler's result.

        Raises:
            EmptySchedule: No event is left.
        """
        if not self.heap:
            raise EmptySchedule()
        time, _, handler, a, b = heappop(self.heap)
        self.now = time
        self.events += 1
        return handler(time, a, b)

    def advance(self, until: float = float("inf")) -> bool:
        """Process events until a handler reports a decision point.

        Args:
            until: Stop before the first event later than this time.

        Returns:
            True if stopped at a decision point, False if the schedule ran dry or ``until``
            was reached.
        """
        heap = self.heap
        pop = heappop
        n = 0
        try:
            # Inlined step(): this loop runs once per task of an episode, so the common case
            # (no time limit) gets a loop without the limit test.
            if until == float("inf"):
                while heap:
                    time, _, handler, a, b = pop(heap)
                    self.now = time
                    n += 1
                    if handler(time, a, b):
                        return True
                return False
            while heap:
                if heap[0][0] > until:
                    return False
                time, _, handler, a, b = pop(heap)
                self.now = time
                n += 1
                if handler(time, a, b):
                    return True
            return False
        finally:
            self.events += n
