"""multiproc: the cost-regression GNN (``gnn-cost``) against the baselines and its own ablation.

    python benchmarks/bench_gnn_cost.py [--seeds 1-20 | --quick] [--workers 1] [--model DIR]
    python benchmarks/bench_gnn_cost.py --tune [--seeds 1000-1019]

On the multiproc preset (3,000 tasks) and each test seed (default 1-20; ``--quick``: 1-5) it
runs lwr, oracle, slack-fit-triage, edf-pull, ``gnn-cost`` (the shipped weights, or
``--model DIR``) and the ablation, the same rule with the formula the network corrects,
``(work_remaining + size) / speed``, as its predictor; and both again with the risk rule
(``rule="slack-fit"``, margin and triage as ``--tune`` picked them on validation seeds). With
:func:`schedlab.runs.evaluate.evaluate` it reports, as mean ± 95% CI over seeds (Student t):
mean completion time (arrival to completion, s), SLA violation rate, oracle agreement, the SLA
violation rate of each phase (stable, drifting, bursty), the paired difference of each against
``lwr`` and of gnn-cost against its ablation, and the decision latency (median and p99 per
decision, one thread, wall clock of this machine).

The prediction error is measured on the decisions of gnn-cost's own runs and of lwr's runs
on the same test seeds (none of them trained on): per seed, mean squared error of the log
completion time, mean absolute error (s), mean relative error, and the share of decisions whose
least prediction is the CPU that truly completes first, for the network and for the formula.
The training cost is read from the policy card. Every trace goes through the checker. Prints
tables and, last, one JSON line.

``--tune`` scores the rules on validation seeds (default 1000-1019, never a test seed): argmin
and the risk rule with each margin, with triage, for both predictors; by mean SLA violation
rate and oracle agreement. The risk rule's margin below is its pick for the learned predictor.
"""

from __future__ import annotations

import os

# One thread for every numerical library, set before NumPy loads: the latency is per decision
# on one core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from schedlab.learn.gnn_cost.scheduler import GnnCostScheduler  # noqa: E402

TEST_SEEDS = "1-20"
QUICK_SEEDS = "1-5"
TUNE_SEEDS = "1000-1019"
MARGINS_S = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
#: The risk rule's knobs: the ``--tune`` pick on validation seeds 1000-1019 for the learned
#: predictor (by mean SLA violation rate), used for both predictors so the ablation is the same rule.
RISK_MARGIN_S = 0.75
RISK_TRIAGE = True
METRICS = ("avg_completion_time_s", "sla_violation_rate", "oracle_agreement", "p95_completion_time_s")
PHASES = ("stable", "drifting", "bursty")
_HERE = str(Path(__file__).resolve())


class RiskLearned(GnnCostScheduler):
    """gnn-cost with the risk rule (the slowest CPU predicted to meet the deadline with the margin)."""

    def __init__(self, model: str | None = None, predictor: str = "learned", rule: str = "slack-fit",
                 margin_s: float = RISK_MARGIN_S, triage: bool = RISK_TRIAGE) -> None:  # fmt: skip
        super().__init__(model or os.environ.get("BENCH_GNN_COST_MODEL") or None, predictor, rule, margin_s, triage)


class RiskFormula(RiskLearned):
    """The risk rule with the formula as its predictor (the ablation)."""

    def __init__(self, model: str | None = None, predictor: str = "formula", rule: str = "slack-fit",
                 margin_s: float = RISK_MARGIN_S, triage: bool = RISK_TRIAGE) -> None:  # fmt: skip
        super().__init__(model, predictor, rule, margin_s, triage)


def schedulers(model: str | None) -> dict[str, str]:
    """Label -> the name evaluate() runs."""
    return {
        "lwr": "lwr",
        "oracle": "oracle",
        "slack-fit-triage": "slack-fit-triage",
        "edf-pull": "edf-pull",
        "gnn-cost": model or "gnn-cost",
        "ablation (formula)": "schedlab.learn.gnn_cost.scheduler:FormulaCostScheduler",
        "gnn-cost risk": f"{_HERE}:RiskLearned",
        "risk ablation (formula)": f"{_HERE}:RiskFormula",
    }


# -- the test seeds ------------------------------------------------------------------------------


def per_phase(trace_dir: Path, rows: list[dict], kinds: list[str]) -> dict[str, dict[str, list[float]]]:
    """Scheduler name -> phase kind -> SLA violation rate per seed (seed order), from the kept traces."""
    from schedlab.runs.compare import trace_file

    out: dict[str, dict[str, list[float]]] = {}
    for r in sorted(rows, key=lambda r: (r["scheduler"], r["seed"])):
        jobs = json.loads(trace_file(trace_dir, r["scenario"], r["scheduler"], r["seed"]).read_text())["jobs"]
        phase = np.asarray(jobs["phase"])
        late = np.asarray(jobs["completion"], dtype=np.float64) > np.asarray(jobs["deadline"], dtype=np.float64)
        per = out.setdefault(r["scheduler"], {})
        for i, kind in enumerate(kinds):
            per.setdefault(kind, []).append(float(late[phase == i].mean()))
    return out


def prediction_errors(seeds: list[int], model: str | None) -> dict[str, Any]:
    """Per policy whose states are scored (gnn-cost, lwr): network and formula errors, mean ± CI over seeds."""
    from schedlab.learn.gnn_cost.features import ESTIMATE, collect
    from schedlab.learn.gnn_cost.trainer import regression_errors
    from schedlab.runs.compare import mean_ci
    from schedlab.scenarios import load_scenario

    scenario = load_scenario("multiproc")
    net = GnnCostScheduler(model=model)._net
    out: dict[str, Any] = {}
    for label, policy in (("gnn-cost states", lambda: GnnCostScheduler(model=model)), ("lwr states", lambda: "lwr")):
        per: dict[str, dict[str, list[float]]] = {"network": {}, "formula": {}}
        for seed in seeds:
            data = collect(scenario, policy(), seed)
            for name, pred in (("network", net(data.x)), ("formula", data.x[..., ESTIMATE])):
                for k, v in regression_errors(pred, data.y).items():
                    per[name].setdefault(k, []).append(v)
        out[label] = {
            name: {k: list(mean_ci(v)) for k, v in errs.items()}
            | {f"{k}_diff": list(mean_ci(np.subtract(errs[k], per["formula"][k]))) for k in errs}
            for name, errs in per.items()
        }
    return out


def training_cost(model: str | None) -> dict[str, Any]:
    """The training section of the policy card, and the processor it ran on (this machine's, if the same)."""
    from schedlab.learn.gnn_cost.scheduler import shipped_gnn_cost
    from schedlab.learn.policy import read_card

    card = read_card(model or str(shipped_gnn_cost()), algorithm="gnn-cost", family="multiproc")
    t = card["training"]
    keys = ("iterations", "steps", "wall_s", "cpu_s", "command", "train_seeds", "val_seeds", "best")
    extra = {"data": card.get("data"), "parameters": card["architecture"].get("parameters")}
    return {k: t.get(k) for k in keys} | extra


def evaluate_test(seeds: list[int], workers: int, model: str | None) -> dict:
    from schedlab.runs.compare import mean_ci
    from schedlab.runs.evaluate import evaluate, paired_ci
    from schedlab.scenarios import load_scenario

    scenario = load_scenario("multiproc")
    kinds = [p.kind for p in scenario.workload.phases]
    names = schedulers(model)
    if model:
        os.environ["BENCH_GNN_COST_MODEL"] = model  # the risk variants read it, in worker processes too
    with tempfile.TemporaryDirectory(prefix="bench-gnn-cost-") as tmp:
        ev = evaluate(
            scenario, list(names.values()), "lwr", seeds=seeds, split="test", metrics=METRICS,
            workers=workers, trace_dir=Path(tmp),
        )  # fmt: skip
        phases = per_phase(Path(tmp), ev.rows, kinds)
    by_key = {m.key: m.per_scheduler for m in ev.metrics}
    out: dict[str, Any] = {"seeds": seeds, "schedulers": {}, "traces_checked": ev.traces_checked, "traces_ok": ev.ok}
    out["violations"] = ev.violations
    for label, name in names.items():
        lat = ev.latency[name]
        row: dict[str, Any] = {"name": name}
        for k in METRICS:
            m = by_key[k][name]
            row[k] = [m.mean, m.ci95]
            row[f"{k}_vs_lwr"] = [m.diff_mean, m.diff_ci95, m.verdict]
        for kind in PHASES:
            if kind in phases[name]:
                row[f"sla_{kind}"] = list(mean_ci(phases[name][kind]))
                d = paired_ci(phases[name][kind], phases["lwr"][kind])
                row[f"sla_{kind}_vs_lwr"] = [d[0], d[1]]
        row["latency_us"] = [lat.median_us, lat.p99_us]
        out["schedulers"][label] = row
    # The attribution: each learned variant minus its ablation, paired by seed.
    out["vs_ablation"] = {}
    for learned, ablation in (("gnn-cost", "ablation (formula)"), ("gnn-cost risk", "risk ablation (formula)")):
        a, b = names[learned], names[ablation]
        diffs = {k: list(paired_ci(by_key[k][a].values, by_key[k][b].values)[:2]) for k in METRICS}
        for kind in PHASES:
            diffs[f"sla_{kind}"] = list(paired_ci(phases[a][kind], phases[b][kind])[:2])
        out["vs_ablation"][learned] = diffs
    return out


def pm(v: list, scale: float, digits: int, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{v[0] * scale:{sign}.{digits}f}±{v[1] * scale:.{digits}f}"


def print_tables(res: dict, pred: dict, cost: dict) -> None:
    seeds = res["seeds"]
    print(f"multiproc preset, test seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}), mean ± 95% CI over seeds")
    head = (f"{'scheduler':24s} {'mean CT s':>12s} {'SLA viol %':>11s} {'oracle agr %':>12s} {'stable %':>10s} "
            f"{'drifting %':>10s} {'bursty %':>10s} {'us med':>7s} {'us p99':>7s}")  # fmt: skip
    print(head)
    for label, r in res["schedulers"].items():
        ph = " ".join(f"{pm(r[f'sla_{k}'], 100, 1):>10s}" for k in PHASES)
        print(
            f"{label:24s} {pm(r['avg_completion_time_s'], 1, 3):>12s} {pm(r['sla_violation_rate'], 100, 2):>11s} "
            f"{pm(r['oracle_agreement'], 100, 2):>12s} {ph} {r['latency_us'][0]:7.1f} {r['latency_us'][1]:7.1f}"
        )
    print("\npaired difference against lwr (scheduler - lwr, mean ± 95% CI; points for rates)")
    print(f"{'scheduler':24s} {'mean CT s':>14s} {'SLA viol':>13s} {'oracle agr':>13s} {'stable':>12s} "
          f"{'drifting':>12s} {'bursty':>12s}")  # fmt: skip
    for label, r in res["schedulers"].items():
        if label == "lwr":
            continue
        ph = " ".join(f"{pm(r[f'sla_{k}_vs_lwr'], 100, 2, True):>12s}" for k in PHASES)
        ct, sla, agr = (r[f"{k}_vs_lwr"] for k in ("avg_completion_time_s", "sla_violation_rate", "oracle_agreement"))
        print(f"{label:24s} {pm(ct, 1, 4, True):>14s} {pm(sla, 100, 2, True):>13s} {pm(agr, 100, 2, True):>13s} {ph}")
    print("\nlearned minus its ablation (same rule, formula predictor), paired by seed")
    for label, d in res["vs_ablation"].items():
        ct, sla, agr = d["avg_completion_time_s"], d["sla_violation_rate"], d["oracle_agreement"]
        phases = ", ".join(f"{k} {pm(d[f'sla_{k}'], 100, 2, True)}" for k in PHASES)
        print(
            f"{label:24s} mean CT {pm(ct, 1, 4, True)} s, SLA {pm(sla, 100, 2, True)} pts, "
            f"oracle agr {pm(agr, 100, 2, True)} pts; SLA by phase {phases}"
        )
    print("\nprediction error on test-seed decisions (mean ± 95% CI over seeds)")
    print(f"{'states':16s} {'predictor':9s} {'log MSE':>17s} {'MAE s':>15s} {'rel err %':>13s} {'first right %':>14s}")
    for states, per in pred.items():
        for name in ("network", "formula"):
            e = per[name]
            print(
                f"{states:16s} {name:9s} {pm(e['log_mse'], 1, 5):>17s} {pm(e['mae_s'], 1, 4):>15s} "
                f"{pm(e['rel_err'], 100, 2):>13s} {pm(e['rank_agree'], 100, 2):>14s}"
            )
        e = per["network"]
        print(
            f"{states:16s} {'diff':9s} {pm(e['log_mse_diff'], 1, 5, True):>17s} {pm(e['mae_s_diff'], 1, 4, True):>15s} "
            f"{pm(e['rel_err_diff'], 100, 2, True):>13s} {pm(e['rank_agree_diff'], 100, 2, True):>14s}"
        )
    print(
        f"\ntraining: {cost['cpu_s']} CPU s, {cost['wall_s']} wall s, {cost['iterations']} iterations, "
        f"{cost['steps']} decisions recorded, {cost['parameters']} parameters; command: {cost['command']}"
    )


# -- the rule search on validation seeds ---------------------------------------------------------


def tune_cell(predictor: str, rule: str, margin_s: float, seed: int) -> tuple[float, float]:
    """SLA violation rate and oracle agreement of one run of the preset."""
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    sched = GnnCostScheduler(predictor=predictor, rule=rule, margin_s=margin_s, triage=RISK_TRIAGE)
    m = simulate(load_scenario("multiproc"), sched, seed).metrics
    return float(m["sla_violation_rate"]), float(m["oracle_agreement"])


def tune(seeds: list[int], workers: int) -> dict:
    grid = [(p, "argmin", 0.0) for p in ("learned", "formula")]
    grid += [(p, "slack-fit", m) for p in ("learned", "formula") for m in MARGINS_S]
    cells = [(*g, seed) for g in grid for seed in seeds]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        values = list(pool.map(tune_cell, *zip(*cells), chunksize=4))
    n = len(seeds)
    scored = []
    for k, (p, rule, margin) in enumerate(grid):
        v = np.asarray(values[k * n : (k + 1) * n])
        scored.append({"predictor": p, "rule": rule, "margin_s": margin, "sla": float(v[:, 0].mean()),
                       "oracle_agreement": float(v[:, 1].mean())})  # fmt: skip
    picks = {}
    for p in ("learned", "formula"):
        risk = [r for r in scored if r["predictor"] == p and r["rule"] == "slack-fit"]
        picks[p] = min(risk, key=lambda r: r["sla"])["margin_s"]
    print(f"validation seeds {seeds[0]}..{seeds[-1]} ({n}): mean SLA violation rate and oracle agreement")
    for r in scored:
        print(f"  {r['predictor']:8s} {r['rule']:10s} margin {r['margin_s']:4.2f} s  SLA {100 * r['sla']:6.2f}%  "
              f"oracle agr {100 * r['oracle_agreement']:6.2f}%")  # fmt: skip
    print(f"risk rule margin picks (least SLA): {picks}")
    return {"scored": scored, "picks": picks}


def rounded(x: Any) -> Any:
    """``x`` with every float rounded to 6 significant digits, for a readable JSON line."""
    if isinstance(x, float):
        return float(f"{x:.6g}") if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [rounded(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    from schedlab.runs.compare import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default=None, help=f"default {TEST_SEEDS}; with --tune {TUNE_SEEDS}")
    ap.add_argument("--quick", action="store_true", help=f"seeds {QUICK_SEEDS} only")
    ap.add_argument("--workers", type=int, default=1, help="processes (more than 1 disturbs the latency)")
    ap.add_argument("--model", default=None, help="a gnn-cost policy directory (default: the shipped one)")
    ap.add_argument("--tune", action="store_true", help="score the rules on validation seeds instead")
    args = ap.parse_args(argv)
    if args.tune:
        seeds = list(parse_seeds(args.seeds or TUNE_SEEDS))
        if any(s < 1000 for s in seeds):
            ap.error("tune on validation seeds (1000-1099), never on test seeds")
        result = tune(seeds, args.workers)
        print(json.dumps({"bench": "gnn-cost-tune", "seeds": seeds, **rounded(result)}))
        return 0
    seeds = list(parse_seeds(args.seeds or (QUICK_SEEDS if args.quick else TEST_SEEDS)))
    model = str(Path(args.model).resolve()) if args.model else None
    res = evaluate_test(seeds, args.workers, model)
    pred = prediction_errors(seeds, model)
    cost = training_cost(model)
    print_tables(res, pred, cost)
    if not res["traces_ok"]:
        print(f"traces failing the checker: {res['violations'][:5]}", file=sys.stderr)
    machine = {"processor": platform.processor() or platform.machine(), "python": platform.python_version()}
    print(json.dumps({"bench": "gnn-cost", **rounded(res), "prediction": rounded(pred), "training": rounded(cost),
                      "machine": machine}))  # fmt: skip
    return 0 if res["traces_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
