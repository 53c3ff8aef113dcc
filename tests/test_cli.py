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


def _one_line(r):
    """The one ``schedlab: error:`` line of a refused command (exit 2, no traceback)."""
    assert r.exit_code == 2, r.output
    lines = r.output.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("schedlab: error: "), r.output
    assert "Traceback" not in r.output
    return lines[0]


def _never(*args, **kwargs):
    raise AssertionError("the run started before its output path was checked")


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
@pytest.mark.parametrize(
    "args, never",
    [
        (("run", "multiproc-short", "--trace"), "schedlab.runs.simulate"),
        (("run", "multiproc-short", "--metrics-json"), "schedlab.runs.simulate"),
        (
            ("compare", "multiproc-short", "-s", "lwr", "--seeds", "1", "--metrics-json"),
            "schedlab.runs.compare.run_grid",
        ),
        (("compare", "multiproc-short", "-s", "lwr", "--seeds", "1", "--out"), "schedlab.runs.compare.run_grid"),
        (("check", "TRACE", "--save-report"), "schedlab.runs.traces.load_trace"),
        (("report", "RESULTS", "-o"), "schedlab.report.html.build_report"),
        (("train", "multiproc", "ppo", "--out"), "schedlab.learn.train.train"),
    ],
)
def test_outputs_are_checked_before_the_run(args, never, where, tmp_path, monkeypatch):
    """An output that cannot be written is one line and exit 2 before any work: nothing ran, nothing printed."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    folder_wanted = args[-1] == "--out"
    if where == "a-folder":
        if folder_wanted:
            target = blocker  # a file where a folder is wanted
        else:
            target = tmp_path
    else:
        target = blocker / "out" if folder_wanted else blocker / "out.json"
    monkeypatch.setattr(never, _never)
    argv = [str(target) if a is None else a for a in (*args, None)]
    argv = [str(tmp_path / "t.json") if a == "TRACE" else str(tmp_path) if a == "RESULTS" else a for a in argv]
    line = _one_line(run(*argv))
    assert str(blocker if where == "under-a-file" or folder_wanted else tmp_path) in line
    assert "file" in line or "folder" in line


def test_metrics_json_has_no_bare_nan(tmp_path):
    """run and compare --metrics-json and check --save-report write JSON every parser reads."""
    m, c, rep, trace = (tmp_path / n for n in ("m.json", "c.json", "r.json", "t.json"))
    assert run("run", "multiproc-short", "-q", "--trace", trace, "--metrics-json", m).exit_code == 0
    assert (
        run("compare", "multiproc-short", "-s", "lwr", "--seeds", 1, "--workers", 1, "--metrics-json", c).exit_code == 0
    )
    assert run("check", trace, "-q", "--save-report", rep).exit_code == 0
    for path in (m, c, rep):
        json.loads(
            path.read_text(), parse_constant=lambda token, name=path.name: pytest.fail(f"bare {token} in {name}")
        )
    # One seed has no confidence interval: null, not NaN.
    assert {v["ci95"] for v in json.loads(c.read_text())["multiproc-short"]["lwr"].values()} == {None}


@pytest.mark.parametrize(
    "name, content",
    [
        ("bad\nname.yaml", "family: [unclosed\n"),  # a newline in the file name
        ("esc\x1b[31mname.yaml", "family: spark\nclustr: {}\n"),  # a terminal escape in it
        ("s.yaml", "family: spark\nclustr:\n  a: 1\nb\x1b[2J: {}\n"),  # both in the file's content
    ],
)
def test_an_error_naming_a_user_file_is_one_escaped_line(name, content, tmp_path):
    path = tmp_path / name
    path.write_text(content)
    line = _one_line(run("run", path, "-q"))
    assert "\x1b" not in line and "\r" not in line
    if name != "s.yaml":
        assert repr(str(path)) in line


def test_an_output_under_a_file_named_with_a_newline(tmp_path):
    blocker = tmp_path / "two\nlines"
    blocker.write_text("x")
    line = _one_line(run("run", "multiproc-short", "-q", "--metrics-json", blocker / "m.json"))
    assert f"{str(blocker)!r} is a file, not a folder" in line


def test_fails_cleanly_prints_a_multiline_message_on_one_line(capsys):
    import typer

    from schedlab.cli.common import fails_cleanly
    from schedlab.errors import ConfigError

    @fails_cleanly
    def command():
        raise ConfigError("first line\nsecond line\r\x1b[2Jthird", source="in\nput.yaml", field="a.b")

    with pytest.raises(typer.Exit) as e:
        command()
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert err == "schedlab: error: 'in\\nput.yaml': a.b: first line second line \\x1b[2Jthird\n", err


@pytest.mark.parametrize(
    "args",
    [
        ("run", "multiproc-short", "-q", "--seed", "-1"),
        ("compare", "multiproc-short", "-s", "lwr", "--seeds", "-1"),
        ("compare", "multiproc-short", "-s", "lwr", "--seeds", "1,-3-2"),
        ("evaluate", "multiproc-short", "-s", "lwr,random", "--baseline", "lwr", "--seeds", "-2"),
        ("train", "multiproc", "ppo", "--seed", "-1"),
        ("edge", "gen-logs", "--seed", "-1"),
        ("edge", "train", "--input", "x.csv", "--model", "last", "--seed", "-1"),
        ("edge", "simulate", "--seed", "-5"),
    ],
)
def test_negative_seeds_are_refused_everywhere(args, tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from schedlab.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("schedlab.runs.simulate", _never)
    with pytest.raises(SystemExit) as e:
        main(list(args))  # the parser's errors become one line in main
    captured = capsys.readouterr()
    line = _one_line(SimpleNamespace(exit_code=e.value.code, output=captured.out + captured.err))
    assert "--seed" in line
    assert not list(tmp_path.iterdir())


def test_a_trained_hetero_policy_is_refused_on_a_node_it_has_no_slot_for(tmp_path):
    import yaml

    from schedlab.learn.policy import policy_path

    doc = yaml.safe_load(open(policy_path("hetero-ppo") / "policy.json"))["observation"]["scenario"]
    doc["cluster"]["nodes"].append({**doc["cluster"]["nodes"][-1], "name": "added"})
    path = tmp_path / "more.yaml"
    path.write_text(yaml.safe_dump(doc))
    line = _one_line(run("run", path, "-s", policy_path("hetero-ppo"), "-q"))
    assert "cluster.nodes" in line and "'added'" in line
