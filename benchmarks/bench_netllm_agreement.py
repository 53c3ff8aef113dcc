"""Where netllm policies part from their teacher: agreement with a ``rollout`` pool, by kind of decision.

    python benchmarks/bench_netllm_agreement.py --pool POOL [--model DIR ...]

``POOL``: ``rollout`` episodes with the options it weighed, on seeds the policies were not
trained on, e.g. ``schedlab pool collect --out pools/rollout-held -s rollout --seeds
10020-10021 --workers 2`` (about 4 minutes). ``--model`` names one or more netllm policy
folders (default: the shipped one). For each: the share of decisions whose stage (and, given
the teacher's stage, limit) it picks as the teacher did, teacher-forced
(``schedlab.learn.netllm.agreement``), where the teacher overrode its base, kept its base's
action over alternatives, or had a single option. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", required=True, help="a rollout pool with options, on held-out seeds")
    ap.add_argument("--model", nargs="*", default=[None], help="netllm policy folders (default: the shipped one)")
    args = ap.parse_args(argv)

    from schedlab.learn.netllm.agreement import KINDS, teacher_agreement
    from schedlab.learn.netllm.scheduler import NetLLMScheduler
    from schedlab.learn.pool import read_pool

    pool = read_pool(args.pool)
    rows = []
    print(f"{'policy':32s} {'kind':9s} {'decisions':>9s} {'stage':>7s} {'limit':>7s}")
    for model in args.model:
        out = teacher_agreement(NetLLMScheduler(model=model), pool.episodes())
        for kind in (*KINDS, "all"):
            r = out[kind]
            name = (model or "shipped")[-32:] if kind == KINDS[0] else ""
            print(f"{name:32s} {kind:9s} {r['decisions']:9d} {100 * r['stage']:6.1f}% {100 * r['limit']:6.1f}%")
        rows.append({"model": model or "shipped", **out})
    print(json.dumps({"bench": "netllm-agreement", "pool": str(args.pool), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
