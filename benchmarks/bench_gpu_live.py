"""Sim-to-real error of the gpu family: a small workload live on the built-in server, and simulated.

    python benchmarks/bench_gpu_live.py [--limit 6] [--gpus 4] [--scheduler ray-like] [--seed 0]
        [--repeats 3] [--concurrency 1] [--json FILE]

1. Starts the built-in model server (docs/gpu-live.md) and *calibrates* it: per model,
   ``--repeats`` real loads into fresh slots, one at a time, and calls of 1 and of the largest
   size the workload asks for, ``--concurrency`` at once, fitted as ``seconds = a + b x size``.
2. Runs the first ``--limit`` requests of the ``gpu`` preset live on that server, the scheduler
   seeing the calibrated estimates (execution: the fit at the node's size; switch: the new
   model's calibrated load).
3. Simulates the same requests with the same scheduler, every node taking exactly its
   calibrated estimate and every switch exactly the calibrated load.

Prints, per model and overall, the mean absolute % error of the estimated execution and load
times against the measured ones, and the makespan and mean request response time simulated
against live; then one JSON line. In the live run gangs run side by side on the machine's
cores; a calibration one call at a time misses that contention, which is most of the error on
a small machine, and ``--concurrency`` puts it into the estimates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def calibrate(
    server,
    kinds: dict[str, str],
    sizes_by_model: dict[str, list[int]],
    repeats: int,
    concurrency: dict[str, int] | None = None,
) -> dict:
    """Per model: mean load seconds, and (a, b) of seconds = a + b x size.

    Loads are timed one at a time; a model's calls ``concurrency[model]`` at once (the same
    call on as many slots; default 1), so that the fit sees the contention of that many of its
    gangs running side by side.
    """
    out = {}
    slot = 1000  # slots no live run uses, so every load here is a real one
    for key, kind in kinds.items():
        at_once = (concurrency or {}).get(key, 1)
        slots = list(range(slot, slot + max(repeats, at_once)))
        slot += len(slots)
        loads = [server.load(key, kind, (s,)) for s in slots]
        lo, hi = 1, max(max(sizes_by_model[key]), 2)
        t_lo = statistics.median(_side_by_side(server, key, kind, lo, slots[:at_once]) for _ in range(repeats))
        t_hi = statistics.median(_side_by_side(server, key, kind, hi, slots[:at_once]) for _ in range(repeats))
        b = max(0.0, (t_hi - t_lo) / (hi - lo))
        out[key] = {"load_s": statistics.mean(loads), "a": max(0.0, t_lo - b * lo), "b": b, "sizes": [lo, hi]}
    return out


def _side_by_side(server, key: str, kind: str, size: int, slots: list[int]) -> float:
    """Median seconds of one call per slot, all sent at once."""
    from concurrent.futures import ThreadPoolExecutor

    if len(slots) == 1:
        return server.call(key, kind, size, (slots[0],))
    with ThreadPoolExecutor(len(slots)) as pool:
        return statistics.median(pool.map(lambda s: server.call(key, kind, size, (s,)), slots))


def simulate_calibrated(scenario, scheduler_name: str, seed: int, table, switch: dict[str, float]):
    """The gpu model with the calibrated estimates as times and the calibrated loads as switches."""
    from schedlab.families.gpu.live.run import _with_times
    from schedlab.families.gpu.model import EstimatedTimes, GpuCluster
    from schedlab.metrics.summary import summarize
    from schedlab.runs import resolve_scheduler
    from schedlab.sim.engine import Engine
    from schedlab.sim.trace import Trace

    class Calibrated(GpuCluster):
        def _cost(self, loaded: int, model: int) -> float:
            t = switch.get(self._model_keys[model])  # only the models the requests use are calibrated
            if t is None:
                return super()._cost(loaded, model)
            return 0.0 if loaded == model else t

    base = scenario.build(Engine(), np.random.default_rng(seed))
    model = _with_times(base, scenario, EstimatedTimes(table), Calibrated)
    engine = model.engine
    name, scheduler = resolve_scheduler(scheduler_name, "gpu")
    scheduler.reset(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
    is_open = model.start()
    while True:
        if is_open:
            is_open = model.apply(scheduler.decide(model.view()))
            continue
        if not engine.heap:
            break
        is_open = bool(engine.step())
    trace = Trace(family="gpu", time_unit="s", meta={"seed": seed, "scheduler": name})
    model.finish(trace)
    return trace, summarize(trace)


def mape(pairs: list[tuple[float, float]]) -> float | None:
    """Mean absolute % error of estimates against measurements."""
    pairs = [(e, m) for e, m in pairs if m > 0]
    return 100.0 * statistics.mean(abs(e - m) / m for e, m in pairs) if pairs else None


def main(argv: list[str] | None = None) -> dict:
    from schedlab.families.gpu.live.client import ModelServer
    from schedlab.families.gpu.live.run import _system_config, builtin_server, model_kinds, node_sizes, run_live
    from schedlab.metrics.checker import check_trace
    from schedlab.scenarios import load_scenario
    from schedlab.sim.engine import Engine

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=6, help="requests (the first N)")
    p.add_argument("--gpus", type=int, default=4)
    p.add_argument("--scheduler", default="ray-like")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3, help="calibration repeats per measurement")
    p.add_argument("--concurrency", type=int, default=1, help="calls timed at once in the calibration (e.g. the GPUs)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    sc = load_scenario("gpu")
    sc = sc.model_copy(
        update={
            "workload": sc.workload.model_copy(update={"jobs": args.limit}),
            "cluster": sc.cluster.model_copy(update={"gpus": args.gpus}),
        }
    )
    base = sc.build(Engine(), np.random.default_rng(args.seed))

    config = _system_config(sc)
    sizes = node_sizes(config, base)
    used = [k for k in config.models if any(base._model_keys[nd.model] == k for nd in base._nodes)]
    kinds = {k: v for k, v in model_kinds(config).items() if k in used}
    by_model: dict[str, list[int]] = {k: [] for k in kinds}
    for nd, size in zip(base._nodes, sizes):
        by_model[base._model_keys[nd.model]].append(size)

    specs = {k: {"kind": kinds[k], "memory_gb": config.models[k].memory_gb} for k in kinds}
    t0 = time.perf_counter()
    with builtin_server(specs) as srv:
        server = ModelServer(srv.url).connect(kinds)
        # A model's gangs can run side by side at most GPUs // gang size at a time.
        at_once = {k: max(1, min(args.concurrency, args.gpus // config.models[k].gpus_required)) for k in kinds}
        cal = calibrate(server, kinds, by_model, args.repeats, at_once)
        est = {}
        table: list[list[float]] = []
        for r in base._requests:
            row = []
            for nd in r.nodes:
                c = cal[base._model_keys[nd.model]]
                row.append(c["a"] + c["b"] * sizes[nd.gid])
                est[(r.id, nd.index)] = row[-1]
            table.append(row)
        switch = {k: c["load_s"] for k, c in cal.items()}
        from schedlab.families.gpu.model import EstimatedTimes

        live = run_live(
            sc, args.scheduler, args.seed, server_url=srv.url, times=EstimatedTimes(table), switch_times=switch
        )
    setup_s = time.perf_counter() - t0
    sim_trace, sim_metrics = simulate_calibrated(sc, args.scheduler, args.seed, table, switch)
    assert_ok = check_trace(live.trace).ok and check_trace(sim_trace).ok
    if not assert_ok:
        raise SystemExit("a trace failed the checker")

    t = live.trace.tasks
    rows = []
    for k in kinds:
        idx = [i for i, m in enumerate(t["model"]) if m == k]
        ex = [(est[(t["job"][i], t["stage"][i])], t["measured_time"][i]) for i in idx]
        ld = [(switch[k], t["measured_load"][i]) for i in idx if t["measured_load"][i] > 0]
        rows.append(
            {
                "model": k,
                "kind": kinds[k],
                "nodes": len(idx),
                "exec_est_s": statistics.mean(e for e, _ in ex),
                "exec_meas_s": statistics.mean(m for _, m in ex),
                "exec_mape_pct": mape(ex),
                "loads": len(ld),
                "load_est_s": switch[k],
                "load_meas_s": statistics.mean(m for _, m in ld) if ld else None,
                "load_mape_pct": mape(ld),
            }
        )
    all_ex = [(est[(j, s)], m) for j, s, m in zip(t["job"], t["stage"], t["measured_time"])]
    all_ld = [(switch[mo], m) for mo, m in zip(t["model"], t["measured_load"]) if m > 0]
    mk_sim, mk_live = sim_metrics["makespan_s"], live.metrics["makespan_s"]
    jct_sim, jct_live = sim_metrics["avg_jct_s"], live.metrics["avg_jct_s"]
    result = {
        "limit": args.limit,
        "gpus": args.gpus,
        "scheduler": args.scheduler,
        "seed": args.seed,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "load_avg": list(os.getloadavg()),
        "calibration": cal,
        "per_model": rows,
        "exec_mape_pct": mape(all_ex),
        "load_mape_pct": mape(all_ld),
        "switches_sim": sim_metrics.get("model_switches", 0) + sim_metrics.get("model_loads", 0),
        "switches_live": live.metrics.get("model_switches", 0) + live.metrics.get("model_loads", 0),
        "makespan_sim_s": mk_sim,
        "makespan_live_s": mk_live,
        "makespan_err_pct": 100.0 * (mk_sim - mk_live) / mk_live,
        "avg_jct_sim_s": jct_sim,
        "avg_jct_live_s": jct_live,
        "avg_jct_err_pct": 100.0 * (jct_sim - jct_live) / jct_live,
        "server_and_run_s": setup_s,
    }
    _print(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("calibration", "per_model")}))
    return result


def _print(r: dict) -> None:
    def f(x, d=3):
        return "-" if x is None else f"{x:.{d}f}"

    print(f"gpu preset, first {r['limit']} requests, {r['gpus']} GPUs, {r['scheduler']}, seed {r['seed']}, "
          f"calibrated {r['concurrency']} call(s) at once, {r['cpus']} CPUs (load {r['load_avg'][0]:.2f})")  # fmt: skip
    print()
    print("| model | kind | nodes | exec est (s) | exec measured (s) | exec MAPE | loads | load est (s) "
          "| load measured (s) | load MAPE |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in r["per_model"]:
        print(
            f"| {m['model']} | {m['kind']} | {m['nodes']} | {f(m['exec_est_s'])} | {f(m['exec_meas_s'])} "
            f"| {f(m['exec_mape_pct'], 1)} % | {m['loads']} | {f(m['load_est_s'])} | {f(m['load_meas_s'])} "
            f"| {f(m['load_mape_pct'], 1)} % |"
        )
    print()
    print("| | simulated | live | error |")
    print("|---|---:|---:|---:|")
    print(f"| makespan (s) | {f(r['makespan_sim_s'])} | {f(r['makespan_live_s'])} | {f(r['makespan_err_pct'], 1)} % |")
    print(f"| mean request response (s) | {f(r['avg_jct_sim_s'])} | {f(r['avg_jct_live_s'])} "
          f"| {f(r['avg_jct_err_pct'], 1)} % |")  # fmt: skip
    print(f"| switches + first loads | {r['switches_sim']} | {r['switches_live']} | |")
    print(f"| per node execution, MAPE | | | {f(r['exec_mape_pct'], 1)} % |")
    print(f"| per load, MAPE | | | {f(r['load_mape_pct'], 1)} % |")
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
