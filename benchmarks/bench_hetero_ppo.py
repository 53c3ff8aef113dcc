"""hetero: the PPO allocator of unprofiled tasks against the profile-based baselines.

    python benchmarks/bench_hetero_ppo.py [--policy DIR] [--seeds 1-20 | --quick] [--workers 1]

The policy (default: the shipped ``ppo`` hetero weights) observes each task's type and size
and where the tasks went, never an expected duration (``env.observation=unprofiled``); the
baselines plan with the profiled expected durations. It was trained on the
``hetero-lower-sizes`` preset (every size from the lower 60% of its type's range). Four test
settings, each on the test seeds (default 1-20; ``--quick``: 1-5):

- ``seen sizes``: ``hetero-lower-sizes``, the training distribution on held-out seeds;
- ``full range``: the ``hetero`` preset, sizes from the whole range;
- ``unseen sizes``: sizes from the top 40% alone, never seen in training;
- ``node removed``: seen sizes on the cluster without ``x86-2cpu-ssd``, the fastest node for
  most tasks; the policy's slot for it is masked.

Per setting and scheduler, mean ± 95% CI over seeds (Student t) of the makespan, the gap to
the makespan lower bound and the mean completion time (arrival to completion); the makespan
relative to ``optimal``'s (mean of the per-seed ratios) and the paired difference against
``optimal``'s makespan, with its 95% CI and verdict. Then the policy's decision latency (median
and p99 over all decisions, one process) and its training cost from its card. Every trace goes
through the checker. Prints tables and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from typing import Any

import numpy as np

BASELINES = ("random", "round-robin", "greedy-sjf", "global-sjf", "optimal")
METRICS = ("makespan_s", "makespan_gap", "avg_jct_s")
REMOVED = "x86-2cpu-ssd"


def shipped_policy() -> str:
    return str(resources.files("schedlab.learn") / "policies" / "hetero-ppo")


def settings() -> dict[str, Any]:
    from schedlab.scenarios import load_scenario

    seen = load_scenario("hetero-lower-sizes")
    nodes = [n.model_dump(mode="json") for n in seen.cluster.nodes]
    return {
        "seen sizes": seen,
        "full range": load_scenario("hetero"),
        "unseen sizes": load_scenario("hetero", {"workload.size_fraction": [0.6, 1.0]}),
        "node removed": load_scenario(
            "hetero-lower-sizes", {"cluster.nodes": [n for n in nodes if n["name"] != REMOVED]}
        ),
    }


def evaluate_setting(scenario: Any, policy: str, seeds: list[int], workers: int) -> dict:
    from schedlab.runs.evaluate import evaluate

    names = [*BASELINES, policy]
    ev = evaluate(scenario, names, "optimal", seeds=seeds, split="test", metrics=METRICS, workers=workers)
    by_key = {m.key: m.per_scheduler for m in ev.metrics}
    opt = np.asarray(by_key["makespan_s"]["optimal"].values, dtype=np.float64)
    out: dict[str, Any] = {"traces_checked": ev.traces_checked, "traces_ok": ev.ok, "schedulers": {}}
    for s in names:
        label = "ppo" if s == policy else s
        mk = by_key["makespan_s"][s]
        ratio = np.asarray(mk.values, dtype=np.float64) / opt
        out["schedulers"][label] = {
            **{k: [by_key[k][s].mean, by_key[k][s].ci95] for k in METRICS},
            "vs_optimal_ratio": float(ratio.mean()),
            "vs_optimal": [mk.diff_mean, mk.diff_ci95, mk.verdict],
            "latency_us": [ev.latency[s].median_us, ev.latency[s].p99_us],
        }
    return out


def print_setting(name: str, res: dict) -> None:
    print(f"\n{name}: mean ± 95% CI over seeds; makespan vs optimal: ratio of means per seed, paired difference")
    print(
        f"{'scheduler':12s} {'makespan s':>12s} {'gap':>11s} {'mean CT s':>11s} {'/ optimal':>9s} {'vs optimal s':>14s}"
    )
    for s, r in res["schedulers"].items():
        d = r["vs_optimal"]
        print(
            f"{s:12s} {r['makespan_s'][0]:6.2f}±{r['makespan_s'][1]:<5.2f}"
            f" {r['makespan_gap'][0]:5.3f}±{r['makespan_gap'][1]:<5.3f}"
            f" {r['avg_jct_s'][0]:5.2f}±{r['avg_jct_s'][1]:<5.2f} {r['vs_optimal_ratio']:9.3f}"
            f" {d[0]:+6.2f}±{d[1]:<5.2f} {d[2]}"
        )


def main(argv: list[str] | None = None) -> int:
    from schedlab.cli.common import parse_seeds
    from schedlab.learn.policy import read_card

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", default=None, help="policy directory (default: the shipped hetero ppo)")
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--quick", action="store_true", help="seeds 1-5")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    policy = args.policy or shipped_policy()
    seeds = parse_seeds("1-5" if args.quick else args.seeds)
    card = read_card(policy)
    results = {name: evaluate_setting(sc, policy, seeds, args.workers) for name, sc in settings().items()}
    print(f"hetero, PPO allocator of unprofiled tasks ({policy}), seeds {seeds[0]}..{seeds[-1]} ({len(seeds)})")
    for name, res in results.items():
        print_setting(name, res)
    lat = results["seen sizes"]["schedulers"]["ppo"]["latency_us"]
    training = card.get("training", {})
    print(
        f"\nppo decision latency: median {lat[0]:.0f} us, p99 {lat[1]:.0f} us (one process, {args.workers} worker(s))"
    )
    print(
        f"training: {training.get('iterations')} iterations, {training.get('steps')} steps, "
        f"{training.get('wall_s')} s wall, {training.get('cpu_s')} CPU-s"
    )
    checked = sum(r["traces_checked"] for r in results.values())
    ok = all(r["traces_ok"] for r in results.values())
    print(f"traces checked: {checked}, all pass: {ok}")
    print(json.dumps({"policy": policy, "seeds": seeds, "settings": results, "training": training}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
