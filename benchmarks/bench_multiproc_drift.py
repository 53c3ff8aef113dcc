"""multiproc: least work remaining against its drift-aware variant, phase by phase.

    python benchmarks/bench_multiproc_drift.py [--seeds 1-20] [--workers 2]
    python benchmarks/bench_multiproc_drift.py --tune [--seeds 100-109]

Runs ``lwr`` and ``lwr-drift`` (``round-robin`` and ``oracle`` for reference) on the multiproc
preset (3,000 tasks: 1,000 stable, 1,000 drifting, 1,000 bursty) for each seed and reports,
per phase and overall, the mean over seeds with its 95% confidence interval of: SLA violation
rate, mean and p95 completion time (arrival to completion, s), oracle agreement, and the share
of decisions that the forecast ranked (``pred``) or changed from lwr's pick (``chg``). Last
come the paired differences ``lwr-drift - lwr`` per seed, with their 95% intervals.

Every trace goes through the checker. Prints a table and, last, one JSON line.

``--tune`` searches the knobs of ``lwr-drift`` instead: first threshold x horizon x trend
window (SMA 16, EWMA 0.3), then SMA window x EWMA weight at the best of those, each scored by
the mean SLA violation rate over the seeds (default 100-109, which the evaluation seeds 1-20
do not overlap). The scheduler's defaults are this search's pick.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

SCHEDULERS = ("round-robin", "lwr", "lwr-drift", "oracle")
METRICS = ("sla_violation_rate", "mean_completion_s", "p95_completion_s", "oracle_agreement", "predictive", "changed")


def phase_metrics(trace: Any, kinds: list[str], used: list[bool] | None, changed: list[bool] | None) -> dict:
    """Per phase kind and ``all``: the benchmark's metrics, from the trace and the scheduler's log.

    ``used`` and ``changed`` hold one flag per decision, in decision order (None: never predicts).
    """
    jobs, dec = trace.jobs, trace.decisions
    phase = np.asarray(jobs["phase"])
    arrival = np.asarray(jobs["arrival"], dtype=np.float64)
    completion = np.asarray(jobs["completion"], dtype=np.float64)
    deadline = np.asarray(jobs["deadline"], dtype=np.float64)
    dec_phase = phase[np.asarray(dec["job"])]
    agree = np.asarray(dec["worker"]) == np.asarray(dec["oracle"])
    no_flags = np.zeros(agree.size, dtype=bool)
    used_a = no_flags if used is None else np.asarray(used, dtype=bool)
    changed_a = no_flags if changed is None else np.asarray(changed, dtype=bool)
    out = {}
    groups = [(kind, [k for k, x in enumerate(kinds) if x == kind]) for kind in dict.fromkeys(kinds)]
    for name, idx in [*groups, ("all", list(range(len(kinds))))]:
        mask = np.isin(phase, idx)
        dmask = np.isin(dec_phase, idx)
        ct = completion[mask] - arrival[mask]
        out[name] = {
            "sla_violation_rate": float(np.mean(completion[mask] > deadline[mask])),
            "mean_completion_s": float(ct.mean()),
            "p95_completion_s": float(np.percentile(ct, 95.0)),
            "oracle_agreement": float(agree[dmask].mean()),
            "predictive": float(used_a[dmask].mean()),
            "changed": float(changed_a[dmask].mean()),
        }
    return out


def run_cell(scheduler: str, seed: int, knobs: dict | None = None) -> dict:
    """One run of the preset; its per-phase metrics and whether its trace passes the checker."""
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario
    from schedlab.schedulers import make

    scenario = load_scenario("multiproc")
    sched = make(scheduler, "multiproc", **(knobs or {}))
    result = simulate(scenario, sched, seed)
    kinds = [p.kind for p in scenario.workload.phases]
    used = getattr(sched, "used_prediction", None)
    changed = getattr(sched, "changed_pick", None)
    return {
        "scheduler": scheduler,
        "seed": seed,
        "trace_ok": check_trace(result.trace).ok,
        "phases": phase_metrics(result.trace, kinds, used, changed),
    }


def run_all(cells: list[tuple], workers: int) -> list[dict]:
    if workers <= 1:
        return [run_cell(*c) for c in cells]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_cell, *zip(*cells)))


def summarize(rows: list[dict], schedulers: tuple[str, ...]) -> dict:
    """Scheduler -> phase -> metric -> [mean, 95% CI half-width]; plus ``drift-minus-lwr`` paired per seed."""
    from schedlab.runs.compare import mean_ci

    by = {s: sorted((r for r in rows if r["scheduler"] == s), key=lambda r: r["seed"]) for s in schedulers}
    phases = list(rows[0]["phases"])
    out: dict = {}
    for s in schedulers:
        out[s] = {ph: {k: list(mean_ci([r["phases"][ph][k] for r in by[s]])) for k in METRICS} for ph in phases}
    if "lwr" in by and "lwr-drift" in by:
        a, b = by["lwr-drift"], by["lwr"]
        out["drift-minus-lwr"] = {
            ph: {
                k: list(mean_ci([x["phases"][ph][k] - y["phases"][ph][k] for x, y in zip(a, b, strict=True)]))
                for k in METRICS[:4]
            }
            for ph in phases
        }
    return out


def print_table(summary: dict, schedulers: tuple[str, ...]) -> None:
    print(f"{'phase':8s} {'scheduler':11s} {'SLA viol %':>10s} {'mean CT s':>11s} {'p95 CT s':>12s} "
          f"{'oracle %':>10s} {'pred %':>6s} {'chg %':>5s}")  # fmt: skip
    for ph in summary[schedulers[0]]:
        for s in schedulers:
            m = summary[s][ph]
            print(
                f"{ph:8s} {s:11s} {pm(m['sla_violation_rate'], 100, 1):>10s} {pm(m['mean_completion_s'], 1, 2):>11s} "
                f"{pm(m['p95_completion_s'], 1, 1):>12s} {pm(m['oracle_agreement'], 100, 1):>10s} "
                f"{100 * m['predictive'][0]:6.1f} {100 * m['changed'][0]:5.1f}"
            )
    diff = summary.get("drift-minus-lwr")
    if diff:
        print("\nlwr-drift - lwr, paired by seed (mean and 95% CI):")
        print(f"{'phase':8s} {'SLA viol pp':>12s} {'mean CT s':>16s} {'p95 CT s':>16s} {'oracle pp':>12s}")
        for ph, m in diff.items():
            print(
                f"{ph:8s} {pm(m['sla_violation_rate'], 100, 2, True):>12s} "
                f"{pm(m['mean_completion_s'], 1, 4, True):>16s} {pm(m['p95_completion_s'], 1, 4, True):>16s} "
                f"{pm(m['oracle_agreement'], 100, 2, True):>12s}"
            )


def pm(v: list[float], scale: float, digits: int, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{v[0] * scale:{sign}.{digits}f}±{v[1] * scale:.{digits}f}"


def rounded(x: Any) -> Any:
    """``x`` with every float rounded to 6 significant digits, for a readable JSON line."""
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def tune(seeds: list[int], workers: int) -> dict:
    """Two-stage grid search of lwr-drift's knobs by mean SLA violation rate on ``seeds``."""

    def score(grid: list[dict]) -> list[tuple[float, dict]]:
        cells = [("lwr-drift", seed, knobs) for knobs in grid for seed in seeds]
        rows = run_all(cells, workers)
        n = len(seeds)
        scored = []
        for k, knobs in enumerate(grid):
            part = rows[k * n : (k + 1) * n]
            scored.append((float(np.mean([r["phases"]["all"]["sla_violation_rate"] for r in part])), knobs))
        return sorted(scored, key=lambda x: x[0])

    base = run_all([("lwr", seed) for seed in seeds], workers)
    lwr_sla = float(np.mean([r["phases"]["all"]["sla_violation_rate"] for r in base]))
    first = [
        {"threshold": t, "horizon_s": h, "trend_window": w, "sma_window": 16, "ewma_alpha": 0.3}
        for t, h, w in itertools.product([0.5, 1.0, 2.0, 3.0, 5.0], [0.5, 1.0, 2.0, 4.0], [12, 24, 48])
    ]
    stage1 = score(first)
    best = stage1[0][1]
    second = [{**best, "sma_window": s, "ewma_alpha": a} for s, a in itertools.product([8, 16, 32], [0.3, 0.5, 0.8])]
    stage2 = score(second)
    print(f"lwr: mean SLA violation rate {lwr_sla:.5f} on seeds {seeds[0]}..{seeds[-1]}")
    for label, stage in (("stage 1", stage1), ("stage 2", stage2)):
        print(f"{label}: best 5 of {len(stage)}")
        for sla, knobs in stage[:5]:
            print(f"  {sla:.5f} ({sla - lwr_sla:+.5f} vs lwr) {knobs}")
    return {"lwr_sla": lwr_sla, "pick": stage2[0][1], "pick_sla": stage2[0][0], "stage1": stage1, "stage2": stage2}


def main(argv: list[str] | None = None) -> int:
    from schedlab.cli.common import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default=None, help="evaluation 1-20, tuning 100-109")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tune", action="store_true", help="search lwr-drift's knobs instead")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds or ("100-109" if args.tune else "1-20"))
    if args.tune:
        result = tune(seeds, args.workers)
        print(json.dumps({"bench": "multiproc-drift-tune", "seeds": seeds, **result}))
        return 0
    rows = run_all([(s, seed) for s in SCHEDULERS for seed in seeds], args.workers)
    bad = [(r["scheduler"], r["seed"]) for r in rows if not r["trace_ok"]]
    summary = summarize(rows, SCHEDULERS)
    print(f"multiproc preset, seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), mean ± 95% CI over seeds")
    print_table(summary, SCHEDULERS)
    if bad:
        print(f"traces failing the checker: {bad}", file=sys.stderr)
    from schedlab.schedulers import make

    knobs = make("lwr-drift", "multiproc").get_params()
    print(json.dumps({"bench": "multiproc-drift", "seeds": seeds, "lwr_drift": knobs, "traces_ok": not bad,
                      "summary": rounded(summary)}))  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
