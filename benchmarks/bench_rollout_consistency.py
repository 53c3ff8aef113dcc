"""How consistent is ``rollout`` as a teacher: does another draw of it make the same overrides?

    python benchmarks/bench_rollout_consistency.py --tpch-dir ../shared/datasets/tpch
        [--seeds 10020,10021] [--decisions 1200] [--rollouts 8]

On ``spark-tpch``, one ``rollout`` (the default, 2 rollouts an option) drives each episode;
at each of its first ``--decisions`` decision points two more decide on the same state without
acting: ``rollout`` again with another random stream, and ``rollout`` with ``--rollouts``
rollouts an option (a less noisy teacher). Where the driver weighed more than one option, it
either overrode its base's action or kept it; for each kind, the share of those decisions where
each of the two others chose the same action as the driver. The share on overrides is the most
a student of the driver's labels could agree with them by learning the teacher rather than its
noise. Training seeds by default (10020-10021 are in no shipped pool). Prints a table, then one
JSON line. About 4 minutes an episode for 1,200 decisions at ``--rollouts 8``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def consistency(seed: int, decisions: int, rollouts: int) -> dict:
    import numpy as np

    from schedlab.families.spark.rollout import Rollout
    from schedlab.scenarios import load_scenario
    from schedlab.sim.simulation import Simulation

    sim = Simulation(load_scenario("spark-tpch"), seed)
    driver, again, finer = Rollout(), Rollout(), Rollout(rollouts=rollouts)
    driver.reset(sim.scheduler_rng)
    again.reset(np.random.default_rng([seed, 1]))
    finer.reset(np.random.default_rng([seed, 2]))
    rows = []  # (driver overrode, again agrees, finer agrees)
    n = 0
    while not sim.done and n < decisions:
        view = sim.observe()
        acts = driver.decide(view)
        options = driver.last_options
        # Both others see every state, so their bases keep the driver's history.
        same = [other.decide(view) == acts for other in (again, finer)]
        if len(options) > 1:
            rows.append((acts != list(options[0][0]), *same))
        sim.act(acts)
        n += 1
    r = np.array(rows, dtype=bool).reshape(-1, 3)
    over = r[:, 0]
    return {
        "seed": seed,
        "decisions": n,
        "with_options": int(len(r)),
        "overrides": int(over.sum()),
        "again_on_overrides": float(r[over, 1].mean()),
        "finer_on_overrides": float(r[over, 2].mean()),
        "again_on_kept": float(r[~over, 1].mean()),
        "finer_on_kept": float(r[~over, 2].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tpch-dir", default=os.environ.get("SCHEDLAB_TPCH_DIR"))
    ap.add_argument("--seeds", default="10020,10021")
    ap.add_argument("--decisions", type=int, default=1200)
    ap.add_argument("--rollouts", type=int, default=8, help="rollouts an option of the less noisy teacher")
    args = ap.parse_args(argv)
    if not args.tpch_dir:
        print("TPC-H profiles not found (use --tpch-dir or SCHEDLAB_TPCH_DIR)", file=sys.stderr)
        return 2
    os.environ["SCHEDLAB_TPCH_DIR"] = args.tpch_dir
    out = [consistency(int(s), args.decisions, args.rollouts) for s in args.seeds.split(",")]
    print(f"{'seed':>6s} {'overrides':>9s} {'kept':>5s}   same as the driver: on overrides (again, finer), on kept")
    for r in out:
        print(
            f"{r['seed']:6d} {r['overrides']:9d} {r['with_options'] - r['overrides']:5d}"
            f"   {100 * r['again_on_overrides']:5.1f}% {100 * r['finer_on_overrides']:5.1f}%"
            f"   {100 * r['again_on_kept']:5.1f}% {100 * r['finer_on_kept']:5.1f}%"
        )
    print(json.dumps({"bench": "rollout-consistency", "rollouts": args.rollouts, "results": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
