"""Bad inputs for every reader and command: hand-made files, and the pieces hypothesis draws from.

Shared by ``tests/fuzz`` (small budgets) and ``benchmarks/bench_fuzz.py`` (long ones). A *case*
is a function ``case(folder) -> argv`` that writes its input files into ``folder`` and returns
the command line to run there (see :func:`harness.run_cli`).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Case = Callable[[Path], list[str]]

#: Small, valid scenarios of every family: each runs in well under a second.
SMALL: dict[str, dict[str, Any]] = {
    "spark": {
        "name": "small-spark",
        "family": "spark",
        "cluster": {"executors": 3, "moving_delay_ms": 200.0, "warmup_delay_ms": 100.0},
        "workload": {"kind": "synthetic", "jobs": 3, "max_stages": 3, "max_tasks": 4, "task_ms": 100.0},
    },
    "gpu": {
        "name": "small-gpu",
        "family": "gpu",
        "cluster": {"gpus": 4, "pcie_gb_per_s": 16.0, "switch_overhead_s": 2.0},
        "workload": {"mode": "offline", "jobs": 3, "arrival_rate_per_s": 0.1},
    },
    "edge": {
        "name": "small-edge",
        "family": "edge",
        "cluster": {"nodes": 3, "interval_ms": 20.0, "cpu": [1.0, 5.0]},
        "workload": {"jobs": 30, "arrival_rate_per_ms": 0.3, "deadline_ms": 80.0, "timeout_ms": 250.0},
    },
    "multiproc": {
        "name": "small-multiproc",
        "family": "multiproc",
        "cluster": {"speeds": [1.0, 2.0]},
        "workload": {
            "size_mean": 1.0,
            "priority_probs": [0.5, 0.5],
            "sla_slack": [2.0, 4.0],
            "phases": [
                {"kind": "stable", "tasks": 10, "utilization": 0.7},
                {"kind": "drifting", "tasks": 10, "utilization": 0.6, "utilization_end": 0.9},
            ],
        },
    },
    "hetero": {
        "name": "small-hetero",
        "family": "hetero",
        "cluster": {"nodes": [{"name": "pi", "kind": "pi5"}, {"name": "x", "kind": "x86", "cpus": 1.0, "disk": "ssd"}]},
        "workload": {"batches": [{"at_s": 0.0, "tasks": 3}, {"at_s": 5.0, "tasks": 2}]},
    },
}

FAMILIES = tuple(SMALL)

#: Values no sensible field holds, or holds only at its edge.
WEIRD: tuple[Any, ...] = (
    None,
    "",
    "x" * 10_000,
    "nan",
    "1e999",
    "\u202e\x00evil",
    True,
    0,
    -1,
    -(2**63),
    2**63,
    10**30,
    0.0,
    -0.0,
    1e-300,
    5e-324,
    1e300,
    -1e300,
    math.inf,
    -math.inf,
    math.nan,
    [],
    [1],
    [math.nan, 1.0],
    [math.inf, math.inf],
    [1.0, 0.5],
    [-1.0, 1.0],
    {},
    {"x": 1},
)


def leaf_paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indices) to a value of ``data``, sections included."""
    paths = []
    if isinstance(data, dict):
        for k, v in data.items():
            paths.append((*prefix, k))
            paths += leaf_paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            paths.append((*prefix, i))
            paths += leaf_paths(v, (*prefix, i))
    return paths


def mutate(data: Any, path: tuple, value: Any) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced by ``value``."""
    data = copy.deepcopy(data)
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return data


def yaml_text(data: Any) -> str:
    """``data`` as YAML, NaN and infinities written the YAML way (``.nan``, ``.inf``)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


# -- bad files of any kind --------------------------------------------------------------------

ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)

#: Contents every YAML/JSON reader must refuse in one line: name -> bytes or text.
BAD_TEXTS: dict[str, str | bytes] = {
    "empty": "",
    "blank": "\n\n   \n",
    "binary": bytes(range(256)) * 4,
    "nul": "family: spark\x00\n",
    "latin1": "name: caf\xe9\n".encode("latin-1"),
    "utf16": "family: spark\n".encode("utf-16"),
    "scalar": "42\n",
    "list": "- 1\n- 2\n",
    "malformed": "family: [spark\n",
    "tabs": "family:\tspark\n\tcluster: {}\n",
    "alias-bomb": ALIAS_BOMB,
    "recursive-alias": "a: &a [*a]\n",
    "deep": "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "duplicate-top": "family: spark\nfamily: gpu\n",
    "python-tag": "family: !!python/object/apply:os.system ['true']\n",
    "json-nan": '{"family": NaN}',
    "json-dup": '{"family": "spark", "family": "gpu"}',
    "bom": "\ufefffamily: nosuch\n",
    "huge-int": "family: spark\ncluster: {executors: " + "9" * 5000 + "}\n",
}


def bad_file_cases(make_argv: Callable[[Path, Path], list[str]], suffix: str = ".yaml") -> dict[str, Case]:
    """One case per bad content (and a directory, a missing file) for a reader of one file.

    ``make_argv(folder, path)`` returns the command line reading ``path``.
    """
    cases: dict[str, Case] = {}
    for name, content in BAD_TEXTS.items():
        sfx = ".json" if name.startswith("json-") else suffix

        def case(folder: Path, name=name, content=content, sfx=sfx) -> list[str]:
            return make_argv(folder, write(folder, f"in/{name}{sfx}", content))

        cases[name] = case

    def directory(folder: Path) -> list[str]:
        d = folder / f"in/dir{suffix}"
        d.mkdir(parents=True)
        return make_argv(folder, d)

    def missing(folder: Path) -> list[str]:
        return make_argv(folder, folder / f"in/missing{suffix}")

    cases["directory"] = directory
    cases["missing"] = missing
    return cases


# -- scenario files ---------------------------------------------------------------------------


def scenario_case(data: Any, *, command: str = "run") -> Case:
    """Run (or compare: the family's default scheduler and ``random``) a scenario mapping written as YAML."""

    def case(folder: Path) -> list[str]:
        p = write(folder, "in/scenario.yaml", data if isinstance(data, str) else yaml_text(data))
        if command == "compare":
            from schedlab.schedulers import default_name

            family = data.get("family") if isinstance(data, dict) else None
            names = f"{default_name(family)},random" if family in FAMILIES else "random"
            return ["compare", str(p), "-s", names, "--seeds", "1", "--workers", "1", "--out", "out"]
        return ["run", str(p), "-q", "--trace", "out/trace.json", "--metrics-json", "out/metrics.json"]

    return case


def scenario_file_cases() -> dict[str, Case]:
    """Hand-made bad scenario files: every bad text, and per family the classes the issue names."""
    cases = bad_file_cases(lambda folder, p: ["run", str(p), "-q", "--metrics-json", "out/m.json"])
    for fam, base in SMALL.items():
        for path in leaf_paths(base):
            if path[-1] in ("name", "description", "family", "kind"):
                continue
            for label, v in (("inf", math.inf), ("nan", math.nan), ("neg", -1), ("huge", 10**30), ("str", "x")):
                cases[f"{fam}:{'.'.join(map(str, path))}={label}"] = scenario_case(mutate(base, path, v))
        cases[f"{fam}:duplicate-key"] = scenario_case(f"family: {fam}\nname: a\nname: b\n")
        cases[f"{fam}:unknown-key"] = scenario_case({**base, "bogus": 1})
    big = {
        "spark:jobs": mutate(SMALL["spark"], ("workload", "jobs"), 10**12),
        "spark:tasks": mutate(
            mutate(SMALL["spark"], ("workload", "max_tasks"), 10**9), ("workload", "min_tasks"), 10**9
        ),
        "edge:jobs": mutate(SMALL["edge"], ("workload", "jobs"), 10**12),
        "edge:interval": mutate(SMALL["edge"], ("cluster", "interval_ms"), 1e-9),
        "edge:rate": mutate(SMALL["edge"], ("workload", "arrival_rate_per_ms"), 1e-12),
        "edge:nodes": mutate(SMALL["edge"], ("cluster", "nodes"), 10**6),
        "multiproc:tasks": mutate(SMALL["multiproc"], ("workload", "phases", 0, "tasks"), 10**12),
        "multiproc:speeds": mutate(SMALL["multiproc"], ("cluster", "speeds"), [1e-300, 1.0]),
        "hetero:tasks": mutate(SMALL["hetero"], ("workload", "batches", 0, "tasks"), 10**9),
        "hetero:at": mutate(SMALL["hetero"], ("workload", "batches", 0, "at_s"), 1e300),
        "gpu:jobs": mutate(SMALL["gpu"], ("workload", "jobs"), 10**12),
        "gpu:rate": mutate(SMALL["gpu"], ("workload", "arrival_rate_per_s"), 1e-300),
        "spark:rate": mutate(SMALL["spark"], ("workload", "arrival_rate_per_ms"), 1e-300),
        "spark:delay": mutate(SMALL["spark"], ("cluster", "moving_delay_ms"), 1e300),
    }
    for name, data in big.items():
        cases[f"size:{name}"] = scenario_case(data)
    return cases


# -- names that end up in file names ----------------------------------------------------------

HOSTILE_NAMES: dict[str, str] = {
    "traversal": "../../../../escaped",
    "traversal-mid": "a/../../b",
    "absolute": "/tmp/schedlab-escaped",
    "nul": "bad\x00name",
    "long": "n" * 5000,
    "dots": "..",
    "dot": ".",
    "backslash": "..\\..\\escaped",
    "newline": "two\nlines",
    "empty": "",
}


# -- traces -----------------------------------------------------------------------------------


def trace_docs() -> dict[str, dict[str, Any]]:
    """A small, valid trace of every family, as JSON documents."""
    return {f: trace_doc(f) for f in FAMILIES}


def trace_doc(family: str = "multiproc") -> dict[str, Any]:
    """A small, valid trace of a family, as its JSON document."""
    import schedlab
    from schedlab.scenarios import parse_scenario
    from schedlab.schedulers import default_name

    return schedlab.simulate(parse_scenario(copy.deepcopy(SMALL[family])), default_name(family), seed=1).trace.to_dict()


def trace_variants(doc: dict[str, Any]) -> dict[str, str | bytes]:
    """Broken versions of a valid trace document: name -> file content."""
    v: dict[str, Any] = {}
    v["unknown-family"] = {**doc, "family": "nosuch"}
    v["no-family"] = {k: x for k, x in doc.items() if k != "family"}
    v["family-not-str"] = {**doc, "family": ["spark"]}
    v["empty-tables"] = {**doc, **{t: {c: [] for c in doc[t]} for t in ("workers", "jobs", "stages", "tasks")}}
    v["empty-tasks"] = {**doc, "tasks": {c: [] for c in doc["tasks"]}}
    v["no-workers"] = {**doc, "workers": {c: [] for c in doc["workers"]}}
    v["bad-unit"] = {**doc, "time_unit": "fortnight"}
    v["table-not-dict"] = {**doc, "tasks": [1, 2]}
    v["column-not-list"] = {**doc, "tasks": {**doc["tasks"], "start": 5}}
    v["unequal"] = {**doc, "tasks": {**doc["tasks"], "start": doc["tasks"]["start"][:-1]}}
    v["strings"] = {**doc, "tasks": {**doc["tasks"], "start": ["a"] * len(doc["tasks"]["start"])}}
    v["nones"] = {**doc, "tasks": {**doc["tasks"], "end": [None] * len(doc["tasks"]["end"])}}
    v["nan-times"] = {**doc, "tasks": {**doc["tasks"], "start": [math.nan] * len(doc["tasks"]["start"])}}
    v["inf-times"] = {**doc, "tasks": {**doc["tasks"], "end": [math.inf] * len(doc["tasks"]["end"])}}
    v["neg-times"] = {**doc, "tasks": {**doc["tasks"], "start": [-5.0] * len(doc["tasks"]["start"])}}
    v["swapped"] = {**doc, "tasks": {**doc["tasks"], "start": doc["tasks"]["end"], "end": doc["tasks"]["start"]}}
    v["bad-worker"] = {**doc, "tasks": {**doc["tasks"], "worker": [10**6] * len(doc["tasks"]["worker"])}}
    v["meta-not-dict"] = {**doc, "meta": [1]}
    v["scenario-not-dict"] = {**doc, "scenario": "x"}
    v["extra-not-dict"] = {**doc, "extra": [1]}
    v["extra-table-bad"] = {**doc, "extra": {"requests": [1, 2]}}
    v["counters-bad"] = {**doc, "counters": "x"}
    v["nested-lists"] = {**doc, "tasks": {**doc["tasks"], "job": [[1]] * len(doc["tasks"]["job"])}}
    out: dict[str, str | bytes] = {k: json.dumps(x) for k, x in v.items()}
    text = json.dumps(doc)
    out["truncated"] = text[: len(text) // 2]
    out["not-trace"] = json.dumps({"hello": 1})
    out["list"] = "[1, 2]"
    out["gswarm-ish"] = json.dumps({"executions": [{"x": 1}]})
    return out


def tpch_profile(queries: int = 22, durations: list[int] | None = None) -> dict[str, Any]:
    """A minimal TPC-H profile document in the format :mod:`schedlab.families.spark.tpch` reads."""
    d = durations or [100, 120]
    stage = {
        "num_tasks": 2,
        "parents": [],
        "durations_ms": {w: {"1": list(d)} for w in ("first_wave", "rest_wave", "fresh")},
    }
    return {"format": "tpch-spark-profile/1", "queries": [{"query": q + 1, "stages": [stage]} for q in range(queries)]}


def env_clean() -> dict[str, str]:
    """The environment without the TPC-H folder variable, so profile cases read only their own."""
    return {k: v for k, v in os.environ.items() if k != "SCHEDLAB_TPCH_DIR"}


# -- results folders (compare --out), suites, profiles, GSwarm files, node logs ------------------


def results_folder(folder: Path, family: str = "multiproc", seeds: tuple[int, ...] = (1, 2)) -> Path:
    """A small, valid results folder as ``compare --out`` writes it."""
    from schedlab.runs.compare import run_one, summarize_grid, write_results
    from schedlab.schedulers import default_name

    out = folder / "results"
    rows = [run_one(copy.deepcopy(SMALL[family]), default_name(family), s, str(out / "traces")) for s in seeds]
    write_results(out, rows, summarize_grid(rows))
    return out


def results_cases() -> dict[str, Case]:
    """``report`` on broken results folders."""

    def report_of(change: Callable[[Path], None]) -> Case:
        def case(folder: Path) -> list[str]:
            res = results_folder(folder / "in")
            change(res)
            return ["report", str(res), "-o", "out/report.html", "-q"]

        return case

    def runs_csv(text: str | bytes) -> Callable[[Path], None]:
        return lambda res: write(res, "runs.csv", text)

    def each_trace(content: str | bytes) -> Callable[[Path], None]:
        def change(res: Path) -> None:
            for p in (res / "traces").glob("*.json"):
                p.write_bytes(content if isinstance(content, bytes) else content.encode())

        return change

    cases: dict[str, Case] = {
        "missing": lambda folder: ["report", str(folder / "nope"), "-o", "out/r.html"],
        "a-file": lambda folder: ["report", str(write(folder, "in/file", "x")), "-o", "out/r.html"],
        "empty-folder": lambda folder: ["report", str((folder / "in").mkdir() or folder / "in"), "-o", "out/r.html"],
    }
    for name, text in BAD_TEXTS.items():
        cases[f"runs.csv:{name}"] = report_of(runs_csv(text))
    cases["runs.csv:header-only"] = report_of(runs_csv("scenario,family,scheduler,seed\n"))
    cases["runs.csv:no-seed"] = report_of(runs_csv("scenario,family,scheduler\na,multiproc,lwr\n"))
    cases["runs.csv:bad-family"] = report_of(runs_csv("scenario,family,scheduler,seed,avg_jct_s\na,nosuch,x,1,2\n"))
    cases["runs.csv:nan"] = report_of(runs_csv("scenario,family,scheduler,seed,avg_jct_s\na,multiproc,x,1,nan\n"))
    cases["runs.csv:inf"] = report_of(runs_csv("scenario,family,scheduler,seed,avg_jct_s\na,multiproc,x,1,inf\n"))
    cases["runs.csv:text-seed"] = report_of(runs_csv("scenario,family,scheduler,seed\na,multiproc,x,one\n"))
    cases["runs.csv:ragged"] = report_of(runs_csv("scenario,family,scheduler,seed\na,multiproc\nb,c,d,e,f,g\n"))
    cases["runs.csv:huge-field"] = report_of(runs_csv("scenario,family,scheduler,seed\n" + "a" * 200_000 + ",b,c,1\n"))
    cases["runs.csv:quote"] = report_of(runs_csv('scenario,family,scheduler,seed\n"a,multiproc,x,1\n'))
    for name, content in list(BAD_TEXTS.items())[:6] + [("truncated", '{"format": "schedlab-trace/1", "fam')]:
        cases[f"trace:{name}"] = report_of(each_trace(content))
    cases["trace:dir"] = report_of(
        lambda res: [(p.unlink(), p.mkdir()) for p in (res / "traces").glob("*.json")]  # type: ignore[func-returns-value]
    )
    cases["summary:binary"] = report_of(lambda res: write(res, "summary.json", BAD_TEXTS["binary"]))
    return cases


def suite_text(scenario: Path, **changes: Any) -> str:
    doc = {"name": "s", "scenarios": [str(scenario)], "schedulers": ["lwr"], "seeds": "1-2"}
    doc.update(changes)
    return yaml_text({k: v for k, v in doc.items() if v is not _DROP})


_DROP = object()


def suite_case(**changes: Any) -> Case:
    def case(folder: Path) -> list[str]:
        sc = write(folder, "in/small.yaml", yaml_text(SMALL["multiproc"]))
        p = write(folder, "in/suite.yaml", suite_text(sc, **changes))
        return ["sweep", str(p), "--out", "out", "--workers", "1", "-q"]

    return case


def suite_cases() -> dict[str, Case]:
    """``sweep`` on bad suite files."""
    cases = bad_file_cases(lambda folder, p: ["sweep", str(p), "--out", "out", "-q"])
    for key in ("name", "scenarios", "schedulers", "seeds", "params", "scheduler_params", "description"):
        for i, v in enumerate(WEIRD):
            cases[f"{key}={i}"] = suite_case(**{key: v})
    cases["name:traversal"] = suite_case(name="../../escaped")
    cases["seeds:huge-range"] = suite_case(seeds="0-99999999999")
    cases["seeds:neg"] = suite_case(seeds=[-1])
    cases["params:grid-bomb"] = suite_case(params={"workload.size_mean": list(range(1, 1001))},
                                           scheduler_params={"lwr": {}}, seeds="1-2000")  # fmt: skip
    cases["params:unknown"] = suite_case(params={"workload.nosuch": [1, 2]})
    cases["params:nan"] = suite_case(params={"workload.size_mean": [math.nan]})
    cases["params:huge"] = suite_case(params={"workload.phases": [[{"kind": "stable", "tasks": 10**9,
                                                                     "utilization": 0.5}]]})  # fmt: skip
    cases["scheduler_params:bomb"] = suite_case(scheduler_params={"lwr": {f"k{i}": list(range(40)) for i in range(6)}})
    cases["scheduler_params:unknown"] = suite_case(scheduler_params={"lwr": {"nosuch": [1]}})
    cases["scenario:missing"] = lambda folder: [
        "sweep", str(write(folder, "in/s.yaml", suite_text(folder / "nope.yaml"))), "--out", "out", "-q"
    ]  # fmt: skip
    cases["scenario:nan"] = lambda folder: [
        "sweep",
        str(write(folder, "in/s.yaml", suite_text(write(folder, "in/x.yaml", "family: multiproc\nworkload: {size_mean: .nan}\n")))),
        "--out", "out", "-q",
    ]  # fmt: skip
    return cases


def tpch_cases() -> dict[str, Case]:
    """A spark TPC-H scenario reading broken profile folders."""

    def with_dir(make: Callable[[Path], Path]) -> Case:
        def case(folder: Path) -> list[str]:
            d = make(folder)
            sc = {"family": "spark", "workload": {"kind": "tpch", "jobs": 2, "sizes": ["2g"], "tpch_dir": str(d)}}
            p = write(folder, "in/tpch.yaml", yaml_text(sc))
            return ["run", str(p), "-q", "--metrics-json", "out/m.json"]

        return case

    def profile(content: str | bytes) -> Callable[[Path], Path]:
        def make(folder: Path) -> Path:
            write(folder, "in/tpch/2g.json", content)
            return folder / "in/tpch"

        return make

    good = tpch_profile()
    variants: dict[str, Any] = {
        "wrong-format": {**good, "format": "x"},
        "few-queries": {**good, "queries": good["queries"][:3]},
        "queries-not-list": {**good, "queries": {"a": 1}},
        "stage-not-dict": {**good, "queries": [{"stages": [1]}] * 22},
        "no-stages": {**good, "queries": [{"stages": []}] * 22},
    }
    st = good["queries"][0]["stages"][0]
    for label, stage in {
        "num-tasks-0": {**st, "num_tasks": 0},
        "num-tasks-huge": {**st, "num_tasks": 10**15},
        "num-tasks-float": {**st, "num_tasks": 2.5},
        "parents-self": {**st, "parents": [0]},
        "parents-bad": {**st, "parents": ["x"]},
        "parents-far": {**st, "parents": [10**6]},
        "durations-neg": {**st, "durations_ms": {w: {"1": [-5]} for w in ("first_wave", "rest_wave", "fresh")}},
        "durations-huge": {**st, "durations_ms": {w: {"1": [10**20]} for w in ("first_wave", "rest_wave", "fresh")}},
        "durations-float": {**st, "durations_ms": {w: {"1": [1e300]} for w in ("first_wave", "rest_wave", "fresh")}},
        "durations-str": {**st, "durations_ms": {w: {"1": ["x"]} for w in ("first_wave", "rest_wave", "fresh")}},
        "durations-empty": {**st, "durations_ms": {w: {"1": []} for w in ("first_wave", "rest_wave", "fresh")}},
        "durations-nokeys": {**st, "durations_ms": {w: {} for w in ("first_wave", "rest_wave", "fresh")}},
        "executors-0": {**st, "durations_ms": {w: {"0": [5]} for w in ("first_wave", "rest_wave", "fresh")}},
        "executors-text": {**st, "durations_ms": {w: {"x": [5]} for w in ("first_wave", "rest_wave", "fresh")}},
        "waves-missing": {**st, "durations_ms": {}},
    }.items():
        variants[label] = {**good, "queries": [{"query": q + 1, "stages": [stage]} for q in range(22)]}
    cases = {name: with_dir(profile(json.dumps(doc))) for name, doc in variants.items()}
    cases["nan-token"] = with_dir(profile(json.dumps(good).replace("100", "NaN", 1)))
    for name, content in BAD_TEXTS.items():
        cases[f"file:{name}"] = with_dir(profile(content))
    cases["missing-dir"] = with_dir(lambda folder: folder / "nope")
    cases["dir-is-file"] = with_dir(lambda folder: write(folder, "in/tpchfile", "x"))
    cases["empty-dir"] = with_dir(lambda folder: (folder / "in/tpch").mkdir(parents=True) or folder / "in/tpch")
    cases["profile-is-dir"] = with_dir(
        lambda folder: (folder / "in/tpch/2g.json").mkdir(parents=True) or folder / "in/tpch"
    )
    return cases


def gswarm_cases() -> dict[str, Case]:
    """The gpu family reading broken GSwarm system configs and request files."""
    from schedlab.families.gpu import gswarm

    def run_with(config: str | bytes | None, requests: str | bytes | None, sfx: str = ".yaml") -> Case:
        def case(folder: Path) -> list[str]:
            argv = ["run", "gpu", "-q", "--metrics-json", "out/m.json", "--jobs", "3"]
            if config is not None:
                argv += ["--config", str(write(folder, f"in/config{sfx}", config))]
            if requests is not None:
                if config is None:
                    argv += ["--config", str(write(folder, "in/config.yaml", yaml_text(_gswarm_config())))]
                argv += ["--requests", str(write(folder, f"in/requests{sfx}", requests))]
            return argv

        return case

    del gswarm  # only to fail early when the gpu family is missing
    cases: dict[str, Case] = {}
    for name, content in BAD_TEXTS.items():
        cases[f"config:{name}"] = run_with(content, None, ".json" if name.startswith("json-") else ".yaml")
        cases[f"requests:{name}"] = run_with(None, content, ".json" if name.startswith("json-") else ".yaml")
    cfg = _gswarm_config()
    model = cfg["models"]["m"]
    for field, values in {
        "memory_gb": (-1, math.nan, math.inf, 1e300, "x", None),
        "gpus_required": (0, -1, 10**6, 2.5, "x", True),
        "load_time_seconds": (-1, math.inf, 1e300),
        "inference_time_mean": (0, -1, math.nan, math.inf, 1e300, 1e-300),
        "inference_time_std": (-1, math.inf, 1e300),
    }.items():
        for v in values:
            doc = copy.deepcopy(cfg)
            doc["models"]["m"] = {**model, field: v}
            cases[f"config:{field}={v!r}"] = run_with(yaml_text(doc), None)
    for label, wf in {
        "cycle": {"name": "w", "nodes": [{"id": "a", "model": "m"}, {"id": "b", "model": "m"}],
                  "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]},
        "unknown-model": {"name": "w", "nodes": [{"id": "a", "model": "zz"}], "edges": []},
        "dup-node": {"name": "w", "nodes": [{"id": "a", "model": "m"}, {"id": "a", "model": "m"}], "edges": []},
        "no-nodes": {"name": "w", "nodes": [], "edges": []},
        "edge-bad": {"name": "w", "nodes": [{"id": "a", "model": "m"}], "edges": [{"from": "a", "to": "zz"}]},
        "nodes-not-list": {"name": "w", "nodes": {"a": 1}, "edges": []},
        "huge": {"name": "w", "nodes": [{"id": f"n{i}", "model": "m"} for i in range(3000)],
                 "edges": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(2999)]},
    }.items():  # fmt: skip
        doc = copy.deepcopy(cfg)
        doc["workflows"]["w"] = wf
        cases[f"config:workflow-{label}"] = run_with(yaml_text(doc), None)
    req = {"request_id": "r1", "workflow_id": "w", "timestamp": 0.0, "node_execution_times": {"a": 1.0}}
    for label, r in {
        "unknown-workflow": {**req, "workflow_id": "zz"},
        "time-nan": {**req, "node_execution_times": {"a": math.nan}},
        "time-neg": {**req, "node_execution_times": {"a": -1.0}},
        "time-inf": {**req, "node_execution_times": {"a": math.inf}},
        "time-huge": {**req, "node_execution_times": {"a": 1e300}},
        "time-unknown-node": {**req, "node_execution_times": {"zz": 1.0}},
        "timestamp-bad": {**req, "timestamp": "yesterday"},
        "timestamp-nan": {**req, "timestamp": math.nan},
        "timestamp-huge": {**req, "timestamp": 1e300},
        "timestamp-neg": {**req, "timestamp": -1e300},
        "not-dict": [1, 2],
    }.items():
        other = {**r, "request_id": "r2"} if isinstance(r, dict) else r
        cases[f"requests:{label}"] = run_with(None, yaml_text({"requests": [req, other]}))
    cases["requests:mixed-timestamps"] = run_with(
        None, yaml_text({"requests": [req, {**req, "request_id": "r2", "timestamp": "2024-01-01T00:00:00"}]})
    )
    cases["requests:none"] = run_with(None, yaml_text({"requests": []}))
    cases["requests:not-list"] = run_with(None, yaml_text({"requests": "x"}))
    return cases


def _gswarm_config() -> dict[str, Any]:
    return {
        "models": {
            "m": {"name": "M", "memory_gb": 4.0, "gpus_required": 1, "load_time_seconds": 1.0,
                  "inference_time_mean": 1.0, "inference_time_std": 0.1},
        },
        "workflows": {"w": {"name": "W", "nodes": [{"id": "a", "model": "m"}], "edges": []}},
    }  # fmt: skip


GOOD_LOG = "timestamp,node_id,cpu,mem,delay,load\n" + "".join(
    f"{k * 0.02:.2f},{n},{2 + n},{8 - n},{20 + k},{0.5}\n" for k in range(60) for n in range(3)
)


def node_log_cases() -> dict[str, Case]:
    """``edge train/evaluate/infer`` reading broken node logs, and forecaster folders."""

    def with_log(content: str | bytes, command: str) -> Case:
        def case(folder: Path) -> list[str]:
            p = write(folder, "in/log.csv", content)
            if command == "train":
                return ["edge", "train", "--input", str(p), "--model", "ewma", "--out", "out/model", "-q"]
            model = _saved_forecaster(folder)
            if command == "evaluate":
                return ["edge", "evaluate", "--model-dir", str(model), "--input", str(p),
                        "--metrics-json", "out/m.json", "-q"]  # fmt: skip
            return ["edge", "infer", "--model-dir", str(model), "--input", str(p), "--node-id", "0"]

        return case

    logs: dict[str, str | bytes] = dict(BAD_TEXTS)
    head = "timestamp,node_id,cpu,mem,delay,load\n"
    logs.update({
        "header-only": head,
        "nan": head + "0,0,nan,1,1,0.5\n",
        "inf": head + "0,0,inf,1,1,0.5\n",
        "neg-time": head + "-1,0,1,1,1,0.5\n",
        "huge-id": head + "0,99999999999999999999999,1,1,1,0.5\n",
        "neg-id": head + "0,-5,1,1,1,0.5\n",
        "sparse": head + "".join(f"{i},{i},1,1,1,0.5\n" for i in range(3000)),
        "dup-rows": head + "0,0,1,1,1,0.5\n0,0,1,1,1,0.5\n",
        "ragged": head + "0,0,1\n",
        "text": head + "0,0,a,b,c,d\n",
        "extra-col": "timestamp,node_id,cpu,mem,delay,load,x\n0,0,1,1,1,0.5,1\n",
        "no-header-7": "0,0,1,1,1,0.5,9\n",
        "nul-in-field": head + "0,0,1\x00,1,1,0.5\n",
        "one-step": head + "0,0,1,1,1,0.5\n",
        "huge-number": head + "0,0,1e308,1,1,0.5\n",
        "long-line": head + "0,0," + "1" * 100_000 + ",1,1,0.5\n",
    })  # fmt: skip
    cases: dict[str, Case] = {}
    for name, content in logs.items():
        for command in ("train", "evaluate", "infer"):
            cases[f"{command}:{name}"] = with_log(content, command)
    return cases


def _saved_forecaster(folder: Path, name: str = "ewma") -> Path:
    from schedlab.learn.forecast.base import make_forecaster

    model = folder / "in/model"
    if not (model / "forecaster.json").is_file():
        make_forecaster(name).save(model)
    return model


def forecaster_cases() -> dict[str, Case]:
    """``edge evaluate/infer/simulate`` with broken forecaster folders (no torch needed)."""

    def with_model(change: Callable[[Path], None], command: str = "evaluate") -> Case:
        def case(folder: Path) -> list[str]:
            model = _saved_forecaster(folder)
            change(model)
            log = write(folder, "in/log.csv", GOOD_LOG)
            if command == "evaluate":
                return ["edge", "evaluate", "--model-dir", str(model), "--input", str(log),
                        "--metrics-json", "out/m.json", "-q"]  # fmt: skip
            if command == "infer":
                return ["edge", "infer", "--model-dir", str(model), "--input", str(log), "--node-id", "1"]
            return ["edge", "simulate", "--model-dir", str(model), "--requests", "30", "-q",
                    "--metrics-json", "out/m.json"]  # fmt: skip

        return case

    def config(doc: Any) -> Callable[[Path], None]:
        return lambda model: write(model, "forecaster.json", doc if isinstance(doc, str | bytes) else json.dumps(doc))

    cases: dict[str, Case] = {}
    for command in ("evaluate", "infer", "simulate"):
        for name, content in BAD_TEXTS.items():
            cases[f"{command}:json-{name}"] = with_model(config(content), command)
        for label, doc in {
            "unknown-model": {"model": "nosuch", "params": {}},
            "model-not-str": {"model": 5},
            "params-list": {"model": "ewma", "params": [1]},
            "params-unknown": {"model": "ewma", "params": {"nosuch": 1}},
            "alpha-nan": {"model": "ewma", "params": {"alpha": "nan"}},
            "alpha-neg": {"model": "ewma", "params": {"alpha": -1}},
            "alpha-huge": {"model": "ewma", "params": {"alpha": 1e300}},
            "alpha-str": {"model": "ewma", "params": {"alpha": "x"}},
            "window-huge": {"model": "sma", "params": {"span": 10**12}},
            "window-neg": {"model": "sma", "params": {"span": -3}},
            "state-list": {"model": "ewma", "params": {}, "state": [1]},
            "state-bad": {"model": "ewma", "params": {}, "state": {"x": "y"}},
            "neural-no-weights": {"model": "transformer", "params": {}},
        }.items():
            cases[f"{command}:{label}"] = with_model(config(doc), command)
        cases[f"{command}:missing"] = with_model(lambda model: (model / "forecaster.json").unlink(), command)
        cases[f"{command}:config-dir"] = with_model(
            lambda model: ((model / "forecaster.json").unlink(), (model / "forecaster.json").mkdir()), command
        )
    return cases


def neural_forecaster_cases(trained: Path) -> dict[str, Case]:
    """Tampered weights of a trained neural forecaster (``trained``: its folder, made once)."""
    import shutil

    def with_model(change: Callable[[Path], None]) -> Case:
        def case(folder: Path) -> list[str]:
            model = folder / "in/model"
            shutil.copytree(trained, model)
            change(model)
            log = write(folder, "in/log.csv", GOOD_LOG)
            return ["edge", "evaluate", "--model-dir", str(model), "--input", str(log), "--metrics-json", "out/m.json"]

        return case

    def weights(content: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
        def change(model: Path) -> None:
            p = model / "weights.safetensors"
            p.write_bytes(content(p.read_bytes()) if callable(content) else content)

        return change

    def tensors(edit: Callable[[dict], dict]) -> Callable[[Path], None]:
        # The digest in forecaster.json would catch any edit; without it (a folder written before
        # it existed) the checks of the tensors themselves must.
        def change(model: Path) -> None:
            from safetensors.torch import load_file, save_file

            p = model / "weights.safetensors"
            save_file(edit(load_file(str(p))), str(p))
            doc = json.loads((model / "forecaster.json").read_text())
            doc.pop("weights_sha256", None)
            (model / "forecaster.json").write_text(json.dumps(doc))

        return change

    def params(edit: Callable[[dict], None]) -> Callable[[Path], None]:
        def change(model: Path) -> None:
            doc = json.loads((model / "forecaster.json").read_text())
            edit(doc)
            (model / "forecaster.json").write_text(json.dumps(doc))

        return change

    def nan_first(t: dict) -> dict:
        k = next(k for k, v in t.items() if v.is_floating_point())
        t[k] = t[k].clone().fill_(float("nan"))
        return t

    def inf_all(t: dict) -> dict:
        return {k: (v.clone().fill_(float("inf")) if v.is_floating_point() else v) for k, v in t.items()}

    def drop_one(t: dict) -> dict:
        t.pop(next(iter(t)))
        return t

    def add_one(t: dict) -> dict:
        import torch

        t["bogus"] = torch.zeros(2)
        return t

    def reshape(t: dict) -> dict:
        k = next(k for k, v in t.items() if v.ndim == 2)
        t[k] = t[k].t().contiguous()
        return t

    def to_int(t: dict) -> dict:
        k = next(k for k, v in t.items() if v.is_floating_point())
        t[k] = t[k].to(dtype=__import__("torch").int64)
        return t

    def to_half(t: dict) -> dict:
        return {k: v.half() for k, v in t.items()}

    return {
        "missing": with_model(lambda m: (m / "weights.safetensors").unlink()),
        "empty": with_model(weights(b"")),
        "random": with_model(weights(bytes(range(256)) * 64)),
        "truncated": with_model(weights(lambda b: b[: len(b) // 2])),
        "header-huge": with_model(weights(lambda b: (2**62).to_bytes(8, "little") + b[8:])),
        "flipped": with_model(weights(lambda b: b[:-64] + bytes(64))),
        "nan": with_model(tensors(nan_first)),
        "inf": with_model(tensors(inf_all)),
        "missing-tensor": with_model(tensors(drop_one)),
        "extra-tensor": with_model(tensors(add_one)),
        "transposed": with_model(tensors(reshape)),
        "int-tensor": with_model(tensors(to_int)),
        "half": with_model(tensors(to_half)),
        "params-wider": with_model(params(lambda d: d["params"].update(d_model=2 * d["params"].get("d_model", 8)))),
        "params-window-0": with_model(params(lambda d: d["params"].update(window=0))),
        "params-nan": with_model(params(lambda d: d["params"].update(dropout=float("nan")))),
        "params-huge": with_model(params(lambda d: d["params"].update(d_model=10**9))),
        "state-garbage": with_model(params(lambda d: d.update(state={"mean": "x", "std": [1]}))),
        "state-nan": with_model(params(lambda d: d.update(state={k: "nan" for k in d.get("state", {})}))),
    }


def policy_cases() -> dict[str, Case]:
    """A shipped trained policy, copied and tampered, run as ``-s DIR``."""
    import shutil
    from importlib import resources

    shipped = Path(str(resources.files("schedlab") / "learn" / "policies"))

    def with_policy(name: str, family: str, change: Callable[[Path], None]) -> Case:
        def case(folder: Path) -> list[str]:
            d = folder / "in/policy"
            shutil.copytree(shipped / name, d)
            change(d)
            sc = write(folder, "in/sc.yaml", yaml_text(SMALL[family]))
            return ["run", str(sc), "-s", str(d), "-q", "--metrics-json", "out/m.json"]

        return case

    def card(edit: Callable[[dict], Any]) -> Callable[[Path], None]:
        def change(d: Path) -> None:
            doc = json.loads((d / "policy.json").read_text())
            edit(doc)
            (d / "policy.json").write_text(json.dumps(doc))

        return change

    def weights(content: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
        def change(d: Path) -> None:
            p = d / "weights.safetensors"
            p.write_bytes(content(p.read_bytes()) if callable(content) else content)

        return change

    def nan_weights(b: bytes) -> bytes:
        size = int.from_bytes(b[:8], "little")
        body = bytearray(b[8 + size :])
        body[: 4 * 8] = b"\x00\x00\xc0\x7f" * 8  # float32 NaN
        return b[: 8 + size] + bytes(body)

    cases: dict[str, Case] = {}
    for name, family in (("hetero-ppo", "hetero"), ("spark-decima", "spark"), ("multiproc-gnn-cost", "multiproc")):
        if not (shipped / name).is_dir():
            continue
        for label, change in {
            "card-binary": lambda d: write(d, "policy.json", BAD_TEXTS["binary"]),
            "card-empty": lambda d: write(d, "policy.json", ""),
            "card-list": lambda d: write(d, "policy.json", "[1]"),
            "card-missing": lambda d: (d / "policy.json").unlink(),
            "card-wrong-family": card(lambda doc: doc.update(family="gpu")),
            "card-unknown-family": card(lambda doc: doc.update(family="nosuch")),
            "card-unknown-algorithm": card(lambda doc: doc.update(algorithm="nosuch")),
            "card-format": card(lambda doc: doc.update(format="x")),
            "card-architecture-str": card(lambda doc: doc.update(architecture="x")),
            "card-architecture-huge": card(
                lambda doc: doc["architecture"].update(
                    {k: 10**7 for k, v in doc["architecture"].items() if isinstance(v, int) and not isinstance(v, bool)}
                )
            ),  # fmt: skip
            "card-architecture-neg": card(
                lambda doc: doc["architecture"].update(
                    {k: -1 for k, v in doc["architecture"].items() if isinstance(v, int) and not isinstance(v, bool)}
                )
            ),  # fmt: skip
            "card-architecture-nan": card(
                lambda doc: doc["architecture"].update(
                    {k: math.nan for k, v in doc["architecture"].items() if isinstance(v, float)}
                )
            ),  # fmt: skip
            "card-observation-empty": card(lambda doc: doc.update(observation={})),
            "weights-missing": lambda d: (d / "weights.safetensors").unlink(),
            "weights-empty": weights(b""),
            "weights-random": weights(bytes(range(256)) * 64),
            "weights-truncated": weights(lambda b: b[: len(b) // 2]),
            "weights-header-huge": weights(lambda b: (2**62).to_bytes(8, "little") + b[8:]),
            "weights-nan": weights(nan_weights),
        }.items():
            cases[f"{name}:{label}"] = with_policy(name, family, change)
    return cases


# -- outputs that cannot be written, names, flags ----------------------------------------------

#: Output paths no command can write: under a regular file, a folder, a system folder.
BAD_OUTPUTS: dict[str, Callable[[Path], str]] = {
    "under-file": lambda folder: str(write(folder, "in/afile", "x")) + "/sub/out.json",
    "is-folder": lambda folder: str((folder / "in/adir").mkdir(parents=True) or folder / "in/adir"),
    "proc": lambda folder: "/proc/schedlab-fuzz/out.json",
}


def output_cases() -> dict[str, Case]:
    """Every command's output flags pointed at paths that cannot be written."""

    def log(folder: Path) -> str:
        return str(write(folder, "in/log.csv", GOOD_LOG))

    def trace(folder: Path) -> str:
        return str(write(folder, "in/trace.json", json.dumps(trace_doc())))

    commands: dict[str, Callable[[Path, str], list[str]]] = {
        "run --trace": lambda f, o: ["run", "multiproc-short", "-q", "--trace", o],
        "run --metrics-json": lambda f, o: ["run", "multiproc-short", "-q", "--metrics-json", o],
        "compare --out": lambda f, o: [
            "compare",
            "multiproc-short",
            "-s",
            "lwr",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--out",
            o,
        ],  # fmt: skip
        "compare --metrics-json": lambda f, o: [
            "compare",
            "multiproc-short",
            "-s",
            "lwr",
            "--seeds",
            "1",
            "--workers",
            "1",
            "--metrics-json",
            o,
        ],  # fmt: skip
        "evaluate --out": lambda f, o: [
            "evaluate",
            "multiproc-short",
            "-s",
            "lwr,random",
            "--baseline",
            "lwr",
            "--seeds",
            "1-2",
            "--workers",
            "1",
            "--out",
            o,
        ],  # fmt: skip
        "check --save-report": lambda f, o: ["check", trace(f), "-q", "--save-report", o],
        "plot --out": lambda f, o: ["plot", trace(f), "-q", "--out", o],
        "report -o": lambda f, o: ["report", str(results_folder(f / "in")), "-q", "-o", o],
        "sweep --out": lambda f, o: [
            "sweep",
            str(write(f, "in/suite.yaml", suite_text(write(f, "in/s.yaml", yaml_text(SMALL["multiproc"]))))),
            "-q",
            "--workers",
            "1",
            "--out",
            o,
        ],  # fmt: skip
        "edge gen-logs --out": lambda f, o: ["edge", "gen-logs", "--num-nodes", "2", "--steps", "10", "-q", "--out", o],
        "edge train --out": lambda f, o: ["edge", "train", "--input", log(f), "--model", "ewma", "-q", "--out", o],
        "edge evaluate --metrics-json": lambda f, o: [
            "edge",
            "evaluate",
            "--model-dir",
            str(_saved_forecaster(f)),
            "--input",
            log(f),
            "-q",
            "--metrics-json",
            o,
        ],  # fmt: skip
        "edge evaluate --predictions-csv": lambda f, o: [
            "edge",
            "evaluate",
            "--model-dir",
            str(_saved_forecaster(f)),
            "--input",
            log(f),
            "-q",
            "--metrics-json",
            "out/m.json",
            "--predictions-csv",
            o,
        ],  # fmt: skip
        "edge simulate --trace": lambda f, o: ["edge", "simulate", "--requests", "30", "-q", "--trace", o],
        "edge simulate --metrics-json": lambda f, o: [
            "edge",
            "simulate",
            "--requests",
            "30",
            "-q",
            "--metrics-json",
            o,
        ],  # fmt: skip
        "train --out": lambda f, o: [
            "train",
            "multiproc",
            "ppo",
            "--scenario",
            "multiproc-short",
            "--iterations",
            "1",
            "--steps",
            "16",
            "--workers",
            "1",
            "--out",
            o,
        ],  # fmt: skip
    }
    cases: dict[str, Case] = {}
    for cmd, make in commands.items():
        for label, where in BAD_OUTPUTS.items():
            if label == "is-folder" and cmd.endswith(("--out", "--out ")) and not cmd.startswith("edge gen-logs"):
                continue  # these take a folder: an existing one is what they want
            cases[f"{cmd}:{label}"] = lambda folder, make=make, where=where: make(folder, where(folder))
    cases["compare --out:is-file"] = lambda folder: commands["compare --out"](folder, str(write(folder, "in/f", "x")))
    cases["sweep --out:is-file"] = lambda folder: commands["sweep --out"](folder, str(write(folder, "in/f", "x")))
    cases["plot --out:is-file"] = lambda folder: commands["plot --out"](folder, str(write(folder, "in/f", "x")))
    cases["edge train --out:is-file"] = lambda folder: commands["edge train --out"](
        folder, str(write(folder, "in/f", "x"))
    )
    return cases


def name_cases() -> dict[str, Case]:
    """Hostile scenario and scheduler names: traversal, absolute paths, NUL, over-long names."""
    cases: dict[str, Case] = {}
    for label, name in HOSTILE_NAMES.items():
        data = {**SMALL["multiproc"], "name": name}
        cases[f"compare-scenario:{label}"] = scenario_case(data, command="compare")
        cases[f"run-scenario:{label}"] = scenario_case(data)

        def sched(folder: Path, name=name) -> list[str]:
            return ["compare", "multiproc-short", "-s", name, "--seeds", "1", "--workers", "1", "--out", "out"]

        cases[f"compare-scheduler:{label}"] = sched
    return cases


#: Text values for any option: the command line's counterpart of :data:`WEIRD`.
WEIRD_ARGS: tuple[str, ...] = (
    "", "-1", "0", "1", "nan", "inf", "-inf", "1e999", "1e-320", "99999999999999999999999", "x", "1.5", "1-0",
    "0-99999999999", "../../x", "/", "/dev/null", "\u202e", " ", "a,,b", ",", "--", "-h", "two\nlines.yaml",
)  # fmt: skip

#: Each command's options that take a value (flags that take none are left out).
OPTIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("run", "multiproc-short"): ("--seed", "-s", "--jobs", "--executors", "--gpus", "--mode", "--decision-time",
                                 "--param", "--tpch-dir", "--config", "--requests"),
    ("compare", "multiproc-short", "--workers", "1"): ("--seeds", "-s", "--jobs", "--decision-time"),
    ("evaluate", "multiproc-short", "-s", "lwr,random", "--baseline", "lwr", "--workers", "1"): (
        "--seeds", "--split", "--metrics", "--decision-time", "--baseline"),
    ("check",): (),
    ("list",): (),
    ("edge", "gen-logs", "--out", "out/log.csv"): ("--num-nodes", "--steps", "--interval", "--seed", "--scenario"),
    ("edge", "simulate", "--requests", "30"): ("--window", "--steps-ahead", "--req-cost", "--margin-ms",
                                               "--fair-gamma", "--fair-scale-ms", "--fair-window", "--cooldown-k",
                                               "--cooldown-ms", "--top-k", "--epsilon", "--safety-threshold-ms",
                                               "--seed", "--requests", "--forecaster", "--forecaster-param"),
    ("train", "multiproc", "ppo", "--scenario", "multiproc-short", "--out", "out/t", "--iterations", "1",
     "--steps", "16", "--workers", "1"): ("--train-seeds", "--val-seeds", "--metric", "--seed", "--param",
                                          "--val-every", "--checkpoint-every"),
}  # fmt: skip


# -- hypothesis: drawn cases ---------------------------------------------------------------------


def _strategies():
    from hypothesis import strategies as st

    # Integers stay within a few thousand (WEIRD has the huge ones): a valid scenario drawn
    # with 300,000 tasks is not bad input, only a long run, and would read as a hang.
    values = st.one_of(
        st.sampled_from(WEIRD),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-3000, 3000),
        st.text(max_size=12),
        st.lists(st.floats(allow_nan=True), max_size=3),
    )
    args = st.one_of(
        st.sampled_from(WEIRD_ARGS),
        st.integers().map(str),
        st.floats().map(str),
        st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=10),
    )
    return st, values, args


def drawn_scenario_case(data: Any) -> Case:
    """A small scenario of a drawn family with one to three fields replaced by drawn values."""
    st, values, _ = _strategies()
    family = data.draw(st.sampled_from(FAMILIES), label="family")
    scenario = SMALL[family]
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(leaf_paths(scenario)), label="path")
        scenario = mutate(scenario, path, data.draw(values, label="value"))
    return scenario_case(scenario, command=data.draw(st.sampled_from(["run", "compare"]), label="command"))


def drawn_bytes_case(data: Any) -> Case:
    """Drawn bytes as a scenario file."""
    st, _, _ = _strategies()
    content = data.draw(st.binary(max_size=400), label="content")
    return lambda folder: ["run", str(write(folder, "in/x.yaml", content)), "-q", "--trace", "out/t.json"]


def drawn_flag_case(data: Any, *, train: bool = False) -> Case:
    """A command with one or two of its options given drawn values."""
    st, _, args = _strategies()
    bases = [b for b in OPTIONS if train or b[0] != "train"]
    base = data.draw(st.sampled_from(bases), label="command")
    argv = list(base)
    for _ in range(data.draw(st.integers(1, 2), label="options")):
        if OPTIONS[base]:
            argv.append(data.draw(st.sampled_from(OPTIONS[base]), label="option"))
        argv.append(data.draw(args, label="value"))
    return lambda folder: list(argv)


def drawn_suite_case(data: Any) -> Case:
    """A small suite with one key replaced by a drawn value."""
    st, values, _ = _strategies()
    key = data.draw(st.sampled_from(["name", "scenarios", "schedulers", "seeds", "params", "scheduler_params"]))
    return suite_case(**{key: data.draw(values, label="value")})


def drawn_trace_case(data: Any, docs: dict[str, Any]) -> Case:
    """A valid trace (of a drawn family: ``docs`` family -> trace document) with one column of
    one table, or of one of its extra tables, replaced by drawn values, for check or plot."""
    st, values, _ = _strategies()
    doc = docs[data.draw(st.sampled_from(sorted(docs)), label="family")]
    tables = ["workers", "jobs", "stages", "tasks", "moves", "decisions"]
    tables += [f"extra.{k}" for k, v in doc.get("extra", {}).items() if isinstance(v, dict) and v]
    table = data.draw(st.sampled_from(tables), label="table")
    if table.startswith("extra."):
        name = table.removeprefix("extra.")
        col = data.draw(st.sampled_from(list(doc["extra"][name])), label="column")
        n = len(doc["extra"][name][col]) or 1
        column = data.draw(st.lists(values, min_size=n, max_size=n), label="values")
        broken = {**doc, "extra": {**doc["extra"], name: {**doc["extra"][name], col: column}}}
        command = data.draw(st.sampled_from(["check", "plot"]), label="command")
        text = json.dumps(broken, allow_nan=True)
        return lambda folder: (
            [command, str(write(folder, "in/t.json", text)), "-q"] + (["--out", "out"] if command == "plot" else [])
        )
    cols = list(doc[table]) or ["id"]
    col = data.draw(st.sampled_from(cols), label="column")
    n = len(doc[table].get(col, [])) or 1
    column = data.draw(st.one_of(values, st.lists(values, min_size=n, max_size=n)), label="values")
    broken = {**doc, table: {**doc[table], col: column}}
    command = data.draw(st.sampled_from(["check", "plot"]), label="command")
    text = json.dumps(broken, allow_nan=True)
    return lambda folder: (
        [command, str(write(folder, "in/t.json", text)), "-q"] + (["--out", "out"] if command == "plot" else [])
    )


def draw_cases(draw: Callable[[Any], Case], n: int, *, seed: int = 0) -> list[Case]:
    """``n`` cases drawn by hypothesis with ``draw(data)`` (generation only: nothing is shrunk)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    out: list[Case] = []

    @hseed(seed)
    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def collect(data):
        out.append(draw(data))

    collect()
    return out
