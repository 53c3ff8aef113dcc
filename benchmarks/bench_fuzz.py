"""Every reader and command against bad input: tracebacks, hangs and half-written files, per target.

    python benchmarks/bench_fuzz.py [--drawn 200] [--seed 0] [--timeout 60] [--only scenario,traces]
    python benchmarks/bench_fuzz.py --quick

Runs every hand-made case of ``tests/fuzz/cases.py`` (scenario files of every family, traces for
check and plot, results folders for report, sweep suites, TPC-H profile folders, GSwarm configs
and request files, node logs, forecaster and policy folders, outputs that cannot be written,
hostile names) and ``--drawn`` hypothesis-drawn cases for each drawn target (scenario fields,
scenario bytes, trace columns, suites, command-line flags), each as the real command line in a
forked child with a time limit. Per target it counts the cases and how they ended: exit 0
(accepted), 1 (a trace the checker rejects: check only), 2 (refused in one line), and the
failures, which must all be 0: tracebacks, hangs (no exit within ``--timeout``), half-written
files (a temporary file left, or any file left by a command that failed) and other wrong
endings (a multi-line error, an unexpected exit code).

Prints a table, the first failures in full, and, last, one JSON line. Exit 1 if any failure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import schedlab.cli  # noqa: E402, F401  (imported once, before the forks)
from fuzz import cases as C  # noqa: E402
from fuzz.harness import run_cli  # noqa: E402

COLUMNS = ("cases", "exit 0", "exit 1", "exit 2", "tracebacks", "hangs", "half-written", "other")


def targets(drawn: int, seed: int) -> dict[str, Callable[[], list[C.Case]]]:
    """Target name -> a function building its cases (built when the target runs)."""
    try:
        has_torch = all(importlib.util.find_spec(m) is not None for m in ("torch", "safetensors"))
    except ImportError:  # tests/without_torch blocks the search itself
        has_torch = False

    def neural() -> list[C.Case]:
        folder = Path(tempfile.mkdtemp(prefix="schedlab-bench-fuzz-model-"))
        log = C.write(folder, "log.csv", C.GOOD_LOG)
        argv = ["edge", "train", "--input", str(log), "--model", "transformer", "--epochs", "1", "--d-model", "8",
                "--nhead", "2", "--layers", "1", "--ffn", "16", "--window", "5", "--horizon", "2", "--out", "model",
                "-q"]  # fmt: skip
        if run_cli(argv, folder, timeout_s=600).code != 0:
            raise SystemExit("could not train the small transformer the neural cases tamper with")
        return list(C.neural_forecaster_cases(folder / "model").values())

    docs = C.trace_docs()
    doc = docs["multiproc"]
    found: dict[str, Callable[[], list[C.Case]]] = {
        "scenario files": lambda: list(C.scenario_file_cases().values()),
        "scenario fields (drawn)": lambda: C.draw_cases(C.drawn_scenario_case, drawn, seed=seed),
        "scenario bytes (drawn)": lambda: C.draw_cases(C.drawn_bytes_case, drawn, seed=seed),
        "traces: check, plot": lambda: _trace_cases(doc),
        "trace columns (drawn)": lambda: C.draw_cases(lambda d: C.drawn_trace_case(d, docs), drawn, seed=seed),
        "results folders: report": lambda: list(C.results_cases().values()),
        "sweep suites": lambda: list(C.suite_cases().values()),
        "sweep suites (drawn)": lambda: C.draw_cases(C.drawn_suite_case, max(1, drawn // 4), seed=seed),
        "TPC-H profile folders": lambda: list(C.tpch_cases().values()),
        "GSwarm configs, requests": lambda: list(C.gswarm_cases().values()),
        "node logs": lambda: list(C.node_log_cases().values()),
        "forecaster folders": lambda: list(C.forecaster_cases().values()),
        "policy folders": lambda: list(C.policy_cases().values()),
        "unwritable outputs": lambda: list(C.output_cases().values()),
        "hostile names": lambda: list(C.name_cases().values()),
        "flags (drawn)": lambda: C.draw_cases(lambda d: C.drawn_flag_case(d, train=True), drawn, seed=seed),
    }
    if has_torch:
        found["neural forecaster weights"] = neural
    return found


def _trace_cases(doc: dict) -> list[C.Case]:
    cases = []
    for name, content in C.trace_variants(doc).items():
        for command in ("check", "plot"):

            def case(folder: Path, name=name, content=content, command=command) -> list[str]:
                p = C.write(folder, f"in/{name}.json", content)
                return [command, str(p), "-q"] + (["--out", "out"] if command == "plot" else [])

            cases.append(case)
    for make in C.bad_file_cases(lambda folder, p: [str(p)], ".json").values():
        for command in ("check", "plot"):
            cases.append(lambda folder, make=make, command=command: [command, *make(folder), "-q"])
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drawn", type=int, default=200, help="hypothesis-drawn cases per drawn target")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn cases")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    parser.add_argument("--only", default="", help="comma-separated words; run the targets whose name has one")
    parser.add_argument("--quick", action="store_true", help="20 drawn cases per target")
    args = parser.parse_args()
    drawn = 20 if args.quick else args.drawn

    results: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    start = time.monotonic()
    for target, build in targets(drawn, args.seed).items():
        if args.only and not any(w.strip() and w.strip() in target for w in args.only.split(",")):
            continue
        counts = dict.fromkeys(COLUMNS, 0)
        t0 = time.monotonic()
        for case in build():
            root = Path(tempfile.mkdtemp(prefix="schedlab-bench-fuzz-"))
            folder = root / "case"
            folder.mkdir()
            argv = case(folder)
            ok = (0, 1, 2) if argv[0] == "check" else (0, 2)
            o = run_cli(argv, folder, timeout_s=args.timeout)
            counts["cases"] += 1
            if o.code in (0, 1, 2):
                counts[f"exit {o.code}"] += 1
            counts["tracebacks"] += o.traceback
            counts["hangs"] += o.hung
            counts["half-written"] += bool(o.half_written)
            problems = o.problems(ok_codes=ok)
            wrong = not o.traceback and not o.hung and not o.half_written and bool(problems)
            counts["other"] += wrong
            if problems:
                shown = [a[:120] for a in o.argv]
                failures.append(f"[{target}] {shown}\n  " + "\n  ".join(p[-1500:] for p in problems))
            shutil.rmtree(root, ignore_errors=True)
        results[target] = counts
        print(f"{target}: {counts['cases']} cases in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    total = {c: sum(r[c] for r in results.values()) for c in COLUMNS}
    width = max(len(t) for t in [*results, "total"])
    print(f"{'target':<{width}}  " + "  ".join(f"{c:>12}" for c in COLUMNS))
    for name, counts in [*results.items(), ("total", total)]:
        print(f"{name:<{width}}  " + "  ".join(f"{counts[c]:>12}" for c in COLUMNS))
    print(f"{time.monotonic() - start:.0f} s in all; drawn cases per drawn target: {drawn} (seed {args.seed})")
    for f in failures[:10]:
        print(f)
    print(json.dumps({"targets": results, "total": total, "drawn": drawn, "seed": args.seed}))
    failed = total["tracebacks"] + total["hangs"] + total["half-written"] + total["other"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
