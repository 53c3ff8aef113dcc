"""gpu makespan headroom: ray-like, eft, eft-guard, eft-batch and eft-window against the lower bounds.

    python benchmarks/bench_gpu_headroom.py [--data-dir ../shared/datasets/gpu-workflows]
                                            [--schedulers ray-like,eft,eft-guard,eft-batch,eft-window]
                                            [--factors 8,32,64,128] [--robustness [--gpus 4]]

Settings: the six GSwarm settings schedlab accepts: the simple config on 4 and 8 GPUs and the
repaired complex config (bench_gpu.repaired_complex) on 8 GPUs, offline and online. Per
setting and scheduler: makespan, its lower bound (``makespan_lower_bound_s``, the same for
every scheduler: it depends on the work only), the gap, the mean request completion time,
and both as % against ray-like; also a lower bound on the mean request completion time: the
GPUs pooled into one machine, switches free, no precedence, preemption allowed, the request
with the least work left first (offline: each request ends when the work before it and its own
is done). Per setting, which schedulers meet the target of the gpu headroom work: a makespan
within 1 % of the bound or no longer than ray-like's, and a mean at least 30 % below ray-like's.
With ``--factors``, also eft-batch at each factor, against ray-like. With ``--robustness``,
instead, the schedulers on the ``gpu`` preset (``--gpus`` GPUs, default 4; seeds 1-10, 40 and
200 generated requests, offline and online): makespan and mean against ray-like's, mean over
seeds [min, max]. On 2 GPUs the preset's 30B model needs every GPU, so eft-window's window is
on; on 4 it is off. Every trace is checked. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gpu import DEFAULT_DATA, cell, repaired_complex  # noqa: E402

KEYS = (
    "makespan_s",
    "makespan_lower_bound_s",
    "makespan_gap",
    "avg_jct_s",
    "makespan_bound_work_s",
    "makespan_bound_critical_path_s",
    "makespan_bound_gang_s",
    "switch_time_s",
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--schedulers", default="ray-like,eft,eft-guard,eft-batch,eft-window")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--factors", default="", help="eft-batch factors to sweep, e.g. 8,32,64,128")
    ap.add_argument("--robustness", action="store_true", help="the gpu preset over seeds 1-10 instead")
    ap.add_argument("--gpus", type=int, default=4, help="GPUs of the preset with --robustness")
    args = ap.parse_args(argv)
    if args.robustness:
        return robustness([s.strip() for s in args.schedulers.split(",") if s.strip() != "ray-like"], args.gpus)
    data = args.data_dir
    if not (data / "simple_config.json").is_file():
        print(f"GSwarm data not found in {data} (use --data-dir)", file=sys.stderr)
        return 2
    schedulers = [s.strip() for s in args.schedulers.split(",")]
    print(f"{'setting':24s} {'scheduler':10s} {'makespan s':>10s} {'bound s':>9s} {'gap':>6s} {'mean JCT s':>10s} "
          f"{'makespan':>9s} {'mean JCT':>9s}")  # fmt: skip
    print(f"{'':24s} {'':10s} {'':>10s} {'':>9s} {'':>6s} {'':>10s} {'vs ray':>9s} {'vs ray':>9s}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = repaired_complex(data, Path(tmp))
        settings = [("simple", data / "simple_config.json", data / "simple_requests.yaml", g) for g in (4, 8)]
        settings.append(("complex*", fixed, data / "complex_requests.yaml", 8))
        for label, config, requests, gpus in settings:
            for mode in ("offline", "online"):
                r = cell(config, requests, gpus, mode, schedulers, args.seed, KEYS)
                if "error" not in r:
                    r["mean_jct_bound_s"] = mean_bound(config, requests, gpus, mode, args.seed)
                    if "ray-like" in r:
                        r["target_met"] = [s for s in schedulers if meets_target(r[s], r["ray-like"])]
                results.append({"config": label, "gpus": gpus, "mode": mode, **r})
                print_cell(results[-1], schedulers)
                if args.factors and "ray-like" in r:
                    results[-1]["eft-batch factors"] = sweep(
                        config, requests, gpus, mode, args.factors, r["ray-like"], args.seed
                    )
    print(json.dumps({"bench": "gpu-headroom", "seed": args.seed, "schedulers": schedulers, "results": results}))
    return 0


def robustness(schedulers: list[str], gpus: int = 4) -> int:
    import numpy as np

    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    results = []
    for jobs in (40, 200):
        for mode in ("offline", "online"):
            vs: dict[str, dict[str, list[float]]] = {s: {"makespan": [], "mean": []} for s in schedulers}
            for seed in range(1, 11):
                sc = load_scenario("gpu", {"cluster.gpus": gpus, "workload.jobs": jobs, "workload.mode": mode})
                base = simulate(sc, "ray-like", seed).metrics
                for name in schedulers:
                    res = simulate(sc, name, seed)
                    if not check_trace(res.trace).ok:
                        raise SystemExit(f"{name}, seed {seed}: the trace fails the checker")
                    m = res.metrics
                    vs[name]["makespan"].append(m["makespan_s"] / base["makespan_s"] - 1)
                    vs[name]["mean"].append(m["avg_jct_s"] / base["avg_jct_s"] - 1)
            for name in schedulers:
                mk, mn = (np.array(vs[name][k]) * 100 for k in ("makespan", "mean"))
                print(f"{jobs:3d} requests {mode:7s} {name:10s} makespan {mk.mean():+5.1f}% [{mk.min():+.1f}, "
                      f"{mk.max():+.1f}]  mean {mn.mean():+5.1f}% [{mn.min():+.1f}, {mn.max():+.1f}]")  # fmt: skip
                results.append({"jobs": jobs, "mode": mode, "scheduler": name, **vs[name]})
    print(json.dumps({"bench": "gpu-robustness", "gpus": gpus, "results": results}))
    return 0


def sweep(config: Path, requests: Path, gpus: int, mode: str, factors: str, base: dict, seed: int) -> dict:
    """eft-batch at each factor: makespan gap, and makespan and mean as % against ``base``."""
    from schedlab.families.gpu.schedulers import EftBatch
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    files = {"workload.config": str(config), "workload.requests": str(requests)}
    sc = load_scenario("gpu", {"cluster.gpus": gpus, "workload.mode": mode, **files})
    out = {}
    for f in (float(x) for x in factors.split(",")):
        res = simulate(sc, EftBatch(factor=f), seed)
        m = res.metrics
        out[f] = {
            "makespan_gap": m["makespan_gap"],
            "makespan_vs_ray_like": m["makespan_s"] / base["makespan_s"] - 1,
            "mean_vs_ray_like": m["avg_jct_s"] / base["avg_jct_s"] - 1,
            "trace_ok": check_trace(res.trace).ok,
        }
        o = out[f]
        print(f"{'':24s} eft-batch factor {f:<5g} gap {100 * o['makespan_gap']:5.2f}%"
              f" {100 * o['makespan_vs_ray_like']:+8.2f}% {100 * o['mean_vs_ray_like']:+8.1f}%"
              f"  {'ok' if o['trace_ok'] else 'BAD'}")  # fmt: skip
    return out


def mean_bound(config: Path, requests: Path, gpus: int, mode: str, seed: int) -> float:
    """A lower bound on the mean request completion time (s).

    The GPUs pooled into one machine that runs ``gpus`` GPU-seconds per second, switches free,
    no precedence, preemption allowed: there, serving the request with the least work left
    first (preemptive SRPT) gives the least mean completion time, and every real schedule is a
    schedule of it. Offline every request is present at 0 and SRPT is least work first.
    """
    import heapq

    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    files = {"workload.config": str(config), "workload.requests": str(requests)}
    sc = load_scenario("gpu", {"cluster.gpus": gpus, "workload.mode": mode, **files})
    res = simulate(sc, "ray-like", seed)
    tasks = res.trace.tasks
    arrival = list(res.trace.jobs["arrival"])
    work = [0.0] * len(arrival)
    for job, start, end, gang in zip(tasks["job"], tasks["start"], tasks["end"], tasks["workers"]):
        work[job] += (end - start) * len(gang) / gpus
    order = sorted(range(len(arrival)), key=lambda j: arrival[j])
    now, i, total = 0.0, 0, 0.0
    left: list[list[float]] = []  # [time left on the pooled machine, request]
    while i < len(order) or left:
        if not left:
            now = max(now, arrival[order[i]])
        while i < len(order) and arrival[order[i]] <= now:
            heapq.heappush(left, [work[order[i]], order[i]])
            i += 1
        nxt = arrival[order[i]] if i < len(order) else math.inf
        w, j = left[0]
        if now + w <= nxt:
            heapq.heappop(left)
            now += w
            total += now - arrival[j]
        else:
            left[0][0] -= nxt - now
            now = nxt
    return total / len(arrival)


def print_cell(r: dict, schedulers: list[str]) -> None:
    head = f"{r['config']:8s} {r['gpus']} GPUs {r['mode']:7s}"
    if "error" in r:
        print(f"{head:24s} rejected: {r['error']}")
        return
    base = r.get("ray-like")
    for name in schedulers:
        m = r[name]
        vs = ""
        if base is not None:
            vs = (
                f" {100 * (m['makespan_s'] / base['makespan_s'] - 1):+8.2f}%"
                f" {100 * (m['avg_jct_s'] / base['avg_jct_s'] - 1):+8.1f}%"
            )
        ok = "ok" if m["trace_ok"] and m["completed"] else "BAD"
        print(
            f"{head:24s} {name:10s} {m['makespan_s']:10.0f} {m['makespan_lower_bound_s']:9.0f}"
            f" {100 * m['makespan_gap']:5.2f}% {m['avg_jct_s']:10.0f}{vs}  {ok}"
        )
        head = ""
    if "mean_jct_bound_s" in r and base is not None:
        b = r["mean_jct_bound_s"]
        print(f"{'':24s} mean JCT bound {b:10.0f} s ({100 * (b / base['avg_jct_s'] - 1):+.1f}% vs ray-like)")
    if "target_met" in r:
        print(f"{'':24s} target met by: {', '.join(r['target_met']) or 'none'}")


def meets_target(m: dict, base: dict) -> bool:
    """Makespan within 1 % of its bound or no longer than ``base``'s, and mean 30 % below ``base``'s."""
    short = m["makespan_s"] <= max(1.01 * m["makespan_lower_bound_s"], base["makespan_s"])
    return short and m["avg_jct_s"] <= 0.7 * base["avg_jct_s"]


if __name__ == "__main__":
    sys.exit(main())
