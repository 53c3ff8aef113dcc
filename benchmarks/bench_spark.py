"""Speed of the standard TPC-H episode (fair, 50 executors, 200 jobs) against a bare heap loop.

    python benchmarks/bench_spark.py --tpch-dir ../shared/datasets/tpch [--repeat 5] [--seed 1]

Prints a table and, last, one JSON line. CPU seconds are process time of the episode alone
(profiles already loaded, as in a sweep); the bare loop pushes and pops the same number of
events through ``heapq`` with the same tuple shape and nothing else.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path


def episode(scenario, scheduler: str, seed: int) -> dict:
    from schedlab.runs import simulate

    c0, w0 = time.process_time(), time.perf_counter()
    result = simulate(scenario, scheduler, seed)
    c1, w1 = time.process_time(), time.perf_counter()
    return {
        "cpu_s": c1 - c0,
        "wall_s": w1 - w0,
        "events": result.trace.counters["events"],
        "avg_jct_s": result.metrics["avg_jct_s"],
    }


def bare_heap_loop(n_events: int, concurrency: int = 50) -> float:
    """CPU seconds to push and pop ``n_events`` (time, seq, handler, a, b) tuples."""
    import random

    rng = random.Random(0)
    gaps = [rng.random() * 1000.0 for _ in range(n_events)]
    heap: list[tuple] = []
    seq = itertools.count()
    for i in range(concurrency):
        heapq.heappush(heap, (gaps[i], next(seq), None, i, None))
    pushed = concurrency
    t0 = time.process_time()
    while heap:
        t, _, h, a, b = heapq.heappop(heap)
        if pushed < n_events:
            heapq.heappush(heap, (t + gaps[pushed], next(seq), h, a, b))
            pushed += 1
    return time.process_time() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tpch"
    default_dir = os.environ.get("SCHEDLAB_TPCH_DIR") or str(shared)
    p.add_argument("--tpch-dir", default=default_dir, help="TPC-H profile directory (default: %(default)s)")
    p.add_argument("--scheduler", default="fair", help="scheduler (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="episode seed (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=5, help="episodes timed, minimum reported (default: %(default)s)")
    args = p.parse_args()

    from schedlab.errors import SchedlabError
    from schedlab.scenarios import load_scenario

    try:
        from schedlab.families.spark.tpch import find_tpch_dir, load_tpch

        scenario = load_scenario("spark-tpch", {"workload.tpch_dir": args.tpch_dir})
        t0 = time.process_time()
        load_tpch(find_tpch_dir(args.tpch_dir))  # read and cached once per process, as in a sweep
        load_cpu = time.process_time() - t0
        episode(scenario, args.scheduler, args.seed)  # warm-up
    except SchedlabError as e:
        print(f"bench_spark: error: {e}", file=sys.stderr)
        return 2
    runs = [episode(scenario, args.scheduler, args.seed) for _ in range(args.repeat)]
    cpu = min(r["cpu_s"] for r in runs)
    wall = min(r["wall_s"] for r in runs)
    events = runs[0]["events"]
    bare = min(bare_heap_loop(events) for _ in range(3))
    row = {
        "benchmark": "spark-tpch-episode",
        "scheduler": args.scheduler,
        "seed": args.seed,
        "episode_cpu_s": round(cpu, 4),
        "episode_cpu_median_s": round(statistics.median(r["cpu_s"] for r in runs), 4),
        "episode_wall_s": round(wall, 4),
        "profile_load_cpu_s": round(load_cpu, 4),
        "events": events,
        "events_per_s": round(events / cpu),
        "bare_heap_cpu_s": round(bare, 4),
        "ratio_to_bare_heap": round(cpu / bare, 2),
        "avg_jct_s": round(runs[0]["avg_jct_s"], 3),
        "python": sys.version.split()[0],
    }
    print(f"{'metric':<24}{'value':>14}")
    for k, v in row.items():
        print(f"{k:<24}{v!s:>14}")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
