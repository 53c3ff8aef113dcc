"""Node-state forecasters on held-out node logs: baselines, the transformer and the LoRA-adapted MiniLM.

    python benchmarks/bench_forecast.py [--quick] [--train-seed 42] [--test-seeds 1-5]
                                        [--model transformer:residual=false ...] [--json-out FILE]

Every forecaster is fitted on one log (default: 10 nodes x 1000 steps every 0.02 s, seed 42; the
neural ones keep its last 20% for early stopping) and scored on logs of other seeds, whose nodes
it has never seen (node ids repeat across seeds, the nodes behind them do not). Errors are the
mean absolute and root mean squared errors of the 1-step and 5-step-ahead predictions over all
nodes and origin steps 30..994 (one batched 5-step prediction per origin), averaged over the test
seeds with a 95% confidence interval (Student t over seeds). Training time is process CPU time.

``--model NAME[:KEY=VALUE,...]`` (repeatable) replaces the default list (last, sma, ewma, linear,
transformer, lm); values are read as JSON. ``--quick`` shrinks everything for a smoke run.

A last row, ``oracle*``, is the floor: the prediction from the generator's hidden state (see
:func:`bench_oracle`). Prints a table, whether the transformer's delay MAE is at least 20% below EWMA's, and, last,
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

DEFAULT_MODELS = ("last", "sma", "ewma", "linear", "transformer", "lm")
QUICK = {
    "transformer": {"epochs": 2, "d_model": 32, "nhead": 2, "layers": 1, "ffn": 64},
    "lm": {"epochs": 1, "max_windows": 64, "max_val_windows": 32},
}
VARS = (("cpu", "cpu_mae", "cpu_rmse"), ("mem", "mem_mae", "mem_rmse"), ("delay ms", "delay_mae_ms", "delay_rmse_ms"),
        ("load", "load_mae", "load_rmse"))  # fmt: skip
TARGET = 0.20  # the transformer's delay MAE should be this much below EWMA's


def parse_spec(spec: str) -> tuple[str, str, dict]:
    """``name:key=value,...`` -> (label, name, params)."""
    name, _, rest = spec.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, _, text = item.partition("=")
        try:
            params[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[key.strip()] = text
    return spec, name.strip(), params


def logs(seeds, nodes: int, steps: int, interval: float):
    import numpy as np

    from schedlab.families.edge.nodes import NodeParams, generate_node_logs
    from schedlab.scenarios import load_scenario

    params = NodeParams.from_config(load_scenario("edge").cluster)
    return {s: generate_node_logs(nodes, steps, interval, params, np.random.default_rng(s)) for s in seeds}


def replicate(nodes, k: int, rng):
    """``k`` copies of every node of an EdgeNodes, hidden state included, drawing from ``rng``."""
    import copy

    import numpy as np

    twin = copy.deepcopy(nodes)
    for key, value in vars(twin).items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (nodes.n,):
            setattr(twin, key, np.repeat(value, k, axis=0))
    twin.n = nodes.n * k
    twin._rng = rng
    return twin


def bench_oracle(tests: dict, nodes: int, steps: int, interval: float, draws: int = 256) -> dict:
    """The floor for any forecaster: predictions from the hidden state and the true dynamics.

    At each origin the generator's full state (hidden drift, spikes, nominal cores, network base)
    is copied ``draws`` times per node and stepped ahead with fresh noise; the per-node median of
    the draws is the MAE-optimal prediction, their mean the RMSE-optimal one. Nothing a
    forecaster can learn from the observed history does better (up to sampling error).
    """
    import numpy as np

    from schedlab.families.edge.nodes import EdgeNodes, NodeParams
    from schedlab.learn.forecast.evaluate import metrics as error_metrics
    from schedlab.runs.compare import mean_ci
    from schedlab.scenarios import load_scenario

    params = NodeParams.from_config(load_scenario("edge").cluster)
    per_seed = {1: [], 5: []}
    cpu0 = time.process_time()
    for seed, log in tests.items():
        sim = EdgeNodes(nodes, params, np.random.default_rng(seed))
        noise = np.random.default_rng([seed, 99])
        med = {k: [] for k in per_seed}
        avg = {k: [] for k in per_seed}
        true = {k: [] for k in per_seed}
        for t in range(1, steps - 4):  # origin t: the state of step t-1 is known
            if t >= 30:
                twin = replicate(sim, draws, noise)
                for h in range(1, 6):
                    twin.step()
                    if h in per_seed:
                        s = twin.state().reshape(nodes, draws, 4)
                        med[h].append(np.median(s, axis=1))
                        avg[h].append(s.mean(axis=1))
                        true[h].append(log.values[t + h - 1])
            sim.step()
            if not np.allclose(sim.state(), log.values[t]):
                raise RuntimeError("the oracle's copy of the dynamics left the logged trajectory")
        for k in per_seed:
            mae = error_metrics(np.concatenate(med[k]), np.concatenate(true[k]))
            rmse = error_metrics(np.concatenate(avg[k]), np.concatenate(true[k]))
            per_seed[k].append({m: (mae if "_mae" in m else rmse)[m] for m in mae})
    metrics, seeds = {}, {}
    for k, rows in per_seed.items():
        for key in rows[0]:
            seeds[f"{key}_{k}step"] = [r[key] for r in rows]
            metrics[f"{key}_{k}step"] = list(mean_ci(seeds[f"{key}_{k}step"]))
    return {
        "model": "oracle",
        "params": {"draws": draws},
        "train_cpu_s": 0.0,
        "train_wall_s": 0.0,
        "eval_cpu_s": time.process_time() - cpu0,
        "epochs_run": 0,
        "best_epoch": 0,
        "samples_per_seed": len(true[1]) * nodes,
        "metrics": metrics,
        "per_seed": seeds,
    }


def bench_one(name: str, params: dict, train, tests: dict, quick: bool) -> dict:
    from schedlab.learn.forecast import make_forecaster
    from schedlab.learn.forecast.evaluate import evaluate_horizons
    from schedlab.runs.compare import mean_ci

    model = make_forecaster(name, **((QUICK.get(name, {}) if quick else {}) | params))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model.fit(train, progress=lambda f: print(f"\r  {name}: {f:4.0%}", end="", file=sys.stderr, flush=True))
    train_cpu, train_wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(file=sys.stderr)
    per_seed = {1: [], 5: []}
    eval_cpu0 = time.process_time()
    for log in tests.values():
        res = evaluate_horizons(model, log, (1, 5), start=30)
        for k in per_seed:
            per_seed[k].append(res[k])
    eval_cpu = time.process_time() - eval_cpu0
    metrics, seeds = {}, {}
    for k, rows in per_seed.items():
        for key in rows[0]:
            if key in ("steps_ahead", "samples"):
                continue
            seeds[f"{key}_{k}step"] = [r[key] for r in rows]
            metrics[f"{key}_{k}step"] = list(mean_ci(seeds[f"{key}_{k}step"]))
    hist = getattr(model, "history_", {}) or {}
    return {
        "model": name,
        "params": model.get_params(),
        "train_cpu_s": train_cpu,
        "train_wall_s": train_wall,
        "eval_cpu_s": eval_cpu,
        "epochs_run": hist.get("epochs_run", 0),
        "best_epoch": hist.get("best_epoch", 0),
        "samples_per_seed": per_seed[1][0]["samples"],
        "metrics": metrics,
        "per_seed": seeds,
    }


def cell(m: list[float]) -> str:
    mean, half = m
    d = 2 if abs(mean) >= 1 else 4
    return f"{mean:.{d}f}±{half:.{d}f}" if half == half else f"{mean:.{d}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small logs, short training: a smoke run")
    ap.add_argument("--train-seed", type=int, default=42)
    ap.add_argument("--test-seeds", default="1-5", help="like 1-5 or 1,3,7")
    ap.add_argument("--model", action="append", help="NAME[:KEY=VALUE,...]; repeat; replaces the default list")
    ap.add_argument("--json-out", help="also write the JSON line to this file")
    ap.add_argument("--no-oracle", action="store_true", help="skip the hidden-state oracle")
    args = ap.parse_args()

    from schedlab.cli.common import parse_seeds

    test_seeds = parse_seeds(args.test_seeds)
    nodes, steps = (4, 200) if args.quick else (10, 1000)
    if args.train_seed in test_seeds:
        sys.exit("the training seed must not be a test seed")
    all_logs = logs([args.train_seed, *test_seeds], nodes, steps, 0.02)
    train = all_logs.pop(args.train_seed)
    specs = [parse_spec(s) for s in (args.model or DEFAULT_MODELS)]
    results = {}
    for label, name, params in specs:
        results[label] = bench_one(name, params, train, all_logs, args.quick)
    if not args.no_oracle:
        results["oracle*"] = bench_oracle(all_logs, nodes, steps, 0.02)

    print(f"train seed {args.train_seed}, test seeds {test_seeds}: {nodes} nodes x {steps} steps; "
          f"mean±95% CI over test seeds")  # fmt: skip
    print(f"{'model':11s} {'var':8s} {'MAE 1':>14s} {'RMSE 1':>14s} {'MAE 5':>14s} {'RMSE 5':>14s}")
    for label, r in results.items():
        m = r["metrics"]
        if len(label) > 11:
            print(label)
        for i, (var, mae, rmse) in enumerate(VARS):
            head = f"{label:11s}" if i == 0 and len(label) <= 11 else " " * 11
            cells = [cell(m[f"{key}_{k}step"]) for k in (1, 5) for key in (mae, rmse)]
            print(f"{head} {var:8s} " + " ".join(f"{c:>14s}" for c in cells))
    print(f"{'model':12s} {'train CPU s':>12s} {'wall s':>8s} {'epochs':>7s} {'best':>5s} {'eval CPU s':>11s}")
    for label, r in results.items():
        if len(label) > 12:
            print(label)
        short = label if len(label) <= 12 else ""
        print(f"{short:12s} {r['train_cpu_s']:12.1f} {r['train_wall_s']:8.1f} {r['epochs_run']:7d} "
              f"{r['best_epoch']:5d} {r['eval_cpu_s']:11.1f}")  # fmt: skip

    if "oracle*" in results:
        print("* oracle: knows the hidden state and the dynamics; no forecaster of the history can beat it")
    check = {}
    if "ewma" in results:
        from schedlab.runs.compare import mean_ci

        ewma = results["ewma"]["per_seed"]
        for label in [x for x in ("transformer", "lm", "oracle*") if x in results]:
            for k in (1, 5):
                key = f"delay_mae_ms_{k}step"
                t, e = results[label]["metrics"][key][0], results["ewma"]["metrics"][key][0]
                # paired over seeds: each seed's reduction relative to EWMA on the same log
                below, half = mean_ci([1 - a / b for a, b in zip(results[label]["per_seed"][key], ewma[key])])
                met = below >= TARGET
                check[f"{label}_{k}step"] = {label: t, "ewma": e, "below": below, "below_ci": half, "met": met}
                verdict = f"target {TARGET:.0%}: {'met' if met else 'NOT met'}"
                verdict = verdict if label == "transformer" else "for scale"
                print(f"delay MAE {k}-step: {label} {t:.3f} ms vs EWMA {e:.3f} ms, {below:+.1%}±{half:.1%} below "
                      f"({verdict})")  # fmt: skip
    line = json.dumps({
        "bench": "forecast",
        "quick": args.quick,
        "train_seed": args.train_seed,
        "test_seeds": test_seeds,
        "nodes": nodes,
        "steps": steps,
        "results": results,
        "delay_vs_ewma": check,
    })  # fmt: skip
    print(line)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
