"""What the cost-regression GNN sees of a multiproc decision, and its training data.

Each CPU is a node. Its features (:data:`FEATURES`) come only from what a scheduler's view
shows (speed, queue length, work remaining from declared sizes, busy; the task's declared
size, priority and deadline), log-scaled so that a queue of 0.1 s and one of 100 s are both in
range. Among them is the estimate LWR's information gives, ``(work_remaining + size) / speed``
(s, from now): the network predicts a correction to its log, so the untrained network is that
formula exactly.

The label of a node is the log of when the task would truly complete on that CPU, minus now
(s), from :meth:`~schedlab.families.multiproc.model.MultiprocView.true_completion_times`: a
privileged value, read only to make labels, never a feature.

NumPy only: the scheduler computes these features on an install without torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedlab.schedulers.base import Scheduler

__all__ = [
    "FEATURES",
    "ESTIMATE",
    "node_features",
    "estimate_s",
    "Dataset",
    "Recorder",
    "collect",
]

#: Per-CPU features, in column order. Times in seconds, sizes in work units.
FEATURES: tuple[str, ...] = (
    "log_speed",  # log(speed)
    "log_queue",  # log(1 + tasks waiting or running)
    "log_work",  # log(1 + work remaining, declared sizes)
    "log_backlog",  # log(1 + work remaining / speed): LWR's key
    "busy",  # 1 if a task runs
    "overrun",  # 1 if a task runs past its declared size (work remaining reads 0)
    "log_size",  # log(task's declared size)
    "log_run",  # log(size / speed): the task's own run time from its declared size
    "log_estimate",  # log((work remaining + size) / speed): the LWR formula's completion, from now
    "log_priority",  # log(priority); 0 is the most urgent
    "slack",  # asinh(deadline - now)
    "estimate_slack",  # asinh(deadline - now - estimate): margin the formula leaves
)
#: Column of ``log_estimate``, the formula the network corrects.
ESTIMATE = FEATURES.index("log_estimate")

# Declared sizes are log-normal, so never 0 in practice; the floor keeps a hand-made 0 finite.
_TINY = 1e-9


def estimate_s(work_remaining: np.ndarray, speed: np.ndarray, size: float) -> np.ndarray:
    """Per CPU, the LWR formula's completion time of a task of declared ``size`` (s from now)."""
    return (work_remaining + size) / speed


def node_features(view: Any, task: Any | None = None) -> np.ndarray:
    """The node features of every CPU for placing ``task`` (default ``view.task``).

    Args:
        view: A multiproc view (or snapshot): ``now``, ``workers`` with ``speed``,
            ``queue_length``, ``work_remaining``, ``busy``.
        task: A waiting task (``size``, ``priority``, ``deadline``).

    Returns:
        Array of shape ``(num_cpus, len(FEATURES))``, float64.
    """
    t = view.task if task is None else task
    size = max(float(t.size), _TINY)
    log_size = math.log(size)
    log_priority = math.log(max(int(t.priority), 1))
    left = float(t.deadline) - float(view.now)
    slack = math.asinh(left)
    log, log1p, asinh = math.log, math.log1p, math.asinh
    # Plain floats, one row per CPU: with four CPUs, per-column NumPy calls cost several
    # times more than the arithmetic (this runs at every decision).
    rows = []
    for c in view.workers:
        speed, work = c.speed, c.work_remaining
        log_speed = log(speed)
        est = (work + size) / speed
        busy = 1.0 if c.busy else 0.0
        rows.append(
            (
                log_speed,
                log1p(c.queue_length),
                log1p(work),
                log1p(work / speed),
                busy,
                busy if work <= 0.0 else 0.0,
                log_size,
                log_size - log_speed,
                log(est),
                log_priority,
                slack,
                asinh(left - est),
            )
        )
    return np.array(rows, dtype=np.float64)


@dataclass
class Dataset:
    """Decisions with every CPU's features and label.

    Attributes:
        x: Features, shape ``(decisions, num_cpus, len(FEATURES))``, float32.
        y: Log of the true completion time on each CPU, minus now (s), shape
            ``(decisions, num_cpus)``, float32.
    """

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def empty(cls, num_cpus: int) -> Dataset:
        """No decisions yet, for ``num_cpus`` CPUs."""
        return cls(np.zeros((0, num_cpus, len(FEATURES)), np.float32), np.zeros((0, num_cpus), np.float32))

    @classmethod
    def concat(cls, parts: Sequence[Dataset]) -> Dataset:
        """The decisions of ``parts``, in order (they must share the CPU count)."""
        return cls(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


class Recorder(Scheduler):
    """Runs another scheduler and records, at each decision, the features and labels of its first waiting task.

    The label uses the privileged :meth:`true_completion_times`, which is what makes this a
    data collector and not a scheduler under test; its decisions are the inner scheduler's.

    Args:
        inner: The scheduler whose runs are recorded.
    """

    families = ("multiproc",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._x: list[np.ndarray] = []
        self._y: list[np.ndarray] = []

    def reset(self, rng: np.random.Generator) -> None:
        self._x, self._y = [], []
        self.inner.reset(rng)

    def decide(self, view: Any) -> Sequence[Any]:
        task = view.task
        done = np.asarray(view.true_completion_times(task.id), dtype=np.float64) - view.now
        self._x.append(node_features(view, task))
        self._y.append(np.log(np.maximum(done, _TINY)))
        return self.inner.decide(view)

    def dataset(self) -> Dataset:
        """What was recorded since the last :meth:`reset`."""
        if not self._x:
            raise ValueError("nothing recorded: run the recorder first")
        return Dataset(np.stack(self._x).astype(np.float32), np.stack(self._y).astype(np.float32))


def collect(scenario: Any, scheduler: str | Any, seed: int) -> Dataset:
    """Run ``scheduler`` on ``scenario`` with ``seed`` and return every decision's features and labels.

    Args:
        scenario: A multiproc scenario (object, preset name or YAML path).
        scheduler: A registered multiproc scheduler name, or a scheduler object.
        seed: The episode's seed (training seeds, 10,000 and up, for training data).
    """
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario
    from schedlab.schedulers import make

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    inner = make(scheduler, sc.family) if isinstance(scheduler, str) else scheduler
    rec = Recorder(inner)
    simulate(sc, rec, seed)
    return rec.dataset()
