"""What the command line prints, in an 80-column terminal: tables that fit, numbers never cut.

The comparison tables are read back the way a person reads them (cell by cell, a CI that
moved under its mean joined again) and every number is checked against ``summary.json``:
a value cut short, or folded onto the next line, no longer matches.
"""

import io
import json
import math
import re
import time

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from schedlab import plugins
from schedlab.cli import app, common
from schedlab.cli.core import compare_tables, metric_label
from schedlab.metrics.summary import metric_info, table_keys
from schedlab.testing import small_scenario

runner = CliRunner()
WIDTH = 80
EXAMPLE = "docs/examples/largest_demand.py:LargestDemandFirst"
NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
CELL = re.compile(rf"^(?:-|(?P<mean>{NUMBER})(?:±(?P<ci>{NUMBER}))?)$")


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    """The console as an 80-column terminal would size it, whatever COLUMNS says here."""
    monkeypatch.setattr(common.out, "width", WIDTH)


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return r.output


def small_yaml(preset, tmp_path, size=40):
    """A preset shrunk to ``size`` jobs/tasks, written where compare can read it."""
    data = small_scenario(preset, size=size).model_dump(mode="json")
    path = tmp_path / f"{preset}.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    return path, data["name"]


def first_preset(family):
    """The family's first preset (the one that needs no data files, for the built-ins)."""
    return plugins.get(family).preset_names()[0]


BUILTIN = ["spark", "gpu", "edge", "multiproc", "hetero"]


# -- reading a rendered table back -----------------------------------------------------------


def read_tables(text):
    """Every box table in ``text``: its headers (wrapped lines joined) and rows of cells.

    A row whose CI went onto a second line spans two lines; its first column is empty on the
    second. Cells of the lines of one row are joined without a space, as a reader would.
    """
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("┏"):
            current = {"headers": None, "head": [], "rows": []}
            tables.append(current)
        elif line.startswith("┃") and current is not None:
            current["head"].append([c.strip() for c in line.strip("┃").split("┃")])
        elif line.startswith("│") and current is not None:
            cells = [c.strip() for c in line.strip("│").split("│")]
            if cells[0] or not current["rows"]:
                current["rows"].append(cells)
            else:
                current["rows"][-1] = [a + b for a, b in zip(current["rows"][-1], cells)]
    for t in tables:
        cols = zip(*t["head"])
        t["headers"] = [" ".join(p for p in col if p).replace("- ", "-").replace("\u00a0", " ") for col in cols]
    return tables


def digits_tolerance(text):
    """Half a unit of the last digit shown: how far the true value may be from ``text``."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10 ** (int(exponent or 0) - decimals)


def assert_shows(text, value, where):
    assert value is not None and math.isfinite(value), f"{where}: shows {text!r} for an undefined value"
    tol = digits_tolerance(text) * (1 + 1e-9) + 1e-12
    assert abs(float(text) - value) <= tol, f"{where}: shows {text!r}, the value is {value!r}"


def check_numbers(tables, summary, family, labels, keys=None):
    """Every cell of every table parses whole and matches the summary to the digits shown."""
    keys = list(keys or table_keys(family))
    label_of = {metric_label(k): k for k in keys}
    seen = set()
    for t in tables:
        assert t["headers"][0] == "scheduler"
        for header in t["headers"][1:]:
            base = header.removesuffix(" ↓").removesuffix(" ↑")
            assert base in label_of, f"header {header!r} is none of {sorted(label_of)}"
        for row in t["rows"]:
            assert row[0] in labels, f"row {row[0]!r}"
            sched = labels[row[0]]
            for header, cell in zip(t["headers"][1:], row[1:]):
                key = label_of[header.removesuffix(" ↓").removesuffix(" ↑")]
                stat = summary[sched][key]
                m = CELL.match(cell)
                assert m, f"{sched} / {key}: cell {cell!r} is not a whole number (cut or folded?)"
                where = f"{sched} / {key}"
                if cell == "-":
                    assert stat["mean"] is None, where
                else:
                    assert_shows(m["mean"], stat["mean"], where)
                    if m["ci"] is not None:
                        # The same value in every seed is a plain number, not "100.0±0.0".
                        assert stat["ci95"] != 0.0, f"{where}: {cell!r} shows a zero interval"
                        assert_shows(m["ci"], stat["ci95"], where + " CI")
                    else:
                        assert stat["ci95"] in (None, 0.0), f"{where}: the CI {stat['ci95']} is not shown"
                seen.add((sched, key))
    assert seen == {(s, k) for s in summary for k in keys if k in summary[s]}


def assert_fits(output, width=WIDTH):
    too_long = [line for line in output.splitlines() if len(line) > width]
    assert not too_long, "\n".join(too_long)
    assert "…" not in output, output


# -- compare ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", BUILTIN)
def test_compare_fits_80_columns_and_cuts_no_number(family, tmp_path):
    path, name = small_yaml(first_preset(family), tmp_path)
    out = tmp_path / "out"
    output = cli("compare", path, "--seeds", "1-3", "--workers", 1, "--out", out)
    assert_fits(output)
    summary = json.loads((out / "summary.json").read_text())[name]
    tables = read_tables(output)
    assert tables, output
    check_numbers(tables, summary, family, {s: s for s in summary})


def test_compare_all_metrics_fit_in_several_tables(tmp_path):
    path, name = small_yaml("gpu", tmp_path, size=8)
    out = tmp_path / "out"
    output = cli("compare", path, "--seeds", "1-2", "--workers", 1, "--out", out, "--all")
    assert_fits(output)
    summary = json.loads((out / "summary.json").read_text())[name]
    tables = read_tables(output)
    assert len(tables) > 1
    every = list(dict.fromkeys(k for m in summary.values() for k in m))
    check_numbers(tables, summary, "gpu", {s: s for s in summary}, keys=every)


def test_a_path_scheduler_is_labelled_by_its_class(tmp_path):
    path, name = small_yaml("spark-synthetic", tmp_path, size=6)
    out = tmp_path / "out"
    output = cli("compare", path, "-s", f"fair,{EXAMPLE}", "--seeds", "1-2", "--workers", 1, "--out", out)
    assert_fits(output)
    assert EXAMPLE not in output
    summary = json.loads((out / "summary.json").read_text())[name]
    check_numbers(read_tables(output), summary, "spark", {"fair": "fair", "LargestDemandFirst": EXAMPLE})


def test_metrics_json_holds_every_metric(tmp_path):
    path, name = small_yaml("edge", tmp_path, size=30)
    doc = tmp_path / "m.json"
    output = cli("compare", path, "-s", "random,round-robin", "--seeds", "1-2", "--workers", 1, "--metrics-json", doc)
    got = json.loads(doc.read_text())[name]
    assert set(got) == {"random", "round-robin"}
    assert {"timeout_rate", "latency_p99_ms", "jain_fairness"} <= set(got["random"])
    assert metric_label("latency_p99_ms") not in output  # in the file, not in the default table
    assert all(set(v) == {"mean", "ci95"} for v in got["random"].values())


# -- the layout on its own, with values chosen to be hard to fit ----------------------------

WIDE = {
    "avg_jct_s": (437.7123, 1311.61),
    "p95_jct_s": (0.0137, 0.0532),
    "makespan_s": (123456.0, 98765.4),
    "executor_utilization": (0.5, 0.0),
}
NAMES = ["a/very/long/path/to/my_scheduler_file.py:SomeVeryLongSchedulerClassName", "runs/ppo/", "fair"]


def wide_case():
    per_sched = {s: {k: (m * (1 + i), h) for k, (m, h) in WIDE.items()} for i, s in enumerate(NAMES)}
    rows = [
        {"scheduler": s, "seed": seed, **{k: m for k, (m, _) in per_sched[s].items()}} for s in NAMES for seed in (1, 2)
    ]
    return per_sched, rows


def render(tables, width):
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    for t in tables:
        console.print(t)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [80, 64, 52])
def test_layout_keeps_numbers_whole_at_any_width(width):
    per_sched, rows = wide_case()
    tables, note = compare_tables("wide", "spark", per_sched, rows, width=width)
    text = render(tables, width)
    assert_fits(text, width)
    labels = {"SomeVeryLongSchedulerClassName": NAMES[0], "ppo": NAMES[1], "fair": "fair"}
    summary = {
        s: {k: {"mean": m, "ci95": None if h is None or math.isnan(h) else h} for k, (m, h) in per.items()}
        for s, per in per_sched.items()
    }
    check_numbers(read_tables(text), summary, "spark", labels)
    assert "±" in text  # the CIs are shown, on a line of their own where needed
    assert per_sched["fair"]["executor_utilization"][1] == 0.0  # ...and one constant column, shown plain


def crowned_cells(tables):
    """(row label, header) of every bold cell."""
    bold = set()
    for t in tables:
        labels = t.columns[0]._cells
        for col in t.columns[1:]:
            for label, cell in zip(labels, col._cells):
                if "bold" in str(cell.style):
                    bold.add((label, col.header.replace("\n", " ").replace("\u00a0", " ")))
    return bold


def test_only_a_scheduler_better_by_the_paired_test_is_bold():
    seeds = range(1, 6)
    noise = [3.0, -2.0, 1.0, -4.0, 2.0]  # shared by both: the same workload per seed
    rows = []
    for seed, n in zip(seeds, noise):
        # fast beats slow by 1 s on every seed (JCT); on makespan the gap flips sign: a tie.
        rows.append({"scheduler": "fast", "seed": seed, "avg_jct_s": 10 + n, "makespan_s": 50 + n + (seed % 2)})
        rows.append({"scheduler": "slow", "seed": seed, "avg_jct_s": 11 + n, "makespan_s": 50 + n + 1 - (seed % 2)})
    from schedlab.runs.compare import summarize_grid

    per_sched = summarize_grid([{**r, "scenario": "s"} for r in rows])["s"]
    tables, note = compare_tables("s", "spark", per_sched, rows, width=WIDTH)
    jct = metric_label("avg_jct_s") + " ↓"
    assert crowned_cells(tables) == {("fast", jct)}
    assert "paired t-test" in note
    assert metric_info("avg_jct_s").direction == "lower"


# -- run -------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", BUILTIN)
def test_run_shows_the_family_metrics_and_all_on_request(family, tmp_path):
    path, _ = small_yaml(first_preset(family), tmp_path, size=12)
    metrics = tmp_path / "m.json"
    output = cli("run", path, "--metrics-json", metrics)
    assert_fits(output)
    every = json.loads(metrics.read_text())
    spec = plugins.get(family)
    rows = {k: re.search(rf"│ {re.escape(k)} +│", output) for k in every}
    shown = sorted((k for k, m in rows.items() if m), key=lambda k: rows[k].start())
    assert shown == [k for k in spec.run_keys if k in every]  # in the family's order
    assert ("total_moving_delay_s" in shown) == (family == "spark")
    assert f"{len(every) - len(shown)} more metric(s)" in output
    full = cli("run", path, "--all")
    assert_fits(full)
    assert all(re.search(rf"│ {re.escape(k)} +│", full) for k in every)


def test_run_labels_a_path_scheduler_by_its_class(tmp_path):
    path, name = small_yaml("spark-synthetic", tmp_path, size=4)
    output = cli("run", path, "-s", EXAMPLE)
    assert f"{name} / LargestDemandFirst / seed 0" in output
    assert_fits(output)


# -- help ------------------------------------------------------------------------------------


def commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_help_paragraphs_are_not_broken_mid_sentence():
    """Each paragraph of a command's help is one line, for the help screen to wrap."""
    found = list(commands(typer.main.get_command(app)))
    assert len(found) > 10
    for path, cmd in found:
        for paragraph in (cmd.help or "").split("\n\n"):
            assert "\n" not in paragraph.strip(), f"schedlab {' '.join(path)}: {paragraph!r}"


def test_help_lists_choices_and_defaults_once():
    run_help = " ".join(cli("run", "--help").split())
    assert "--mode offline|online" in run_help
    assert "--decision-time off|measured|fixed:" in run_help
    for spec in map(plugins.get, BUILTIN):  # the -s default names each family's scheduler
        assert re.search(rf"{re.escape(spec.name)}[,:][^\]]*?{re.escape(spec.default_scheduler)}", run_help), spec.name
    assert "test|validation" in cli("evaluate", "--help")


def option_entries(help_text):
    """``--flag`` -> the text of its entry in a help screen (continuation lines included)."""
    entries, current = {}, None
    for line in help_text.splitlines():
        m = re.match(r"^  (?:-\w, )?(--[\w-]+)", line)
        if m:
            current = entries[m[1]] = []
        if current is not None and line.startswith("  "):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return {flag: " ".join(lines) for flag, lines in entries.items()}


def test_edge_train_states_the_model_defaults_once():
    from schedlab.cli.edge import MODEL_OPTIONS

    text = cli("edge", "train", "--help")
    entries = option_entries(text)
    assert set(MODEL_OPTIONS) <= set(entries)
    for flag in MODEL_OPTIONS:  # they depend on --model, so no option repeats them...
        assert "[default:" not in entries[flag], entries[flag]
    assert "[default: transformer]" in entries["--model"]
    flat = " ".join(text.split())
    assert flat.count("--window 30") == 1 and flat.count("--lora-r 8") == 1  # ...the epilog says them once


# -- progress --------------------------------------------------------------------------------


def bar_output(monkeypatch, delay_s, work_s):
    buf = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=buf, force_terminal=True, width=WIDTH))
    with common.progress(delay_s=delay_s) as bar:
        task = bar.add_task("working", total=None)
        time.sleep(work_s)
        bar.update(task, total=1, completed=1)
    return buf.getvalue()


def test_progress_bar_appears_only_for_long_work(monkeypatch):
    assert "working" not in bar_output(monkeypatch, delay_s=5.0, work_s=0.0)
    assert "working" in bar_output(monkeypatch, delay_s=0.05, work_s=1.0)
