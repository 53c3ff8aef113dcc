"""A user's name that ends up in a file name never writes outside the folder the user named.

Scenario names, scheduler names and labels become parts of trace file names (``compare --out``,
``evaluate --out``); :func:`schedlab.sim.io.file_part` makes each a plain file name, and the
scenario schema refuses names no file name or table can hold (NUL and other control
characters, names longer than 200 characters).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError
from schedlab.runs.compare import trace_file
from schedlab.scenarios import parse_scenario
from schedlab.sim.io import MAX_FILE_PART, file_part

runner = CliRunner()

HOSTILE = {
    "traversal": "../../../../escaped",
    "traversal-mid": "a/../../b",
    "absolute": "/tmp/schedlab-escaped",
    "backslash": "..\\..\\escaped",
    "dots": "..",
    "dot": ".",
    "hidden": ".bashrc",
    "empty": "",
    "nul": "a\x00b",
    "long": "n" * 5000,
    "colon": "C:\\Windows\\x.py:Klass",
}


@pytest.mark.parametrize("name", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_name_becomes_one_plain_file_name(name):
    part = file_part(name)
    assert part and "/" not in part and "\\" not in part and "\x00" not in part and ":" not in part
    assert not part.startswith(".") and part not in (".", "..")
    assert len(part) <= MAX_FILE_PART
    assert Path(part).name == part


@pytest.mark.parametrize("scenario", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("scheduler", ["../../x", "/etc/passwd", "dir/file.py:Class", "n" * 300])
def test_trace_file_stays_in_its_folder(tmp_path, scenario, scheduler):
    p = trace_file(tmp_path / "traces", scenario, scheduler, 7)
    assert p.parent == tmp_path / "traces"
    assert os.path.realpath(p).startswith(os.path.realpath(tmp_path / "traces") + os.sep)
    assert len(p.name.encode()) < 255


def test_ordinary_names_keep_their_file_names(tmp_path):
    assert trace_file(tmp_path, "spark-synthetic", "fair", 1).name == "spark-synthetic__fair__1.json"
    assert trace_file(tmp_path, "x (decision time fixed:0.05)", "docs/examples/a.py:A", 2).name == (
        "x (decision time fixed_0.05)__docs_examples_a.py_A__2.json"
    )


def test_long_names_stay_apart():
    assert file_part("n" * 300 + "a") != file_part("n" * 300 + "b")


@pytest.mark.parametrize("name", ["a\x00b", "two\nlines", "tab\there", "x" * 201, "", "  "])
def test_scenario_names_no_file_or_table_can_hold_are_refused(name):
    with pytest.raises(ConfigError) as e:
        parse_scenario({"family": "multiproc", "name": name}, source="s.yaml")
    assert e.value.field == "name"


SMALL = {
    "family": "multiproc",
    "cluster": {"speeds": [1.0, 2.0]},
    "workload": {
        "priority_probs": [0.5, 0.5],
        "sla_slack": [2.0, 4.0],
        "phases": [{"kind": "stable", "tasks": 10, "utilization": 0.7}],
    },
}


def _files(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("label", ["traversal", "traversal-mid", "absolute", "backslash", "dots", "long", "colon"])
def test_compare_out_holds_every_file(tmp_path, monkeypatch, label):
    name = HOSTILE[label] if label != "long" else "../" * 66 + "nn"  # the longest name a scenario may have
    if label == "absolute":
        name = f"/tmp/schedlab-escaped-{uuid.uuid4().hex}"
    work = tmp_path / "a" / "b" / "c" / "d" / "e"
    work.mkdir(parents=True)
    (work / "s.yaml").write_text(yaml.safe_dump({**SMALL, "name": name}))
    monkeypatch.chdir(work)
    before = _files(tmp_path)
    r = runner.invoke(app, ["compare", "s.yaml", "-s", "lwr", "--seeds", "1", "--workers", "1", "--out", "res/a/b"])
    assert r.exit_code == 0, r.output
    new = _files(tmp_path) - before
    inside = os.path.join("a", "b", "c", "d", "e", "res", "a", "b") + os.sep
    assert new and all(p.startswith(inside) for p in new), sorted(new)
    assert sorted(p.removeprefix(inside) for p in new if "traces" in p) == [
        os.path.join("traces", f"{file_part(name)}__lwr__1.json")
    ]
    assert not Path(name).exists() or label != "absolute"
    # the report finds the trace again under its safe name
    r = runner.invoke(app, ["report", "res/a/b", "-o", "res/a/b/report.html", "-q"])
    assert r.exit_code == 0, r.output


def test_a_nul_in_a_scenario_name_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(yaml.safe_dump({**SMALL, "name": "a\x00b"}))
    r = runner.invoke(app, ["compare", "s.yaml", "-s", "lwr", "--seeds", "1", "--out", "res"])
    assert r.exit_code == 2
    assert r.output.startswith("schedlab: error: s.yaml: name:") and r.output.count("\n") == 1
    assert not Path("res").exists()
