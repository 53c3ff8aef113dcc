"""The command line as scripts drive it: outputs, exit codes, one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.sim.trace import load_trace

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_run_writes_trace_and_flat_metrics(tmp_path):
    trace, metrics = tmp_path / "t.json", tmp_path / "m.json"
    r = run("run", "spark-synthetic", "--scheduler", "fair", "--seed", 3, "--jobs", 8, "--executors", 6,
            "--trace", trace, "--metrics-json", metrics)  # fmt: skip
    assert r.exit_code == 0, r.output
    m = json.loads(metrics.read_text())
    for key in ("avg_jct_s", "p99_jct_s", "makespan_s", "events", "decisions"):
        assert key in m
    assert all(isinstance(v, (int, float)) for v in m.values())
    t = load_trace(trace)
    assert t.meta["scheduler"] == "fair" and t.meta["seed"] == 3
    assert t.scenario["cluster"]["executors"] == 6 and t.scenario["workload"]["jobs"] == 8
    assert "mean JCT" in r.output


def test_run_parquet_trace_round_trips(tmp_path):
    pytest.importorskip("pyarrow")
    p, j = tmp_path / "t.parquet", tmp_path / "t.json"
    assert run("run", "--jobs", 5, "--trace", p, "-q").exit_code == 0
    assert run("run", "--jobs", 5, "--trace", j, "-q").exit_code == 0
    assert load_trace(p).digest() == load_trace(j).digest()


def test_check_exit_codes_and_report(tmp_path):
    trace, report = tmp_path / "t.json", tmp_path / "r.json"
    assert run("run", "--jobs", 6, "--trace", trace, "-q").exit_code == 0
    ok = run("check", trace)
    assert ok.exit_code == 0 and "ok" in ok.output
    doc = json.loads(trace.read_text())
    doc["tasks"]["start"][3] = doc["tasks"]["end"][3] + 5.0  # start after end
    bad_trace = tmp_path / "bad.json"
    bad_trace.write_text(json.dumps(doc))
    bad = run("check", bad_trace, "--save-report", report)
    assert bad.exit_code == 1 and "[times]" in bad.output
    assert json.loads(report.read_text())["ok"] is False
    quiet = run("check", bad_trace, "--quiet")
    assert quiet.exit_code == 1 and quiet.output == ""


def test_list_shows_presets_and_schedulers():
    r = run("list")
    assert r.exit_code == 0
    for word in ("spark-tpch", "spark-synthetic", "fifo", "fair", "random", "srwf", "cpf"):
        assert word in r.output


def test_compare_table_and_results(tmp_path):
    r = run("compare", "spark-synthetic", "--schedulers", "fair,fifo", "--seeds", "1-3", "--jobs", 6,
            "--workers", 1, "--out", tmp_path)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "±" in r.output and "fifo" in r.output
    lines = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["spark-synthetic"]) == {"fair", "fifo"}
    assert len(list((tmp_path / "traces").glob("*.json"))) == 6


def test_compare_in_two_processes_gives_the_same_rows(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    args = ("compare", "--schedulers", "fair,random", "--seeds", "1-2", "--jobs", 6)
    assert run(*args, "--workers", 1, "--out", a).exit_code == 0
    assert run(*args, "--workers", 2, "--out", b).exit_code == 0
    strip = lambda p: [line.rsplit(",", 2)[0] for line in (p / "runs.csv").read_text().splitlines()]
    assert strip(a) == strip(b)  # equal up to the wall-clock decision times (last two columns)


BAD_INPUTS = [
    (("run", "spark-synthtic"), "unknown scenario 'spark-synthtic'. Did you mean 'spark-synthetic'?"),
    (("run", "--scheduler", "fiar"), "unknown spark scheduler 'fiar'. Did you mean 'fair'?"),
    (("run", "--scheduler", "nosuchmodule:X"), "cannot import 'nosuchmodule'"),
    (("run", "missing.yaml"), "missing.yaml: no such scenario file"),
    (("run", "spark-tpch", "--tpch-dir", "/nonexistent/dir"), "does not exist"),
    (
        ("run", "spark-synthetic", "--tpch-dir", "/tmp"),
        "--tpch-dir: scenario 'spark-synthetic' has no setting workload.tpch_dir",
    ),
    (("compare", "--seeds", "1-x"), "--seeds: expected seeds like 1-10"),
    (("compare", "--seeds", "3-1"), "--seeds: empty seed range"),
    (("compare", "--seeds", "1,1"), "--seeds: seed 1 is listed twice"),
    (("check", "nope.json"), "nope.json: no such file"),
    (("list", "things"), "cannot list 'things'"),
    (("run", "--gpus", "4"), "--gpus: scenario 'spark-synthetic' has no setting cluster.gpus"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, list(args), env={"SCHEDLAB_TPCH_DIR": ""})
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    assert message in lines[0]
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        (
            "family: spark\ncluster: {executors: -3}\n",
            "cluster.executors: Input should be greater than or equal to 1 (got -3)",
        ),
        ("family: spark\nclustr: {}\n", "clustr: unknown key"),
        ("family: sparky\n", "family: unknown family 'sparky'. Did you mean 'spark'?"),
        (
            "family: spark\nworkload: {kind: synthetic, jobs: 0}\n",
            "workload.jobs: Input should be greater than or equal to 1",
        ),
        (
            "family: spark\nworkload: {kind: synthetic, min_tasks: 9, max_tasks: 3}\n",
            "min_tasks (9) exceeds max_tasks (3)",
        ),
        ("family: spark\nworkload: {kind: tpch, sizes: [3g]}\n", "workload.sizes.0"),
        ("family: [unclosed\n", "malformed YAML"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_scenario_yaml(yaml_text, message, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml_text)
    out = tmp_path / "m.json"
    r = run("run", path, "--metrics-json", out)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"schedlab: error: {path}"), line
    assert message in line
    assert not out.exists()


def test_negative_count_flag_is_rejected(tmp_path):
    r = run("run", "--jobs", -4)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_help_shows_defaults():
    r = run("run", "--help")
    assert r.exit_code == 0
    assert "spark-synthetic" in r.output and "fair" in r.output and "default" in r.output.lower()


@pytest.mark.parametrize("preset", ["edge", "multiproc", "hetero", "gpu"])
def test_every_family_preset_runs_with_its_default_scheduler(preset, tmp_path):
    trace = tmp_path / "t.json"
    r = run("run", preset, "--trace", trace, "-q")
    assert r.exit_code == 0, r.output
    assert run("check", trace, "-q").exit_code == 0


def test_jobs_flag_sets_the_number_of_edge_requests(tmp_path):
    # edge's request count is workload.jobs (formerly requests.count), so --jobs applies to it
    metrics = tmp_path / "m.json"
    r = run("run", "edge", "--jobs", 30, "--metrics-json", metrics, "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(metrics.read_text())["completed_jobs"] == 30


def test_a_scenario_file_with_old_field_names_runs_with_a_warning(tmp_path):
    path = tmp_path / "old-edge.yaml"
    path.write_text("name: old-edge\nfamily: edge\nnodes: {count: 3}\nrequests: {count: 500, rate_per_ms: 0.1}\n")
    metrics = tmp_path / "m.json"
    r = run("run", path, "--jobs", 25, "--metrics-json", metrics, "-q")
    assert r.exit_code == 0, r.output
    assert json.loads(metrics.read_text())["completed_jobs"] == 25  # --jobs sets the renamed field
    warned = [line for line in r.output.splitlines() if line.startswith("schedlab: warning:")]
    assert len(warned) == 3, r.output
    assert all(str(path) in line and "deprecated" in line for line in warned)
    assert any("'requests.count' is renamed 'workload.jobs'" in line for line in warned)


def test_run_passes_scheduler_parameters(tmp_path):
    runner = CliRunner()
    base = ["run", "multiproc", "-s", "slack-fit", "-q"]
    loose = tmp_path / "loose.json"
    tight = tmp_path / "tight.json"
    assert runner.invoke(app, [*base, "-p", "margin_s=0", "--metrics-json", str(loose)]).exit_code == 0
    assert runner.invoke(app, [*base, "-p", "margin_s=50", "--metrics-json", str(tight)]).exit_code == 0
    # A margin of 50 s fits no task anywhere, so every task falls back to lwr: other placements.
    assert json.loads(loose.read_text()) != json.loads(tight.read_text())
    res = runner.invoke(app, [*base, "-p", "bogus=1"])
    assert res.exit_code == 2
    assert "does not take bogus; it takes margin_s, triage" in res.output
    res = runner.invoke(app, [*base, "-p", "margin_s"])
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output


def test_version():
    import schedlab

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"schedlab {schedlab.__version__}"
