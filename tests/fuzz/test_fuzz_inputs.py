"""Bad input for every reader and every command: one line, exit code 2, nothing left behind.

Each case runs the real command line (``schedlab.cli.main``) in a forked child with a time
limit (see ``harness.py``): a traceback, a hang, a multi-line error or a file left behind by a
failed command fails the test. The hand-made cases are sampled here (a few per reader);
``benchmarks/bench_fuzz.py`` runs all of them and longer hypothesis budgets.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schedlab.cli  # noqa: F401  (imported once, before the forks)
from fuzz import cases as C
from fuzz.harness import run_cli


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # tests/without_torch blocks the search itself
        return False


HAS_TORCH = _importable("torch") and _importable("safetensors")
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same cases on every run and in CI; bench_fuzz.py draws others by --seed
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def sample(cases: dict[str, C.Case], k: int, *always: str) -> list[tuple[str, C.Case]]:
    """``k`` cases spread evenly over ``cases``, plus the named ones."""
    names = list(cases)
    step = max(1, len(names) // k)
    picked = dict.fromkeys([*always, *names[::step][:k]])
    return [(n, cases[n]) for n in picked]


def check(case: C.Case, *, ok: tuple[int, ...] | None = None, timeout_s: float = 60.0):
    """Run a case; fail on any problem. ``ok``: the exit codes allowed (default: 0 and 2, and 1 for check)."""
    with tempfile.TemporaryDirectory(prefix="schedlab-fuzz-") as d:
        folder = Path(d) / "case"
        folder.mkdir()
        argv = case(folder)
        if ok is None:
            ok = (0, 1, 2) if argv[0] == "check" else (0, 2)
        outcome = run_cli(argv, folder, timeout_s=timeout_s)
        problems = outcome.problems(ok_codes=ok)
        assert not problems, f"{outcome.argv}:\n" + "\n".join(problems)
        return outcome


def params(cases: list[tuple[str, C.Case]]):
    return pytest.mark.parametrize("case", [pytest.param(c, id=n) for n, c in cases])


# -- scenario files of every family -------------------------------------------------------------

SCENARIOS = C.scenario_file_cases()


@params(
    sample(
        SCENARIOS,
        6,
        *C.BAD_TEXTS,
        "directory",
        "missing",
        "spark:cluster.moving_delay_ms=inf",
        "edge:workload.arrival_rate_per_ms=nan",
        "multiproc:cluster.speeds.0=huge",
        "hetero:workload.batches.0.at_s=inf",
        "gpu:cluster.pcie_gb_per_s=nan",
        *(n for n in SCENARIOS if n.startswith("size:")),
    )
)
def test_scenario_files(case):
    outcome = check(case)
    assert outcome.code == 2, outcome.err


@pytest.mark.parametrize("family", C.FAMILIES)
def test_non_finite_numbers_are_refused_in_every_family(family):
    base = C.SMALL[family]
    floats = [p for p in C.leaf_paths(base) if isinstance(_get(base, p), float)]
    for i, path in enumerate(floats):
        value = (math.inf, math.nan, -math.inf)[i % 3]
        outcome = check(C.scenario_case(C.mutate(base, path, value)))
        assert outcome.code == 2 and "finite number" in outcome.err, (path, outcome.err)


def _get(data, path):
    for p in path:
        data = data[p]
    return data


def test_sizes_are_refused_up_front_with_the_limit_named():
    for name in ("size:spark:jobs", "size:edge:interval", "size:multiproc:tasks", "size:gpu:rate"):
        outcome = check(SCENARIOS[name], timeout_s=20)
        assert outcome.code == 2 and outcome.seconds < 10, (name, outcome.err)
        assert any(w in outcome.err for w in ("limit", "at most", "less than or equal")), (name, outcome.err)


@FUZZ
@given(data=st.data())
def test_scenario_fields_hypothesis(data):
    check(C.drawn_scenario_case(data), timeout_s=60)


@FUZZ
@given(data=st.data())
def test_scenario_bytes_hypothesis(data):
    check(C.drawn_bytes_case(data))


# -- traces for check and plot ------------------------------------------------------------------

TRACE_DOCS = C.trace_docs()
TRACE_DOC = TRACE_DOCS["multiproc"]
TRACES = C.trace_variants(TRACE_DOC)


TRACE_SAMPLE = sorted({*sorted(TRACES)[::5], "unknown-family", "empty-tables", "no-workers", "nan-times", "truncated"})


@pytest.mark.parametrize("command", ["check", "plot"])
@pytest.mark.parametrize("variant", TRACE_SAMPLE)
def test_traces(command, variant):
    def case(folder):
        p = C.write(folder, f"in/{variant}.json", TRACES[variant])
        return [command, str(p), "-q"] + (["--out", "out"] if command == "plot" else [])

    outcome = check(case, ok=(1, 2) if command == "check" else (2,))
    if variant in ("unknown-family", "empty-tables", "no-workers"):
        assert outcome.code == 2, outcome.err


@pytest.mark.parametrize("command", ["check", "plot"])
@params(sample(C.bad_file_cases(lambda folder, p: [str(p)], ".json"), 8, "binary", "directory", "empty"))
def test_trace_files(command, case):
    check(lambda folder: [command, *case(folder), "-q"], ok=(2,))


@FUZZ
@given(data=st.data())
def test_trace_columns_hypothesis(data):
    check(C.drawn_trace_case(data, TRACE_DOCS))


def test_plot_refuses_what_check_rejects():
    import json

    doc = {**TRACE_DOC, "tasks": {**TRACE_DOC["tasks"], "start": [-5.0] * len(TRACE_DOC["tasks"]["start"])}}
    outcome = check(lambda folder: ["plot", str(C.write(folder, "in/t.json", json.dumps(doc))), "--out", "out"])
    assert outcome.code == 2 and "fails the checker" in outcome.err


# -- results folders, suites, profiles, GSwarm files, node logs, model folders --------------------


@params(sample(C.results_cases(), 12, "missing", "runs.csv:ragged", "runs.csv:binary", "trace:truncated"))
def test_results_folders(case):
    check(case)


@params(sample(C.suite_cases(), 12, "alias-bomb", "duplicate-top", "params:grid-bomb", "seeds:huge-range"))
def test_sweep_suites(case):
    check(case)


@params(sample(C.tpch_cases(), 12, "nan-token", "durations-huge", "num-tasks-huge", "missing-dir", "file:binary"))
def test_tpch_profile_folders(case):
    assert check(case).code == 2


@params(sample(C.gswarm_cases(), 16, "config:alias-bomb", "config:memory_gb=1e+300", "requests:time-nan"))
def test_gswarm_files(case):
    check(case)


@params(sample(C.node_log_cases(), 16, "evaluate:sparse", "infer:huge-id", "train:huge-number", "train:binary"))
def test_node_logs(case):
    check(case)


@params(sample(C.forecaster_cases(), 14, "infer:state-list", "evaluate:alpha-nan", "simulate:json-binary"))
def test_forecaster_folders(case):
    assert check(case).code == 2


@pytest.mark.skipif(not HAS_TORCH, reason="the neural forecaster needs torch and safetensors")
def test_tampered_neural_forecaster(tmp_path_factory):
    trained = tmp_path_factory.mktemp("trained")
    log = C.write(trained, "log.csv", C.GOOD_LOG)
    argv = ["edge", "train", "--input", str(log), "--model", "transformer", "--epochs", "1", "--d-model", "8",
            "--nhead", "2", "--layers", "1", "--ffn", "16", "--window", "5", "--horizon", "2", "--out", "model", "-q"]  # fmt: skip
    assert run_cli(argv, trained, timeout_s=300).code == 0
    every = C.neural_forecaster_cases(trained / "model")
    for name in ("flipped", "nan", "transposed", "params-huge"):  # all of them: bench_fuzz.py
        case = every[name]
        outcome = check(case)
        assert outcome.code == 2, (name, outcome.err)


@params(sample(C.policy_cases(), 12, "hetero-ppo:weights-nan", "hetero-ppo:card-observation-empty"))
def test_policy_folders(case):
    # Some card fields only describe (a Decima card's layer sizes come from its weights): 0 is fine.
    check(case)


@pytest.mark.parametrize("name", ["hetero-ppo", "spark-decima"])
@pytest.mark.parametrize("damage", ["weights-nan", "weights-truncated", "weights-random", "card-binary"])
def test_damaged_policies_are_refused(name, damage):
    cases = C.policy_cases()
    if f"{name}:{damage}" not in cases:
        pytest.skip(f"no shipped policy {name}")
    assert check(cases[f"{name}:{damage}"]).code == 2


# -- outputs, names, flags ---------------------------------------------------------------------


@params(sample({k: v for k, v in C.output_cases().items() if not k.startswith("train ")}, 14))
def test_outputs_that_cannot_be_written(case):
    assert check(case).code == 2


@params(sample(C.name_cases(), 10, "compare-scenario:nul", "compare-scenario:traversal"))
def test_hostile_names(case):
    check(case)


@FUZZ
@given(data=st.data())
def test_flags_hypothesis(data):
    check(C.drawn_flag_case(data), timeout_s=60)


@FUZZ
@given(data=st.data())
def test_suite_hypothesis(data):
    check(C.drawn_suite_case(data), timeout_s=60)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--seed", "abc"],
        ["run", "--bogus"],
        ["compare", "--workers", "0"],
        ["nosuch"],
        ["check"],
        ["run", "multiproc-short", "-q", "--seed", "-1"],
        ["compare", "multiproc-short", "--seeds", "0-99999999999"],
        ["edge", "gen-logs", "--num-nodes", "100000", "--steps", "100000000"],
        ["check", "two\nlines.json"],
        ["run", "two\nlines.yaml"],
        ["edge", "evaluate", "--model-dir", "a\rb", "--input", "x.csv", "--metrics-json", "m.json"],
    ],
)
def test_parser_errors_are_one_line(argv):
    outcome = check(lambda folder: argv)
    assert outcome.code == 2 and outcome.err.count("\n") == 1, outcome.err


def test_user_scheduler_file_with_a_syntax_error():
    outcome = check(
        lambda folder: ["run", "multiproc-short", "-q", "-s", str(C.write(folder, "in/mine.py", "def (:\n")) + ":X"]
    )
    assert outcome.code == 2, outcome.err


def test_metrics_json_is_plain_json():
    """An undefined metric (one run, no CI; a mean over nothing) is ``null``, never a bare NaN."""
    import json

    def case(folder):
        sc = C.write(folder, "in/s.yaml", C.yaml_text(C.SMALL["edge"]))
        return ["edge", "simulate", "--scenario", str(sc), "-q", "--metrics-json", "out/m.json"]

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "case"
        folder.mkdir()
        outcome = run_cli(case(folder), folder)
        assert outcome.code == 0, outcome.err
        text = (folder / "out/m.json").read_text()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in metrics.json"))
