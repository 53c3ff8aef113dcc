"""Evaluate schedulers the way ``../shared/EVALUATION.md`` asks: held-out seeds, paired CIs.

:func:`evaluate` runs every scheduler on the seeds of a split (test: 1-20, validation:
1000-1099) with :func:`schedlab.runs.compare.run_grid` (the same runs and process pool as
``schedlab compare``), then, per headline metric:

- mean and 95% Student-t confidence interval per scheduler, over the seeds;
- the paired difference against the baseline: ``scheduler - baseline`` seed by seed, then the
  mean and 95% Student-t CI of those differences (:func:`paired_ci`);
- a verdict (:func:`verdict`): ``"better"`` or ``"worse"`` when that interval excludes zero, in
  the metric's direction (from :data:`~schedlab.metrics.summary.METRIC_INFO`), ``"tie"``
  otherwise (an undefined interval, one seed, is a tie); ``"higher"`` or ``"lower"`` instead of
  better or worse for a metric with no better direction, such as utilization.

It also reports the decision latency of each scheduler, median and p99 in microseconds over
every decision of every seed, from the traces' ``timing["decide_s"]`` (wall clock, so it
depends on the machine and its load), and counts the traces that pass the checker.
The result is a plain :class:`Evaluation`; :meth:`Evaluation.to_dict` is its JSON form.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.runs.compare import finite_or_none, mean_ci, run_grid, trace_file

__all__ = [
    "SPLITS",
    "Evaluation",
    "MetricEval",
    "SchedulerMetric",
    "Latency",
    "evaluate",
    "paired_ci",
    "verdict",
    "split_seeds",
]

#: The seeds of each held-out split (``EVALUATION.md``); training seeds (10,000 and up) are
#: never evaluated on.
SPLITS: dict[str, tuple[int, ...]] = {
    "test": tuple(range(1, 21)),
    "validation": tuple(range(1000, 1100)),
}


def split_seeds(split: str) -> tuple[int, ...]:
    """The seeds of ``split`` (``"test"`` or ``"validation"``).

    Raises:
        ConfigError: Another split name.
    """
    from schedlab.errors import ConfigError

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose {' or '.join(SPLITS)}", field="--split")
    return SPLITS[split]


def paired_ci(a: Sequence[float | None], b: Sequence[float | None]) -> tuple[float, float, int]:
    """Mean of ``a[i] - b[i]`` and the half-width of its 95% Student-t CI, and how many pairs.

    Pairs where either value is ``None`` (undefined for that seed) are left out. The half-width
    is NaN with fewer than two pairs, the mean too with none.
    """
    if len(a) != len(b):
        raise ValueError(f"paired values differ in length ({len(a)} and {len(b)})")
    diffs = [x - y for x, y in zip(a, b) if x is not None and y is not None]
    mean, half = mean_ci(diffs)
    return mean, half, len(diffs)


def verdict(diff_mean: float, half: float, lower_is_better: bool | None) -> str:
    """``"better"``/``"worse"`` when the CI of the difference excludes zero, else ``"tie"``.

    ``diff_mean`` is ``scheduler - baseline``; an undefined (NaN) interval is a tie. A metric
    with no better direction (``lower_is_better`` is ``None``) gets ``"higher"`` or ``"lower"``.
    """
    if not (math.isfinite(diff_mean) and math.isfinite(half)) or abs(diff_mean) <= half:
        return "tie"
    if lower_is_better is None:
        return "lower" if diff_mean < 0 else "higher"
    return "better" if (diff_mean < 0) == lower_is_better else "worse"


@dataclass
class SchedulerMetric:
    """One scheduler on one metric: its values per seed, their mean and CI, the paired difference."""

    values: list[float | None]
    mean: float
    ci95: float
    diff_mean: float
    diff_ci95: float
    pairs: int
    verdict: str  # "better", "worse", "tie", or "baseline" for the baseline itself


@dataclass
class MetricEval:
    """One headline metric over all schedulers."""

    key: str
    label: str
    lower_is_better: bool | None  # None: no better direction
    per_scheduler: dict[str, SchedulerMetric]


@dataclass
class Latency:
    """Decision latency of one scheduler over all its decisions: wall clock, microseconds."""

    decisions: int
    median_us: float
    p99_us: float


@dataclass
class Evaluation:
    """Everything :func:`evaluate` found; plain data, JSON via :meth:`to_dict`."""

    scenario: str
    family: str
    split: str | None
    seeds: list[int]
    schedulers: list[str]
    baseline: str
    metrics: list[MetricEval]
    latency: dict[str, Latency]
    traces_checked: int
    violations: list[str] = field(default_factory=list)  # "scheduler seed N: [check] message"
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every trace passed the checker."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every number, ``null`` where undefined (one seed, no value)."""
        f = finite_or_none
        return {
            "scenario": self.scenario,
            "family": self.family,
            "split": self.split,
            "seeds": self.seeds,
            "schedulers": self.schedulers,
            "baseline": self.baseline,
            "difference": "scheduler - baseline, per seed; 95% Student-t CI",
            "metrics": {
                m.key: {
                    "label": m.label,
                    "lower_is_better": m.lower_is_better,
                    "schedulers": {
                        s: {
                            "mean": f(r.mean),
                            "ci95": f(r.ci95),
                            "diff_mean": f(r.diff_mean),
                            "diff_ci95": f(r.diff_ci95),
                            "pairs": r.pairs,
                            "verdict": r.verdict,
                            "values": [f(v) for v in r.values],
                        }
                        for s, r in m.per_scheduler.items()
                    },
                }
                for m in self.metrics
            },
            "decision_latency_us": {
                "clock": "wall",
                **{
                    s: {"decisions": lat.decisions, "median": f(lat.median_us), "p99": f(lat.p99_us)}
                    for s, lat in self.latency.items()
                },
            },
            "traces_checked": self.traces_checked,
            "traces_ok": self.ok,
            "violations": self.violations,
        }


def evaluate(
    scenario: Any,
    schedulers: Sequence[str],
    baseline: str,
    *,
    seeds: Sequence[int] | None = None,
    split: str | None = "test",
    metrics: Sequence[str] | None = None,
    workers: int = 1,
    trace_dir: Path | None = None,
    on_done: Callable[[], None] | None = None,
) -> Evaluation:
    """Run ``schedulers`` x seeds on ``scenario`` and compare each against ``baseline``.

    Args:
        scenario: A scenario object (see :func:`schedlab.scenarios.load_scenario`).
        schedulers: Registered names, ``module:Class`` or ``file.py:Class``; the baseline among them.
        baseline: The scheduler the paired differences are taken against.
        seeds: The seeds; ``None``: those of ``split``.
        split: ``"test"`` or ``"validation"``; only a label when ``seeds`` is given.
        metrics: Metric keys; ``None``: the family's headline metrics (``table_keys``).
        workers: Parallel processes (as ``schedlab compare``).
        trace_dir: Keep the traces here; ``None``: a temporary folder, removed afterwards.
        on_done: Called once per finished run (a progress bar).

    Raises:
        ConfigError: The baseline is not one of the schedulers, a scheduler is listed twice,
            the split is unknown, or a metric is not one the runs report.
    """
    from schedlab.errors import ConfigError
    from schedlab.metrics.summary import metric_info, table_keys
    from schedlab.schedulers import check_name

    names = list(schedulers)
    if not names:
        raise ConfigError("needs at least one scheduler", field="--schedulers")
    for s in names:
        if names.count(s) > 1:
            raise ConfigError(f"scheduler {s!r} is listed twice", field="--schedulers")
    if baseline not in names:
        raise ConfigError(f"{baseline!r} is not one of the schedulers given ({', '.join(names)})", field="--baseline")
    seed_list = list(seeds) if seeds is not None else list(split_seeds(split or "test"))
    for s in names:
        check_name(s, scenario.family)  # fail before running anything

    runs = [(scenario, s, seed) for s in names for seed in seed_list]
    with tempfile.TemporaryDirectory(prefix="schedlab-evaluate-") as tmp:
        tdir = Path(trace_dir) if trace_dir is not None else Path(tmp)
        rows = run_grid(runs, workers=workers, trace_dir=tdir, on_done=on_done)
        latency, violations = _read_traces(rows, tdir)

    keys = list(metrics) if metrics else list(table_keys(scenario.family))
    unknown = [k for k in keys if not any(k in r for r in rows)]
    if unknown:
        raise ConfigError(f"no run reports metric {unknown[0]!r}", field="--metrics")
    by_sched = {s: [r for r in rows if r["scheduler"] == s] for s in names}
    results = []
    for key in keys:
        label, lower = metric_info(key).label, metric_info(key).lower_is_better
        base_vals = [_num(r.get(key)) for r in by_sched[baseline]]
        per: dict[str, SchedulerMetric] = {}
        for s in names:
            vals = [_num(r.get(key)) for r in by_sched[s]]
            mean, half = mean_ci([v for v in vals if v is not None])
            d_mean, d_half, pairs = paired_ci(vals, base_vals)
            per[s] = SchedulerMetric(
                values=vals,
                mean=mean,
                ci95=half,
                diff_mean=d_mean,
                diff_ci95=d_half,
                pairs=pairs,
                verdict="baseline" if s == baseline else verdict(d_mean, d_half, lower),
            )
        results.append(MetricEval(key=key, label=label, lower_is_better=lower, per_scheduler=per))

    return Evaluation(
        scenario=scenario.name,
        family=scenario.family,
        split=split,
        seeds=seed_list,
        schedulers=names,
        baseline=baseline,
        metrics=results,
        latency=latency,
        traces_checked=len(rows),
        violations=violations,
        rows=rows,
    )


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _read_traces(rows: Sequence[dict[str, Any]], trace_dir: Path) -> tuple[dict[str, Latency], list[str]]:
    """Per scheduler, the decision latency over all its traces; the violations of failing traces."""
    from schedlab.metrics.checker import check_trace
    from schedlab.sim.trace import Trace

    decide: dict[str, list[float]] = {}
    violations: list[str] = []
    for r in rows:
        doc = json.loads(trace_file(trace_dir, r["scenario"], r["scheduler"], r["seed"]).read_text())
        decide.setdefault(r["scheduler"], []).extend((doc.get("timing") or {}).get("decide_s") or [])
        if not r["trace_ok"]:
            report = check_trace(Trace.from_dict(doc))
            violations += [f"{r['scheduler']} seed {r['seed']}: [{v.check}] {v.message}" for v in report.violations]
    latency = {}
    for s, ds in decide.items():
        us = np.asarray(ds, dtype=np.float64) * 1e6
        if us.size:
            med, p99 = np.percentile(us, [50.0, 99.0])
            latency[s] = Latency(decisions=int(us.size), median_us=float(med), p99_us=float(p99))
        else:
            latency[s] = Latency(decisions=0, median_us=math.nan, p99_us=math.nan)
    return latency, violations
