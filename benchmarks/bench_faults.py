"""Faults: randomized small runs of every family and baseline, under random fault schedules.

    python benchmarks/bench_faults.py [--runs 1000] [--workers 2] [--seed 0] [--quick]

Run ``k`` (0 .. runs-1) takes family ``k mod 5`` and, in turn, each of that family's baselines
(the learned schedulers are left out: they were trained without faults), and draws from its
own seed a small scenario of the family (a few workers, a few dozen tasks) and a fault
schedule: crashes at given times (on given or drawn workers) and/or at a rate, repaired after
a while or never, stragglers, executors lost during moves (spark), and now and then a charged
decision time. Each run's trace goes through the checker (docs/faults.md: exactly one
successful run per task, nothing on a dead worker, failures and failed attempts one to one),
and every job must complete.

Prints a table per family and the totals: runs, faults injected, lost attempts, re-executions,
stragglers, checker violations, unfinished jobs and errors (the last three must be 0); as its
last line, one JSON object with the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

FAMILIES = ("spark", "gpu", "edge", "multiproc", "hetero")
FIGURES = ("runs", "faults", "lost_tasks", "reexecutions", "stragglers", "violations", "unfinished", "errors")
HETERO_NODES = (
    {"name": "pi5", "kind": "pi5"},
    {"name": "pi4-a", "kind": "pi4"},
    {"name": "x86-2cpu-ssd", "kind": "x86", "cpus": 2, "disk": "ssd"},
    {"name": "x86-1cpu-hdd", "kind": "x86", "cpus": 1, "disk": "hdd"},
    {"name": "x86-0.5cpu-ssd", "kind": "x86", "cpus": 0.5, "disk": "ssd"},
)


def baselines(family: str) -> list[str]:
    """The family's registered schedulers that are not learned."""
    from schedlab import plugins

    return [s.name for s in plugins.get(family).schedulers if not s.entry_point.startswith("schedlab.learn")]


def random_case(k: int, base_seed: int = 0) -> tuple[str, str, dict[str, Any], int]:
    """Run ``k``: its family, scheduler, scenario (preset and overrides) and seed."""
    family = FAMILIES[k % len(FAMILIES)]
    names = baselines(family)
    scheduler = names[(k // len(FAMILIES)) % len(names)]
    rng = np.random.default_rng([base_seed, k])
    preset, over, horizon_s, rates, repairs = _workload(family, rng)
    crash: dict[str, Any] = {}
    n_at = int(rng.integers(0, 4))
    if n_at:
        crash["at_s"] = sorted(float(x) for x in rng.uniform(0, horizon_s, n_at))
        if rng.random() < 0.5:
            crash["workers"] = [int(x) for x in rng.integers(0, over.pop("_workers"), n_at)]
    over.pop("_workers", None)
    crash["rate_per_s"] = float(rng.choice(rates))
    repair = repairs[int(rng.integers(len(repairs)))]
    crash["repair_s"] = repair
    faults: dict[str, Any] = {"crash": crash}
    if rng.random() < 0.6:
        faults["stragglers"] = {"probability": float(rng.uniform(0, 0.5)), "factor": float(rng.uniform(1, 5))}
    if family == "spark" and rng.random() < 0.6:
        faults["lost_on_move"] = float(rng.uniform(0, 0.5))
    over["faults"] = faults
    if rng.random() < 0.2:
        over["decision_time"] = "fixed:0.001" if family == "edge" else "fixed:0.1"
    return family, scheduler, {"preset": preset, **over}, int(rng.integers(0, 2**31))


def _workload(family: str, rng: np.random.Generator) -> tuple[str, dict[str, Any], float, list, list]:
    """A small scenario of ``family``: preset, overrides (``_workers``: how many), horizon (s), crash rates, repairs."""
    if family == "spark":
        n, jobs = int(rng.integers(2, 9)), int(rng.integers(2, 8))
        over = {
            "cluster.executors": n,
            "cluster.moving_delay_ms": float(rng.choice([0.0, 500.0, 2000.0])),
            "workload.jobs": jobs,
            "workload.arrival_rate_per_ms": float(rng.choice([4e-5, 2e-4])),
        }
        return "spark-synthetic", {**over, "_workers": n}, 150.0, [0.0, 0.002, 0.01, 0.03], [None, 1.0, 10.0, 60.0]
    if family == "gpu":
        n = int(rng.integers(2, 7))
        over = {
            "cluster.gpus": n,
            "workload.jobs": int(rng.integers(2, 11)),
            "workload.mode": str(rng.choice(["offline", "online"])),
        }
        return "gpu", {**over, "_workers": n}, 300.0, [0.0, 0.002, 0.01, 0.03], [None, 5.0, 30.0, 120.0]
    if family == "edge":
        n = int(rng.integers(2, 7))
        over = {"cluster.nodes": n, "workload.jobs": int(rng.integers(20, 201))}
        return "edge", {**over, "_workers": n}, 0.5, [0.0, 1.0, 5.0, 20.0], [None, 0.01, 0.05, 0.2]
    if family == "multiproc":
        n = int(rng.integers(2, 6))
        phases = [
            {"kind": "stable", "tasks": int(rng.integers(10, 61)), "utilization": float(rng.uniform(0.4, 0.9))}
            for _ in range(int(rng.integers(1, 3)))
        ]
        over = {
            "cluster.speeds": [round(float(x), 2) for x in rng.uniform(0.5, 3.0, n)],
            "workload.phases": phases,
        }
        return "multiproc", {**over, "_workers": n}, 40.0, [0.0, 0.01, 0.05, 0.2], [None, 0.5, 3.0, 20.0]
    n = int(rng.integers(2, 6))
    pick = rng.choice(len(HETERO_NODES), n, replace=False)
    batches = [
        {"at_s": float(round(rng.uniform(0, 30), 1)), "tasks": int(rng.integers(2, 13))}
        for _ in range(int(rng.integers(1, 4)))
    ]
    over = {"cluster.nodes": [HETERO_NODES[i] for i in sorted(pick)], "workload.batches": batches}
    return "hetero", {**over, "_workers": n}, 60.0, [0.0, 0.005, 0.02, 0.1], [None, 2.0, 10.0, 60.0]


def run_case(k: int, base_seed: int = 0) -> dict[str, Any]:
    """Run ``k``: its fault figures, checker violations, unfinished jobs, or the error it raised."""
    from schedlab.metrics.checker import check_trace
    from schedlab.metrics.faults import fault_summary
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    family, scheduler, case, seed = random_case(k, base_seed)
    out = {"k": k, "family": family, "scheduler": scheduler, **dict.fromkeys(FIGURES[1:], 0), "runs": 1}
    try:
        over = dict(case)
        scenario = load_scenario(over.pop("preset"), over)
        result = simulate(scenario, scheduler, seed)
    except Exception as e:  # counted and shown: a run with faults must never raise
        out["errors"] = 1
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    trace = result.trace
    out.update(fault_summary(trace))
    report = check_trace(trace)
    out["violations"] = sum(report.counts.values())
    if not report.ok:
        out["first_violation"] = report.violations[0].message
    out["unfinished"] = sum(c is None for c in trace.jobs["completion"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=1000, help="randomized runs (default 1000)")
    ap.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    ap.add_argument("--seed", type=int, default=0, help="base seed of the cases (default 0)")
    ap.add_argument("--quick", action="store_true", help="100 runs, a smoke test")
    args = ap.parse_args(argv)
    runs = 100 if args.quick else args.runs
    t0 = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            rows = list(pool.map(run_case, range(runs), [args.seed] * runs, chunksize=10))
    else:
        rows = [run_case(k, args.seed) for k in range(runs)]
    wall = time.perf_counter() - t0

    per: dict[str, Counter] = {f: Counter() for f in FAMILIES}
    for r in rows:
        per[r["family"]].update({key: r[key] for key in FIGURES})
    total = Counter()
    for c in per.values():
        total.update(c)
    print(f"{'family':<10}" + "".join(f"{name:>14}" for name in FIGURES))
    for fam in FAMILIES:
        print(f"{fam:<10}" + "".join(f"{per[fam][name]:>14}" for name in FIGURES))
    print(f"{'total':<10}" + "".join(f"{total[name]:>14}" for name in FIGURES))
    bad = [r for r in rows if r["violations"] or r["unfinished"] or r["errors"]]
    for r in bad[:10]:
        why = r.get("error") or r.get("first_violation") or "unfinished jobs"
        print(f"run {r['k']} ({r['family']}, {r['scheduler']}): {why}")
    print(f"{runs} runs in {wall:.1f} s on {args.workers} process(es)")
    summary = {name: int(total[name]) for name in FIGURES}
    summary.update(
        wall_s=round(wall, 2), seed=args.seed, per_family={f: {n: int(per[f][n]) for n in FIGURES} for f in FAMILIES}
    )
    print(json.dumps(summary))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
