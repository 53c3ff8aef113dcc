"""Fault injection: workers that crash (and may come back) and tasks that straggle.

A scenario's ``faults`` section (see docs/faults.md) becomes a :class:`FaultSpec` in the
model's time unit, and a family's model that supports faults hands it to a
:class:`FaultInjector` with three hooks of its own:

- ``crash(now, worker) -> (lost, opened)``: the worker has just died (it is already marked
  dead in :attr:`FaultInjector.alive`); the model takes back what the worker held and
  returns the ``(job, stage, task)`` of the attempt it lost (None when it ran nothing) and
  whether a decision point opens;
- ``repair(now, worker) -> opened``: the worker is back (already marked alive), empty;
- ``can_lose(worker) -> bool``: whether the workload can still finish without this worker
  for good. A crash without repair that would leave too few workers does not happen (it is
  counted in ``counters["faults_skipped"]``): a run with faults always finishes its workload.

The injector schedules the crash and repair events on the engine, draws every random number
of the faults from its own stream (:func:`fault_stream`), and writes what happened into the
trace (:meth:`FaultInjector.finish`). A run without a ``faults`` section builds none, so it
draws and schedules exactly what it did before faults existed.

Crashes happen only while the workload is under way: a crash due when nothing but fault
events is left on the engine (the run is over, or everything left waits on a scheduler that
passes) does not happen, and that worker's crash process stops; so a run with a crash rate
still runs out of events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np

from schedlab.sim.engine import Engine
from schedlab.sim.errors import ConfigError
from schedlab.sim.trace import Trace

__all__ = ["FaultSpec", "FaultInjector", "fault_stream", "FAILURE_COLUMNS", "STRAGGLER_COLUMNS", "Lost"]

#: Columns of ``trace.extra["failures"]``: one row per worker failure. ``kind`` is ``"crash"``
#: or ``"lost_on_move"`` (spark); ``repair`` is when the worker is back (None: never); ``job``,
#: ``stage``, ``task`` name the attempt it lost (None when it ran none).
FAILURE_COLUMNS = ("time", "worker", "kind", "repair", "job", "stage", "task")
#: Columns of ``trace.extra["stragglers"]``: one row per task attempt slowed by ``factor``.
STRAGGLER_COLUMNS = ("job", "stage", "task", "worker", "start", "factor")

#: The attempt a failure lost: ``(job, stage, task)``, or None.
Lost = tuple[int, int, int] | None

# Spawn key of the fault stream below the run's seed. A child spawned the ordinary way has a
# small counter as its key; this one never collides with those, nor with the scheduler's.
_FAULT_KEY = 0xFA17


@dataclass(frozen=True)
class FaultSpec:
    """The faults of a run, in the model's time unit.

    Attributes:
        crash_at: Times of crashes given one by one.
        crash_workers: The worker of each of ``crash_at``; None: drawn uniformly.
        crash_rate: Crashes per worker per time unit while it is up (Poisson); 0: none.
        repair: Time a crashed worker needs to come back; None: it never does.
        straggler_probability: Chance that a task attempt is a straggler.
        straggler_factor: How many times longer a straggler takes (>= 1).
        lost_on_move_probability: Chance that an executor is lost during a move (spark).
    """

    crash_at: tuple[float, ...] = ()
    crash_workers: tuple[int, ...] | None = None
    crash_rate: float = 0.0
    repair: float | None = None
    straggler_probability: float = 0.0
    straggler_factor: float = 1.0
    lost_on_move_probability: float = 0.0


def fault_stream(rng: np.random.Generator) -> np.random.Generator:
    """The faults' own stream, derived from the run's stream without drawing from it.

    The workload draws exactly the same numbers with and without faults, so a run with faults
    differs from the run without only by the faults.

    Raises:
        ConfigError: ``rng`` was not made from a seed (it has no seed sequence to derive from).
    """
    seq = getattr(rng.bit_generator, "seed_seq", None)
    if not isinstance(seq, np.random.SeedSequence):
        raise ConfigError("faults need a generator made from a seed (np.random.default_rng(seed))")
    child = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, _FAULT_KEY))
    return np.random.default_rng(child)


class FaultInjector:
    """The crashes, repairs and stragglers of one run, on one engine.

    Args:
        engine: The engine the fault events go on.
        spec: What to inject, in the engine's time unit.
        num_workers: Workers are ``0 .. num_workers - 1``.
        rng: The faults' stream (:func:`fault_stream`); split into one stream for crashes,
            one for stragglers and one for moves, so turning one kind on does not shift the
            others.
        crash: The model's crash hook (see the module docstring).
        repair: The model's repair hook.
        can_lose: The model's test for a crash without repair.

    Raises:
        ConfigError: A crash names a worker that does not exist.

    Attributes:
        alive: Per worker, whether it is up now.
        back_at: Per worker, when it comes back (inf: never); meaningless while it is up.
        skipped: Crashes without repair that did not happen because the workload needed the worker.
        rows: One tuple per failure, columns :data:`FAILURE_COLUMNS`.
        straggler_rows: One tuple per straggler, columns :data:`STRAGGLER_COLUMNS`.
    """

    __slots__ = (
        "spec", "alive", "back_at", "skipped", "rows", "straggler_rows", "_engine", "_crash", "_repair",
        "_can_lose", "_crash_rng", "_slow_rng", "_move_rng", "_at", "_gen", "_pending", "_rate",
    )  # fmt: skip

    def __init__(
        self,
        engine: Engine,
        spec: FaultSpec,
        num_workers: int,
        rng: np.random.Generator,
        *,
        crash: Callable[[float, int], tuple[Lost, bool]],
        repair: Callable[[float, int], bool],
        can_lose: Callable[[int], bool],
    ) -> None:
        self.spec = spec
        self.alive = [True] * num_workers
        self.back_at = [0.0] * num_workers
        self.skipped = 0
        self.rows: list[tuple] = []
        self.straggler_rows: list[tuple] = []
        self._engine = engine
        self._crash = crash
        self._repair = repair
        self._can_lose = can_lose
        self._crash_rng, self._slow_rng, self._move_rng = rng.spawn(3)
        workers = spec.crash_workers
        if workers is None:
            workers = tuple(self._crash_rng.integers(num_workers, size=len(spec.crash_at)).tolist())
        elif len(workers) != len(spec.crash_at):
            raise ConfigError(
                f"{len(workers)} workers for {len(spec.crash_at)} crash times; give one per time",
                field="faults.crash.workers",
            )
        bad = [w for w in workers if not 0 <= w < num_workers]
        if bad:
            raise ConfigError(f"no worker {bad[0]} (workers are 0..{num_workers - 1})", field="faults.crash.workers")
        self._at = list(zip(spec.crash_at, workers))
        # Per worker, the generation of its crash process; a pending rate crash of an older
        # generation was overtaken by another crash and does nothing when it comes.
        self._gen = [0] * num_workers
        self._pending = 0  # fault events on the engine
        self._rate = spec.crash_rate

    @property
    def failures(self) -> int:
        """Failures so far."""
        return len(self.rows)

    def start(self) -> None:
        """Schedule the crashes: those given one by one, and each worker's first of the rate."""
        for t, w in self._at:
            self._push(t, self._on_crash, w, -1)
        if self._rate > 0:
            for w in range(len(self.alive)):
                self._arm(self._engine.now, w)

    def slowdown(self, job: int, stage: int, task: int, worker: int, start: float) -> float:
        """The factor of a task attempt starting now: the straggler factor, or 1.0.

        Draws one number per attempt while stragglers are on, none otherwise.
        """
        p = self.spec.straggler_probability
        if p <= 0 or not self._slow_rng.random() < p:
            return 1.0
        f = self.spec.straggler_factor
        self.straggler_rows.append((job, stage, task, worker, start, f))
        return f

    def move_loss(self) -> float | None:
        """Whether a move that starts now loses its executor: the fraction of the move at which, or None."""
        p = self.spec.lost_on_move_probability
        if p <= 0 or not self._move_rng.random() < p:
            return None
        return float(self._move_rng.random())

    def may_fail(self, worker: int) -> bool:
        """Whether ``worker`` may fail now: it is up, and the workload can spare it if it never comes back."""
        if not self.alive[worker]:
            return False
        return self.spec.repair is not None or self._can_lose(worker)

    def fail(self, now: float, worker: int, kind: str, lost: Lost) -> None:
        """Record that ``worker`` failed now (the model has taken back what it held); schedule its repair."""
        self.alive[worker] = False
        self._gen[worker] += 1
        repair = self.spec.repair
        back = now + repair if repair is not None else math.inf
        self.back_at[worker] = back
        self.rows.append((now, worker, kind, back if repair is not None else None, *(lost or (None, None, None))))
        if repair is not None:
            self._push(back, self._on_repair, worker, None)

    def finish(self, trace: Trace) -> None:
        """Write the failures, the stragglers and the counts into the trace.

        ``extra["failures"]`` (:data:`FAILURE_COLUMNS`) and ``extra["stragglers"]``
        (:data:`STRAGGLER_COLUMNS`); ``counters``: ``faults`` (failures), ``lost_tasks`` (failures
        that lost an attempt), ``stragglers`` and ``faults_skipped``.
        """
        trace.extra["failures"] = _table(FAILURE_COLUMNS, self.rows)
        trace.extra["stragglers"] = _table(STRAGGLER_COLUMNS, self.straggler_rows)
        trace.counters["faults"] = len(self.rows)
        trace.counters["lost_tasks"] = sum(r[4] is not None for r in self.rows)
        trace.counters["stragglers"] = len(self.straggler_rows)
        trace.counters["faults_skipped"] = self.skipped

    # -- events --------------------------------------------------------------------------

    def _push(self, t: float, handler: Callable, a: Any, b: Any) -> None:
        self._pending += 1
        heappush(self._engine.heap, (t, next(self._engine.seq), handler, a, b))

    def _arm(self, now: float, w: int) -> None:
        self._push(now + float(self._crash_rng.exponential(1.0 / self._rate)), self._on_crash, w, self._gen[w])

    def _on_crash(self, now: float, w: int, gen: int) -> Any:
        self._pending -= 1
        if gen >= 0 and gen != self._gen[w]:
            return False
        if len(self._engine.heap) <= self._pending:
            return False
        if not self.alive[w]:
            return False
        if not self.may_fail(w):
            self.skipped += 1
            if gen >= 0:
                self._arm(now, w)
            return False
        self.alive[w] = False
        self.back_at[w] = now + self.spec.repair if self.spec.repair is not None else math.inf
        lost, opened = self._crash(now, w)
        self.fail(now, w, "crash", lost)
        return opened

    def _on_repair(self, now: float, w: int, _: object) -> Any:
        self._pending -= 1
        self.alive[w] = True
        if self._rate > 0:
            self._arm(now, w)
        return self._repair(now, w)


def _table(columns: Sequence[str], rows: list[tuple]) -> dict[str, list]:
    return {c: [r[k] for r in rows] for k, c in enumerate(columns)}
