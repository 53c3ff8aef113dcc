"""How the TPC-H episode (fair) scales with jobs and executors, up to 5,000 jobs on 500 executors.

    python benchmarks/bench_spark_scale.py --tpch-dir ../shared/datasets/tpch [--sizes 200,500,1000,2000,5000]
        [--seed 0] [--plot benchmarks/out/spark_scale.png]

Sizes: 200, 500, 1000, 2000 and 5000 jobs on 50, 100, 150, 250 and 500 executors (about
50 * (jobs / 200) ** 0.7, rounded: the cluster grows slower than the workload, as it would to
serve more users). The arrival rate grows with the executors (4e-5 jobs/ms, the preset's, times
executors / 50), so the load per executor stays that of the preset and the runs differ in size,
not in how busy they are.

Each size runs in a fresh process, as ``schedlab run spark-tpch --jobs J --executors E -s fair
--trace T.parquet`` followed by ``schedlab check T.parquet`` would: CPU seconds of the episode
(:func:`schedlab.runs.simulate`: the simulation, the trace tables and the metrics, profiles
already loaded), the process's peak RSS (``ru_maxrss``, checking included), the wall seconds
from the start of the process until the Parquet trace is written, then the CPU seconds of
writing the Parquet trace and of reading it back and checking it. Prints a table, the slope of
log(CPU) against log(events) fitted over the sizes (1.0 is linear), writes a log-log plot, and
prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {200: 50, 500: 100, 1000: 150, 2000: 250, 5000: 500}
BASE_RATE = 4e-5  # jobs per ms at 50 executors: the spark-tpch preset's


def child(tpch_dir: str, jobs: int, executors: int, seed: int, trace: str) -> None:
    """One size, in this fresh process; prints one JSON line."""
    import resource

    from schedlab.families.spark.tpch import find_tpch_dir, load_tpch
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario
    from schedlab.sim.trace import load_trace

    rate = BASE_RATE * executors / 50
    scenario = load_scenario(
        "spark-tpch",
        {
            "workload.tpch_dir": tpch_dir,
            "workload.jobs": jobs,
            "cluster.executors": executors,
            "workload.arrival_rate_per_ms": rate,
        },
    )
    load_tpch(find_tpch_dir(tpch_dir))
    c0 = time.process_time()
    result = simulate(scenario, "fair", seed)
    c1 = time.process_time()
    result.trace.save(trace)
    c2 = time.process_time()
    written_at = time.time()
    events = result.trace.counters["events"]
    del result
    c3 = time.process_time()
    report = check_trace(load_trace(trace))
    c4 = time.process_time()
    row = {
        "jobs": jobs,
        "executors": executors,
        "arrival_rate_per_ms": rate,
        "events": events,
        "episode_cpu_s": round(c1 - c0, 3),
        "us_per_event": round(1e6 * (c1 - c0) / events, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "parquet_write_s": round(c2 - c1, 3),
        "check_s": round(c4 - c3, 3),
        "check_ok": report.ok,
        "written_at": written_at,
    }
    print(json.dumps(row))


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else float("nan")


def plot(rows: list[dict], path: Path, fitted: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ev = [r["events"] for r in rows]
    cpu = [r["episode_cpu_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.loglog(ev, cpu, "o-", label=f"fair episode (fitted slope {fitted:.2f})")
    ref = [cpu[0] * e / ev[0] for e in ev]
    ax.loglog(ev, ref, "--", color="grey", label="linear (slope 1)")
    for r in rows:
        ax.annotate(f"{r['jobs']}x{r['executors']}", (r["events"], r["episode_cpu_s"]), fontsize=8,
                    textcoords="offset points", xytext=(4, -10))  # fmt: skip
    ax.set_xlabel("events")
    ax.set_ylabel("episode CPU (s)")
    ax.set_title("spark-tpch, fair: jobs x executors")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tpch"
    default_dir = os.environ.get("SCHEDLAB_TPCH_DIR") or str(shared)
    p.add_argument("--tpch-dir", default=default_dir, help="TPC-H profile directory (default: %(default)s)")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="job counts, from %(default)s")
    p.add_argument("--seed", type=int, default=0, help="episode seed (default: %(default)s)")
    out = Path(__file__).resolve().parent / "out" / "spark_scale.png"
    p.add_argument("--plot", type=Path, default=out, help="log-log plot PNG (default: %(default)s)")
    p.add_argument("--child", nargs=4, metavar=("JOBS", "EXECUTORS", "SEED", "TRACE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        jobs, executors, seed, trace = args.child
        child(args.tpch_dir, int(jobs), int(executors), int(seed), trace)
        return 0

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"bench_spark_scale: error: --sizes takes job counts from {list(SIZES)}", file=sys.stderr)
        return 2
    if not sizes or any(s not in SIZES for s in sizes):
        print(f"bench_spark_scale: error: --sizes takes job counts from {list(SIZES)}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a whole process is timed: let it use its bytecode cache
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in sizes:
            trace = str(Path(tmp) / f"spark_{jobs}.parquet")
            cmd = [sys.executable, __file__, "--tpch-dir", args.tpch_dir, "--child", str(jobs), str(SIZES[jobs]),
                   str(args.seed), trace]  # fmt: skip
            t0 = time.time()
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                print(f"bench_spark_scale: error: {jobs} jobs failed:\n{done.stderr}", file=sys.stderr)
                return 2
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["process_s"] = round(row.pop("written_at") - t0, 2)
            rows.append(row)
            print(f"  {jobs} jobs done", file=sys.stderr, flush=True)
    fitted = slope([r["events"] for r in rows], [r["episode_cpu_s"] for r in rows]) if len(rows) > 1 else float("nan")
    head = ("jobs", "executors", "events", "cpu_s", "us/event", "rss_MB", "process_s", "parquet_s", "check_s", "ok")
    keys = ("jobs", "executors", "events", "episode_cpu_s", "us_per_event", "peak_rss_mb", "process_s",
            "parquet_write_s", "check_s", "check_ok")  # fmt: skip
    print("".join(f"{h:>11}" for h in head))
    for r in rows:
        print("".join(f"{r[k]!s:>11}" for k in keys))
    print(f"log-log slope of episode CPU against events: {fitted:.3f}")
    if len(rows) > 1:
        plot(rows, args.plot, fitted)
        print(f"plot: {args.plot}")
    summary = {"benchmark": "spark-tpch-scale", "scheduler": "fair", "seed": args.seed}
    summary.update(slope_cpu_vs_events=round(fitted, 3), python=sys.version.split()[0], sizes=rows)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
