"""Schedulers of the multiproc family: each arriving task goes to one CPU's queue.

Baselines (least work remaining, the oracle), a drift-aware variant of least work remaining
that ranks CPUs by a short-horizon forecast of their backlog while it detects a trend, and two
deadline-aware rules: slack fit, which places each task on arrival on the slowest CPU that
still meets its deadline, and earliest-deadline pull, which keeps tasks at the dispatcher until
a CPU is idle. All but the last place the task waiting longest as soon as it arrives; round
robin and random are the generic baselines of :mod:`schedlab.schedulers.generic`. Times are in
seconds.

With faults, every one of them places tasks on live CPUs only (``CpuView.alive``), and passes
when none is up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from schedlab.errors import ConfigError
from schedlab.families.multiproc.model import CpuView, MultiprocView
from schedlab.schedulers.base import Scheduler
from schedlab.schedulers.generic import live_workers
from schedlab.sim.actions import Enqueue

__all__ = [
    "LeastWorkRemaining",
    "DriftAwareLWR",
    "Oracle",
    "SlackFit",
    "EarliestDeadlinePull",
    "backlog_s",
    "least_backlog",
    "estimated_completion",
    "fit_line",
]


def backlog_s(cpu: CpuView) -> float:
    """Estimated time until ``cpu`` could start a new task (s): work remaining over speed."""
    return cpu.work_remaining / cpu.speed


def least_backlog(cpus: Sequence[CpuView], backlog: Sequence[float]) -> int:
    """Id of the CPU with the least ``backlog[id]`` (s); ties go to the faster CPU, then the lowest id."""
    return min(cpus, key=lambda c: (backlog[c.id], -c.speed, c.id)).id


def estimated_completion(now: float, cpu: CpuView, size: float) -> float:
    """When a task of declared ``size`` appended to ``cpu``'s queue at ``now`` would complete (s).

    From declared sizes only: the CPU's work remaining plus the task's size, over its speed.
    """
    return now + (cpu.work_remaining + size) / cpu.speed


class LeastWorkRemaining(Scheduler):
    """The CPU with the least estimated work remaining over its speed.

    ``work_remaining / speed`` is the estimated time until the CPU could start the new task,
    from declared sizes. It ignores the new task itself, so it may prefer a slow empty CPU to
    a fast one about to free up; the oracle does not. Ties go to the faster CPU, then the
    lowest id.
    """

    families = ("multiproc",)

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        live = live_workers(view.cpus)
        if not live:
            return []
        return [Enqueue(view.task.id, least_backlog(live, [backlog_s(c) for c in view.cpus]))]


def fit_line(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line through ``(times, values)``, for one series or one per column.

    Args:
        times: Sample times (s), shape ``(k,)``, in any order.
        values: Samples, shape ``(k,)`` or ``(k, n)`` for ``n`` series sampled at the same times.

    Returns:
        ``(slope, intercept, residual_std)``, each of shape ``values.shape[1:]``: the line is
        ``intercept + slope * t``; ``residual_std`` is the standard deviation of the samples
        around it (``k - 2`` degrees of freedom), 0 for ``k <= 2``. With all samples at one
        time the slope is 0 and the intercept the mean.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    t_mean = t.mean()
    y_mean = y.mean(axis=0)
    tc = t - t_mean
    yc = y - y_mean
    sxx = float(tc @ tc)
    slope = tc @ yc / sxx if sxx > 0 else np.zeros_like(y_mean)
    resid = yc - np.multiply.outer(tc, slope)
    dof = t.size - 2
    residual_std = np.sqrt((resid * resid).sum(axis=0) / dof) if dof > 0 else np.zeros_like(y_mean)
    return slope, y_mean - slope * t_mean, residual_std


# A predicted change smaller than this (s) is rounding, not drift: a constant backlog fits a
# slope of about 1e-33 s/s, which would pass the test below at threshold 0.
_TOLERANCE_S = 1e-9


class DriftAwareLWR(Scheduler):
    """Least work remaining, ranking by a short-horizon forecast of the backlog while a trend is detected.

    The tracked signal is each CPU's backlog, ``work_remaining / speed`` (s): least work
    remaining's own key, sampled at every decision (each task arrival). Per CPU the scheduler
    keeps a simple moving average (SMA) of the last ``sma_window`` samples, an exponentially
    weighted moving average (EWMA, weight ``ewma_alpha`` on the newest sample), and a
    least-squares line over the last ``trend_window`` samples (time, backlog). The line's
    slope times ``horizon_s`` is the predicted change of the backlog; the residual standard
    deviation around the line is the recent volatility.

    A CPU *drifts* when its predicted change exceeds ``threshold`` times its volatility and
    the EWMA, which reacts faster than the SMA, has moved away from the SMA in the direction of
    the slope (the smoothers confirm the trend). When any CPU drifts, the task goes to the CPU
    with the least forecast backlog: current backlog plus predicted change (at least 0) on the
    drifting CPUs, current backlog on the others. Otherwise, and until both windows are full,
    the pick is exactly least work remaining's. Ties go to the faster CPU, then the lowest id.

    Queues are FIFO, so the task itself starts after the *current* backlog of its CPU; the
    forecast anticipates where the load is heading, at the price of a worse start for this task.
    The defaults are the pick of a grid search on seeds 100-109 of the multiproc preset
    (``benchmarks/bench_multiproc_drift.py --tune``).

    Args:
        sma_window: Samples in the SMA (at least 2).
        ewma_alpha: EWMA weight of the newest sample; above ``2 / (sma_window + 1)``, so that
            the EWMA reacts faster than the SMA, and at most 1.
        trend_window: Samples in the least-squares line (at least 3).
        horizon_s: How far ahead the line is extrapolated (s, positive).
        threshold: Predicted change over volatility needed to detect drift (non-negative).

    Raises:
        ConfigError: A knob is out of range.

    Attributes:
        used_prediction: One flag per decision since :meth:`reset`: the forecast ranked the CPUs.
        changed_pick: One flag per decision: the forecast picked another CPU than least work
            remaining would have.
        forecast_s: Per CPU, the forecast backlog of the last decision (s).
    """

    families = ("multiproc",)

    def __init__(
        self,
        sma_window: int = 8,
        ewma_alpha: float = 0.5,
        trend_window: int = 24,
        horizon_s: float = 1.0,
        threshold: float = 1.0,
    ) -> None:
        _check_int("sma_window", sma_window, 2)
        _check_int("trend_window", trend_window, 3)
        if not _is_real(ewma_alpha) or not 2.0 / (sma_window + 1) < ewma_alpha <= 1.0:
            raise ConfigError(
                f"must be in ({2.0 / (sma_window + 1):.4g}, 1] (above 2 / (sma_window + 1), so the EWMA "
                f"reacts faster than the SMA), got {ewma_alpha!r}",
                field="ewma_alpha",
            )
        if not _is_real(horizon_s) or not horizon_s > 0:
            raise ConfigError(f"must be a positive number of seconds, got {horizon_s!r}", field="horizon_s")
        if not _is_real(threshold) or not threshold >= 0:
            raise ConfigError(f"must be a non-negative number, got {threshold!r}", field="threshold")
        self.sma_window = sma_window
        self.ewma_alpha = ewma_alpha
        self.trend_window = trend_window
        self.horizon_s = horizon_s
        self.threshold = threshold
        self._clear()

    def reset(self, rng: np.random.Generator) -> None:
        self._clear()

    def _clear(self) -> None:
        self.used_prediction: list[bool] = []
        self.changed_pick: list[bool] = []
        self.forecast_s: list[float] = []
        self._seen = 0
        self._times: np.ndarray | None = None
        self._samples: np.ndarray | None = None
        self._ewma: np.ndarray | None = None

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        cpus = view.cpus
        backlog = [backlog_s(c) for c in cpus]
        forecast = self._track(view.now, backlog)
        cpus = live_workers(cpus)
        if not cpus:
            return []
        pick = least_backlog(cpus, backlog)
        self.used_prediction.append(forecast is not None)
        if forecast is not None:
            lwr_pick, pick = pick, least_backlog(cpus, forecast)
            self.changed_pick.append(pick != lwr_pick)
        else:
            self.changed_pick.append(False)
        return [Enqueue(view.task.id, pick)]

    def _track(self, now: float, backlog: list[float]) -> list[float] | None:
        """Add one sample per CPU; return the forecast backlogs if any CPU drifts, else None."""
        x = np.asarray(backlog, dtype=np.float64)
        size = max(self.sma_window, self.trend_window)
        if self._samples is None or self._samples.shape[1] != x.size:
            self._times = np.zeros(size)
            self._samples = np.zeros((size, x.size))
            self._seen = 0
        slot = self._seen % size
        self._times[slot] = now
        self._samples[slot] = x
        a = self.ewma_alpha
        self._ewma = x.copy() if self._seen == 0 else a * x + (1.0 - a) * self._ewma
        self._seen += 1
        self.forecast_s = backlog
        if self._seen < size:
            return None
        # The buffer is a ring; the least-squares fit does not depend on the samples' order.
        trend = (slot - np.arange(self.trend_window)) % size
        slope, _, volatility = fit_line(self._times[trend], self._samples[trend])
        sma = self._samples[(slot - np.arange(self.sma_window)) % size].mean(axis=0)
        change = slope * self.horizon_s
        drift = (np.abs(change) > self.threshold * volatility + _TOLERANCE_S) & (
            np.sign(self._ewma - sma) == np.sign(slope)
        )
        if not drift.any():
            return None
        self.forecast_s = [max(0.0, b + d) if on else b for b, d, on in zip(backlog, change.tolist(), drift.tolist())]
        return self.forecast_s


def _is_real(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_int(field: str, v: object, low: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise ConfigError(f"must be an integer of at least {low}, got {v!r}", field=field)


class SlackFit(Scheduler):
    """The slowest CPU that still meets the task's deadline with a margin, else least work remaining.

    Least work remaining and the oracle send every task where it starts or ends first, so a
    task with hours of slack takes the fast CPU as readily as one due in a second, and the
    urgent tasks behind it find the fast queues full. Slack fit spends speed only where the
    deadline needs it. For each CPU it estimates when the task would complete if appended now
    (:func:`estimated_completion`: the queue's declared work plus the task's declared size,
    over the speed) and picks the slowest CPU whose estimate is at least ``margin_s`` before
    the deadline; ties go to the earlier estimate, then the lowest id. The margin absorbs the
    estimation error of declared sizes, which would otherwise turn close fits into misses.

    When no CPU meets the deadline with the margin, the pick is least work remaining's. With
    ``triage``, a task expected to miss its deadline on every CPU, margin or not, goes instead
    to the slowest CPU (ties as above): a task late anyway should not take the fast CPUs from
    tasks that can still make it. That lowers the share of SLA violations a lot and raises
    the completion time of the sacrificed tasks a lot; see ``docs/multiproc.md``.

    Priorities act through the deadlines only (the deadline of an urgent task is tighter).
    The margin is the pick of a search by mean SLA violation rate on validation seeds
    1000-1059 of the multiproc preset (``benchmarks/bench_multiproc_heuristics.py --tune``):
    1 s without triage, the default; 0.75 s with it, which ``slack-fit-triage`` registers.

    Args:
        margin_s: Time kept in reserve before the deadline (s, non-negative).
        triage: Send tasks that cannot meet their deadline anywhere to the slowest CPU.

    Raises:
        ConfigError: A knob is out of range.
    """

    families = ("multiproc",)

    def __init__(self, margin_s: float = 1.0, triage: bool = False) -> None:
        if not _is_real(margin_s) or not margin_s >= 0:
            raise ConfigError(f"must be a non-negative number of seconds, got {margin_s!r}", field="margin_s")
        if not isinstance(triage, bool):
            raise ConfigError(f"must be true or false, got {triage!r}", field="triage")
        self.margin_s = margin_s
        self.triage = triage

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        task, now, cpus = view.task, view.now, view.cpus
        done = [estimated_completion(now, c, task.size) for c in cpus]
        cpus = live_workers(cpus)
        if not cpus:
            return []
        cutoff = task.deadline - self.margin_s
        fits = [c for c in cpus if done[c.id] <= cutoff]
        if fits:
            return [Enqueue(task.id, _slowest(fits, done))]
        if self.triage and min(done[c.id] for c in cpus) > task.deadline:
            return [Enqueue(task.id, _slowest(cpus, done))]
        return [Enqueue(task.id, least_backlog(cpus, [backlog_s(c) for c in view.cpus]))]


def _slowest(cpus: Sequence[CpuView], done: Sequence[float]) -> int:
    """Id of the slowest of ``cpus``; ties to the earlier ``done[id]``, then the lowest id."""
    return min(cpus, key=lambda c: (c.speed, done[c.id], c.id)).id


class EarliestDeadlinePull(Scheduler):
    """Tasks wait at the dispatcher; each idle CPU takes one, earliest deadline first.

    Every other scheduler here places a task when it arrives, so its place in a FIFO queue is
    fixed before the tasks that arrive after it, however urgent, are known. This one binds
    late: it passes (the tasks keep waiting) until a CPU is idle, with nothing running or
    queued, and then hands the idle CPUs, fastest first, the waiting tasks with the earliest
    deadlines (ties to the lowest id). No CPU idles while tasks wait, since a decision opens
    at every completion while any do, and no queue ever holds more than the running task.

    With ``triage``, a task that would miss its deadline even if it started now on the
    fastest idle CPU (declared size over that speed) goes after every task that can still
    make it: a late task then delays no task that would meet its deadline.

    Priorities act through the deadlines only: ordering by priority first, then deadline,
    violated more SLAs on the validation seeds with triage, and as many without.

    Args:
        triage: Put the tasks that would miss their deadline anyway behind the others.

    Raises:
        ConfigError: ``triage`` is not a bool.
    """

    families = ("multiproc",)

    def __init__(self, triage: bool = True) -> None:
        if not isinstance(triage, bool):
            raise ConfigError(f"must be true or false, got {triage!r}", field="triage")
        self.triage = triage

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        idle = sorted((c for c in live_workers(view.cpus) if c.queue_length == 0), key=lambda c: (-c.speed, c.id))
        if not idle:
            return []
        now, fastest = view.now, idle[0].speed
        if self.triage:
            order = sorted(view.waiting, key=lambda t: (now + t.size / fastest > t.deadline, t.deadline, t.id))
        else:
            order = sorted(view.waiting, key=lambda t: (t.deadline, t.id))
        return [Enqueue(t.id, c.id) for t, c in zip(order, idle)]


class Oracle(Scheduler):
    """The CPU where the task truly completes first (privileged: uses true work); ties to the lowest id."""

    families = ("multiproc",)

    def decide(self, view: MultiprocView) -> list[Enqueue]:
        live = live_workers(view.cpus)
        if not live:
            return []
        done = view.true_completion_times()
        return [Enqueue(view.task.id, min((c.id for c in live), key=done.__getitem__))]
