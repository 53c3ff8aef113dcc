"""Decima against the spark heuristics, on the test seeds, as ``../shared/EVALUATION.md`` asks.

    python benchmarks/bench_decima.py --tpch-dir ../shared/datasets/tpch [--model DIR] [--workers 2]
        [--big-seeds 5] [--synthetic-seeds 20] [--skip-big]

Runs ``schedlab.runs.evaluate.evaluate`` (every trace checked) on:

1. ``spark-tpch`` (Decima's standard setup), test seeds 1-20: decima greedy and sampled,
   fair, srwf, srwf-tuned, srwf-capped, cpf, fifo, random; average JCT mean and 95% CI, paired
   differences against srwf-capped (the strongest heuristic) and fair, and the decision latency
   (median, p99);
2. generalization, never trained on: 100 executors and 500 jobs arriving 1.5 times as fast
   (``--big-seeds`` test seeds, fewer if time is short), and the synthetic DAG workload
   (``spark-synthetic``).

Decision latency is measured separately too, in this process, one thread, greedy decima on
test seed 1 of ``spark-tpch``. Prints a table per setting and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

SAMPLED = "schedlab.learn.decima.scheduler:SampledDecimaScheduler"
HEURISTICS = ("fair", "srwf", "srwf-tuned", "srwf-capped", "cpf", "fifo", "random")
#: The strongest heuristic on the training and validation seeds, the one decima is judged against.
BEST = "srwf-capped"


def _label(name: str) -> str:
    return "decima (sampled)" if name == SAMPLED else ("decima (greedy)" if name == "decima" else name)


def run_setting(title: str, scenario, schedulers: list[str], seeds: list[int], workers: int) -> dict:
    from schedlab.runs.evaluate import evaluate, paired_ci

    t0 = time.perf_counter()
    ev = evaluate(scenario, schedulers, BEST, seeds=seeds, split="test", metrics=["avg_jct_s"], workers=workers)
    wall = time.perf_counter() - t0
    m = ev.metrics[0].per_scheduler
    fair = m["fair"].values if "fair" in m else None
    print(
        f"\n## {title}: {len(seeds)} test seeds, {wall:.0f} s, "
        f"traces checked {ev.traces_checked}, violations {len(ev.violations)}"
    )
    vs_best = f"vs {BEST} (s)"
    print(f"{'scheduler':<18} {'avg JCT (s)':>18} {vs_best:>22} {'vs fair (s)':>16} {'latency med/p99 (us)':>22}")
    out = {}
    for s in schedulers:
        r = m[s]
        if fair is not None:
            d_f, h_f, _ = paired_ci(r.values, fair)
        else:
            d_f = h_f = float("nan")
        lat = ev.latency.get(s)
        lat_txt = f"{lat.median_us:.0f}/{lat.p99_us:.0f}" if lat else "-"
        vs_b = "baseline" if s == BEST else f"{r.diff_mean:+.2f} ± {r.diff_ci95:.2f} {r.verdict}"
        vs_fair = "-" if s == "fair" else f"{d_f:+.2f} ± {h_f:.2f}"
        print(f"{_label(s):<18} {r.mean:>10.2f} ± {r.ci95:<6.2f} {vs_b:>22} {vs_fair:>16} {lat_txt:>22}")
        out[_label(s)] = {
            "mean": r.mean,
            "ci95": r.ci95,
            "vs": BEST,
            "diff_vs_best": r.diff_mean,
            "diff_vs_best_ci95": r.diff_ci95,
            "verdict_vs_best": r.verdict,
            "diff_vs_fair": d_f,
            "diff_vs_fair_ci95": h_f,
            "latency_median_us": lat.median_us if lat else None,
            "latency_p99_us": lat.p99_us if lat else None,
            "values": r.values,
        }
    return {"title": title, "seeds": seeds, "wall_s": wall, "violations": len(ev.violations), "results": out}


def latency_one_thread(scenario, model: str | None = None, seed: int = 1) -> dict:
    """Median and p99 of greedy decima's decide() over one episode, in this process, one thread."""
    import numpy as np

    from schedlab.learn.decima.scheduler import DecimaScheduler
    from schedlab.runs import simulate

    res = simulate(scenario, DecimaScheduler(model=model), seed)
    d = np.array(res.trace.timing["decide_s"]) * 1e6
    return {"decisions": len(d), "median_us": float(np.median(d)), "p99_us": float(np.percentile(d, 99))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tpch-dir", default=os.environ.get("SCHEDLAB_TPCH_DIR"))
    p.add_argument("--model", help="a decima policy directory (default: the shipped one)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=20, help="test seeds 1..N of spark-tpch")
    p.add_argument("--big-seeds", type=int, default=5)
    p.add_argument("--synthetic-seeds", type=int, default=20)
    p.add_argument("--skip-big", action="store_true")
    args = p.parse_args(argv)
    if not args.tpch_dir:
        p.error("give --tpch-dir or set SCHEDLAB_TPCH_DIR")
    os.environ["SCHEDLAB_TPCH_DIR"] = str(Path(args.tpch_dir).resolve())
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if args.model:
        # The registered name must load this policy in the worker processes too.
        os.environ["SCHEDLAB_DECIMA_MODEL"] = str(Path(args.model).resolve())
    from schedlab.scenarios import load_scenario

    tpch = load_scenario("spark-tpch")
    report: dict = {"settings": []}
    lat = latency_one_thread(tpch, args.model)
    print(
        f"decision latency, one thread, greedy, spark-tpch seed 1: median {lat['median_us']:.0f} us, "
        f"p99 {lat['p99_us']:.0f} us over {lat['decisions']} decisions"
    )
    report["latency_one_thread"] = lat
    names = ["decima", SAMPLED, *HEURISTICS]
    seeds = list(range(1, args.seeds + 1))
    report["settings"].append(run_setting("spark-tpch (50 executors, 200 jobs)", tpch, names, seeds, args.workers))
    if not args.skip_big:
        w = tpch.workload
        big = tpch.model_copy(
            update={
                "name": "spark-tpch-100x500-1.5rate",
                "cluster": tpch.cluster.model_copy(update={"executors": 100}),
                "workload": w.model_copy(update={"jobs": 500, "arrival_rate_per_ms": 1.5 * w.arrival_rate_per_ms}),
            }
        )
        big_names = ["decima", "fair", "srwf", "srwf-tuned", BEST, "cpf"]
        title = "generalization: 100 executors, 500 jobs, 1.5x rate"
        big_seeds = list(range(1, args.big_seeds + 1))
        report["settings"].append(run_setting(title, big, big_names, big_seeds, args.workers))
    syn = load_scenario("spark-synthetic")
    syn_names = ["decima", SAMPLED, "fair", "srwf", "srwf-tuned", BEST, "cpf"]
    syn_seeds = list(range(1, args.synthetic_seeds + 1))
    report["settings"].append(run_setting("generalization: spark-synthetic", syn, syn_names, syn_seeds, args.workers))
    print(json.dumps(report, allow_nan=True, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
