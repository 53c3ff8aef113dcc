"""``--decision-time`` on run, compare and evaluate: the flag, its errors, both modes side by side."""

import csv
import json

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.sim.trace import load_trace

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_run_flag_overrides_the_scenario(tmp_path):
    trace = tmp_path / "t.json"
    r = run("run", "multiproc", "-s", "lwr", "--decision-time", "fixed:0.05", "--trace", trace, "-q")
    assert r.exit_code == 0, r.output
    t = load_trace(trace)
    assert t.meta["decision_time"] == "fixed:0.05" and t.scenario["decision_time"] == "fixed:0.05"
    assert t.counters["decision_time_s"] == pytest.approx(0.05 * t.counters["decisions"])
    assert min(t.tasks["start"]) >= 0.05


def test_run_flag_off_overrides_a_scenario_file(tmp_path):
    path, trace = tmp_path / "s.yaml", tmp_path / "t.json"
    path.write_text("family: hetero\ndecision_time: 'fixed:1'\n")
    assert run("run", path, "--trace", trace, "-q").exit_code == 0
    assert load_trace(trace).meta["decision_time"] == "fixed:1.0"
    assert run("run", path, "--decision-time", "off", "--trace", trace, "-q").exit_code == 0
    t = load_trace(trace)
    assert "decision_time" not in t.meta and "decision_time" not in t.scenario


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "multiproc", "--decision-time", "soon"), "--decision-time: expected off, measured or fixed:<seconds>"),
        (("run", "edge", "--decision-time", "fixed:-2"), "--decision-time: fixed:<seconds> needs a finite number"),
        (("compare", "hetero", "--decision-time", "off,fixed:x"), "--decision-time: fixed:<seconds> needs a number"),
        (("compare", "hetero", "--decision-time", "off,off"), "decision time off is listed twice"),
        (("evaluate", "gpu", "-s", "eft", "--baseline", "eft", "--decision-time", "fixed:inf"), "--decision-time"),
    ],
)
def test_bad_flag_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schedlab: error:") and message in lines[0], r.output


def test_bad_value_in_a_scenario_file_names_the_field(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("family: multiproc\ndecision_time: fixed:-1\n")
    r = run("run", path)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"schedlab: error: {path}: decision_time:"), line


def test_compare_runs_each_mode_and_labels_its_table(tmp_path):
    out = tmp_path / "res"
    r = run("compare", "hetero", "-s", "round-robin,greedy-sjf", "--seeds", "1-2", "--workers", 1,
            "--decision-time", "off,fixed:2", "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    off, on = "hetero (decision time off)", "hetero (decision time fixed:2.0)"
    assert f"{off}: mean ±95% CI over 2 seed(s)" in r.output
    assert f"{on}: mean ±95% CI over 2 seed(s)" in r.output
    assert r.output.index(off) < r.output.index(on)
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert [(x["scenario"], x["scheduler"]) for x in rows][::2] == [
        (off, "round-robin"), (off, "greedy-sjf"), (on, "round-robin"), (on, "greedy-sjf")]  # fmt: skip
    assert all(x["trace_ok"] == "True" for x in rows)
    # Every task waits 2 s more: the makespan grows with the charged time.
    makespan = {(x["scenario"], x["scheduler"], x["seed"]): float(x["makespan_s"]) for x in rows}
    assert all(makespan[(on, s, seed)] > makespan[(off, s, seed)] for _, s, seed in makespan)
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == [off, on]
    traces = sorted(p.name for p in (out / "traces").iterdir())
    assert "hetero (decision time fixed_2.0)__greedy-sjf__1.json" in traces and len(traces) == 8
    t = load_trace(out / "traces" / "hetero (decision time fixed_2.0)__greedy-sjf__1.json")
    assert t.meta["decision_time"] == "fixed:2.0" and t.meta["scenario"] == on


def test_compare_with_one_mode_keeps_the_scenario_name(tmp_path):
    r = run("compare", "hetero", "-s", "greedy-sjf", "--seeds", "1", "--decision-time", "fixed:0.5")
    assert r.exit_code == 0, r.output
    assert "hetero: mean ±95% CI over 1 seed(s)" in r.output and "decision time" not in r.output


def test_evaluate_takes_the_flag(tmp_path):
    out = tmp_path / "ev"
    r = run("evaluate", "hetero", "-s", "round-robin,greedy-sjf", "--baseline", "round-robin", "--seeds", "1-2",
            "--workers", 1, "--decision-time", "fixed:0.5", "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    traces = list((out / "traces").iterdir())
    assert traces and all(load_trace(p).meta["decision_time"] == "fixed:0.5" for p in traces)


@pytest.mark.parametrize("command", ["run", "compare", "evaluate"])
def test_help_lists_the_choices_and_the_default(command):
    r = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    text = " ".join(r.output.replace("│", " ").split())
    assert "--decision-time" in text
    for word in (
        "off, measured",
        "fixed:<seconds>",
        "[default: (the scenario's decision_time, off unless it sets one)]",
    ):
        assert word in text, word
