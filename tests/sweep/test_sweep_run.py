"""Running suites: durable journal, resume after a crash or Ctrl-C, identical rows however they ran."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.runs.sweep import JOURNAL, load_suite, read_journal, run_sweep

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "suite.yaml"


def sweep(*args):
    return runner.invoke(app, ["sweep", *(str(a) for a in args)])


def journal_ids(out):
    """Run ids of the complete lines of the journal, in order (a killed sweep may leave a torn last line)."""
    *lines, _torn = (out / JOURNAL).read_bytes().split(b"\n")
    return [json.loads(line)["run_id"] for line in lines]


def ran_and_reused(output):
    # "60 runs (27 run now, 33 reused); all traces ok"
    line = next(line for line in output.splitlines() if " run now, " in line)
    ran = int(line.split("(")[1].split(" run now")[0])
    reused = int(line.split(" run now, ")[1].split(" reused")[0])
    return ran, reused


def test_killed_sweep_resumes_and_runs_only_the_missing(write_suite, tmp_path, rows_without_timing):
    suite, out, ref = write_suite(), tmp_path / "out", tmp_path / "ref"
    # The whole sweep in one process, uninterrupted: the reference rows.
    r = sweep(suite, "--out", ref, "--workers", 1)
    assert r.exit_code == 0, r.output
    assert ran_and_reused(r.output) == (60, 0)

    # The same sweep in a process pool, killed (SIGKILL, workers included) once 30 runs are in the journal.
    cmd = [sys.executable, "-m", "schedlab.cli", "sweep", str(suite), "--out", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    journal, deadline = out / JOURNAL, time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.is_file() and journal.read_bytes().count(b"\n") >= 30:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be interrupted"
    before = journal_ids(out)
    assert 30 <= len(before) < 60 and len(set(before)) == len(before)
    assert not (out / "runs.parquet").exists()  # outputs are written at the end only

    r = sweep(suite, "--out", out, "--workers", 2)
    assert r.exit_code == 0, r.output
    assert ran_and_reused(r.output) == (60 - len(before), len(before))
    after = journal_ids(out)
    # Every run is in the journal exactly once: the resumed sweep ran only the missing ones.
    assert len(after) == 60 and len(set(after)) == 60 and after[: len(before)] == before
    rows = pq.read_table(out / "runs.parquet").to_pylist()
    assert len(rows) == 60 and len({row["run_id"] for row in rows}) == 60
    # Same values in the same (grid) order as the sequential, uninterrupted sweep.
    assert rows_without_timing(out / "runs.parquet") == rows_without_timing(ref / "runs.parquet")
    assert [(row["workload.jobs"], row["scheduler"], row["seed"]) for row in rows[:11]] == (
        [(4, "fair", s) for s in range(1, 11)] + [(4, "fifo", 1)]
    )
    # A third time there is nothing left to run.
    r = sweep(suite, "--out", out)
    assert ran_and_reused(r.output) == (0, 60) and journal_ids(out) == after


def test_ctrl_c_on_the_process_group_says_what_is_saved(write_suite, tmp_path):
    suite, out = write_suite(), tmp_path / "out"
    cmd = [sys.executable, "-m", "schedlab.cli", "sweep", str(suite), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)
    journal, deadline = out / JOURNAL, time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        # Early in the sweep, so that a fast machine cannot finish the other runs first.
        if journal.is_file() and journal.read_bytes().count(b"\n") >= 5:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the sweep and its workers
            break
        time.sleep(0.002)
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # never leave a hung sweep behind
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    saved = len(journal_ids(out))
    assert 5 <= saved < 60, stderr
    assert stderr.strip() == (
        f"schedlab: interrupted; {saved} of 60 runs are saved in {journal}; run the same command again to resume"
    )


def test_ctrl_c_keeps_the_finished_runs(write_suite, tmp_path, monkeypatch, rows_without_timing):
    import schedlab.runs.sweep as sw

    suite, out = write_suite(), tmp_path / "out"
    calls = []
    real = sw.run_cell

    def interrupted_after_25(*args):
        if len(calls) == 25:
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(sw, "run_cell", interrupted_after_25)
    r = sweep(suite, "--out", out, "--workers", 1)
    assert r.exit_code == 130
    assert f"25 of 60 runs are saved in {out / JOURNAL}" in r.output and "run the same command again" in r.output
    assert len(journal_ids(out)) == 25
    monkeypatch.setattr(sw, "run_cell", real)
    r = sweep(suite, "--out", out, "--workers", 1)
    assert r.exit_code == 0 and ran_and_reused(r.output) == (35, 25)
    assert len(pq.read_table(out / "runs.parquet")) == 60


def test_a_torn_last_line_is_dropped(write_suite, tmp_path):
    suite, out = write_suite(seeds="1-2"), tmp_path / "out"
    assert sweep(suite, "--out", out, "-q").exit_code == 0
    ids = journal_ids(out)
    with open(out / JOURNAL, "a") as f:
        f.write('{"run_id": "0123", "resu')  # the process died while writing this line
    assert set(read_journal(out / JOURNAL)) == set(ids)
    r = sweep(suite, "--out", out, "-q")
    assert r.exit_code == 0 and ran_and_reused(r.output) == (0, 12)
    assert journal_ids(out) == ids  # the torn line is gone, nothing else changed
    # a broken line that is not the last is corruption, not a crash: an error, not a guess
    lines = (out / JOURNAL).read_text().splitlines()
    (out / JOURNAL).write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n")
    r = sweep(suite, "--out", out, "-q")
    assert r.exit_code == 2 and f"{out / JOURNAL}: line 2 is not a journal entry" in r.output


def test_changed_grid_reuses_shared_runs_and_fresh_reruns(write_suite, tmp_path):
    out = tmp_path / "out"
    assert sweep(write_suite(), "--out", out, "-q").exit_code == 0
    # two more seeds: only their 3 x 2 x 2 runs are new
    r = sweep(write_suite(seeds="1-12"), "--out", out, "-q")
    assert ran_and_reused(r.output) == (12, 60)
    assert len(pq.read_table(out / "runs.parquet")) == 72
    # fewer job counts: nothing to run; the outputs hold the new grid only, the journal keeps everything
    r = sweep(write_suite(seeds="1-12", params={"workload.jobs": [8]}), "--out", out, "-q")
    assert ran_and_reused(r.output) == (0, 36)
    table = pq.read_table(out / "runs.parquet")
    assert table.num_rows == 36 and set(table.column("workload.jobs").to_pylist()) == {8}
    assert len(journal_ids(out)) == 72
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 36 and len(summary["groups"]) == 3
    # --fresh forgets it all
    r = sweep(write_suite(seeds="1-2"), "--out", out, "--fresh", "-q")
    assert ran_and_reused(r.output) == (12, 0) and len(journal_ids(out)) == 12


def test_parquet_and_csv_hold_the_same_rows(write_suite, tmp_path):
    suite, out = (
        write_suite(seeds="1-3", scheduler_params={"fifo": {"dynamic_partition": [False, True]}}),
        tmp_path / "out",
    )
    r = sweep(suite, "--out", out, "-q")
    assert r.exit_code == 0, r.output
    table = pq.read_table(out / "runs.parquet")
    with open(out / "runs.csv", newline="") as f:
        records = list(csv.reader(f))
    assert records[0] == table.column_names
    assert table.column_names[:8] == ["run_id", "scenario", "family", "scheduler", "seed", "workload.jobs",
                                      "scheduler.dynamic_partition", "trace_ok"]  # fmt: skip
    assert table.column_names[-3:] == ["timing.decision_total_s", "timing.decision_mean_us", "timing.run_s"]
    assert len(records) - 1 == table.num_rows == 2 * 4 * 3
    for row, rec in zip(table.to_pylist(), records[1:]):
        for (name, value), text in zip(row.items(), rec):
            if value is None:
                assert text == "", name
            elif isinstance(value, bool):
                assert text == str(value).lower(), name
            elif isinstance(value, (int, float)):
                assert float(text) == value, name  # exact: no digits lost
            else:
                assert text == value, name
    assert table.column("scheduler.dynamic_partition").to_pylist()[:4] == [None, None, None, False]
    assert all(table.column("trace_ok").to_pylist())


def test_summary_groups_seeds_with_mean_and_ci(write_suite, tmp_path):
    suite, out = write_suite(seeds="1-4"), tmp_path / "out"
    result = run_sweep(load_suite(suite), out, base_dir=suite.parent, workers=1)
    doc = json.loads((out / "summary.json").read_text())
    assert doc["suite"] == "sixty" and doc["runs"] == 24 and len(doc["groups"]) == 6
    g = doc["groups"][1]
    assert (g["scenario"], g["params"], g["scheduler"], g["runs"], g["trace_ok"]) == (
        "tiny-spark",
        {"workload.jobs": 4},
        "fifo",
        4,
        4,
    )
    jct = [row["avg_jct_s"] for row in result.rows if row["scheduler"] == "fifo" and row["workload.jobs"] == 4]
    mean = sum(jct) / 4
    half = 3.182 * (sum((x - mean) ** 2 for x in jct) / 3 / 4) ** 0.5
    assert g["metrics"]["avg_jct_s"]["mean"] == pytest.approx(mean)
    assert g["metrics"]["avg_jct_s"]["ci95"] == pytest.approx(half)
    assert "workload.jobs" not in g["metrics"] and "seed" not in g["metrics"]
    # wall-clock values only under timing. names, never among the metrics' own keys
    assert "decision_time_total_s" not in result.rows[0] and "timing.decision_total_s" in result.rows[0]


def test_single_seed_summary_has_no_ci(write_suite, tmp_path):
    suite, out = write_suite(seeds=3, params=None), tmp_path / "out"
    r = sweep(suite, "--out", out)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "summary.json").read_text())
    assert all(g["metrics"]["avg_jct_s"]["ci95"] is None for g in doc["groups"])


def test_the_documented_example_suite_runs(tmp_path):
    suite = load_suite(EXAMPLE)
    assert suite.name == "example"
    r = sweep(EXAMPLE, "--out", tmp_path / "ex")
    assert r.exit_code == 0, r.output
    assert "mean JCT" in r.output and "results in" in r.output
    assert all(len(line) <= 80 for line in r.output.splitlines())
    assert len(pq.read_table(tmp_path / "ex" / "runs.parquet")) == 40


def test_default_output_folder_is_sweeps_slash_name(write_suite, tmp_path, monkeypatch):
    suite = write_suite(seeds=1, params=None, schedulers=["fair"])
    monkeypatch.chdir(tmp_path)
    assert sweep(suite, "-q").exit_code == 0
    assert (tmp_path / "sweeps" / "sixty" / "runs.parquet").is_file()


def test_two_sweeps_cannot_write_one_folder(write_suite, tmp_path):
    suite, out = write_suite(seeds=1), tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom schedlab.runs.sweep import _Journal\n"
         "j = _Journal(Path(sys.argv[1]), fresh=False)\nprint('locked', flush=True)\ntime.sleep(60)", str(out / JOURNAL)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = sweep(suite, "--out", out)
        assert (
            r.exit_code == 2 and r.output.strip() == f"schedlab: error: {out}: another sweep is writing to this folder"
        )
    finally:
        holder.kill()
        holder.wait()
    assert sweep(suite, "--out", out, "-q").exit_code == 0


BROKEN = """
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Assign


class Broken(Scheduler):
    def decide(self, view):
        return [Assign(999, 0, 1)]
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_run_stops_the_sweep_and_keeps_the_finished_ones(write_suite, tmp_path, workers):
    (tmp_path / "broken.py").write_text(BROKEN)
    suite, out = write_suite(schedulers=["fair", "broken.py:Broken"], params=None, seeds="1-2"), tmp_path / "out"
    r = sweep(suite, "--out", out, "--workers", workers)
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith("schedlab: error: run "), line
    assert f"(tiny-spark / {tmp_path / 'broken.py'}:Broken / seed " in line and "failed: " in line
    schedulers = [json.loads(x)["scheduler"] for x in (out / JOURNAL).read_text().splitlines()]
    assert schedulers.count("fair") == 2 and not any("Broken" in s for s in schedulers)
    assert not (out / "runs.parquet").exists()


def test_a_scheduler_file_that_is_not_there_fails_before_running(write_suite, tmp_path):
    suite, out = write_suite(schedulers=["fair", "nope.py:Nope"]), tmp_path / "out"
    r = sweep(suite, "--out", out)
    assert r.exit_code == 2 and r.output.strip() == f"schedlab: error: {suite}: schedulers.1: no such file 'nope.py'"
    assert not out.exists()
