"""hetero, for real: how far a calibrated simulation is from a live run of the same workload.

    python benchmarks/bench_hetero_live.py [--profile P.json | --repeats 3] [--workers 1]
        [--scheduler optimal] [--seeds 1-3] [--tasks 12] [--save-profile P.json] [--ray]

1. Calibrate this machine's worker processes (``schedlab hetero calibrate``, ``--workers``
   processes at once, ``--repeats`` per type and size), or read ``--profile``.
2. Per seed, a workload of ``--tasks`` random tasks in two batches (two thirds at 0 s, the rest
   at 1 s), sizes from the top 70% of each type's range (``size_fraction [0.3, 1]``: the
   smallest matrix products take well under a millisecond, where a timer's jitter is the
   whole task), on ``--workers`` local nodes named by the profile.
3. Simulate it with the profile (``noise_sigma: 0``: the expected durations, the model's
   prediction), then run it live through the local pool (``--ray``: a local Ray, one actor per
   node pinned by a custom resource) with the same scheduler.

Prints, per seed and pooled: the per-task duration error ``|real - sim| / sim`` (median and
p90; ``sim`` is the profile's expected duration of the task on the node it ran on) and the
makespan error ``|live - sim| / sim``; per type, the median error; and the load conditions
(cores, load averages before and after, the worker processes). Every trace goes through the
checker. Last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def parse_seeds(text: str) -> list[int]:
    from schedlab.runs.compare import parse_seeds as parse

    return list(parse(text))


def scenario(profile: Path, workers: int, tasks: int, noise: float | None = None):
    from schedlab.scenarios import parse_scenario

    first = (2 * tasks + 2) // 3
    cluster = {"profile": str(profile), "nodes": [{"name": f"local-{j}", "kind": "local"} for j in range(workers)]}
    if noise is not None:
        cluster["noise_sigma"] = noise
    return parse_scenario(
        {
            "family": "hetero",
            "name": "hetero-live-bench",
            "cluster": cluster,
            "workload": {
                "batches": [{"at_s": 0.0, "tasks": first}]
                + ([{"at_s": 1.0, "tasks": tasks - first}] * (tasks > first)),
                "size_fraction": [0.3, 1.0],
            },
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", type=Path, help="a calibrated profile to read instead of calibrating")
    ap.add_argument("--save-profile", type=Path, help="where to keep the profile calibrated here")
    ap.add_argument("--repeats", type=int, default=3, help="calibration: measurements per type and size")
    ap.add_argument("--workers", type=int, default=1, help="worker processes = local nodes (default 1)")
    ap.add_argument("--scheduler", default="optimal")
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--tasks", type=int, default=12)
    ap.add_argument("--ray", action="store_true", help="run live on a local Ray, each node a custom resource")
    args = ap.parse_args(argv)

    from schedlab.cli.hetero import calibration_table
    from schedlab.families.hetero.live.profile import calibrate, load_profile, write_profile
    from schedlab.families.hetero.live.run import run_live
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate

    load0 = os.getloadavg()
    if args.profile is not None:
        profile_path, prof = args.profile, load_profile(args.profile)
        print(f"profile {profile_path} (measured {prof.created}, {prof.workers} worker(s))")
    else:
        prof = calibrate(repeats=args.repeats, workers=args.workers)
        profile_path = args.save_profile or Path(tempfile.mkdtemp(prefix="schedlab-bench-")) / "profile.json"
        write_profile(prof, profile_path)
        print(f"calibrated: {args.workers} worker(s), {args.repeats} repeats; profile {profile_path}")
    from rich.console import Console

    Console(width=100).print(calibration_table(prof))

    rows, errors, by_type = [], [], {}
    for seed in parse_seeds(args.seeds):
        sim = simulate(scenario(profile_path, args.workers, args.tasks, noise=0.0), args.scheduler, seed)
        live = run_live(
            scenario(profile_path, args.workers, args.tasks), args.scheduler, seed, workers=args.workers, ray=args.ray
        )
        for res in (sim, live):
            if not check_trace(res.trace).ok:
                print(f"seed {seed}: a trace fails the checker", file=sys.stderr)
                return 1
        lt = live.trace
        exp = {(j, w): e for j, w, e in zip(*(lt.extra["hetero_durations"][c] for c in ("job", "worker", "expected")))}
        types = lt.extra["hetero_tasks"]["type"]
        err = []
        for j, w, s in zip(*(lt.extra["hetero_live"][c] for c in ("job", "worker", "measured_s"))):
            e = abs(s - exp[(j, w)]) / exp[(j, w)]
            err.append(e)
            by_type.setdefault(types[j], []).append(e)
        errors += err
        ms_sim, ms_live = sim.metrics["makespan_s"], live.metrics["makespan_s"]
        same = sum(
            a == b
            for a, b in zip(
                sorted(zip(sim.trace.decisions["job"], sim.trace.decisions["worker"])),
                sorted(zip(lt.decisions["job"], lt.decisions["worker"])),
            )
        )
        rows.append(
            (
                seed,
                len(err),
                np.median(err),
                np.quantile(err, 0.9),
                ms_sim,
                ms_live,
                abs(ms_live - ms_sim) / ms_sim,
                same,
            )
        )
    load1 = os.getloadavg()

    backend = "Ray actors (custom resources)" if args.ray else "worker process(es)"
    print(f"\n{args.scheduler}, {args.tasks} tasks, {args.workers} local node(s) = {backend}")
    print("seed  tasks  task err med  task err p90  sim makespan  live makespan  makespan err  same placement")
    for seed, n, med, p90, ms, ml, me, same in rows:
        print(f"{seed:>4}  {n:>5}  {med:>12.1%}  {p90:>12.1%}  {ms:>11.2f}s  {ml:>12.2f}s  {me:>12.1%}  {same:>8}/{n}")
    med, p90 = float(np.median(errors)), float(np.quantile(errors, 0.9))
    mk = float(np.mean([r[6] for r in rows]))
    print(f"pooled: task error median {med:.1%}, p90 {p90:.1%}; makespan error mean {mk:.1%} (goal: under 10%)")
    print("per type, median task error: " + ", ".join(f"{t} {np.median(v):.1%} ({len(v)})" for t, v in by_type.items()))
    print(
        f"load: {os.cpu_count()} cores; load average (1, 5, 15 min) {tuple(round(x, 2) for x in load0)} before, "
        f"{tuple(round(x, 2) for x in load1)} after; the calibration saw {prof.machine.load_before} "
        f"(other work shares the machine: errors include its interference)"
    )
    print(
        json.dumps(
            {
                "scheduler": args.scheduler,
                "workers": args.workers,
                "ray": args.ray,
                "tasks": args.tasks,
                "seeds": [r[0] for r in rows],
                "task_error_median": med,
                "task_error_p90": p90,
                "makespan_error_mean": mk,
                "makespan_errors": [r[6] for r in rows],
                "cpus": os.cpu_count(),
                "load_before": load0,
                "load_after": load1,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
