"""Tasks for a heterogeneous multiprocessor: size, priority and SLA deadline, in workload phases.

A workload is a sequence of phases, each a number of tasks arriving in one of three patterns:

- ``stable``: Poisson arrivals at a constant rate;
- ``drifting``: Poisson arrivals whose rate moves linearly, task by task, from the phase's
  ``utilization`` to its ``utilization_end``;
- ``bursty``: bursts of on average ``burst_size`` tasks (geometric) arriving ``burst_factor``
  times faster than the phase's rate, with quiet gaps between bursts sized so the phase's mean
  rate is still its ``utilization``.

A rate is given as a *utilization*: the offered work per second over the total speed of the
CPUs, so 1.0 is as much work as all CPUs together can do. Sizes are in work units (one unit
takes one second on a CPU of speed 1) and log-normal with mean ``size_mean``. A task's declared
``size`` is what schedulers see; its true ``work`` is the size times a mean-one log-normal
error (``size_noise``), known only to the simulator (and the oracle). Priorities are 1 (most
urgent) to P, drawn with ``priority_probs``; the SLA deadline is the arrival plus
``size / mean speed * sla_slack[priority - 1]``. Times are in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["Phase", "TaskSet", "sample_tasks", "PHASE_KINDS"]

PHASE_KINDS = ("stable", "drifting", "bursty")


class Phase(NamedTuple):
    """One workload phase.

    Attributes:
        kind: ``"stable"``, ``"drifting"`` or ``"bursty"``.
        tasks: Tasks in the phase.
        utilization: Offered load over total CPU speed (start value when drifting).
        utilization_end: Final value of a drifting phase (ignored otherwise).
        burst_size: Mean tasks per burst (bursty).
        burst_factor: Rate inside a burst over the phase's mean rate (bursty).
    """

    kind: str
    tasks: int
    utilization: float
    utilization_end: float | None = None
    burst_size: float = 8.0
    burst_factor: float = 6.0


@dataclass(frozen=True)
class TaskSet:
    """Arrays of one value per task, in arrival order (seconds and work units)."""

    arrival: np.ndarray
    size: np.ndarray
    work: np.ndarray
    priority: np.ndarray
    deadline: np.ndarray
    phase: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival.size)


def sample_tasks(
    rng: np.random.Generator,
    phases: Sequence[Phase],
    speeds: Sequence[float],
    *,
    size_mean: float,
    size_sigma: float,
    size_noise: float,
    priority_probs: Sequence[float],
    sla_slack: Sequence[float],
) -> TaskSet:
    """Draw the tasks of every phase, one phase after the other; the first arrives at t=0.

    Args:
        rng: Source of every draw.
        phases: The phases, in order.
        speeds: CPU speeds (work units per second); their sum turns utilization into a rate.
        size_mean: Mean declared size (work units).
        size_sigma: Log-normal spread of sizes.
        size_noise: Log-normal spread of true work around the declared size (mean one).
        priority_probs: Probability of priority 1, 2, ... (sums to 1).
        sla_slack: Per priority, the deadline in units of the task's time on a mean-speed CPU.

    Raises:
        ValueError: Unknown phase kind, empty inputs, or lengths that do not match.
    """
    if not phases:
        raise ValueError("need at least one phase")
    if len(priority_probs) != len(sla_slack):
        raise ValueError(f"{len(priority_probs)} priority probabilities but {len(sla_slack)} SLA slacks")
    total_speed = float(sum(speeds))
    mean_speed = total_speed / len(speeds)
    gaps = []
    phase_of = []
    for k, ph in enumerate(phases):
        if ph.kind not in PHASE_KINDS:
            raise ValueError(f"unknown phase kind {ph.kind!r}; expected one of {', '.join(PHASE_KINDS)}")
        n = int(ph.tasks)
        if ph.kind == "drifting":
            end = ph.utilization if ph.utilization_end is None else ph.utilization_end
            util = np.linspace(ph.utilization, end, n)
        else:
            util = np.full(n, float(ph.utilization))
        rate = util * total_speed / size_mean  # tasks per second
        if ph.kind == "bursty":
            g = _bursty_gaps(rng, n, rate[0], ph.burst_size, ph.burst_factor)
        else:
            g = rng.exponential(1.0 / rate)
        gaps.append(g)
        phase_of.append(np.full(n, k))
    gap = np.concatenate(gaps)
    gap[0] = 0.0
    arrival = np.cumsum(gap)
    n = arrival.size
    mu = np.log(size_mean) - size_sigma**2 / 2  # the log-normal's mean is size_mean
    size = rng.lognormal(mu, size_sigma, n)
    work = size * rng.lognormal(-(size_noise**2) / 2, size_noise, n)
    p = np.asarray(priority_probs, dtype=np.float64)
    priority = rng.choice(p.size, size=n, p=p / p.sum()) + 1
    slack = np.asarray(sla_slack, dtype=np.float64)[priority - 1]
    deadline = arrival + size / mean_speed * slack
    return TaskSet(arrival, size, work, priority.astype(np.int64), deadline, np.concatenate(phase_of))


def _bursty_gaps(rng: np.random.Generator, n: int, rate: float, burst_size: float, factor: float) -> np.ndarray:
    """Gaps of ``n`` arrivals in bursts: fast inside a burst, a quiet gap before each burst."""
    fast = 1.0 / (rate * factor)
    # A burst of B tasks spans B-1 fast gaps plus one quiet gap; on average it must span
    # B / rate for the phase's mean rate to hold.
    quiet = burst_size / rate - (burst_size - 1.0) * fast
    gaps = rng.exponential(fast, n)
    first = rng.random(n) < 1.0 / burst_size  # each task opens a new burst with prob 1/B
    first[0] = True
    gaps[first] = rng.exponential(quiet, int(first.sum()))
    return gaps
