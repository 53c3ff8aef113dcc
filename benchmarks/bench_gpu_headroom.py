"""gpu makespan headroom: ray-like, eft and eft-guard against the makespan lower bound.

    python benchmarks/bench_gpu_headroom.py [--data-dir ../shared/datasets/gpu-workflows]
                                            [--schedulers ray-like,eft,eft-guard]

Settings: the six GSwarm settings schedlab accepts: the simple config on 4 and 8 GPUs and the
repaired complex config (bench_gpu.repaired_complex) on 8 GPUs, offline and online. Per
setting and scheduler: makespan, its lower bound (``makespan_lower_bound_s``, the same for
every scheduler: it depends on the work only), the gap, the mean request completion time,
and both as % against ray-like. Every trace is checked. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--schedulers", default="ray-like,eft,eft-guard")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = args.data_dir
    if not (data / "simple_config.json").is_file():
        print(f"GSwarm data not found in {data} (use --data-dir)", file=sys.stderr)
        return 2
    schedulers = [s.strip() for s in args.schedulers.split(",")]
    print(f"{'setting':24s} {'scheduler':9s} {'makespan s':>10s} {'bound s':>9s} {'gap':>6s} {'mean JCT s':>10s} "
          f"{'makespan':>9s} {'mean JCT':>9s}")  # fmt: skip
    print(f"{'':24s} {'':9s} {'':>10s} {'':>9s} {'':>6s} {'':>10s} {'vs ray':>9s} {'vs ray':>9s}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = repaired_complex(data, Path(tmp))
        settings = [("simple", data / "simple_config.json", data / "simple_requests.yaml", g) for g in (4, 8)]
        settings.append(("complex*", fixed, data / "complex_requests.yaml", 8))
        for label, config, requests, gpus in settings:
            for mode in ("offline", "online"):
                r = cell(config, requests, gpus, mode, schedulers, args.seed, KEYS)
                results.append({"config": label, "gpus": gpus, "mode": mode, **r})
                print_cell(results[-1], schedulers)
    print(json.dumps({"bench": "gpu-headroom", "seed": args.seed, "schedulers": schedulers, "results": results}))
    return 0


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
            f"{head:24s} {name:9s} {m['makespan_s']:10.0f} {m['makespan_lower_bound_s']:9.0f}"
            f" {100 * m['makespan_gap']:5.2f}% {m['avg_jct_s']:10.0f}{vs}  {ok}"
        )
        head = ""


if __name__ == "__main__":
    sys.exit(main())
