"""Which scheduler, if any, a table may mark as best on a metric.

A scheduler is crowned only when it beats the runner-up seed by seed: the schedulers are
ranked by their mean over the seeds in the metric's direction, then the per-seed differences
``best - runner-up`` over the seeds both ran get a 95% Student-t confidence interval
(:func:`schedlab.runs.evaluate.paired_ci`). The best is crowned when that interval excludes
zero on the better side (:func:`schedlab.runs.evaluate.verdict` says ``"better"``). A smaller
mean alone is not enough: with five seeds, two schedulers a few percent apart are usually
within noise of each other, and the table should say so (a tie) rather than bold one of them.

Nothing is crowned on a metric with no better direction (utilization, counts; see
:data:`schedlab.metrics.summary.METRIC_INFO`), with fewer than two schedulers, or with fewer
than two shared seeds (no interval).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Crown", "crowned", "per_seed", "TEST_DESCRIPTION"]

#: One line for captions and table titles: how "best" was decided.
TEST_DESCRIPTION = (
    "best: better than the runner-up by a paired t-test over the shared seeds "
    "(95% CI of the per-seed difference excludes 0); otherwise a tie"
)


@dataclass(frozen=True)
class Crown:
    """The scheduler a table may mark best on one metric, and the evidence for it."""

    scheduler: str
    runner_up: str
    #: Mean of ``scheduler - runner_up`` over the shared seeds, in the metric's unit.
    diff_mean: float
    #: Half-width of the 95% CI of that mean.
    diff_ci95: float
    #: How many seeds both ran (with a value).
    pairs: int


def crowned(per_seed: Mapping[str, Mapping[int, float | None]], direction: str | None) -> Crown | None:
    """The scheduler that is best on a metric beyond seed noise, or ``None``.

    Args:
        per_seed: Scheduler -> seed -> value of the metric (``None`` or NaN: undefined for that
            seed, left out).
        direction: ``"lower"``, ``"higher"`` (which is better) or ``None`` (neither).

    Returns:
        A :class:`Crown` when the best scheduler by mean is better than the runner-up by the
        paired test; ``None`` for a tie, no direction, fewer than two schedulers with a value,
        or fewer than two seeds that the two share.

    Raises:
        ValueError: ``direction`` is none of ``"lower"``, ``"higher"`` and ``None``.
    """
    from schedlab.runs.evaluate import paired_ci, verdict

    if direction not in ("lower", "higher", None):
        raise ValueError(f"direction must be 'lower', 'higher' or None, got {direction!r}")
    if direction is None:
        return None
    clean = {s: {seed: float(v) for seed, v in vals.items() if _finite(v)} for s, vals in per_seed.items()}
    means = {s: sum(v.values()) / len(v) for s, v in clean.items() if v}
    if len(means) < 2:
        return None
    sign = 1.0 if direction == "lower" else -1.0
    # Ties in the mean keep the caller's order, so the result does not depend on set order.
    best, runner_up = sorted(means, key=lambda s: sign * means[s])[:2]
    shared = [seed for seed in clean[best] if seed in clean[runner_up]]
    diff_mean, half, pairs = paired_ci([clean[best][k] for k in shared], [clean[runner_up][k] for k in shared])
    if pairs < 2 or verdict(diff_mean, half, direction == "lower") != "better":
        return None
    return Crown(best, runner_up, diff_mean, half, pairs)


def per_seed(rows: Iterable[Mapping[str, Any]], key: str, *, by: str = "scheduler") -> dict[str, dict[int, float]]:
    """Scheduler -> seed -> value of ``key``, from run rows (as ``runs.csv`` or compare hold them).

    Rows without a number for ``key`` are left out; the order of first appearance is kept.
    """
    out: dict[str, dict[int, float]] = {}
    for r in rows:
        group = out.setdefault(str(r[by]), {})
        v = r.get(key)
        if _finite(v):
            group[int(r["seed"])] = float(v)
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
