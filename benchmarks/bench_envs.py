"""Cost of schedlab's Gymnasium environments: the spark env's overhead, and steps per second of every env.

    python benchmarks/bench_envs.py [--tpch-dir ../shared/datasets/tpch] [--seeds 1,2] [--quick]

(a) Overhead. The standard TPC-H episode (preset ``spark-tpch``: 200 jobs, 50 executors) under
the ``fair`` scheduler, run twice: by :func:`schedlab.simulate`, and through ``SparkEnv`` with
one step per ``fair`` decision (its ``Assign`` mapped to a stage slot and a limit; the pass slot
when it assigns nothing), in the flat and the graph observation mode. Both runs give the same
trace (checked: same average JCT), so the ratio of their times is what the environment adds:
observations, the reward, action decoding and the mapping of ``fair``'s decision. Times are
CPU seconds (process time, steadier than wall-clock time on a shared machine) of the whole
episode, trace and metrics included, the minimum of ``--repeat`` interleaved runs, with the
profiles already loaded.

(b) Steps per second of every registered environment (``schedlab.envs.env_ids()``) on its
default preset, with random valid actions (drawn with the action masks), in one process and in
a ``gymnasium.vector.AsyncVectorEnv`` of two worker processes (steps summed over both, the
steps that reset a finished episode included). The spark environment runs in both observation
modes. An environment that cannot be built (say, its data is missing) is reported with the
reason.

Prints tables and, last, one JSON line. ``--quick`` shrinks (b) to small scenarios and few
steps, and (a) to one repeat of one seed.

Times on a busy machine vary from run to run; instruction counts do not. ``--one MODE`` runs a
single episode of (a) (``setup`` stops before it, ``simulate``, ``flat`` or ``graph``) and
nothing else, for an instruction counter, e.g. ``valgrind --tool=cachegrind --cache-sim=no``:
the ratio of (mode - setup) to (simulate - setup) is the overhead in instructions.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TPCH = ROOT.parent / "shared" / "datasets" / "tpch"


# -- (a) the spark env's overhead ---------------------------------------------------------


def fair_slot(view, scheduler, pass_slot: int) -> np.ndarray:
    """``fair``'s decision at ``view`` as a SparkEnv action (one Assign per call)."""
    actions = scheduler.decide(view)
    if not actions:
        return np.array([pass_slot, 0])
    (a,) = actions
    for i, st in enumerate(view.schedulable):
        if st.job_id == a.job and st.index == a.stage:
            return np.array([i, a.limit - 1])
    raise RuntimeError(f"fair chose {a}, which the view does not list as schedulable")


def env_episode(env, seed: int) -> tuple[float, float, int]:
    from schedlab.schedulers import make

    scheduler = make("fair", "spark")
    t0 = time.process_time()
    env.reset(options={"episode_seed": seed})
    steps = 0
    while True:
        steps += 1
        _, _, terminated, _, info = env.step(fair_slot(env.view, scheduler, env.max_stages))
        if terminated:
            break
    return time.process_time() - t0, info["metrics"]["avg_jct_s"], steps


def sim_episode(scenario, seed: int) -> tuple[float, float]:
    from schedlab.runs import simulate

    t0 = time.process_time()
    result = simulate(scenario, "fair", seed)
    return time.process_time() - t0, result.metrics["avg_jct_s"]


def overhead(tpch_dir: str, seeds: list[int], repeat: int) -> list[dict]:
    from schedlab.families.spark.env import SparkEnv
    from schedlab.scenarios import load_scenario

    scenario = load_scenario("spark-tpch", {"workload.tpch_dir": tpch_dir})
    envs = {mode: SparkEnv(scenario, observation=mode, pass_action=True) for mode in ("flat", "graph")}
    # Warm-up: imports and caches.
    sim_episode(scenario, seeds[0])
    for env in envs.values():
        env_episode(env, seeds[0])
    rows = []
    for seed in seeds:
        # Interleaved, so that a load change on the machine hits all three alike; the minimum
        # of each is kept.
        times: dict[str, list[float]] = {"simulate": [], "flat": [], "graph": []}
        steps = 0
        for _ in range(repeat):
            t, jct = sim_episode(scenario, seed)
            times["simulate"].append(t)
            for mode, env in envs.items():
                t, env_jct, steps = env_episode(env, seed)
                if env_jct != jct:
                    raise RuntimeError(f"the {mode} env's fair episode differs from simulate()'s (seed {seed})")
                times[mode].append(t)
        sim_s = min(times["simulate"])
        row = {"seed": seed, "steps": steps, "avg_jct_s": round(jct, 3), "simulate_s": round(sim_s, 4)}
        for mode in envs:
            env_s = min(times[mode])
            row[f"{mode}_s"] = round(env_s, 4)
            row[f"{mode}_ratio"] = round(env_s / sim_s, 3)
        rows.append(row)
    return rows


ONE_MODES = ("setup", "simulate", "flat", "graph")


def one_episode(tpch_dir: str, seed: int, mode: str) -> None:
    """Set (a) up and run one episode in ``mode`` (``setup``: none), untimed."""
    from schedlab.families.spark.env import SparkEnv
    from schedlab.scenarios import load_scenario

    scenario = load_scenario("spark-tpch", {"workload.tpch_dir": tpch_dir})
    # The env is built in every mode, so that setup's count holds what each run shares.
    env = SparkEnv(scenario, observation="graph" if mode == "graph" else "flat", pass_action=True)
    if mode == "simulate":
        sim_episode(scenario, seed)
    elif mode != "setup":
        env_episode(env, seed)


# -- (b) steps per second -----------------------------------------------------------------


def random_valid(space, mask: np.ndarray):
    """A random action of ``space`` allowed by a MaskablePPO-style mask (concatenated for MultiDiscrete)."""
    from gymnasium import spaces

    if isinstance(space, spaces.MultiDiscrete):
        cuts = np.cumsum(space.nvec)[:-1]
        return space.sample(mask=tuple(m.astype(np.int8) for m in np.split(mask, cuts)))
    return space.sample(mask=mask.astype(np.int8))


def make_env(env_id: str, kwargs: dict, quick: bool):
    import gymnasium

    if quick:
        from schedlab.testing import small_scenario

        spec = gymnasium.spec(env_id)
        cls = _entry_point(spec.entry_point)
        kwargs = {**kwargs, "scenario": small_scenario(cls.default_scenario)}
    return gymnasium.make(env_id, **kwargs)


def _entry_point(entry: str):
    from importlib import import_module

    module, _, name = entry.partition(":")
    return getattr(import_module(module), name)


def steps_single(env_id: str, kwargs: dict, steps: int, quick: bool) -> tuple[float, int]:
    env = make_env(env_id, kwargs, quick)
    try:
        env.action_space.seed(0)
        env.reset(seed=0)
        episodes = 0
        t0 = time.perf_counter()
        for _ in range(steps):
            action = random_valid(env.action_space, env.unwrapped.action_masks())
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                episodes += 1
                env.reset()
        return steps / (time.perf_counter() - t0), episodes
    finally:
        env.close()


def steps_async(env_id: str, kwargs: dict, steps: int, quick: bool) -> float:
    import gymnasium

    make = functools.partial(make_env, env_id, kwargs, quick)
    envs = gymnasium.vector.AsyncVectorEnv([make, make])
    try:
        space = envs.single_action_space
        space.seed(0)
        envs.reset(seed=[0, 1])
        rounds = max(1, steps // 2)
        t0 = time.perf_counter()
        for _ in range(rounds):
            masks = envs.call("action_masks")
            envs.step(np.stack([random_valid(space, m) for m in masks]))
        return 2 * rounds / (time.perf_counter() - t0)
    finally:
        envs.close()


def throughput(steps: int, quick: bool) -> list[dict]:
    import schedlab.envs

    cases = []
    for env_id in schedlab.envs.env_ids():
        cases.append((env_id, {}))
        if env_id == "schedlab/Spark-v0":
            cases.append((env_id, {"observation": "graph"}))
    rows = []
    for env_id, kwargs in cases:
        label = env_id + "".join(f" {k}={v}" for k, v in kwargs.items())
        try:
            single, episodes = steps_single(env_id, kwargs, steps, quick)
            multi = steps_async(env_id, kwargs, steps, quick)
        except Exception as e:  # report and go on: one family's data may be missing
            rows.append({"env": label, "error": f"{type(e).__name__}: {e}"})
            continue
        rows.append(
            {
                "env": label,
                "steps_per_s": round(single),
                "async2_steps_per_s": round(multi),
                "episodes_finished": episodes,
            }
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = os.environ.get("SCHEDLAB_TPCH_DIR") or str(DEFAULT_TPCH)
    p.add_argument("--tpch-dir", default=default_dir, help="TPC-H profile directory (default: %(default)s)")
    p.add_argument("--seeds", default="1", help="comma-separated episode seeds for (a) (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=5, help="runs per seed in (a), minimum kept (default: %(default)s)")
    p.add_argument("--steps", type=int, default=5000, help="steps timed per env in (b) (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="small scenarios and few steps, one repeat of one seed")
    p.add_argument(
        "--one", choices=ONE_MODES, help="run one episode of (a) in this mode (for an instruction counter) and exit"
    )
    args = p.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    if not seeds or args.repeat < 1 or args.steps < 2:
        p.error("need at least one seed, --repeat >= 1 and --steps >= 2")
    repeat, steps = args.repeat, args.steps
    if args.quick:
        seeds, repeat, steps = seeds[:1], 1, min(steps, 500)

    from schedlab.errors import SchedlabError

    if args.one:
        try:
            one_episode(args.tpch_dir, seeds[0], args.one)
        except SchedlabError as e:
            print(f"bench_envs: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        over = overhead(args.tpch_dir, seeds, repeat)
    except SchedlabError as e:
        print(f"bench_envs: (a) skipped: {e}", file=sys.stderr)
        over = []
    rates = throughput(steps, args.quick)

    if over:
        print("(a) spark-tpch, fair: simulate() against SparkEnv (CPU s, min of", repeat, "runs)")
        cols = ("seed", "steps", "avg_jct_s", "simulate_s", "flat_s", "flat_ratio", "graph_s", "graph_ratio")
        print("".join(f"{c:>13}" for c in cols))
        for r in over:
            print("".join(f"{r[c]!s:>13}" for c in cols))
    print(f"(b) steps per second, random valid actions, {steps} steps{' (small scenarios)' if args.quick else ''}")
    print(f"{'env':<40}{'1 process':>12}{'async x2':>12}{'episodes':>10}")
    for r in rates:
        if "error" in r:
            print(f"{r['env']:<40}  skipped: {r['error']}")
        else:
            print(f"{r['env']:<40}{r['steps_per_s']:>12}{r['async2_steps_per_s']:>12}{r['episodes_finished']:>10}")
    print(
        json.dumps(
            {
                "benchmark": "envs",
                "quick": args.quick,
                "overhead": over,
                "throughput": rates,
                "python": sys.version.split()[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
