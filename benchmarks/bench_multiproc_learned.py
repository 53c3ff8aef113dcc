"""multiproc: the learned schedulers (dqn, ppo, gnn-cost) against the rules, on the test seeds.

    python benchmarks/bench_multiproc_learned.py [--seeds 1-20 | --quick] [--policy DIR ...] [--workers 1]

Runs round-robin, random, lwr, lwr-drift, oracle, slack-fit-triage, edf-pull and the learned
schedulers on the multiproc preset (3,000 tasks) for each test seed (default 1-20; ``--quick``:
1-5) with :func:`schedlab.runs.evaluate.evaluate`: ``dqn``, ``ppo`` and ``gnn-cost`` with their
shipped weights, and any policy directory given with ``--policy DIR`` (repeatable). Reports per
scheduler, as mean ± 95% CI over seeds (Student t): the SLA violation rate, the mean completion
time (arrival to completion, s), oracle agreement, and the SLA violation rate per phase (stable,
drifting, bursty); the paired difference in SLA violations against ``lwr`` and against the best
rule, ``edf-pull``, with its 95% CI and verdict; and the decision latency (median and p99 over
all decisions; one process when ``--workers 1``). Every trace goes through the checker. Prints
a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

RULES = ("round-robin", "random", "lwr", "lwr-drift", "oracle", "slack-fit-triage", "edf-pull")
LEARNED = ("dqn", "ppo", "gnn-cost")
METRICS = ("sla_violation_rate", "avg_completion_time_s", "oracle_agreement")
SLA = "sla_violation_rate"
BEST_RULE = "edf-pull"


def per_phase(trace_dir: Path, rows: list[dict], kinds: list[str]) -> dict[str, dict[str, list[float]]]:
    """Scheduler -> phase kind -> SLA violation rate per seed, read from the kept traces."""
    from schedlab.runs.compare import trace_file

    out: dict[str, dict[str, list[float]]] = {}
    for r in sorted(rows, key=lambda r: (r["scheduler"], r["seed"])):
        jobs = json.loads(trace_file(trace_dir, r["scenario"], r["scheduler"], r["seed"]).read_text())["jobs"]
        phase = np.asarray(jobs["phase"])
        late = np.asarray(jobs["completion"], dtype=np.float64) > np.asarray(jobs["deadline"], dtype=np.float64)
        per = out.setdefault(r["scheduler"], {})
        for p in dict.fromkeys(phase.tolist()):
            per.setdefault(kinds[int(p)], []).append(float(late[phase == p].mean()))
    return out


def evaluate_all(schedulers: list[str], seeds: list[int], workers: int) -> dict:
    from schedlab.runs.compare import mean_ci
    from schedlab.runs.evaluate import evaluate, paired_ci, verdict
    from schedlab.scenarios import load_scenario

    scenario = load_scenario("multiproc")
    kinds = [ph.kind for ph in scenario.workload.phases]
    with tempfile.TemporaryDirectory(prefix="bench-multiproc-learned-") as tmp:
        ev = evaluate(
            scenario,
            schedulers,
            "lwr",
            seeds=seeds,
            split="test",
            metrics=METRICS,
            workers=workers,
            trace_dir=Path(tmp),
        )
        phases = per_phase(Path(tmp), ev.rows, kinds)
    by_key = {m.key: m.per_scheduler for m in ev.metrics}
    sla = by_key[SLA]
    out: dict[str, Any] = {"seeds": seeds, "traces_checked": ev.traces_checked, "traces_ok": ev.ok, "schedulers": {}}
    for s in schedulers:
        vs_best = paired_ci(sla[s].values, sla[BEST_RULE].values)
        lat = ev.latency[s]
        out["schedulers"][s] = {
            **{k: [by_key[k][s].mean, by_key[k][s].ci95] for k in METRICS},
            "sla_by_phase": {p: list(mean_ci(v)) for p, v in phases[s].items()},
            "sla_vs_lwr": [sla[s].diff_mean, sla[s].diff_ci95, sla[s].verdict],
            "sla_vs_best_rule": [
                vs_best[0],
                vs_best[1],
                "baseline" if s == BEST_RULE else verdict(vs_best[0], vs_best[1], "lower"),
            ],
            "latency_us": [lat.median_us, lat.p99_us],
        }
    return out


def pm(v: list, scale: float, digits: int, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{v[0] * scale:{sign}.{digits}f}±{v[1] * scale:.{digits}f}"


def label(s: str) -> str:
    return Path(s).name if "/" in s else s


def print_table(res: dict) -> None:
    seeds = res["seeds"]
    print(f"multiproc preset, test seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), mean ± 95% CI over seeds")
    phases = list(next(iter(res["schedulers"].values()))["sla_by_phase"])
    head = " ".join(f"{p[:8] + ' %':>10s}" for p in phases)
    print(
        f"{'scheduler':17s} {'SLA viol %':>11s} {'mean CT s':>11s} {'oracle agr %':>12s} {head}"
        f" {'us/dec':>7s} {'p99 us':>7s}"
    )
    for s, r in res["schedulers"].items():
        by_p = " ".join(f"{pm(r['sla_by_phase'][p], 100, 1):>10s}" for p in phases)
        print(
            f"{label(s):17s} {pm(r[SLA], 100, 2):>11s} {pm(r['avg_completion_time_s'], 1, 2):>11s} "
            f"{pm(r['oracle_agreement'], 100, 1):>12s} {by_p} {r['latency_us'][0]:7.0f} {r['latency_us'][1]:7.0f}"
        )
    print(f"\nSLA violations, scheduler minus lwr and minus {BEST_RULE}, paired by seed (points, mean ± 95% CI)")
    for s, r in res["schedulers"].items():
        a, b = r["sla_vs_lwr"], r["sla_vs_best_rule"]
        print(f"{label(s):17s} {pm(a, 100, 2, True):>13s} {a[2]:8s} {pm(b, 100, 2, True):>13s} {b[2]}")


def main(argv: list[str] | None = None) -> int:
    from schedlab.cli.common import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--quick", action="store_true", help="seeds 1-5")
    ap.add_argument("--policy", action="append", default=[], help="a policy directory to include (repeatable)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    seeds = parse_seeds("1-5" if args.quick else args.seeds)
    schedulers = [*RULES, *LEARNED, *(str(Path(p)) for p in args.policy)]
    res = evaluate_all(schedulers, seeds, args.workers)
    print_table(res)
    print(f"traces checked: {res['traces_checked']}, all pass: {res['traces_ok']}")
    print(json.dumps(res))
    return 0 if res["traces_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
