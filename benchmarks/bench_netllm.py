"""NetLLM against decima and the spark heuristics, on the test seeds, as ``../shared/EVALUATION.md`` asks.

    python benchmarks/bench_netllm.py --model DIR --tpch-dir ../shared/datasets/tpch [--workers 2] [--seeds 20]
        [--measured-seeds 5] [--baselines decima,fair,...]

Runs ``schedlab.runs.evaluate.evaluate`` (every trace checked) on ``spark-tpch``, test seeds
1..N: the netllm policy in ``DIR`` (greedy), decima (shipped, greedy), rollout, fair, srwf,
srwf-tuned, srwf-capped and fifo (``--baselines`` runs a subset; decima and fair always run).
rollout is the slow one: about 4 minutes an episode. Prints the average JCT (mean and 95% CI),
the paired difference per seed against decima, against fair and against the policy the pool was
collected with (when it is one of those run; 95% CI), the decision latency of each scheduler in the
evaluation's processes and, for netllm, in this process on one thread (the first
``--latency-decisions`` decisions of test seed 1), the training cost and pool size from the
policy card, and last one JSON line.
With ``--measured-seeds N``, netllm and decima run again on test seeds 1..N with
``decision_time: measured`` (each decision's own wall time charged in simulated time,
docs/decision-time.md), next to their free-decision JCT on the same seeds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

BASELINES = ("decima", "rollout", "fair", "srwf", "srwf-tuned", "srwf-capped", "fifo")


def latency_in_process(scenario, model: str, decisions: int, seed: int = 1) -> dict:
    """decide() times of netllm (one thread) over the first ``decisions`` decision points of ``seed``."""
    import numpy as np

    from schedlab.learn.netllm.scheduler import NetLLMScheduler
    from schedlab.sim.simulation import Simulation

    sched = NetLLMScheduler(model=model)
    sim = Simulation(scenario, seed)
    sched.reset(sim.scheduler_rng)
    lat = []
    while not sim.done and len(lat) < decisions:
        view = sim.observe()
        t0 = time.perf_counter()
        acts = sched.decide(view)
        dt = time.perf_counter() - t0
        if view.schedulable and view.committable >= 1:
            lat.append(dt)
        sim.act(acts)
    d = np.array(lat) * 1e3
    return {
        "decisions": len(d),
        "median_ms": float(np.median(d)),
        "p99_ms": float(np.percentile(d, 99)),
        "re_encodes": sched._session.re_encodes,
    }


def training_cost(model: Path) -> dict:
    card = json.loads((model / "policy.json").read_text())
    tr = card.get("training", {})
    out = {
        "best_iteration": tr.get("best", {}).get("iteration"),
        "best_val_avg_jct_s": tr.get("best", {}).get("value"),
        "steps_at_best": tr.get("steps"),
        "cpu_s_at_best": tr.get("cpu_s"),
        "wall_s_at_best": tr.get("wall_s"),
        "command": tr.get("command"),
        "pool": card.get("pool", {}),
        "parameters": card["architecture"].get("parameters"),
    }
    hist = model / "history.csv"
    if hist.is_file():
        rows = list(csv.DictReader(hist.open()))
        if rows:
            out["cpu_s_total"] = float(rows[-1]["cpu_s"])
            out["wall_s_total"] = float(rows[-1]["wall_s"])
            out["iterations"] = int(rows[-1]["iteration"])
            out["validation"] = [
                {"iteration": int(r["iteration"]), "val": float(r["val_metric"]), "ci95": float(r["val_ci95"] or "nan")}
                for r in rows
                if r.get("val_metric")
            ]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a netllm policy directory (schedlab train spark netllm)")
    p.add_argument("--tpch-dir", default=os.environ.get("SCHEDLAB_TPCH_DIR"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seeds", type=int, default=20, help="test seeds 1..N of spark-tpch")
    p.add_argument("--latency-decisions", type=int, default=500)
    p.add_argument(
        "--measured-seeds", type=int, default=0, help="re-run netllm and decima with decision_time=measured on 1..N"
    )
    p.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated; decima and fair always run")
    args = p.parse_args(argv)
    baselines = [b for b in args.baselines.split(",") if b and b not in ("decima", "fair")]
    if not args.tpch_dir:
        p.error("give --tpch-dir or set SCHEDLAB_TPCH_DIR")
    if not 1 <= args.seeds <= 20:
        p.error("--seeds is 1..20 (the test seeds)")
    model = Path(args.model).resolve()
    os.environ["SCHEDLAB_TPCH_DIR"] = str(Path(args.tpch_dir).resolve())
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from schedlab.runs.evaluate import evaluate, paired_ci
    from schedlab.scenarios import load_scenario

    tpch = load_scenario("spark-tpch")
    report: dict = {"model": str(model), "training": training_cost(model)}
    lat = latency_in_process(tpch, str(model), args.latency_decisions)
    report["latency_one_thread"] = lat
    print(
        f"netllm decision latency, one thread, this process, spark-tpch seed 1 (first {lat['decisions']} decisions): "
        f"median {lat['median_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, {lat['re_encodes']} context re-encodes"
    )
    seeds = list(range(1, args.seeds + 1))
    # netllm is not a registered name: the policy folder is the scheduler (as `-s DIR`).
    label = {str(model): "netllm"}
    names = [str(model), "decima", "fair", *baselines]
    t0 = time.perf_counter()
    ev = evaluate(tpch, names, "decima", seeds=seeds, split="test", metrics=["avg_jct_s"], workers=args.workers)
    wall = time.perf_counter() - t0
    m = ev.metrics[0].per_scheduler
    fair = m["fair"].values
    # A driven episode (`labeller@driver`) carries its labeller's actions: the labeller taught it.
    teachers = sorted({n.split("@")[0] for n in report["training"].get("pool", {}).get("schedulers", [])})
    teacher = teachers[0] if len(teachers) == 1 and teachers[0] in m else None
    print(
        f"\n## spark-tpch: test seeds 1-{args.seeds}, {wall:.0f} s, traces checked {ev.traces_checked}, "
        f"violations {len(ev.violations)}"
    )
    print(
        f"{'scheduler':<12} {'avg JCT (s)':>18} {'vs decima (s)':>26} {'vs fair (s)':>26} "
        f"{'vs ' + (teacher or 'pool') + ' (s)':>26} {'latency med/p99 (ms)':>22}"
    )
    results = {}
    for s in names:
        r = m[s]
        d_f, h_f, _ = paired_ci(r.values, fair)
        lt = ev.latency.get(s)
        lat_txt = f"{lt.median_us / 1e3:.2f}/{lt.p99_us / 1e3:.2f}" if lt else "-"
        vs_d = "baseline" if s == "decima" else f"{r.diff_mean:+.2f} ± {r.diff_ci95:.2f} {r.verdict}"
        vs_f = "-" if s == "fair" else f"{d_f:+.2f} ± {h_f:.2f}"
        d_t, h_t = paired_ci(r.values, m[teacher].values)[:2] if teacher and s != teacher else (None, None)
        vs_t = "-" if d_t is None else f"{d_t:+.2f} ± {h_t:.2f}"
        print(f"{label.get(s, s):<12} {r.mean:>10.2f} ± {r.ci95:<6.2f} {vs_d:>26} {vs_f:>26} {vs_t:>26} {lat_txt:>22}")
        results[label.get(s, s)] = {
            "mean": r.mean,
            "ci95": r.ci95,
            "diff_vs_decima": r.diff_mean,
            "diff_vs_decima_ci95": r.diff_ci95,
            "verdict_vs_decima": r.verdict,
            "diff_vs_fair": d_f,
            "diff_vs_fair_ci95": h_f,
            "diff_vs_pool_policy": d_t,
            "diff_vs_pool_policy_ci95": h_t,
            "latency_median_us": lt.median_us if lt else None,
            "latency_p99_us": lt.p99_us if lt else None,
            "values": r.values,
        }
    tr = report["training"]
    pool = tr.get("pool", {})
    # A shipped policy folder has no history.csv: only the card's figures at the best iteration.
    total = (
        f"{tr['cpu_s_total']:.0f} CPU s / {tr['wall_s_total']:.0f} wall s in all ({tr['iterations']} iterations); "
        if "iterations" in tr
        else ""
    )
    print(
        f"\ntraining: {total}best at iteration {tr.get('best_iteration')} "
        f"({tr.get('cpu_s_at_best')} CPU s, {tr.get('steps_at_best')} decision targets); pool: "
        f"{pool.get('episodes')} episodes, {pool.get('decisions')} decisions of {', '.join(pool.get('schedulers', []))}"
    )
    violations = len(ev.violations)
    if args.measured_seeds:
        few = seeds[: args.measured_seeds]
        timed = load_scenario("spark-tpch", {"decision_time": "measured"})
        evm = evaluate(timed, [str(model), "decima"], "decima", seeds=few, split="test", metrics=["avg_jct_s"])
        violations += len(evm.violations)
        print(f"\n## decision_time=measured (one process, one thread), test seeds 1-{len(few)}")
        report["measured"] = {"seeds": few}
        for s in (str(model), "decima"):
            free = [m[s].values[i] for i in range(len(few))]
            timed_v = evm.metrics[0].per_scheduler[s].values
            d, h, _ = paired_ci(timed_v, free)
            print(
                f"{label.get(s, s):<12} free {sum(free) / len(free):.2f} s, "
                f"charged {sum(timed_v) / len(timed_v):.2f} s (paired {d:+.2f} ± {h:.2f})"
            )
            report["measured"][label.get(s, s)] = {"free": free, "charged": timed_v, "diff": d, "diff_ci95": h}
    report.update(seeds=seeds, wall_s=wall, violations=violations, results=results)
    print(json.dumps(report, allow_nan=True, default=float))
    return 0 if not violations else 1


if __name__ == "__main__":
    sys.exit(main())
