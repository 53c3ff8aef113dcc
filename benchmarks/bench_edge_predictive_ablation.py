"""Ablation of the edge predictive scheduler's learned part: the transformer against persistence.

    python benchmarks/bench_edge_predictive_ablation.py [--seeds 1-20] [--train-seed 10000]
                                                         [--model-dir DIR] [--save-model DIR]
                                                         [--workers 1] [--quick]

The same decision rule (``predictive`` with its default knobs) runs closed loop on the ``edge``
preset with three forecasters: a trained transformer, ``last`` (persistence: the trivial
predictor) and the default ``ewma`` (alpha 0.3), on the same test seeds. A gain of the
transformer over ``last`` is the part of the scheduler's result that learning earned.

Without ``--model-dir`` the transformer is trained first exactly as docs/forecasting.md says,
through the command line and with every default: ``schedlab edge gen-logs --seed TRAIN_SEED``
(10 nodes x 1000 steps every 0.02 s), then ``schedlab edge train --model transformer`` (fits on
the first 80% of that log, early-stops on the last 20% of those steps). The training seed must be
a training seed (10,000 and up, see EVALUATION.md) so that no episode it saw is evaluated on.

Prints, per forecaster, the mean and 95% CI over seeds of the edge metrics; the paired
differences transformer - last (and transformer - ewma) with their 95% CI and verdict; the
decision latency (median, p99 over every decision of every seed, wall clock, one thread); the
training cost; and, last, one JSON line. Every trace is checked.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

KEYS = (
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_mean_ms",
    "deadline_miss_rate",
    "timeout_rate",
    "jain_fairness",
)
SHORT = {
    "latency_p50_ms": "p50 ms",
    "latency_p95_ms": "p95 ms",
    "latency_mean_ms": "mean ms",
    "deadline_miss_rate": "miss",
    "timeout_rate": "timeout",
    "jain_fairness": "Jain",
}
DIGITS = {"latency_p50_ms": 1, "latency_p95_ms": 1, "latency_mean_ms": 1, "timeout_rate": 5}
# (minuend, subtrahend) of the paired differences; the first is the ablation itself.
PAIRS = (("transformer", "last"), ("transformer", "ewma"))
QUICK_TRAIN = ["--epochs", "1", "--d-model", "32", "--nhead", "2", "--layers", "1", "--ffn", "64"]
FIRST_TRAINING_SEED = 10_000


# -- training --------------------------------------------------------------------------------


def train_transformer(folder: Path, train_seed: int, quick: bool) -> dict:
    """Generate a node log of ``train_seed`` and train the transformer on it with the CLI.

    Returns the training figures of the model's ``metrics.json``.
    """
    cli = [sys.executable, "-m", "schedlab.cli", "edge"]
    # Relative names, run in the folder, so that the commands print as one would type them.
    log, model = "train.csv", "model"
    steps = ["--steps", "300"] if quick else []
    gen = [*cli, "gen-logs", "--seed", str(train_seed), "--out", str(log), "--quiet", *steps]
    train = [*cli, "train", "--input", str(log), "--model", "transformer", "--out", str(model), "--quiet"]
    if quick:
        train += QUICK_TRAIN
    for cmd in (gen, train):
        subprocess.run(cmd, check=True, cwd=folder)
    return training_figures(folder / model) | {
        "commands": [_shell(gen[2:]), _shell(train[2:])],
    }


def training_figures(model: Path) -> dict:
    """Training cost and the 1-step delay error on the training log's tail, from ``metrics.json``."""
    path = model / "metrics.json"
    if not path.exists():
        return {}
    m = json.loads(path.read_text())
    keep = ("train_cpu_s", "train_wall_s", "epochs_run", "best_epoch", "train_steps", "delay_mae_ms")
    return {k: m[k] for k in keep if k in m}


def _shell(args: list[str]) -> str:
    return " ".join(["schedlab", *args[1:]])


# -- runs ------------------------------------------------------------------------------------


def run_cell(scenario_data: dict, source: dict, seed: int) -> dict:
    """One forecaster on one seed: the metrics and every decision's wall time of a checked run."""
    from schedlab.learn.forecast.predictive import PredictiveNode
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.scenarios import parse_scenario

    res = simulate(parse_scenario(scenario_data), PredictiveNode(**source), seed)
    report = check_trace(res.trace)
    if not report.ok:
        first = report.violations[0]
        raise RuntimeError(f"{source} seed {seed}: the trace fails the checker: [{first.check}] {first.message}")
    return {k: res.metrics[k] for k in KEYS} | {"decide_s": res.trace.timing["decide_s"]}


# -- analysis --------------------------------------------------------------------------------


def analyse(per_seed: dict[str, dict[str, list[float]]]) -> dict:
    """Mean and CI per forecaster and metric, and the paired differences of :data:`PAIRS`.

    ``per_seed[forecaster][metric]`` lists the values in seed order, the same seeds for all.
    """
    from schedlab.metrics.summary import metric_info
    from schedlab.runs.compare import mean_ci
    from schedlab.runs.evaluate import paired_ci, verdict

    stats = {f: {k: mean_ci(v[k]) for k in KEYS} for f, v in per_seed.items()}
    diffs = {}
    for a, b in PAIRS:
        if a not in per_seed or b not in per_seed:
            continue
        row = {}
        for k in KEYS:
            d, h, n = paired_ci(per_seed[a][k], per_seed[b][k])
            row[k] = {"diff": d, "ci95": h, "pairs": n, "verdict": verdict(d, h, metric_info(k).lower_is_better)}
        diffs[f"{a} - {b}"] = row
    return {"stats": stats, "diffs": diffs}


def latency_us(decide_s: list[float]) -> dict:
    import numpy as np

    us = np.asarray(decide_s, dtype=np.float64) * 1e6
    med, p99 = np.percentile(us, [50.0, 99.0])
    return {"decisions": int(us.size), "median_us": float(med), "p99_us": float(p99), "mean_us": float(us.mean())}


def fmt_ci(mean: float, half: float, digits: int) -> str:
    h = "nan" if math.isnan(half) else f"{half:.{digits}f}"
    return f"{mean:.{digits}f} ± {h}"


def _r(x: float, digits: int = 5):
    return None if not math.isfinite(x) else round(x, digits)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-20", help="test seeds, e.g. 1-20")
    ap.add_argument("--train-seed", type=int, default=FIRST_TRAINING_SEED, help="seed of the training node log")
    ap.add_argument("--model-dir", type=Path, default=None, help="a trained transformer folder; skips training")
    ap.add_argument("--save-model", type=Path, default=None, help="train into this folder and keep it")
    ap.add_argument("--requests", type=int, default=None, help="override the number of requests")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 600 requests, a tiny transformer")
    args = ap.parse_args(argv)

    from schedlab.cli.common import parse_seeds
    from schedlab.scenarios import load_scenario

    seeds = [1, 2] if args.quick else parse_seeds(args.seeds)
    if args.model_dir is None and args.train_seed < FIRST_TRAINING_SEED:
        print(
            f"--train-seed must be a training seed (>= {FIRST_TRAINING_SEED}), got {args.train_seed}", file=sys.stderr
        )
        return 2
    requests = args.requests or (600 if args.quick else None)
    scenario = load_scenario("edge", {"workload.jobs": requests} if requests else None)

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="schedlab-ablation-") as tmp:
        if args.model_dir is not None:
            model_dir = args.model_dir
            training = training_figures(model_dir) | {"from": str(model_dir)}
        else:
            folder = args.save_model or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            print(f"training the transformer on a node log of seed {args.train_seed} ...", file=sys.stderr)
            training = train_transformer(folder, args.train_seed, args.quick) | {"train_seed": args.train_seed}
            model_dir = folder / "model"
        sources = {
            "transformer": {"model_dir": str(model_dir)},
            "last": {"forecaster": "last"},
            "ewma": {},  # the scheduler's default: ewma, alpha 0.3
        }
        data = scenario.model_dump(mode="json")
        cells = [(f, seed) for f in sources for seed in seeds]
        results = {}
        with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
            futures = {pool.submit(run_cell, data, sources[f], seed): (f, seed) for f, seed in cells}
            for n, (fut, key) in enumerate(futures.items(), 1):
                results[key] = fut.result()
                if n % 10 == 0 or n == len(futures):
                    print(f"  {n}/{len(futures)} runs, {time.time() - t0:.0f} s", file=sys.stderr)
    elapsed = time.time() - t0

    per_seed = {f: {k: [results[(f, s)][k] for s in seeds] for k in KEYS} for f in sources}
    lat = {f: latency_us([x for s in seeds for x in results[(f, s)]["decide_s"]]) for f in sources}
    out = analyse(per_seed)

    n_req = scenario.workload.jobs
    print(f"edge preset, {n_req} requests, predictive with default knobs, seeds {seeds[0]}..{seeds[-1]} "
          f"({len(seeds)}); mean ± 95% CI over seeds; {len(cells)} traces checked")  # fmt: skip
    head = f"{'forecaster':12s}" + "".join(f"{SHORT[k]:>19s}" for k in KEYS)
    print(head)
    for f in sources:
        st = out["stats"][f]
        print(f"{f:12s}" + "".join(f"{fmt_ci(*st[k], DIGITS.get(k, 4)):>19s}" for k in KEYS))
    print()
    print("paired differences per seed, 95% CI (verdict for the first named)")
    for label, row in out["diffs"].items():
        print(f"  {label}:")
        for k in KEYS:
            c = row[k]
            dig = DIGITS.get(k, 4)
            print(f"    {SHORT[k]:8s} {c['diff']:+.{dig}f} ± {c['ci95']:.{dig}f}  {c['verdict']}")
    print()
    print("decision latency, wall clock over every decision of every seed (us):")
    for f, la in lat.items():
        print(f"  {f:12s} median {la['median_us']:7.1f}  p99 {la['p99_us']:8.1f}  mean {la['mean_us']:7.1f}  "
              f"({la['decisions']} decisions)")  # fmt: skip
    print()
    if training:
        shown = {k: f"{v:.1f}" if isinstance(v, float) else v for k, v in training.items() if k != "commands"}
        print("transformer training: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        for c in training.get("commands", []):
            print(f"  {c}")

    doc = {
        "benchmark": "edge-predictive-ablation",
        "scenario": "edge",
        "requests": n_req,
        "seeds": seeds,
        "forecasters": {
            "transformer": {"model_dir": str(args.model_dir) if args.model_dir else "trained by this run"},
            "last": sources["last"],
            "ewma": {"forecaster": "ewma", "forecaster_params": {"alpha": 0.3}},
        },
        "metrics": {f: {k: [_r(m), _r(h)] for k, (m, h) in st.items()} for f, st in out["stats"].items()},
        "paired": {
            label: {
                k: {"diff": _r(c["diff"]), "ci95": _r(c["ci95"]), "pairs": c["pairs"], "verdict": c["verdict"]}
                for k, c in row.items()
            }  # fmt: skip
            for label, row in out["diffs"].items()
        },
        "decision_latency_us": {"clock": "wall", **{f: {k: _r(v, 2) for k, v in la.items()} for f, la in lat.items()}},
        "training": {k: (_r(v, 3) if isinstance(v, float) else v) for k, v in training.items()},
        "per_seed": {f: {k: [_r(x) for x in v] for k, v in vals.items()} for f, vals in per_seed.items()},
        "runs": len(cells),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(doc, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
