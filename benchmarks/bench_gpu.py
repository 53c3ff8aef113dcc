"""gpu schedulers on GSwarm's real configs: ray-like against eft, in the eight GSwarm settings.

    python benchmarks/bench_gpu.py [--data-dir ../shared/datasets/gpu-workflows]
                                   [--schedulers ray-like,eft,eft-fifo] [--seed 0]

Settings: the simple and the complex config with their request files (500 and 1,000 requests),
on 4 and 8 GPUs, offline (all requests at 0) and online (at their timestamps). A setting that
schedlab rejects is reported with its error: the complex config as given has an edge from
"performance_report", an output rather than a node, so it is rejected everywhere; the rows
marked ``complex*`` run a copy with that edge repaired to "performance_analysis" (which
produces performance_report), and still reject 4 GPUs because of the 8-GPU 70B model.

Every trace is checked. Prints a table and, last, one JSON line. The execution times are the
request files' (no estimate is drawn), so the seed changes nothing here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "gpu-workflows"
KEYS = ("makespan_s", "avg_jct_s", "p99_jct_s", "model_switches", "switch_time_s")


def repaired_complex(data: Path, out_dir: Path) -> Path:
    doc = json.loads((data / "complex_config.json").read_text())
    for e in doc["workflows"]["advanced_code_analysis"]["edges"]:
        if e["from"] == "performance_report":
            e["from"] = "performance_analysis"
    p = out_dir / "complex_config_repaired.json"
    p.write_text(json.dumps(doc, indent=1))
    return p


def cell(
    config: Path,
    requests: Path,
    gpus: int,
    mode: str,
    schedulers: list[str],
    seed: int,
    keys: tuple[str, ...] = (*KEYS, "median_jct_s", "max_wait_s", "gpu_utilization"),
) -> dict:
    from schedlab.errors import SchedlabError
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    files = {"workload.config": str(config), "workload.requests": str(requests)}
    sc = load_scenario("gpu", {"cluster.gpus": gpus, "workload.mode": mode, **files})
    out: dict = {}
    for name in schedulers:
        t0 = time.process_time()
        try:
            res = simulate(sc, name, seed)
        except SchedlabError as e:
            return {"error": str(e)}
        cpu = time.process_time() - t0
        m = res.metrics
        out[name] = {k: m[k] for k in keys} | {
            "completed": m["completed_jobs"],
            "trace_ok": check_trace(res.trace).ok,
            "cpu_s": round(cpu, 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--schedulers", default="ray-like,eft,eft-fifo")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = args.data_dir
    if not (data / "simple_config.json").is_file():
        print(f"GSwarm data not found in {data} (use --data-dir)", file=sys.stderr)
        return 2
    schedulers = [s.strip() for s in args.schedulers.split(",")]
    print(f"{'setting':26s} {'scheduler':9s} {'makespan s':>19s} {'mean JCT s':>19s} {'p99 JCT s':>19s} "
          f"{'switches':>15s} {'switch s':>19s}")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        fixed = repaired_complex(data, Path(tmp))
        configs = [
            ("simple", data / "simple_config.json", data / "simple_requests.yaml"),
            ("complex", data / "complex_config.json", data / "complex_requests.yaml"),
            ("complex*", fixed, data / "complex_requests.yaml"),
        ]
        for label, config, requests in configs:
            for gpus in (4, 8):
                for mode in ("offline", "online"):
                    r = cell(config, requests, gpus, mode, schedulers, args.seed)
                    results.append({"config": label, "gpus": gpus, "mode": mode, **r})
                    print_cell(results[-1], schedulers)
    print(json.dumps({"bench": "gpu", "seed": args.seed, "schedulers": schedulers, "results": results}))
    return 0


def print_cell(r: dict, schedulers: list[str]) -> None:
    head = f"{r['config']:9s} {r['gpus']} GPUs {r['mode']:7s}"
    if "error" in r:
        print(f"{head} rejected: {r['error']}")
        return
    base = r.get("ray-like")
    for name in schedulers:
        m = r[name]
        cells = []
        for k in KEYS:
            v = m[k]
            text = f"{v:10.0f}" if k != "model_switches" else f"{v:6d}"
            if base is not None and name != "ray-like" and base[k]:
                text += f" ({100 * (v - base[k]) / base[k]:+5.1f}%)"
            else:
                text += " " * 9
            cells.append(text)
        ok = "ok" if m["trace_ok"] and m["completed"] else "BAD"
        print(f"{head} {name:9s} " + " ".join(cells) + f"  {m['cpu_s']:5.1f} cpu-s {ok}")
        head = " " * len(head)


if __name__ == "__main__":
    sys.exit(main())
