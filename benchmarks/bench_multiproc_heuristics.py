"""multiproc: the deadline-aware rules against least work remaining and the oracle.

    python benchmarks/bench_multiproc_heuristics.py [--seeds 1-20 | --quick] [--workers 2]
    python benchmarks/bench_multiproc_heuristics.py --tune [--seeds 1000-1059]

Runs round-robin, random, lwr, lwr-drift, oracle, slack-fit, slack-fit-triage and edf-pull on
the multiproc preset (3,000 tasks) for each test seed (default 1-20; ``--quick``: 1-5) with
:func:`schedlab.runs.evaluate.evaluate`, and reports per scheduler, as mean ± 95% CI over
seeds (Student t): the SLA violation rate, mean and p95 completion time (arrival to
completion, s) and oracle agreement; the share of SLA violations per priority; the paired
difference in SLA violations against ``lwr`` and against ``oracle``, seed by seed, with its
95% CI and verdict (``better``/``worse`` when the interval excludes zero, else ``tie``); and
the fraction of the lwr -> oracle gap in SLA violations that each scheduler closes,
``(lwr - scheduler) / (lwr - oracle)`` on the means, with a 95% percentile interval from
10,000 paired bootstrap resamples of the seeds (above 1: it beats the oracle). The oracle
is greedy per task, not an optimum, so it can be beaten. Every trace goes through the
checker. Prints a table and, last, one JSON line.

``--tune`` searches the knobs instead, on validation seeds (default 1000-1059, none of them a
test seed): slack-fit's margin with and without triage, edf-pull with and without triage,
and, as an ablation, a pull rule ordering by priority before deadline; each scored by the mean
SLA violation rate. The registered defaults are this search's picks.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.families.multiproc.schedulers import EarliestDeadlinePull
from schedlab.sim.actions import Enqueue

SCHEDULERS = (
    "round-robin",
    "random",
    "lwr",
    "lwr-drift",
    "oracle",
    "slack-fit",
    "slack-fit-triage",
    "edf-pull",
)
METRICS = ("sla_violation_rate", "avg_completion_time_s", "p95_completion_time_s", "oracle_agreement")
SLA = "sla_violation_rate"
TEST_SEEDS = "1-20"
QUICK_SEEDS = "1-5"
TUNE_SEEDS = "1000-1059"
MARGINS_S = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
BOOTSTRAP = 10_000


class PriorityFirstPull(EarliestDeadlinePull):
    """Ablation of edf-pull: idle CPUs take the most urgent priority first, then the earliest deadline."""

    def decide(self, view: Any) -> list[Enqueue]:
        idle = sorted((c for c in view.cpus if c.queue_length == 0), key=lambda c: (-c.speed, c.id))
        if not idle:
            return []
        now, fastest = view.now, idle[0].speed

        def key(t: Any) -> tuple:
            late = self.triage and now + t.size / fastest > t.deadline
            return (late, t.priority, t.deadline, t.id)

        return [Enqueue(t.id, c.id) for t, c in zip(sorted(view.waiting, key=key), idle)]


# -- evaluation on the test seeds ---------------------------------------------------------------


def per_priority(trace_dir: Path, rows: list[dict]) -> dict[str, dict[int, list[float]]]:
    """Scheduler -> priority -> SLA violation rate per seed, read from the kept traces."""
    from schedlab.runs.compare import trace_file

    out: dict[str, dict[int, list[float]]] = {}
    for r in sorted(rows, key=lambda r: (r["scheduler"], r["seed"])):
        jobs = json.loads(trace_file(trace_dir, r["scenario"], r["scheduler"], r["seed"]).read_text())["jobs"]
        prio = np.asarray(jobs["priority"])
        late = np.asarray(jobs["completion"], dtype=np.float64) > np.asarray(jobs["deadline"], dtype=np.float64)
        per = out.setdefault(r["scheduler"], {})
        for p in sorted(set(prio.tolist())):
            per.setdefault(int(p), []).append(float(late[prio == p].mean()))
    return out


def gap_closed(sched: list[float], lwr: list[float], oracle: list[float]) -> tuple[float, float, float]:
    """``(lwr - sched) / (lwr - oracle)`` on the means, and a 95% paired-bootstrap percentile interval."""
    s, a, o = (np.asarray(v, dtype=np.float64) for v in (sched, lwr, oracle))
    point = float((a.mean() - s.mean()) / (a.mean() - o.mean()))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, s.size, size=(BOOTSTRAP, s.size))
    num = a[idx].mean(axis=1) - s[idx].mean(axis=1)
    den = a[idx].mean(axis=1) - o[idx].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = num / den
    lo, hi = np.percentile(ratios[np.isfinite(ratios)], [2.5, 97.5])
    return point, float(lo), float(hi)


def evaluate_test(seeds: list[int], workers: int) -> dict:
    """Every scheduler on ``seeds``: metrics, paired differences, gap closed, latency, checks."""
    from schedlab.metrics.summary import METRIC_INFO
    from schedlab.runs.compare import mean_ci
    from schedlab.runs.evaluate import evaluate, paired_ci, verdict
    from schedlab.scenarios import load_scenario
    from schedlab.schedulers import make

    scenario = load_scenario("multiproc")
    with tempfile.TemporaryDirectory(prefix="bench-multiproc-heuristics-") as tmp:
        ev = evaluate(
            scenario,
            SCHEDULERS,
            "lwr",
            seeds=seeds,
            split="test",
            metrics=METRICS,
            workers=workers,
            trace_dir=Path(tmp),
        )
        prio = per_priority(Path(tmp), ev.rows)
    by_key = {m.key: m.per_scheduler for m in ev.metrics}
    sla = by_key[SLA]
    lower = METRIC_INFO[SLA][1]
    out: dict[str, Any] = {"seeds": seeds, "schedulers": {}, "traces_checked": ev.traces_checked, "traces_ok": ev.ok}
    out["violations"] = ev.violations
    for s in SCHEDULERS:
        vs_oracle = paired_ci(sla[s].values, sla["oracle"].values)
        point, lo, hi = gap_closed(sla[s].values, sla["lwr"].values, sla["oracle"].values)
        lat = ev.latency[s]
        out["schedulers"][s] = {
            "params": make(s, "multiproc").get_params(),
            **{k: [by_key[k][s].mean, by_key[k][s].ci95] for k in METRICS},
            "sla_by_priority": {p: list(mean_ci(v)) for p, v in prio[s].items()},
            "sla_vs_lwr": [sla[s].diff_mean, sla[s].diff_ci95, sla[s].verdict],
            "sla_vs_oracle": [
                vs_oracle[0],
                vs_oracle[1],
                "baseline" if s == "oracle" else verdict(vs_oracle[0], vs_oracle[1], lower),
            ],
            "gap_closed": [point, lo, hi],
            "latency_us": [lat.median_us, lat.p99_us],
        }
    return out


def pm(v: list, scale: float, digits: int, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{v[0] * scale:{sign}.{digits}f}±{v[1] * scale:.{digits}f}"


def print_table(res: dict) -> None:
    seeds = res["seeds"]
    print(f"multiproc preset, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), mean ± 95% CI over seeds")
    print(f"{'scheduler':17s} {'SLA viol %':>11s} {'mean CT s':>11s} {'p95 CT s':>12s} {'oracle agr %':>12s} "
          f"{'P1 %':>9s} {'P2 %':>9s} {'P3 %':>9s} {'us/dec':>7s}")  # fmt: skip
    for s, r in res["schedulers"].items():
        by_p = " ".join(f"{pm(r['sla_by_priority'][p], 100, 1):>9s}" for p in sorted(r["sla_by_priority"]))
        print(
            f"{s:17s} {pm(r[SLA], 100, 2):>11s} {pm(r['avg_completion_time_s'], 1, 3):>11s} "
            f"{pm(r['p95_completion_time_s'], 1, 2):>12s} {pm(r['oracle_agreement'], 100, 1):>12s} "
            f"{by_p} {r['latency_us'][0]:7.1f}"
        )
    print("\nSLA violations, scheduler minus lwr and minus oracle, paired by seed (points, mean ± 95% CI);")
    print("gap closed: (lwr - scheduler) / (lwr - oracle), 95% paired-bootstrap interval")
    print(f"{'scheduler':17s} {'vs lwr':>13s} {'':7s} {'vs oracle':>13s} {'':7s} {'gap closed':>24s}")
    for s, r in res["schedulers"].items():
        a, b, g = r["sla_vs_lwr"], r["sla_vs_oracle"], r["gap_closed"]
        print(
            f"{s:17s} {pm(a, 100, 2, True):>13s} {a[2]:7s} {pm(b, 100, 2, True):>13s} {b[2]:7s} "
            f"{g[0]:8.2f} [{g[1]:6.2f}, {g[2]:6.2f}]"
        )


# -- the knob search on validation seeds ----------------------------------------------------------


def tune_cell(name: str, knobs: dict, seed: int) -> float:
    """SLA violation rate of one run of the preset."""
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario
    from schedlab.schedulers import make

    sched = PriorityFirstPull(**knobs) if name == "priority-first-pull" else make(name, "multiproc", **knobs)
    return float(simulate(load_scenario("multiproc"), sched, seed).metrics[SLA])


def tune(seeds: list[int], workers: int) -> dict:
    """Mean SLA violation rate on ``seeds`` of each candidate; the best margin per triage setting."""
    grid: list[tuple[str, dict]] = [("lwr", {}), ("oracle", {})]
    grid += [("slack-fit", {"margin_s": m, "triage": t}) for t in (False, True) for m in MARGINS_S]
    grid += [("edf-pull", {"triage": t}) for t in (False, True)]
    grid += [("priority-first-pull", {"triage": t}) for t in (False, True)]
    cells = [(name, knobs, seed) for name, knobs in grid for seed in seeds]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        values = list(pool.map(tune_cell, *zip(*cells), chunksize=4))
    n = len(seeds)
    lwr = np.asarray(values[:n])
    scored = []
    for k, (name, knobs) in enumerate(grid):
        v = np.asarray(values[k * n : (k + 1) * n])
        d = v - lwr
        half = float(2.0 * d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        scored.append({"scheduler": name, "knobs": knobs, "sla": float(v.mean()), "vs_lwr": [float(d.mean()), half]})
    picks = {}
    for t in (False, True):
        fits = [r for r in scored if r["scheduler"] == "slack-fit" and r["knobs"]["triage"] is t]
        picks[f"slack-fit triage={t}"] = min(fits, key=lambda r: r["sla"])["knobs"]
    pulls = [r for r in scored if r["scheduler"] == "edf-pull"]
    picks["edf-pull"] = min(pulls, key=lambda r: r["sla"])["knobs"]
    print(f"validation seeds {seeds[0]}..{seeds[-1]} ({n}): mean SLA violation rate; vs lwr paired, ±2 SE")
    for r in scored:
        print(f"  {r['scheduler']:20s} {json.dumps(r['knobs']):36s} {100 * r['sla']:7.3f}%  "
              f"{100 * r['vs_lwr'][0]:+6.2f}±{100 * r['vs_lwr'][1]:.2f}")  # fmt: skip
    print(f"picks: {picks}")
    return {"scored": scored, "picks": picks}


def rounded(x: Any) -> Any:
    """``x`` with every float rounded to 6 significant digits, for a readable JSON line."""
    if isinstance(x, float):
        return float(f"{x:.6g}") if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [rounded(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    from schedlab.runs.compare import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default=None, help=f"default {TEST_SEEDS}; with --tune {TUNE_SEEDS}")
    ap.add_argument("--quick", action="store_true", help=f"seeds {QUICK_SEEDS} only")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tune", action="store_true", help="search the knobs on validation seeds instead")
    args = ap.parse_args(argv)
    if args.tune:
        seeds = list(parse_seeds(args.seeds or TUNE_SEEDS))
        if any(s < 1000 for s in seeds):
            ap.error("tune on validation seeds (1000-1099) or training seeds, never on test seeds")
        result = tune(seeds, args.workers)
        print(json.dumps({"bench": "multiproc-heuristics-tune", "seeds": seeds, **rounded(result)}))
        return 0
    seeds = list(parse_seeds(args.seeds or (QUICK_SEEDS if args.quick else TEST_SEEDS)))
    res = evaluate_test(seeds, args.workers)
    print_table(res)
    if not res["traces_ok"]:
        print(f"traces failing the checker: {res['violations'][:5]}", file=sys.stderr)
    print(json.dumps({"bench": "multiproc-heuristics", **rounded(res)}))
    return 0 if res["traces_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
